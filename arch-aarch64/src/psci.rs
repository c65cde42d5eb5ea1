// SPDX-License-Identifier: MIT OR Apache-2.0
//! PSCI (Arm Power State Coordination Interface) calls besides `CPU_ON`
//! (which `smp` makes): `SYSTEM_OFF`, how a kernel started by firmware
//! ends its run; `AFFINITY_INFO`, which CPUs exist where nothing lists
//! them (QEMU's `xlnx-zcu102`); and the conduit the device tree names.
//!
//! The conduit is `hvc` or `smc` (the firmware answers at EL2 or EL3), as
//! the device tree's `/psci` node says in `method` (ACPI: the FADT's Arm
//! boot flags, `acpi::psci_conduit`). The convention here and in `smp`:
//! `smc: bool`, false for `hvc`.
//!
//! QEMU's PSCI (`virt` at EL1, or its emulated EL3 with
//! `virtualization=on`) powers the machine off on `SYSTEM_OFF`, and QEMU
//! then exits with status 0: the kernel's verdict is its `IPCB end` line.

/// `SYSTEM_OFF` (SMC32 function ID; PSCI 0.2 and later).
const PSCI_SYSTEM_OFF: u32 = 0x8400_0008;
/// `AFFINITY_INFO` (SMC64 function ID; PSCI 0.2 and later).
const PSCI_AFFINITY_INFO: u64 = 0xC400_0004;
/// `AFFINITY_INFO`'s answer for a CPU that is on.
pub const AFFINITY_ON: i64 = 0;
/// `AFFINITY_INFO`'s answer for a CPU that is off (`CPU_ON` starts it).
pub const AFFINITY_OFF: i64 = 1;

/// The PSCI conduit of the device tree at physical `dtb`: `Some(true)` for
/// `smc`, `Some(false)` for `hvc`; `None` without a tree, without a `/psci`
/// node, or when it names PSCI 0.1 only (`compatible = "arm,psci"`, which
/// has no `SYSTEM_OFF`).
pub fn conduit_from_dt(dtb: u64) -> Option<bool> {
    if !crate::paging::in_direct_map(dtb) {
        return None;
    }
    // SAFETY: as `boot::parse`: a device tree in the direct map, never
    // written, mapped for the life of the kernel (the crate checks the
    // header).
    let fdt = unsafe { fdt::Fdt::from_ptr(crate::paging::phys_to_virt(dtb)) }.ok()?;
    let node = crate::boot::dt_node(&fdt, "/psci")?;
    let v02 = node
        .compatible()
        .is_some_and(|c| c.all().any(|s| s == "arm,psci-0.2" || s == "arm,psci-1.0"));
    match node.property("method").and_then(|p| p.as_str())? {
        "smc" if v02 => Some(true),
        "hvc" if v02 => Some(false),
        _ => None,
    }
}

/// PSCI `SYSTEM_OFF` through `smc` or `hvc`. Returns only if the firmware
/// did not power the machine off (PSCI says it never returns; a firmware
/// that does not implement it answers `NOT_SUPPORTED`).
pub fn system_off(smc: bool) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: an SMC Calling Convention call: x0-x17 may be clobbered;
    // SYSTEM_OFF touches no memory of ours.
    unsafe {
        if smc {
            core::arch::asm!("smc #0", inout("x0") u64::from(PSCI_SYSTEM_OFF) => _,
                out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _,
                out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
                out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                options(nostack));
        } else {
            core::arch::asm!("hvc #0", inout("x0") u64::from(PSCI_SYSTEM_OFF) => _,
                out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _,
                out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
                out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                options(nostack));
        }
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = (smc, PSCI_SYSTEM_OFF);
}

/// PSCI `AFFINITY_INFO(target, 0)` through `smc` or `hvc`: the power state
/// of the CPU whose affinity (`MPIDR_EL1` bits 0-23, 32-39) is `target`:
/// [`AFFINITY_ON`], [`AFFINITY_OFF`], 2 (on, pending), or a negative PSCI
/// error (-2, `INVALID_PARAMETERS`: no such CPU). Only where the conduit
/// is known to answer: without PSCI firmware the instruction is undefined.
pub fn affinity_info(smc: bool, target: u64) -> i64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let mut x0 = PSCI_AFFINITY_INFO;
        // SAFETY: an SMC Calling Convention call: x0-x17 may be clobbered;
        // AFFINITY_INFO only reads the firmware's state.
        unsafe {
            if smc {
                core::arch::asm!("smc #0", inout("x0") x0, inout("x1") target => _, inout("x2") 0u64 => _,
                    out("x3") _, out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                    out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                    out("x15") _, out("x16") _, out("x17") _, options(nostack));
            } else {
                core::arch::asm!("hvc #0", inout("x0") x0, inout("x1") target => _, inout("x2") 0u64 => _,
                    out("x3") _, out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                    out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                    out("x15") _, out("x16") _, out("x17") _, options(nostack));
            }
        }
        x0 as i64
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    {
        let _ = (smc, target, PSCI_AFFINITY_INFO);
        -1
    }
}
