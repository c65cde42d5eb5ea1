// SPDX-License-Identifier: MIT OR Apache-2.0
//! User address spaces: four-level page tables, CR3 with PCID.
//!
//! Every address space shares the kernel's top-level entry 511 (the kernel
//! image and the direct map of the first GiB, global 2 MiB pages, not
//! user-accessible; and the per-CPU region, `smp.rs`). That entry differs
//! between CPUs: each CPU's points to its own PDPT, which maps the region
//! to that CPU's copy, so a space copies the entry of the CPU that builds
//! it, and runs on that CPU only. User mappings are 4 KiB pages in the lower half. With
//! PCID, CR3 is loaded with bit 63 set (keep this PCID's translations) and
//! the task's PCID in bits 0..12, so a switch flushes nothing; without it
//! (QEMU TCG), a switch flushes the user translations and keeps the
//! global kernel ones.

use runtime::mem::FrameAlloc;
use runtime::{MemError, Perm};
use x86_64::structures::paging::{PageTable, PageTableFlags};

use crate::boot::{DIRECT_MAP_SIZE, KERNEL_OFFSET};

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
    crate::smp::kernel_pml4()
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

/// A new address space with PCID `pcid` (ignored without PCID support),
/// for tasks of the running CPU: its kernel half is this CPU's.
pub fn new_space(frames: &mut FrameAlloc, pcid: u16) -> Result<u64, MemError> {
    let pml4 = alloc_table(frames)?;
    // SAFETY: `pml4` is fresh; this CPU's kernel PML4 is only read here
    // (its entry 511 never changes after boot).
    unsafe {
        let k = table(kernel_pml4_phys())[511].clone();
        table(pml4)[511] = k;
    }
    Ok(if crate::cpu::features().pcid {
        pml4 | CR3_NOFLUSH | u64::from(pcid & 0xFFF)
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
    let mut t = cr3 & 0x000F_FFFF_FFFF_F000;
    for level in [39u32, 30, 21] {
        let i = ((va >> level) & 0x1FF) as usize;
        // SAFETY: `t` is a page-table frame of this space (the root, or one
        // allocated below); the kernel runs on one CPU with no other users.
        let entry = unsafe { &mut table(t)[i] };
        if entry.is_unused() {
            let f = alloc_table(frames)?;
            entry.set_addr(x86_64::PhysAddr::new(f), inner);
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
/// CR4.PGE does that).
pub fn flush_all() {
    use x86_64::registers::control::{Cr4, Cr4Flags};
    let cr4 = Cr4::read();
    // SAFETY: clearing and restoring PGE only invalidates translations.
    unsafe {
        Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
        Cr4::write(cr4);
    }
}
