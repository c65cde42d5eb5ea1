// SPDX-License-Identifier: MIT OR Apache-2.0
//! This thread's UTCB, as user code reaches it.

use crate::abi::UTCB_WORDS;

/// This thread's UTCB: 64 words, written by the runtime before start and
/// by the kernel during IPC, hence volatile accesses.
#[derive(Clone, Copy, Debug)]
pub struct Utcb(*mut u64);

impl Utcb {
    /// The UTCB at `p`.
    ///
    /// # Safety
    ///
    /// `p` must point to [`UTCB_WORDS`] 8-byte-aligned words mapped
    /// readable and writable for the life of the program, accessed by
    /// nothing but this `Utcb` (and its copies) and the kernel: the address
    /// the kernel passes in the first argument register at the entry point
    /// (docs/abi.md).
    pub const unsafe fn from_raw(p: *mut u64) -> Utcb {
        Utcb(p)
    }

    /// Word `i`. Panics if `i` is not below [`UTCB_WORDS`].
    #[inline(always)]
    pub fn get(self, i: usize) -> u64 {
        assert!(i < UTCB_WORDS);
        // SAFETY: in bounds (checked) of the mapped, aligned UTCB
        // (`from_raw`'s contract).
        unsafe { self.0.add(i).read_volatile() }
    }

    /// Sets word `i`. Panics if `i` is not below [`UTCB_WORDS`].
    #[inline(always)]
    pub fn set(self, i: usize, v: u64) {
        assert!(i < UTCB_WORDS);
        // SAFETY: as in `get`; the page is writable.
        unsafe { self.0.add(i).write_volatile(v) }
    }
}
