// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-CPU state and the processor set-up that follows the boot code: the
//! kernel stack with its per-CPU block, the vector base, the timers.
//!
//! **The per-CPU block sits at the top of the kernel stack.** While user
//! code runs, `SP_EL1` (`SP_EL2` under VHE) points at this CPU's
//! [`PerCpu`], and the stack grows down from there. An exception from EL0
//! therefore finds its per-CPU data at `[sp]` without a single instruction
//! spent on locating it (no `TPIDR` read, no `adrp`), and every kernel entry
//! starts on an empty stack (one kernel stack per CPU, seL4 style). The
//! block begins with two words that are always zero: the exit paths load
//! them in pairs (`ldp xN, xM, [sp]`) to clear the registers the ABI
//! clobbers, two registers per instruction.
//!
//! What the boot code (`boot.rs`) has already done by the time Rust runs:
//! MMU and caches on, FP/SIMD enabled for the kernel and trapped at EL0
//! (`CPACR_EL1.FPEN = 0b01`), interrupts masked, and at EL2 `HCR_EL2.E2H`
//! and `TGE` set, so that the `*_EL1` register names used everywhere in
//! this crate reach the EL2 registers (VHE).

use core::mem::offset_of;
use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::context::Context;

/// Size of the per-CPU kernel stack (syscalls and traps), below the
/// [`PerCpu`] block.
pub const KSTACK_SIZE: usize = 64 * 1024;

/// The data the entry assembly finds at `[sp]` on an exception from EL0.
#[repr(C, align(128))]
pub struct PerCpu {
    /// Always zero: the exit paths clear registers by loading these.
    pub zero: [u64; 2],
    /// Saved context of the thread that is running (or last entered).
    pub cur_ctx: *mut Context,
    /// The kernel state the fast handlers work on (opaque here: the example
    /// kernel's glue sets it, [`set_fast_state`]). The `svc` entry loads it
    /// together with `cur_ctx` (one `ldp`) and passes it in `x2`, so the
    /// handlers find the state in a register instead of rebuilding its
    /// address (`adrp` and `add`) wherever they need it.
    pub fast_state: *mut u8,
    /// The context of thread 0; thread `t`'s is `t` contexts further on
    /// (passed in `x3`: one `add` gives the receiver's context).
    pub ctxs: *mut Context,
    /// The address of the kernel's `ipc_core::Kernel::current`, the base
    /// from which the `svc` entry's assembly `invoke` fastpath reads
    /// (`ipc_core::InvokeLayout`).
    pub kernel: *const u8,
    /// Stack pointer of the runtime driver while user code runs.
    pub driver_sp: u64,
    /// Scratch context: `cur_ctx` before the first thread runs.
    pub dummy: Context,
}

/// Offset of [`PerCpu::zero`].
pub const P_ZERO: usize = offset_of!(PerCpu, zero);
/// Offset of [`PerCpu::cur_ctx`] (and `fast_state` after it).
pub const P_CUR: usize = offset_of!(PerCpu, cur_ctx);
/// Offset of [`PerCpu::ctxs`].
pub const P_CTXS: usize = offset_of!(PerCpu, ctxs);
/// Offset of [`PerCpu::kernel`].
pub const P_KERNEL: usize = offset_of!(PerCpu, kernel);
/// Offset of [`PerCpu::driver_sp`].
pub const P_DRIVER_SP: usize = offset_of!(PerCpu, driver_sp);
/// Offset of [`PerCpu::dummy`].
pub const P_DUMMY: usize = offset_of!(PerCpu, dummy);

/// A kernel stack with its per-CPU block on top.
#[repr(C, align(4096))]
pub struct KernelStack {
    /// The stack; it grows down from [`KernelStack::top`].
    pub stack: [u8; KSTACK_SIZE],
    /// The per-CPU block (the stack pointer while user code runs).
    pub top: PerCpu,
}

/// Offset of [`KernelStack::top`].
pub const KS_TOP: usize = offset_of!(KernelStack, top);
const _: () = assert!(
    KS_TOP.is_multiple_of(16) && P_ZERO == 0 && offset_of!(PerCpu, fast_state) == P_CUR + 8
);

/// This CPU's kernel stack and per-CPU block. Written by [`init`] and by
/// the entry assembly. In the `.percpu` region (`smp.rs`), which every CPU
/// maps to its own copy at the same address: the one symbol (which
/// `ipcb_run_user` finds PC-relative) is each CPU's own stack and block.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".percpu")]
pub static mut IPCB_KSTACK: KernelStack = KernelStack {
    stack: [0; KSTACK_SIZE],
    top: PerCpu {
        zero: [0; 2],
        cur_ctx: core::ptr::null_mut(),
        fast_state: core::ptr::null_mut(),
        ctxs: core::ptr::null_mut(),
        kernel: core::ptr::null(),
        driver_sp: 0,
        dummy: Context {
            x0: 0, x1: 0, x20: 0, x21: 0, x22: 0, x23: 0, x19: 0, x24: 0, x25: 0, x26: 0,
            x27: 0, x28: 0, x29: 0, pc: 0, sp: 0, x8: 0,
        },
    },
};

/// The exception level the kernel runs at (1, or 2 with VHE), as the boot
/// code found it.
static EL: AtomicU8 = AtomicU8::new(0);

/// The exception level the kernel runs at (0 before [`init`]).
pub fn el() -> u8 {
    EL.load(Ordering::Relaxed)
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
unsafe extern "C" {
    /// The exception vector table (entry.rs).
    static ipcb_vectors: u8;
    /// The floor benchmark's vector table (entry.rs).
    static ipcb_floor_vectors: u8;
}

/// Point the vector base at the floor table (`on`) or the normal one.
pub fn set_floor_entry(on: bool) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        use aarch64_cpu::asm::barrier;
        use aarch64_cpu::registers::{VBAR_EL1, Writeable};
        let table = if on {
            core::ptr::addr_of!(ipcb_floor_vectors)
        } else {
            core::ptr::addr_of!(ipcb_vectors)
        };
        VBAR_EL1.set(table as u64);
        barrier::isb(barrier::SY);
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = on;
}

/// Set up this CPU for the kernel: the vector base, the per-CPU block, the
/// timers off. `el` is what the boot code passed.
///
/// # Safety
///
/// Call once per CPU, with interrupts masked, before any user code on it
/// and before any other use of its [`IPCB_KSTACK`]; with its `.percpu`
/// copy mapped (`smp::init_boot` on the boot CPU). On a secondary the
/// block is a clone of the boot CPU's: `fast_state` and `ctxs` stay (they
/// name the same addresses, which reach this CPU's copies).
pub unsafe fn init(el: u8) {
    EL.store(el, Ordering::Relaxed);
    // SAFETY: single-threaded boot; nothing else uses the block yet.
    unsafe {
        let pc = &mut (*addr_of_mut!(IPCB_KSTACK)).top;
        pc.zero = [0; 2];
        pc.cur_ctx = addr_of_mut!(pc.dummy);
    }
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        use aarch64_cpu::asm::barrier;
        use aarch64_cpu::registers::{CNTP_CTL_EL0, CNTV_CTL_EL0, VBAR_EL1, Writeable};
        // The vectors are 2 KiB-aligned (entry.rs). Under VHE these names
        // reach VBAR_EL2 and the EL2 timers.
        VBAR_EL1.set(core::ptr::addr_of!(ipcb_vectors) as u64);
        // No timer interrupts: the benchmark kernel takes none.
        CNTP_CTL_EL0.set(0);
        CNTV_CTL_EL0.set(0);
        barrier::isb(barrier::SY);
    }
}

/// Tell the `svc` entry what to pass its fast handlers: `state` (in `x2`)
/// and `ctxs`, the context of thread 0 (in `x3`); and where its assembly
/// `invoke` fastpath finds the `ipc_core::Kernel<Aarch64>` (`kernel`).
///
/// # Safety
///
/// Call on the boot CPU before any user code runs. `state` must be what the
/// fast handlers (the example kernel's glue) expect as their third
/// argument, and thread `t`'s context must be at `ctxs.add(t)` for every
/// thread index, for as long as user code runs; `kernel` must be the
/// address of the kernel's `ipc_core::Kernel<Aarch64>` for as long.
pub unsafe fn set_fast_state(
    state: *mut u8,
    ctxs: *mut Context,
    kernel: *const ipc_core::Kernel<crate::Aarch64>,
) {
    // SAFETY: single-threaded boot; the entry reads these only once user
    // code runs.
    unsafe {
        let pc = &mut (*addr_of_mut!(IPCB_KSTACK)).top;
        pc.fast_state = state;
        pc.ctxs = ctxs;
        pc.kernel = kernel
            .cast::<u8>()
            .wrapping_add(ipc_core::Kernel::<crate::Aarch64>::INVOKE_LAYOUT.current);
    }
}

/// The address of the per-CPU block (the stack pointer of user time).
pub fn percpu() -> *mut PerCpu {
    // SAFETY: only the address is taken.
    unsafe { addr_of_mut!((*addr_of_mut!(IPCB_KSTACK)).top) }
}

/// Stop this CPU for good.
pub fn halt() -> ! {
    loop {
        #[cfg(all(target_arch = "aarch64", target_os = "none"))]
        aarch64_cpu::asm::wfe();
        #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
        core::hint::spin_loop();
    }
}
