// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel entry and exit: `syscall`, exceptions, the return to user mode,
//! and the switch between the runtime's driver and user mode.
//!
//! One kernel stack per CPU (seL4 style): every entry starts on an empty
//! stack, runs Rust to completion and leaves by `sysretq`; nothing is left
//! on the stack between entries. No `swapgs`: the per-CPU block is found
//! RIP-relative. With several CPUs the symbol still names each CPU's own
//! block: it lives in the `.percpu` region, which each CPU's page tables map
//! to that CPU's copy at the same virtual address (`smp.rs`), so the entry
//! needs no per-CPU instruction at all.
//!
//! **The dispatch.** One `cmp rax, 1` sorts the number (all 64 bits, so
//! `1 << 32` is neither `null` nor `call`): below is `null` (0), which
//! returns at once (`jb` to `sysretq`: no register touched); equal is
//! `call` (1), on its way after the third instruction; then `invoke` (8)
//! after the fifth, `reply_recv` (2) after the seventh, everything else to
//! the general path.
//!
//! **The IPC fastpath** (`call`, `reply_recv`). The entry points `rsp`
//! into the current thread's context (the per-CPU block keeps its address
//! plus `CTX_TOP`) and pushes `rcx` (user `rip`), the user `rsp`, `rbp`
//! and `rbx` straight into it, switches to the kernel stack, pushes `rsi`
//! (the tag) and calls `ipcb_fast_call(cap, tag)` or
//! `ipcb_fast_reply_recv(cap, tag)`: the arguments are already in `rdi`
//! and `rsi`. The message registers are `r12`-`r15`, callee-saved in the
//! SysV ABI, so the Rust code leaves them alone. The handler answers in
//! `rax`:
//!
//! * **a context top** (hand-off): the IPC went straight to that thread,
//!   which becomes current; its `rip`, `rsp`, `rbx` and `rbp` are loaded
//!   from its context; `rdi` gets the badge (returned in `rdx`), `rax`
//!   status 0, `rsi` the tag, `r11` the fixed user `rflags`; `r12`-`r15`
//!   are never touched: the message crosses from register to register.
//! * **0**: not for the fastpath. The handler has stored the syscall
//!   arguments into the current context; the assembly stores the message
//!   registers (the rest is there already) and calls
//!   `ipcb_syscall_handler`, the general path.
//!
//! **`invoke`** never switches threads. Its fastpath, `ping` on a thread
//! capability with the control right, is answered in assembly before any
//! Rust runs, by the algorithm of [`ipc_core::InvokeLayout`] over the
//! board's `ipc_core::Kernel` (the symbol `ipcb_fast_kernel`): a bounds
//! check, the whole-tag compare, three byte loads (the running thread, its
//! table's base, the slot's kind-and-rights byte) and the badge. It touches
//! `rax`, `rdx` and the reply registers only, so it needs no stack and
//! clears only `rdx` and the tag `rsi`; `r11` gets the fixed user `rflags`.
//! Everything else (every error) takes the Rust path: it saves the user
//! `rsp` (in the per-CPU block) and `rcx` (the user `rip`, on the kernel
//! stack), calls `ipcb_fast_invoke(cap, tag)`, which answers an
//! [`ipc_core::Reply`] in `rax:rdx` (status, result word), and the exit
//! puts the result into `rdi`, zeroes the tag `rsi` and every register the
//! Rust code may have left a kernel value in (`rdx`, `r8`-`r10`). `rbx`,
//! `rbp` and `r12`-`r15` are callee-saved: the caller's own values come
//! back, as the ABI says.
//!
//! **The full exit** (`ipcb_exit_to_user`, after the general path, a user
//! fault, or from the driver) gets two contexts: `rax` = the thread to run,
//! `rdx` = whose argument registers it receives (`regs_from`). `rax` = 0
//! means "no thread ready": back to the driver.
//!
//! Either way, `rdx`, `r8`, `r9`, `r10` are zeroed before `sysretq`: they
//! are clobbered by the ABI, and must not carry kernel values to user mode.
//!
//! **Two entries.** The timed runs leave user mode with interrupts off,
//! the ABI's fixed `rflags` (`mov r11d, imm` on every exit). Outside them,
//! while the watchdog is armed, user mode runs with `IF` so that its timer
//! interrupt can stop a thread that spins: the same entry is assembled a
//! second time (`ipcb_syscall_entry_irq`, the macro with the other
//! `rflags` immediate) and LSTAR names it for that phase
//! ([`crate::cpu::set_user_interrupts`]). The measured paths are the first
//! copy, unchanged: not one instruction more, no load of the flags. The
//! full exit, shared, loads the phase's value from the per-CPU block (one
//! `mov` as before, from memory instead of an immediate).
//!
//! **Kernel isolation** (`kpti=on`, [`crate::kpti`]). The same entry is
//! assembled twice more, `kpti` 1 (no PCID) and 2 (PCID), with CR3
//! switches: after the first compare (so the null syscall, which touches
//! no kernel data, is not switched) the kernel's tables (`mov rdx, cr3`,
//! `and` away [`crate::paging::KPTI_USER_BITS`], `mov cr3, rdx`; PCID: `bts
//! rdx, 63` too, to keep the TLB) and the compare again, whose flags the
//! `and` lost; before each `sysretq` the user tables of the space
//! returned to (`or` the bits in). `rdx` is free at both ends: the ABI
//! clobbers it and every exit scrubs it. The full exit exists once per
//! mode (`ipcb_exit_to_user`, `_kpti`, `_pcid`); the paths every mode
//! shares (the driver's start, traps, the watchdog) leave through
//! `ipcb_exit_any`, which picks by the per-CPU mode. Interrupts and
//! exceptions from user mode arrive on the entry stack, with the user
//! tables loaded: `IPCB_TRAP_ENTER` loads the kernel's and moves the frame
//! to the kernel stack; `IPCB_IRET`, the watchdog's return to user mode,
//! moves it back. The NMI loads this CPU's kernel PML4 around its count
//! and then restores whatever CR3 it interrupted. With isolation off the
//! timed paths are the instructions they always were; the trap, NMI and
//! watchdog paths read the mode first.
//!
//! **`sysretq` and a non-canonical `rcx`.** On Intel CPUs `sysretq` with a
//! non-canonical `rcx` raises #GP in ring 0, after the user's `rsp` is
//! back: a kernel fault on a stack the user picked. No `sysretq` here can
//! see one, with no instruction spent on it: every `rip` in a context is
//! canonical by construction. The entry saves `syscall`'s own `rcx`, the
//! address after the instruction, which is at most
//! [`crate::paging::USER_END`] because the last page of the user half is
//! never mapped; any other store goes through
//! [`crate::Context::set_program_counter`], which forces the address into
//! the user half (a resume address user code picks included). The `null`
//! return uses `syscall`'s `rcx` as it is.

use crate::context::CTX_TOP;
#[cfg(target_os = "none")]
use crate::context::{
    OFF_R12, OFF_R13, OFF_R14, OFF_R15, OFF_RAX, OFF_RBP, OFF_RBX, OFF_RDI, OFF_RIP, OFF_RSI,
    OFF_RSP, USER_RFLAGS, USER_RFLAGS_IRQ,
};
#[cfg(target_os = "none")]
use crate::cpu::{P_DRIVER_RSP, P_DUMMY, P_KSTACK, P_RFLAGS, P_TOP, P_USER_RSP};

/// Where the assembly `invoke` fastpath finds its data in the board's
/// `ipc_core::Kernel<X86_64>`, whose address the board gives as the symbol
/// `ipcb_fast_kernel`.
#[cfg(target_os = "none")]
const INVOKE: ipc_core::InvokeLayout = ipc_core::Kernel::<crate::X86_64>::INVOKE_LAYOUT;

/// What the IPC fast handlers return: `top` = the receiver's context
/// address plus [`CTX_TOP`] on a hand-off (the entry keeps the current
/// thread in that form), 0 for "take the general path"; `badge` = the
/// badge the receiver gets.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastPair {
    /// Context top to run, or 0 (`rax`).
    pub top: usize,
    /// Badge (`rdx`).
    pub badge: u64,
}

impl FastPair {
    /// Hand off to the thread whose context is `ctx`.
    #[inline(always)]
    pub fn hand_off(ctx: &mut crate::Context, badge: u64) -> Self {
        FastPair {
            top: core::ptr::from_mut(ctx) as usize + CTX_TOP,
            badge,
        }
    }
    /// Take the general path.
    pub const GENERAL: FastPair = FastPair { top: 0, badge: 0 };
}

/// What the Rust halves of the entries return: the context to resume (null
/// for "go idle") and the context its argument registers come from.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ResumePair {
    /// Thread to run (`rax`).
    pub thread: *mut crate::Context,
    /// Source of its argument registers (`rdx`).
    pub regs_from: *const crate::Context,
}

impl ResumePair {
    /// The watchdog's interrupt stub only: resume the interrupted code,
    /// every register restored from the [`TrapFrame`] (a stale or
    /// kernel-mode interrupt, no expiry).
    pub const RESUME: ResumePair =
        ResumePair { thread: core::ptr::without_provenance_mut(1), regs_from: core::ptr::null() };
}

/// The registers an exception stub saved, lowest address first.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub struct TrapFrame {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    /// Exception vector.
    pub vector: u64,
    /// Error code (0 where the CPU pushes none).
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// Did the exception come from user mode?
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    /* The general registers of a TrapFrame, below the vector and error
       code already pushed; rdi = &TrapFrame, DF clear for the Rust call. */
    .macro IPCB_PUSH_FRAME
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rbp
    push rdi
    push rsi
    push rdx
    push rcx
    push rbx
    push rax
    mov rdi, rsp                            /* &TrapFrame                     */
    cld
    .endm

    /* call and reply_recv: point rsp into the current context and push
       the caller's rip, rsp, rbp, rbx into it; then onto the (empty)
       kernel stack with the tag. Touches no flags. */
    .macro IPCB_SAVE
    mov r10, rsp                            /* r10 is clobbered by the ABI     */
    mov rsp, [rip + {pcpu} + {p_top}]       /* the current context's save area */
    push rcx                                /* ctx.rip                         */
    push r10                                /* ctx.rsp                         */
    push rbp                                /* ctx.rbp                         */
    push rbx                                /* ctx.rbx                         */
    mov rsp, [rip + {pcpu} + {p_kstack}]    /* onto the (empty) kernel stack   */
    push rsi                                /* the tag                         */
    .endm

    /* Kernel isolation (kpti.rs; "Kernel isolation" in the module docs):
       `kpti` 0 assembles nothing; 1 and 2 switch CR3 between a space's
       kernel tables (the even page of its pair, the kernel PCID) and its
       user tables (the odd page, the PCID with bit 11 set) through `reg`,
       2 keeping the TLB (bit 63, with PCID). Both change the flags. */
    .macro IPCB_CR3 reg, kpti, op, bits
    .if \kpti
    mov \reg, cr3
    \op \reg, \bits
    .if \kpti == 2
    bts \reg, 63
    .endif
    mov cr3, \reg
    .endif
    .endm

    .macro IPCB_CR3_KERNEL reg, kpti
    IPCB_CR3 \reg, \kpti, and, {kpti_kernel}
    .endm

    .macro IPCB_CR3_USER reg, kpti
    IPCB_CR3 \reg, \kpti, or, {kpti_user}
    .endm

    /* The same for the paths every mode shares, by this CPU's mode (read
       from `.percpu.entry`, mapped under both tables). */
    .macro IPCB_CR3_BY_MODE reg, op, bits
    mov \reg, cr3
    \op \reg, \bits
    cmp qword ptr [rip + {kpti_mode}], {kpti_pcid}
    jne 3f
    bts \reg, 63
3:  mov cr3, \reg
    .endm

    /* After a fast handler: rax = the receiver's context top or 0, rdx =
       its badge. Hand off: load the receiver's rip, rsp, rbx, rbp; r12-r15
       (the message) and rsi (the tag) cross as they are. */
    .macro IPCB_HANDOFF rflags, kpti
    test rax, rax
    jz 6f                                   /* 0: the general path             */
    pop rsi                                 /* rsi = the sender's tag          */
    mov [rip + {pcpu} + {p_top}], rax       /* current = receiver              */
    mov rbx, [rax + {rbx} - {top}]
    mov rbp, [rax + {rbp} - {top}]
    mov rcx, [rax + {rip} - {top}]
    mov rsp, [rax + {rsp} - {top}]
    mov rdi, rdx                            /* badge                           */
    mov r11d, \rflags
    xor eax, eax                            /* status 0                        */
    IPCB_CR3_USER rdx, \kpti                /* (isolation: the receiver's user tables) */
    xor edx, edx                            /* scrub the clobbered registers   */
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    sysretq
    .endm

    /* The syscall entry, one copy per phase (`rflags`: the user flags
       its exits load; see "Two entries" in the module docs). */
    .macro IPCB_ENTRY name, rflags, kpti, exit
    .balign 64
    .global \name
\name:
    cmp rax, 1                              /* all 64 bits: 1 << 32 is neither */
    jb 9f                                   /* 0, null: back at once           */
    .if \kpti
    IPCB_CR3_KERNEL rdx, \kpti              /* the kernel's tables (rdx: scrubbed on every exit) */
    cmp rax, 1
    .endif
    jne 5f                                  /* not call                        */
    IPCB_SAVE
    call ipcb_fast_call                     /* (cap = rdi, tag = rsi): rax = top | 0, rdx = badge */
    IPCB_HANDOFF \rflags, \kpti

9:  sysretq                                 /* null: rcx, r11 from `syscall`   */

5:  cmp rax, {nr_invoke}
    je 8f                                   /* invoke                          */
    IPCB_SAVE
    cmp rax, 2
    jne 7f                                  /* neither: the general path       */
    call ipcb_fast_reply_recv               /* (cap = rdi, tag = rsi)          */
    IPCB_HANDOFF \rflags, \kpti

7:  /* Any other number: store the arguments (rip, rsp, rbx, rbp are in the
       context already), then the message registers and the general path. */
    mov rcx, [rip + {pcpu} + {p_top}]
    mov [rcx + {rax} - {top}], rax
    mov [rcx + {rdi} - {top}], rdi
    mov [rcx + {rsi} - {top}], rsi
    jmp 4f

6:  /* General path: the handler stored rax/rdi/rsi and the entry rip, rsp,
       rbx, rbp; store the message registers. */
    mov rcx, [rip + {pcpu} + {p_top}]
4:  mov [rcx + {r12} - {top}], r12
    mov [rcx + {r13} - {top}], r13
    mov [rcx + {r14} - {top}], r14
    mov [rcx + {r15} - {top}], r15
    mov rsp, [rip + {pcpu} + {p_kstack}]
    sub rsp, 8                              /* 16-byte alignment for the call  */
    call ipcb_syscall_handler               /* rax = next ctx, rdx = regs_from */
    jmp \exit

8:  /* invoke, its fastpath: `ping` on a thread capability with the
       control right (ipc_core::InvokeLayout: the steps of Kernel::invoke's
       first half). Only rax, rdx and the reply registers rdi, rsi are
       touched; rcx is still syscall's, rsp the user's. The board defines
       ipcb_fast_kernel, the address of its ipc_core::Kernel. */
    cmp rdi, {cap_slots}
    jae 10f                                 /* slot out of range: Rust path   */
    cmp rsi, {ping_tag}
    jne 10f                                 /* not a plain ping               */
    lea rax, [rip + ipcb_fast_kernel]       /* the board's Kernel             */
    movzx edx, byte ptr [rax + {k_current}] /* the running thread             */
    movzx edx, byte ptr [rax + rdx + {k_cap_bases}]
    or rdx, rdi                             /* its table's base | the slot    */
    shl rdx, {slot_shift}
    cmp byte ptr [rax + rdx + {k_caps} + {slot_rights}], {thread_control}
    jne 10f                                 /* not a thread cap with control  */
    mov rdi, [rax + rdx + {k_caps} + {slot_badge}] /* the result: the badge   */
    xor eax, eax                            /* status 0                       */
    IPCB_CR3_USER rdx, \kpti
    xor edx, edx                            /* no kernel value leaves         */
    xor esi, esi                            /* the reply's tag: 0             */
    mov r11d, \rflags                       /* the ABI's fixed rflags         */
    sysretq

10: /* invoke, the Rust path (every error): save the user rsp and rip
       (the Rust call clobbers r10 and rcx), call the handler on the kernel
       stack, reply. rbx, rbp, r12-r15 are callee-saved: the caller's. */
    mov [rip + {pcpu} + {p_user_rsp}], rsp  /* the user stack pointer          */
    mov rsp, [rip + {pcpu} + {p_kstack}]    /* onto the (empty) kernel stack   */
    push rcx                                /* the user rip                    */
    call ipcb_fast_invoke                   /* (cap = rdi, tag = rsi): rax = status, rdx = value */
    pop rcx                                 /* rip for sysretq                 */
    mov rsp, [rip + {pcpu} + {p_user_rsp}]  /* back on the user stack          */
    mov rdi, rdx                            /* the result word                 */
    IPCB_CR3_USER rdx, \kpti
    xor edx, edx                            /* scrub: no kernel value leaves   */
    xor esi, esi                            /* the reply's tag: 0              */
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    mov r11d, \rflags
    sysretq
    .endm

    /* The full exit, one copy per isolation mode (`kpti`): rax = thread
       ctx, rdx = regs_from. */
    .macro IPCB_EXIT name, kpti
    .global \name
\name:
    test rax, rax
    jz ipcb_exit_to_driver                  /* nothing to run: to the driver   */
    lea rcx, [rax + {top}]
    mov [rip + {pcpu} + {p_top}], rcx       /* current = thread                */
    mov rbx, [rax + {rbx}]                  /* its own registers               */
    mov rbp, [rax + {rbp}]
    mov rcx, [rax + {rip}]
    mov rsp, [rax + {rsp}]
    mov rdi, [rdx + {rdi}]                  /* argument registers from regs_from */
    mov rsi, [rdx + {rsi}]
    mov r12, [rdx + {r12}]
    mov r13, [rdx + {r13}]
    mov r14, [rdx + {r14}]
    mov r15, [rdx + {r15}]
    mov rax, [rdx + {rax}]
    mov r11, [rip + {pcpu} + {p_rflags}]    /* this phase's user rflags        */
    IPCB_CR3_USER rdx, \kpti
    xor edx, edx                            /* scrub the clobbered registers   */
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    sysretq                                 /* rip = rcx, rflags = r11, CPL 3  */
    .endm

    /* The floor: the kernel's minimal round trip. LSTAR points here only
       while the `floor` benchmark runs; syscall 0 returns at once (rax is
       already the status 0; no register holds kernel data), anything else
       takes the normal entry (of the same isolation mode: the floor
       itself touches no kernel data, so it needs no switch). */
    .macro IPCB_FLOOR name, entry
    .balign 16
    .global \name
\name:
    test rax, rax
    jnz \entry
    sysretq
    .endm

    .section .text.ipcb_entry, "ax"
    /* The timed runs' entry (the ABI's fixed rflags, interrupts off), and
       the one for the rest, while the watchdog is armed (with IF); then
       both again for each kernel isolation mode. */
    IPCB_ENTRY ipcb_syscall_entry, {rflags}, 0, ipcb_exit_to_user
    IPCB_ENTRY ipcb_syscall_entry_irq, {rflags_irq}, 0, ipcb_exit_to_user
    IPCB_ENTRY ipcb_syscall_entry_kpti, {rflags}, 1, ipcb_exit_to_user_kpti
    IPCB_ENTRY ipcb_syscall_entry_irq_kpti, {rflags_irq}, 1, ipcb_exit_to_user_kpti
    IPCB_ENTRY ipcb_syscall_entry_pcid, {rflags}, 2, ipcb_exit_to_user_pcid
    IPCB_ENTRY ipcb_syscall_entry_irq_pcid, {rflags_irq}, 2, ipcb_exit_to_user_pcid

    IPCB_EXIT ipcb_exit_to_user, 0
    IPCB_EXIT ipcb_exit_to_user_kpti, 1
    IPCB_EXIT ipcb_exit_to_user_pcid, 2

    /* The full exit of this CPU's isolation mode, for the paths that are
       shared by every mode (the driver's start, traps, the watchdog). */
    .global ipcb_exit_any
ipcb_exit_any:
    cmp qword ptr [rip + {kpti_mode}], {kpti_on}
    jb ipcb_exit_to_user
    je ipcb_exit_to_user_kpti
    jmp ipcb_exit_to_user_pcid

ipcb_exit_to_driver:
    mov rsp, [rip + {pcpu} + {p_driver_rsp}] /* back into ipcb_run_user's frame */
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret                                     /* ipcb_run_user returns           */

    IPCB_FLOOR ipcb_floor_entry, ipcb_syscall_entry
    IPCB_FLOOR ipcb_floor_entry_kpti, ipcb_syscall_entry_kpti
    IPCB_FLOOR ipcb_floor_entry_pcid, ipcb_syscall_entry_pcid

    /* fn ipcb_run_user(thread: *mut Context, regs_from: *const Context) */
    .global ipcb_run_user
ipcb_run_user:
    push rbx                                /* the driver's preserved registers */
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rip + {pcpu} + {p_driver_rsp}], rsp
    lea rax, [rip + {pcpu} + {p_dummy} + {top}]
    mov [rip + {pcpu} + {p_top}], rax
    mov rax, rdi
    mov rdx, rsi
    jmp ipcb_exit_any

    /* Vectors 32..255: the kernel takes no interrupts; the one a CPU can
       see is the wake-up IPI that ends a parked CPU's `hlt` (smp.rs), and
       all it has to do is return. The CPU in `smp::park` sends the EOI. */
    .balign 16
    .global ipcb_irq_ignore
ipcb_irq_ignore:
    iretq

    /* NMI (vector 2, on its own IST stack, so it is safe anywhere, even in
       the syscall entry before the stack switch): count it and return.
       It touches no register but the flags, which iretq restores; the
       CPU holds further NMIs until that iretq. A BMC, a watchdog or
       `inject-nmi` sends them: the run goes on, and the count is reported. */
    .balign 16
    .global ipcb_nmi
ipcb_nmi:
    cmp qword ptr [rip + {kpti_mode}], 0
    jne 1f
    lock inc qword ptr [rip + {nmis}]
    iretq
1:  /* Kernel isolation: the NMI may come with the user tables loaded (in
       user mode or in the first instructions of an entry): the count is
       in kernel data, so load the kernel's tables around it and then the
       ones that were there (their PCID kept, with bit 63). */
    push rax
    push rdx
    mov rdx, cr3
    mov rax, [rip + {kpti_kernel_cr3}]      /* this CPU's kernel PML4          */
    cmp qword ptr [rip + {kpti_mode}], {kpti_pcid}
    jne 2f
    bts rax, 63
    bts rdx, 63
2:  mov cr3, rax
    lock inc qword ptr [rip + {nmis}]
    mov cr3, rdx
    pop rdx
    pop rax
    iretq

    /* An interrupt or exception stub's first step, once the vector and
       error code are pushed (rsp -> vector, error, rip, cs, rflags, rsp,
       ss). With kernel isolation and from user mode, the CPU pushed the
       frame on the entry stack with the user tables loaded: load the
       kernel's and move the seven words to the (empty) kernel stack, so
       that what follows finds the frame as without isolation. */
    .macro IPCB_TRAP_ENTER
    cmp qword ptr [rip + {kpti_mode}], 0
    je 1f
    test byte ptr [rsp + 24], 3
    jz 1f                                   /* from the kernel: its tables, its stack */
    push rax
    IPCB_CR3_BY_MODE rax, and, {kpti_kernel}
    mov rax, rsp                            /* the entry stack: rax, then the frame */
    mov rsp, [rip + {pcpu} + {p_kstack}]
    add rsp, 8                              /* the kernel stack's top          */
    push qword ptr [rax + 56]               /* ss                              */
    push qword ptr [rax + 48]               /* rsp                             */
    push qword ptr [rax + 40]               /* rflags                          */
    push qword ptr [rax + 32]               /* cs                              */
    push qword ptr [rax + 24]               /* rip                             */
    push qword ptr [rax + 16]               /* error code                      */
    push qword ptr [rax + 8]                /* vector                          */
    mov rax, [rax]
1:
    .endm

    /* `iretq` from the kernel stack (rsp -> rip, cs, rflags, rsp, ss; every
       general register restored). With kernel isolation and to user mode,
       first move the frame to the entry stack and load the user tables
       (the kernel stack is not in them). */
    .macro IPCB_IRET
    cmp qword ptr [rip + {kpti_mode}], 0
    je 1f
    test byte ptr [rsp + 8], 3
    jz 1f
    mov [rip + {estack} + {estack_size} - 48], rax
    mov rax, [rsp]
    mov [rip + {estack} + {estack_size} - 40], rax
    mov rax, [rsp + 8]
    mov [rip + {estack} + {estack_size} - 32], rax
    mov rax, [rsp + 16]
    mov [rip + {estack} + {estack_size} - 24], rax
    mov rax, [rsp + 24]
    mov [rip + {estack} + {estack_size} - 16], rax
    mov rax, [rsp + 32]
    mov [rip + {estack} + {estack_size} - 8], rax
    lea rsp, [rip + {estack} + {estack_size} - 40]
    IPCB_CR3_BY_MODE rax, or, {kpti_user}
    mov rax, [rsp - 8]
1:  iretq
    .endm

    /* The watchdog's timer interrupt (watchdog.rs), from user mode (which
       runs with IF only while the watchdog is armed) or from the kernel's
       one window with IF (`smp::park`). The whole register file goes into
       a TrapFrame: ipcb_irq_handler either kills the running task (rax =
       the next thread, as after a fault) or answers 1, resume what was
       interrupted, every register as it was. */
    .balign 16
    .global ipcb_watchdog_irq
ipcb_watchdog_irq:
    push 0                                  /* no error code                  */
    push {wd_vector}
    IPCB_TRAP_ENTER
    IPCB_PUSH_FRAME
    call ipcb_irq_handler                   /* rax/rdx = next, or rax = 1      */
    cmp rax, 1
    jne ipcb_exit_any                       /* killed: the next thread        */
    pop rax
    pop rbx
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    pop rbp
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    add rsp, 16                             /* vector, error code             */
    IPCB_IRET

    /* Exception stubs: push a zero error code where the CPU pushes none,
       then the vector, then every general-purpose register. */
    .macro IPCB_TRAP n, has_err
    .balign 16
ipcb_trap_\n:
    .if \has_err == 0
    push 0
    .endif
    push \n
    jmp ipcb_trap_common
    .endm

    IPCB_TRAP 0, 0
    IPCB_TRAP 1, 0
    IPCB_TRAP 2, 0
    IPCB_TRAP 3, 0
    IPCB_TRAP 4, 0
    IPCB_TRAP 5, 0
    IPCB_TRAP 6, 0
    IPCB_TRAP 7, 0
    IPCB_TRAP 8, 1
    IPCB_TRAP 9, 0
    IPCB_TRAP 10, 1
    IPCB_TRAP 11, 1
    IPCB_TRAP 12, 1
    IPCB_TRAP 13, 1
    IPCB_TRAP 14, 1
    IPCB_TRAP 15, 0
    IPCB_TRAP 16, 0
    IPCB_TRAP 17, 1
    IPCB_TRAP 18, 0
    IPCB_TRAP 19, 0
    IPCB_TRAP 20, 0
    IPCB_TRAP 21, 1
    IPCB_TRAP 22, 0
    IPCB_TRAP 23, 0
    IPCB_TRAP 24, 0
    IPCB_TRAP 25, 0
    IPCB_TRAP 26, 0
    IPCB_TRAP 27, 0
    IPCB_TRAP 28, 0
    IPCB_TRAP 29, 1
    IPCB_TRAP 30, 1
    IPCB_TRAP 31, 0

ipcb_trap_common:
    IPCB_TRAP_ENTER
    IPCB_PUSH_FRAME
    call ipcb_trap_handler                  /* user fault: rax/rdx = next     */
    jmp ipcb_exit_any                       /* (kernel faults never return)   */

    .section .rodata.ipcb_trap_stubs, "a"
    .balign 8
    .global ipcb_trap_stubs
ipcb_trap_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad ipcb_trap_\n
    .endr
"#,
    pcpu = sym crate::cpu::IPCB_PERCPU,
    kpti_mode = sym crate::cpu::IPCB_KPTI_MODE,
    kpti_on = const crate::cpu::KPTI_ON,
    kpti_kernel_cr3 = sym crate::cpu::KPTI_KERNEL_CR3,
    kpti_pcid = const crate::cpu::KPTI_PCID,
    kpti_kernel = const !(crate::paging::KPTI_USER_BITS as i64),
    kpti_user = const crate::paging::KPTI_USER_BITS,
    estack = sym crate::cpu::ENTRY_STACK,
    estack_size = const crate::cpu::ENTRY_STACK_SIZE,
    nmis = sym crate::cpu::NMI_COUNT,
    p_kstack = const P_KSTACK,
    p_top = const P_TOP,
    top = const CTX_TOP,
    rflags = const USER_RFLAGS,
    rflags_irq = const USER_RFLAGS_IRQ,
    p_rflags = const P_RFLAGS,
    wd_vector = const crate::cpu::WATCHDOG_VECTOR,
    p_driver_rsp = const P_DRIVER_RSP,
    p_dummy = const P_DUMMY,
    p_user_rsp = const P_USER_RSP,
    nr_invoke = const ipc_core::Syscall::Invoke as u64,
    cap_slots = const INVOKE.cap_slots,
    ping_tag = const INVOKE.ping_tag,
    k_current = const INVOKE.current,
    k_cap_bases = const INVOKE.cap_bases,
    k_caps = const INVOKE.caps,
    slot_shift = const INVOKE.slot_shift,
    slot_rights = const INVOKE.slot_rights,
    slot_badge = const INVOKE.slot_badge,
    thread_control = const INVOKE.thread_control,
    rax = const OFF_RAX,
    rdi = const OFF_RDI,
    rsi = const OFF_RSI,
    rip = const OFF_RIP,
    rsp = const OFF_RSP,
    rbx = const OFF_RBX,
    rbp = const OFF_RBP,
    r12 = const OFF_R12,
    r13 = const OFF_R13,
    r14 = const OFF_R14,
    r15 = const OFF_R15,
);

#[cfg(target_os = "none")]
unsafe extern "sysv64" {
    /// Enter user mode (see the module docs); returns when no thread is
    /// ready.
    pub fn ipcb_run_user(thread: *mut crate::Context, regs_from: *const crate::Context);
}
