// SPDX-License-Identifier: MIT OR Apache-2.0
//! The fuzz roles' machine on x86_64: the stub that loads every register
//! (flags and `rsp` included) from the scratch page, makes one `syscall`
//! and stores every register back; and the faults on purpose.

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
        // SAFETY: the block saves every register the compiler expects
        // preserved (rbx, rbp, r12-r15) on its own stack and restores them;
        // the others are declared clobbered. While the syscall runs `rsp`
        // holds the input value (the kernel never uses the user stack);
        // the real one is kept in the scratch page and restored right
        // after, before any push. It reads and writes only the scratch
        // page's words 0..81 through `rbx`. DF is cleared before the end.
        unsafe {
            asm!(
                "push rbx",                   // save what the compiler keeps
                "push rbp",
                "push r12",
                "push r13",
                "push r14",
                "push r15",
                "mov rbx, rax",               // rbx = scratch page (kept across the call)
                "mov [rbx + 8*80], rsp",      // saved sp
                "mov [rbx + 8*3], rbx",       // in[rbx] = the base itself
                "push qword ptr [rbx + 8*32]",// the flags to load
                "mov rcx, [rbx + 8*1]",       // every register from in[..]
                "mov rdx, [rbx + 8*2]",
                "mov rbp, [rbx + 8*5]",
                "mov rsi, [rbx + 8*6]",
                "mov rdi, [rbx + 8*7]",
                "mov r8, [rbx + 8*8]",
                "mov r9, [rbx + 8*9]",
                "mov r10, [rbx + 8*10]",
                "mov r11, [rbx + 8*11]",
                "mov r12, [rbx + 8*12]",
                "mov r13, [rbx + 8*13]",
                "mov r14, [rbx + 8*14]",
                "mov r15, [rbx + 8*15]",
                "mov rax, [rbx]",             // the number
                "popfq",                      // rflags = in[32]
                "mov rsp, [rbx + 8*4]",       // rsp = in[4]
                "syscall",                    // kernel
                "mov [rbx + 8*40], rax",      // out[..] = every register
                "mov [rbx + 8*41], rcx",
                "mov [rbx + 8*42], rdx",
                "mov [rbx + 8*43], rbx",
                "mov [rbx + 8*44], rsp",
                "mov [rbx + 8*45], rbp",
                "mov [rbx + 8*46], rsi",
                "mov [rbx + 8*47], rdi",
                "mov [rbx + 8*48], r8",
                "mov [rbx + 8*49], r9",
                "mov [rbx + 8*50], r10",
                "mov [rbx + 8*51], r11",
                "mov [rbx + 8*52], r12",
                "mov [rbx + 8*53], r13",
                "mov [rbx + 8*54], r14",
                "mov [rbx + 8*55], r15",
                "mov rsp, [rbx + 8*80]",      // our own stack again
                "pushfq",                     // out[32] = rflags
                "pop qword ptr [rbx + 8*72]",
                "cld",
                "pop r15",                    // restore
                "pop r14",
                "pop r13",
                "pop r12",
                "pop rbp",
                "pop rbx",
                inout("rax") self.scratch => _,
                out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
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
    let sse = r.chance(128);
    let gate = r.below(10);
    match f {
        FaultKind::KernelRead => sys::fault(Fault::KernelRead, code),
        FaultKind::WriteCode => sys::fault(Fault::WriteCode, code),
        FaultKind::Privileged if gate < 4 => sys::fault(Fault::Privileged, code),
        // SAFETY: privileged instructions at CPL 3 (#GP each): `cli`, an
        // I/O port read, `rdmsr`, a CR3 write, `wbinvd`, `lgdt`; none
        // runs, so nothing changes (the registers they name are declared).
        FaultKind::Privileged => unsafe {
            match gate {
                4 => asm!("cli", options(nomem, nostack)),
                5 => asm!("in al, 0x80", out("al") _, options(nomem, nostack)),
                6 => asm!("rdmsr", in("ecx") 0xC000_0080u32, out("eax") _, out("edx") _, options(nomem, nostack)),
                7 => asm!("mov cr3, {a}", a = in(reg) 0u64, options(nostack)),
                8 => asm!("wbinvd", options(nomem, nostack)),
                _ => asm!("lgdt [{a}]", a = in(reg) code, options(nostack)),
            }
        },
        FaultKind::Undefined => sys::fault(Fault::Undefined, code),
        FaultKind::NullRead => sys::fault(Fault::NullRead, code),
        FaultKind::NxStack => sys::fault(Fault::NxStack, code),
        // SAFETY: a load from an address no task maps, result dropped.
        FaultKind::WildRead => unsafe {
            asm!("mov {t}, qword ptr [{a}]", a = in(reg) wild, t = lateout(reg) _, options(nostack, readonly));
        },
        // SAFETY: a store to an address no task maps.
        FaultKind::WildWrite => unsafe {
            asm!("mov qword ptr [{a}], {a}", a = in(reg) wild, options(nostack));
        },
        // SAFETY: a call to an address no task maps (the C ABI's clobbers).
        FaultKind::WildJump => unsafe {
            asm!("call {a}", a = in(reg) wild, clobber_abi("sysv64"));
        },
        // SAFETY: `int3` (#BP) changes nothing if it passes.
        FaultKind::Breakpoint => unsafe {
            asm!("int3", options(nomem, nostack));
        },
        // SAFETY: `int n` through a kernel-only gate (#GP): the vectors of
        // exceptions with and without an error code, the NMI's, an
        // interrupt's and two software ones; registers only.
        FaultKind::Gate => unsafe {
            match gate {
                // `sysenter` (#UD in long mode on AMD, #GP with the MSRs
                // zero on Intel); `iretq` to ring 0 (#GP); a kernel data
                // selector into SS (#GP: RPL 0 at CPL 3).
                0 if wild & 1 == 0 => asm!("sysenter", options(nomem, nostack)),
                0 if wild & 2 == 0 => asm!(
                    "mov {s}, rsp",
                    "push 0x10",        // SS: kernel data
                    "push {s}",         // RSP
                    "pushfq",
                    "push 0x08",        // CS: kernel code
                    "lea {t}, [rip]",
                    "push {t}",         // RIP
                    "iretq",            // #GP
                    "mov rsp, {s}",
                    s = out(reg) _,
                    t = out(reg) _,
                ),
                0 => asm!("mov {t:x}, 0x10", "mov ss, {t:x}", t = out(reg) _, options(nomem, nostack)),
                1 if wild & 1 == 0 => asm!("int 1", options(nomem, nostack)),
                1 => asm!("int 2", options(nomem, nostack)),
                2 => asm!("int 8", options(nomem, nostack)),
                3 => asm!("int 13", options(nomem, nostack)),
                4 => asm!("int 14", options(nomem, nostack)),
                5 => asm!("int 18", options(nomem, nostack)),
                6 => asm!("int 32", options(nomem, nostack)),
                7 => asm!("int 0xff", options(nomem, nostack)),
                _ => asm!("int 0x80", options(nomem, nostack)),
            }
        },
        // SAFETY: TF set for one `nop` (#DB after it), or for a `null`
        // syscall (the kernel's entry runs with TF masked; `sysretq`
        // restores it: #DB after the next instruction); cleared again.
        FaultKind::Step => unsafe {
            if gate & 1 == 0 {
                asm!(
                    "pushfq",
                    "or qword ptr [rsp], 0x100", // TF
                    "popfq",
                    "nop",                       // #DB after this one
                    "pushfq",
                    "and qword ptr [rsp], -0x101",
                    "popfq",
                );
            } else {
                asm!(
                    "pushfq",
                    "or qword ptr [rsp], 0x100", // TF
                    "popfq",
                    "syscall",                   // null, single-stepped
                    "nop",
                    "pushfq",
                    "and qword ptr [rsp], -0x101",
                    "popfq",
                    inout("rax") 0u64 => _,
                    out("rcx") _, out("r11") _,
                );
            }
        },
        // SAFETY: a push through a wild rsp (#PF, or #SS when
        // non-canonical); the real rsp is back before anything else.
        FaultKind::WildStack => unsafe {
            asm!(
                "mov {s}, rsp",
                "mov rsp, {a}",
                "push {a}",
                "mov rsp, {s}",
                a = in(reg) wild,
                s = out(reg) _,
            );
        },
        // SAFETY: SSE (#UD without CR4.OSFXSR) or x87 (#NM or #UD when the
        // kernel gives user mode no FPU): registers only.
        FaultKind::Float => unsafe {
            if sse {
                asm!("xorps xmm0, xmm0", out("xmm0") _, options(nomem, nostack));
            } else {
                asm!("fninit", "fld1", "fstp st(0)", options(nomem, nostack));
            }
        },
        // SAFETY: a division by zero (#DE), registers declared.
        FaultKind::Divide => unsafe {
            asm!("xor edx, edx", "div {d}", d = in(reg) 0u64, inout("rax") wild => _, out("rdx") _, options(nomem, nostack));
        },
        // SAFETY: a call into the UTCB, mapped no-execute.
        FaultKind::RunUtcb => unsafe {
            asm!("call {a}", a = in(reg) crate::fuzz::UTCB_BASE, clobber_abi("sysv64"));
        },
    }
    gate
}
