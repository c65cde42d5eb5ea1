// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel's W^X self-test (`selftest=wx`, [`runtime::Machine::wx_probe`]).
//!
//! Each probe tries, at the kernel's exception level (EL1, or EL2 under
//! VHE) on the boot CPU, an access that the kernel's own mappings
//! (`boot.rs`: the image by 4 KiB pages, `SCTLR.WXN`) must refuse:
//!
//! 0. a write to `.text` (the byte read there, written back: harmless if
//!    it went through);
//! 1. a write to `.rodata` (likewise);
//! 2. a write to `.text` through its alias in the direct map;
//! 3. a branch into `.data` (a `ret` there);
//! 4. a branch into the stack (a `ret` stored there, made coherent for
//!    instruction fetch first).
//!
//! `ipcb_wx_probe` saves the callee-saved registers and `sp`, arms the
//! probe and makes the access. The board's trap handler passes every
//! exception taken from the kernel to [`kernel_fault`] first: when a probe
//! is armed and the exception is at the probe's instruction (or, for a
//! branch, at its target), it records the fault and resumes
//! `ipcb_wx_probe` after the access (`ipcb_wx_recover`: back to the saved
//! `sp`, which drops the trap frame, and return 1). The kernel runs with
//! every interrupt masked, so nothing else uses that stack meanwhile, and
//! the exception left `PSTATE` as it was but for `DAIF`, which were all
//! set already.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use runtime::{Fault, WxProbe};

use crate::entry::ec;

/// A probe is under way.
static ARMED: AtomicBool = AtomicBool::new(false);
/// The address the running probe accesses (the stack probe's is set by
/// the assembly).
#[unsafe(no_mangle)]
static IPCB_WX_TARGET: AtomicU64 = AtomicU64::new(0);
/// The `sp` `ipcb_wx_recover` goes back to.
#[unsafe(no_mangle)]
static IPCB_WX_SP: AtomicU64 = AtomicU64::new(0);
/// The fault the running probe raised: ESR, FAR, ELR.
static FAULT: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// A `ret` in `.data` (writable, so never executable).
#[repr(align(16))]
struct Code {
    _insns: [u32; 4],
}
static mut DATA_RET: Code = Code { _insns: [0xD65F_03C0; 4] };
/// A byte of `.rodata`.
static RODATA_BYTE: u8 = 0x5A;

/// Data and instruction fault status codes 0b0011xx: a permission fault,
/// at any level.
const FSC_PERMISSION: u64 = 0b00_1100;
/// ESR `WnR` (data aborts): the access was a write.
const ESR_WNR: u64 = 1 << 6;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    r#"
    .section .text.ipcb_wx_probe, "ax"
    /* x0 = kind, x1 = address; x0 = 0: no fault, 1: faulted. */
    .global ipcb_wx_probe
    .type ipcb_wx_probe, %function
ipcb_wx_probe:
    stp x29, x30, [sp, #-96]!
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    mov x9, sp
    adrp x10, IPCB_WX_SP
    str x9, [x10, :lo12:IPCB_WX_SP]
    cmp x0, #3
    b.hs 2f
    ldrb w9, [x1]
    .global ipcb_wx_probe_store
ipcb_wx_probe_store:
    strb w9, [x1]                           /* kinds 0-2: write it back   */
    b 3f
2:  b.eq 4f
    sub sp, sp, #16                         /* kind 4: a ret on the stack */
    movz w9, #0x03c0
    movk w9, #0xd65f, lsl #16
    str w9, [sp]
    mov x1, sp
    adrp x10, IPCB_WX_TARGET
    str x1, [x10, :lo12:IPCB_WX_TARGET]
    dc cvau, x1
    dsb ish
    ic ivau, x1
    dsb ish
    isb
    blr x1
    add sp, sp, #16
    b 3f
4:  blr x1                                  /* kind 3: the ret in .data   */
3:  mov x0, #0
5:  ldp x19, x20, [sp, #16]
    ldp x21, x22, [sp, #32]
    ldp x23, x24, [sp, #48]
    ldp x25, x26, [sp, #64]
    ldp x27, x28, [sp, #80]
    ldp x29, x30, [sp], #96
    ret
    .size ipcb_wx_probe, . - ipcb_wx_probe

    /* From the trap handler: drop everything below the probe's frame. */
    .global ipcb_wx_recover
    .type ipcb_wx_recover, %function
ipcb_wx_recover:
    adrp x10, IPCB_WX_SP
    ldr x9, [x10, :lo12:IPCB_WX_SP]
    mov sp, x9
    mov x0, #1
    b 5b
    .size ipcb_wx_recover, . - ipcb_wx_recover
"#
);

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
unsafe extern "C" {
    fn ipcb_wx_probe(kind: u64, addr: u64) -> u64;
    fn ipcb_wx_recover() -> !;
    static ipcb_wx_probe_store: u8;
}

/// The board's trap handler calls this first for every exception taken
/// from the kernel: during a probe, at the probe's access, it records the
/// fault and resumes the probe (it does not return); otherwise it returns.
pub fn kernel_fault(esr: u64, elr: u64, far: u64) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let store = core::ptr::addr_of!(ipcb_wx_probe_store) as u64;
        let target = IPCB_WX_TARGET.load(Ordering::Relaxed);
        if !(elr == store || elr == target) || !ARMED.swap(false, Ordering::AcqRel) {
            return;
        }
        for (slot, v) in FAULT.iter().zip([esr, far, elr]) {
            slot.store(v, Ordering::Relaxed);
        }
        // SAFETY: a probe is under way on this CPU (ARMED), so the saved
        // `sp` is ipcb_wx_probe's frame on this stack, above the trap
        // frame and this handler's; interrupts are masked.
        unsafe { ipcb_wx_recover() }
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = (esr, elr, far);
}

/// Probe `i` (see the module docs); `None` past the last.
pub fn probe(i: usize) -> Option<WxProbe> {
    let text = text_addr();
    let (what, addr, write) = match i {
        0 => ("write .text", text, true),
        1 => ("write .rodata", core::ptr::addr_of!(RODATA_BYTE) as u64, true),
        2 => ("write .text through the direct map", crate::paging::phys_to_virt(crate::paging::virt_to_phys(text)) as u64, true),
        3 => ("run .data", core::ptr::addr_of!(DATA_RET) as u64, false),
        4 => ("run the stack", 0, false),
        _ => return None,
    };
    IPCB_WX_TARGET.store(addr, Ordering::Relaxed);
    ARMED.store(true, Ordering::Release);
    let faulted = run(i as u64, addr);
    ARMED.store(false, Ordering::Release);
    let addr = IPCB_WX_TARGET.load(Ordering::Relaxed);
    IPCB_WX_TARGET.store(0, Ordering::Relaxed);
    let fault = faulted.then(|| {
        let [esr, far, elr] = FAULT.each_ref().map(|a| a.load(Ordering::Relaxed));
        Fault { vector: (esr >> 26) & 0x3F, error: esr, addr: far, pc: elr, task: None }
    });
    let refused = fault.is_some_and(|f| {
        let permission = f.error & 0b11_1100 == FSC_PERMISSION;
        let kind = if write {
            f.vector == ec::DABT_SAME && f.error & ESR_WNR != 0
        } else {
            f.vector == ec::IABT_SAME
        };
        permission && kind && f.addr == addr
    });
    Some(WxProbe { what, addr, fault, refused })
}

/// An address in `.text`: the probe's own code.
fn text_addr() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        ipcb_wx_probe as *const () as u64
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

fn run(kind: u64, addr: u64) -> bool {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        // SAFETY: each access either faults, and `kernel_fault` resumes
        // the probe, or goes through harmlessly: a byte written back
        // unchanged, a `ret`.
        unsafe { ipcb_wx_probe(kind, addr) != 0 }
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    {
        let _ = (kind, addr);
        false
    }
}
