// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel glue every AArch64 example kernel shares, generic over its
//! [`runtime::Board`]: the Rust halves of the `svc` and trap entries (the
//! symbols [`entry`](crate::entry) calls, emitted for one board by
//! [`kernel_entries!`](crate::kernel_entries)), the start of the benchmark
//! driver ([`start`]), the end of a run ([`exit`]) and defmt. What x86_64
//! shares (the general syscall path, user faults, the watchdog's kill,
//! panics, the kernel-state cell) is `runtime::kernel`'s.
//!
//! **How a run ends** ([`exit`]). A kernel started by firmware (U-Boot,
//! the Pi firmware) powers the machine off with PSCI `SYSTEM_OFF`
//! through the conduit of the device tree's `/psci` node (`hvc` or
//! `smc`); without PSCI it parks the CPU. Semihosting, which is an
//! undefined instruction on a real board, is used only when the command
//! line says `exit=semihosting`: `cargo xtask` adds that word when it
//! starts QEMU with `-semihosting`, and the kernel then leaves QEMU with
//! its status as the exit code (33 pass, 35 a check failed, 37 panic).
//! QEMU's `SYSTEM_OFF` ends QEMU with status 0, so there the verdict is
//! the `IPCB end` line.
//!
//! **defmt.** With `exit=semihosting`, or `defmt=semihosting` (a board
//! that ends by PSCI under QEMU too: uefi-aarch64), the defmt frames go to the
//! semihosting console (`SYS_WRITE0`, and `SYS_WRITEC` for the frames'
//! zero delimiters), which `cargo xtask` points at the run's `defmt.bin`
//! (`-semihosting-config chardev=`) and decodes into `defmt.log`; without
//! it (firmware boots, real boards) they are dropped. This module is the
//! defmt global logger of any kernel that links this crate for
//! `target_os = "none"`.
//!
//! **A board** implements [`runtime::Board`], invokes
//! `arch_aarch64::kernel_entries!(ItsBoard);` once, and provides
//! `ipcb_kernel_main`, which finds the command line and RAM its own way
//! (device tree, ATAGs, ...), calls [`percpu_and_frames`], `cpu::init`
//! and then [`start`]. The entry symbols must be compiled with the board's
//! type (the kernel state is `State<Aarch64, ItsBoard>`) and a generic
//! function cannot carry a fixed symbol name: so the macro emits thin
//! `#[no_mangle]` shims that call the generic functions here.

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::entry::ec;
use crate::paging;
use crate::{Aarch64, Context, FastPair, InvokePair, ResumePair, TrapFrame};
use ipc_core::{Fast, MessageInfo, Syscall, SyscallArgs, ThreadId};
use runtime::cmdline::WordBuf;
use runtime::kernel::{self as rt, BoardKernel};
use runtime::mem::FrameAlloc;
use runtime::{kprintln, Board, Fault, State};

/// The kernel state of board `B`.
pub type St<B> = State<Aarch64, B>;

/// The `#[no_mangle]` entry points of [`entry`](crate::entry) (and the
/// panic handler) for board `$board`, each a call of the generic function
/// of [`kernel`](crate::kernel) that does the work; and the board's
/// kernel-state static with its `runtime::kernel::BoardKernel` impl
/// (`runtime::board_kernel!`). Invoke once, in the board crate's
/// `target_os = "none"` build:
///
/// ```ignore
/// arch_aarch64::kernel_entries!(Virt);
/// ```
///
/// It emits `ipcb_fast_call`, `ipcb_fast_reply_recv`, `ipcb_fast_invoke`
/// (the `svc` fastpath halves), `ipcb_syscall_handler` (the general one),
/// `ipcb_trap_handler`, `ipcb_irq_handler` and the `#[panic_handler]`.
///
/// A board whose console is one [`runtime::Uart`] and whose end is the
/// shared one (drain the UART, then [`exit`]: semihosting when xtask asked
/// for it, else PSCI `SYSTEM_OFF`, else park) names that UART, and the
/// macro also writes its `runtime::Board` impl (`NAME` from the build
/// script's `IPCB_BOARD`, the default `init`):
///
/// ```ignore
/// arch_aarch64::kernel_entries!(Virt, console = CONSOLE);
/// ```
///
/// `$console` is any expression of a `runtime::Uart` type, evaluated at
/// each use (a `const`, or a function that reads where the boot code put
/// the UART). A board with its own init or exit writes the impl itself.
#[macro_export]
macro_rules! kernel_entries {
    ($board:ty, console = $console:expr) => {
        $crate::kernel_entries!($board);

        impl $crate::__runtime::Board for $board {
            const NAME: &'static str = env!("IPCB_BOARD");

            fn putc(b: u8) {
                $crate::__runtime::Uart::putc(&$console, b);
            }

            fn exit(status: u8) -> ! {
                $crate::__runtime::Uart::flush(&$console);
                $crate::kernel::exit(status)
            }
        }
    };
    ($board:ty) => {
        $crate::__runtime::board_kernel!($crate::Aarch64, $board);

        #[unsafe(no_mangle)]
        extern "C" fn ipcb_fast_call(cap: u64, tag: u64, st: &mut $crate::kernel::St<$board>, ctxs: *mut $crate::Context) -> $crate::FastPair {
            $crate::kernel::fast_call(cap, tag, st, ctxs)
        }
        #[unsafe(no_mangle)]
        extern "C" fn ipcb_fast_reply_recv(cap: u64, tag: u64, st: &mut $crate::kernel::St<$board>, ctxs: *mut $crate::Context) -> $crate::FastPair {
            $crate::kernel::fast_reply_recv(cap, tag, st, ctxs)
        }
        #[unsafe(no_mangle)]
        extern "C" fn ipcb_fast_invoke(cap: u64, tag: u64, st: &$crate::kernel::St<$board>) -> $crate::InvokePair {
            $crate::kernel::fast_invoke(cap, tag, st)
        }
        #[unsafe(no_mangle)]
        extern "C" fn ipcb_syscall_handler() -> $crate::ResumePair {
            $crate::kernel::syscall_handler::<$board>()
        }
        #[unsafe(no_mangle)]
        extern "C" fn ipcb_trap_handler(f: &mut $crate::TrapFrame) -> $crate::ResumePair {
            $crate::kernel::trap_handler::<$board>(f)
        }
        #[unsafe(no_mangle)]
        extern "C" fn ipcb_irq_handler(f: &mut $crate::TrapFrame) -> $crate::ResumePair {
            $crate::kernel::irq_handler::<$board>(f)
        }
        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
            $crate::__runtime::kernel::panic::<$board>(info)
        }
    };
}

/// The two context pointers of the exit path as the entry takes them.
#[inline(always)]
fn pair((thread, regs_from): (*mut Context, *const Context)) -> ResumePair {
    ResumePair { thread, regs_from }
}

/// The fastpath half of the `svc` entry for `call` (`ipcb_fast_call`): the
/// message registers are still in the CPU, the caller's preserved state is
/// already in its context (see [`entry`](crate::entry)). `st` and `ctxs`
/// are what [`start`] gave `cpu::set_fast_state`: the state and thread 0's
/// context.
#[inline(always)]
pub fn fast_call<B: Board>(cap: u64, tag: u64, st: &mut St<B>, ctxs: *mut Context) -> FastPair {
    fast(st, ctxs, SyscallArgs { op: Syscall::Call as u64, cap, tag: MessageInfo(tag) })
}

/// The fastpath half of the `svc` entry for `reply_recv`
/// (`ipcb_fast_reply_recv`, as [`fast_call`]).
#[inline(always)]
pub fn fast_reply_recv<B: Board>(cap: u64, tag: u64, st: &mut St<B>, ctxs: *mut Context) -> FastPair {
    fast(st, ctxs, SyscallArgs { op: Syscall::ReplyRecv as u64, cap, tag: MessageInfo(tag) })
}

/// Both fast handlers: the entry has dispatched on the number already, so
/// `args.op` is a constant here and the core's own dispatch folds away.
#[inline(always)]
fn fast<B: Board>(st: &mut St<B>, ctxs: *mut Context, args: SyscallArgs) -> FastPair {
    if rt::inject_due(args.op) {
        // Send this message through the general path, where it sits in
        // memory and can be corrupted.
        return slow(st, args);
    }
    // A message longer than the registers: straight to its own fastpath
    // (the register-only one would test the same bits, later).
    if (args.tag.0 as u16) > <Aarch64 as ipc_core::Arch>::MR_IN_REGS as u16 {
        core::hint::cold_path();
        return match args.op {
            1 => long::<B, 1>(args.cap, args.tag.0, st, ctxs),
            _ => long::<B, 2>(args.cap, args.tag.0, st, ctxs),
        };
    }
    match st.kernel.fastpath_ipc(args) {
        Some(Fast::HandOff { thread, badge }) => {
            // SAFETY: thread `t`'s context is `ctxs.add(t)` (checked for
            // every index in `start`); `st` is not used after this point,
            // so this is the only reference to that context.
            let ctx = unsafe { &mut *ctxs.add(usize::from(thread.0)) };
            FastPair::hand_off(ctx, badge, args.tag.0)
        }
        // `fastpath_ipc` answers `call` and `reply_recv` only.
        Some(Fast::Return | Fast::Reply(_)) | None => slow(st, args),
    }
}

/// A message longer than the registers: the long-message fastpath, with
/// the message registers still in the CPU (`Kernel::fastpath_long` touches
/// none), or else the general path. Inlined into each fast handler behind
/// `core::hint::cold_path` (so one copy per syscall number `OP`, 1 `call`,
/// 2 `reply_recv`): as a function of its own it would be a `bl` with a
/// frame, since LLVM makes no tail call of a two-word return here, and
/// the register-only path keeps its instructions either way (x86_64, where
/// inlining it costs the register-only path, keeps it out of line).
#[inline(always)]
fn long<B: Board, const OP: u64>(cap: u64, tag: u64, st: &mut St<B>, ctxs: *mut Context) -> FastPair {
    let args = SyscallArgs { op: OP, cap, tag: MessageInfo(tag) };
    match st.kernel.fastpath_long(args) {
        Some(Fast::HandOff { thread, badge }) => {
            // SAFETY: as in `fast`.
            let ctx = unsafe { &mut *ctxs.add(usize::from(thread.0)) };
            FastPair::hand_off(ctx, badge, args.tag.0)
        }
        _ => slow(st, args),
    }
}

/// The `invoke` half of the `svc` entry (`ipcb_fast_invoke`): the kernel
/// answers without a switch. Returns the result word (`x0`) and the status
/// (`x1`), the order in which the entry wants them.
#[inline(always)]
pub fn fast_invoke<B: Board>(cap: u64, tag: u64, st: &St<B>) -> InvokePair {
    st.kernel.invoke(cap, MessageInfo(tag)).into()
}

/// Not for the fastpath: park the arguments in the current context (the
/// entry has saved the preserved registers, the assembly saves the message
/// registers) and tell the entry to take the general path.
#[cold]
fn slow<B: Board>(st: &mut St<B>, args: SyscallArgs) -> FastPair {
    st.kernel.save_syscall_args(args);
    FastPair::GENERAL
}

/// The general half of the `svc` entry (`ipcb_syscall_handler`, called
/// with the whole context saved).
#[inline(always)]
pub fn syscall_handler<B: BoardKernel<Aarch64>>() -> ResumePair {
    pair(rt::syscall::<Aarch64, B>())
}

/// A name for an exception class, for the diagnostics.
fn class_name(class: u64) -> &'static str {
    match class {
        ec::UNKNOWN => "undefined instruction",
        ec::WFX => "trapped wfi/wfe",
        ec::FP => "FP/SIMD access (not available at EL0)",
        ec::SYSREG => "trapped system instruction",
        ec::IABT_LOWER | ec::IABT_SAME => "instruction abort",
        ec::DABT_LOWER | ec::DABT_SAME => "data abort",
        0x22 => "PC alignment",
        0x26 => "SP alignment",
        _ => "other",
    }
}

/// Rust half of the trap entry (`ipcb_trap_handler`: every exception but
/// an `svc` from EL0).
pub fn trap_handler<B: BoardKernel<Aarch64>>(f: &mut TrapFrame) -> ResumePair {
    if f.from_user() && f.synchronous() {
        let class = f.class();
        let addr = if f.is_abort() { f.far } else { 0 };
        defmt::println!(
            "user fault: class {=u64:#x} ({=str}) esr {=u64:#x} pc {=u64:#x} addr {=u64:#x}",
            class, class_name(class), f.esr, f.elr, addr
        );
        return pair(rt::user_fault::<Aarch64, B>(Fault { vector: class, error: f.esr, addr, pc: f.elr, task: None }));
    }
    // The W^X self-test's deliberate faults resume the test (no return).
    if !f.from_user() {
        crate::wx::kernel_fault(f.esr, f.elr, f.far);
    }
    rt::fatal::<B>(format_args!(
        "kernel exception vector {} class {:#x} ({}) esr {:#x} elr {:#x} far {:#x} sp {:#x}",
        f.source, f.class(), class_name(f.class()), f.esr, f.elr, f.far, f.sp
    ))
}

/// Rust half of the IRQ entry from EL0 (`ipcb_irq_handler`,
/// [`watchdog`](crate::watchdog)): the watchdog's expiry kills the running
/// task (the `IPCB watchdog` line), gives the threads left a fresh budget
/// and runs the next; a stray IRQ is counted and masked for the thread it
/// hit, as ever; anything else resumes.
pub fn irq_handler<B: BoardKernel<Aarch64>>(f: &mut TrapFrame) -> ResumePair {
    use crate::watchdog::{self, Irq};
    match watchdog::on_irq() {
        Irq::Expired => {
            defmt::println!("watchdog: expiry at pc {=u64:#x}", f.elr);
            let resume = pair(rt::watchdog_kill::<Aarch64, B>(watchdog::budget()));
            watchdog::rearm();
            resume
        }
        Irq::Resume => ResumePair::RESUME,
        Irq::Stray => {
            crate::entry::count_stray();
            f.spsr |= 0xc0;
            ResumePair::RESUME
        }
    }
}

unsafe extern "C" {
    static __bss_end: u8;
}

/// The physical end of the kernel image, `.bss` included.
pub fn kernel_end() -> u64 {
    paging::virt_to_phys(core::ptr::addr_of!(__bss_end) as u64)
}

/// Reserve the per-CPU regions for the CPUs of `cfg` and map the boot
/// CPU's ([`smp::init_boot`](crate::smp::init_boot)); then the frames the kernel may
/// hand out: from there to `ram_end`, at most to the end of the directly
/// mapped RAM. Call first thing in `ipcb_kernel_main`, before `cpu::init`.
pub fn percpu_and_frames<B: Board>(cfg: crate::smp::Config, ram_end: u64) -> FrameAlloc {
    let end = ram_end.min(paging::direct_map_end());
    // SAFETY: the board calls this once, on the boot CPU, before anything
    // touches `.percpu`.
    let start = unsafe { crate::smp::init_boot(cfg, kernel_end(), end, B::putc) };
    FrameAlloc::new(start, end)
}

/// How [`exit`] ends the run: park the CPU (no PSCI, and until [`start`]
/// has chosen).
const EXIT_PARK: u8 = 0;
/// Semihosting (`exit=semihosting` on the command line).
const EXIT_SEMIHOSTING: u8 = 1;
/// PSCI `SYSTEM_OFF` through `hvc`.
const EXIT_PSCI_HVC: u8 = 2;
/// PSCI `SYSTEM_OFF` through `smc`.
const EXIT_PSCI_SMC: u8 = 3;
/// The way chosen by [`start`].
static EXIT_HOW: AtomicU8 = AtomicU8::new(EXIT_PARK);

/// The command-line word by which `cargo xtask` says it started QEMU with
/// `-semihosting`.
pub const SEMIHOSTING_WORD: &str = "exit=semihosting";

/// The command-line word by which `cargo xtask` says that QEMU takes the
/// defmt frames on its semihosting console, on a board that ends its runs
/// otherwise (PSCI: uefi-aarch64).
pub const DEFMT_SEMIHOSTING_WORD: &str = "defmt=semihosting";

/// The command line without the words of [`take_host_words`], when one is
/// not its first.
static mut CMDLINE: [u8; 1024] = [0; 1024];

/// `cmdline` without the words [`SEMIHOSTING_WORD`] and
/// [`DEFMT_SEMIHOSTING_WORD`] (copied into [`CMDLINE`] unless the one word
/// is first), and which of the two were there.
fn take_host_words(cmdline: &'static str) -> (&'static str, bool, bool) {
    let host = |w: &str| w == SEMIHOSTING_WORD || w == DEFMT_SEMIHOSTING_WORD;
    let (exit, defmt) = cmdline.split_ascii_whitespace().fold((false, false), |(e, d), w| {
        (e || w == SEMIHOSTING_WORD, d || w == DEFMT_SEMIHOSTING_WORD)
    });
    if !exit && !defmt {
        return (cmdline, false, false);
    }
    let mut words = cmdline.split_ascii_whitespace();
    if words.next().is_some_and(host) && !words.any(host) {
        // The one word, first (as xtask writes it): the rest as it is.
        let rest = cmdline.trim_start().split_once(|c: char| c.is_ascii_whitespace()).map_or("", |(_, r)| r);
        return (rest.trim_start(), exit, defmt);
    }
    // SAFETY: called once, on the boot CPU, before anything else reads
    // CMDLINE; the slice handed out is never written again.
    let mut kept = WordBuf::new(unsafe { &mut *addr_of_mut!(CMDLINE) });
    for w in cmdline.split_ascii_whitespace().filter(|&w| !host(w)) {
        if !kept.push(w) {
            break;
        }
    }
    (kept.into_str(), exit, defmt)
}

/// End the run (the board's [`Board::exit`], after it has drained its
/// console): semihosting with `status` when the command line asked for it,
/// else PSCI `SYSTEM_OFF` when the device tree names a conduit, else (or
/// if the firmware declines) park this CPU for good.
pub fn exit(status: u8) -> ! {
    match EXIT_HOW.load(Ordering::Relaxed) {
        EXIT_SEMIHOSTING => crate::semihosting::exit_status(status),
        EXIT_PSCI_HVC => crate::psci::system_off(false),
        EXIT_PSCI_SMC => crate::psci::system_off(true),
        _ => {}
    }
    crate::halt()
}

/// The board-independent rest of the boot, on the boot CPU after
/// `cpu::init`: choose how the run ends ([`exit`]: `exit=semihosting` on
/// the command line, else the PSCI conduit of the device tree at `dtb`),
/// say in an `IPCB warn` line when the loader misplaced the image
/// ([`boot::misplaced_load`](crate::boot::misplaced_load)), parse the
/// rest of the kernel command line, set up the kernel state with
/// `frames`, run the scenarios and benchmarks (never returns). `el` and
/// `dtb` are also for the diagnostics.
pub fn start<B: BoardKernel<Aarch64>>(el: u64, cmdline: &'static str, frames: FrameAlloc, dtb: Option<u64>) -> ! {
    let (cmdline, semihosting, defmt_semihosting) = take_host_words(cmdline);
    let how = match (semihosting, dtb.and_then(crate::psci::conduit_from_dt)) {
        (true, _) => EXIT_SEMIHOSTING,
        (false, Some(false)) => EXIT_PSCI_HVC,
        (false, Some(true)) => EXIT_PSCI_SMC,
        (false, None) => EXIT_PARK,
    };
    EXIT_HOW.store(how, Ordering::Relaxed);
    // defmt frames to the semihosting console, which xtask's QEMU sends to
    // the run's defmt.bin.
    DEFMT_ON.store(semihosting || defmt_semihosting, Ordering::Release);
    if let Some(pa) = dtb {
        crate::watchdog::init_from_dt(pa, crate::cpu::el());
    }
    if let (Some(pa), true) = (dtb, crate::boot::dt_without_memory()) {
        kprintln!(
            B,
            "IPCB warn reason=\"the device tree at {:#x} has no /memory node with a size: the board's default RAM is used\"",
            pa
        );
    }
    if let Some((pa, text_offset)) = crate::boot::misplaced_load() {
        kprintln!(
            B,
            "IPCB warn reason=\"image loaded at {:#x}, not text_offset {:#x} from a 2 MiB boundary as its Image header asks: mapped by 4 KiB pages instead of 2 MiB blocks\"",
            pa, text_offset
        );
    }
    let config = rt::config::<B>(cmdline);

    // SAFETY: boot is single-threaded; nothing has referenced the state yet.
    unsafe { rt::init_state::<Aarch64, B>(frames) };
    // The fast handlers get the state and thread 0's context from the
    // entry, in registers: one `add` then finds any thread's context. The
    // contexts live in the state static and never move.
    {
        // SAFETY: as above; the state is initialised and nothing runs yet.
        let st = unsafe { &mut *B::state() };
        let ctxs = st.kernel.context_mut(ThreadId(0)) as *mut Context;
        for t in 0..=u8::MAX {
            let at = st.kernel.context_mut(ThreadId(t)) as *mut Context;
            assert!(at == ctxs.wrapping_add(usize::from(t)), "contexts not contiguous");
        }
        // SAFETY: boot CPU, before user code; the fast handlers take a
        // `&mut St` third and the contexts are contiguous (just checked).
        unsafe {
            let kernel = core::ptr::addr_of!((*B::state()).kernel);
            crate::cpu::set_fast_state(B::state().cast(), ctxs, kernel)
        };
    }
    defmt::println!(
        "boot: el {=u64}, dtb {=?}, cmdline '{=str}', frames {=u64}",
        el, dtb, cmdline, frames.free_frames()
    );

    rt::run::<Aarch64, B>(config, runtime::elf::EM_AARCH64)
}

// ----- defmt: to the semihosting console, where QEMU runs it --------------

/// A semihosting host takes defmt frames (else they are dropped: on a
/// real board the call would be an undefined instruction).
static DEFMT_ON: AtomicBool = AtomicBool::new(false);
/// The logger is taken (by one CPU; the kernel runs with interrupts
/// masked, so nothing nests but a panic inside a frame).
static DEFMT_TAKEN: AtomicBool = AtomicBool::new(false);
/// The frame being encoded, sent with one semihosting call at its end (a
/// call per byte would cost a trap to QEMU each).
static mut DEFMT_BUF: [u8; 256] = [0; 256];
static mut DEFMT_LEN: usize = 0;
static mut DEFMT_ENCODER: defmt::Encoder = defmt::Encoder::new();

/// Send what the frame buffer holds.
fn defmt_flush() {
    // SAFETY: only while the logger is taken (`Logger`'s contract).
    let (buf, len) = unsafe { (&*core::ptr::addr_of!(DEFMT_BUF), &mut *addr_of_mut!(DEFMT_LEN)) };
    if *len > 0 && DEFMT_ON.load(Ordering::Acquire) {
        crate::semihosting::write_console(&buf[..*len]);
    }
    *len = 0;
}

/// The encoder's output: into the frame buffer, flushed when full.
fn defmt_push(bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: as in `defmt_flush`.
        let full = unsafe {
            let len = &mut *addr_of_mut!(DEFMT_LEN);
            (*addr_of_mut!(DEFMT_BUF))[*len] = b;
            *len += 1;
            *len == 256
        };
        if full {
            defmt_flush();
        }
    }
}

#[defmt::global_logger]
struct Logger;

// SAFETY: `acquire` spins until it holds the logger, so the encoder and
// the frame buffer are used by one CPU at a time, between acquire and
// release.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        while DEFMT_TAKEN.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        // SAFETY: the logger is taken.
        unsafe { (*addr_of_mut!(DEFMT_ENCODER)).start_frame(defmt_push) };
    }

    unsafe fn flush() {
        defmt_flush();
    }

    unsafe fn release() {
        // SAFETY: the logger is taken (defmt calls release after acquire).
        unsafe { (*addr_of_mut!(DEFMT_ENCODER)).end_frame(defmt_push) };
        defmt_flush();
        DEFMT_TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: as in `release`.
        unsafe { (*addr_of_mut!(DEFMT_ENCODER)).write(bytes, defmt_push) };
    }
}

defmt::timestamp!("{=u64}", crate::pmu::ticks());
