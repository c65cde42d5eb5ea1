// SPDX-License-Identifier: MIT OR Apache-2.0
//! User address spaces: four-level tables (4 KiB granule, 48-bit VAs) in
//! `TTBR0` with ASIDs; the kernel in `TTBR1`.
//!
//! * **The kernel half** (`TTBR1`, built by `boot.rs`, shared by every
//!   space, global): the image at its linked address (in the GiB at
//!   [`crate::boot::KERNEL_VA_BASE`]) by 4 KiB pages onto where the loader
//!   put it, W^X: `.text` read-only and executable, `.rodata` read-only,
//!   the rest (`.data`, `.bss`, the boot stack and tables) read/write, both
//!   never executable; the direct map: the GiB of RAM that holds the image,
//!   at [`DIRECT_MAP_VA`] in 2 MiB blocks up to the board's RAM limit,
//!   never executable, read/write but for the image's `.text` and
//!   `.rodata` (those blocks by 4 KiB pages); the per-CPU region
//!   (read/write, never executable); and the board's device GiB at
//!   [`DEVICE_VA`] (never executable). All are EL1-only (`AP[1] = 0`: any
//!   EL0 access is a permission fault) and never executable at EL0
//!   (`UXN`); only `.text` is executable at all, and `SCTLR.WXN` makes
//!   every writable page never executable whatever its descriptor says.
//!   The image is reached at two addresses (its own and the direct map's),
//!   both Normal write-back memory.
//! * **A user space** (`TTBR0`): its own level-0 table, 4 KiB pages below
//!   2^48, tagged with the task's ASID (`nG` set), `PXN` on every page (the
//!   kernel never executes user memory), `UXN` unless the ELF segment is
//!   executable, read-only unless it is writable.
//!
//! The `TTBR0` value carries the ASID in bits 48..56, so a switch is one
//! `msr` and flushes nothing. The kernel alone (between scenarios) runs with
//! an empty level-0 table and ASID 0.

use core::sync::atomic::{AtomicU64, Ordering};

use runtime::mem::FrameAlloc;
use runtime::{MemError, Perm};

/// A block of kernel RAM (2 MiB, level 2): Normal memory (attribute 0), EL1 read/write
/// and no EL0 access (AP = 00), inner shareable, accessed, global, never
/// executable at EL0 (UXN). (Here, where the SMP start-up and the boot
/// code both find it.)
pub const BLOCK_RAM: u64 = 0b01 | (3 << 8) | (1 << 10) | (1 << 54);

/// Virtual address of the direct map (kernel level-1 entry 508): the
/// GiB-aligned GiB of RAM the image was loaded in, from its start, up to
/// the board's `__ram_map_limit` ([`direct_map_end`]).
pub const DIRECT_MAP_VA: u64 = 0xFFFF_FFFF_0000_0000;
/// Virtual address of the board's device window (1 GiB; the boot code maps
/// `__device_window_pa` there).
pub const DEVICE_VA: u64 = 0xFFFF_FFFF_C000_0000;
/// The kernel maps (and can reach) at most one GiB of RAM: the one it is
/// loaded in, up to the board's `__ram_map_limit` ([`direct_map_end`]).
/// Also the size of the device window.
pub const DIRECT_MAP_SIZE: u64 = 1 << 30;
/// Highest user address + 1 (`TTBR0` covers 48 bits).
pub const USER_END: u64 = 1 << 48;

/// Virtual minus physical address of the kernel image (its linked address
/// minus where the loader put it), written once by the boot code before
/// any Rust runs.
#[unsafe(no_mangle)]
pub static IPCB_PV_OFFSET: AtomicU64 = AtomicU64::new(0);
/// Virtual minus physical address in the direct map ([`DIRECT_MAP_VA`]
/// minus [`ram_base`]), written once by the boot code.
#[unsafe(no_mangle)]
pub static IPCB_DIRECT_OFFSET: AtomicU64 = AtomicU64::new(0);
/// How much of the kernel's GiB the boot code mapped as RAM (the board's
/// `__ram_map_limit`). Written once by the boot code.
#[unsafe(no_mangle)]
pub static IPCB_RAM_MAP_LIMIT: AtomicU64 = AtomicU64::new(0);
/// The physical base of the board's device window (`__device_window_pa`),
/// mapped at [`DEVICE_VA`]. Written once by the boot code.
#[unsafe(no_mangle)]
pub static IPCB_DEVICE_WINDOW_PA: AtomicU64 = AtomicU64::new(0);

/// Kernel virtual address of device register `pa`, if it lies in the
/// board's device window.
pub fn device_va(pa: u64) -> Option<u64> {
    let off = pa.wrapping_sub(IPCB_DEVICE_WINDOW_PA.load(Ordering::Relaxed));
    (off < DIRECT_MAP_SIZE).then_some(DEVICE_VA + off)
}

/// Virtual address of the second device window (kernel level-1 entry
/// 507, empty until [`map_device_gib`] fills it): for a board whose
/// devices span two GiBs (the Raspberry Pi 3's peripherals at
/// 0x3F00_0000 and its local interrupt controller at 0x4000_0000).
pub const DEVICE2_VA: u64 = 0xFFFF_FFFE_C000_0000;
/// The physical GiB mapped at [`DEVICE2_VA`] (`u64::MAX`: none).
static DEVICE2_PA: AtomicU64 = AtomicU64::new(u64::MAX);

/// Kernel virtual address of device register `pa`: in the device window,
/// or in the second one if that maps its GiB.
pub fn device_va_any(pa: u64) -> Option<u64> {
    device_va(pa).or_else(|| {
        let off = pa.wrapping_sub(DEVICE2_PA.load(Ordering::Relaxed));
        (off < DIRECT_MAP_SIZE).then_some(DEVICE2_VA + off)
    })
}

/// Map the GiB that holds device register `pa` as the second device
/// window (Device-nGnRE, EL1 only, never executable) unless a window maps
/// it already; its kernel virtual address, or `None` when the second
/// window holds another GiB. Boot CPU, before the other CPUs start (they
/// copy its level-1 table then).
pub fn map_device_gib(pa: u64) -> Option<u64> {
    if let Some(va) = device_va_any(pa) {
        return Some(va);
    }
    if DEVICE2_PA.load(Ordering::Relaxed) != u64::MAX {
        return None;
    }
    let base = pa & !(DIRECT_MAP_SIZE - 1);
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        unsafe extern "C" {
            static mut ipcb_kernel_l1: [u64; 512];
        }
        // SAFETY: entry 507 of the kernel's level-1 table is unused (it was
        // invalid, so no translation of it is cached: no break-before-make
        // needed); the boot CPU alone runs, and the barriers make the walker
        // see the entry before the first access through it.
        unsafe {
            let l1 = &mut *core::ptr::addr_of_mut!(ipcb_kernel_l1);
            core::ptr::write_volatile(&mut l1[507], base | crate::boot::BLOCK_DEVICE);
            core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags));
        }
    }
    DEVICE2_PA.store(base, Ordering::Relaxed);
    device_va_any(pa)
}

/// `TTBR0` value of the kernel alone: the physical address of an empty
/// level-0 table, ASID 0. Written once by the boot code.
#[unsafe(no_mangle)]
pub static IPCB_EMPTY_TTBR0: AtomicU64 = AtomicU64::new(0);

/// Page descriptor bits (level 3): valid page.
const PAGE: u64 = 0b11;
/// Table descriptor bits (levels 0-2).
const TABLE: u64 = 0b11;
/// AP[1]: EL0 may access.
const AP_EL0: u64 = 1 << 6;
/// AP[2]: read-only (at every level).
const AP_RO: u64 = 1 << 7;
/// Inner shareable.
const SH_INNER: u64 = 3 << 8;
/// Access flag (set: no access-flag faults).
const AF: u64 = 1 << 10;
/// Not global: tagged with the ASID.
const NG: u64 = 1 << 11;
/// Never executable at EL1 (EL2 under VHE).
const PXN: u64 = 1 << 53;
/// Never executable at EL0.
const UXN: u64 = 1 << 54;
/// Output-address bits of a descriptor.
const ADDR: u64 = 0x0000_FFFF_FFFF_F000;

/// The physical base of the kernel's GiB of RAM (the start of the direct
/// map): the GiB-aligned GiB the image was loaded in.
pub fn ram_base() -> u64 {
    DIRECT_MAP_VA.wrapping_sub(IPCB_DIRECT_OFFSET.load(Ordering::Relaxed))
}

/// Physical address of kernel virtual address `va`: in the direct map, or
/// in the image (a kernel static).
pub fn virt_to_phys(va: u64) -> u64 {
    let off = va.wrapping_sub(DIRECT_MAP_VA);
    if off < DIRECT_MAP_SIZE {
        ram_base() + off
    } else {
        va.wrapping_sub(IPCB_PV_OFFSET.load(Ordering::Relaxed))
    }
}


/// The physical end of the direct map: the kernel's GiB of RAM up to the
/// board's `__ram_map_limit` (the rest of the GiB, where a board may have
/// its peripherals, is not mapped as RAM).
pub fn direct_map_end() -> u64 {
    ram_base() + IPCB_RAM_MAP_LIMIT.load(Ordering::Relaxed).min(DIRECT_MAP_SIZE)
}

/// Is physical `pa` inside the direct map?
pub fn in_direct_map(pa: u64) -> bool {
    pa.wrapping_sub(ram_base()) < IPCB_RAM_MAP_LIMIT.load(Ordering::Relaxed).min(DIRECT_MAP_SIZE)
}

/// Kernel virtual address of physical `pa` (in the direct map).
#[inline(always)]
pub fn phys_to_virt(pa: u64) -> *mut u8 {
    debug_assert!(in_direct_map(pa));
    pa.wrapping_add(IPCB_DIRECT_OFFSET.load(Ordering::Relaxed)) as *mut u8
}

/// The page table in frame `pa`.
///
/// # Safety
///
/// `pa` must be a page-table frame in the direct map that no other
/// reference aliases for the returned lifetime.
unsafe fn table<'a>(pa: u64) -> &'a mut [u64; 512] {
    // SAFETY: per the caller.
    unsafe { &mut *(phys_to_virt(pa) as *mut [u64; 512]) }
}

fn alloc_table(frames: &mut FrameAlloc) -> Result<u64, MemError> {
    let pa = frames.alloc().ok_or(MemError::OutOfFrames)?;
    // SAFETY: a fresh frame from the allocator, in the direct map.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa), 0, 4096) };
    Ok(pa)
}

/// A new, empty address space with ASID `asid` (1..=255): its `TTBR0`
/// value.
pub fn new_space(frames: &mut FrameAlloc, asid: u16) -> Result<u64, MemError> {
    if asid == 0 || asid > 255 {
        return Err(MemError::BadAddress);
    }
    let l0 = alloc_table(frames)?;
    Ok(l0 | (u64::from(asid) << 48))
}

/// Map the user page `va` to frame `pa` in the space whose `TTBR0` value
/// is `ttbr0`. An executable page is made coherent for instruction fetch
/// (its contents are written before it is mapped).
pub fn map_page(
    frames: &mut FrameAlloc,
    ttbr0: u64,
    va: u64,
    pa: u64,
    perm: Perm,
) -> Result<(), MemError> {
    if va >= USER_END || va & 0xFFF != 0 || pa & 0xFFF != 0 || !in_direct_map(pa) {
        return Err(MemError::BadAddress);
    }
    let mut t = ttbr0 & ADDR;
    for shift in [39u32, 30, 21] {
        let i = ((va >> shift) & 0x1FF) as usize;
        // SAFETY: `t` is a table frame of this space (the root, or one
        // allocated below); the kernel runs on one CPU with no other users.
        let entry = unsafe { &mut table(t)[i] };
        if *entry & 1 == 0 {
            *entry = alloc_table(frames)? | TABLE;
        }
        t = *entry & ADDR;
    }
    let mut desc = pa | PAGE | AP_EL0 | SH_INNER | AF | NG | PXN;
    if !perm.write {
        desc |= AP_RO;
    }
    if !perm.exec {
        desc |= UXN;
    }
    // SAFETY: as above, the leaf table of this space.
    let entry = unsafe { &mut table(t)[((va >> 12) & 0x1FF) as usize] };
    if *entry & 1 != 0 {
        return Err(MemError::AlreadyMapped);
    }
    if perm.exec {
        sync_icache(phys_to_virt(pa) as u64);
    }
    *entry = desc;
    barrier_tables();
    Ok(())
}

/// Make the page at kernel address `va` coherent for instruction fetch:
/// clean its data-cache lines to the point of unification, then invalidate
/// the instruction cache.
fn sync_icache(va: u64) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        // CTR_EL0.DminLine: log2 of the smallest data-cache line, in words.
        let ctr: u64;
        // SAFETY: reads an ID register; no side effects.
        unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        let line = 4u64 << ((ctr >> 16) & 0xF);
        let mut a = va;
        while a < va + 4096 {
            // SAFETY: a cache clean of a mapped kernel address changes no
            // memory contents.
            unsafe { core::arch::asm!("dc cvau, {}", in(reg) a, options(nostack, preserves_flags)) };
            a += line;
        }
        // SAFETY: barriers and an instruction-cache invalidation change no
        // memory contents.
        unsafe {
            core::arch::asm!(
                "dsb ish",  // cleans complete
                "ic iallu", // instruction cache: forget everything
                "dsb ish",  // invalidation complete
                "isb",      // and seen by this CPU's fetch
                options(nostack, preserves_flags)
            )
        };
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = va;
}

/// Make table writes visible to the table walker.
fn barrier_tables() {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: a barrier; no other effect. Not `nomem`: the table stores
    // above must not move past it.
    unsafe {
        core::arch::asm!("dsb ishst", options(nostack, preserves_flags))
    };
}

/// Load `ttbr0` (a value from [`new_space`]). No `isb`: the kernel itself
/// only uses `TTBR1` addresses, and the `eret` that follows on the way to
/// user mode is a context synchronisation event.
#[inline(always)]
pub fn switch_to(ttbr0: u64) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: `ttbr0` names a table of user mappings only; the kernel half
    // is in TTBR1 and unaffected.
    unsafe {
        core::arch::asm!("msr ttbr0_el1, {}", in(reg) ttbr0, options(nostack, preserves_flags))
    };
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = ttbr0;
}

/// The kernel alone: an empty `TTBR0` table, ASID 0.
pub fn load_kernel() {
    switch_to(IPCB_EMPTY_TTBR0.load(Ordering::Relaxed));
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Forget every non-kernel translation of every ASID (and refetch the
/// kernel's): `tlbi vmalle1` (under VHE it acts on the EL2&0 regime).
pub fn flush_all() {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: TLB maintenance only drops cached translations.
    unsafe {
        core::arch::asm!(
            "dsb ishst",    // table writes before the invalidation
            "tlbi vmalle1", // every translation of this regime, this CPU
            "dsb ish",      // invalidation complete
            "isb",
            options(nostack, preserves_flags)
        )
    };
}
