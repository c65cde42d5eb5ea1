// SPDX-License-Identifier: MIT OR Apache-2.0
//! Register access for the memory-mapped UART drivers whose logic runs on
//! the host too ([`crate::linflex`], [`crate::cadence`]): the drivers are
//! generic over [`Regs`], which is [`Mmio`] on the board and a recording
//! fake in their host tests.

/// Access to a block of 32-bit little-endian registers, `off` bytes from
/// its start.
pub trait Regs {
    /// Read the 32-bit register at `off`.
    fn read(&self, off: usize) -> u32;
    /// Write the 32-bit register at `off`.
    fn write(&self, off: usize, v: u32);
    /// Write the low byte of the register at `off` (a data register where
    /// one byte access pushes one byte: LINFlexD's `BDRL`).
    fn write_byte(&self, off: usize, v: u8);
}

/// A device's registers at a kernel virtual address.
#[derive(Clone, Copy, Debug)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// The register block mapped at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the kernel virtual address of the device's register
    /// block, mapped as device memory for the life of the kernel.
    pub const unsafe fn new(base: usize) -> Self {
        Mmio { base }
    }
}

impl Regs for Mmio {
    fn read(&self, off: usize) -> u32 {
        // SAFETY: `new`'s contract: a mapped register of this device, read
        // volatile at the 32 bits the block wants.
        unsafe { ((self.base + off) as *const u32).read_volatile() }
    }

    fn write(&self, off: usize, v: u32) {
        // SAFETY: as in `read`.
        unsafe { ((self.base + off) as *mut u32).write_volatile(v) }
    }

    fn write_byte(&self, off: usize, v: u8) {
        // SAFETY: as in `read`; the block is little-endian, so the byte at
        // `off` is the register's low byte.
        unsafe { ((self.base + off) as *mut u8).write_volatile(v) }
    }
}
