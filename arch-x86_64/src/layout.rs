// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel's virtual layout: where the image, the direct map, the
//! per-CPU region and the device window sit. The boot code, the paging
//! code, the SMP start-up and the local APIC driver all place or reach
//! things by these; they live here so that each of those modules imports
//! this one and none of them another for a constant.

/// Virtual address of physical address 0 in the kernel's mapping.
pub const KERNEL_OFFSET: u64 = 0xFFFF_FFFF_8000_0000;
/// The kernel maps (and can reach) the first GiB of physical memory.
pub const DIRECT_MAP_SIZE: u64 = 1 << 30;
/// Virtual address of the per-CPU region (PDPT entry 511, PD entry 0).
pub const PERCPU_VA: u64 = 0xFFFF_FFFF_C000_0000;
/// Size of one CPU's copy of the region (one 2 MiB page).
pub const PERCPU_CHUNK: u64 = 2 << 20;
/// Device page table (PD entry 1): page 0 is the local APIC.
pub const DEVICE_VA: u64 = PERCPU_VA + PERCPU_CHUNK;
/// A 4 MiB window (PD entries 2 and 3) through which the boot CPU reads
/// ACPI tables beyond the direct map; unmapped after boot.
pub(crate) const WINDOW_VA: u64 = PERCPU_VA + 2 * PERCPU_CHUNK;

/// Physical address of a kernel static (in the image, in the direct map).
pub(crate) fn image_pa<T>(p: *const T) -> u64 {
    p as u64 - KERNEL_OFFSET
}
