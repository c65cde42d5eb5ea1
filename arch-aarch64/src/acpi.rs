// SPDX-License-Identifier: MIT OR Apache-2.0
//! The Arm ACPI tables an SBBR server (Ampere Altra, QEMU `virt` under
//! AAVMF) describes itself with when it gives the OS no device tree: the
//! CPUs from the MADT's GICC entries, the PSCI conduit from the FADT's Arm
//! boot flags, the console from the SPCR, and for the watchdog the GIC
//! from the MADT (GICD, GICC, GICR entries: GICv2 or GICv3) and the
//! generic timer's interrupts from the GTDT.
//!
//! Only reading: [`platform`] walks RSDP → XSDT (or RSDT) → tables through
//! a `read(pa, len)` callback, so the same code reads identity-mapped
//! firmware memory in the UEFI loader and byte arrays in the host tests.
//! Every table's length and checksum are checked; a table that fails them
//! counts as missing. Table layouts are those of ACPI 6.5 (§5.2.5 RSDP,
//! §5.2.8 XSDT, §5.2.9 FADT, §5.2.12 MADT, §5.2.12.14 GICC, §5.2.12.15
//! GICD, §5.2.12.17 GICR, §5.2.25 GTDT) and of the
//! Serial Port Console Redirection table, revision 2+ (Microsoft), whose
//! interface types are the DBG2 serial subtypes.

use crate::smp::{Config, CpuDesc, Start};
use crate::watchdog::{Intc, MAX_GICR_REGIONS, TimerIrqs};

/// Length of every system description table's header.
const HEADER: usize = 36;
/// MADT: the first interrupt-controller structure.
const MADT_ENTRIES: usize = 44;
/// MADT structure type of a GIC CPU interface (one per CPU).
const MADT_GICC: u8 = 0x0B;
/// GICC: bytes up to and including the MPIDR (ACPI 6.0 and later).
const GICC_MIN_LEN: usize = 76;
/// GICC: the CPU interface's physical base (GICv2), the CPU's
/// redistributor (GICv3; 0 when a GICR entry describes them).
const GICC_BASE: usize = 32;
const GICC_GICR: usize = 60;
/// MADT structure type of the GIC distributor: its base at 8, the GIC
/// version at 20 (0: not said, else 1-4).
const MADT_GICD: u8 = 0x0C;
const GICD_BASE: usize = 8;
const GICD_VERSION: usize = 20;
/// MADT structure type of a GIC redistributor region: its base at 4.
const MADT_GICR: u8 = 0x0E;
const GICR_BASE: usize = 4;
/// GTDT: the EL1 virtual timer's GSIV at 64, the EL2 timer's at 72.
const GTDT_VIRT_GSIV: usize = 64;
const GTDT_EL2_GSIV: usize = 72;
/// GICC flags: the CPU is usable.
const GICC_ENABLED: u32 = 1 << 0;
/// GICC flags: the CPU is off now but may be brought online (ACPI 6.5).
const GICC_ONLINE_CAPABLE: u32 = 1 << 3;
/// FADT: offset of `ARM_BOOT_ARCH` (2 bytes).
const FADT_ARM_BOOT_ARCH: usize = 129;
/// `ARM_BOOT_ARCH`: PSCI is implemented.
const PSCI_COMPLIANT: u16 = 1 << 0;
/// `ARM_BOOT_ARCH`: PSCI is called with `hvc` (else `smc`).
const PSCI_USE_HVC: u16 = 1 << 1;
/// SPCR: interface type, then the base address (a Generic Address
/// Structure) at 40.
const SPCR_TYPE: usize = 36;
const SPCR_BASE: usize = 40;

/// The kinds of UART the kernel drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    /// An Arm PL011, or the SBSA generic UART (a subset of it).
    Pl011,
    /// A 16550 (or 16450) on MMIO, registers `width` bytes apart, each
    /// accessed with `width`-byte accesses (1 or 4).
    Ns16550 {
        /// Register width and stride in bytes.
        width: u8,
    },
}

/// The console the SPCR names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    /// What drives it.
    pub kind: UartKind,
    /// Physical address of its registers.
    pub base: u64,
}

/// Why the SPCR names no console the kernel can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoConsole {
    /// There is no SPCR (or it is too short or fails its checksum).
    Missing,
    /// Its interface type is not a PL011, SBSA or 16550 UART.
    Type(u8),
    /// Its registers are not in memory space (or at address 0).
    NotMmio,
}

/// What the ACPI tables say about the machine.
#[derive(Clone, Copy, Debug)]
pub struct Platform {
    /// The CPUs (MADT GICC entries that are enabled or online-capable),
    /// started by PSCI through the FADT's conduit; [`Config::dropped`]
    /// counts those beyond [`crate::smp::MAX_CPUS`].
    pub cpus: Config,
    /// There is a MADT.
    pub madt: bool,
    /// The FADT says PSCI, through `smc` (`Some(true)`) or `hvc`; `None`
    /// without a FADT or when it does not say PSCI.
    pub psci_smc: Option<bool>,
    /// The console, or why there is none.
    pub console: Result<Uart, NoConsole>,
    /// The GIC the MADT describes ([`madt_gic`]), for the watchdog.
    pub gic: Option<Intc>,
    /// The generic timer's interrupts from the GTDT ([`gtdt_timer`]).
    pub timer: Option<TimerIrqs>,
}

/// Why the tables could not be read at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    /// No RSDP signature, a bad checksum, or no XSDT/RSDT behind it.
    NoRsdp,
    /// The XSDT (or RSDT) is unreadable or fails its checksum.
    BadRoot,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// The bytes sum to 0 (mod 256), as every ACPI checksum wants.
fn sums_to_zero(b: &[u8]) -> bool {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x)) == 0
}

/// The whole table at `pa` (header length, checksum checked), or `None`.
fn table<'a>(pa: u64, read: &impl Fn(u64, usize) -> Option<&'a [u8]>) -> Option<&'a [u8]> {
    let len = u32_at(read(pa, HEADER)?, 4)? as usize;
    if len < HEADER {
        return None;
    }
    let t = read(pa, len)?;
    (t.len() == len && sums_to_zero(t)).then_some(t)
}

/// The physical addresses of the tables the root table lists.
fn entries<'a>(root: &'a [u8], wide: bool) -> impl Iterator<Item = u64> + 'a {
    let size = if wide { 8 } else { 4 };
    (HEADER..root.len())
        .step_by(size)
        .filter_map(move |o| if wide { u64_at(root, o) } else { u32_at(root, o).map(u64::from) })
}

/// Read the machine's description from the tables behind the RSDP at
/// physical `rsdp`. `read(pa, len)` returns the `len` bytes at physical
/// `pa` (or `None` when they are not readable).
pub fn platform<'a>(
    rsdp: u64,
    read: impl Fn(u64, usize) -> Option<&'a [u8]>,
) -> Result<Platform, AcpiError> {
    let r = read(rsdp, 20).ok_or(AcpiError::NoRsdp)?;
    if &r[..8] != b"RSD PTR " || !sums_to_zero(r) {
        return Err(AcpiError::NoRsdp);
    }
    // Revision 2 and later: the 64-bit XSDT (extended checksum over 36
    // bytes); revision 0: the RSDT only.
    let (root_pa, wide) = match r[15] {
        0 => (u64::from(u32_at(r, 16).ok_or(AcpiError::NoRsdp)?), false),
        _ => {
            let x = read(rsdp, 36).ok_or(AcpiError::NoRsdp)?;
            if !sums_to_zero(x) {
                return Err(AcpiError::NoRsdp);
            }
            (u64_at(x, 24).ok_or(AcpiError::NoRsdp)?, true)
        }
    };
    if root_pa == 0 {
        return Err(AcpiError::NoRsdp);
    }
    let root = table(root_pa, &read).ok_or(AcpiError::BadRoot)?;
    let want = if wide { b"XSDT" } else { b"RSDT" };
    if &root[..4] != want {
        return Err(AcpiError::BadRoot);
    }
    let find = |sig: &[u8; 4]| {
        entries(root, wide).filter_map(|pa| table(pa, &read)).find(|t| &t[..4] == sig)
    };
    let psci_smc = find(b"FACP").and_then(psci_conduit);
    let madt = find(b"APIC");
    let mut cpus = madt.map(madt_cpus).unwrap_or(Config::single());
    cpus.start = Start::Psci { smc: psci_smc.unwrap_or(true) };
    let console = find(b"SPCR").ok_or(NoConsole::Missing).and_then(spcr_uart);
    let gic = madt.and_then(madt_gic);
    let timer = find(b"GTDT").and_then(gtdt_timer);
    Ok(Platform { cpus, madt: madt.is_some(), psci_smc, console, gic, timer })
}

/// The FADT's PSCI conduit: `Some(true)` for `smc`, `Some(false)` for
/// `hvc`, `None` when the FADT does not say PSCI (or is too short: before
/// ACPI 5.1 it had no Arm boot flags).
pub fn psci_conduit(fadt: &[u8]) -> Option<bool> {
    let flags = u16_at(fadt, FADT_ARM_BOOT_ARCH)?;
    (flags & PSCI_COMPLIANT != 0).then_some(flags & PSCI_USE_HVC == 0)
}

/// The CPUs of a MADT: every GICC entry that is enabled or online-capable,
/// by its MPIDR (affinity bits), in table order.
pub fn madt_cpus(madt: &[u8]) -> Config {
    let mut cfg = Config::single();
    let mut at = MADT_ENTRIES;
    while let (Some(&ty), Some(&len)) = (madt.get(at), madt.get(at + 1)) {
        let len = usize::from(len);
        if len < 2 || at + len > madt.len() {
            break;
        }
        let e = &madt[at..at + len];
        if ty == MADT_GICC && len >= GICC_MIN_LEN {
            let flags = u32_at(e, 12).unwrap_or(0);
            let mpidr = u64_at(e, 68).unwrap_or(0);
            if flags & (GICC_ENABLED | GICC_ONLINE_CAPABLE) != 0 {
                cfg.push(CpuDesc { mpidr: mpidr & crate::smp::MPIDR_AFF, release: 0 });
            }
        }
        at += len;
    }
    cfg
}

/// The MADT's interrupt-controller structures, in table order.
fn madt_entries(madt: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = MADT_ENTRIES;
    core::iter::from_fn(move || {
        let (&ty, &len) = (madt.get(at)?, madt.get(at + 1)?);
        let len = usize::from(len);
        if len < 2 || at + len > madt.len() {
            return None;
        }
        let e = &madt[at..at + len];
        at += len;
        Some((ty, e))
    })
}

/// The GIC of a MADT: its distributor (GICD entry) and, by the version it
/// states (or, when it states none, by whether there are redistributors),
/// a GICv2's CPU interface (the first usable GICC entry's base; banked,
/// the same for every CPU) or a GICv3's redistributor regions (the GICR
/// entries; without any, the lowest redistributor a GICC entry names, the
/// start of a run each CPU searches for its own). `None` without a GICD
/// entry, or a GICv1 (no architected timer interrupts to route), or no
/// CPU interface or redistributor at all.
pub fn madt_gic(madt: &[u8]) -> Option<Intc> {
    let (_, d) = madt_entries(madt).find(|&(ty, e)| ty == MADT_GICD && e.len() >= 24)?;
    let gicd = u64_at(d, GICD_BASE)?;
    let version = d[GICD_VERSION];
    let mut gicr = [0u64; MAX_GICR_REGIONS];
    let mut regions = 0;
    for (_, e) in madt_entries(madt).filter(|&(ty, e)| ty == MADT_GICR && e.len() >= 16) {
        if regions < MAX_GICR_REGIONS {
            gicr[regions] = u64_at(e, GICR_BASE)?;
            regions += 1;
        }
    }
    let usable = |e: &[u8]| {
        e.len() >= GICC_MIN_LEN
            && u32_at(e, 12).unwrap_or(0) & (GICC_ENABLED | GICC_ONLINE_CAPABLE) != 0
    };
    let giccs = || madt_entries(madt).filter(move |&(ty, e)| ty == MADT_GICC && usable(e));
    let per_cpu_gicr = giccs().filter_map(|(_, e)| u64_at(e, GICC_GICR)).filter(|&a| a != 0).min();
    let v3 = match version {
        1 => return None,
        2 => false,
        3 | 4 => true,
        _ => regions > 0 || per_cpu_gicr.is_some(),
    };
    if v3 {
        if regions == 0 {
            gicr[0] = per_cpu_gicr?;
        }
        Some(Intc::V3 { gicd, gicr })
    } else {
        let gicc = giccs().filter_map(|(_, e)| u64_at(e, GICC_BASE)).find(|&a| a != 0)?;
        Some(Intc::V2 { gicd, gicc })
    }
}

/// The generic timer's interrupts of a GTDT: the EL1 virtual timer's and
/// the EL2 (physical) timer's GSIVs. `None` when the table is too short or
/// either is not a private interrupt (16..32).
pub fn gtdt_timer(gtdt: &[u8]) -> Option<TimerIrqs> {
    let virt = u32_at(gtdt, GTDT_VIRT_GSIV)?;
    let hyp = u32_at(gtdt, GTDT_EL2_GSIV)?;
    let ppi = |x: u32| (16..32).contains(&x);
    (ppi(virt) && ppi(hyp)).then_some(TimerIrqs { virt, hyp })
}

/// The console of an SPCR: PL011 (type 0x03), SBSA generic UART (0x0D,
/// 0x0E), 16550 (0x00, 0x01, 0x12) in memory space.
pub fn spcr_uart(spcr: &[u8]) -> Result<Uart, NoConsole> {
    let ty = *spcr.get(SPCR_TYPE).ok_or(NoConsole::Missing)?;
    let space = *spcr.get(SPCR_BASE).ok_or(NoConsole::Missing)?;
    let bit_width = *spcr.get(SPCR_BASE + 1).ok_or(NoConsole::Missing)?;
    let access = *spcr.get(SPCR_BASE + 3).ok_or(NoConsole::Missing)?;
    let base = u64_at(spcr, SPCR_BASE + 4).ok_or(NoConsole::Missing)?;
    let kind = match ty {
        0x03 | 0x0D | 0x0E => UartKind::Pl011,
        // Register width: the GAS access size (3 = 32 bits), else its bit
        // width; byte registers when neither says 32 bits.
        0x00 | 0x01 | 0x12 => {
            UartKind::Ns16550 { width: if access == 3 || bit_width == 32 { 4 } else { 1 } }
        }
        other => return Err(NoConsole::Type(other)),
    };
    // Address space 0: system memory.
    if space != 0 || base == 0 {
        return Err(NoConsole::NotMmio);
    }
    Ok(Uart { kind, base })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// A table with `sig`, `body` after the header, and a valid checksum.
    fn sdt(sig: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(sig);
        t.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
        t.push(revision);
        t.push(0); // checksum
        t.extend_from_slice(b"BOCHS BXPC    \x01\0\0\0BXPC\x01\0\0\0");
        assert_eq!(t.len(), HEADER);
        t.extend_from_slice(body);
        let sum = t.iter().fold(0u8, |s, &x| s.wrapping_add(x));
        t[9] = 0u8.wrapping_sub(sum);
        t
    }

    /// A GICC entry (80 bytes, ACPI 6.0) for `mpidr` with `flags`.
    fn gicc(mpidr: u64, flags: u32) -> Vec<u8> {
        let mut e = std::vec![0u8; 80];
        e[0] = MADT_GICC;
        e[1] = 80;
        e[12..16].copy_from_slice(&flags.to_le_bytes());
        e[68..76].copy_from_slice(&mpidr.to_le_bytes());
        e
    }

    fn madt(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = std::vec![0u8; MADT_ENTRIES - HEADER];
        // A GIC distributor entry (type 0x0C, 24 bytes) first, as QEMU has.
        let mut gicd = std::vec![0u8; 24];
        gicd[0] = 0x0C;
        gicd[1] = 24;
        body.extend_from_slice(&gicd);
        for e in entries {
            body.extend_from_slice(e);
        }
        sdt(b"APIC", 4, &body)
    }

    fn fadt(arm_boot_arch: u16) -> Vec<u8> {
        let mut body = std::vec![0u8; 276 - HEADER];
        body[FADT_ARM_BOOT_ARCH - HEADER..FADT_ARM_BOOT_ARCH - HEADER + 2]
            .copy_from_slice(&arm_boot_arch.to_le_bytes());
        sdt(b"FACP", 6, &body)
    }

    fn spcr(ty: u8, space: u8, bit_width: u8, access: u8, base: u64) -> Vec<u8> {
        let mut body = std::vec![0u8; 80 - HEADER];
        body[0] = ty;
        let g = SPCR_BASE - HEADER;
        body[g] = space;
        body[g + 1] = bit_width;
        body[g + 3] = access;
        body[g + 4..g + 12].copy_from_slice(&base.to_le_bytes());
        sdt(b"SPCR", 2, &body)
    }

    /// Physical memory: tables at 0x1000 steps, the RSDP at 0x100.
    struct Mem(Vec<(u64, Vec<u8>)>);

    impl Mem {
        /// An RSDP (revision 2) → XSDT → `tables`.
        fn with(tables: &[Vec<u8>]) -> Mem {
            let mut m = Vec::new();
            let mut xsdt_body = Vec::new();
            for (i, t) in tables.iter().enumerate() {
                let pa = 0x2000 + 0x1000 * i as u64;
                xsdt_body.extend_from_slice(&pa.to_le_bytes());
                m.push((pa, t.clone()));
            }
            m.push((0x1000, sdt(b"XSDT", 1, &xsdt_body)));
            let mut rsdp = Vec::new();
            rsdp.extend_from_slice(b"RSD PTR ");
            rsdp.push(0); // checksum
            rsdp.extend_from_slice(b"BOCHS ");
            rsdp.push(2); // revision
            rsdp.extend_from_slice(&0u32.to_le_bytes()); // RSDT
            rsdp.extend_from_slice(&36u32.to_le_bytes());
            rsdp.extend_from_slice(&0x1000u64.to_le_bytes()); // XSDT
            rsdp.extend_from_slice(&[0, 0, 0, 0]); // extended checksum, reserved
            let s = rsdp[..20].iter().fold(0u8, |s, &x| s.wrapping_add(x));
            rsdp[8] = 0u8.wrapping_sub(s);
            let s = rsdp.iter().fold(0u8, |s, &x| s.wrapping_add(x));
            rsdp[32] = 0u8.wrapping_sub(s);
            m.push((0x100, rsdp));
            Mem(m)
        }

        fn read(&self, pa: u64, len: usize) -> Option<&[u8]> {
            self.0
                .iter()
                .find(|(a, b)| pa >= *a && pa + len as u64 <= *a + b.len() as u64)
                .map(|(a, b)| &b[(pa - a) as usize..(pa - a) as usize + len])
        }
    }

    #[test]
    fn reads_qemu_virt_under_aavmf() {
        // What QEMU 7.2 virt gives AAVMF: 4 GICCs (Aff0 0..3), FADT with
        // PSCI over hvc (EL1 guest), a PL011 SPCR at 0x0900_0000.
        let cpus: Vec<_> = (0..4).map(|i| gicc(i, GICC_ENABLED)).collect();
        let m = Mem::with(&[
            fadt(PSCI_COMPLIANT | PSCI_USE_HVC),
            madt(&cpus),
            spcr(0x03, 0, 8, 1, 0x0900_0000),
        ]);
        let p = platform(0x100, |pa, len| m.read(pa, len)).unwrap();
        assert!(p.madt);
        assert_eq!(p.cpus.n, 4);
        assert_eq!(p.cpus.cpus[3].mpidr, 3);
        assert_eq!(p.cpus.start, Start::Psci { smc: false });
        assert_eq!(p.psci_smc, Some(false));
        assert_eq!(p.console, Ok(Uart { kind: UartKind::Pl011, base: 0x0900_0000 }));
    }

    #[test]
    fn missing_and_broken_tables() {
        // No SPCR: no console, the rest still there.
        let m = Mem::with(&[fadt(PSCI_COMPLIANT), madt(&[gicc(0, GICC_ENABLED)])]);
        let p = platform(0x100, |pa, len| m.read(pa, len)).unwrap();
        assert_eq!(p.console, Err(NoConsole::Missing));
        assert_eq!(p.psci_smc, Some(true));
        assert_eq!(p.cpus.n, 1);
        // A table with a bad checksum counts as missing.
        let mut bad = spcr(0x03, 0, 8, 1, 0x0900_0000);
        bad[20] ^= 1;
        let m = Mem::with(&[bad]);
        let p = platform(0x100, |pa, len| m.read(pa, len)).unwrap();
        assert_eq!(p.console, Err(NoConsole::Missing));
        assert!(!p.madt);
        assert_eq!(p.cpus.n, 0);
        assert_eq!(p.psci_smc, None);
        // No RSDP at all.
        assert_eq!(platform(0x200, |pa, len| m.read(pa, len)).unwrap_err(), AcpiError::NoRsdp);
        let mut m = Mem::with(&[]);
        m.0.iter_mut().find(|(a, _)| *a == 0x100).unwrap().1[0] = b'X';
        assert_eq!(platform(0x100, |pa, len| m.read(pa, len)).unwrap_err(), AcpiError::NoRsdp);
    }

    #[test]
    fn madt_takes_enabled_gicc_entries_up_to_the_limit() {
        let mut es = std::vec![gicc(0x0, GICC_ENABLED), gicc(0x100, 0), gicc(0x200, GICC_ONLINE_CAPABLE)];
        // Neoverse N1 (Altra): the core number in Aff1, Aff2 the cluster.
        es.push(gicc(0x1_0100 | (0xAB << 32) | (0xFF << 24), GICC_ENABLED));
        let c = madt_cpus(&madt(&es));
        assert_eq!(c.n, 3);
        assert_eq!(c.cpus[1].mpidr, 0x200);
        // MT/U bits (24, 30) dropped; Aff3 kept.
        assert_eq!(c.cpus[2].mpidr, 0x1_0100 | (0xAB << 32));
        let many: Vec<_> = (0..crate::smp::MAX_CPUS as u64 + 3).map(|i| gicc(i << 8, GICC_ENABLED)).collect();
        let c = madt_cpus(&madt(&many));
        assert_eq!((c.n, c.dropped), (crate::smp::MAX_CPUS, 3));
        // A truncated entry ends the walk.
        let mut t = madt(&[gicc(0, GICC_ENABLED)]);
        t.truncate(t.len() - 1);
        assert_eq!(madt_cpus(&t).n, 0);
    }

    #[test]
    fn fadt_conduits() {
        assert_eq!(psci_conduit(&fadt(PSCI_COMPLIANT)), Some(true));
        assert_eq!(psci_conduit(&fadt(PSCI_COMPLIANT | PSCI_USE_HVC)), Some(false));
        assert_eq!(psci_conduit(&fadt(0)), None);
        assert_eq!(psci_conduit(&fadt(PSCI_COMPLIANT)[..120]), None);
    }

    #[test]
    fn spcr_types() {
        assert_eq!(spcr_uart(&spcr(0x0E, 0, 32, 3, 0x1000)).unwrap().kind, UartKind::Pl011);
        assert_eq!(
            spcr_uart(&spcr(0x12, 0, 32, 3, 0x1000)).unwrap(),
            Uart { kind: UartKind::Ns16550 { width: 4 }, base: 0x1000 }
        );
        assert_eq!(spcr_uart(&spcr(0x00, 0, 8, 1, 0x1000)).unwrap().kind, UartKind::Ns16550 { width: 1 });
        assert_eq!(spcr_uart(&spcr(0x10, 0, 8, 1, 0x1000)), Err(NoConsole::Type(0x10)));
        // A 16550 in I/O space (x86-style ports): not on Arm.
        assert_eq!(spcr_uart(&spcr(0x00, 1, 8, 1, 0x3F8)), Err(NoConsole::NotMmio));
        assert_eq!(spcr_uart(&spcr(0x03, 0, 8, 1, 0)), Err(NoConsole::NotMmio));
        assert_eq!(spcr_uart(&[0; 20]), Err(NoConsole::Missing));
    }

    /// A MADT of `entries` alone (no GICD added).
    fn madt_raw(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = std::vec![0u8; MADT_ENTRIES - HEADER];
        for e in entries {
            body.extend_from_slice(e);
        }
        sdt(b"APIC", 4, &body)
    }

    fn gicd(base: u64, version: u8) -> Vec<u8> {
        let mut e = std::vec![0u8; 24];
        e[0] = MADT_GICD;
        e[1] = 24;
        e[GICD_BASE..GICD_BASE + 8].copy_from_slice(&base.to_le_bytes());
        e[GICD_VERSION] = version;
        e
    }

    fn gicr(base: u64) -> Vec<u8> {
        let mut e = std::vec![0u8; 16];
        e[0] = MADT_GICR;
        e[1] = 16;
        e[GICR_BASE..GICR_BASE + 8].copy_from_slice(&base.to_le_bytes());
        e[12..16].copy_from_slice(&0x00F6_0000u32.to_le_bytes());
        e
    }

    /// A GICC entry with its CPU interface and redistributor bases.
    fn gicc_at(mpidr: u64, base: u64, rd: u64) -> Vec<u8> {
        let mut e = gicc(mpidr, GICC_ENABLED);
        e[GICC_BASE..GICC_BASE + 8].copy_from_slice(&base.to_le_bytes());
        e[GICC_GICR..GICC_GICR + 8].copy_from_slice(&rd.to_le_bytes());
        e
    }

    fn gtdt(virt: u32, el2: u32) -> Vec<u8> {
        let mut body = std::vec![0u8; 104 - HEADER];
        body[GTDT_VIRT_GSIV - HEADER..GTDT_VIRT_GSIV - HEADER + 4].copy_from_slice(&virt.to_le_bytes());
        body[GTDT_EL2_GSIV - HEADER..GTDT_EL2_GSIV - HEADER + 4].copy_from_slice(&el2.to_le_bytes());
        sdt(b"GTDT", 3, &body)
    }

    #[test]
    fn madt_gic_v2_and_v3_as_qemu_virt_gives_them() {
        // virt,gic-version=2: GICD 0x0800_0000, the CPU interface in every
        // GICC entry (0x0801_0000), no GICR.
        let v2 = madt_raw(&[gicd(0x0800_0000, 2), gicc_at(0, 0x0801_0000, 0), gicc_at(1, 0x0801_0000, 0)]);
        assert_eq!(madt_gic(&v2), Some(Intc::V2 { gicd: 0x0800_0000, gicc: 0x0801_0000 }));
        // virt,gic-version=3: one GICR region at 0x080A_0000.
        let v3 = madt_raw(&[gicd(0x0800_0000, 3), gicc_at(0, 0, 0), gicr(0x080A_0000)]);
        assert_eq!(madt_gic(&v3), Some(Intc::V3 { gicd: 0x0800_0000, gicr: [0x080A_0000, 0, 0, 0] }));
        // Two regions (virt above 123 CPUs), and a GICv4.
        let two = madt_raw(&[gicd(0x0800_0000, 4), gicr(0x080A_0000), gicr(0x40_1000_0000)]);
        assert_eq!(
            madt_gic(&two),
            Some(Intc::V3 { gicd: 0x0800_0000, gicr: [0x080A_0000, 0x40_1000_0000, 0, 0] })
        );
        // Version not stated: per-CPU redistributors make it a GICv3 (the
        // lowest one starts the search); none, a GICv2.
        let percpu = madt_raw(&[gicd(0x3000_0000, 0), gicc_at(1, 0, 0x3004_0000), gicc_at(0, 0, 0x3002_0000)]);
        assert_eq!(madt_gic(&percpu), Some(Intc::V3 { gicd: 0x3000_0000, gicr: [0x3002_0000, 0, 0, 0] }));
        let plain = madt_raw(&[gicd(0x3000_0000, 0), gicc_at(0, 0x3001_0000, 0)]);
        assert_eq!(madt_gic(&plain), Some(Intc::V2 { gicd: 0x3000_0000, gicc: 0x3001_0000 }));
        // No distributor, a GICv1, a GICv3 without redistributors: none.
        assert_eq!(madt_gic(&madt_raw(&[gicc_at(0, 0x0801_0000, 0)])), None);
        assert_eq!(madt_gic(&madt_raw(&[gicd(0x0800_0000, 1), gicc_at(0, 0x0801_0000, 0)])), None);
        assert_eq!(madt_gic(&madt_raw(&[gicd(0x0800_0000, 3), gicc_at(0, 0, 0)])), None);
    }

    #[test]
    fn gtdt_timer_interrupts() {
        // QEMU virt: virtual EL1 timer 27, EL2 timer 26.
        assert_eq!(gtdt_timer(&gtdt(27, 26)), Some(TimerIrqs { virt: 27, hyp: 26 }));
        assert_eq!(gtdt_timer(&gtdt(27, 0)), None);
        assert_eq!(gtdt_timer(&gtdt(27, 26)[..70]), None);
        // Through the tables, with the MADT's GIC.
        let m = Mem::with(&[
            fadt(PSCI_COMPLIANT),
            madt_raw(&[gicd(0x0800_0000, 3), gicc_at(0, 0, 0), gicr(0x080A_0000)]),
            gtdt(27, 26),
        ]);
        let p = platform(0x100, |pa, len| m.read(pa, len)).unwrap();
        assert_eq!(p.timer, Some(TimerIrqs::default()));
        assert_eq!(p.gic, Some(Intc::V3 { gicd: 0x0800_0000, gicr: [0x080A_0000, 0, 0, 0] }));
    }
}
