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
}
