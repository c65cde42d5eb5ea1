// SPDX-License-Identifier: MIT OR Apache-2.0
//! The little of ACPI that SMP bring-up needs: find the RSDP (the boot
//! loader's copy, the EFI system table, or the BIOS areas), follow the
//! XSDT (or the RSDT) to the MADT, and list the local APICs the firmware
//! marks enabled.
//!
//! A hand-written parser rather than the `acpi` crate: its current release
//! needs nightly, the one that builds on stable pulls an allocator-shaped
//! API, and all we want is one table's list of APIC IDs. The parser reads
//! physical memory through [`PhysMem`], so the kernel can map what lies
//! beyond its direct map, and the host tests can hand it a table built in
//! a `Vec`.
//!
//! What counts as a CPU (ACPI 6.5, 5.2.12): a *Processor Local APIC* entry
//! (type 0) or a *Processor Local x2APIC* entry (type 9) whose flags have
//! bit 0 (*Enabled*) set. Entries with only bit 1 (*Online Capable*) are
//! hot-plug slots the firmware did not start: they are skipped, like the
//! disabled ones. An APIC ID listed twice (some firmware lists the low IDs
//! under both types) counts once.

/// Most CPUs the parser reports; more are ignored (and counted).
pub const MAX_APICS: usize = 256;

/// Read access to physical memory.
pub trait PhysMem {
    /// Fill `buf` from physical address `pa`; `false` if that memory cannot
    /// be read.
    fn read(&mut self, pa: u64, buf: &mut [u8]) -> bool;
}

/// What the MADT says about the CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Madt {
    /// Physical address of the local APIC (the 32-bit field, or the
    /// 64-bit override of a type 5 entry).
    pub lapic_base: u64,
    /// APIC IDs of the enabled CPUs, in table order (the firmware lists the
    /// boot CPU first, but callers should not rely on it).
    pub ids: [u32; MAX_APICS],
    /// Number of valid entries in `ids`.
    pub count: usize,
    /// Enabled CPUs beyond [`MAX_APICS`], not listed.
    pub dropped: usize,
    /// Entries marked disabled (or only online-capable), skipped.
    pub disabled: usize,
}

impl Madt {
    /// The APIC IDs found.
    pub fn ids(&self) -> &[u32] {
        &self.ids[..self.count]
    }

    fn add(&mut self, id: u32) {
        if self.ids().contains(&id) {
            return;
        }
        if self.count == MAX_APICS {
            self.dropped += 1;
        } else {
            self.ids[self.count] = id;
            self.count += 1;
        }
    }
}

/// Why no CPU list could be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    /// No RSDP with a valid checksum where the firmware puts it.
    NoRsdp,
    /// The XSDT/RSDT is unreadable or its checksum is wrong.
    BadRoot,
    /// The root table lists no valid MADT ("APIC").
    NoMadt,
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b)) == 0
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | (u64::from(u32_at(b, off + 4)) << 32)
}

/// Is there a valid RSDP at `pa`? Returns (revision, RSDT, XSDT).
fn rsdp_at(mem: &mut impl PhysMem, pa: u64) -> Option<(u8, u64, u64)> {
    let mut b = [0u8; 36];
    if !mem.read(pa, &mut b[..20]) || &b[..8] != b"RSD PTR " || !checksum_ok(&b[..20]) {
        return None;
    }
    let rev = b[15];
    let rsdt = u64::from(u32_at(&b, 16));
    if rev >= 2 && mem.read(pa + 20, &mut b[20..36]) {
        let len = u32_at(&b, 20) as usize;
        // The extended checksum covers the whole (36-byte) structure.
        if len >= 36 && checksum_ok(&b[..36]) {
            return Some((rev, rsdt, u64_at(&b, 24)));
        }
    }
    Some((rev, rsdt, 0))
}

/// Find the RSDP: at `hint` (a copy the boot loader handed over), else in
/// the first KiB of the EBDA, else in the BIOS area 0xE0000..0x100000, on
/// 16-byte boundaries (ACPI 6.5, 5.2.5.1). Returns its physical address.
pub fn find_rsdp(mem: &mut impl PhysMem, hint: Option<u64>) -> Option<u64> {
    if let Some(pa) = hint
        && rsdp_at(mem, pa).is_some()
    {
        return Some(pa);
    }
    let mut seg = [0u8; 2];
    let ebda = if mem.read(0x40E, &mut seg) { u64::from(u16::from_le_bytes(seg)) << 4 } else { 0 };
    // A plausible EBDA lies in the top of conventional memory.
    if (0x8_0000..0xA_0000).contains(&ebda) {
        for pa in (ebda..ebda + 1024).step_by(16) {
            if rsdp_at(mem, pa).is_some() {
                return Some(pa);
            }
        }
    }
    (0xE_0000..0x10_0000u64).step_by(16).find(|&pa| rsdp_at(mem, pa).is_some())
}

/// The ACPI 2.0 table GUID of the UEFI configuration table
/// (8868e871-e4f1-11d3-bc22-0080c73c8881), as it lies in memory.
const EFI_ACPI_20_GUID: [u8; 16] =
    [0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11, 0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81];
/// The ACPI 1.0 one (eb9d2d30-2d88-11d3-9a16-0090273fc14d).
const EFI_ACPI_10_GUID: [u8; 16] =
    [0x30, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11, 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d];

/// The RSDP named by the configuration table of the EFI system table at
/// `st` (multiboot 2 tag 12, 64-bit firmware, or tag 11, 32-bit when
/// `!is64`): the ACPI 2.0 entry, else the 1.0 one (UEFI 2.10, 4.3 and
/// 4.6). `None` when the table is not readable, has no such entry, or the
/// entry is no valid RSDP.
pub fn rsdp_from_efi(mem: &mut impl PhysMem, st: u64, is64: bool) -> Option<u64> {
    let mut t = [0u8; 120];
    // Signature "IBI SYST"; NumberOfTableEntries and ConfigurationTable
    // after the header and ten pointers (UINTN-sized).
    if st == 0 || !mem.read(st, &mut t) || &t[..8] != b"IBI SYST" {
        return None;
    }
    let (n, table, entry) = if is64 {
        (u64_at(&t, 104), u64_at(&t, 112), 24)
    } else {
        (u64::from(u32_at(&t, 64)), u64::from(u32_at(&t, 68)), 20)
    };
    let mut found = None;
    for i in 0..n.min(256) {
        let mut e = [0u8; 24]; // GUID, then the pointer
        if !mem.read(table + i * entry, &mut e[..entry as usize]) {
            return None;
        }
        let pa = if is64 { u64_at(&e, 16) } else { u64::from(u32_at(&e, 16)) };
        if e[..16] == EFI_ACPI_20_GUID && rsdp_at(mem, pa).is_some() {
            return Some(pa);
        }
        if e[..16] == EFI_ACPI_10_GUID && rsdp_at(mem, pa).is_some() {
            found = Some(pa);
        }
    }
    found
}

/// Read the header of the table at `pa`: (signature, length), if its
/// checksum holds.
fn table_at(mem: &mut impl PhysMem, pa: u64) -> Option<([u8; 4], u32)> {
    let mut h = [0u8; 36];
    if pa == 0 || !mem.read(pa, &mut h) {
        return None;
    }
    let len = u32_at(&h, 4);
    if !(36..=1 << 20).contains(&len) {
        return None;
    }
    // Sum the table in chunks: it can be longer than any buffer we keep.
    let mut sum = 0u8;
    let mut chunk = [0u8; 64];
    let mut off = 0u64;
    while off < u64::from(len) {
        let n = (u64::from(len) - off).min(64) as usize;
        if !mem.read(pa + off, &mut chunk[..n]) {
            return None;
        }
        sum = chunk[..n].iter().fold(sum, |s, &b| s.wrapping_add(b));
        off += n as u64;
    }
    (sum == 0).then_some(([h[0], h[1], h[2], h[3]], len))
}

/// Read the MADT through the RSDP at `rsdp`.
pub fn read_madt(mem: &mut impl PhysMem, rsdp: u64) -> Result<Madt, AcpiError> {
    let (pa, len) = find_table(mem, rsdp, b"APIC")?.ok_or(AcpiError::NoMadt)?;
    parse_madt(mem, pa, len).ok_or(AcpiError::NoMadt)
}

/// Most SRAT memory ranges kept.
pub const MAX_NUMA_RANGES: usize = 32;

/// A memory range of the SRAT and its proximity domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NumaRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Proximity domain (NUMA node).
    pub domain: u32,
}

/// What the SRAT says: each enabled CPU's proximity domain (by APIC ID)
/// and each enabled memory range's.
#[derive(Clone, Debug)]
pub struct Srat {
    cpus: [(u32, u32); MAX_APICS],
    ncpus: usize,
    ranges: [NumaRange; MAX_NUMA_RANGES],
    nranges: usize,
}

impl Srat {
    /// The proximity domain of the CPU with APIC ID `apic`, if listed.
    pub fn cpu_domain(&self, apic: u32) -> Option<u32> {
        self.cpus[..self.ncpus].iter().find(|c| c.0 == apic).map(|c| c.1)
    }

    /// The memory ranges, in table order.
    pub fn ranges(&self) -> &[NumaRange] {
        &self.ranges[..self.nranges]
    }

    /// The proximity domain of physical address `pa`, if a range holds it.
    pub fn mem_domain(&self, pa: u64) -> Option<u32> {
        self.ranges().iter().find(|r| r.start <= pa && pa < r.end).map(|r| r.domain)
    }

    /// How many distinct domains the memory ranges name.
    pub fn nodes(&self) -> usize {
        let r = self.ranges();
        (0..r.len()).filter(|&i| !r[..i].iter().any(|q| q.domain == r[i].domain)).count()
    }
}

/// The physical address and length of the table with signature `sig`,
/// through the RSDP at `rsdp`: the XSDT (64-bit entries) preferred, the
/// RSDT when the XSDT is absent or broken, as Linux does.
fn find_table(mem: &mut impl PhysMem, rsdp: u64, sig: &[u8; 4]) -> Result<Option<(u64, u32)>, AcpiError> {
    let (_, rsdt, xsdt) = rsdp_at(mem, rsdp).ok_or(AcpiError::NoRsdp)?;
    let (root, entry) = match table_at(mem, xsdt) {
        Some((s, len)) if &s == b"XSDT" => ((xsdt, len), 8u64),
        _ => match table_at(mem, rsdt) {
            Some((s, len)) if &s == b"RSDT" => ((rsdt, len), 4u64),
            _ => return Err(AcpiError::BadRoot),
        },
    };
    let (root_pa, root_len) = root;
    let mut off = 36u64;
    while off + entry <= u64::from(root_len) {
        let mut e = [0u8; 8];
        if !mem.read(root_pa + off, &mut e[..entry as usize]) {
            return Err(AcpiError::BadRoot);
        }
        let pa = if entry == 8 { u64_at(&e, 0) } else { u64::from(u32_at(&e, 0)) };
        if let Some((s, len)) = table_at(mem, pa)
            && &s == sig
        {
            return Ok(Some((pa, len)));
        }
        off += entry;
    }
    Ok(None)
}

/// Read the SRAT (System Resource Affinity Table) through the RSDP at
/// `rsdp`: `None` when there is none (one node) or it cannot be read.
pub fn read_srat(mem: &mut impl PhysMem, rsdp: u64) -> Option<Srat> {
    let (pa, len) = find_table(mem, rsdp, b"SRAT").ok()??;
    parse_srat(mem, pa, len)
}

/// Walk the SRAT's entries (after its 48-byte header): type 0, a local
/// APIC's domain (bits 7:0 at byte 2, 31:8 at bytes 9-11; flags at 4,
/// bit 0 enabled); type 1, a memory range (domain at 2, base at 8, length
/// at 16, flags at 28, bit 0 enabled); type 2, an x2APIC's domain (domain
/// at 4, ID at 8, flags at 12).
fn parse_srat(mem: &mut impl PhysMem, pa: u64, len: u32) -> Option<Srat> {
    if len < 48 {
        return None;
    }
    let mut s = Srat {
        cpus: [(0, 0); MAX_APICS],
        ncpus: 0,
        ranges: [NumaRange::default(); MAX_NUMA_RANGES],
        nranges: 0,
    };
    let mut off = 48u64;
    while off + 2 <= u64::from(len) {
        let mut e = [0u8; 40];
        if !mem.read(pa + off, &mut e[..2]) {
            return None;
        }
        let (ty, elen) = (e[0], u64::from(e[1]));
        if elen < 2 || off + elen > u64::from(len) {
            break;
        }
        let n = (elen as usize).min(40);
        if !mem.read(pa + off, &mut e[..n]) {
            return None;
        }
        match (ty, n) {
            (0, 16..) if u32_at(&e, 4) & 1 != 0 => {
                let dom = u32::from(e[2]) | (u32::from(e[9]) << 8) | (u32::from(e[10]) << 16) | (u32::from(e[11]) << 24);
                if s.ncpus < MAX_APICS {
                    s.cpus[s.ncpus] = (u32::from(e[3]), dom);
                    s.ncpus += 1;
                }
            }
            (2, 24..) if u32_at(&e, 12) & 1 != 0 && s.ncpus < MAX_APICS => {
                s.cpus[s.ncpus] = (u32_at(&e, 8), u32_at(&e, 4));
                s.ncpus += 1;
            }
            (1, 40) if u32_at(&e, 28) & 1 != 0 => {
                let (base, size) = (u64_at(&e, 8), u64_at(&e, 16));
                if size > 0 && s.nranges < MAX_NUMA_RANGES {
                    s.ranges[s.nranges] = NumaRange { start: base, end: base.saturating_add(size), domain: u32_at(&e, 2) };
                    s.nranges += 1;
                }
            }
            _ => {}
        }
        off += elen;
    }
    Some(s)
}

/// Walk the MADT's entries (after the 44-byte header: the standard 36,
/// the local APIC address, the flags).
fn parse_madt(mem: &mut impl PhysMem, pa: u64, len: u32) -> Option<Madt> {
    let mut h = [0u8; 44];
    if len < 44 || !mem.read(pa, &mut h) {
        return None;
    }
    let mut m = Madt {
        lapic_base: u64::from(u32_at(&h, 36)),
        ids: [0; MAX_APICS],
        count: 0,
        dropped: 0,
        disabled: 0,
    };
    let mut off = 44u64;
    while off + 2 <= u64::from(len) {
        let mut e = [0u8; 16];
        if !mem.read(pa + off, &mut e[..2]) {
            return None;
        }
        let (ty, elen) = (e[0], u64::from(e[1]));
        if elen < 2 || off + elen > u64::from(len) {
            break; // a malformed entry ends the walk, keeping what we have
        }
        let n = elen.min(16) as usize;
        if !mem.read(pa + off, &mut e[..n]) {
            return None;
        }
        match ty {
            // Processor Local APIC: uid u8, APIC ID u8, flags u32.
            0 if elen >= 8 => {
                if u32_at(&e, 4) & 1 != 0 {
                    m.add(u32::from(e[3]));
                } else {
                    m.disabled += 1;
                }
            }
            // Local APIC Address Override: reserved u16, address u64.
            5 if elen >= 12 => m.lapic_base = u64_at(&e, 4),
            // Processor Local x2APIC: reserved u16, x2APIC ID u32, flags
            // u32, uid u32.
            9 if elen >= 16 => {
                if u32_at(&e, 8) & 1 != 0 {
                    m.add(u32_at(&e, 4));
                } else {
                    m.disabled += 1;
                }
            }
            _ => {}
        }
        off += elen;
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// Physical memory for the tests: a sparse list of (address, bytes).
    struct Mem(Vec<(u64, Vec<u8>)>);

    impl PhysMem for Mem {
        fn read(&mut self, pa: u64, buf: &mut [u8]) -> bool {
            for (base, bytes) in &self.0 {
                if pa >= *base && pa + buf.len() as u64 <= base + bytes.len() as u64 {
                    let o = (pa - base) as usize;
                    buf.copy_from_slice(&bytes[o..o + buf.len()]);
                    return true;
                }
            }
            // Unpopulated memory reads as zero, like a hole in a BIOS area.
            buf.fill(0);
            true
        }
    }

    fn fix_checksum(b: &mut [u8], at: usize, range: core::ops::Range<usize>) {
        b[at] = 0;
        let s = b[range].iter().fold(0u8, |s, &x| s.wrapping_add(x));
        b[at] = 0u8.wrapping_sub(s);
    }

    fn table(sig: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(sig);
        t.extend_from_slice(&((36 + body.len()) as u32).to_le_bytes());
        t.push(1); // revision
        t.push(0); // checksum
        t.extend_from_slice(b"IPCBXX");
        t.extend_from_slice(b"TESTTEST");
        t.extend_from_slice(&[0; 12]);
        t.extend_from_slice(body);
        let n = t.len();
        fix_checksum(&mut t, 9, 0..n);
        t
    }

    fn rsdp(rev: u8, rsdt: u32, xsdt: u64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(b"RSD PTR ");
        r.push(0);
        r.extend_from_slice(b"IPCBXX");
        r.push(rev);
        r.extend_from_slice(&rsdt.to_le_bytes());
        r.extend_from_slice(&36u32.to_le_bytes());
        r.extend_from_slice(&xsdt.to_le_bytes());
        r.extend_from_slice(&[0; 4]);
        fix_checksum(&mut r, 8, 0..20);
        fix_checksum(&mut r, 32, 0..36);
        r
    }

    #[test]
    fn rsdp_from_the_efi_configuration_table() {
        let mut st = std::vec![0u8; 120];
        st[..8].copy_from_slice(b"IBI SYST");
        st[104..112].copy_from_slice(&2u64.to_le_bytes());
        st[112..120].copy_from_slice(&0x9000u64.to_le_bytes());
        let mut cfg = Vec::new();
        cfg.extend_from_slice(&[0xAA; 16]); // some other table
        cfg.extend_from_slice(&0x1234u64.to_le_bytes());
        cfg.extend_from_slice(&EFI_ACPI_20_GUID);
        cfg.extend_from_slice(&0xA000u64.to_le_bytes());
        let mut mem = Mem(std::vec![(0x8000, st), (0x9000, cfg), (0xA000, rsdp(2, 0, 0xB000))]);
        assert_eq!(rsdp_from_efi(&mut mem, 0x8000, true), Some(0xA000));
        assert_eq!(rsdp_from_efi(&mut mem, 0x9000, true), None);
        // The same for 32-bit firmware: 4-byte pointers.
        let mut st = std::vec![0u8; 120];
        st[..8].copy_from_slice(b"IBI SYST");
        st[64..68].copy_from_slice(&1u32.to_le_bytes());
        st[68..72].copy_from_slice(&0x9000u32.to_le_bytes());
        let mut cfg = EFI_ACPI_20_GUID.to_vec();
        cfg.extend_from_slice(&0xA000u32.to_le_bytes());
        let mut mem = Mem(std::vec![(0x8000, st), (0x9000, cfg), (0xA000, rsdp(2, 0, 0xB000))]);
        assert_eq!(rsdp_from_efi(&mut mem, 0x8000, false), Some(0xA000));
    }

    /// A MADT for four CPUs: IDs 0, 1 and 3 enabled, 2 disabled, 7 only
    /// online-capable, one x2APIC entry (ID 300) and a duplicate of ID 1.
    fn madt_body() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xFEE0_0000u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes()); // PCAT_COMPAT
        for (uid, id, flags) in [(0u8, 0u8, 1u32), (1, 1, 1), (2, 2, 0), (3, 3, 1), (4, 7, 2)] {
            b.extend_from_slice(&[0, 8, uid, id]);
            b.extend_from_slice(&flags.to_le_bytes());
        }
        // An I/O APIC entry (type 1), which must be skipped.
        b.extend_from_slice(&[1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0]);
        // x2APIC entries: ID 300 enabled, ID 1 again.
        for id in [300u32, 1] {
            b.extend_from_slice(&[9, 16, 0, 0]);
            b.extend_from_slice(&id.to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes());
            b.extend_from_slice(&id.to_le_bytes());
        }
        b
    }

    fn machine(xsdt: bool) -> Mem {
        let madt = table(b"APIC", &madt_body());
        let facp = table(b"FACP", &[0; 20]);
        let mut root_body = Vec::new();
        let root = if xsdt {
            for pa in [0x7F0_1000u64, 0x7F0_2000] {
                root_body.extend_from_slice(&pa.to_le_bytes());
            }
            table(b"XSDT", &root_body)
        } else {
            for pa in [0x7F0_1000u32, 0x7F0_2000] {
                root_body.extend_from_slice(&pa.to_le_bytes());
            }
            table(b"RSDT", &root_body)
        };
        let rsdp = if xsdt { rsdp(2, 0, 0x7F0_0000) } else { rsdp(0, 0x7F0_0000, 0) };
        Mem(std::vec![
            (0xF_5A40, rsdp),
            (0x7F0_0000, root),
            (0x7F0_1000, facp),
            (0x7F0_2000, madt),
        ])
    }

    #[test]
    fn srat_names_each_cpus_and_ranges_node() {
        let mut body = std::vec![0u8; 12]; // reserved (bytes 36..48)
        // Local APIC 0 and 1 on node 0, x2APIC 300 on node 1, a disabled APIC.
        for (id, dom, en) in [(0u8, 0u8, 1u32), (1, 0, 1), (9, 1, 0)] {
            let mut e = std::vec![0u8; 16];
            e[0] = 0;
            e[1] = 16;
            e[2] = dom;
            e[3] = id;
            e[4..8].copy_from_slice(&en.to_le_bytes());
            body.extend_from_slice(&e);
        }
        let mut x = std::vec![0u8; 24];
        x[0] = 2;
        x[1] = 24;
        x[4..8].copy_from_slice(&1u32.to_le_bytes());
        x[8..12].copy_from_slice(&300u32.to_le_bytes());
        x[12..16].copy_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&x);
        for (base, len, dom) in [(0u64, 0x800_0000u64, 0u32), (0x800_0000, 0x800_0000, 1)] {
            let mut m = std::vec![0u8; 40];
            m[0] = 1;
            m[1] = 40;
            m[2..6].copy_from_slice(&dom.to_le_bytes());
            m[8..16].copy_from_slice(&base.to_le_bytes());
            m[16..24].copy_from_slice(&len.to_le_bytes());
            m[28..32].copy_from_slice(&1u32.to_le_bytes());
            body.extend_from_slice(&m);
        }
        let mut mem = machine(true);
        let srat = table(b"SRAT", &body);
        // Add the SRAT as a third root entry.
        let mut root_body = std::vec::Vec::new();
        for pa in [0x7F0_1000u64, 0x7F0_2000, 0x7F0_3000] {
            root_body.extend_from_slice(&pa.to_le_bytes());
        }
        mem.0[1] = (0x7F0_0000, table(b"XSDT", &root_body));
        mem.0.push((0x7F0_3000, srat));
        let s = read_srat(&mut mem, 0xF_5A40).unwrap();
        assert_eq!((s.cpu_domain(0), s.cpu_domain(1), s.cpu_domain(300), s.cpu_domain(9)), (Some(0), Some(0), Some(1), None));
        assert_eq!((s.mem_domain(0x100_0000), s.mem_domain(0xC00_0000), s.mem_domain(0x1000_0000)), (Some(0), Some(1), None));
        assert_eq!(s.nodes(), 2);
        // No SRAT: one node, nothing to place by.
        assert!(read_srat(&mut machine(true), 0xF_5A40).is_none());
    }

    #[test]
    fn finds_rsdp_in_bios_area() {
        let mut m = machine(true);
        assert_eq!(find_rsdp(&mut m, None), Some(0xF_5A40));
        // A wrong hint falls back to the scan.
        assert_eq!(find_rsdp(&mut m, Some(0x1000)), Some(0xF_5A40));
    }

    #[test]
    fn finds_rsdp_in_ebda() {
        let mut m = machine(false);
        let r = m.0.remove(0).1;
        m.0.push((0x40E, (0x9FC0u16).to_le_bytes().to_vec()));
        m.0.push((0x9_FC20, r));
        assert_eq!(find_rsdp(&mut m, None), Some(0x9_FC20));
    }

    #[test]
    fn bad_checksum_is_not_an_rsdp() {
        let mut m = machine(true);
        m.0[0].1[8] ^= 1;
        assert_eq!(find_rsdp(&mut m, None), None);
    }

    #[test]
    fn lists_enabled_apics_via_xsdt_and_rsdt() {
        for xsdt in [true, false] {
            let mut m = machine(xsdt);
            let madt = read_madt(&mut m, 0xF_5A40).unwrap();
            assert_eq!(madt.ids(), &[0, 1, 3, 300]);
            assert_eq!(madt.disabled, 2);
            assert_eq!(madt.dropped, 0);
            assert_eq!(madt.lapic_base, 0xFEE0_0000);
        }
    }

    #[test]
    fn lapic_override() {
        let mut body = madt_body();
        body.extend_from_slice(&[5, 12, 0, 0]);
        body.extend_from_slice(&0xFED0_0000u64.to_le_bytes());
        let mut m = machine(true);
        m.0[3].1 = table(b"APIC", &body);
        assert_eq!(read_madt(&mut m, 0xF_5A40).unwrap().lapic_base, 0xFED0_0000);
    }

    #[test]
    fn corrupt_madt_is_refused() {
        let mut m = machine(true);
        m.0[3].1[40] ^= 0x55;
        assert_eq!(read_madt(&mut m, 0xF_5A40), Err(AcpiError::NoMadt));
    }

    #[test]
    fn broken_xsdt_falls_back_to_rsdt() {
        let mut m = machine(false);
        // Revision 2 RSDP naming both, with an XSDT address that holds
        // nothing: the RSDT must be used.
        m.0[0].1 = rsdp(2, 0x7F0_0000, 0x6000_0000);
        assert_eq!(read_madt(&mut m, 0xF_5A40).unwrap().ids(), &[0, 1, 3, 300]);
    }

    #[test]
    fn too_many_cpus_are_counted() {
        let mut b = Vec::new();
        b.extend_from_slice(&0xFEE0_0000u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for id in 0..(MAX_APICS as u32 + 3) {
            b.extend_from_slice(&[9, 16, 0, 0]);
            b.extend_from_slice(&id.to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes());
            b.extend_from_slice(&id.to_le_bytes());
        }
        let mut m = machine(true);
        m.0[3].1 = table(b"APIC", &b);
        let madt = read_madt(&mut m, 0xF_5A40).unwrap();
        assert_eq!((madt.count, madt.dropped), (MAX_APICS, 3));
    }
}
