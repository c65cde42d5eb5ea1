// SPDX-License-Identifier: MIT OR Apache-2.0
//! Board glue: the console and exit device, the boot, defmt and
//! critical-section. The entries' Rust halves, the kernel-state static and
//! the panic handler are `arch_x86_64::kernel`'s (for this board:
//! `kernel_entries!`), the rest of the kernel glue `runtime::kernel`'s.

use core::mem::MaybeUninit;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};

use arch_x86_64::boot::{self, KERNEL_OFFSET};
use arch_x86_64::fbcon::{self, Screen};
use arch_x86_64::smp;
use arch_x86_64::serial::{self, Com};
use arch_x86_64::X86_64;
use runtime::kernel as rt;
use runtime::mem::FrameAlloc;
use runtime::{kprintln, Board, Machine, Uart};
use x86_64::instructions::port::Port;

/// The PC board.
pub struct Pc;

// The entry points, the kernel-state static and the panic handler
// (`arch_x86_64::kernel`).
arch_x86_64::kernel_entries!(Pc);

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
        rt::boot_fail::<Pc>(format_args!("bad command-line word '{}' (console= and defmt= take COM1..COM4, 0xNNNN or none)", w))
    }
    if p.defmt_shared {
        kprintln!(Pc, "IPCB warn reason=\"defmt names the console's port {:#x}: defmt off (move it with defmt=COM1..COM4 or 0xNNNN)\"", p.console.unwrap_or(0));
    }
    // SAFETY: written once, here, before anything reads it.
    let runtime_cmdline = unsafe { serial::without_port_words(bi.cmdline, &mut *addr_of_mut!(RUNTIME_CMDLINE)) };
    let Some(runtime_cmdline) = runtime_cmdline else {
        rt::boot_fail::<Pc>(format_args!("command line longer than {} bytes", CMDLINE_MAX))
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
        Err(why) => rt::boot_fail::<Pc>(format_args!("{}", why)),
    };
    // SAFETY: once, on the boot CPU, interrupts off, before user mode, with
    // the per-CPU region mapped.
    let feat = unsafe { arch_x86_64::cpu::init() };
    let config = rt::config::<Pc>(runtime_cmdline);

    let frames = FrameAlloc::new(frames.start, frames.end);
    // SAFETY: boot is single-threaded; nothing has referenced the state
    // yet. (The other CPUs get a clone of it when they start, which the
    // runtime re-initialises with their own frames.)
    unsafe { rt::init_state::<X86_64, Pc>(frames) };
    // SAFETY: as above; the state is initialised and nothing runs yet.
    unsafe { arch_x86_64::kernel::init_fast_state::<Pc>() };
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

    rt::run::<X86_64, Pc>(config, runtime::elf::EM_X86_64)
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
