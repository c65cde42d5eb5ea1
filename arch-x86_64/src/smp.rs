// SPDX-License-Identifier: MIT OR Apache-2.0
//! SMP: per-CPU data by page-table aliasing, the CPU list from the ACPI
//! MADT, and the start of the other CPUs (INIT-SIPI-SIPI).
//!
//! **Per-CPU data without a per-CPU instruction.** Everything a CPU's
//! kernel writes on its IPC path (the entry's per-CPU block, the kernel
//! and fault stacks, GDT and TSS, the board's kernel state) is linked into
//! the `.percpu` section at [`PERCPU_VA`], the first 2 MiB after the
//! kernel's GiB (page-directory-pointer entry 511 of the kernel half).
//! Each CPU has its own physical copy of that region (a 2 MiB page) and
//! its own copy of the page-table path to it: its own PML4, its own PDPT
//! (entry 510, the kernel image and direct map, shared; entry 511, its
//! own) and its own page directory (entry 0: its region; entry 1: the
//! shared device page table with the local APIC). A user address space
//! created on a CPU copies that CPU's kernel PML4 entry
//! (`paging::new_space`), and tasks never leave the CPU that built them.
//! So `[rip + IPCB_PERCPU]` in the entry assembly and `&mut STATE` in the
//! Rust fastpath reach the running CPU's own copy, with exactly the
//! instructions of the single-CPU kernel: no `swapgs`, no `gs:` prefix,
//! no CPU number, no lock. The region is mapped global (its translation
//! survives address-space switches, as the kernel image's does): a CPU's
//! TLB only ever holds its own CPU's translation.
//!
//! **Memory layout at boot** ([`init_bsp`]): in the usable RAM of the
//! firmware's map ([`crate::memmap`]), less the kernel image, the boot
//! loader's data and the first MiB: the frame allocator gets the largest
//! free range, and each CPU a 2 MiB-aligned chunk, from the other ranges
//! first, then from the bottom of the largest while it keeps
//! [`MIN_FRAMES_BYTES`]. One `IPCB mem` line says what was found and what
//! was used. A secondary CPU's three page-table pages sit in the last
//! 16 KiB of its own chunk (the linker script keeps the region below
//! that).
//!
//! **Start-up** ([`start_secondaries`]): for each CPU the MADT lists as
//! enabled, the boot CPU clones its own region into the CPU's chunk (so
//! the board's state is "initialised like the boot CPU's"), builds its
//! tables, copies the real-mode trampoline to a page below 1 MiB that the
//! memory map says is free (0x8000 when it is) and sends
//! INIT, waits 10 ms, sends STARTUP twice 200 µs apart (Intel SDM vol. 3,
//! 9.4.4.1). The trampoline goes 16-bit → 32-bit → long mode with the new
//! CPU's own PML4 (plus a temporary identity map of the first GiB) and
//! jumps to `ipcb_ap_main` on that CPU's driver stack, which is in its
//! region too. One CPU at a time: the next starts when the previous one
//! has left the trampoline.
//!
//! **Parking** ([`park`], [`unpark_all`]): a secondary without work halts
//! (`sti; hlt`) until a wake-up IPI. Under QEMU icount every instruction
//! any vCPU runs advances the one clock all vCPUs read, so a CPU spinning
//! on a mailbox would add its instructions to what the boot CPU measures;
//! a halted one adds none. No timer interrupt is used anywhere.

use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_hal::delay::DelayNs;
use x86_64::registers::model_specific::Msr;
use x86_64::structures::paging::{PageTable, PageTableFlags as F};

use crate::acpi::{self, PhysMem};
use crate::apic::{self, TscDelay};
use crate::boot::BootInfo;
use crate::layout::DIRECT_MAP_SIZE;
use crate::memmap::{self, Range};

/// Most CPUs the kernel starts (the rest stay in wait-for-SIPI).
pub const MAX_CPUS: usize = 256;
pub use crate::layout::{DEVICE_VA, PERCPU_CHUNK, PERCPU_VA};
use crate::layout::{image_pa, WINDOW_VA};
pub use crate::percpu::{cpu_index, kernel_pml4};
use crate::percpu::{CpuLocal, LOCAL};
/// Frames left for the frame allocator at least (enough for the
/// benchmarks); CPUs whose chunk would eat into them are not started.
pub const MIN_FRAMES_BYTES: u64 = 16 << 20;
/// The page below 1 MiB the trampoline is copied to when the memory map
/// says it is free (STARTUP vector 0x08); else the first free page there.
const TRAMPOLINE_PREFERRED: u64 = 0x8000;
/// Stack of a secondary CPU's driver (where `entry` runs), in its region.
const DRIVER_STACK_SIZE: usize = 256 * 1024;


#[repr(C, align(16))]
struct DriverStack([u8; DRIVER_STACK_SIZE]);
/// A secondary CPU's driver stack (the boot CPU keeps its boot stack).
#[unsafe(link_section = ".percpu")]
static mut DRIVER_STACK: DriverStack = DriverStack([0; DRIVER_STACK_SIZE]);

/// The boot CPU's page directory for PDPT entry 511 (secondaries have
/// theirs in their chunk).
static mut BSP_PD: PageTable = PageTable::new();
/// The device page table, shared by every CPU's page directory.
static mut DEV_PT: PageTable = PageTable::new();

/// What [`init_bsp`] found and reserved, for [`start_secondaries`].
struct Plan {
    /// APIC IDs to start, index = CPU index (0 = boot CPU).
    ids: [u32; MAX_CPUS],
    /// Number of CPUs with a chunk.
    n: usize,
    /// Physical address of each CPU's chunk.
    chunks: [u64; MAX_CPUS],
    /// Physical address of the AP trampoline's page (below 1 MiB).
    tramp: u64,
    /// Why there are not more CPUs (for the console line), if anything.
    note: &'static str,
    /// Enabled CPUs listed but not started (beyond the limits).
    skipped: usize,
}

static mut PLAN: Plan =
    Plan { ids: [0; MAX_CPUS], n: 1, chunks: [0; MAX_CPUS], tramp: 0, note: "", skipped: 0 };
/// Console output for the one line this module prints.
static mut PUTC: Option<fn(u8)> = None;
/// Secondary CPUs that finished their set-up (they count up in order).
static ONLINE: AtomicUsize = AtomicUsize::new(0);
/// The runtime's entry for secondaries (`fn(usize) -> !`, as usize).
static ENTRY: AtomicUsize = AtomicUsize::new(0);
/// The boot CPU's CR0, CR4, EFER and PAT, for the secondaries.
static mut BSP_REGS: [u64; 4] = [0; 4];

unsafe extern "C" {
    static mut ipcb_kernel_pdpt: PageTable;
    static ipcb_boot_pdpt: PageTable;
    static __percpu_start: u8;
    static __percpu_end: u8;
    static ipcb_ap_tramp: u8;
    static ipcb_ap_tramp_end: u8;
    static ipcb_ap_tramp_32: u8;
    static ipcb_ap_tramp_64: u8;
    static ipcb_ap_tramp_gdt: u8;
    static ipcb_ap_tramp_gdtr: u8;
    static ipcb_ap_tramp_far32: u8;
    static ipcb_ap_tramp_far64: u8;
    static ipcb_ap_tramp_params: u8;
    fn ipcb_ap_entry64();
}

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: set once by `init_bsp` before any reader.
        if let Some(p) = unsafe { *addr_of!(PUTC) } {
            s.bytes().for_each(p);
        }
        Ok(())
    }
}


/// The page table in frame `pa` (direct map).
///
/// # Safety
///
/// `pa` is a page-table frame in the direct map that nothing else
/// references for the returned lifetime.
unsafe fn table<'a>(pa: u64) -> &'a mut PageTable {
    // SAFETY: per the caller.
    unsafe { &mut *(crate::paging::phys_to_virt(pa) as *mut PageTable) }
}

fn invlpg(va: u64) {
    x86_64::instructions::tlb::flush(x86_64::VirtAddr::new(va));
}

/// Physical memory for the ACPI parser: the direct map, or beyond it the
/// boot CPU's 4 MiB window (firmware puts ACPI tables anywhere below 4 GiB
/// and, on big machines, above).
struct KernelPhys;

impl PhysMem for KernelPhys {
    fn read(&mut self, pa: u64, buf: &mut [u8]) -> bool {
        let len = buf.len() as u64;
        if len > PERCPU_CHUNK || pa.checked_add(len).is_none_or(|e| e > 1 << 46) {
            return false;
        }
        let src = if pa + len <= DIRECT_MAP_SIZE {
            crate::paging::phys_to_virt(pa) as *const u8
        } else {
            let page = pa & !(PERCPU_CHUNK - 1);
            let flags = F::PRESENT | F::HUGE_PAGE | F::NO_EXECUTE;
            // SAFETY: BSP_PD is hooked into the kernel PDPT (init_bsp);
            // entries 2 and 3 are the window, used by this function only,
            // on the boot CPU, before any other CPU runs.
            unsafe {
                let pd = &mut *addr_of_mut!(BSP_PD);
                pd[2].set_addr(x86_64::PhysAddr::new(page), flags);
                pd[3].set_addr(x86_64::PhysAddr::new(page + PERCPU_CHUNK), flags);
            }
            invlpg(WINDOW_VA);
            invlpg(WINDOW_VA + PERCPU_CHUNK);
            (WINDOW_VA + (pa - page)) as *const u8
        };
        // SAFETY: `src..src+len` is mapped just above; firmware tables are
        // plain memory.
        unsafe { core::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        true
    }
}

/// Boot CPU, before anything touches `.percpu`: map the local APIC, read
/// the CPU list from the MADT, place a region copy for each CPU to start
/// and the frame allocator's RAM in the usable memory of `bi`'s map
/// (without `kernel`, the image, and the loader's data), map the boot
/// CPU's region. Prints the `IPCB mem` line and an `IPCB warn` line for
/// each problem with what the loader passed (`putc`: the console).
/// Returns the frame allocator's range, or why there is no room even for
/// the boot CPU (nothing is mapped then: the caller reports and exits).
///
/// # Safety
///
/// Once, on the boot CPU, before `cpu::init` and before anything uses a
/// `.percpu` static.
pub unsafe fn init_bsp(bi: &BootInfo, kernel: Range, putc: fn(u8)) -> Result<Range, &'static str> {
    // SAFETY: single-threaded boot; these tables are ours and not yet in
    // use (entry 511 of the kernel PDPT is empty until now).
    unsafe {
        *addr_of_mut!(PUTC) = Some(putc);
        let table_flags = F::PRESENT | F::WRITABLE;
        let pd = &mut *addr_of_mut!(BSP_PD);
        let (lapic_pa, x2_on) = apic::base();
        let dev = &mut *addr_of_mut!(DEV_PT);
        // Uncached (PCD|PWT = UC with any PAT), global, never executable.
        dev[0].set_addr(
            x86_64::PhysAddr::new(lapic_pa),
            F::PRESENT | F::WRITABLE | F::NO_CACHE | F::WRITE_THROUGH | F::GLOBAL | F::NO_EXECUTE,
        );
        pd[1].set_addr(x86_64::PhysAddr::new(image_pa(addr_of!(DEV_PT))), table_flags);
        (&mut *addr_of_mut!(ipcb_kernel_pdpt))[511]
            .set_addr(x86_64::PhysAddr::new(image_pa(addr_of!(BSP_PD))), table_flags);

        // The CPUs: the boot CPU first, then every other enabled one.
        let mut phys = KernelPhys;
        let hint = bi.rsdp.or_else(|| bi.efi_system_table.and_then(|(st, is64)| acpi::rsdp_from_efi(&mut phys, st, is64)));
        let rsdp = acpi::find_rsdp(&mut phys, hint);
        let madt = rsdp.ok_or(acpi::AcpiError::NoRsdp).and_then(|r| acpi::read_madt(&mut phys, r));
        // NUMA: which node each CPU and each memory range is on.
        let srat = rsdp.and_then(|r| acpi::read_srat(&mut phys, r)).filter(|s| s.nodes() >= 2);
        pd[2].set_unused();
        pd[3].set_unused();
        invlpg(WINDOW_VA);
        invlpg(WINDOW_VA + PERCPU_CHUNK);

        let has_x2 = crate::cpu::cpuid(1, 0).2 & (1 << 21) != 0;
        let big_id = madt.as_ref().is_ok_and(|m| m.ids().iter().any(|&id| id > 254));
        apic::set_mode(x2_on || (has_x2 && big_id));
        apic::init_local();
        let plan = &mut *addr_of_mut!(PLAN);
        plan.ids[0] = apic::id();
        match &madt {
            Ok(m) => {
                plan.skipped = m.dropped;
                for &id in m.ids() {
                    if id == plan.ids[0] {
                        continue;
                    }
                    if plan.n == MAX_CPUS || (!apic::x2apic() && id > 254) {
                        plan.skipped += 1;
                        continue;
                    }
                    plan.ids[plan.n] = id;
                    plan.n += 1;
                }
            }
            Err(acpi::AcpiError::NoRsdp) => plan.note = "no ACPI RSDP: boot CPU only",
            Err(acpi::AcpiError::BadRoot) => plan.note = "bad ACPI RSDT/XSDT: boot CPU only",
            Err(acpi::AcpiError::NoMadt) => plan.note = "no valid ACPI MADT: boot CPU only",
        }

        for w in bi.warnings() {
            warn(w);
        }
        // Free RAM: the map less the image, the loader's data and the
        // first MiB (after one page there for the AP trampoline).
        let mut mem = bi.mem;
        mem.remove(kernel.start, kernel.end);
        for r in &bi.reserved {
            mem.remove(r.start, r.end);
        }
        plan.tramp = if mem.contains(TRAMPOLINE_PREFERRED, TRAMPOLINE_PREFERRED + 4096) {
            TRAMPOLINE_PREFERRED
        } else {
            mem.first_page(0x1000, 0xA_0000).unwrap_or(0)
        };
        if plan.tramp == 0 && plan.n > 1 {
            plan.skipped += plan.n - 1;
            plan.n = 1;
            plan.note = "no free page below 1 MiB in the memory map for the AP trampoline: boot CPU only";
        }
        mem.remove(0, 0x10_0000);

        // NUMA (when the SRAT names two nodes or more): first each CPU's
        // region from the top of its own node's reachable RAM, as long as
        // the frame allocator keeps its minimum; then the rest as usual.
        let mut own = [0u64; MAX_CPUS];
        if let Some(s) = &srat {
            for (i, slot) in own.iter_mut().enumerate().take(plan.n) {
                let Some(d) = s.cpu_domain(plan.ids[i]) else { continue };
                for r in s.ranges().iter().filter(|r| r.domain == d) {
                    let mut trial = mem;
                    if let Some(pa) = trial.take_aligned_top_within(PERCPU_CHUNK, PERCPU_CHUNK, r.start, r.end)
                        && trial.largest().is_some_and(|l| l.len() >= MIN_FRAMES_BYTES)
                    {
                        mem = trial;
                        *slot = pa;
                        break;
                    }
                }
            }
        }
        let want = own[..plan.n].iter().filter(|&&c| c == 0).count();
        let mut rest = [0u64; MAX_CPUS];
        let mut placed = if want > 0 {
            memmap::plan(&mut mem, PERCPU_CHUNK, MIN_FRAMES_BYTES, &mut rest[..want])
        } else {
            // Every region is on its node: the frames get the largest range.
            let big = mem.largest().filter(|r| r.len() >= MIN_FRAMES_BYTES).unwrap_or_default();
            mem.remove(big.start, big.end);
            memmap::Placement { chunks: 0, frames: big }
        };
        if !placed.frames.is_empty() {
            // Merge in CPU order; the CPUs past the first without a region
            // are not started.
            let mut next = rest[..placed.chunks].iter();
            let mut n = 0;
            while n < plan.n {
                match (own[n], next.next()) {
                    (0, Some(&c)) => plan.chunks[n] = c,
                    (0, None) => break,
                    (c, _) => plan.chunks[n] = c,
                }
                n += 1;
            }
            placed.chunks = n;
        }
        if let Some(s) = &srat {
            let on_node = (0..placed.chunks)
                .filter(|&i| s.cpu_domain(plan.ids[i]).is_some_and(|d| s.mem_domain(plan.chunks[i]) == Some(d)))
                .count();
            let _ = write!(
                Console,
                "numa: {} nodes; the per-CPU regions of {} of {} CPUs are on their own node\r\n",
                s.nodes(),
                on_node,
                placed.chunks
            );
            if on_node < placed.chunks {
                warn("NUMA: some CPUs' per-CPU regions are not on their own node (its RAM is beyond the kernel's reach or full)");
            }
            warn("NUMA: the frame pool (user memory) is one range, not placed by node: each CPU's share may be remote");
        }
        let mut c = Console;
        let mib = |b: u64| b >> 20;
        let _ = write!(
            c,
            "IPCB mem map={} ram_mib={} reach_mib={} percpu={} percpu_mib={} frames_mib={} info={:#x} trampoline={:#x}\r\n",
            bi.mem.source.name(),
            mib(bi.mem.total),
            mib(bi.mem.reach),
            placed.chunks,
            mib(placed.chunks as u64 * PERCPU_CHUNK),
            mib(placed.frames.len()),
            bi.info_pa,
            plan.tramp,
        );
        if bi.mem.dropped > 0 {
            warn("memory map has more ranges than the kernel keeps: some RAM left unused");
        }
        if placed.chunks == 0 {
            return Err("no room in the memory map for the per-CPU region and 16 MiB of frames");
        }
        if placed.chunks < plan.n {
            plan.skipped += plan.n - placed.chunks;
            plan.n = placed.chunks;
            plan.note = "not enough RAM for more per-CPU regions";
        }
        let base = plan.chunks[0];

        // The boot CPU's copy: zeroed (the region is not loaded from the
        // image) and mapped with one global 2 MiB page.
        let used = addr_of!(__percpu_end) as u64 - addr_of!(__percpu_start) as u64;
        core::ptr::write_bytes(crate::paging::phys_to_virt(base), 0, used as usize);
        pd[0].set_addr(x86_64::PhysAddr::new(base), percpu_flags());
        crate::paging::flush_all();
        Ok(placed.frames)
    }
}

/// Print `IPCB warn reason="..."` (a problem the kernel carries on past).
fn warn(why: &str) {
    let _ = write!(Console, "IPCB warn reason=\"{why}\"\r\n");
}

fn percpu_flags() -> F {
    F::PRESENT | F::WRITABLE | F::HUGE_PAGE | F::GLOBAL | F::NO_EXECUTE
}


/// The APIC IDs of the CPUs online, index order.
pub fn apic_ids() -> &'static [u32] {
    // SAFETY: PLAN is written only during boot on the boot CPU; `n` is
    // lowered to the CPUs online at the end of `start_secondaries`.
    unsafe {
        let plan = &*addr_of!(PLAN);
        &plan.ids[..plan.n]
    }
}

/// Start every other CPU of the plan; each runs `entry(index)` once set
/// up. Returns the number of CPUs online, this one included. Prints one
/// console line (`smp: N CPUs online (APIC IDs ...)`).
///
/// # Safety
///
/// Once, on the boot CPU, after `cpu::init`, with the board's per-CPU
/// statics initialised (they are cloned), interrupts off.
pub unsafe fn start_secondaries(entry: fn(usize) -> !) -> usize {
    ENTRY.store(entry as usize, Ordering::Release);
    // SAFETY: single-threaded until the first AP runs; afterwards the APs
    // read only BSP_REGS and ENTRY, written before they start, and the
    // AP's own clone, written before its STARTUP.
    unsafe {
        let plan = &mut *addr_of_mut!(PLAN);
        let mut why = plan.note;
        if plan.n > 1 {
            *addr_of_mut!(BSP_REGS) = [
                x86_64::registers::control::Cr0::read_raw(),
                x86_64::registers::control::Cr4::read_raw(),
                Msr::new(0xC000_0080).read() & !(1 << 10), // EFER without LMA
                Msr::new(0x277).read(),                      // IA32_PAT
            ];
            crate::tsc::rate(); // the start-up delays need it
            install_trampoline(plan.tramp);
            for i in 1..plan.n {
                if !start_one(plan, i) {
                    why = "a CPU did not answer its STARTUP: later ones not started";
                    plan.skipped += plan.n - i;
                    plan.n = i;
                    break;
                }
            }
        }
        let mut c = Console;
        let _ = write!(c, "smp: {} CPU{} online (APIC IDs", plan.n, if plan.n == 1 { "" } else { "s" });
        for id in &plan.ids[..plan.n] {
            let _ = write!(c, " {id}");
        }
        let _ = write!(c, ")");
        if plan.skipped > 0 {
            let _ = write!(c, ", {} not started", plan.skipped);
        }
        if !why.is_empty() {
            let _ = write!(c, "; {why}");
        }
        let _ = c.write_str("\r\n");
        if !why.is_empty() {
            warn(why);
        }
        plan.n
    }
}

/// Copy the trampoline to its page (`tramp`, below 1 MiB) and patch the
/// addresses that depend on where it runs.
///
/// # Safety
///
/// Boot CPU, no AP running the trampoline; `tramp` is free RAM.
unsafe fn install_trampoline(tramp: u64) {
    let start = addr_of!(ipcb_ap_tramp) as u64;
    let len = addr_of!(ipcb_ap_tramp_end) as u64 - start;
    let off = |p: *const u8| p as u64 - start;
    let dst = crate::paging::phys_to_virt(tramp);
    // SAFETY: the page below 1 MiB is free RAM in the memory map (init_bsp)
    // and in the direct map; the trampoline is shorter than a page.
    unsafe {
        core::ptr::copy_nonoverlapping(start as *const u8, dst, len as usize);
        let put32 = |o: u64, v: u64| (dst.add(o as usize) as *mut u32).write_unaligned(v as u32);
        put32(off(addr_of!(ipcb_ap_tramp_gdtr)) + 2, tramp + off(addr_of!(ipcb_ap_tramp_gdt)));
        put32(off(addr_of!(ipcb_ap_tramp_far32)), tramp + off(addr_of!(ipcb_ap_tramp_32)));
        put32(off(addr_of!(ipcb_ap_tramp_far64)), tramp + off(addr_of!(ipcb_ap_tramp_64)));
    }
}

/// Offsets in the trampoline's parameter block.
const T_CR3: usize = 0;
const T_EFER: usize = 4;
const T_CR0: usize = 8;
const T_STACK: usize = 16;
const T_ENTRY: usize = 24;

/// Clone the region for CPU `i`, build its tables, start it, and wait
/// until it is set up. `false` if it did not come up.
///
/// # Safety
///
/// Boot CPU; CPU `i - 1` is out of the trampoline.
unsafe fn start_one(plan: &Plan, i: usize) -> bool {
    let chunk = plan.chunks[i];
    let start = addr_of!(__percpu_start) as u64;
    let used = addr_of!(__percpu_end) as u64 - start;
    let tables = chunk + PERCPU_CHUNK - 3 * 4096;
    let (pml4, pdpt, pd) = (tables, tables + 4096, tables + 8192);
    let table_flags = F::PRESENT | F::WRITABLE;
    // SAFETY: the chunk is reserved for CPU `i` (init_bsp) and in the
    // direct map; CPU `i` is not running yet, so nothing else uses it.
    unsafe {
        // The clone: the boot CPU's region as it is now (the board's state
        // included), then this CPU's own identity.
        core::ptr::copy_nonoverlapping(start as *const u8, crate::paging::phys_to_virt(chunk), used as usize);
        let local = crate::paging::phys_to_virt(chunk + (addr_of!(LOCAL) as u64 - start)) as *mut CpuLocal;
        local.write(CpuLocal { index: i, kernel_pml4: pml4 });

        core::ptr::write_bytes(crate::paging::phys_to_virt(tables), 0, 3 * 4096);
        let d = table(pd);
        d[0].set_addr(x86_64::PhysAddr::new(chunk), percpu_flags());
        d[1].set_addr(x86_64::PhysAddr::new(image_pa(addr_of!(DEV_PT))), table_flags);
        let p = table(pdpt);
        p.clone_from(&*addr_of!(ipcb_kernel_pdpt));
        p[511].set_addr(x86_64::PhysAddr::new(pd), table_flags);
        let l4 = table(pml4);
        l4[511].set_addr(x86_64::PhysAddr::new(pdpt), table_flags);
        // Temporary identity map of the first GiB (the boot tables' own,
        // not global) for the trampoline; ipcb_ap_main removes it.
        l4[0].set_addr(x86_64::PhysAddr::new(image_pa(addr_of!(ipcb_boot_pdpt))), table_flags);

        let t = crate::paging::phys_to_virt(plan.tramp);
        let params = t.add((addr_of!(ipcb_ap_tramp_params) as u64 - addr_of!(ipcb_ap_tramp) as u64) as usize);
        let regs = *addr_of!(BSP_REGS);
        (params.add(T_CR3) as *mut u32).write_volatile(pml4 as u32);
        (params.add(T_EFER) as *mut u32).write_volatile(regs[2] as u32);
        (params.add(T_CR0) as *mut u32).write_volatile(regs[0] as u32);
        let stack_top = addr_of!(DRIVER_STACK) as u64 + DRIVER_STACK_SIZE as u64;
        (params.add(T_STACK) as *mut u64).write_volatile(stack_top);
        (params.add(T_ENTRY) as *mut u64).write_volatile(ipcb_ap_entry64 as *const () as u64);
    }
    core::sync::atomic::fence(Ordering::SeqCst);

    let id = plan.ids[i];
    let vector = (plan.tramp >> 12) as u32;
    let mut delay = TscDelay;
    let (init_us, sipi_us) = startup_delays_us(crate::cpu::cpuid);
    apic::send_ipi(id, apic::ICR_INIT_ASSERT);
    if !apic::x2apic() {
        apic::send_ipi(id, apic::ICR_INIT_DEASSERT);
    }
    delay.delay_us(init_us as u32);
    for _ in 0..2 {
        apic::send_ipi(id, apic::ICR_STARTUP | vector);
        delay.delay_us(sipi_us as u32);
        if ONLINE.load(Ordering::Acquire) >= i {
            return true;
        }
    }
    // It may still be on its way (a slow trampoline under emulation):
    // give it a generous second, then give up.
    let t0 = crate::pmu::rdtsc();
    let limit = apic::us_to_ticks(1_000_000);
    while crate::pmu::rdtsc().wrapping_sub(t0) < limit {
        if ONLINE.load(Ordering::Acquire) >= i {
            return true;
        }
        core::hint::spin_loop();
    }
    // Put it back into wait-for-STARTUP, so that it cannot come up later
    // through a trampoline that is no longer its own.
    apic::send_ipi(id, apic::ICR_INIT_ASSERT);
    false
}

/// The waits of the start-up protocol, in µs: after INIT, after each
/// STARTUP. The MP specification's 10 ms and 200 µs are for the discrete
/// APICs of old; CPUs with an integrated APIC since Intel family 6 and AMD
/// family 0xF need no INIT wait and 10 µs after STARTUP (as Linux does).
/// It matters: under QEMU icount every waited µs is a thousand emulated
/// instructions, and 95 CPUs at 10 ms each took minutes.
pub fn startup_delays_us(cpuid: fn(u32, u32) -> (u32, u32, u32, u32)) -> (u64, u64) {
    let (_, b, c, d) = cpuid(0, 0);
    let mut vendor = [0u8; 12];
    for (i, r) in [b, d, c].into_iter().enumerate() {
        vendor[4 * i..4 * i + 4].copy_from_slice(&r.to_le_bytes());
    }
    let eax = cpuid(1, 0).0;
    let base = (eax >> 8) & 0xF;
    let family = if base == 0xF { base + ((eax >> 20) & 0xFF) } else { base };
    let modern = match &vendor {
        b"GenuineIntel" => family >= 6,
        b"AuthenticAMD" | b"HygonGenuine" => family >= 0xF,
        _ => false,
    };
    if modern { (0, 10) } else { (10_000, 200) }
}

/// The Rust entry of a secondary CPU, on its driver stack in its own
/// region, with its own PML4 loaded (and the trampoline's identity map).
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_ap_main() -> ! {
    // SAFETY: this CPU's own tables and clone; BSP_REGS and ENTRY were
    // written before its STARTUP.
    unsafe {
        let pml4 = (*addr_of!(LOCAL)).kernel_pml4;
        table(pml4)[0].set_unused();
        crate::paging::switch_to(pml4); // drops the (non-global) identity map
        let regs = *addr_of!(BSP_REGS);
        crate::cpu::init_ap(regs[1]);
        Msr::new(0x277).write(regs[3]);
        apic::init_local();
        let index = (*addr_of!(LOCAL)).index;
        let entry: fn(usize) -> ! = core::mem::transmute(ENTRY.load(Ordering::Acquire));
        ONLINE.fetch_add(1, Ordering::AcqRel);
        entry(index)
    }
}

/// Wait until a wake-up IPI (or any event that ends `hlt`); the caller
/// then checks for work. Interrupts are masked everywhere else, so an IPI
/// sent after the caller found no work stays pending and ends the `hlt` at
/// once: no wake-up is lost. (The boot CPU parks too, in `ipc-cross-core`,
/// where the server's CPU wakes it with each reply.)
pub fn park() {
    // SAFETY: `sti; hlt` is atomic with respect to interrupts (`sti`
    // delays them by one instruction); the handler of every vector >= 32
    // only returns; `cli` restores the kernel's interrupts-off state.
    unsafe { core::arch::asm!("sti", "hlt", "cli", options(nostack)) };
    apic::eoi();
}

/// Wake every other CPU parked in [`park`].
pub fn unpark_all() {
    let me = cpu_index();
    for cpu in (0..apic_ids().len()).filter(|&c| c != me) {
        wake(cpu);
    }
}

/// Wake CPU `cpu` (an index of [`cpu_index`]) if it is parked in [`park`].
pub fn wake(cpu: usize) {
    if let Some(&id) = apic_ids().get(cpu)
        && cpu != cpu_index()
    {
        apic::send_ipi(id, apic::ICR_FIXED | u32::from(apic::WAKE_VECTOR));
    }
}

// The real-mode trampoline: copied to its page below 1 MiB (`Plan::tramp`),
// entered by STARTUP at CS:IP = (page >> 4):0. `ebx` keeps the page's linear address;
// the parameters and the far pointers are patched by the boot CPU.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .rodata.ipcb_ap_tramp, "a"
    .balign 16
    .global ipcb_ap_tramp, ipcb_ap_tramp_end, ipcb_ap_tramp_32, ipcb_ap_tramp_64
    .global ipcb_ap_tramp_gdt, ipcb_ap_tramp_gdtr, ipcb_ap_tramp_far32
    .global ipcb_ap_tramp_far64, ipcb_ap_tramp_params
    .code16
ipcb_ap_tramp:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds                        /* data at offsets from the page    */
    movzwl %ax, %ebx
    shl $4, %ebx                        /* ebx = linear address of the page */
    lgdtl (ipcb_ap_tramp_gdtr - ipcb_ap_tramp)
    mov %cr0, %eax
    or $1, %eax                         /* PE                               */
    mov %eax, %cr0
    ljmpl *(ipcb_ap_tramp_far32 - ipcb_ap_tramp)

    .code32
ipcb_ap_tramp_32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov %cr4, %eax
    or $0xA0, %eax                      /* PAE | PGE                        */
    mov %eax, %cr4
    mov (ipcb_ap_tramp_params - ipcb_ap_tramp + 0)(%ebx), %eax
    mov %eax, %cr3                      /* this CPU's own PML4              */
    mov $0xC0000080, %ecx               /* IA32_EFER = the boot CPU's:      */
    mov (ipcb_ap_tramp_params - ipcb_ap_tramp + 4)(%ebx), %eax
    xor %edx, %edx                      /*   LME, NXE, SCE                  */
    wrmsr
    mov (ipcb_ap_tramp_params - ipcb_ap_tramp + 8)(%ebx), %eax
    mov %eax, %cr0                      /* the boot CPU's CR0: PG, WP, caches on */
    ljmpl *(ipcb_ap_tramp_far64 - ipcb_ap_tramp)(%ebx)

    .code64
ipcb_ap_tramp_64:
    mov %ebx, %ebx                      /* upper half undefined after the switch */
    mov (ipcb_ap_tramp_params - ipcb_ap_tramp + 16)(%rbx), %rsp
    mov (ipcb_ap_tramp_params - ipcb_ap_tramp + 24)(%rbx), %rax
    jmp *%rax                           /* ipcb_ap_entry64, higher half     */

    .balign 8
ipcb_ap_tramp_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF            /* 0x08: 32-bit code                */
    .quad 0x00CF92000000FFFF            /* 0x10: data                       */
    .quad 0x00AF9A000000FFFF            /* 0x18: 64-bit code                */
ipcb_ap_tramp_gdtr:
    .short 31
    .long 0                             /* patched: linear address of the GDT */
    .balign 8
ipcb_ap_tramp_far32:
    .long 0                             /* patched: linear ipcb_ap_tramp_32 */
    .short 0x08
    .balign 8
ipcb_ap_tramp_far64:
    .long 0                             /* patched: linear ipcb_ap_tramp_64 */
    .short 0x18
    .balign 8
ipcb_ap_tramp_params:
    .long 0                             /* +0: CR3                          */
    .long 0                             /* +4: EFER (low half)              */
    .long 0                             /* +8: CR0                          */
    .long 0
    .quad 0                             /* +16: stack top                   */
    .quad 0                             /* +24: entry                       */
ipcb_ap_tramp_end:

    .section .text.ipcb_ap_entry64, "ax"
    .global ipcb_ap_entry64
ipcb_ap_entry64:
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    call ipcb_ap_main                   /* never returns                    */
1:  hlt
    jmp 1b
"#,
    options(att_syntax)
);

const _: () = assert!(T_CR3 == 0 && T_EFER == 4 && T_CR0 == 8 && T_STACK == 16 && T_ENTRY == 24);

#[cfg(test)]
mod tests {
    use super::startup_delays_us;

    /// CPUID leaves 0 and 1 of a CPU with `vendor` and leaf-1 EAX `eax`.
    macro_rules! cpu {
        ($vendor:literal, $eax:expr) => {{
            fn f(leaf: u32, _: u32) -> (u32, u32, u32, u32) {
                let v: &[u8; 12] = $vendor;
                let w = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
                match leaf {
                    0 => (1, w(0), w(8), w(4)),
                    1 => ($eax, 0, 0, 0),
                    _ => (0, 0, 0, 0),
                }
            }
            f
        }};
    }

    #[test]
    fn modern_cpus_skip_the_mp_spec_waits() {
        // Intel family 6 (an N100), AMD Zen (family 0xF + 0x8 = 0x17).
        assert_eq!(startup_delays_us(cpu!(b"GenuineIntel", 0x000B_06E0)), (0, 10));
        assert_eq!(startup_delays_us(cpu!(b"AuthenticAMD", 0x0083_0F10)), (0, 10));
        // A Pentium (family 5) and an unknown vendor keep the MP spec's.
        assert_eq!(startup_delays_us(cpu!(b"GenuineIntel", 0x0000_0543)), (10_000, 200));
        assert_eq!(startup_delays_us(cpu!(b"SomeoneElse!", 0x000B_06E0)), (10_000, 200));
    }
}
