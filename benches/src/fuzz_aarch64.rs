// SPDX-License-Identifier: MIT OR Apache-2.0
//! The fuzz roles' machine on AArch64: the stub that loads every register
//! (`sp` and NZCV included) from the scratch page, makes one `svc` and
//! stores every register back; and the faults on purpose.

use core::arch::asm;

use crate::abi::MR_IN_REGS;
use crate::fuzz::{FaultKind, FuzzMachine, Rng, wild_address};
use crate::msg::Failure;
use crate::scenario::Fault;
use crate::sys::{self, Utcb};

/// The native [`FuzzMachine`]: this thread's UTCB and scratch page.
#[derive(Clone, Copy, Debug)]
pub struct NativeFuzz {
    utcb: Utcb,
    scratch: *mut u64,
    code: usize,
}

impl NativeFuzz {
    /// The machine of the thread whose UTCB is `utcb`.
    ///
    /// # Safety
    ///
    /// `scratch` must be the thread's scratch page (docs/abi.md
    /// "Fuzzing": 512 words, mapped writable for this thread alone, for its
    /// lifetime); `code` an address in the program's code.
    pub const unsafe fn new(utcb: Utcb, scratch: *mut u64, code: usize) -> NativeFuzz {
        NativeFuzz { utcb, scratch, code }
    }
}

/// The stub's body with `svc` instruction `$svc` (docs/abi.md: any
/// immediate is the same call), the scratch page's address in `$base`.
macro_rules! raw_svc {
    ($base:expr, $svc:literal) => {
        asm!(
                "stp x19, x29, [sp, #-16]!",   // save x19, x29 (LLVM's)
                "mov x28, x9",                 // x28 = scratch page (kept across the call)
                "mov x9, sp",
                "str x9, [x28, #640]",         // saved sp (word 80)
                "str x28, [x28, #224]",        // in[28] = the base itself
                "adr x9, 2f",
                "str x9, [x28, #264]",         // in[33] = pc after the svc
                "ldr x9, [x28, #256]",         // NZCV = in[32]
                "msr nzcv, x9",
                "ldr x0, [x28, #0]",           // x0..x30 = in[0..31]
                "ldr x1, [x28, #8]",
                "ldr x2, [x28, #16]",
                "ldr x3, [x28, #24]",
                "ldr x4, [x28, #32]",
                "ldr x5, [x28, #40]",
                "ldr x6, [x28, #48]",
                "ldr x7, [x28, #56]",
                "ldr x8, [x28, #64]",
                "ldr x10, [x28, #80]",
                "ldr x11, [x28, #88]",
                "ldr x12, [x28, #96]",
                "ldr x13, [x28, #104]",
                "ldr x14, [x28, #112]",
                "ldr x15, [x28, #120]",
                "ldr x16, [x28, #128]",
                "ldr x17, [x28, #136]",
                "ldr x18, [x28, #144]",
                "ldr x19, [x28, #152]",
                "ldr x20, [x28, #160]",
                "ldr x21, [x28, #168]",
                "ldr x22, [x28, #176]",
                "ldr x23, [x28, #184]",
                "ldr x24, [x28, #192]",
                "ldr x25, [x28, #200]",
                "ldr x26, [x28, #208]",
                "ldr x27, [x28, #216]",
                "ldr x29, [x28, #232]",
                "ldr x30, [x28, #240]",
                "ldr x9, [x28, #248]",         // sp = in[31]
                "mov sp, x9",
                "ldr x9, [x28, #72]",          // x9 last
                $svc,                          // kernel (any immediate: the same call)
                "2:",
                "str x9, [x28, #392]",         // out[9] first: x9 is the scratch
                "mov x9, sp",
                "str x9, [x28, #568]",         // out[31] = sp
                "mrs x9, nzcv",
                "str x9, [x28, #576]",         // out[32] = NZCV
                "ldr x9, [x28, #640]",
                "mov sp, x9",                  // our own stack again
                "str x0, [x28, #320]",         // out[0..31] = x0..x30
                "str x1, [x28, #328]",
                "str x2, [x28, #336]",
                "str x3, [x28, #344]",
                "str x4, [x28, #352]",
                "str x5, [x28, #360]",
                "str x6, [x28, #368]",
                "str x7, [x28, #376]",
                "str x8, [x28, #384]",
                "str x10, [x28, #400]",
                "str x11, [x28, #408]",
                "str x12, [x28, #416]",
                "str x13, [x28, #424]",
                "str x14, [x28, #432]",
                "str x15, [x28, #440]",
                "str x16, [x28, #448]",
                "str x17, [x28, #456]",
                "str x18, [x28, #464]",
                "str x19, [x28, #472]",
                "str x20, [x28, #480]",
                "str x21, [x28, #488]",
                "str x22, [x28, #496]",
                "str x23, [x28, #504]",
                "str x24, [x28, #512]",
                "str x25, [x28, #520]",
                "str x26, [x28, #528]",
                "str x27, [x28, #536]",
                "str x28, [x28, #544]",
                "str x29, [x28, #552]",
                "str x30, [x28, #560]",
                "ldp x19, x29, [sp], #16",     // restore x19, x29
                inout("x9") $base => _,
                out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
                out("x6") _, out("x7") _, out("x8") _, out("x10") _, out("x11") _,
                out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _,
                out("x17") _, out("x18") _, out("x20") _, out("x21") _, out("x22") _,
                out("x23") _, out("x24") _, out("x25") _, out("x26") _, out("x27") _,
                out("x28") _, out("x30") _,
            )
    };
}

impl FuzzMachine for NativeFuzz {
    #[inline(always)]
    fn w(&self, i: usize) -> u64 {
        assert!(i < 512);
        // SAFETY: in bounds of the mapped scratch page (`new`'s contract).
        unsafe { self.scratch.add(i).read_volatile() }
    }

    #[inline(always)]
    fn set_w(&mut self, i: usize, v: u64) {
        assert!(i < 512);
        // SAFETY: as in `w`; the page is writable.
        unsafe { self.scratch.add(i).write_volatile(v) }
    }

    #[inline(always)]
    fn utcb(&self, k: usize) -> u64 {
        self.utcb.get(k)
    }

    #[inline(always)]
    fn set_utcb(&mut self, k: usize, v: u64) {
        self.utcb.set(k, v)
    }

    #[inline(never)]
    fn raw(&mut self) {
        // Which `svc` immediate: 0 mostly, sometimes the largest.
        let high = self.w(crate::fuzz::scratch::SVC_IMM) != 0;
        let base = self.scratch;
        // SAFETY: the block saves the registers it may not declare (x19,
        // x29) on its stack and restores them; every other register it
        // changes is declared. While the call runs `sp` holds the input
        // value (the kernel keeps `SP_EL0` for us and never uses it); the
        // real one is kept in the scratch page and back before the pop.
        // It reads and writes only scratch words 0..81 through x28.
        unsafe {
            if high {
                raw_svc!(base, "svc #0xffff");
            } else {
                raw_svc!(base, "svc #0");
            }
        }
    }

    fn fault(&mut self, f: FaultKind, r: &mut Rng) -> u64 {
        fault(f, r, self.code)
    }

    fn fail(&mut self, index: u64, f: Failure) {
        sys::fail(index, f.what, f.got, f.expected);
    }

    #[inline(always)]
    fn call7(&mut self, nr: u64, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> (u64, u64, u64, [u64; 4]) {
        let m = sys::syscall7(nr, cap, tag, mr);
        (m.status, m.badge, m.tag, m.mr)
    }
}

/// Does the forbidden thing `f`: each faults, or returns having changed
/// nothing the program relies on (the registers it writes are declared).
#[inline(never)]
fn fault(f: FaultKind, r: &mut Rng, code: usize) -> u64 {
    let wild = wild_address(r);
    let gate = r.below(9);
    match f {
        FaultKind::KernelRead => sys::fault(Fault::KernelRead, code),
        FaultKind::WriteCode => sys::fault(Fault::WriteCode, code),
        FaultKind::Privileged if gate < 3 => sys::fault(Fault::Privileged, code),
        // SAFETY: instructions EL0 may not run, each trapped or undefined
        // (SCTLR_EL1 leaves nTWI, DZE, UCI clear): `wfi`, a read of
        // SCTLR_EL1, `dc zva` and `dc civac` on our own code address
        // (either would only touch caches or zero our code page, which is
        // read-only: a fault either way), `eret`. (Not `wfe`: nTWE is
        // clear too, but QEMU runs an EL0 `wfe` as a yield without the
        // trap, as the fuzzer found with seed 0xBEEF.)
        FaultKind::Privileged => unsafe {
            match gate {
                3 | 4 => asm!("wfi", options(nomem, nostack)),
                5 => asm!("mrs {t}, sctlr_el1", t = out(reg) _, options(nomem, nostack)),
                6 => asm!("dc zva, {a}", a = in(reg) code, options(nostack)),
                7 => asm!("dc civac, {a}", a = in(reg) code, options(nostack)),
                _ => asm!("eret", options(nomem, nostack)),
            }
        },
        FaultKind::Undefined => sys::fault(Fault::Undefined, code),
        FaultKind::NullRead => sys::fault(Fault::NullRead, code),
        FaultKind::NxStack => sys::fault(Fault::NxStack, code),
        // SAFETY: a load from an address no task maps, result dropped.
        FaultKind::WildRead => unsafe {
            asm!("ldr {t}, [{a}]", a = in(reg) wild, t = lateout(reg) _, options(nostack, readonly));
        },
        // SAFETY: a store to an address no task maps.
        FaultKind::WildWrite => unsafe {
            asm!("str {a}, [{a}]", a = in(reg) wild, options(nostack));
        },
        // SAFETY: a branch to an address no task maps (x30 declared).
        FaultKind::WildJump => unsafe {
            asm!("blr {a}", a = in(reg) wild, lateout("x30") _);
        },
        // SAFETY: `brk` (a breakpoint exception) changes nothing if it passes.
        FaultKind::Breakpoint => unsafe {
            asm!("brk #0x1f", options(nomem, nostack));
        },
        // SAFETY: `hvc` is undefined at EL0.
        FaultKind::Gate => unsafe {
            asm!("hvc #0", options(nomem, nostack));
        },
        // SAFETY: `smc` is undefined at EL0.
        FaultKind::Step => unsafe {
            asm!("smc #0", options(nomem, nostack));
        },
        // SAFETY: a load through a wild (and often misaligned) `sp`; the
        // real one is back before anything else.
        FaultKind::WildStack => unsafe {
            asm!(
                "mov {s}, sp",
                "mov sp, {a}",
                "ldr {t}, [sp, #8]",
                "mov sp, {s}",
                a = in(reg) wild | (r.below(16)),
                s = out(reg) _,
                t = out(reg) _,
            );
        },
        // SAFETY: a read of FPCR, which traps as FP/SIMD access at EL0
        // (CPACR_EL1.FPEN); a system instruction, so the image check for
        // FP/SIMD data instructions (xtask) does not refuse the program.
        FaultKind::Float => unsafe {
            asm!("mrs {t}, fpcr", t = out(reg) _, options(nomem, nostack));
        },
        // SAFETY: a branch to a misaligned pc (a PC alignment fault).
        FaultKind::Divide => unsafe {
            asm!("adr {a}, 3f", "add {a}, {a}, #2", "blr {a}", "3:", a = out(reg) _, lateout("x30") _);
        },
        // SAFETY: a branch into the UTCB, mapped no-execute.
        FaultKind::RunUtcb => unsafe {
            asm!("blr {a}", a = in(reg) crate::fuzz::UTCB_BASE, lateout("x30") _);
        },
    }
    gate
}
