// SPDX-License-Identifier: MIT OR Apache-2.0
//! What the UEFI application hands the kernel (`x0` at its entry): one
//! `#[repr(C)]` block, written before `ExitBootServices` (the end of RAM
//! after it) and read by the kernel through its direct map. It lies just
//! below the kernel image, memory the kernel never hands out.

use arch_aarch64::smp::MAX_CPUS;

/// `Handoff::magic`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"IPCBUEFI");
/// Longest command line carried (bytes).
pub const CMDLINE_MAX: usize = 2048;
/// Bytes reserved below the kernel image for the block (a multiple of the
/// 4 KiB UEFI page).
pub const RESERVED: u64 = 0x2_0000;
const _: () = assert!(core::mem::size_of::<Handoff>() as u64 <= RESERVED);

/// `Handoff::console_kind`: none.
pub const CONSOLE_NONE: u32 = 0;
/// `Handoff::console_kind`: a PL011 (or SBSA generic UART).
pub const CONSOLE_PL011: u32 = 1;
/// `Handoff::console_kind`: a 16550 (`console_width` bytes per register).
pub const CONSOLE_16550: u32 = 2;

/// `Handoff::psci`: the FADT does not say PSCI.
pub const PSCI_NONE: u32 = 0;
/// `Handoff::psci`: PSCI through `hvc`.
pub const PSCI_HVC: u32 = 1;
/// `Handoff::psci`: PSCI through `smc`.
pub const PSCI_SMC: u32 = 2;

/// `Handoff::gic`: a GICv2 (`gicd`, `gicc`).
pub const GIC_V2: u32 = 2;
/// `Handoff::gic`: a GICv3 (`gicd`, `gicr` regions).
pub const GIC_V3: u32 = 3;

/// The block.
#[repr(C)]
pub struct Handoff {
    /// [`MAGIC`].
    pub magic: u64,
    /// `size_of::<Handoff>()`: both sides were built from the same source.
    pub size: u64,
    /// The end of the RAM that is free from the kernel image's start on
    /// (from the final UEFI memory map).
    pub ram_end: u64,
    /// The ACPI RSDP (physical), for the record.
    pub rsdp: u64,
    /// `CONSOLE_*`, from the SPCR.
    pub console_kind: u32,
    /// Register width of a 16550 (1 or 4).
    pub console_width: u32,
    /// Physical base of the console's registers.
    pub console_base: u64,
    /// `PSCI_*`, from the FADT.
    pub psci: u32,
    /// CPUs in `mpidr` (MADT GICC entries, at most [`MAX_CPUS`]).
    pub n_cpus: u32,
    /// CPUs the MADT lists beyond [`MAX_CPUS`].
    pub dropped_cpus: u32,
    /// Length of `cmdline`.
    pub cmdline_len: u32,
    /// `GIC_*`, from the MADT (`arch_aarch64::acpi::madt_gic`); 0: no
    /// GIC the watchdog can use.
    pub gic: u32,
    /// The timer's interrupt IDs from the GTDT (0: not said): EL1
    /// virtual, EL2.
    pub timer_virt: u32,
    pub timer_hyp: u32,
    /// The distributor, and a GICv2's CPU interface (physical).
    pub gicd: u64,
    pub gicc: u64,
    /// A GICv3's redistributor regions (physical; 0: none).
    pub gicr: [u64; arch_aarch64::watchdog::MAX_GICR_REGIONS],
    /// The CPUs' affinities (MPIDR).
    pub mpidr: [u64; MAX_CPUS],
    /// The command line, UTF-8.
    pub cmdline: [u8; CMDLINE_MAX],
}
