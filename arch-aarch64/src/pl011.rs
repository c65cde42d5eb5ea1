// SPDX-License-Identifier: MIT OR Apache-2.0
//! The Arm PL011 UART, transmit only, polled: enough for a console that the
//! firmware (or QEMU, which needs no set-up) has configured.

/// Data register.
const DR: usize = 0x00;
/// Flag register.
const FR: usize = 0x18;
/// FR: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;
/// FR: busy (still sending).
const FR_BUSY: u32 = 1 << 3;

/// A PL011 at a kernel virtual address.
#[derive(Clone, Copy, Debug)]
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// The UART whose registers are mapped at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the kernel virtual address of a PL011's register
    /// block, mapped as device memory for the life of the kernel.
    pub const unsafe fn new(base: usize) -> Self {
        Pl011 { base }
    }

    /// Send one byte, waiting while the transmit FIFO is full.
    pub fn putc(self, b: u8) {
        let fr = (self.base + FR) as *const u32;
        let dr = (self.base + DR) as *mut u32;
        // SAFETY: `new`'s contract: both registers are mapped device
        // memory of this UART; volatile accesses of 32 bits as the PL011
        // wants them.
        unsafe {
            while fr.read_volatile() & FR_TXFF != 0 {
                core::hint::spin_loop();
            }
            dr.write_volatile(u32::from(b));
        }
    }

    /// Wait until every byte written has left the UART (before a board
    /// stops for good, so the last line reaches the cable).
    pub fn flush(self) {
        let fr = (self.base + FR) as *const u32;
        // SAFETY: as in `putc`.
        while unsafe { fr.read_volatile() } & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
    }
}

impl runtime::Uart for Pl011 {
    fn putc(&self, b: u8) {
        Pl011::putc(*self, b);
    }

    fn flush(&self) {
        Pl011::flush(*self);
    }
}
