// SPDX-License-Identifier: MIT OR Apache-2.0
//! System-call stubs for AArch64 user mode, and the deliberate register
//! probe and faults of the scenarios.
//!
//! # Register convention (docs/abi.md "AArch64 registers")
//!
//! | register | in | out |
//! |---|---|---|
//! | `x8` | syscall number | status |
//! | `x0` | capability slot | badge of the sender (0 for a reply; `null`: unchanged) |
//! | `x1` | message tag | tag of the received message (`null`: unchanged) |
//! | `x20`, `x21`, `x22`, `x23` | MR0..MR3 | MR0..MR3 received (`null`: unchanged) |
//! | `x19`, `x24`-`x29`, `sp` | preserved | |
//! | `x10`, `x11` | clobbered | our own `pc` (after the `svc`) and `sp` (`null`: unchanged) |
//! | `x2`-`x7`, `x9`, `x12`-`x18`, `x30` | clobbered | zero (`null`: `x9` zero, the rest unchanged) |
//! | NZCV | clobbered (`null`: unchanged) | |
//!
//! The message registers are callee-saved in AAPCS64, so the kernel's own
//! Rust code preserves them and a message crosses the fastpath in
//! registers. (`x19` would be the natural MR0, but LLVM reserves it, so no
//! asm block can name it.) Everything the stubs do not name as an output or
//! clobber is preserved, so loop state stays in `x19`, `x24`-`x28` across
//! a `svc`.
//!
//! The kernel runs on its own stack and never touches ours, hence
//! `options(nostack)`. It may write the UTCB (message words 4 and up), so no
//! stub claims `nomem`. User code has no FP/SIMD registers on this kernel
//! (docs/abi.md), so none are named.
//!
//! # Why the stubs are safe functions
//!
//! As on x86_64 (`sys.rs`): the kernel writes only the registers declared
//! here and the UTCB, which Rust code reaches only through the volatile
//! accesses of [`Utcb`]; a refused call returns an error status, a fault
//! kills the task.

use core::arch::asm;

use crate::abi::{MR_IN_REGS, nr};
use crate::msg::Msg;
use crate::scenario::{Fault, KERNEL_ADDRESS, PROBE_REGS, PROBE_WORDS, probe_value};

pub use crate::calls::*;
pub use crate::utcb::Utcb;

/// A system call with every argument register: `nr` in `x8`, `cap` in
/// `x0`, `tag` in `x1`, MR0..MR3 in `x20`..`x23`; returns all seven
/// registers as they come back.
#[inline(always)]
pub fn syscall7(nr: u64, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
    let (status, badge, tag_out): (u64, u64, u64);
    let (m0, m1, m2, m3): (u64, u64, u64, u64);
    // SAFETY: `svc` enters the kernel, which returns with only the
    // registers named here changed (the clobbered ones declared) and leaves
    // our stack alone; memory it may write (the UTCB) is not assumed
    // unchanged (no `nomem`). See the module docs.
    unsafe {
        asm!(
            "svc #0",                       // kernel(x8, x0, x1, x20..x23)
            inlateout("x8") nr => status,   // number in, status out
            inlateout("x0") cap => badge,   // capability slot in, badge out
            inlateout("x1") tag => tag_out, // tag in, received tag out
            inlateout("x20") mr[0] => m0,   // MR0
            inlateout("x21") mr[1] => m1,   // MR1
            inlateout("x22") mr[2] => m2,   // MR2
            inlateout("x23") mr[3] => m3,   // MR3
            lateout("x2") _, lateout("x3") _, lateout("x4") _, lateout("x5") _,
            lateout("x6") _, lateout("x7") _, lateout("x9") _, lateout("x10") _,
            lateout("x11") _, lateout("x12") _, lateout("x13") _, lateout("x14") _,
            lateout("x15") _, lateout("x16") _, lateout("x17") _, lateout("x18") _,
            lateout("x30") _,               // clobbered (returned as zero)
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

/// `null` with `mr0` in MR0 (`x20`): returns (status, MR0 as it came
/// back). Only `x8` and `x20` are passed; the kernel answers `null` in the
/// first instructions of its entry and changes no register but `x9`, which
/// comes back zero (the `null-preserves-registers` scenario checks this), so
/// every other register, caller-saved ones included, keeps its value.
#[inline(always)]
pub fn null(mr0: u64) -> (u64, u64) {
    let (status, m0): (u64, u64);
    // SAFETY: as for `syscall7`; `null` changes only `x8` (status) and
    // `x9`, both declared, and returns with the caller's own flags.
    unsafe {
        asm!(
            "svc #0",                           // kernel: null
            inlateout("x8") nr::NULL => status, // number in, status out
            inlateout("x20") mr0 => m0,         // MR0 in, MR0 out (unchanged)
            lateout("x9") _,                    // zero (the entry's scratch)
            options(nostack, preserves_flags),  // SPSR: the caller's flags
        );
    }
    (status, m0)
}

/// `invoke` on capability slot `cap` with `tag`: returns (status, result
/// word). `x0` and `x1` come back as the result and tag 0, the clobbered
/// registers as zero (`x10`, `x11`: our own `pc` and `sp`); `x19`-`x29`
/// are preserved, the message registers `x20`-`x23` among them.
#[inline(always)]
pub fn invoke(cap: u64, tag: u64) -> (u64, u64) {
    let (status, value): (u64, u64);
    // SAFETY: as for `syscall7`; `invoke` changes only the registers
    // declared here.
    unsafe {
        asm!(
            "svc #0",                             // kernel: invoke
            inlateout("x8") nr::INVOKE => status, // number in, status out
            inlateout("x0") cap => value,         // capability slot in, result out
            inlateout("x1") tag => _,             // tag in, 0 out
            lateout("x2") _, lateout("x3") _, lateout("x4") _, lateout("x5") _,
            lateout("x6") _, lateout("x7") _, lateout("x9") _, lateout("x10") _,
            lateout("x11") _, lateout("x12") _, lateout("x13") _, lateout("x14") _,
            lateout("x15") _, lateout("x16") _, lateout("x17") _, lateout("x18") _,
            lateout("x30") _,                     // clobbered (returned as zero)
            options(nostack),
        );
    }
    (status, value)
}

/// `exit`: end the calling thread. Never returns.
#[inline(always)]
pub fn exit() -> ! {
    // SAFETY: `exit` does not return; should a broken kernel return anyway,
    // `udf` faults and the kernel kills the task, so control never falls out
    // of the block.
    unsafe {
        asm!(
            "svc #0", // kernel: exit(x8 = 7)
            "udf #0", // not reached: a return from exit faults
            in("x8") nr::EXIT,
            options(noreturn, nostack),
        );
    }
}

/// The probe values indexed by register number (`x0`..`x30`; 0 for `x8`,
/// which carries the syscall number), so that the probe can load them in
/// pairs.
const PROBE_BY_REG: [u64; 31] = {
    let mut t = [0u64; 31];
    let mut i = 0;
    while i < PROBE_REGS.len() {
        let name = PROBE_REGS[i].as_bytes();
        // "xN" or "xNN"
        let n = if name.len() == 2 {
            (name[1] - b'0') as usize
        } else {
            ((name[1] - b'0') * 10 + (name[2] - b'0')) as usize
        };
        t[n] = probe_value(i);
        i += 1;
    }
    t
};

// The probe stores its result in this order (after the status).
const _: () = {
    let expect: [&str; 30] = [
        "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x0", "x1",
        "x2", "x3", "x4", "x5", "x6", "x7", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
        "x17", "x18", "x30",
    ];
    assert!(PROBE_REGS.len() == expect.len() && PROBE_WORDS == 31);
    let mut i = 0;
    while i < expect.len() {
        let (a, b) = (PROBE_REGS[i].as_bytes(), expect[i].as_bytes());
        assert!(a.len() == b.len());
        let mut j = 0;
        while j < a.len() {
            assert!(a[j] == b[j]);
            j += 1;
        }
        i += 1;
    }
};

/// Scenario 21: loads [`probe_value`]`(i)` into each register of
/// [`crate::scenario::PROBE_REGS`], makes the `null` syscall, and returns
/// the status followed by those registers as the kernel left them
/// ([`crate::scenario::check_probe`] says what they must hold).
#[inline(never)]
pub fn null_probe() -> [u64; PROBE_WORDS] {
    // Not zero-initialised: the block writes every word (and a `memset`
    // would use the FP/SIMD registers, which user code does not have).
    let mut out = core::mem::MaybeUninit::<[u64; PROBE_WORDS]>::uninit();
    let values = &PROBE_BY_REG;
    // SAFETY: the block saves the registers it may not declare (x19, x29)
    // on the stack and restores them; every other register it changes is
    // declared clobbered. It reads the 31 words of `values` and writes
    // exactly `PROBE_WORDS` (31) words through `out`. The stack is balanced
    // (16-byte aligned throughout) and the kernel does not touch it.
    unsafe {
        asm!(
            "stp x19, x29, [sp, #-32]!",  // save x19, x29 (LLVM's, not operands)
            "str x10, [sp, #16]",         // keep the result pointer
            "ldp x0, x1, [x9, #0]",       // x0..x30 = probe values (by register)
            "ldp x2, x3, [x9, #16]",
            "ldp x4, x5, [x9, #32]",
            "ldp x6, x7, [x9, #48]",
            "ldr x10, [x9, #80]",
            "ldp x11, x12, [x9, #88]",
            "ldp x13, x14, [x9, #104]",
            "ldp x15, x16, [x9, #120]",
            "ldp x17, x18, [x9, #136]",
            "ldp x19, x20, [x9, #152]",
            "ldp x21, x22, [x9, #168]",
            "ldp x23, x24, [x9, #184]",
            "ldp x25, x26, [x9, #200]",
            "ldp x27, x28, [x9, #216]",
            "ldp x29, x30, [x9, #232]",
            "ldr x9, [x9, #72]",          // x9 last: it was the base
            "mov x8, #0",                 // x8 = 0: null
            "svc #0",                     // kernel: null
            "stp x0, x1, [sp, #-16]!",    // free x0, x1 (kept for later)
            "ldr x0, [sp, #32]",          // x0 = result pointer
            "str x8, [x0, #0]",           // out[0] = status
            "str x19, [x0, #8]",          // out[1..12] = x19..x29
            "stp x20, x21, [x0, #16]",
            "stp x22, x23, [x0, #32]",
            "stp x24, x25, [x0, #48]",
            "stp x26, x27, [x0, #64]",
            "stp x28, x29, [x0, #80]",
            "stp x2, x3, [x0, #112]",     // out[14..20] = x2..x7
            "stp x4, x5, [x0, #128]",
            "stp x6, x7, [x0, #144]",
            "stp x9, x10, [x0, #160]",    // out[20..30] = x9..x18
            "stp x11, x12, [x0, #176]",
            "stp x13, x14, [x0, #192]",
            "stp x15, x16, [x0, #208]",
            "stp x17, x18, [x0, #224]",
            "str x30, [x0, #240]",        // out[30] = x30
            "ldp x2, x3, [sp], #16",      // x2, x3 = x0, x1 as the kernel left them
            "stp x2, x3, [x0, #96]",      // out[12], out[13]
            "ldp x19, x29, [sp], #32",    // restore x19, x29
            inout("x9") values.as_ptr() => _,
            inout("x10") out.as_mut_ptr() as *mut u64 => _,
            out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
            out("x6") _, out("x7") _, out("x8") _, out("x11") _, out("x12") _,
            out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            out("x18") _, out("x20") _, out("x21") _, out("x22") _, out("x23") _,
            out("x24") _, out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            out("x30") _,
        );
    }
    // SAFETY: the block above wrote all `PROBE_WORDS` words (offsets 0 to
    // 240, see the glosses).
    unsafe { out.assume_init() }
}

/// Does the forbidden thing `f`; returns only if the CPU and kernel let it
/// pass. `code` is an address in the program's code (scenario 33 writes
/// there).
///
/// Each asm block touches only what it names, and either faults (the kernel
/// kills the task) or completes with no effect on Rust-visible state: the
/// loads discard their result, the store writes back the byte it read,
/// `msr daifset`/`udf` do nothing if they pass, and the stack "function" is
/// a lone `ret`.
#[inline(never)]
pub fn fault(f: Fault, code: usize) {
    match f {
        Fault::KernelRead => {
            // SAFETY: a load whose result is discarded (see above).
            unsafe {
                asm!(
                    "ldr {t}, [{a}]", // t = *KERNEL_ADDRESS: permission fault (EL1 only)
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
                    "ldrb {t:w}, [{a}]", // t = *code (text is readable)
                    "strb {t:w}, [{a}]", // *code = t: permission fault (read-only page)
                    a = in(reg) code,
                    t = out(reg) _,
                    options(nostack, preserves_flags),
                );
            }
        }
        Fault::Privileged => {
            // SAFETY: masking interrupts has no effect on program state (see
            // above); at EL0 with SCTLR.UMA clear it traps.
            unsafe {
                asm!("msr daifset, #2", options(nomem, nostack, preserves_flags)); // EL0: trapped
            }
        }
        Fault::Undefined => {
            // SAFETY: `udf` has no effect on program state (see above).
            unsafe {
                asm!("udf #0", options(nomem, nostack, preserves_flags)); // undefined instruction
            }
        }
        Fault::NullRead => {
            // SAFETY: a load whose result is discarded (see above).
            unsafe {
                asm!(
                    "ldr {t}, [{a}]", // t = *0: translation fault at 0
                    a = in(reg) 0u64,
                    t = lateout(reg) _,
                    options(nostack, readonly, preserves_flags),
                );
            }
        }
        Fault::NxStack => {
            // SAFETY: writes a lone `ret` into 16 bytes it reserves on the
            // stack and calls it (see above); `blr` sets x30, which `ret`
            // returns through; x9 and x30 are declared clobbered and the
            // stack is balanced. (The buffer is written here rather than in
            // Rust: an array initialiser would use the FP/SIMD registers,
            // which user code does not have.)
            unsafe {
                asm!(
                    "sub sp, sp, #16",            // a 16-byte buffer on the stack
                    "movz w9, #0x03c0",           // w9 = 0xd65f03c0: `ret`
                    "movk w9, #0xd65f, lsl #16",
                    "str w9, [sp]",               // buffer[0] = ret
                    "mov x9, sp",
                    "blr x9",                     // jump into the stack: instruction abort (UXN)
                    "add sp, sp, #16",            // (only if it returned)
                    out("x9") _,
                    lateout("x30") _,
                );
            }
        }
    }
}
