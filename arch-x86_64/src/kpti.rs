// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel isolation, Meltdown-style (`kpti=on` on the command line; off by
//! default): while user code runs, its page tables map nothing of the
//! kernel but the entry trampoline, so a CPU that speculates through the
//! user/supervisor check (Meltdown) finds no kernel data to read.
//!
//! **Two tables per space.** With isolation on, `paging::new_space` makes
//! each space a pair of PML4s on an 8 KiB boundary: the kernel's tables
//! (the even page: the user half and this CPU's kernel half, as without
//! isolation) and the user tables (the odd page: the same user half, entry
//! by entry, and in entry 511 the tables built here). The kernel runs on
//! the first, user code on the second; with PCID the second has its own
//! PCID (bit 11 set), so the switches flush nothing (CR3 bit 63).
//!
//! **What the user tables keep of the kernel** (this CPU's, built by
//! `enable`): the pages of the entry assembly (`.text.ipcb_entry`,
//! between the linker script's `__entry_text_start` and
//! `__entry_text_end`), read + execute; the IDT's page, read-only; and the
//! per-CPU pages the CPU itself reaches on an entry from user mode (GDT,
//! TSS, the IST stacks, the entry stack, the isolation mode:
//! `.percpu.entry`, up to `__percpu_entry_end`), read/write, never
//! executable. Not the kernel image, the direct map, the kernel stack or
//! any kernel state: `check` walks a space's user tables and proves it.
//! Global pages are off (a global translation would outlive the switch).
//!
//! **The switches** (`entry.rs`). Every `syscall` entry exists once per
//! mode; LSTAR names the copy of this CPU's mode (`cpu::enable_kpti`).
//! The isolated copies load the kernel's tables after the first compare
//! (the null syscall, answered before it, touches no kernel data) and the
//! user tables before each `sysretq`, through `rdx`, which every exit
//! scrubs: three instructions each way, four with PCID. Interrupts and
//! exceptions from user mode arrive on the entry stack and are moved to
//! the kernel stack once the kernel's tables are loaded; the NMI loads
//! them around its count. The fast paths never read the mode.

// On the host only `user_entry` is reached (paging.rs builds); the rest
// serves the bare-metal build.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

use core::ptr::addr_of;
#[cfg(target_os = "none")]
use core::ptr::addr_of_mut;

use x86_64::structures::paging::page_table::PageTableEntry;
use x86_64::structures::paging::{PageTable, PageTableFlags as F};
use x86_64::PhysAddr;

#[cfg(target_os = "none")]
use crate::layout::{KERNEL_OFFSET, PERCPU_VA};

/// Page tables for the 2 MiB slots of the image that hold the entry text
/// and the IDT (the image is below 8 MiB: `paging.rs`).
const IMAGE_TABLES: usize = 4;

/// This CPU's user-table kernel half: entry 511 of every user PML4 of the
/// CPU points at `pdpt`.
#[repr(C, align(4096))]
struct UserTables {
    pdpt: PageTable,
    /// PDPT entry 510: the image (its 2 MiB slots by `image`).
    pd_image: PageTable,
    image: [PageTable; IMAGE_TABLES],
    /// PDPT entry 511: the per-CPU region (its first 2 MiB by `percpu`).
    pd_percpu: PageTable,
    percpu: PageTable,
}

/// Per-CPU, like the region it maps part of (each CPU builds its own copy;
/// a secondary's starts as a clone of the boot CPU's, so [`enable`]
/// rebuilds it from nothing).
#[unsafe(link_section = ".percpu")]
static mut USER_TABLES: UserTables = UserTables {
    pdpt: PageTable::new(),
    pd_image: PageTable::new(),
    image: [const { PageTable::new() }; IMAGE_TABLES],
    pd_percpu: PageTable::new(),
    percpu: PageTable::new(),
};

/// Entry 511 of this CPU's user PML4s (written by [`enable`]).
#[unsafe(link_section = ".percpu")]
static mut USER_ENTRY: u64 = 0;

#[cfg(target_os = "none")]
unsafe extern "C" {
    static __entry_text_start: u8;
    static __entry_text_end: u8;
    static __percpu_entry_end: u8;
    static ipcb_fast_kernel: u8;
    fn ipcb_syscall_entry_kpti();
}

/// The page table in frame `pa` (in the direct map), to read.
///
/// # Safety
///
/// `pa` must be a page-table frame that nothing writes meanwhile.
unsafe fn pt<'a>(pa: u64) -> &'a PageTable {
    // SAFETY: per the caller.
    unsafe { &*(crate::paging::phys_to_virt(pa) as *const PageTable) }
}

/// Entry 511 of a user PML4 built on this CPU.
pub(crate) fn user_entry() -> PageTableEntry {
    let mut e = PageTableEntry::new();
    // SAFETY: this CPU's own copy, written once by `enable`.
    let pa = unsafe { *addr_of!(USER_ENTRY) };
    e.set_addr(PhysAddr::new(pa), F::PRESENT | F::WRITABLE);
    e
}

/// The physical address `va` has in the tables rooted at `root` (1 GiB,
/// 2 MiB and 4 KiB pages), or `None` if unmapped; with the leaf's flags.
fn walk(root: u64, va: u64) -> Option<(u64, F)> {
    let mut t = root;
    for (level, size) in [(39u32, 0u64), (30, 1 << 30), (21, 2 << 20), (12, 4096)] {
        // SAFETY: `t` is a page-table frame (the root, or named by the
        // entry above), in the direct map; only read.
        let e = unsafe { &pt(t)[((va >> level) & 511) as usize] };
        if !e.flags().contains(F::PRESENT) {
            return None;
        }
        if size == 4096 || (size != 0 && e.flags().contains(F::HUGE_PAGE)) {
            return Some((e.addr().as_u64() + (va & (size - 1)), e.flags()));
        }
        t = e.addr().as_u64();
    }
    None
}

#[cfg(target_os = "none")]
/// Physical address of this CPU's kernel address `va`.
fn pa_of(va: u64) -> Result<u64, &'static str> {
    walk(crate::percpu::kernel_pml4(), va).map(|(pa, _)| pa).ok_or("kpti: a kernel address to keep is not mapped")
}

#[cfg(target_os = "none")]
/// Build this CPU's user-table kernel half and turn isolation on for it
/// (see the module docs). Returns the mode (`cpu::KPTI_ON` or, with PCID,
/// `cpu::KPTI_PCID`).
///
/// # Safety
///
/// On this CPU, interrupts off, in the kernel's own space, before any
/// user space of this CPU is made (and after every earlier one is gone).
pub unsafe fn enable() -> Result<u64, &'static str> {
    let text = (addr_of!(__entry_text_start) as u64, addr_of!(__entry_text_end) as u64);
    let area_end = addr_of!(__percpu_entry_end) as u64;
    // SAFETY: this CPU's own copy; nothing reads it before isolation is
    // on (per the caller).
    let t = unsafe { &mut *addr_of_mut!(USER_TABLES) };
    t.pdpt.zero();
    t.pd_image.zero();
    t.image.iter_mut().for_each(PageTable::zero);
    t.pd_percpu.zero();
    t.percpu.zero();
    let tva = core::ptr::from_ref(t) as u64;
    let base = pa_of(tva)?;
    let pa = move |p: *const PageTable| base + (p as u64 - tva);
    let inner = F::PRESENT | F::WRITABLE;
    let (pd_image, pd_percpu, percpu) = (pa(&t.pd_image), pa(&t.pd_percpu), pa(&t.percpu));
    t.pdpt[510].set_addr(PhysAddr::new(pd_image), inner);
    t.pdpt[511].set_addr(PhysAddr::new(pd_percpu), inner);
    t.pd_percpu[0].set_addr(PhysAddr::new(percpu), inner);

    let keep = |t: &mut UserTables, va: u64, flags: F| -> Result<(), &'static str> {
        let target = pa_of(va)?;
        let leaf = if va >= PERCPU_VA {
            if va >= PERCPU_VA + (2 << 20) {
                return Err("kpti: the per-CPU entry pages pass 2 MiB");
            }
            &mut t.percpu
        } else {
            let slot = ((va - KERNEL_OFFSET) >> 21) as usize;
            if slot >= IMAGE_TABLES {
                return Err("kpti: the entry text or the IDT is above 8 MiB");
            }
            let table = pa(&t.image[slot]);
            t.pd_image[slot].set_addr(PhysAddr::new(table), inner);
            &mut t.image[slot]
        };
        leaf[((va >> 12) & 511) as usize].set_addr(PhysAddr::new(target & !0xFFF), flags);
        Ok(())
    };
    for va in (text.0..text.1).step_by(4096) {
        keep(t, va, F::PRESENT)?;
    }
    keep(t, crate::cpu::idt_addr(), F::PRESENT | F::NO_EXECUTE)?;
    for va in (PERCPU_VA..area_end).step_by(4096) {
        keep(t, va, F::PRESENT | F::WRITABLE | F::NO_EXECUTE)?;
    }
    // SAFETY: this CPU's own copy; read by `new_space` only from here on.
    unsafe { *addr_of_mut!(USER_ENTRY) = pa(&t.pdpt) };
    // SAFETY: per the caller; the tables above map what the entry needs.
    Ok(unsafe { crate::cpu::enable_kpti() })
}

#[cfg(target_os = "none")]
/// Prove that the user tables of `space` (a CR3 value of `new_space`,
/// built on this CPU with isolation on) keep nothing of the kernel but the
/// trampoline: the user half is the kernel tables' own, entry by entry;
/// the kernel half holds only the entry text, the IDT and this CPU's
/// entry pages, none user-accessible, no text writable, nothing else
/// executable; the kernel state, the kernel stack, the image's first page
/// and the direct map are absent; the entry, the IDT and the entry stack
/// present. Returns the number of kernel pages kept. Leaves a watchdog
/// interrupt pending for the stale-interrupt return (see the end).
pub fn check(space: u64) -> Result<u64, &'static str> {
    let kernel = space & 0x000F_FFFF_FFFF_F000;
    let user = kernel + 0x1000;
    if kernel & 0x1000 != 0 {
        return Err("the space's kernel tables are not on an even page");
    }
    let entry = |root: u64, i: usize| -> u64 {
        // SAFETY: a PML4 frame of the space, in the direct map; only read.
        unsafe { pt(root)[i].addr().as_u64() }
    };
    let raw = |root: u64, i: usize| -> F {
        // SAFETY: as above.
        unsafe { pt(root)[i].flags() }
    };
    for i in 0..256 {
        if entry(user, i) != entry(kernel, i) || raw(user, i) != raw(kernel, i) {
            return Err("the user tables' user half differs from the kernel tables'");
        }
    }
    if (256..511).any(|i| raw(user, i).contains(F::PRESENT)) {
        return Err("the user tables map kernel space outside entry 511");
    }
    // SAFETY: this CPU's own copy, written by `enable`.
    if entry(user, 511) != unsafe { *addr_of!(USER_ENTRY) } {
        return Err("the user tables' entry 511 is not this CPU's trampoline tables");
    }
    let text = addr_of!(__entry_text_start) as u64..addr_of!(__entry_text_end) as u64;
    let idt = crate::cpu::idt_addr();
    let area = PERCPU_VA..addr_of!(__percpu_entry_end) as u64;
    // Every page of the top 2 GiB (PDPT entries 510 and 511), by 4 KiB.
    let mut kept = 0;
    let top = 0xFFFF_FFFF_8000_0000u64;
    let mut va = top;
    loop {
        if let Some((_, f)) = walk(user, va) {
            if f.contains(F::HUGE_PAGE) || f.contains(F::USER_ACCESSIBLE) {
                return Err("the user tables map a kernel page user-accessible or by a large page");
            }
            let ok = if text.contains(&va) {
                !f.contains(F::WRITABLE) && !f.contains(F::NO_EXECUTE)
            } else if va == idt {
                !f.contains(F::WRITABLE) && f.contains(F::NO_EXECUTE)
            } else {
                area.contains(&va) && f.contains(F::NO_EXECUTE)
            };
            if !ok {
                return Err("the user tables map a kernel page that is not the trampoline's");
            }
            kept += 1;
        } else if va & 0x1F_FFFF == 0 && walk_pd_absent(user, va) {
            // A whole 2 MiB slot absent: skip it.
            match va.checked_add(2 << 20) {
                Some(v) => { va = v; continue; }
                None => break,
            }
        }
        match va.checked_add(4096) {
            Some(v) => va = v,
            None => break,
        }
    }
    let absent = [
        (addr_of!(ipcb_fast_kernel) as u64, "the user tables map the kernel state"),
        (crate::cpu::kstack_base(), "the user tables map the kernel stack"),
        (KERNEL_OFFSET, "the user tables map the direct map"),
        (KERNEL_OFFSET + 0x10_0000, "the user tables map the image's first page"),
    ];
    if let Some(&(_, why)) = absent.iter().find(|&&(va, _)| walk(user, va).is_some()) {
        return Err(why);
    }
    let present = [
        ipcb_syscall_entry_kpti as *const () as u64,
        idt,
        crate::cpu::entry_stack_base(),
    ];
    if present.iter().any(|&va| walk(user, va).is_none()) {
        return Err("the user tables lack the entry, the IDT or the entry stack");
    }
    // And the one path no scenario reaches by itself: the watchdog's
    // return to user mode of an interrupt that is not an expiry (a stale
    // one), which moves the frame back to the entry stack and loads the
    // user tables before its `iretq` (`IPCB_IRET`). An interrupt of the
    // watchdog's vector sent to this CPU now stays pending (interrupts are
    // off in the kernel) until the first user code that runs with them on
    // (the correctness scenarios, under the watchdog), is found not
    // expired there, and returns: a broken path faults that scenario.
    crate::apic::send_ipi(crate::apic::id(), u32::from(crate::cpu::WATCHDOG_VECTOR));
    Ok(kept)
}

/// Is the 2 MiB slot at `va` unmapped in the tables at `root`?
fn walk_pd_absent(root: u64, va: u64) -> bool {
    let mut t = root;
    for level in [39u32, 30, 21] {
        // SAFETY: as in `walk`.
        let e = unsafe { &pt(t)[((va >> level) & 511) as usize] };
        if !e.flags().contains(F::PRESENT) {
            return true;
        }
        if e.flags().contains(F::HUGE_PAGE) {
            return false;
        }
        t = e.addr().as_u64();
    }
    false
}
