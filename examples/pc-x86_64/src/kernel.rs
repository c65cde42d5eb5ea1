// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue: the kernel state static, the Rust halves of the entries,
//! the console and exit device, defmt and critical-section, panics.

use core::mem::MaybeUninit;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};

use arch_x86_64::boot::{self, KERNEL_OFFSET};
use arch_x86_64::fbcon::{self, Screen};
use arch_x86_64::smp;
use arch_x86_64::serial::{self, Com};
use arch_x86_64::{Context, FastPair, ResumePair, TrapFrame, X86_64};
use ipc_core::{Fast, MessageInfo, Next, Reply, Syscall, SyscallArgs};
use runtime::bench::{self, Env};
#[cfg(feature = "inject")]
use runtime::inject;
use runtime::mem::FrameAlloc;
use runtime::{kprintln, Board, Fault, Machine, State, Uart};
use x86_64::instructions::port::Port;

/// The user program (ELF), built for x86_64-unknown-none.
static USER_ELF: &[u8] = include_bytes!(env!("IPCB_USER_ELF"));

/// The PC board.
pub struct Pc;

impl Board for Pc {
    const NAME: &'static str = env!("IPCB_BOARD");

    fn putc(b: u8) {
        let port = CONSOLE_PORT.load(Ordering::Relaxed);
        if port != 0 {
            Com(port).putc(b);
        }
        // The screen, when there is one and no other CPU is drawing (only
        // the boot CPU prints; another's panic line may miss the screen).
        if SCREEN_ON.load(Ordering::Acquire) && !SCREEN_BUSY.swap(true, Ordering::Acquire) {
            // SAFETY: initialised before SCREEN_ON was set; SCREEN_BUSY
            // gives this context the only reference.
            unsafe { (*addr_of_mut!(SCREEN)).assume_init_mut().putc(b) };
            SCREEN_BUSY.store(false, Ordering::Release);
        }
    }

    fn exit(status: u8) -> ! {
        // QEMU's isa-debug-exit: the emulator exits with (v << 1) | 1, so
        // 0x10 → 33 (pass), 0x11 → 35 (check failed), 0x12 → 37 (panic).
        // SAFETY: a write to an I/O port; on a PC without the device it is
        // ignored.
        unsafe { Port::<u32>::new(0xF4).write(0x10 + u32::from(status)) };
        arch_x86_64::halt()
    }
}

/// The console's UART (`console=`; 0: none). COM1 until the command line
/// is read.
static CONSOLE_PORT: AtomicU16 = AtomicU16::new(serial::COM1);
/// The defmt stream's UART (`defmt=`; 0: none).
static DEFMT_PORT: AtomicU16 = AtomicU16::new(serial::COM2);
/// The framebuffer console (`arch_x86_64::fbcon`), when GRUB set up a
/// linear framebuffer: a mirror of the console.
static mut SCREEN: MaybeUninit<Screen> = MaybeUninit::uninit();
/// `SCREEN` is initialised.
static SCREEN_ON: AtomicBool = AtomicBool::new(false);
/// A context is drawing on `SCREEN`.
static SCREEN_BUSY: AtomicBool = AtomicBool::new(false);
/// Room for the command line the runtime reads: the loader's without the
/// `console=` and `defmt=` words, which are the board's.
const CMDLINE_MAX: usize = 4096;
static mut RUNTIME_CMDLINE: [u8; CMDLINE_MAX] = [0; CMDLINE_MAX];

type St = State<X86_64, Pc>;

/// The kernel state. In the per-CPU region (`arch_x86_64::smp`): each CPU
/// reaches its own copy at this one address, so the entry halves below use
/// it as a plain static, with no CPU number and no lock.
#[unsafe(link_section = ".percpu")]
static mut STATE: MaybeUninit<St> = MaybeUninit::uninit();

// `ipcb_fast_kernel`: the address of `STATE.kernel`, where the entry's
// assembly `invoke` fastpath reads (`arch_x86_64::entry`).
core::arch::global_asm!(
    ".globl ipcb_fast_kernel",
    ".set ipcb_fast_kernel, {state} + {kernel}",
    state = sym STATE,
    kernel = const core::mem::offset_of!(St, kernel),
);

/// The kernel state (initialised in `ipcb_kernel_main` before any entry).
#[inline(always)]
fn state_ptr() -> *mut St {
    addr_of_mut!(STATE) as *mut St
}

/// The fastpath's answer for each thread index: its context's address plus
/// `CTX_TOP`, the form the entry keeps the current thread in. Filled once
/// at boot (the contexts live in the `STATE` static and never move): one
/// load on the hand-off instead of a shift, an add and an or. Per-CPU like
/// `STATE` (the values are the same on every CPU: so are the addresses).
#[unsafe(link_section = ".percpu")]
static mut CTX_TOPS: [usize; 256] = [0; 256];

/// Turn the core's decision into the two context pointers of the exit path.
#[inline(always)]
fn to_pair(st: &mut St, next: Next) -> ResumePair {
    match next {
        Next::Resume { thread, regs_from } => {
            let t = st.kernel.context_mut(thread) as *mut Context;
            let r = st.kernel.context(regs_from) as *const Context;
            ResumePair { thread: t, regs_from: r }
        }
        Next::Idle => ResumePair { thread: core::ptr::null_mut(), regs_from: core::ptr::null() },
    }
}

/// The fastpath half of the `syscall` entry for `call`: the message
/// registers are still in the CPU (see `arch_x86_64::entry`).
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_fast_call(cap: u64, tag: u64) -> FastPair {
    fast(SyscallArgs { op: Syscall::Call as u64, cap, tag: MessageInfo(tag) })
}

/// The fastpath half of the `syscall` entry for `reply_recv` (as
/// [`ipcb_fast_call`]).
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_fast_reply_recv(cap: u64, tag: u64) -> FastPair {
    fast(SyscallArgs { op: Syscall::ReplyRecv as u64, cap, tag: MessageInfo(tag) })
}

/// Both IPC fast handlers: the entry has dispatched on the number already,
/// so `args.op` is a constant here and the core's own dispatch folds away.
#[inline(always)]
fn fast(args: SyscallArgs) -> FastPair {
    // SAFETY: the state was initialised before user mode started, and this
    // CPU runs one kernel entry at a time with interrupts off.
    let st = unsafe { &mut *state_ptr() };
    #[cfg(feature = "inject")]
    if inject::due(args.op) {
        // Send this message through the general path, where it sits in
        // memory and can be corrupted.
        return slow(st, args);
    }
    // A message longer than the registers: straight to its own fastpath
    // (the register-only one would test the same bits, later).
    if (args.tag.0 as u16) > <X86_64 as ipc_core::Arch>::MR_IN_REGS as u16 {
        return match args.op {
            1 => long::<1>(args.cap, args.tag.0),
            _ => long::<2>(args.cap, args.tag.0),
        };
    }
    match st.kernel.fastpath_ipc(args) {
        Some(Fast::HandOff { thread, badge }) => {
            // SAFETY: written only at boot, before any entry.
            FastPair { top: unsafe { (*addr_of!(CTX_TOPS))[usize::from(thread.0)] }, badge }
        }
        // `fastpath_ipc` answers `call` and `reply_recv` only.
        Some(Fast::Return | Fast::Reply(_)) | None => slow(st, args),
    }
}

/// A message longer than the registers: the long-message fastpath, with
/// the message registers still in the CPU (`Kernel::fastpath_long` touches
/// none), or else the general path. (The arguments come as words, in the
/// registers they arrived in: a `SyscallArgs` by reference, or the state
/// first, would make the fast handler spill or move them before its
/// checks.)
/// One copy per syscall number `OP` (1 `call`, 2 `reply_recv`), so that
/// each knows its own.
#[cold]
fn long<const OP: u64>(cap: u64, tag: u64) -> FastPair {
    // SAFETY: as in `fast` (which no longer uses its reference).
    let st = unsafe { &mut *state_ptr() };
    let args = SyscallArgs { op: OP, cap, tag: MessageInfo(tag) };
    match st.kernel.fastpath_long(args) {
        Some(Fast::HandOff { thread, badge }) => {
            // SAFETY: written only at boot, before any entry.
            FastPair { top: unsafe { (*addr_of!(CTX_TOPS))[usize::from(thread.0)] }, badge }
        }
        _ => slow(st, args),
    }
}

/// The `invoke` half of the `syscall` entry: the kernel answers it without
/// a switch; the entry puts the reply into the caller's registers.
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_fast_invoke(cap: u64, tag: u64) -> Reply {
    // SAFETY: as in `fast`; only read.
    let st = unsafe { &*state_ptr() };
    st.kernel.invoke(cap, MessageInfo(tag))
}

/// Not for the fastpath: park the arguments in the current context (the
/// assembly saves the rest) and tell the entry to take the general path.
#[cold]
fn slow(st: &mut St, args: SyscallArgs) -> FastPair {
    st.kernel.save_syscall_args(args);
    FastPair::GENERAL
}

/// The general half of the `syscall` entry (called with the whole context
/// saved).
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_syscall_handler() -> ResumePair {
    // SAFETY: the state was initialised before user mode started, and this
    // CPU runs one kernel entry at a time with interrupts off.
    let st = unsafe { &mut *state_ptr() };
    let next = st.syscall();
    #[cfg(feature = "inject")]
    inject::apply(st, next);
    to_pair(st, next)
}

/// Rust half of the exception stubs.
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_trap_handler(f: &mut TrapFrame) -> ResumePair {
    if f.vector == 18 {
        // Not the running task's fault, and not one to carry on past.
        let (status, user) = (arch_x86_64::mcg_status(), if f.from_user() { "user" } else { "kernel" });
        kprintln!(Pc, "IPCB panic reason=\"machine check (#MC, vector 18) in {} mode at rip {:#x}: the CPU reported a hardware error (IA32_MCG_STATUS {:#x}); the run stops\"", user, f.rip, status);
        Pc::exit(2)
    }
    if f.from_user() {
        // SAFETY: as in `ipcb_syscall_handler`.
        let st = unsafe { &mut *state_ptr() };
        let addr = if f.vector == 14 { arch_x86_64::cr2() } else { 0 };
        defmt::println!("user fault: vector {=u64} error {=u64:#x} rip {=u64:#x} addr {=u64:#x}", f.vector, f.error, f.rip, addr);
        let next = st.user_fault(Fault { vector: f.vector, error: f.error, addr, pc: f.rip, task: None });
        return to_pair(st, next);
    }
    // The W^X self-test's deliberate faults resume the test (no return).
    arch_x86_64::wx::kernel_fault(f.vector, f.error, f.rip, arch_x86_64::cr2());
    kprintln!(Pc, "IPCB panic reason=\"kernel exception vector {} error {:#x} rip {:#x} cr2 {:#x}\"", f.vector, f.error, f.rip, arch_x86_64::cr2());
    Pc::exit(2)
}

/// Rust half of the watchdog's interrupt stub (`arch_x86_64::watchdog`):
/// on an expiry in user mode, kill the running task (the `IPCB watchdog`
/// line), give the threads left a fresh budget and run the next; anything
/// else resumes the interrupted code.
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_irq_handler(f: &mut TrapFrame) -> ResumePair {
    if !arch_x86_64::watchdog::expired(f.from_user()) {
        return ResumePair::RESUME;
    }
    // SAFETY: as in `ipcb_syscall_handler` (the kernel runs with interrupts
    // off, so this interrupt came from user mode, between kernel entries).
    let st = unsafe { &mut *state_ptr() };
    defmt::println!("watchdog: expiry at rip {=u64:#x}", f.rip);
    let next = st.watchdog_kill(X86_64::cpu_index(), arch_x86_64::watchdog::budget());
    arch_x86_64::watchdog::rearm();
    to_pair(st, next)
}

unsafe extern "C" {
    static __kernel_start: u8;
    static __bss_end: u8;
}

/// Called by the boot code on the boot stack, in the higher half.
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_kernel_main(magic: u64, info: u64) -> ! {
    let bi = boot::parse(magic, info);
    // The serial ports first (`console=`, `defmt=`): every line goes to
    // the console the command line names. A bad value: the defaults, and
    // the failure said there.
    let ports = serial::Ports::from_cmdline(bi.cmdline);
    let p = ports.unwrap_or_default();
    for port in [p.console, p.defmt].into_iter().flatten() {
        Com(port).init();
    }
    CONSOLE_PORT.store(p.console.unwrap_or(0), Ordering::Relaxed);
    DEFMT_PORT.store(p.defmt.unwrap_or(0), Ordering::Relaxed);
    // A line of its own: the loader may have left the cursor mid-line.
    kprintln!(Pc, "");
    if let Err(w) = ports {
        kprintln!(Pc, "IPCB fail bench=boot core=0 reason=\"bad command-line word '{}' (console= and defmt= take COM1..COM4, 0xNNNN or none)\"", w);
        kprintln!(Pc, "IPCB end status=fail");
        Pc::exit(1)
    }
    if p.defmt_shared {
        kprintln!(Pc, "IPCB warn reason=\"defmt names the console's port {:#x}: defmt off (move it with defmt=COM1..COM4 or 0xNNNN)\"", p.console.unwrap_or(0));
    }
    // SAFETY: written once, here, before anything reads it.
    let runtime_cmdline = unsafe { serial::without_port_words(bi.cmdline, &mut *addr_of_mut!(RUNTIME_CMDLINE)) };
    let Some(runtime_cmdline) = runtime_cmdline else {
        kprintln!(Pc, "IPCB fail bench=boot core=0 reason=\"command line longer than {} bytes\"", CMDLINE_MAX);
        kprintln!(Pc, "IPCB end status=fail");
        Pc::exit(1)
    };
    // Per-CPU regions and frames: in the usable RAM of the loader's map,
    // less the image (physical addresses of its first and last byte + 1).
    let kernel = arch_x86_64::memmap::Range {
        start: core::ptr::addr_of!(__kernel_start) as u64 - KERNEL_OFFSET,
        end: core::ptr::addr_of!(__bss_end) as u64 - KERNEL_OFFSET,
    };
    // SAFETY: once, on the boot CPU, before anything touches `.percpu`.
    let frames = match unsafe { smp::init_bsp(&bi, kernel, Pc::putc) } {
        Ok(r) => r,
        Err(why) => {
            kprintln!(Pc, "IPCB fail bench=boot core=0 reason=\"{}\"", why);
            kprintln!(Pc, "IPCB end status=fail");
            Pc::exit(1)
        }
    };
    // SAFETY: once, on the boot CPU, interrupts off, before user mode, with
    // the per-CPU region mapped.
    let feat = unsafe { arch_x86_64::cpu::init() };
    let config = match bench::parse_cmdline(runtime_cmdline) {
        Ok(c) => c,
        Err(w) => {
            kprintln!(Pc, "IPCB fail bench=boot core=0 reason=\"bad command-line word '{}'\"", w);
            kprintln!(Pc, "IPCB end status=fail");
            Pc::exit(1)
        }
    };
    #[cfg(not(feature = "inject"))]
    if config.inject != bench::Inject::None {
        kprintln!(Pc, "IPCB fail bench=boot core=0 reason=\"inject= needs the fault-injection build\"");
        kprintln!(Pc, "IPCB end status=fail");
        Pc::exit(1)
    }
    #[cfg(feature = "inject")]
    inject::set(config.inject);

    let frames = FrameAlloc::new(frames.start, frames.end);
    // SAFETY: boot is single-threaded; nothing has referenced STATE yet.
    // (The other CPUs get a clone of it when they start, which the runtime
    // re-initialises with their own frames.)
    unsafe { (*addr_of_mut!(STATE)).write(State::new(frames)) };
    // SAFETY: as above; the state is initialised and nothing runs yet.
    unsafe {
        let st = &mut *state_ptr();
        let tops = &mut *addr_of_mut!(CTX_TOPS);
        for (i, top) in tops.iter_mut().enumerate() {
            *top = FastPair::hand_off(st.kernel.context_mut(ipc_core::ThreadId(i as u8)), 0).top;
        }
    }
    if let Some(fb) = bi.framebuffer {
        defmt::println!("framebuffer: {=u32}x{=u32}x{=u8} type {=u8} at {=u64:#x}, pitch {=u32}", fb.width, fb.height, fb.bpp, fb.kind, fb.addr, fb.pitch);
        // SAFETY: once, on the boot CPU, before the others start.
        if let Some(base) = fb.drawable().then(|| unsafe { fbcon::map(&fb) }).flatten() {
            // SAFETY: `base` maps the whole framebuffer, used only by
            // SCREEN; nothing reads SCREEN before SCREEN_ON.
            unsafe { (*addr_of_mut!(SCREEN)).write(Screen::new(base, fb)) };
            SCREEN_ON.store(true, Ordering::Release);
        }
    }
    defmt::println!(
        "boot: {=str}, cmdline '{=str}', frames {=u64}, pcid {=bool} smep {=bool} smap {=bool}",
        bi.loader, bi.cmdline, frames.free_frames(), feat.pcid, feat.smep, feat.smap
    );

    bench::main(Env {
        state: state_ptr,
        user_elf: USER_ELF,
        elf_machine: runtime::elf::EM_X86_64,
        config,
        counters: X86_64::counters(),
    })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!(Pc, "IPCB panic reason=\"{}\"", info.message());
    kprintln!(Pc, "IPCB end status=fail");
    Pc::exit(2)
}

// ----- critical-section: interrupts off and a lock across CPUs -------------

struct IrqOffLocked;
critical_section::set_impl!(IrqOffLocked);

/// Owner of the critical section: 0 = free, else the CPU index + 1.
static CS_OWNER: AtomicUsize = AtomicUsize::new(0);
/// Were interrupts on when this CPU took the section? Per-CPU: only the
/// owner writes and reads it.
#[unsafe(link_section = ".percpu")]
static mut CS_IRQ_WAS_ON: bool = false;

// SAFETY: interrupts off excludes the other contexts of this CPU, the
// owner word the other CPUs; a nested acquire on the owner CPU is a no-op
// (restore state `false`), so only the outermost release unlocks.
unsafe impl critical_section::Impl for IrqOffLocked {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        let was_on = x86_64::instructions::interrupts::are_enabled();
        x86_64::instructions::interrupts::disable();
        let me = X86_64::cpu_index() + 1;
        if CS_OWNER.load(Ordering::Relaxed) == me {
            return false; // nested: the outer section keeps the lock
        }
        while CS_OWNER.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        // SAFETY: this CPU's own copy, and it holds the lock.
        unsafe { *addr_of_mut!(CS_IRQ_WAS_ON) = was_on };
        true
    }
    unsafe fn release(outermost: critical_section::RawRestoreState) {
        if outermost {
            // SAFETY: as in `acquire`.
            let was_on = unsafe { *addr_of!(CS_IRQ_WAS_ON) };
            CS_OWNER.store(0, Ordering::Release);
            if was_on {
                x86_64::instructions::interrupts::enable();
            }
        }
    }
}

// ----- defmt over a UART (COM2 unless `defmt=` says otherwise) --------------

#[defmt::global_logger]
struct Logger;

static TAKEN: AtomicBool = AtomicBool::new(false);
static mut CS_RESTORE: critical_section::RestoreState = critical_section::RestoreState::invalid();
static mut ENCODER: defmt::Encoder = defmt::Encoder::new();

fn defmt_write(bytes: &[u8]) {
    let port = DEFMT_PORT.load(Ordering::Relaxed);
    if port != 0 {
        Com(port).write_all(bytes);
    }
}

// SAFETY: `acquire` takes a critical section and refuses re-entry, so the
// encoder is used by one context at a time, between acquire and release.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        // SAFETY: paired with the release in `release`.
        let restore = unsafe { critical_section::acquire() };
        if TAKEN.swap(true, Ordering::Relaxed) {
            panic!("defmt logger re-entered");
        }
        // SAFETY: inside the critical section, logger taken.
        unsafe {
            CS_RESTORE = restore;
            (*addr_of_mut!(ENCODER)).start_frame(defmt_write);
        }
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: the logger is taken (defmt calls release after acquire).
        unsafe {
            (*addr_of_mut!(ENCODER)).end_frame(defmt_write);
            TAKEN.store(false, Ordering::Relaxed);
            critical_section::release(CS_RESTORE);
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: as in `release`.
        unsafe { (*addr_of_mut!(ENCODER)).write(bytes, defmt_write) };
    }
}

defmt::timestamp!("{=u64}", arch_x86_64::pmu::rdtsc());
