// SPDX-License-Identifier: MIT OR Apache-2.0
//! System-call stubs for x86_64 user mode, the UTCB, and the deliberate
//! register probe and faults of the scenarios.
//!
//! # Register convention (docs/abi.md "x86_64 registers")
//!
//! | register | in | out |
//! |---|---|---|
//! | `rax` | syscall number | status |
//! | `rdi` | capability slot | badge of the sender (0 for a reply, `null`) |
//! | `rsi` | message tag | tag of the received message (`null`: unchanged) |
//! | `r12`, `r13`, `r14`, `r15` | MR0..MR3 | MR0..MR3 received (`null`: unchanged) |
//! | `rbx`, `rbp`, `rsp` | preserved | |
//! | `rcx`, `r11` | clobbered by `syscall` (user `rip`, `rflags`) | |
//! | `rdx`, `r8`, `r9`, `r10` | clobbered | zero |
//!
//! The message registers are the callee-saved `r12`-`r15`, which the
//! kernel's own Rust code preserves, so a message crosses the fastpath in
//! registers. The price on this side: across a `syscall` only `rbx` and
//! `rbp` (besides the outputs) keep their values, so a loop around one keeps
//! most of its state on the stack.
//!
//! The kernel runs on its own stack and never touches ours, hence
//! `options(nostack)`. It may write the UTCB (message words 4 and up), so no
//! stub claims `nomem`: the compiler assumes memory may change across each
//! `syscall`. The flags are not preserved (`sysretq` restores them from
//! `r11`, which the kernel may have changed).
//!
//! # Why the stubs are safe functions
//!
//! A system call cannot break this program's memory safety: the kernel
//! writes only the registers declared here and the UTCB, which Rust code
//! reaches only through the volatile accesses of [`Utcb`]. A call the kernel
//! refuses returns an error status; one that faults kills the task.

use core::arch::asm;

use crate::abi::{MR_IN_REGS, nr};
use crate::msg::Msg;
use crate::scenario::{Fault, KERNEL_ADDRESS, PROBE_WORDS, probe_value};

/// A system call with every argument register: `nr` in `rax`, `cap` in
/// `rdi`, `tag` in `rsi`, MR0..MR3 in `r12`..`r15`; returns all seven
/// registers as they come back.
#[inline(always)]
pub fn syscall7(nr: u64, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
    let (status, badge, tag_out): (u64, u64, u64);
    let (m0, m1, m2, m3): (u64, u64, u64, u64);
    // SAFETY: `syscall` enters the kernel, which returns with only the
    // registers named here changed (the clobbered ones declared) and leaves
    // our stack alone; memory it may write (the UTCB) is not assumed
    // unchanged (no `nomem`). See the module docs.
    unsafe {
        asm!(
            "syscall",                       // kernel(rax, rdi, rsi, r12..r15)
            inlateout("rax") nr => status,   // number in, status out
            inlateout("rdi") cap => badge,   // capability slot in, badge out
            inlateout("rsi") tag => tag_out, // tag in, received tag out
            inlateout("r12") mr[0] => m0,    // MR0
            inlateout("r13") mr[1] => m1,    // MR1
            inlateout("r14") mr[2] => m2,    // MR2
            inlateout("r15") mr[3] => m3,    // MR3
            lateout("rcx") _,                // rcx = user rip (syscall)
            lateout("r11") _,                // r11 = user rflags (syscall)
            lateout("rdx") _,                // rdx, r8..r10: clobbered (zeroed)
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            options(nostack),
        );
    }
    Msg {
        status,
        badge,
        tag: tag_out,
        mr: [m0, m1, m2, m3],
    }
}

/// `null` with `mr0` in MR0 (`r12`): returns (status, MR0 as it came
/// back). Only `rax` and `r12` are passed; the kernel answers `null` before
/// it touches any register, so everything but `rax` (the status) and the
/// `rcx`/`r11` that `syscall` itself uses comes back unchanged (the
/// `null-preserves-registers` scenario checks this).
#[inline(always)]
pub fn null(mr0: u64) -> (u64, u64) {
    let (status, m0): (u64, u64);
    // SAFETY: as for `syscall7`; `null` changes only `rax` (status) and the
    // `rcx`/`r11` pair, all declared.
    unsafe {
        asm!(
            "syscall",                           // kernel: null
            inlateout("rax") nr::NULL => status, // number in, status out
            inlateout("r12") mr0 => m0,          // MR0 in, MR0 out (unchanged)
            lateout("rcx") _,                    // rcx = user rip (syscall)
            lateout("r11") _,                    // r11 = user rflags (syscall)
            options(nostack),
        );
    }
    (status, m0)
}

/// `invoke` on capability slot `cap` with `tag`: returns (status, result
/// word). `rdi` and `rsi` come back as the result and tag 0, the clobbered
/// registers as zero; `rbx`, `rbp` and the message registers `r12`-`r15`
/// are preserved, so the compiler may keep values there.
#[inline(always)]
pub fn invoke(cap: u64, tag: u64) -> (u64, u64) {
    let (status, value): (u64, u64);
    // SAFETY: as for `syscall7`; `invoke` changes only the registers
    // declared here.
    unsafe {
        asm!(
            "syscall",                             // kernel: invoke
            inlateout("rax") nr::INVOKE => status, // number in, status out
            inlateout("rdi") cap => value,         // capability slot in, result out
            inlateout("rsi") tag => _,             // tag in, 0 out
            lateout("rcx") _,                      // rcx = user rip (syscall)
            lateout("r11") _,                      // r11 = user rflags (syscall)
            lateout("rdx") _,                      // rdx, r8..r10: zeroed
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            options(nostack),
        );
    }
    (status, value)
}

/// `exit`: end the calling thread. Never returns.
#[inline(always)]
pub fn exit() -> ! {
    // SAFETY: `exit` does not return; should a broken kernel return anyway,
    // `ud2` faults and the kernel kills the task, so control never falls out
    // of the block.
    unsafe {
        asm!(
            "syscall", // kernel: exit(rax = 7)
            "ud2",     // not reached: a return from exit faults
            in("rax") nr::EXIT,
            options(noreturn, nostack),
        );
    }
}

pub use crate::calls::*;
pub use crate::utcb::Utcb;

/// Scenario 21: loads [`probe_value`]`(i)` into each register of
/// [`crate::scenario::PROBE_REGS`], makes the `null` syscall, and returns
/// the status followed by those registers as the kernel left them
/// ([`crate::scenario::check_probe`] says what they must hold).
#[inline(never)]
pub fn null_probe() -> [u64; PROBE_WORDS] {
    let mut out = [0u64; PROBE_WORDS];
    // SAFETY: the block saves the callee-saved registers it uses (rbx and
    // rbp cannot be operands) on the stack and restores them; every other
    // register it changes is declared clobbered. It writes exactly
    // `PROBE_WORDS` words through `out`, which points to `out`. The stack is
    // balanced (7 pushes, 7 pops) and the kernel does not touch it.
    unsafe {
        asm!(
            "push rbx",               // save the registers the compiler
            "push rbp",               // expects preserved
            "push r12",
            "push r13",
            "push r14",
            "push r15",
            "push {out}",             // keep the result pointer on the stack
            "movabs rbx, {v0}",       // rbx = probe_value(0)
            "movabs rbp, {v1}",       // rbp = probe_value(1)
            "movabs r12, {v2}",       // r12 = probe_value(2)
            "movabs r13, {v3}",       // r13 = probe_value(3)
            "movabs r14, {v4}",       // r14 = probe_value(4)
            "movabs r15, {v5}",       // r15 = probe_value(5)
            "movabs rdi, {v6}",       // rdi = probe_value(6)
            "movabs rsi, {v7}",       // rsi = probe_value(7)
            "movabs rdx, {v8}",       // rdx = probe_value(8)
            "movabs r8, {v9}",        // r8  = probe_value(9)
            "movabs r9, {v10}",       // r9  = probe_value(10)
            "movabs r10, {v11}",      // r10 = probe_value(11)
            "xor eax, eax",           // rax = 0: null
            "syscall",                // kernel: null
            "pop rcx",                // rcx = result pointer (rcx is free now)
            "mov [rcx], rax",         // out[0] = status
            "mov [rcx + 8], rbx",     // out[1..] = the registers, as left
            "mov [rcx + 16], rbp",
            "mov [rcx + 24], r12",
            "mov [rcx + 32], r13",
            "mov [rcx + 40], r14",
            "mov [rcx + 48], r15",
            "mov [rcx + 56], rdi",
            "mov [rcx + 64], rsi",
            "mov [rcx + 72], rdx",
            "mov [rcx + 80], r8",
            "mov [rcx + 88], r9",
            "mov [rcx + 96], r10",
            "pop r15",                // restore the saved registers
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbp",
            "pop rbx",
            out = in(reg) out.as_mut_ptr(),
            v0 = const probe_value(0),
            v1 = const probe_value(1),
            v2 = const probe_value(2),
            v3 = const probe_value(3),
            v4 = const probe_value(4),
            v5 = const probe_value(5),
            v6 = const probe_value(6),
            v7 = const probe_value(7),
            v8 = const probe_value(8),
            v9 = const probe_value(9),
            v10 = const probe_value(10),
            v11 = const probe_value(11),
            out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    out
}

/// Does the forbidden thing `f`; returns only if the CPU and kernel let it
/// pass. `code` is an address in the program's code (scenario 33 writes
/// there).
///
/// Each asm block touches only what it names, and either faults (the kernel
/// kills the task) or completes with no effect on Rust-visible state: the
/// loads discard their result, the store writes back the byte it read,
/// `hlt`/`ud2` do nothing if they pass, and the stack "function" is a lone
/// `ret`.
#[inline(never)]
pub fn fault(f: Fault, code: usize) {
    match f {
        Fault::KernelRead => {
            // SAFETY: a load whose result is discarded (see above).
            unsafe {
                asm!(
                    "mov {t}, qword ptr [{a}]", // t = *KERNEL_ADDRESS: page fault
                    a = in(reg) KERNEL_ADDRESS,
                    t = lateout(reg) _,
                    options(nostack, readonly, preserves_flags),
                );
            }
        }
        Fault::WriteCode => {
            // SAFETY: stores back the byte just read (see above).
            unsafe {
                asm!(
                    "mov {t:l}, byte ptr [{a}]", // t = *code (text is readable)
                    "mov byte ptr [{a}], {t:l}", // *code = t: page fault (R+X page)
                    a = in(reg) code,
                    t = out(reg) _,
                    options(nostack, preserves_flags),
                );
            }
        }
        Fault::Privileged => {
            // SAFETY: `hlt` has no effect on program state (see above).
            unsafe {
                asm!("hlt", options(nomem, nostack, preserves_flags)); // ring 3: #GP
            }
        }
        Fault::Undefined => {
            // SAFETY: `ud2` has no effect on program state (see above).
            unsafe {
                asm!("ud2", options(nomem, nostack, preserves_flags)); // #UD
            }
        }
        Fault::NullRead => {
            // SAFETY: a load whose result is discarded (see above).
            unsafe {
                asm!(
                    "mov {t}, qword ptr [{a}]", // t = *0: page fault at 0
                    a = in(reg) 0u64,
                    t = lateout(reg) _,
                    options(nostack, readonly, preserves_flags),
                );
            }
        }
        Fault::NxStack => {
            let ret = [0xC3u8; 16]; // `ret` opcodes, in a stack buffer
            // SAFETY: calls a lone `ret` (see above). The pointer escapes
            // into the block, so the buffer is written before it runs; the
            // `call` pushes a return address (no `nostack`) that `ret` pops.
            unsafe {
                asm!(
                    "call {p}", // jump into the stack: NX page fault
                    p = in(reg) ret.as_ptr(),
                    clobber_abi("sysv64"),
                );
            }
        }
    }
}
