// SPDX-License-Identifier: MIT OR Apache-2.0
//! User address spaces: four-level page tables, CR3 with PCID.
//!
//! Every address space shares the kernel's top-level entry 511 (the kernel
//! image and the direct map of the first GiB, global pages, 4 KiB over the
//! image and 2 MiB beyond, W^X (below), not user-accessible; and the
//! per-CPU region, `smp.rs`). That entry differs
//! between CPUs: each CPU's points to its own PDPT, which maps the region
//! to that CPU's copy, so a space copies the entry of the CPU that builds
//! it, and runs on that CPU only. User mappings are 4 KiB pages in the lower half. With
//! PCID, CR3 is loaded with bit 63 set (keep this PCID's translations) and
//! the task's PCID in bits 0..12, so a switch flushes nothing; without it
//! (QEMU TCG), a switch flushes the user translations and keeps the
//! global kernel ones.
//!
//! **W^X in the kernel half** (`ipcb_protect_kernel`, at boot before any Rust
//! code but it): the boot tables map the first GiB with writable,
//! executable 2 MiB pages. The first 8 MiB (the first MiB and the image)
//! are then remapped by 4 KiB pages from the linker script's bounds: the
//! boot code and `.text` read + execute, `.rodata` read-only and never
//! executable, `.data`, `.bss` (the boot stack and tables in it) and the
//! rest of those 8 MiB read/write and never executable; every other 2 MiB
//! page of the direct map gets NX. The per-CPU region, the local APIC and
//! the framebuffer window (`smp.rs`, `fbcon.rs`) are mapped NX already.
//! `EFER.NXE` and `CR0.WP` (the kernel too faults on a read-only page) are
//! on from the 32-bit entry; `ipcb_protect_kernel` checks. What stays
//! executable besides `.text`: the identity map of the first GiB that a
//! starting CPU's trampoline runs in (not global, in that CPU's PML4 only
//! until `ipcb_ap_main` drops it).

use runtime::mem::FrameAlloc;
use runtime::{MemError, Perm};
use x86_64::structures::paging::{PageTable, PageTableFlags};

use crate::layout::{DIRECT_MAP_SIZE, KERNEL_OFFSET};

/// Page tables of the first [`SPLIT_TABLES`] × 2 MiB of the kernel's
/// mapping, by 4 KiB pages (`ipcb_protect_kernel`; the board's `link.ld`
/// keeps the image below).
#[cfg(target_os = "none")]
const SPLIT_TABLES: usize = 4;
#[cfg(target_os = "none")]
#[repr(C, align(4096))]
struct SplitTables([PageTable; SPLIT_TABLES]);
#[cfg(target_os = "none")]
static mut SPLIT: SplitTables = SplitTables([const { PageTable::new() }; SPLIT_TABLES]);

/// `IA32_EFER.NXE`: the NX bit of page-table entries is honoured.
#[cfg(target_os = "none")]
const EFER_NXE: u64 = 1 << 11;
/// `CR0.WP`: supervisor writes to read-only pages fault.
#[cfg(target_os = "none")]
const CR0_WP: u64 = 1 << 16;

/// How `ipcb_protect_kernel` maps the kernel page at physical `pa`, given the
/// image's bounds (physical): `[start, text_end)` read + execute,
/// `[text_end, rodata_end)` read-only, the rest read/write; only the first
/// executable.
pub fn kernel_page_flags(pa: u64, start: u64, text_end: u64, rodata_end: u64) -> PageTableFlags {
    let mut f = PageTableFlags::PRESENT | PageTableFlags::GLOBAL;
    if !(start..text_end).contains(&pa) {
        f |= PageTableFlags::NO_EXECUTE;
        if !(text_end..rodata_end).contains(&pa) {
            f |= PageTableFlags::WRITABLE;
        }
    }
    f
}

/// W^X for the kernel half (see the module docs), on the boot CPU, from
/// the boot code (`boot.rs`) before `ipcb_kernel_main`. The other CPUs
/// and every user space share the page directory changed here.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "sysv64" fn ipcb_protect_kernel() {
    use core::ptr::{addr_of, addr_of_mut};
    use x86_64::registers::control::Cr0;
    use x86_64::registers::model_specific::Msr;
    unsafe extern "C" {
        static __kernel_start: u8;
        static __text_end: u8;
        static __rodata_end: u8;
        static __bss_end: u8;
        static ipcb_kernel_pdpt: PageTable;
    }
    let pa = |p: *const u8| p as u64 - KERNEL_OFFSET;
    let (start, text_end, rodata_end, end) = (
        pa(addr_of!(__kernel_start)),
        pa(addr_of!(__text_end)),
        pa(addr_of!(__rodata_end)),
        pa(addr_of!(__bss_end)),
    );
    let n = end.div_ceil(2 << 20) as usize;
    // SAFETY: single-threaded boot, interrupts off. EFER.NXE goes on (if a
    // loader left it off) before any entry has NX; CR0.WP only makes
    // kernel writes to read-only pages fault, and nothing writes below
    // `__rodata_end`. The page directory is the boot code's (entry 510 of
    // the kernel PDPT); each 2 MiB page it replaces by a table maps the
    // same frames (the code running here among them: it stays mapped
    // executable), and `flush_all` then drops the old global entries.
    unsafe {
        let mut efer = Msr::new(0xC000_0080);
        if efer.read() & EFER_NXE == 0 {
            efer.write(efer.read() | EFER_NXE);
        }
        let cr0 = Cr0::read_raw();
        if cr0 & CR0_WP == 0 {
            Cr0::write_raw(cr0 | CR0_WP);
        }
        let pd = table((&*addr_of!(ipcb_kernel_pdpt))[510].addr().as_u64());
        let split = &mut *addr_of_mut!(SPLIT);
        for (t, pt) in split.0.iter_mut().enumerate().take(n.min(SPLIT_TABLES)) {
            for (i, e) in pt.iter_mut().enumerate() {
                let page = ((t * 512 + i) as u64) << 12;
                e.set_addr(x86_64::PhysAddr::new(page), kernel_page_flags(page, start, text_end, rodata_end));
            }
            let pt_pa = core::ptr::from_mut(pt) as u64 - KERNEL_OFFSET;
            pd[t].set_addr(x86_64::PhysAddr::new(pt_pa), PageTableFlags::PRESENT | PageTableFlags::WRITABLE);
        }
        for e in pd.iter_mut().skip(n.min(SPLIT_TABLES)) {
            if !e.is_unused() {
                e.set_flags(e.flags() | PageTableFlags::NO_EXECUTE);
            }
        }
    }
    flush_all();
}

/// Make the kernel image's 4 KiB page at virtual `va` read-only, for every
/// CPU and every address space (they share the split tables). `false`
/// when `va` is outside the split part of the image (nothing changed).
///
/// # Safety
///
/// Nothing may write the page afterwards (a write is a kernel page
/// fault); the caller flushes the other CPUs' TLBs, or runs before they
/// start (the boot CPU's entry is dropped here).
#[cfg(target_os = "none")]
pub unsafe fn protect_kernel_page(va: u64) -> bool {
    use core::ptr::addr_of_mut;
    let Some(pa) = va.checked_sub(KERNEL_OFFSET) else {
        return false;
    };
    let (t, i) = ((pa >> 21) as usize, ((pa >> 12) & 511) as usize);
    if t >= SPLIT_TABLES {
        return false;
    }
    // SAFETY: the split tables are the live mapping of the image (set up
    // by `ipcb_protect_kernel`); clearing one entry's writable bit changes
    // nothing but that page's permission. The caller's contract covers
    // the other CPUs.
    unsafe {
        let split = &mut *addr_of_mut!(SPLIT);
        let e = &mut split.0[t][i];
        if e.is_unused() {
            return false;
        }
        e.set_flags(e.flags() - PageTableFlags::WRITABLE);
        core::arch::asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags));
    }
    true
}

/// Highest user address + 1: the lower canonical half without its last
/// page, which is never mapped. A `syscall` there would leave the
/// non-canonical `0x8000_0000_0000` in `rcx` for the `sysretq` that
/// returns from it (`Context::set_program_counter`); with the guard page
/// no user instruction can end above `USER_END`, so the saved `rip` of
/// every `syscall` is canonical and the exits need no check.
pub const USER_END: u64 = 0x0000_7FFF_FFFF_F000;
/// CR3 bit 63: do not flush this PCID's translations.
const CR3_NOFLUSH: u64 = 1 << 63;

/// Kernel virtual address of physical `pa`.
#[inline(always)]
pub fn phys_to_virt(pa: u64) -> *mut u8 {
    debug_assert!(pa < DIRECT_MAP_SIZE);
    (pa + KERNEL_OFFSET) as *mut u8
}

/// Physical address of the running CPU's kernel PML4 (the boot PML4 on
/// the boot CPU).
pub fn kernel_pml4_phys() -> u64 {
    crate::percpu::kernel_pml4()
}

/// The page table in frame `pa`.
///
/// # Safety
///
/// `pa` must be a page-table frame in the direct map that no other
/// reference aliases for the returned lifetime.
unsafe fn table<'a>(pa: u64) -> &'a mut PageTable {
    // SAFETY: per the caller.
    unsafe { &mut *(phys_to_virt(pa) as *mut PageTable) }
}

fn alloc_table(frames: &mut FrameAlloc) -> Result<u64, MemError> {
    let pa = frames.alloc().ok_or(MemError::OutOfFrames)?;
    // SAFETY: a fresh frame from the allocator, in the direct map.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa), 0, 4096) };
    Ok(pa)
}

/// What turns a space's CR3 value for its kernel tables into the one for
/// its user tables, with kernel isolation on (`kpti.rs`): bit 12, the
/// odd page of the space's pair of PML4s, and bit 11, the user PCID (a
/// space's kernel PCID is below 0x800). Without PCID, CR3 bits 5..11 are
/// ignored, so the same bits serve both modes.
pub const KPTI_USER_BITS: u64 = 0x1800;

/// A new address space with PCID `pcid` (ignored without PCID support),
/// for tasks of the running CPU: its kernel half is this CPU's.
///
/// With kernel isolation on this CPU (`kpti.rs`) a space is a pair of
/// PML4s on an 8 KiB boundary: the kernel's tables (the value returned,
/// loaded while the kernel runs) and the user tables on the next page,
/// which share the user half and map of the kernel only this CPU's entry
/// trampoline; the entry switches between them by [`KPTI_USER_BITS`].
pub fn new_space(frames: &mut FrameAlloc, pcid: u16) -> Result<u64, MemError> {
    let kpti = crate::cpu::kpti_mode() != crate::cpu::KPTI_OFF;
    let mut pml4 = alloc_table(frames)?;
    if kpti {
        if pml4 & 0x1000 != 0 {
            pml4 = alloc_table(frames)?; // the pair starts on an even page
        }
        let user = alloc_table(frames)?;
        if user != pml4 + 0x1000 {
            return Err(MemError::OutOfFrames); // not contiguous: the bump allocator's end
        }
        // SAFETY: `user` is fresh; only this CPU's user tables are read.
        unsafe { table(user)[511] = crate::kpti::user_entry() };
    }
    // SAFETY: `pml4` is fresh; this CPU's kernel PML4 is only read here
    // (its entry 511 never changes after boot).
    unsafe {
        let k = table(kernel_pml4_phys())[511].clone();
        table(pml4)[511] = k;
    }
    let pcid_mask = if kpti { 0x7FF } else { 0xFFF };
    Ok(if crate::cpu::features().pcid {
        pml4 | CR3_NOFLUSH | u64::from(pcid & pcid_mask)
    } else {
        pml4
    })
}

/// Map the user page `va` to frame `pa` in the space whose CR3 value is
/// `cr3`.
pub fn map_page(
    frames: &mut FrameAlloc,
    cr3: u64,
    va: u64,
    pa: u64,
    perm: Perm,
) -> Result<(), MemError> {
    if va >= USER_END || va & 0xFFF != 0 || pa & 0xFFF != 0 || pa >= DIRECT_MAP_SIZE {
        return Err(MemError::BadAddress);
    }
    let inner = PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::USER_ACCESSIBLE;
    let root = cr3 & 0x000F_FFFF_FFFF_F000;
    let mut t = root;
    for level in [39u32, 30, 21] {
        let i = ((va >> level) & 0x1FF) as usize;
        // SAFETY: `t` is a page-table frame of this space (the root, or one
        // allocated below); the kernel runs on one CPU with no other users.
        let entry = unsafe { &mut table(t)[i] };
        if entry.is_unused() {
            let f = alloc_table(frames)?;
            entry.set_addr(x86_64::PhysAddr::new(f), inner);
            if level == 39 && crate::cpu::kpti_mode() != crate::cpu::KPTI_OFF {
                // The user tables share the user half, entry by entry.
                // SAFETY: the pair's second page (`new_space`), this space's.
                unsafe { table(root + 0x1000)[i] = entry.clone() };
            }
        }
        t = entry.addr().as_u64();
    }
    let mut flags = PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE;
    if perm.write {
        flags |= PageTableFlags::WRITABLE;
    }
    if !perm.exec {
        flags |= PageTableFlags::NO_EXECUTE;
    }
    // SAFETY: as above, the leaf table of this space.
    let entry = unsafe { &mut table(t)[((va >> 12) & 0x1FF) as usize] };
    if !entry.is_unused() {
        return Err(MemError::AlreadyMapped);
    }
    entry.set_addr(x86_64::PhysAddr::new(pa), flags);
    Ok(())
}

/// Load `cr3` (a value from [`new_space`]).
#[inline(always)]
pub fn switch_to(cr3: u64) {
    // SAFETY: `cr3` names a PML4 that maps the kernel like every other
    // space; the instruction has no other effect than the switch.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) cr3, options(nostack, preserves_flags)) };
}

/// Flush every TLB entry of every PCID, global ones included (toggling
/// CR4.PGE does that, from either value: with kernel isolation it is off).
pub fn flush_all() {
    use x86_64::registers::control::{Cr4, Cr4Flags};
    let cr4 = Cr4::read();
    // SAFETY: toggling PGE and back only invalidates translations.
    unsafe {
        Cr4::write(cr4 ^ Cr4Flags::PAGE_GLOBAL);
        Cr4::write(cr4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_pages_are_w_xor_x() {
        let (start, text_end, rodata_end) = (0x10_0000, 0x12_a000, 0x14_a000);
        let f = |pa| kernel_page_flags(pa, start, text_end, rodata_end);
        let (w, nx) = (PageTableFlags::WRITABLE, PageTableFlags::NO_EXECUTE);
        // Text: read + execute.
        for pa in [start, text_end - 0x1000] {
            assert!(!f(pa).contains(w) && !f(pa).contains(nx));
        }
        // Rodata: read-only, never executable.
        for pa in [text_end, rodata_end - 0x1000] {
            assert!(!f(pa).contains(w) && f(pa).contains(nx));
        }
        // The first MiB, data, bss and beyond: read/write, never executable.
        for pa in [0, 0x8000, start - 0x1000, rodata_end, 0x7F_F000] {
            assert!(f(pa).contains(w) && f(pa).contains(nx));
        }
        for pa in [0, start, text_end, rodata_end] {
            assert!(f(pa).contains(PageTableFlags::PRESENT | PageTableFlags::GLOBAL));
        }
    }
}
