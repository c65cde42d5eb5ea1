// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel glue of an x86_64 example kernel, generic over its
//! [`runtime::Board`]: the Rust halves of the `syscall` entry's fast and
//! general paths, of the exception stubs and of the watchdog's interrupt
//! (the symbols [`entry`](crate::entry) calls, emitted for one board by
//! [`kernel_entries!`](crate::kernel_entries)), and the fastpath's table of
//! context tops ([`init_fast_state`]). What AArch64 shares (the general
//! syscall path, user faults, the watchdog's kill, panics, the
//! kernel-state cell, the driver's start) is `runtime::kernel`'s.
//!
//! **A board** implements [`runtime::Board`], invokes
//! `arch_x86_64::kernel_entries!(ItsBoard);` once, and provides
//! `ipcb_kernel_main`: the boot (loader information, console, per-CPU
//! regions, `cpu::init`), then `runtime::kernel::config`,
//! `runtime::kernel::init_state`, [`init_fast_state`] and
//! `runtime::kernel::run`. The entry symbols must be compiled with the
//! board's type (the kernel state is `State<X86_64, ItsBoard>`) and a
//! generic function cannot carry a fixed symbol name: so the macro emits
//! thin `#[no_mangle]` shims that call the generic functions here.

use core::ptr::{addr_of, addr_of_mut};

use ipc_core::{Fast, MessageInfo, Syscall, SyscallArgs, ThreadId};
/// What `ipcb_fast_invoke` returns.
pub use ipc_core::Reply;
use runtime::kernel::{self as rt, BoardKernel};
use runtime::{Board, Fault, State};

use crate::{FastPair, ResumePair, TrapFrame, X86_64};

/// The kernel state of board `B`.
pub type St<B> = State<X86_64, B>;

/// The `#[no_mangle]` entry points of [`entry`](crate::entry) (and the
/// panic handler) for board `$board`, each a call of the generic function
/// of [`kernel`](crate::kernel) that does the work; the board's
/// kernel-state static with its `runtime::kernel::BoardKernel` impl
/// (`runtime::board_kernel!`); and `ipcb_fast_kernel`, the address of
/// that state's `kernel` field, where the entry's assembly `invoke`
/// fastpath reads. Invoke once, in the board crate's `target_os = "none"`
/// build:
///
/// ```ignore
/// arch_x86_64::kernel_entries!(Pc);
/// ```
///
/// It emits `ipcb_fast_call`, `ipcb_fast_reply_recv`, `ipcb_fast_invoke`
/// (the `syscall` fastpath halves), `ipcb_syscall_handler` (the general
/// one), `ipcb_trap_handler`, `ipcb_irq_handler` and the
/// `#[panic_handler]`.
#[macro_export]
macro_rules! kernel_entries {
    ($board:ty) => {
        $crate::__runtime::board_kernel!($crate::X86_64, $board);

        core::arch::global_asm!(
            ".globl ipcb_fast_kernel",
            ".set ipcb_fast_kernel, {state} + {kernel}",
            state = sym IPCB_STATE,
            kernel = const core::mem::offset_of!($crate::kernel::St<$board>, kernel),
        );

        #[unsafe(no_mangle)]
        extern "sysv64" fn ipcb_fast_call(cap: u64, tag: u64) -> $crate::FastPair {
            $crate::kernel::fast_call::<$board>(cap, tag)
        }
        #[unsafe(no_mangle)]
        extern "sysv64" fn ipcb_fast_reply_recv(cap: u64, tag: u64) -> $crate::FastPair {
            $crate::kernel::fast_reply_recv::<$board>(cap, tag)
        }
        #[unsafe(no_mangle)]
        extern "sysv64" fn ipcb_fast_invoke(cap: u64, tag: u64) -> $crate::kernel::Reply {
            $crate::kernel::fast_invoke::<$board>(cap, tag)
        }
        #[unsafe(no_mangle)]
        extern "sysv64" fn ipcb_syscall_handler() -> $crate::ResumePair {
            $crate::kernel::syscall_handler::<$board>()
        }
        #[unsafe(no_mangle)]
        extern "sysv64" fn ipcb_trap_handler(f: &mut $crate::TrapFrame) -> $crate::ResumePair {
            $crate::kernel::trap_handler::<$board>(f)
        }
        #[unsafe(no_mangle)]
        extern "sysv64" fn ipcb_irq_handler(f: &mut $crate::TrapFrame) -> $crate::ResumePair {
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
fn pair((thread, regs_from): (*mut crate::Context, *const crate::Context)) -> ResumePair {
    ResumePair { thread, regs_from }
}

/// The fastpath's answer for each thread index: its context's address plus
/// `CTX_TOP`, the form the entry keeps the current thread in. Filled once
/// at boot ([`init_fast_state`]; the contexts live in the state static and
/// never move): one load on the hand-off instead of a shift, an add and an
/// or. Per-CPU like the state (the values are the same on every CPU: so
/// are the addresses).
#[unsafe(link_section = ".percpu")]
static mut CTX_TOPS: [usize; 256] = [0; 256];

/// Fill the fastpath's table of context tops from the state
/// `runtime::kernel::init_state` has set up.
///
/// # Safety
///
/// Once, on the boot CPU, after `init_state` and before any entry.
pub unsafe fn init_fast_state<B: BoardKernel<X86_64>>() {
    // SAFETY: the caller's promise: the state is initialised and nothing
    // runs yet.
    unsafe {
        let st = &mut *B::state();
        let tops = &mut *addr_of_mut!(CTX_TOPS);
        for (i, top) in tops.iter_mut().enumerate() {
            *top = FastPair::hand_off(st.kernel.context_mut(ThreadId(i as u8)), 0).top;
        }
    }
}

/// The fastpath half of the `syscall` entry for `call` (`ipcb_fast_call`):
/// the message registers are still in the CPU (see
/// [`entry`](crate::entry)).
#[inline(always)]
pub fn fast_call<B: BoardKernel<X86_64>>(cap: u64, tag: u64) -> FastPair {
    fast::<B>(SyscallArgs { op: Syscall::Call as u64, cap, tag: MessageInfo(tag) })
}

/// The fastpath half of the `syscall` entry for `reply_recv`
/// (`ipcb_fast_reply_recv`, as [`fast_call`]).
#[inline(always)]
pub fn fast_reply_recv<B: BoardKernel<X86_64>>(cap: u64, tag: u64) -> FastPair {
    fast::<B>(SyscallArgs { op: Syscall::ReplyRecv as u64, cap, tag: MessageInfo(tag) })
}

/// Both IPC fast handlers: the entry has dispatched on the number already,
/// so `args.op` is a constant here and the core's own dispatch folds away.
#[inline(always)]
fn fast<B: BoardKernel<X86_64>>(args: SyscallArgs) -> FastPair {
    // SAFETY: the state was initialised before user mode started, and this
    // CPU runs one kernel entry at a time with interrupts off.
    let st = unsafe { &mut *B::state() };
    if rt::inject_due(args.op) {
        // Send this message through the general path, where it sits in
        // memory and can be corrupted.
        return slow(st, args);
    }
    // A message longer than the registers: straight to its own fastpath
    // (the register-only one would test the same bits, later).
    if (args.tag.0 as u16) > <X86_64 as ipc_core::Arch>::MR_IN_REGS as u16 {
        return match args.op {
            1 => long::<B, 1>(args.cap, args.tag.0),
            _ => long::<B, 2>(args.cap, args.tag.0),
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
fn long<B: BoardKernel<X86_64>, const OP: u64>(cap: u64, tag: u64) -> FastPair {
    // SAFETY: as in `fast` (which no longer uses its reference).
    let st = unsafe { &mut *B::state() };
    let args = SyscallArgs { op: OP, cap, tag: MessageInfo(tag) };
    match st.kernel.fastpath_long(args) {
        Some(Fast::HandOff { thread, badge }) => {
            // SAFETY: written only at boot, before any entry.
            FastPair { top: unsafe { (*addr_of!(CTX_TOPS))[usize::from(thread.0)] }, badge }
        }
        _ => slow(st, args),
    }
}

/// The `invoke` half of the `syscall` entry (`ipcb_fast_invoke`): the
/// kernel answers it without a switch; the entry puts the reply into the
/// caller's registers.
#[inline(always)]
pub fn fast_invoke<B: BoardKernel<X86_64>>(cap: u64, tag: u64) -> Reply {
    // SAFETY: as in `fast`; only read.
    let st = unsafe { &*B::state() };
    st.kernel.invoke(cap, MessageInfo(tag))
}

/// Not for the fastpath: park the arguments in the current context (the
/// assembly saves the rest) and tell the entry to take the general path.
#[cold]
fn slow<B: Board>(st: &mut St<B>, args: SyscallArgs) -> FastPair {
    st.kernel.save_syscall_args(args);
    FastPair::GENERAL
}

/// The general half of the `syscall` entry (`ipcb_syscall_handler`,
/// called with the whole context saved).
#[inline(always)]
pub fn syscall_handler<B: BoardKernel<X86_64>>() -> ResumePair {
    pair(rt::syscall::<X86_64, B>())
}

/// Rust half of the exception stubs (`ipcb_trap_handler`).
pub fn trap_handler<B: BoardKernel<X86_64>>(f: &mut TrapFrame) -> ResumePair {
    if f.vector == 18 {
        // Not the running task's fault, and not one to carry on past.
        let (status, user) = (crate::mcg_status(), if f.from_user() { "user" } else { "kernel" });
        rt::fatal::<B>(format_args!("machine check (#MC, vector 18) in {} mode at rip {:#x}: the CPU reported a hardware error (IA32_MCG_STATUS {:#x}); the run stops", user, f.rip, status))
    }
    if f.from_user() {
        let addr = if f.vector == 14 { crate::cr2() } else { 0 };
        defmt::println!("user fault: vector {=u64} error {=u64:#x} rip {=u64:#x} addr {=u64:#x}", f.vector, f.error, f.rip, addr);
        return pair(rt::user_fault::<X86_64, B>(Fault { vector: f.vector, error: f.error, addr, pc: f.rip, task: None }));
    }
    // The W^X self-test's deliberate faults resume the test (no return).
    crate::wx::kernel_fault(f.vector, f.error, f.rip, crate::cr2());
    rt::fatal::<B>(format_args!("kernel exception vector {} error {:#x} rip {:#x} cr2 {:#x}", f.vector, f.error, f.rip, crate::cr2()))
}

/// Rust half of the watchdog's interrupt stub (`ipcb_irq_handler`,
/// [`watchdog`](crate::watchdog)): on an expiry in user mode, kill the
/// running task (the `IPCB watchdog` line), give the threads left a fresh
/// budget and run the next; anything else resumes the interrupted code.
pub fn irq_handler<B: BoardKernel<X86_64>>(f: &mut TrapFrame) -> ResumePair {
    if !crate::watchdog::expired(f.from_user()) {
        return ResumePair::RESUME;
    }
    defmt::println!("watchdog: expiry at rip {=u64:#x}", f.rip);
    let resume = pair(rt::watchdog_kill::<X86_64, B>(crate::watchdog::budget()));
    crate::watchdog::rearm();
    resume
}
