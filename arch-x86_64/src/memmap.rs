// SPDX-License-Identifier: MIT OR Apache-2.0
//! Usable RAM as the firmware reports it, and where the kernel's own
//! allocations go.
//!
//! **Where the map comes from** (`crate::boot::parse`): the multiboot 2
//! EFI memory map (tag 17) when GRUB started from UEFI, else the multiboot
//! memory map (tag 6, or the multiboot 1 `mmap_*` fields: the BIOS E820
//! map), else the basic `mem_upper` figure. Under UEFI the first
//! contiguous range above 1 MiB (what `mem_upper` gives) is only a few MiB:
//! OVMF and real firmware scatter their own pages through low memory.
//!
//! **What counts as usable**: E820 type 1; EFI conventional memory and boot
//! services code and data (GRUB has called `ExitBootServices`, unless tag
//! 18 says it has not, when the boot-services types are not usable). EFI
//! loader code and data are not: GRUB's own allocations hold the kernel
//! image and the information structure, and we need none of the rest.
//!
//! **What is kept**: every usable range is counted in [`MemMap::total`],
//! but only the parts the kernel can reach (its direct map, the first
//! [`crate::boot::DIRECT_MAP_SIZE`]) are kept as ranges, sorted, merged,
//! at most [`MAX_RANGES`] of them. The kernel then takes out what is not
//! free ([`MemMap::remove`]: the image, the loader's data, the first MiB)
//! and places its allocations in what is left ([`plan`]).
//!
//! Pure bookkeeping, no memory is touched: the host tests run it on maps
//! of 128 MiB to 1 TiB.

/// Most disjoint usable ranges kept (merged neighbours count once).
pub const MAX_RANGES: usize = 128;

/// One range of physical addresses, `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Range {
    /// Its length in bytes.
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }
    /// Is it empty?
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Which table the map came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The EFI memory map (multiboot 2 tag 17).
    Efi,
    /// The multiboot memory map (E820 style: multiboot 2 tag 6 or the
    /// multiboot 1 `mmap_*` fields).
    E820,
    /// Only the basic `mem_lower`/`mem_upper` figures.
    Basic,
    /// Nothing usable from the loader: an assumption.
    Assumed,
}

impl Source {
    /// The name printed in the `IPCB mem` line.
    pub const fn name(self) -> &'static str {
        match self {
            Source::Efi => "efi",
            Source::E820 => "e820",
            Source::Basic => "basic",
            Source::Assumed => "assumed",
        }
    }
}

/// EFI memory types usable once boot services have exited (UEFI 2.10,
/// 7.2.3): boot services code (3) and data (4), conventional memory (7).
pub fn efi_type_usable(ty: u32, boot_services_exited: bool) -> bool {
    match ty {
        7 => true,
        3 | 4 => boot_services_exited,
        _ => false,
    }
}

/// Usable RAM within reach, plus what the firmware reported in all.
#[derive(Clone, Copy, Debug)]
pub struct MemMap {
    ranges: [Range; MAX_RANGES],
    n: usize,
    /// Addresses at and above this are out of the kernel's reach: ranges
    /// are clipped to it.
    pub reach: u64,
    /// Usable bytes the firmware reported, reachable or not.
    pub total: u64,
    /// Usable ranges that did not fit in the table (dropped).
    pub dropped: usize,
    /// Where the map came from.
    pub source: Source,
}

impl MemMap {
    /// An empty map of RAM below `reach`.
    pub const fn new(reach: u64, source: Source) -> Self {
        MemMap {
            ranges: [Range { start: 0, end: 0 }; MAX_RANGES],
            n: 0,
            reach,
            total: 0,
            dropped: 0,
            source,
        }
    }

    /// The ranges kept: sorted, disjoint, not adjacent.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges[..self.n]
    }

    /// Usable bytes kept (within reach, after [`MemMap::remove`]).
    pub fn free(&self) -> u64 {
        self.ranges().iter().map(Range::len).sum()
    }

    /// Record `[start, start + len)` as usable RAM.
    pub fn add(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        if end <= start {
            return;
        }
        self.total = self.total.saturating_add(end - start);
        let end = end.min(self.reach);
        if end > start {
            self.insert(Range { start, end });
        }
    }

    /// Insert keeping the table sorted and merged.
    fn insert(&mut self, mut r: Range) {
        // Absorb every range that overlaps or touches `r`.
        let mut i = 0;
        while i < self.n {
            let q = self.ranges[i];
            if q.end >= r.start && q.start <= r.end {
                r = Range { start: q.start.min(r.start), end: q.end.max(r.end) };
                self.ranges.copy_within(i + 1..self.n, i);
                self.n -= 1;
            } else {
                i += 1;
            }
        }
        if self.n == MAX_RANGES {
            self.dropped += 1;
            return;
        }
        let at = self.ranges[..self.n].iter().position(|q| q.start > r.start).unwrap_or(self.n);
        self.ranges.copy_within(at..self.n, at + 1);
        self.ranges[at] = r;
        self.n += 1;
    }

    /// Take `[start, end)` out (it is not free, or is now used). A range
    /// split in two when the table is full loses its upper part (counted
    /// in `dropped`).
    pub fn remove(&mut self, start: u64, end: u64) {
        if end <= start {
            return;
        }
        let mut i = 0;
        while i < self.n {
            let q = self.ranges[i];
            if q.end <= start || q.start >= end {
                i += 1;
                continue;
            }
            let below = Range { start: q.start, end: start.max(q.start) };
            let above = Range { start: end.min(q.end), end: q.end };
            match (below.is_empty(), above.is_empty()) {
                (true, true) => {
                    self.ranges.copy_within(i + 1..self.n, i);
                    self.n -= 1;
                }
                (false, true) => {
                    self.ranges[i] = below;
                    i += 1;
                }
                (true, false) => {
                    self.ranges[i] = above;
                    i += 1;
                }
                (false, false) => {
                    self.ranges[i] = below;
                    if self.n == MAX_RANGES {
                        self.dropped += 1;
                    } else {
                        self.ranges.copy_within(i + 1..self.n, i + 2);
                        self.ranges[i + 1] = above;
                        self.n += 1;
                    }
                    i += 2;
                }
            }
        }
    }

    /// Is all of `[start, end)` usable?
    pub fn contains(&self, start: u64, end: u64) -> bool {
        self.ranges().iter().any(|q| q.start <= start && end <= q.end)
    }

    /// The first page-aligned page in `[lo, hi)` that is usable.
    pub fn first_page(&self, lo: u64, hi: u64) -> Option<u64> {
        self.ranges().iter().find_map(|q| {
            let s = q.start.max(lo).next_multiple_of(4096);
            (s + 4096 <= q.end.min(hi)).then_some(s)
        })
    }

    /// The largest range (the lowest of equals).
    pub fn largest(&self) -> Option<Range> {
        self.ranges().iter().copied().fold(None, |best, q| match best {
            Some(b) if b.len() >= q.len() => Some(b),
            _ => Some(q),
        })
    }

    /// Take the highest `size`-byte block aligned to `align` (a power of
    /// two) inside `[lo, hi)` out of the map (the top, so that what is left
    /// below stays in one piece).
    pub fn take_aligned_top_within(&mut self, size: u64, align: u64, lo: u64, hi: u64) -> Option<u64> {
        let s = self.ranges().iter().rev().find_map(|q| {
            let (start, end) = (q.start.max(lo), q.end.min(hi));
            let top = end.checked_sub(size)? & !(align - 1);
            (top >= start && top.checked_add(size)? <= end).then_some(top)
        })?;
        self.remove(s, s + size);
        Some(s)
    }

    /// Take the lowest `size`-byte block aligned to `align` (a power of
    /// two) out of the map.
    pub fn take_aligned(&mut self, size: u64, align: u64) -> Option<u64> {
        let s = self.ranges().iter().find_map(|q| {
            let s = q.start.next_multiple_of(align);
            (s.checked_add(size)? <= q.end).then_some(s)
        })?;
        self.remove(s, s + size);
        Some(s)
    }
}

/// Where the kernel's allocations went ([`plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// How many per-CPU chunks were placed (into the caller's array).
    pub chunks: usize,
    /// The frame allocator's range (empty when nothing fit).
    pub frames: Range,
}

/// Place up to `chunks.len()` per-CPU chunks (`chunk` bytes each, aligned
/// to their size) and one contiguous range of at least `min_frames` bytes
/// for the frame allocator. The frames get the largest free range; chunks
/// go first into the other ranges, then into the bottom of the largest as
/// long as it keeps `min_frames`. Chunks are placed in address order
/// within each source. Everything placed is taken out of `map`. When not
/// even one chunk fits beside the frames, nothing is placed.
pub fn plan(map: &mut MemMap, chunk: u64, min_frames: u64, chunks: &mut [u64]) -> Placement {
    let Some(mut big) = map.largest().filter(|r| r.len() >= min_frames) else {
        return Placement { chunks: 0, frames: Range::default() };
    };
    map.remove(big.start, big.end);
    let mut n = 0;
    while n < chunks.len() {
        match map.take_aligned(chunk, chunk) {
            Some(pa) => {
                chunks[n] = pa;
                n += 1;
            }
            None => break,
        }
    }
    while n < chunks.len() {
        let s = big.start.next_multiple_of(chunk);
        if s.saturating_add(chunk).saturating_add(min_frames) > big.end {
            break;
        }
        chunks[n] = s;
        n += 1;
        big.start = s + chunk;
    }
    // Chunks from the other ranges came out in address order, those from
    // the largest range after them: sort, so that CPU order is address
    // order (nothing depends on it; it reads better).
    chunks[..n].sort_unstable();
    // No chunk (not even the boot CPU's): nothing is used.
    let frames = if n == 0 { Range::default() } else { big };
    Placement { chunks: n, frames }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn takes_from_the_top_of_a_window() {
        let mut m = MemMap::new(GIB, Source::E820);
        m.add(0x10_0000, 255 * MIB);
        // Node 1 is [128 MiB, 256 MiB): its highest 2 MiB block.
        assert_eq!(m.take_aligned_top_within(2 * MIB, 2 * MIB, 128 * MIB, 256 * MIB), Some(254 * MIB));
        assert_eq!(m.take_aligned_top_within(2 * MIB, 2 * MIB, 128 * MIB, 256 * MIB), Some(252 * MIB));
        assert_eq!(m.take_aligned_top_within(2 * MIB, 2 * MIB, 300 * MIB, 400 * MIB), None);
        assert!(m.contains(0x10_0000, 252 * MIB));
    }

    #[test]
    fn ranges_merge_and_split() {
        let mut m = MemMap::new(GIB, Source::E820);
        m.add(0x10_0000, MIB);
        m.add(0x20_0000, MIB); // adjacent: merged
        m.add(0x50_0000, MIB);
        m.add(0x0, 0x9_F000);
        assert_eq!(
            m.ranges(),
            &[
                Range { start: 0, end: 0x9_F000 },
                Range { start: 0x10_0000, end: 0x30_0000 },
                Range { start: 0x50_0000, end: 0x60_0000 }
            ]
        );
        m.remove(0x18_0000, 0x19_0000);
        assert_eq!(m.ranges().len(), 4);
        assert!(m.contains(0x8000, 0x9000));
        assert!(!m.contains(0x18_0000, 0x18_1000));
        m.remove(0, MIB);
        assert_eq!(m.ranges()[0], Range { start: 0x10_0000, end: 0x18_0000 });
        assert_eq!(m.total, 0x9_F000 + 3 * MIB);
    }

    #[test]
    fn reach_clips_but_total_counts_everything() {
        // 1 TiB in two ranges, as on a big server: below 2 GiB and from 4 GiB.
        let mut m = MemMap::new(GIB, Source::E820);
        m.add(MIB, 2 * GIB - MIB);
        m.add(4 * GIB, 1024 * GIB - 2 * GIB);
        assert_eq!(m.total, 1024 * GIB - MIB);
        assert_eq!(m.ranges(), &[Range { start: MIB, end: GIB }]);
    }

    #[test]
    fn efi_types() {
        assert!(efi_type_usable(7, true) && efi_type_usable(4, true));
        assert!(!efi_type_usable(4, false) && !efi_type_usable(2, true) && !efi_type_usable(9, true));
    }

    #[test]
    fn a_full_table_counts_what_it_drops() {
        let mut m = MemMap::new(1 << 46, Source::Efi);
        for i in 0..(MAX_RANGES as u64 + 3) {
            m.add(i * 2 * MIB, MIB);
        }
        assert_eq!((m.ranges().len(), m.dropped), (MAX_RANGES, 3));
    }

    #[test]
    fn plan_leaves_the_frames_the_largest_range() {
        // OVMF-like: a few MiB, firmware pages, then the bulk of RAM.
        let mut m = MemMap::new(GIB, Source::Efi);
        m.add(MIB, 7 * MIB);
        m.add(9 * MIB, 2 * GIB);
        m.remove(MIB, 3 * MIB); // the kernel image
        let mut chunks = [0u64; 8];
        let p = plan(&mut m, 2 * MIB, 16 * MIB, &mut chunks);
        assert_eq!(p.chunks, 8);
        // 4, 6 MiB from the small range; the rest from the bottom of the big one.
        assert_eq!(chunks, [4, 6, 10, 12, 14, 16, 18, 20].map(|x| x * MIB));
        assert_eq!(p.frames, Range { start: 22 * MIB, end: GIB });
    }

    #[test]
    fn a_1_tib_server_with_256_cpus() {
        // E820 of a big server: low memory, RAM up to 3 GiB, the PCI hole,
        // then the rest of 1 TiB from 4 GiB.
        let mut m = MemMap::new(GIB, Source::E820);
        m.add(0, 0x9_F000);
        m.add(MIB, 3 * GIB - MIB);
        m.add(4 * GIB, 1024 * GIB - 3 * GIB);
        assert_eq!(m.total >> 20, 1024 * 1024 - 1);
        m.remove(MIB, 4 * MIB); // the image
        m.remove(0, MIB);
        let mut chunks = [0u64; 256];
        let p = plan(&mut m, 2 * MIB, 16 * MIB, &mut chunks);
        assert_eq!(p.chunks, 256);
        assert!(chunks.windows(2).all(|w| w[0] + 2 * MIB <= w[1]));
        assert!(chunks[255] + 2 * MIB <= p.frames.start && p.frames.end == GIB);
        assert_eq!(p.frames.len(), GIB - 4 * MIB - 512 * MIB);
    }

    #[test]
    fn plan_stops_before_eating_the_frames() {
        // 128 MiB of RAM, image at 1 MiB.
        let mut m = MemMap::new(GIB, Source::E820);
        m.add(MIB, 127 * MIB);
        m.remove(MIB, 4 * MIB);
        let mut chunks = [0u64; 64];
        let p = plan(&mut m, 2 * MIB, 16 * MIB, &mut chunks);
        assert!(p.frames.len() >= 16 * MIB);
        assert_eq!(p.chunks, (128 - 4 - 16) / 2);
        // Nothing fits: no chunk, no frames.
        let mut m = MemMap::new(GIB, Source::E820);
        m.add(MIB, 8 * MIB);
        assert_eq!(
            plan(&mut m, 2 * MIB, 16 * MIB, &mut chunks),
            Placement { chunks: 0, frames: Range::default() }
        );
        let mut m = MemMap::new(GIB, Source::E820);
        m.add(4 * MIB, 17 * MIB);
        assert_eq!(plan(&mut m, 2 * MIB, 16 * MIB, &mut chunks).chunks, 0);
    }
}
