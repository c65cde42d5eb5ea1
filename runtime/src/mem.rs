// SPDX-License-Identifier: MIT OR Apache-2.0
//! Physical frames: a bump allocator over one range of RAM, with a mark to
//! give everything back between two benchmarks.

/// Size of a frame (and of a page).
pub const FRAME: u64 = 4096;

/// Hands out 4 KiB frames from `[start, end)`.
#[derive(Clone, Copy, Debug)]
pub struct FrameAlloc {
    start: u64,
    next: u64,
    end: u64,
}

impl FrameAlloc {
    /// Frames from `start` (rounded up) to `end` (rounded down).
    pub const fn new(start: u64, end: u64) -> Self {
        let s = (start + FRAME - 1) & !(FRAME - 1);
        FrameAlloc { start: s, next: s, end: end & !(FRAME - 1) }
    }

    /// One frame (not zeroed), or `None` when RAM is used up.
    pub fn alloc(&mut self) -> Option<u64> {
        if self.next + FRAME > self.end {
            return None;
        }
        let f = self.next;
        self.next += FRAME;
        Some(f)
    }

    /// Give back every frame handed out.
    pub fn reset(&mut self) {
        self.next = self.start;
    }

    /// Frames still free.
    pub fn free_frames(&self) -> u64 {
        (self.end - self.next) / FRAME
    }

    /// Cut the range into `n` equal parts (whole frames): `self` keeps the
    /// first, part `i` (1..n) is `part(i)`. Each CPU then allocates from a
    /// slice of its own, with no lock. Call before anything is handed out.
    pub fn split(&mut self, n: usize) -> FrameSplit {
        let n = n.max(1) as u64;
        let share = ((self.end - self.start) / n) & !(FRAME - 1);
        let split = FrameSplit { base: self.start, share };
        *self = FrameAlloc::new(self.start, self.start + share);
        split
    }
}

/// The parts of a [`FrameAlloc::split`].
#[derive(Clone, Copy, Debug)]
pub struct FrameSplit {
    base: u64,
    share: u64,
}

impl FrameSplit {
    /// Part `i` of the split.
    pub fn part(&self, i: usize) -> FrameAlloc {
        let lo = self.base + i as u64 * self.share;
        FrameAlloc::new(lo, lo + self.share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_and_reset() {
        let mut f = FrameAlloc::new(0x1001, 0x4fff);
        assert_eq!(f.alloc(), Some(0x2000));
        assert_eq!(f.alloc(), Some(0x3000));
        assert_eq!(f.alloc(), None);
        f.reset();
        assert_eq!(f.free_frames(), 2);
    }

    #[test]
    fn split_gives_disjoint_parts() {
        let mut f = FrameAlloc::new(0x10_0000, 0x10_0000 + 10 * FRAME);
        let parts = f.split(3);
        assert_eq!(f.free_frames(), 3);
        let (mut a, mut b) = (parts.part(1), parts.part(2));
        assert_eq!(a.alloc(), Some(0x10_0000 + 3 * FRAME));
        assert_eq!(b.alloc(), Some(0x10_0000 + 6 * FRAME));
        assert_eq!((a.free_frames(), b.free_frames()), (2, 2));
    }
}
