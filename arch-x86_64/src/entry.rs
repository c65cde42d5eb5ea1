// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel entry and exit: `syscall`, exceptions, the return to user mode,
//! and the switch between the runtime's driver and user mode.
//!
//! One kernel stack per CPU (seL4 style): every entry starts on an empty
//! stack, runs one Rust handler to completion and leaves through
//! [`ipcb_exit_to_user`]; nothing is left on the stack between entries.
//!
//! **`syscall` entry** saves only the argument registers (`rax`, `rdi`,
//! `rsi`, `rdx`, `r8`-`r10`), `rcx` (user `rip`), `r11` (user `rflags`) and
//! `rsp` into the current thread's [`Context`](crate::Context). The
//! preserved registers (`rbx`, `rbp`, `r12`-`r15`) stay in the CPU: the Rust
//! handler preserves them too (SysV), so a syscall that returns to the same
//! thread never touches them.
//!
//! **Exit** gets two contexts from the handler, `rax` = the thread to run,
//! `rdx` = whose argument registers it receives (the sender's, on the IPC
//! fastpath: the message crosses from register to register through one save
//! area). If the thread differs from the one that entered, the preserved
//! registers are swapped: stored into the old context, loaded from the new.
//! `rax` = 0 means "no thread ready": back to the driver.
//!
//! No `swapgs`: the per-CPU block is found RIP-relative (one CPU for now;
//! with several, each CPU gets its own copy of the entry code through its own
//! LSTAR, as Fiasco does).

#[cfg(target_os = "none")]
use crate::context::{
    OFF_R10, OFF_R12, OFF_R13, OFF_R14, OFF_R15, OFF_R8, OFF_R9, OFF_RAX, OFF_RBP, OFF_RBX,
    OFF_RDI, OFF_RDX, OFF_RFLAGS, OFF_RIP, OFF_RSI, OFF_RSP,
};
#[cfg(target_os = "none")]
use crate::cpu::{P_CUR, P_DRIVER_RSP, P_DUMMY, P_KSTACK, P_USER_RSP};

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
    .section .text.ipcb_entry, "ax"
    .balign 64
    .global ipcb_syscall_entry
ipcb_syscall_entry:
    mov [rip + {pcpu} + {p_user_rsp}], rsp  /* park the user stack pointer   */
    mov rsp, [rip + {pcpu} + {p_cur}]       /* rsp = current thread's ctx    */
    mov [rsp + {rax}], rax                  /* ctx.rax = syscall number      */
    mov [rsp + {rdi}], rdi                  /* ctx.rdi = capability slot     */
    mov [rsp + {rsi}], rsi                  /* ctx.rsi = tag                 */
    mov [rsp + {rdx}], rdx                  /* ctx.mr0..mr3                  */
    mov [rsp + {r8}], r8
    mov [rsp + {r9}], r9
    mov [rsp + {r10}], r10
    mov [rsp + {rip}], rcx                  /* ctx.rip = return address      */
    mov [rsp + {rflags}], r11               /* ctx.rflags = user flags       */
    mov rcx, [rip + {pcpu} + {p_user_rsp}]
    mov [rsp + {rsp}], rcx                  /* ctx.rsp = user stack          */
    mov rsp, [rip + {pcpu} + {p_kstack}]    /* onto the (empty) kernel stack */
    call ipcb_syscall_handler               /* rax = next ctx, rdx = regs    */
    /* fall through */

    .global ipcb_exit_to_user
ipcb_exit_to_user:                          /* rax = thread ctx, rdx = regs_from */
    mov rcx, [rip + {pcpu} + {p_cur}]       /* rcx = ctx of the thread that entered */
    cmp rax, rcx
    jne 2f                                  /* another thread: swap preserved regs */
1:  mov rdi, [rdx + {rdi}]                  /* argument registers from regs_from */
    mov rsi, [rdx + {rsi}]
    mov r8, [rdx + {r8}]
    mov r9, [rdx + {r9}]
    mov r10, [rdx + {r10}]
    mov rcx, [rax + {rip}]                  /* the rest from the thread itself */
    mov r11, [rax + {rflags}]
    mov rsp, [rax + {rsp}]
    mov rax, [rdx + {rax}]
    mov rdx, [rdx + {rdx}]
    sysretq                                 /* rip = rcx, rflags = r11, CPL 3 */

2:  mov [rcx + {rbx}], rbx                  /* old.preserved = CPU            */
    mov [rcx + {rbp}], rbp
    mov [rcx + {r12}], r12
    mov [rcx + {r13}], r13
    mov [rcx + {r14}], r14
    mov [rcx + {r15}], r15
    test rax, rax
    jz 3f                                   /* nothing to run: to the driver  */
    mov [rip + {pcpu} + {p_cur}], rax       /* current = new                  */
    mov rbx, [rax + {rbx}]                  /* CPU = new.preserved            */
    mov rbp, [rax + {rbp}]
    mov r12, [rax + {r12}]
    mov r13, [rax + {r13}]
    mov r14, [rax + {r14}]
    mov r15, [rax + {r15}]
    jmp 1b

3:  mov rsp, [rip + {pcpu} + {p_driver_rsp}] /* back into ipcb_run_user's frame */
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret                                     /* ipcb_run_user returns          */

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
    lea rax, [rip + {pcpu} + {p_dummy}]
    mov [rip + {pcpu} + {p_cur}], rax       /* "entered" from the dummy ctx   */
    mov rax, rdi
    mov rdx, rsi
    jmp ipcb_exit_to_user

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
    call ipcb_trap_handler                  /* user fault: rax/rdx = next     */
    jmp ipcb_exit_to_user                   /* (kernel faults never return)   */

    .section .rodata.ipcb_trap_stubs, "a"
    .balign 8
    .global ipcb_trap_stubs
ipcb_trap_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad ipcb_trap_\n
    .endr
"#,
    pcpu = sym crate::cpu::IPCB_PERCPU,
    p_user_rsp = const P_USER_RSP,
    p_kstack = const P_KSTACK,
    p_cur = const P_CUR,
    p_driver_rsp = const P_DRIVER_RSP,
    p_dummy = const P_DUMMY,
    rax = const OFF_RAX,
    rdi = const OFF_RDI,
    rsi = const OFF_RSI,
    rdx = const OFF_RDX,
    r8 = const OFF_R8,
    r9 = const OFF_R9,
    r10 = const OFF_R10,
    rip = const OFF_RIP,
    rflags = const OFF_RFLAGS,
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
