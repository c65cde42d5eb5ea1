// SPDX-License-Identifier: MIT OR Apache-2.0
//! System-call stubs and counter reads for x86_64 user mode (docs/abi.md).
//!
//! In: `rax` number, `rdi` capability slot, `rsi` tag, `rdx`/`r8`/`r9`/`r10`
//! MR0..MR3. Out: `rax` status, `rdi` badge, `rsi` tag, MR0..MR3. The
//! `syscall` instruction clobbers `rcx` and `r11`; everything else is
//! preserved. The stubs never touch the user stack.

#![allow(unsafe_code)]

use core::arch::asm;

use crate::msg::{Received, REG_MRS};

/// One system call with every argument register.
#[inline(always)]
pub fn syscall(op: u64, cap: u64, tag: u64, mr: [u64; REG_MRS]) -> Received {
    let (mut a, mut d, mut s) = (op, cap, tag);
    let [mut m0, mut m1, mut m2, mut m3] = mr;
    // SAFETY: `syscall` enters the kernel, which only reads and writes the
    // registers named here (and rcx/r11, declared clobbered); it does not
    // touch user memory or the stack.
    unsafe {
        asm!(
            "syscall",
            inout("rax") a,        // number in, status out
            inout("rdi") d,        // cap in, badge out
            inout("rsi") s,        // tag in and out
            inout("rdx") m0,       // MR0
            inout("r8") m1,        // MR1
            inout("r9") m2,        // MR2
            inout("r10") m3,       // MR3
            out("rcx") _,          // user rip (clobbered by syscall)
            out("r11") _,          // user rflags (clobbered by syscall)
            options(nostack),
        );
    }
    Received { status: a, badge: d, tag: s, mr: [m0, m1, m2, m3] }
}

/// `null`: returns status 0.
#[inline(always)]
pub fn null(mr0: u64) -> Received {
    syscall(crate::abi::NULL, 0, 0, [mr0, 0, 0, 0])
}

/// `call` on the endpoint in `cap`.
#[inline(always)]
pub fn call(cap: u64, tag: u64, mr: [u64; REG_MRS]) -> Received {
    syscall(crate::abi::CALL, cap, tag, mr)
}

/// `reply_recv` on the endpoint in `cap`.
#[inline(always)]
pub fn reply_recv(cap: u64, tag: u64, mr: [u64; REG_MRS]) -> Received {
    syscall(crate::abi::REPLY_RECV, cap, tag, mr)
}

/// `recv` on the endpoint in `cap`.
#[inline(always)]
pub fn recv(cap: u64) -> Received {
    syscall(crate::abi::RECV, cap, 0, [0; REG_MRS])
}

/// `reply` to the caller.
#[inline(always)]
pub fn reply(tag: u64, mr: [u64; REG_MRS]) -> Received {
    syscall(crate::abi::REPLY, 0, tag, mr)
}

/// `exit`: never returns.
pub fn exit() -> ! {
    loop {
        syscall(crate::abi::EXIT, 0, 0, [0; REG_MRS]);
    }
}

/// Service `report`: one measured run. `deltas` go into UTCB words 4.. .
pub fn report(utcb: *mut u64, bench: u64, run: u64, ops: u64, deltas: &[u64]) -> u64 {
    for (i, d) in deltas.iter().enumerate() {
        // SAFETY: the UTCB is this thread's own page, words 4..8 exist.
        unsafe { utcb.add(4 + i).write_volatile(*d) };
    }
    syscall(crate::abi::SVC_REPORT, 0, 0, [bench, run, ops, deltas.len() as u64]).status
}

/// Service `fail`: a check failed.
pub fn fail(bench: u64, what: u64, got: u64, expected: u64) {
    syscall(crate::abi::SVC_FAIL, 0, 0, [bench, what, got, expected]);
}

/// Service `test_ok`: scenario `id` passed.
pub fn test_ok(id: u64) {
    syscall(crate::abi::SVC_TEST_OK, 0, 0, [id, 0, 0, 0]);
}

/// Service `putc`: write up to 32 bytes to the console.
pub fn puts(s: &[u8]) {
    for chunk in s.chunks(32) {
        let mut w = [0u64; REG_MRS];
        for (i, b) in chunk.iter().enumerate() {
            w[i / 8] |= u64::from(*b) << (8 * (i % 8));
        }
        syscall(crate::abi::SVC_PUTC, chunk.len() as u64, 0, w);
    }
}

/// Read one counter: `1 << 63` selects RDTSC, anything else is the RDPMC
/// index.
#[inline(always)]
pub fn read_counter(sel: u64) -> u64 {
    if sel == 1 << 63 {
        // SAFETY: RDTSC is allowed in user mode (CR4.TSD clear).
        unsafe { core::arch::x86_64::_rdtsc() }
    } else {
        let (lo, hi): (u32, u32);
        // SAFETY: the kernel enabled user RDPMC (CR4.PCE) and announced
        // this counter index.
        unsafe {
            asm!("rdpmc", in("ecx") sel as u32, out("eax") lo, out("edx") hi,
                options(nomem, nostack, preserves_flags));
        }
        (u64::from(hi) << 32) | u64::from(lo)
    }
}

/// `null` with known values in the preserved registers; returns the number
/// of preserved registers that came back changed (0 is correct).
pub fn null_preserves() -> u64 {
    let bad: u64;
    // SAFETY: saves and restores rbx and rbp itself (Rust may not name them
    // as operands); the syscall clobbers only what is declared.
    unsafe {
        asm!(
            "push rbx",
            "push rbp",
            "mov rbx, 0x1111",
            "mov rbp, 0x2222",
            "mov r12, 0x3333",
            "mov r13, 0x4444",
            "mov r14, 0x5555",
            "mov r15, 0x6666",
            "xor eax, eax",              // null syscall
            "syscall",
            "xor ecx, ecx",              // count the registers that changed
            "cmp rbx, 0x1111", "setne dl", "add cl, dl",
            "cmp rbp, 0x2222", "setne dl", "add cl, dl",
            "cmp r12, 0x3333", "setne dl", "add cl, dl",
            "cmp r13, 0x4444", "setne dl", "add cl, dl",
            "cmp r14, 0x5555", "setne dl", "add cl, dl",
            "cmp r15, 0x6666", "setne dl", "add cl, dl",
            "pop rbp",
            "pop rbx",
            out("rcx") bad,
            out("rax") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
        );
    }
    bad
}
