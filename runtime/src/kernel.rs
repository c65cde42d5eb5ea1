// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel glue every example kernel shares, whatever its arch and
//! board: the kernel-state cell ([`BoardKernel`], emitted by
//! [`board_kernel!`](crate::board_kernel)), the arch-independent parts of
//! the entries' Rust halves (the general syscall path, a user fault, the
//! watchdog's kill, each turned into the two context pointers of the exit
//! path), the end of a run that failed (a kernel fault, a panic, a bad
//! command line) and the start of the benchmark driver.
//!
//! The arch crates build their entry halves on these
//! (`arch_x86_64::kernel`, `arch_aarch64::kernel`), and each arch's
//! `kernel_entries!` macro emits the `#[no_mangle]` symbols the entry
//! assembly calls, for one board type. A board crate then holds only what
//! is its own: the [`Board`] impl (console, exit), the boot (how it finds
//! RAM and the command line) and its `link.ld`.

use core::fmt;

use ipc_core::Next;

use crate::bench::{self, Env};
use crate::mem::FrameAlloc;
use crate::{inject, kprintln, Board, Fault, Machine, State};

/// A board with a kernel for the arch `M`: the per-CPU kernel-state static
/// the entries work on, and the user program the kernel runs. Implemented
/// by [`board_kernel!`](crate::board_kernel) (through the arch's
/// `kernel_entries!`), never by hand.
///
/// # Safety
///
/// [`BoardKernel::state`] returns the address of a `static` that holds a
/// `State<M, Self>` (initialised by [`init_state`] before any entry), lies
/// in the per-CPU region (each CPU reaches its own copy at that address)
/// and is touched by nothing but the functions of this module and the
/// arch's entry halves.
pub unsafe trait BoardKernel<M: Machine>: Board + Sized {
    /// The user program (ELF), built for the kernel's target.
    const USER_ELF: &'static [u8];
    /// The kernel state of this CPU.
    fn state() -> *mut State<M, Self>;
}

/// The kernel-state static of board `$board` on arch `$arch`, in the
/// per-CPU region, and its [`BoardKernel`] impl (with the user program at
/// the build script's `IPCB_USER_ELF`). What an arch's `kernel_entries!`
/// expands to first; the static is named `IPCB_STATE` (the x86 entry's
/// assembly also reaches its `kernel` field by that name).
#[macro_export]
macro_rules! board_kernel {
    ($arch:ty, $board:ty) => {
        /// The kernel state. In the per-CPU region: each CPU reaches its
        /// own copy at this one address, so the entry halves use it as a
        /// plain static, with no CPU number and no lock.
        #[unsafe(link_section = ".percpu")]
        static mut IPCB_STATE: core::mem::MaybeUninit<$crate::State<$arch, $board>> =
            core::mem::MaybeUninit::uninit();

        /// The board's init hook (`runtime::Board::init`),
        /// called by the arch's boot code before `ipcb_kernel_main`.
        #[unsafe(no_mangle)]
        extern "C" fn ipcb_board_init() {
            <$board as $crate::Board>::init()
        }

        // SAFETY: `IPCB_STATE` is a per-CPU static that only the runtime's
        // and the arch's entry halves touch, through `state`.
        unsafe impl $crate::kernel::BoardKernel<$arch> for $board {
            const USER_ELF: &'static [u8] = include_bytes!(env!("IPCB_USER_ELF"));
            #[inline(always)]
            fn state() -> *mut $crate::State<$arch, $board> {
                core::ptr::addr_of_mut!(IPCB_STATE) as *mut $crate::State<$arch, $board>
            }
        }
    };
}

/// The exit path's two context pointers for the core's decision: the
/// thread to run and the context its argument registers come from (both
/// null: go idle). The arch's `ResumePair` carries them.
#[inline(always)]
pub fn exit_pair<M: Machine, B: Board>(st: &mut State<M, B>, next: Next) -> (*mut M::Context, *const M::Context) {
    match next {
        Next::Resume { thread, regs_from } => {
            let t = st.kernel.context_mut(thread) as *mut M::Context;
            let r = st.kernel.context(regs_from) as *const M::Context;
            (t, r)
        }
        Next::Idle => (core::ptr::null_mut(), core::ptr::null()),
    }
}

/// Is this `call` or `reply_recv` (syscall number `op`, the fast handler's
/// constant) the one fault injection sends down the general path? Always
/// `false` (and folded away) without the `inject` feature.
#[inline(always)]
pub fn inject_due(op: u64) -> bool {
    inject::ENABLED && inject::due(op)
}

/// The general half of the syscall entry (called with the whole context
/// saved): the core's syscall, then (fault injection) the corruption of
/// the message in flight.
#[inline(always)]
pub fn syscall<M: Machine, B: BoardKernel<M>>() -> (*mut M::Context, *const M::Context) {
    // SAFETY: the state was initialised before user mode started, and this
    // CPU runs one kernel entry at a time with interrupts masked.
    let st = unsafe { &mut *B::state() };
    let next = st.syscall();
    if inject::ENABLED {
        inject::apply(st, next);
    }
    exit_pair(st, next)
}

/// A fault in user mode (the arch has decoded it into `fault`): kill the
/// task, run the next thread.
pub fn user_fault<M: Machine, B: BoardKernel<M>>(fault: Fault) -> (*mut M::Context, *const M::Context) {
    // SAFETY: as in `syscall`.
    let st = unsafe { &mut *B::state() };
    let next = st.user_fault(fault);
    exit_pair(st, next)
}

/// The watchdog's expiry in user mode: kill the running task
/// ([`State::watchdog_kill`], this CPU, `budget` ticks), run the next.
pub fn watchdog_kill<M: Machine, B: BoardKernel<M>>(budget: u64) -> (*mut M::Context, *const M::Context) {
    // SAFETY: as in `syscall` (the kernel runs with interrupts masked, so
    // the interrupt came from user mode, between kernel entries).
    let st = unsafe { &mut *B::state() };
    let next = st.watchdog_kill(M::cpu_index(), budget);
    exit_pair(st, next)
}

/// The run cannot go on (a kernel-mode fault, a machine check, a panic):
/// say why in an `IPCB panic` line, end with `status=fail` and exit with
/// status 2.
#[cold]
pub fn fatal<B: Board>(reason: fmt::Arguments<'_>) -> ! {
    kprintln!(B, "IPCB panic reason=\"{}\"", reason);
    kprintln!(B, "IPCB end status=fail");
    B::exit(2)
}

/// The boot cannot go on (a bad command line, no memory map): say why in
/// an `IPCB fail bench=boot` line, end with `status=fail` and exit with
/// status 1.
#[cold]
pub fn boot_fail<B: Board>(reason: fmt::Arguments<'_>) -> ! {
    kprintln!(B, "IPCB fail bench=boot core=0 reason=\"{}\"", reason);
    kprintln!(B, "IPCB end status=fail");
    B::exit(1)
}

/// The board's `#[panic_handler]` (emitted by `kernel_entries!`).
pub fn panic<B: Board>(info: &core::panic::PanicInfo<'_>) -> ! {
    fatal::<B>(format_args!("{}", info.message()))
}

/// The runtime's part of the kernel command line `cmdline` (the words the
/// board and the arch keep for themselves removed): the configuration,
/// with fault injection set as it asks. A bad word, or `inject=` in a
/// build without the `inject` feature, ends the boot ([`boot_fail`]).
pub fn config<B: Board>(cmdline: &str) -> bench::Config {
    let config = match bench::parse_cmdline(cmdline) {
        Ok(c) => c,
        Err(w) => boot_fail::<B>(format_args!("bad command-line word '{}'", w)),
    };
    if !inject::ENABLED && config.inject != bench::Inject::None {
        boot_fail::<B>(format_args!("inject= needs the fault-injection build"))
    }
    if inject::ENABLED {
        inject::set(config.inject);
    }
    config
}

/// Set up this CPU's kernel state over `frames` (the boot CPU's; the
/// other CPUs get a clone, which the driver re-initialises with their own
/// frames).
///
/// # Safety
///
/// Once, on the boot CPU, before anything has referenced the state (no
/// entry, no user code yet).
pub unsafe fn init_state<M: Machine, B: BoardKernel<M>>(frames: FrameAlloc) {
    // SAFETY: the caller's promise: nothing references the state yet.
    unsafe { B::state().write(State::new(frames)) };
}

/// Run the scenarios and benchmarks on the state [`init_state`] set up,
/// with the user program of `elf_machine` (never returns).
pub fn run<M: Machine, B: BoardKernel<M>>(config: bench::Config, elf_machine: u16) -> ! {
    bench::main(Env { state: B::state, user_elf: B::USER_ELF, elf_machine, config, counters: M::counters() })
}
