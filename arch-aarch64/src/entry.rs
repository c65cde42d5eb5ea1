// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel entry and exit: the exception vectors, the `svc` fastpath, user
//! faults, the return to user mode, and the switch between the runtime's
//! driver and user mode.
//!
//! One kernel stack per CPU (seL4 style): every entry from EL0 starts with
//! `sp` at this CPU's [`crate::cpu::PerCpu`] block, on an empty stack, runs
//! Rust to completion and leaves by `eret`; nothing is left on the stack
//! between entries. The same code serves EL1 and EL2 with VHE: under
//! `HCR_EL2.E2H` the `ELR_EL1`, `SPSR_EL1`, `ESR_EL1`, `FAR_EL1` names used
//! here reach the EL2 registers.
//!
//! **The dispatch** (vector `0x400`, synchronous exception from EL0, shared
//! with the faults). The entry takes the exception class out of the
//! syndrome into `x9` (a register the ABI lets the kernel clobber) and
//! subtracts `svc`'s class, so that an `svc` leaves `x9` = 0 and the Z flag;
//! one `ccmp` then compares `x8` with 2 if it was an `svc` and sets "higher"
//! otherwise, so that two conditional branches and a `cbnz` sort every case:
//! `reply_recv` leaves after six instructions, `call` after six, `invoke`
//! after nine, the rest (other numbers, and faults, which `ipcb_svc_other`
//! tells apart by `x9`) after ten, and **`null`** returns with the
//! seventh, an `eret` after the `cbnz` not taken. `null` touches nothing else: the status is the
//! `x8` = 0 the caller passed, `x9` comes back 0 (nothing of the kernel's),
//! every other register, `SP_EL0` and the flags (`SPSR` is still the
//! caller's) come back as they went in. (Testing `null` first would make it
//! one instruction shorter and each IPC 1.5 longer on average.)
//!
//! **`invoke`** (8) leaves the vector after nine instructions (two more
//! for the other numbers and the faults, which share its last test). It
//! never switches threads, so it saves nothing. Its fastpath, `ping` on a
//! thread capability with the control right, is answered in assembly by
//! the algorithm of [`ipc_core::InvokeLayout`], from the address of the
//! kernel's `current` field in the per-CPU block
//! ([`crate::cpu::set_fast_state`]): a bounds check, the whole-tag compare,
//! three byte loads and the badge, touching `x8`-`x10` and the reply
//! registers only, which two `ldp` of zeros clear. Everything else (every
//! error) calls `ipcb_fast_invoke(cap = x0, tag = x1, state = x2)`, which
//! answers the result word in `x0` and the status in `x1`; that exit moves
//! the status into `x8`, clears the tag `x1` and every register the Rust
//! code may have left a kernel value in (`x2`-`x7`, `x9`-`x18`, `x30`;
//! `x10`, `x11` too: after an `invoke` they are zero, not the thread's `pc`
//! and `sp`), and returns.
//!
//! **The IPC fastpath** (`call`, `reply_recv`). The entry stores the caller's
//! preserved state straight into its context (`cur` of the per-CPU block):
//! `x19`, `x24`-`x29`, `ELR` (its `pc`) and `SP_EL0`, four `stp` and one
//! `str`. Then `call` (1) goes to `ipcb_fast_call`, `reply_recv` (2) to
//! `ipcb_fast_reply_recv`, each called with
//! `(cap = x0, tag = x1, state = x2, ctxs = x3)` (the last two from the
//! per-CPU block, see [`crate::cpu::set_fast_state`]); every other number
//! goes straight to the general path. The message registers `x20`-`x23`
//! are AAPCS64 callee-saved, so the Rust code leaves them alone, and the tag
//! comes back unchanged in `x1`. A fast handler answers a [`FastPair`]:
//!
//! * **a context** (hand-off): the IPC went straight to that thread, and
//!   the handler has written the badge into the receiver's `x0` slot. The
//!   exit loads the receiver's preserved state (five `ldp`; the last one
//!   also gives `x0` the badge), `x8` gets status 0, `x1` keeps the tag;
//!   `x20`-`x23` are never touched: the message crosses from register to
//!   register.
//! * **null**: not for the fastpath. The handler has stored the syscall
//!   arguments into the current context; the assembly stores the message
//!   registers and calls `ipcb_syscall_handler`, the general path.
//!
//! **The full exit** (`ipcb_exit_to_user`, after the general path, a user
//! fault, or from the driver) gets two contexts: `x0` = the thread to run,
//! `x1` = whose argument registers it receives (`regs_from`). `x0` = 0
//! means "no thread ready": back to the driver.
//!
//! Every exit but `null`'s clears the registers the ABI clobbers (`x2`-`x7`,
//! `x9`, `x12`-`x18`, `x30`), so no kernel value and no other thread's
//! value reaches user mode, and writes `SPSR` = 0 (EL0t, flags clear) on
//! every switch of thread. `x10` and `x11` stage the resumed thread's `pc`
//! and `sp` on their way into `ELR` and `SP_EL0` and keep them: the thread's
//! own return address and stack pointer (as `rcx` and `r11` hold the
//! thread's own `rip` and `rflags` after x86's `sysretq`), one `ldp` fewer.
//! The clearing loads the two zero words at the bottom of the per-CPU block:
//! `ldp x2, x3, [sp]` clears two registers in one instruction.
//!
//! Any other exception (a fault from EL0, anything from the kernel itself)
//! saves every register into a [`TrapFrame`] and calls `ipcb_trap_handler`.

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
use crate::context::{OFF_PC, OFF_X0, OFF_X8, OFF_X19, OFF_X20, OFF_X22, OFF_X24, OFF_X26, OFF_X28};
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
use crate::cpu::{KS_TOP, P_CTXS, P_CUR, P_DRIVER_SP, P_DUMMY};

/// What a fast handler returns: `thread` = the receiver's context on a
/// hand-off (its `x0` slot already holds the badge it receives), null for
/// "take the general path"; `tag` = the tag the receiver gets (the caller's,
/// passed through in `x1`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastPair {
    /// Context to run, or null (`x0`).
    pub thread: *mut crate::Context,
    /// The message tag (`x1`).
    pub tag: u64,
}

impl FastPair {
    /// Hand off to the thread whose context is `ctx`: it receives `badge`
    /// (stored into its `x0` slot, from where the exit loads it together
    /// with its `x19`) and `tag`.
    #[inline(always)]
    pub fn hand_off(ctx: &mut crate::Context, badge: u64, tag: u64) -> Self {
        ctx.x0 = badge;
        FastPair { thread: ctx, tag }
    }
    /// Take the general path.
    pub const GENERAL: FastPair = FastPair { thread: core::ptr::null_mut(), tag: 0 };
}

/// Where the assembly `invoke` fastpath finds its data in the kernel's
/// `ipc_core::Kernel<Aarch64>`, relative to its `current` field, whose
/// address is in the per-CPU block ([`crate::cpu::set_fast_state`]).
#[cfg(target_os = "none")]
pub(crate) const INVOKE: ipc_core::InvokeLayout = ipc_core::Kernel::<crate::Aarch64>::INVOKE_LAYOUT;

/// What `ipcb_fast_invoke` returns: the result word in `x0` (where the
/// caller gets it), the status in `x1` (the entry moves it into `x8`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InvokePair {
    /// The op's result (`x0`).
    pub value: u64,
    /// 0, or an error code (`x1`).
    pub status: u64,
}

impl From<ipc_core::Reply> for InvokePair {
    #[inline(always)]
    fn from(r: ipc_core::Reply) -> Self {
        InvokePair { value: r.value, status: r.status }
    }
}

/// What the Rust halves of the entries return: the context to resume (null
/// for "go idle") and the context its argument registers come from.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ResumePair {
    /// Thread to run (`x0`).
    pub thread: *mut crate::Context,
    /// Source of its argument registers (`x1`).
    pub regs_from: *const crate::Context,
}

/// The registers saved by the trap entry (any exception but an `svc`).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct TrapFrame {
    /// `x0`..`x30` at the exception. For a fault from EL0, `x9` is already
    /// the exception class minus `svc`'s (the entry tests it before it knows
    /// it is not an `svc`).
    pub x: [u64; 31],
    /// The stack pointer of the interrupted code (`SP_EL0` from user mode).
    pub sp: u64,
    /// The exception link register: the faulting instruction.
    pub elr: u64,
    /// The saved program status.
    pub spsr: u64,
    /// The syndrome register.
    pub esr: u64,
    /// The fault address register (meaningful for aborts).
    pub far: u64,
    /// Which vector was taken: `0x000`..`0x780` / `0x80` (0..16); 8 and up
    /// came from EL0.
    pub source: u64,
    _pad: u64,
}

/// Offset of [`TrapFrame::sp`].
pub const TF_SP: usize = core::mem::offset_of!(TrapFrame, sp);
/// Offset of [`TrapFrame::elr`] (and `spsr` after it).
pub const TF_ELR: usize = core::mem::offset_of!(TrapFrame, elr);
/// Offset of [`TrapFrame::esr`] (and `far` after it).
pub const TF_ESR: usize = core::mem::offset_of!(TrapFrame, esr);
/// Offset of [`TrapFrame::source`].
pub const TF_SOURCE: usize = core::mem::offset_of!(TrapFrame, source);
/// Size of a [`TrapFrame`].
pub const TF_SIZE: usize = core::mem::size_of::<TrapFrame>();
const _: () = {
    assert!(TF_SIZE.is_multiple_of(16));
    assert!(core::mem::offset_of!(TrapFrame, spsr) == TF_ELR + 8);
    assert!(core::mem::offset_of!(TrapFrame, far) == TF_ESR + 8);
};

/// Exception classes (`ESR_ELx.EC`) the kernel tells apart.
pub mod ec {
    /// Unknown reason: an undefined instruction.
    pub const UNKNOWN: u64 = 0x00;
    /// A trapped `wfi` / `wfe`.
    pub const WFX: u64 = 0x01;
    /// FP/SIMD access trapped by `CPACR_EL1.FPEN`.
    pub const FP: u64 = 0x07;
    /// `svc` from AArch64.
    pub const SVC64: u64 = 0x15;
    /// A trapped `msr`/`mrs`/system instruction.
    pub const SYSREG: u64 = 0x18;
    /// Instruction abort from a lower exception level.
    pub const IABT_LOWER: u64 = 0x20;
    /// Instruction abort at the current exception level.
    pub const IABT_SAME: u64 = 0x21;
    /// Data abort from a lower exception level.
    pub const DABT_LOWER: u64 = 0x24;
    /// Data abort at the current exception level.
    pub const DABT_SAME: u64 = 0x25;
}

impl TrapFrame {
    /// Did the exception come from EL0?
    pub fn from_user(&self) -> bool {
        self.source >= 8
    }

    /// The exception class.
    pub fn class(&self) -> u64 {
        (self.esr >> 26) & 0x3F
    }

    /// Is it a synchronous exception (not an interrupt or SError)?
    pub fn synchronous(&self) -> bool {
        self.source.is_multiple_of(4)
    }

    /// Is it an instruction or data abort (so [`TrapFrame::far`] holds the
    /// faulting address)?
    pub fn is_abort(&self) -> bool {
        matches!(self.class(), ec::IABT_LOWER | ec::IABT_SAME | ec::DABT_LOWER | ec::DABT_SAME)
    }
}

/// IRQs, FIQs and SErrors taken from EL0 (the vectors count them; see
/// `IPCB_STRAY`), on every CPU.
pub static STRAY_EL0: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Stray interrupts and SErrors taken from EL0 so far.
pub fn stray_el0() -> u64 {
    STRAY_EL0.load(core::sync::atomic::Ordering::Relaxed)
}

/// Count one stray interrupt (an IRQ from EL0 that is not the watchdog's,
/// `ipcb_irq_handler`; the FIQ and SError vectors count their own).
pub fn count_stray() {
    STRAY_EL0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
}

impl ResumePair {
    /// The IRQ entry only: resume the interrupted code, every register
    /// from the [`TrapFrame`] (a stray or spurious interrupt).
    pub const RESUME: ResumePair =
        ResumePair { thread: core::ptr::without_provenance_mut(1), regs_from: core::ptr::null() };
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    r#"
    /* x2-x30 into the TrapFrame at sp (x0, x1 are there already) and
       x0, the vector, as frame.source. */
    .macro IPCB_SAVE_FRAME
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    str x30, [sp, #240]
    str x0, [sp, #{tf_source}]              /* frame.source                   */
    .endm

    .section .text.ipcb_vectors, "ax"

    /* A kernel-side vector: save x0/x1, note the vector, join the common
       trap path. */
    .macro IPCB_KVEC n
    .balign 128
    sub sp, sp, #{tf_size}                  /* room for a TrapFrame           */
    stp x0, x1, [sp]                        /* frame.x[0..2]                  */
    mov x0, #\n                             /* x0 = vector number             */
    b ipcb_trap_common
    .endm

    /* A stray interrupt or SError from EL0: nothing is enabled, but on a
       real board firmware may leave a timer or a device interrupt on, and
       the kernel has no GIC driver to silence it. Count it (reported at
       the end of the run), mask that kind (and the IRQ/FIQ pair) in the
       interrupted context's SPSR, so that EL0 carries on to its next
       kernel entry undisturbed, and return. Costs nothing on other paths. */
    .macro IPCB_STRAY mask
    .balign 128
    sub sp, sp, #32
    stp x0, x1, [sp]
    str x2, [sp, #16]
    adrp x0, {stray}
    add x0, x0, :lo12:{stray}
1:  ldxr x1, [x0]
    add x1, x1, #1
    stxr w2, x1, [x0]
    cbnz w2, 1b
    mrs x1, spsr_el1
    orr x1, x1, #\mask
    msr spsr_el1, x1
    ldr x2, [sp, #16]
    ldp x0, x1, [sp]
    add sp, sp, #32
    eret
    .endm

    /* Sort an exception from EL0 (x9 = 0 from here on for an svc): null
       returns, call and reply_recv go to their fastpaths, the rest to
       ipcb_svc_other. ccmp: for an svc the flags compare x8 with 2, for
       anything else they are set to "higher" (C). */
    .macro IPCB_SVC_DISPATCH
    mrs x9, esr_el1                         /* x9 = syndrome                  */
    ubfx x9, x9, #26, #6                    /* x9 = exception class           */
    subs x9, x9, #{ec_svc}                  /* svc: x9 = 0, Z                 */
    ccmp x8, #2, #2, eq                     /* svc: x8 - 2; else C            */
    b.lo 1f                                 /* svc, x8 = 0 or 1               */
    b.eq ipcb_svc_reply_recv                /* svc, x8 = 2                    */
    cmp x8, #{nr_invoke}                    /* x8 = invoke and an svc?        */
    ccmp x9, #0, #0, eq
    b.eq ipcb_svc_invoke                    /* svc, x8 = invoke               */
    b ipcb_svc_other                        /* svc, other x8; or a fault      */
1:  cbnz x8, ipcb_svc_call                  /* svc, x8 = 1                    */
    eret                                    /* null: status = x8 = 0, x9 = 0  */
    .endm

    /* svc with x8 != 0: store the caller's preserved state (x19, x24-x29,
       pc, sp) straight into its context, whatever happens next; x9 = the
       context, x2 = the kernel state for the fast handlers. */
    .macro IPCB_SAVE
    ldp x9, x2, [sp, #{cur}]                /* x9 = caller's context, x2 = state */
    mrs x10, elr_el1                        /* x10 = caller's pc              */
    mrs x11, sp_el0                         /* x11 = caller's sp              */
    stp x24, x25, [x9, #{x24}]
    stp x26, x27, [x9, #{x26}]
    stp x28, x29, [x9, #{x28}]
    stp x10, x11, [x9, #{pc}]               /* caller.pc, sp                  */
    str x19, [x9, #{x19}]
    .endm

    /* After a fast handler: x0 = the receiver's context (its x0 slot holds
       the badge) or 0, x1 = the tag. Hand off: load the receiver's
       preserved state, status 0, clear the clobbered registers, and enter
       it; x1 (the tag) and x20-x23 (the message) cross as they are. */
    .macro IPCB_HANDOFF
    cbz x0, ipcb_slow                       /* 0: the general path            */
    str x0, [sp, #{cur}]                    /* current = receiver             */
    ldp x24, x25, [x0, #{x24}]              /* receiver's preserved registers */
    ldp x26, x27, [x0, #{x26}]
    ldp x28, x29, [x0, #{x28}]
    ldp x10, x11, [x0, #{pc}]               /* x10 = pc, x11 = sp             */
    ldp x19, x0, [x0, #{x19}]               /* x19; x0 = the badge            */
    msr elr_el1, x10                        /* return to the receiver's pc    */
    msr sp_el0, x11                         /* on its stack (x10, x11 stay:   */
    msr spsr_el1, xzr                       /* its own); EL0t, flags clear    */
    ldp x8, x2, [sp]                        /* status = 0; clear x2-x7, x9,   */
    ldp x3, x4, [sp]                        /* x12-x18, x30                   */
    ldp x5, x6, [sp]
    ldp x7, x9, [sp]
    ldp x12, x13, [sp]
    ldp x14, x15, [sp]
    ldp x16, x17, [sp]
    ldp x18, x30, [sp]
    eret                                    /* into the receiver              */
    .endm

    .balign 2048
    .global ipcb_vectors
ipcb_vectors:
    /* 0x000-0x180: current EL with SP_EL0 (the kernel never uses SP_EL0) */
    IPCB_KVEC 0
    IPCB_KVEC 1
    IPCB_KVEC 2
    IPCB_KVEC 3
    /* 0x200-0x380: current EL with SP_ELx: exceptions in the kernel */
    IPCB_KVEC 4
    IPCB_KVEC 5
    IPCB_KVEC 6
    IPCB_KVEC 7

    /* 0x400: synchronous exception from EL0 (AArch64): svc or a fault.
       sp = this CPU's PerCpu block; x2-x7, x9-x18, x30 are free (clobbered
       by the syscall ABI). One ccmp folds "is it an svc" into the test of
       the number: null returns after seven instructions touching nothing
       but x9 (which comes back 0), call and reply_recv are on their way
       after six. */
    .balign 128
    IPCB_SVC_DISPATCH
    /* 0x480: IRQ from EL0: the watchdog's timer (watchdog.rs), on only
       outside the timed runs, or a stray one (ipcb_irq_handler sorts them) */
    .balign 128
    sub sp, sp, #{tf_size}                  /* room for a TrapFrame           */
    stp x0, x1, [sp]
    mov x0, #9                              /* vector 9: IRQ, EL0             */
    b ipcb_irq_common
    /* 0x500-0x580: FIQ and SError from EL0 (none are enabled): counted,
       masked for the interrupted context, returned from */
    IPCB_STRAY 0xc0                         /* FIQ: mask I and F              */
    IPCB_STRAY 0x1c0                        /* SError: mask A, I and F        */
    /* 0x600-0x780: from EL0 in AArch32 (never: EL0 is AArch64 only) */
    IPCB_KVEC 12
    IPCB_KVEC 13
    IPCB_KVEC 14
    IPCB_KVEC 15

    /* The floor: the kernel's minimal round trip. VBAR points at this
       table only while the `floor` benchmark runs. Its EL0 synchronous slot
       is the normal one (null answered in the first instructions, which is
       already the shortest correct way: an svc must be told from a fault);
       every other slot goes to the normal vectors. */
    .balign 2048
    .global ipcb_floor_vectors
ipcb_floor_vectors:
    .irp n, 0,1,2,3,4,5,6,7
    .balign 128
    b ipcb_vectors + \n * 128
    .endr
    .balign 128
    IPCB_SVC_DISPATCH
    .irp n, 9,10,11,12,13,14,15
    .balign 128
    b ipcb_vectors + \n * 128
    .endr

    .section .text.ipcb_entry, "ax"
    .balign 64
    /* call and reply_recv: the caller's preserved state is saved (so the
       fast handler's answer can be acted on at once); then the fast
       handler with (cap = x0, tag = x1, state = x2, ctxs = x3). */
ipcb_svc_call:
    IPCB_SAVE
    ldr x3, [sp, #{ctxs}]                   /* x3 = thread 0's context        */
    bl ipcb_fast_call                       /* x0 = ctx | 0, x1 = tag         */
    IPCB_HANDOFF
ipcb_svc_reply_recv:
    IPCB_SAVE
    ldr x3, [sp, #{ctxs}]
    bl ipcb_fast_reply_recv
    IPCB_HANDOFF

    /* invoke, its fastpath: `ping` on a thread capability with the
       control right (ipc_core::InvokeLayout: the steps of Kernel::invoke's
       first half), before any Rust runs. x0 = the slot, x1 = the tag,
       x9 = 0. Only x8-x10 and the reply registers x0, x1 are touched;
       ELR, SPSR and SP_EL0 are the caller's. */
ipcb_svc_invoke:
    cmp x0, #{cap_slots}
    b.hs 2f                                 /* slot out of range: Rust path   */
    cmp x1, #{ping_tag}
    b.ne 2f                                 /* not a plain ping               */
    ldr x9, [sp, #{p_kernel}]               /* &kernel.current                */
    ldrb w10, [x9]                          /* the running thread             */
    add x10, x9, x10
    ldrb w10, [x10, #{k_cap_bases}]
    orr x10, x10, x0                        /* its table's base | the slot    */
    add x10, x9, x10, lsl #{slot_shift}
    ldrb w9, [x10, #{k_caps} + {slot_rights}]
    cmp w9, #{thread_control}
    b.ne 2f                                 /* not a thread cap with control  */
    ldr x0, [x10, #{k_caps} + {slot_badge}] /* the result: the badge          */
    ldp x8, x9, [sp]                        /* status 0; x9 = 0               */
    ldp x1, x10, [sp]                       /* the reply's tag 0; x10 = 0     */
    eret                                    /* back to the caller             */

    /* invoke, the Rust path (every error): the Rust call keeps x19-x29
       (the caller's, the message registers among them), ELR, SPSR and
       SP_EL0. ipcb_fast_invoke(cap = x0, tag = x1, state = x2) answers
       x0 = the result, x1 = the status; then status into x8, tag x1 = 0,
       and every register the Rust code may have left a kernel value in
       cleared (x2-x7, x9-x18, x30). */
2:  ldr x2, [sp, #{cur} + 8]                /* x2 = the kernel state          */
    bl ipcb_fast_invoke                     /* x0 = result, x1 = status       */
    mov x8, x1                              /* status                         */
    ldp x1, x2, [sp]                        /* tag 0; clear x2-x7, x9-x18, x30 */
    ldp x3, x4, [sp]
    ldp x5, x6, [sp]
    ldp x7, x9, [sp]
    ldp x10, x11, [sp]
    ldp x12, x13, [sp]
    ldp x14, x15, [sp]
    ldp x16, x17, [sp]
    ldp x18, x30, [sp]
    eret                                    /* back to the caller             */

    /* Declined by a fast handler, which stored x8/x0/x1: store the message
       registers (the rest is saved) and take the general path. */
ipcb_slow:
    ldr x9, [sp, #{cur}]                    /* x9 = current context           */
    stp x20, x21, [x9, #{x20}]              /* the message registers          */
    stp x22, x23, [x9, #{x22}]
    bl ipcb_syscall_handler                 /* x0 = next ctx, x1 = regs_from  */
    b ipcb_exit_to_user

    /* Any other svc, or a fault (x9 != 0). */
ipcb_svc_other:
    cbnz x9, ipcb_user_trap                 /* a fault                        */
    IPCB_SAVE
    /* fall through */

    /* Neither call nor reply_recv (x9 = current context): store the
       arguments and the message registers, then the general path. */
ipcb_general:
    stp x0, x1, [x9, #{x0}]                 /* cap, tag                       */
    str x8, [x9, #{x8}]                     /* number                         */
    stp x20, x21, [x9, #{x20}]              /* the message registers          */
    stp x22, x23, [x9, #{x22}]
    bl ipcb_syscall_handler                 /* x0 = next ctx, x1 = regs_from  */
    /* fall through */

    .global ipcb_exit_to_user
ipcb_exit_to_user:                          /* x0 = thread ctx, x1 = regs_from; sp = PerCpu */
    cbz x0, 3f                              /* nothing to run: to the driver  */
    str x0, [sp, #{cur}]                    /* current = thread               */
    ldp x24, x25, [x0, #{x24}]              /* its own registers              */
    ldp x26, x27, [x0, #{x26}]
    ldp x28, x29, [x0, #{x28}]
    ldp x10, x11, [x0, #{pc}]               /* x10 = pc, x11 = sp             */
    ldr x19, [x0, #{x19}]
    msr elr_el1, x10
    msr sp_el0, x11
    msr spsr_el1, xzr                       /* EL0t, flags clear              */
    ldp x20, x21, [x1, #{x20}]              /* argument registers from regs_from */
    ldp x22, x23, [x1, #{x22}]
    ldr x8, [x1, #{x8}]
    ldp x0, x1, [x1, #{x0}]                 /* x0, x1 (x1 last: it is the base) */
    ldp x2, x3, [sp]                        /* clear x2-x7, x9, x12-x18, x30  */
    ldp x4, x5, [sp]                        /* (x10, x11 = its own pc, sp)    */
    ldp x6, x7, [sp]
    ldp x9, x12, [sp]
    ldp x13, x14, [sp]
    ldp x15, x16, [sp]
    ldp x17, x18, [sp]
    ldr x30, [sp]
    eret
3:  ldr x9, [sp, #{driver_sp}]              /* back into ipcb_run_user's frame */
    mov sp, x9
    ldp x19, x20, [sp, #0]                  /* the driver's preserved registers */
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    add sp, sp, #96
    ret                                     /* ipcb_run_user returns          */

    /* fn ipcb_run_user(thread: *mut Context, regs_from: *const Context) */
    .global ipcb_run_user
    .type ipcb_run_user, %function
ipcb_run_user:
    sub sp, sp, #96
    stp x19, x20, [sp, #0]                  /* the driver's preserved registers */
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    adrp x9, {ks}
    add x9, x9, :lo12:{ks}                  /* x9 = the kernel stack          */
    mov x10, #{ks_top}
    add x9, x9, x10                         /* x9 = PerCpu, its top           */
    mov x10, sp
    str x10, [x9, #{driver_sp}]             /* remember the driver's sp       */
    mov sp, x9                              /* onto the (empty) kernel stack  */
    add x10, x9, #{dummy}
    str x10, [sp, #{cur}]                   /* current = the scratch context  */
    dsb ish                                 /* page-table writes visible      */
    isb
    b ipcb_exit_to_user
    .size ipcb_run_user, . - ipcb_run_user

    /* Fault from EL0: x9 = its exception class minus svc's. Save
       everything for the diagnostics (x9 is already lost), then the Rust
       handler kills the task. */
ipcb_user_trap:
    sub sp, sp, #{tf_size}
    stp x0, x1, [sp]
    mov x0, #8                              /* vector 8: synchronous, EL0     */
    /* fall through */

ipcb_trap_common:                           /* x0 = vector; frame.x[0..2] saved */
    IPCB_SAVE_FRAME
    add x1, sp, #{tf_size}                  /* the kernel's sp at the trap    */
    cmp x0, #8
    b.lo 4f
    mrs x1, sp_el0                          /* from EL0: the user's sp        */
4:  str x1, [sp, #{tf_sp}]
    mrs x2, elr_el1
    mrs x3, spsr_el1
    stp x2, x3, [sp, #{tf_elr}]             /* frame.elr, spsr                */
    mrs x2, esr_el1
    mrs x3, far_el1
    stp x2, x3, [sp, #{tf_esr}]             /* frame.esr, far                 */
    mov x0, sp                              /* &TrapFrame                     */
    bl ipcb_trap_handler                    /* user fault: x0/x1 = next       */
    add sp, sp, #{tf_size}                  /* (kernel faults never return)   */
    b ipcb_exit_to_user

    /* An IRQ from EL0 (x0 = 9, frame.x[0..2] saved): every register into
       the TrapFrame; ipcb_irq_handler answers the next thread (the
       watchdog killed the running task) or x0 = 1: resume it, every
       register, ELR, SPSR (which the handler may have masked) and SP_EL0
       from the frame. */
ipcb_irq_common:
    IPCB_SAVE_FRAME
    mrs x1, sp_el0
    str x1, [sp, #{tf_sp}]
    mrs x2, elr_el1
    mrs x3, spsr_el1
    stp x2, x3, [sp, #{tf_elr}]
    mrs x2, esr_el1
    mrs x3, far_el1
    stp x2, x3, [sp, #{tf_esr}]
    mov x0, sp                              /* &TrapFrame                     */
    bl ipcb_irq_handler                     /* x0/x1 = next, or x0 = 1        */
    cmp x0, #1
    b.eq 5f
    add sp, sp, #{tf_size}
    b ipcb_exit_to_user                     /* killed: the next thread        */
5:  ldp x2, x3, [sp, #{tf_elr}]
    msr elr_el1, x2
    msr spsr_el1, x3
    ldr x2, [sp, #{tf_sp}]
    msr sp_el0, x2
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x19, [sp, #144]
    ldp x20, x21, [sp, #160]
    ldp x22, x23, [sp, #176]
    ldp x24, x25, [sp, #192]
    ldp x26, x27, [sp, #208]
    ldp x28, x29, [sp, #224]
    ldr x30, [sp, #240]
    ldp x0, x1, [sp]
    add sp, sp, #{tf_size}
    eret
"#,
    ks = sym crate::cpu::IPCB_KSTACK,
    stray = sym STRAY_EL0,
    ks_top = const KS_TOP,
    cur = const P_CUR,
    ctxs = const P_CTXS,
    driver_sp = const P_DRIVER_SP,
    dummy = const P_DUMMY,
    ec_svc = const ec::SVC64,
    nr_invoke = const ipc_core::Syscall::Invoke as u64,
    p_kernel = const crate::cpu::P_KERNEL,
    cap_slots = const INVOKE.cap_slots,
    ping_tag = const INVOKE.ping_tag,
    k_cap_bases = const INVOKE.cap_bases - INVOKE.current,
    k_caps = const INVOKE.caps - INVOKE.current,
    slot_shift = const INVOKE.slot_shift,
    slot_rights = const INVOKE.slot_rights,
    slot_badge = const INVOKE.slot_badge,
    thread_control = const INVOKE.thread_control,
    x24 = const OFF_X24,
    x26 = const OFF_X26,
    x28 = const OFF_X28,
    pc = const OFF_PC,
    x19 = const OFF_X19,
    x0 = const OFF_X0,
    x8 = const OFF_X8,
    x20 = const OFF_X20,
    x22 = const OFF_X22,
    tf_size = const TF_SIZE,
    tf_sp = const TF_SP,
    tf_elr = const TF_ELR,
    tf_esr = const TF_ESR,
    tf_source = const TF_SOURCE,
);

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
unsafe extern "C" {
    /// Enter user mode (see the module docs); returns when no thread is
    /// ready.
    pub fn ipcb_run_user(thread: *mut crate::Context, regs_from: *const crate::Context);
}
