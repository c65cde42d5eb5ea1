// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel's W^X self-test (`selftest=wx`, [`runtime::Machine::wx_probe`]).
//!
//! Each probe tries, in ring 0 on the boot CPU, an access that the kernel's
//! own mappings (`paging.rs`, `ipcb_protect_kernel`) must refuse:
//!
//! 0. a write to `.text` (the byte read there, written back: harmless if
//!    it went through);
//! 1. a write to `.rodata` (likewise; refused only with `CR0.WP` on);
//! 2. a call into `.data` (a `ret` there);
//! 3. a call into the stack (a `ret` pushed there);
//! 4. a write to the IDT (read-only once the boot CPU has written it).
//!
//! `ipcb_wx_probe` saves the callee-saved registers and the stack pointer,
//! arms the probe and makes the access. The board's trap handler passes
//! every kernel-mode exception to [`kernel_fault`] first: when a probe is
//! armed and the exception is at the probe's instruction (or, for a call,
//! at its target), it records the fault and resumes `ipcb_wx_probe` after
//! the access (`ipcb_wx_recover`: back to the saved stack pointer, which
//! drops the exception frame, and return 1). Interrupts are off in the
//! kernel, so nothing else runs on that stack meanwhile. Otherwise it
//! returns, and the board reports the kernel exception as always.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use runtime::{Fault, WxProbe};

/// A probe is under way.
static ARMED: AtomicBool = AtomicBool::new(false);
/// The address the running probe accesses (the stack probe's is set by
/// the assembly).
#[unsafe(no_mangle)]
static IPCB_WX_TARGET: AtomicU64 = AtomicU64::new(0);
/// The stack pointer `ipcb_wx_recover` goes back to.
#[unsafe(no_mangle)]
static IPCB_WX_RSP: AtomicU64 = AtomicU64::new(0);
/// The fault the running probe raised: vector, error code, CR2, rip.
static FAULT: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// A `ret` in `.data` (writable, so never executable).
static mut DATA_RET: [u8; 16] = [0xC3; 16];
/// A byte of `.rodata`.
static RODATA_BYTE: u8 = 0x5A;

const KIND_WRITE_TEXT: u64 = 0;
const KIND_WRITE_RODATA: u64 = 1;
const KIND_RUN_DATA: u64 = 2;
const KIND_RUN_STACK: u64 = 3;
/// Probe 4 writes the IDT (read-only once written, `cpu::init`).
const PROBE_WRITE_IDT: u64 = 4;

/// Page-fault error code: protection violation (P), write (W), user (U),
/// instruction fetch (I/D).
const PF_P: u64 = 1;
const PF_W: u64 = 2;
const PF_U: u64 = 4;
const PF_I: u64 = 16;

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .text.ipcb_wx_probe, "ax"
    /* rdi = kind, rsi = address; rax = 0: no fault, 1: faulted. */
    .global ipcb_wx_probe
ipcb_wx_probe:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rip + IPCB_WX_RSP], rsp
    cmp rdi, 2
    jae 2f
    mov al, [rsi]
    .global ipcb_wx_probe_store
ipcb_wx_probe_store:
    mov [rsi], al                           /* kinds 0, 1: write it back  */
    jmp 3f
2:  je 4f
    sub rsp, 16                             /* kind 3: a ret on the stack */
    mov byte ptr [rsp], 0xC3
    mov [rip + IPCB_WX_TARGET], rsp
    mov rsi, rsp
    call rsi
    add rsp, 16
    jmp 3f
4:  call rsi                                /* kind 2: the ret in .data   */
3:  xor eax, eax
5:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

    /* From the trap handler: drop everything below the probe's frame. */
    .global ipcb_wx_recover
ipcb_wx_recover:
    mov rsp, [rip + IPCB_WX_RSP]
    mov eax, 1
    jmp 5b
"#
);

#[cfg(target_os = "none")]
unsafe extern "sysv64" {
    fn ipcb_wx_probe(kind: u64, addr: u64) -> u64;
    fn ipcb_wx_recover() -> !;
    static ipcb_wx_probe_store: u8;
}

/// The board's trap handler calls this first for every exception in
/// kernel mode: during a probe, at the probe's access, it records the
/// fault and resumes the probe (it does not return); otherwise it returns.
pub fn kernel_fault(vector: u64, error: u64, rip: u64, cr2: u64) {
    #[cfg(target_os = "none")]
    {
        let store = core::ptr::addr_of!(ipcb_wx_probe_store) as u64;
        let target = IPCB_WX_TARGET.load(Ordering::Relaxed);
        if !(rip == store || rip == target) || !ARMED.swap(false, Ordering::AcqRel) {
            return;
        }
        for (slot, v) in FAULT.iter().zip([vector, error, cr2, rip]) {
            slot.store(v, Ordering::Relaxed);
        }
        // SAFETY: a probe is under way on this CPU (ARMED), so the saved
        // stack pointer is ipcb_wx_probe's frame on this stack, above the
        // exception's frame and this handler's; interrupts are off.
        unsafe { ipcb_wx_recover() }
    }
    #[cfg(not(target_os = "none"))]
    let _ = (vector, error, rip, cr2);
}

/// Probe `i` (see the module docs); `None` past the last.
pub fn probe(i: usize) -> Option<WxProbe> {
    let (kind, what, addr, want) = match i as u64 {
        KIND_WRITE_TEXT => (KIND_WRITE_TEXT, "write .text", text_addr(), PF_P | PF_W),
        KIND_WRITE_RODATA => (KIND_WRITE_RODATA, "write .rodata", core::ptr::addr_of!(RODATA_BYTE) as u64, PF_P | PF_W),
        KIND_RUN_DATA => (KIND_RUN_DATA, "run .data", core::ptr::addr_of!(DATA_RET) as u64, PF_P | PF_I),
        KIND_RUN_STACK => (KIND_RUN_STACK, "run the stack", 0, PF_P | PF_I),
        // A write (the `.rodata` probe's access) to the IDT's page.
        PROBE_WRITE_IDT => (KIND_WRITE_RODATA, "write the IDT", crate::cpu::idt_addr(), PF_P | PF_W),
        _ => return None,
    };
    IPCB_WX_TARGET.store(addr, Ordering::Relaxed);
    ARMED.store(true, Ordering::Release);
    let faulted = run(kind, addr);
    ARMED.store(false, Ordering::Release);
    let addr = IPCB_WX_TARGET.load(Ordering::Relaxed);
    IPCB_WX_TARGET.store(0, Ordering::Relaxed);
    let fault = faulted.then(|| {
        let [vector, error, cr2, rip] = FAULT.each_ref().map(|a| a.load(Ordering::Relaxed));
        Fault { vector, error, addr: cr2, pc: rip, task: None }
    });
    let refused = fault.is_some_and(|f| {
        f.vector == 14 && f.error & (PF_P | PF_W | PF_U | PF_I) == want && f.addr == addr
    });
    Some(WxProbe { what, addr, fault, refused })
}

/// An address in `.text`: the probe's own code.
fn text_addr() -> u64 {
    #[cfg(target_os = "none")]
    {
        ipcb_wx_probe as *const () as u64
    }
    #[cfg(not(target_os = "none"))]
    0
}

fn run(kind: u64, addr: u64) -> bool {
    #[cfg(target_os = "none")]
    {
        // SAFETY: each access either faults, and `kernel_fault` resumes
        // the probe, or goes through harmlessly: a byte written back
        // unchanged, a `ret`.
        unsafe { ipcb_wx_probe(kind, addr) != 0 }
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = (kind, addr);
        false
    }
}
