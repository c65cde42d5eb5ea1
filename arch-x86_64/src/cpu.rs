// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-CPU state and descriptor tables: GDT, TSS, IDT, the `syscall` MSRs,
//! control-register features.
//!
//! GDT layout, fixed by `syscall`/`sysretq` (STAR):
//!
//! | selector | segment |
//! |---|---|
//! | 0x08 | kernel code (`syscall` loads CS = STAR\[47:32\]) |
//! | 0x10 | kernel data (SS = CS + 8) |
//! | 0x1b | user data (`sysretq` loads SS = STAR\[63:48\] + 8, RPL 3) |
//! | 0x23 | user code (CS = STAR\[63:48\] + 16, RPL 3) |
//! | 0x28 | TSS (two slots) |

use core::mem::MaybeUninit;
use core::ptr::{addr_of, addr_of_mut};

use x86_64::instructions::port::Port;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::{lidt, load_tss};
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::structures::DescriptorTablePointer;
use x86_64::{PrivilegeLevel, VirtAddr};

use crate::context::{Context, CTX_TOP};

/// Size of the per-CPU kernel stack (syscalls and traps).
pub const KSTACK_SIZE: usize = 64 * 1024;

/// The data the entry assembly finds at fixed offsets.
#[repr(C, align(64))]
pub struct PerCpu {
    /// Stack pointer at `syscall` entry: 8 below the top of this CPU's
    /// kernel stack (see `init`).
    pub kstack_top: u64,
    /// Saved context of the thread that is running (or last entered), plus
    /// [`CTX_TOP`]: the stack on which the `syscall` entry pushes the
    /// thread's preserved registers, stack pointer and return address.
    pub cur_top: u64,
    /// Stack pointer of the runtime driver while user code runs.
    pub driver_rsp: u64,
    /// The user stack pointer during an `invoke` (the entry's one save
    /// slot: the invoke path saves nothing else).
    pub user_rsp: u64,
    /// The user `rflags` of the full exit (`ipcb_exit_to_user`):
    /// [`crate::context::USER_RFLAGS`], or with `IF` while the watchdog is
    /// armed ([`set_user_interrupts`]). The fast exits load their phase's
    /// constant: each phase has its own copy of the `syscall` entry.
    pub user_rflags: u64,
    /// Scratch context: the current one before the first thread runs.
    pub dummy: Context,
}

/// Offset of [`PerCpu::kstack_top`].
pub const P_KSTACK: usize = core::mem::offset_of!(PerCpu, kstack_top);
/// Offset of [`PerCpu::cur_top`].
pub const P_TOP: usize = core::mem::offset_of!(PerCpu, cur_top);
/// Offset of [`PerCpu::driver_rsp`].
pub const P_DRIVER_RSP: usize = core::mem::offset_of!(PerCpu, driver_rsp);
/// Offset of [`PerCpu::user_rsp`].
pub const P_USER_RSP: usize = core::mem::offset_of!(PerCpu, user_rsp);
/// Offset of [`PerCpu::user_rflags`].
pub const P_RFLAGS: usize = core::mem::offset_of!(PerCpu, user_rflags);
/// Offset of [`PerCpu::dummy`].
pub const P_DUMMY: usize = core::mem::offset_of!(PerCpu, dummy);

/// This CPU's per-CPU block. Written by [`init`] / [`init_ap`] and by the
/// entry assembly, which finds it RIP-relative: it lives in the `.percpu`
/// region, which every CPU maps to its own copy at the same address
/// (`smp.rs`), so the one symbol names each CPU's own block.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".percpu")]
pub static mut IPCB_PERCPU: PerCpu = PerCpu {
    kstack_top: 0,
    cur_top: 0,
    driver_rsp: 0,
    user_rsp: 0,
    user_rflags: crate::context::USER_RFLAGS,
    dummy: Context {
        rax: 0, rdi: 0, rsi: 0, r12: 0, r13: 0, r14: 0, r15: 0, rbx: 0, rbp: 0, rsp: 0,
        rip: 0,
    },
};

#[repr(C, align(16))]
struct Stack([u8; KSTACK_SIZE]);

// The kernel stack, the fault (IST) stack, the GDT and the TSS are per-CPU
// too, at the same address on every CPU: TSS.rsp0, the IST pointer and the
// entry's `kstack_top` hold the same value everywhere. `.percpu` is not
// loaded from the image (link.ld): whatever the initialiser says, the
// region starts zeroed, and `load_local` writes each of these before use.
//
// What the CPU itself reads or writes on an interrupt or exception from
// user mode (GDT, TSS, the IST stacks, the entry stack) and the kernel
// isolation mode are in `.percpu.entry`, the region's first pages: with
// kernel isolation on (`kpti.rs`) they are the per-CPU part that the user
// page tables keep.
#[unsafe(link_section = ".percpu")]
static mut KSTACK: Stack = Stack([0; KSTACK_SIZE]);
#[unsafe(link_section = ".percpu.entry")]
static mut FAULT_STACK: Stack = Stack([0; KSTACK_SIZE]);
/// The NMI's stack (IST 2): apart from the fault stack, so that an NMI
/// during a fault's handler, or a #MC during an NMI, does not overwrite
/// the other's frame. The NMI stub pushes nothing but the CPU's frame
/// (and, with kernel isolation, two registers).
#[unsafe(link_section = ".percpu.entry")]
static mut NMI_STACK: NmiStack = NmiStack([0; NMI_STACK_SIZE]);
const NMI_STACK_SIZE: usize = 4096;
#[repr(C, align(16))]
pub(crate) struct NmiStack([u8; NMI_STACK_SIZE]);

/// With kernel isolation on, `TSS.rsp0`: where the CPU pushes the frame of
/// an interrupt or exception from user mode, while the user page tables
/// (which do not map the kernel stack) are still loaded. The entry moves
/// the frame to the kernel stack once it has switched to the kernel's
/// tables (`entry.rs`, `IPCB_TRAP_ENTER`); the watchdog's return to user
/// mode moves it back (`IPCB_IRET`). Unused with isolation off.
#[unsafe(link_section = ".percpu.entry")]
#[cfg_attr(not(target_os = "none"), allow(dead_code))] // the entry (assembly) and kpti.rs
pub(crate) static mut ENTRY_STACK: NmiStack = NmiStack([0; NMI_STACK_SIZE]);
/// Size of [`ENTRY_STACK`].
#[cfg_attr(not(target_os = "none"), allow(dead_code))] // the entry (assembly) and kpti.rs
pub(crate) const ENTRY_STACK_SIZE: usize = NMI_STACK_SIZE;

/// Kernel isolation on this CPU (`kpti.rs`): [`KPTI_OFF`], [`KPTI_ON`]
/// (CR3 switches flush the TLB) or [`KPTI_PCID`] (each space has a
/// kernel and a user PCID; the switches flush nothing). In
/// `.percpu.entry`: the entry's slow paths read it under either set of
/// page tables. The fast paths never read it: each mode has its own copy
/// of the `syscall` entry, which LSTAR names.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".percpu.entry")]
pub static mut IPCB_KPTI_MODE: u64 = KPTI_OFF;
/// With kernel isolation on, this CPU's kernel PML4 (physical): the NMI
/// loads it around its count, whatever tables it interrupted.
#[unsafe(link_section = ".percpu.entry")]
#[cfg_attr(not(target_os = "none"), allow(dead_code))] // the entry (assembly) and kpti.rs
pub(crate) static mut KPTI_KERNEL_CR3: u64 = 0;
/// Kernel isolation off: one page-table tree per space, the kernel in it.
pub const KPTI_OFF: u64 = 0;
/// Kernel isolation on, without PCID.
pub const KPTI_ON: u64 = 1;
/// Kernel isolation on, with PCID.
pub const KPTI_PCID: u64 = 2;

/// This CPU's kernel isolation mode.
pub fn kpti_mode() -> u64 {
    // SAFETY: this CPU's own copy; written only by `kpti::enable` on this CPU.
    unsafe { *addr_of!(IPCB_KPTI_MODE) }
}

/// NMIs taken, on every CPU (the NMI stub in entry.rs counts them).
pub static NMI_COUNT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// `IA32_MCG_STATUS` (0 on a CPU without the machine-check MSRs).
pub fn mcg_status() -> u64 {
    let (.., edx) = cpuid(1, 0);
    if edx & (1 << 7) == 0 {
        return 0;
    }
    // SAFETY: CPUID says the machine-check MSRs exist; reading has no
    // side effect.
    unsafe { x86_64::registers::model_specific::Msr::new(0x17A).read() }
}

/// NMIs taken so far, on every CPU.
pub fn nmis() -> u64 {
    NMI_COUNT.load(core::sync::atomic::Ordering::Relaxed)
}

#[unsafe(link_section = ".percpu.entry")]
static mut GDT: MaybeUninit<GlobalDescriptorTable<8>> = MaybeUninit::uninit();
#[unsafe(link_section = ".percpu.entry")]
static mut TSS: MaybeUninit<TaskStateSegment> = MaybeUninit::uninit();

/// The watchdog's interrupt vector (`watchdog.rs`): priority class 0xE,
/// above the wake-up IPI's (0x40), which a CPU takes only in
/// `smp::park`. Defined here, beside the IDT that has its gate, so that
/// this module needs nothing of the watchdog's.
pub const WATCHDOG_VECTOR: u8 = 0xE0;

/// The IDT, shared by all CPUs (written once by the boot CPU): the 32
/// exception gates, then every other vector on a stub that returns at
/// once (the kernel takes no interrupts; a parked CPU is woken from `hlt`
/// by an IPI, `smp.rs`). One 4 KiB page of its own, read-only once
/// written ([`init`]): a stray kernel write cannot redirect an exception.
#[repr(C, align(4096))]
struct Idt([u64; 512]);
const _: () = assert!(core::mem::size_of::<Idt>() == 4096);
static mut IDT: Idt = Idt([0; 512]);

/// The lowest address of this CPU's entry stack.
#[cfg_attr(not(target_os = "none"), allow(dead_code))] // the entry (assembly) and kpti.rs
pub(crate) fn entry_stack_base() -> u64 {
    addr_of!(ENTRY_STACK) as u64
}

/// The lowest address of this CPU's kernel stack.
#[cfg_attr(not(target_os = "none"), allow(dead_code))] // the entry (assembly) and kpti.rs
pub(crate) fn kstack_base() -> u64 {
    addr_of!(KSTACK) as u64
}

/// The IDT's address (the W^X self-test writes there, and must fault).
pub fn idt_addr() -> u64 {
    addr_of!(IDT) as u64
}

unsafe extern "C" {
    /// Addresses of the 32 exception stubs (entry.rs).
    static ipcb_trap_stubs: [u64; 32];
    /// `syscall` entry (entry.rs).
    fn ipcb_syscall_entry();
    /// The same entry, returning to user mode with interrupts on (entry.rs).
    fn ipcb_syscall_entry_irq();
    /// The floor entry (entry.rs).
    fn ipcb_floor_entry();
    /// The three entries again, with kernel isolation (entry.rs): CR3
    /// switches that flush the TLB ...
    fn ipcb_syscall_entry_kpti();
    fn ipcb_syscall_entry_irq_kpti();
    fn ipcb_floor_entry_kpti();
    /// ... and with PCID, switches that keep it.
    fn ipcb_syscall_entry_pcid();
    fn ipcb_syscall_entry_irq_pcid();
    fn ipcb_floor_entry_pcid();
    /// The watchdog timer's interrupt stub (entry.rs).
    fn ipcb_watchdog_irq();
    /// Stub for vectors 32..255: `iretq` (entry.rs).
    fn ipcb_irq_ignore();
    /// NMI stub: count, `iretq` (entry.rs).
    fn ipcb_nmi();
}

/// Which `syscall` entry LSTAR names: for the timed runs (interrupts off),
/// for the rest while the watchdog is armed (`irq`), or the floor's; each
/// in the copy of this CPU's kernel isolation mode.
fn entry(irq: bool, floor: bool) -> u64 {
    let e: unsafe extern "C" fn() = match (kpti_mode(), floor, irq) {
        (KPTI_OFF, true, _) => ipcb_floor_entry,
        (KPTI_OFF, false, false) => ipcb_syscall_entry,
        (KPTI_OFF, false, true) => ipcb_syscall_entry_irq,
        (KPTI_ON, true, _) => ipcb_floor_entry_kpti,
        (KPTI_ON, false, false) => ipcb_syscall_entry_kpti,
        (KPTI_ON, false, true) => ipcb_syscall_entry_irq_kpti,
        (_, true, _) => ipcb_floor_entry_pcid,
        (_, false, false) => ipcb_syscall_entry_pcid,
        (_, false, true) => ipcb_syscall_entry_irq_pcid,
    };
    e as *const () as u64
}

/// User mode with interrupts on (`on`: outside the timed runs, while the
/// watchdog is armed) or off (the timed runs, as the ABI's fixed `rflags`
/// say): LSTAR names the `syscall` entry whose exits load that phase's
/// `rflags` constant, and the full exit's per-CPU value follows. The timed
/// runs' entry is the one that was always there, instruction for
/// instruction; switching costs nothing on any `syscall`.
pub fn set_user_interrupts(on: bool) {
    let rflags = if on { crate::context::USER_RFLAGS_IRQ } else { crate::context::USER_RFLAGS };
    // SAFETY: this CPU's own block; no kernel entry runs meanwhile (the
    // driver calls this between runs of user mode).
    unsafe { (*addr_of_mut!(IPCB_PERCPU)).user_rflags = rflags };
    LStar::write(VirtAddr::new(entry(on, false)));
}

/// Point LSTAR at the floor entry (`on`) or the normal syscall entry.
pub fn set_floor_entry(on: bool) {
    LStar::write(VirtAddr::new(entry(false, on)));
}

/// Turn kernel isolation on for this CPU (`kpti.rs` has built its user
/// page tables): the mode the entry's slow paths read, `TSS.rsp0` on the
/// entry stack, no global pages (a global translation of a kernel page
/// would outlive the switch to the user tables), the entry copy of the
/// mode in LSTAR. Returns the mode.
///
/// # Safety
///
/// On this CPU, interrupts off, before any user space of it exists
/// (spaces made before have no user tables), with the user tables of
/// every later space built by `paging::new_space` in this mode.
#[cfg_attr(not(target_os = "none"), allow(dead_code))] // the entry (assembly) and kpti.rs
pub(crate) unsafe fn enable_kpti() -> u64 {
    let mode = if features().pcid { KPTI_PCID } else { KPTI_ON };
    // SAFETY: this CPU's own copies (per the caller); the TSS is loaded,
    // and `rsp0` is read by the CPU only at the next entry from user mode.
    unsafe {
        *addr_of_mut!(KPTI_KERNEL_CR3) = crate::percpu::kernel_pml4();
        *addr_of_mut!(IPCB_KPTI_MODE) = mode;
        let tss = (*addr_of_mut!(TSS)).assume_init_mut();
        tss.privilege_stack_table[0] =
            VirtAddr::new(addr_of!(ENTRY_STACK) as u64 + ENTRY_STACK_SIZE as u64);
        // Clearing PGE flushes every translation, the global ones too.
        Cr4::write(Cr4::read() - Cr4Flags::PAGE_GLOBAL);
    }
    set_user_interrupts(false);
    mode
}

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// User code selector (RPL 3).
pub const USER_CS: u16 = 0x23;
/// User data selector (RPL 3).
pub const USER_SS: u16 = 0x1b;

/// Features found by [`init`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// Process-context identifiers are on (CR4.PCIDE).
    pub pcid: bool,
    /// Supervisor-mode execution prevention is on.
    pub smep: bool,
    /// Supervisor-mode access prevention is on.
    pub smap: bool,
}

static mut FEATURES: Features = Features { pcid: false, smep: false, smap: false };

/// The features [`init`] turned on.
pub fn features() -> Features {
    // SAFETY: written once by `init` before any reader runs.
    unsafe { *addr_of!(FEATURES) }
}

/// `cpuid` leaf `leaf`, subleaf `sub`: (eax, ebx, ecx, edx).
#[inline]
pub fn cpuid(leaf: u32, sub: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Set up the boot CPU for the kernel: the shared IDT, then this CPU's
/// descriptor tables, `syscall` MSRs and control-register features
/// (`load_local`); mask the legacy PIC.
///
/// # Safety
///
/// Call once, on the boot CPU, with interrupts off, before any user code,
/// with the `.percpu` region mapped (`smp::init_bsp`).
pub unsafe fn init() -> Features {
    // SAFETY: single-threaded boot; nothing else uses these statics yet.
    unsafe {
        // Exception gates: interrupt gates, DPL 0 (so `int n` from user
        // mode is a #GP); #DF / #MC on the fault (IST 1) stack; the NMI on
        // a stack of its own (IST 2), where its stub counts it and returns.
        // The watchdog's timer vector: its stub (kills a task that ran
        // past its budget, `watchdog.rs`). Vectors 32 and up otherwise:
        // the stub that only returns.
        let idt = &mut *addr_of_mut!(IDT);
        let stubs = &*addr_of!(ipcb_trap_stubs);
        for v in 0..256 {
            let addr = match v {
                2 => ipcb_nmi as *const () as u64,
                v if v == usize::from(WATCHDOG_VECTOR) => ipcb_watchdog_irq as *const () as u64,
                _ => stubs.get(v).copied().unwrap_or(ipcb_irq_ignore as *const () as u64),
            };
            let ist: u64 = match v {
                2 => 2,
                8 | 18 => 1,
                _ => 0,
            };
            idt.0[2 * v] = (addr & 0xFFFF)
                | (u64::from(KERNEL_CS) << 16)
                | (ist << 32)
                | (0x8E << 40)
                | (((addr >> 16) & 0xFFFF) << 48);
            idt.0[2 * v + 1] = addr >> 32;
        }
        // Written: read-only from here on, before any other CPU starts.
        #[cfg(target_os = "none")]
        if !crate::paging::protect_kernel_page(addr_of!(IDT) as u64) {
            panic!("the IDT is outside the kernel's split page tables: it stays writable");
        }

        // Legacy PIC: mask everything (the firmware may have left the PIT on).
        Port::<u8>::new(0x21).write(0xFF);
        Port::<u8>::new(0xA1).write(0xFF);

        // Control registers: user RDPMC (as L4Re), global pages, PCID,
        // SMEP and SMAP where the CPU has them.
        let (_, _, ecx1, _) = cpuid(1, 0);
        let (max_leaf, ..) = cpuid(0, 0);
        let ebx7 = if max_leaf >= 7 { cpuid(7, 0).1 } else { 0 };
        let mut f = Features {
            pcid: ecx1 & (1 << 17) != 0,
            smep: ebx7 & (1 << 7) != 0,
            smap: ebx7 & (1 << 20) != 0,
        };
        let mut cr4 = Cr4::read() | Cr4Flags::PERFORMANCE_MONITOR_COUNTER | Cr4Flags::PAGE_GLOBAL;
        cr4.remove(Cr4Flags::TIMESTAMP_DISABLE);
        if f.smep {
            cr4 |= Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION;
        }
        if f.smap {
            cr4 |= Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION;
        }
        // PCIDE needs CR3[11:0] = 0, which holds for the boot tables.
        if f.pcid {
            cr4 |= Cr4Flags::PCID;
        }
        Cr4::write(cr4);
        f.pcid = Cr4::read().contains(Cr4Flags::PCID);
        // No FPU in user mode: with CR0.EM every x87 and MMX instruction
        // is #NM (SSE is #UD without CR4.OSFXSR), so no task reads
        // another's x87 registers (the kernel switches no FPU state; the
        // secondaries copy this CR0). Found by the syscall fuzzer.
        Cr0::write(Cr0::read() | Cr0Flags::EMULATE_COPROCESSOR);
        *addr_of_mut!(FEATURES) = f;
        load_local();
        f
    }
}

/// Set up a secondary CPU as [`init`] set up the boot CPU: the same CR4
/// (`cr4`, the boot CPU's value: PCID, SMEP, SMAP, user RDPMC, global
/// pages), then `load_local`.
///
/// # Safety
///
/// Once per secondary CPU, interrupts off, its `.percpu` copy mapped, after
/// the boot CPU's [`init`]; CR3 must have bits 11:0 clear (for PCIDE).
pub unsafe fn init_ap(cr4: u64) {
    // SAFETY: the boot CPU's CR4 holds only features this CPU has too
    // (the CPUs of one system are identical in them).
    unsafe {
        Cr4::write_raw(cr4);
        load_local();
    }
}

/// This CPU's own part: its per-CPU block, GDT, TSS, the shared IDT, the
/// `syscall` MSRs. Every static touched here is in `.percpu`, so the same
/// code sets up each CPU's own copy.
///
/// # Safety
///
/// Interrupts off, this CPU's `.percpu` copy mapped, once per CPU.
unsafe fn load_local() {
    // SAFETY: this CPU's own copies; nothing else uses them yet.
    unsafe {
        let kstack_top = addr_of!(KSTACK) as u64 + KSTACK_SIZE as u64;
        let pc = &mut *addr_of_mut!(IPCB_PERCPU);
        // The syscall entry pushes one word before its call: start 8 bytes
        // down so the call sees the 16-byte alignment SysV wants.
        pc.kstack_top = kstack_top - 8;
        pc.cur_top = addr_of_mut!(pc.dummy) as u64 + CTX_TOP as u64;
        pc.user_rflags = crate::context::USER_RFLAGS;
        // Isolation off until `kpti::enable` runs on this CPU (a secondary's
        // region is a clone of the boot CPU's, mode included).
        *addr_of_mut!(IPCB_KPTI_MODE) = KPTI_OFF;

        let tss = (*addr_of_mut!(TSS)).write(TaskStateSegment::new());
        tss.privilege_stack_table[0] = VirtAddr::new(kstack_top);
        tss.interrupt_stack_table[0] =
            VirtAddr::new(addr_of!(FAULT_STACK) as u64 + KSTACK_SIZE as u64);
        tss.interrupt_stack_table[1] =
            VirtAddr::new(addr_of!(NMI_STACK) as u64 + NMI_STACK_SIZE as u64);

        let gdt = (*addr_of_mut!(GDT)).write(GlobalDescriptorTable::new());
        let kcs = gdt.append(Descriptor::kernel_code_segment());
        let kss = gdt.append(Descriptor::kernel_data_segment());
        let uss = gdt.append(Descriptor::user_data_segment());
        let ucs = gdt.append(Descriptor::user_code_segment());
        let tss_sel = gdt.append(Descriptor::tss_segment((*addr_of!(TSS)).assume_init_ref()));
        debug_assert_eq!((kcs.0, kss.0, uss.0, ucs.0), (KERNEL_CS, 0x10, USER_SS, USER_CS));
        (*addr_of!(GDT)).assume_init_ref().load();
        CS::set_reg(kcs);
        SS::set_reg(kss);
        DS::set_reg(kss);
        ES::set_reg(kss);
        load_tss(tss_sel);

        lidt(&DescriptorTablePointer {
            limit: (core::mem::size_of::<Idt>() - 1) as u16,
            base: VirtAddr::new(addr_of!(IDT) as u64),
        });

        // syscall: CS/SS from STAR, entry at LSTAR, IF/TF/DF/AC/NT cleared.
        Star::write(
            SegmentSelector::new(4, PrivilegeLevel::Ring3),
            SegmentSelector::new(3, PrivilegeLevel::Ring3),
            SegmentSelector::new(1, PrivilegeLevel::Ring0),
            SegmentSelector::new(2, PrivilegeLevel::Ring0),
        )
        .expect("GDT layout matches STAR");
        LStar::write(VirtAddr::new(ipcb_syscall_entry as *const () as u64));
        SFMask::write(
            RFlags::INTERRUPT_FLAG
                | RFlags::TRAP_FLAG
                | RFlags::DIRECTION_FLAG
                | RFlags::ALIGNMENT_CHECK
                | RFlags::NESTED_TASK,
        );
    }
}
