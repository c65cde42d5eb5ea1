// SPDX-License-Identifier: MIT OR Apache-2.0
//! This CPU's identity, in the `.percpu` region: its index and the
//! physical address of its kernel PML4. The SMP start-up writes each
//! CPU's (`smp.rs`); the paging code reads it (user spaces copy the kernel
//! half of this CPU's PML4).

use core::ptr::addr_of;

use x86_64::structures::paging::PageTable;

use crate::layout::image_pa;

/// What the CPU-local code needs about its own CPU, in `.percpu`.
#[repr(C)]
pub(crate) struct CpuLocal {
    /// Index of this CPU (0 = the boot CPU).
    pub(crate) index: usize,
    /// Physical address of this CPU's kernel PML4 (0 on the boot CPU: the
    /// boot PML4).
    pub(crate) kernel_pml4: u64,
}

#[unsafe(link_section = ".percpu")]
pub(crate) static mut LOCAL: CpuLocal = CpuLocal { index: 0, kernel_pml4: 0 };

unsafe extern "C" {
    /// The boot PML4 (boot.rs).
    static ipcb_pml4: PageTable;
}

/// Index of the running CPU (0 = the boot CPU).
#[inline]
pub fn cpu_index() -> usize {
    // SAFETY: this CPU's own copy, written before the CPU ran any code
    // that asks (by the boot CPU, into the clone).
    unsafe { (*addr_of!(LOCAL)).index }
}

/// Physical address of the running CPU's kernel PML4: user spaces built on
/// this CPU copy its kernel half, and `load_kernel_space` loads it.
pub fn kernel_pml4() -> u64 {
    // SAFETY: as in `cpu_index`.
    let pa = unsafe { (*addr_of!(LOCAL)).kernel_pml4 };
    if pa == 0 { image_pa(addr_of!(ipcb_pml4)) } else { pa }
}
