// SPDX-License-Identifier: MIT OR Apache-2.0
//! A 16550-compatible UART on MMIO, transmit only, polled: the console an
//! SPCR of type 0x00, 0x01 or 0x12 names (`acpi`), which the firmware has
//! configured (baud rate, line format) before handing over.
//!
//! Registers are `width` bytes apart and accessed `width` bytes wide (1:
//! the classic byte layout; 4: the 32-bit layout of most Arm SoCs, Linux's
//! `reg-shift = 2`, `reg-io-width = 4`).

/// Transmit holding register (write).
const THR: usize = 0;
/// Line status register.
const LSR: usize = 5;
/// LSR: the transmit holding register is empty.
const LSR_THRE: u32 = 1 << 5;
/// LSR: the transmitter is idle (holding and shift registers empty).
const LSR_TEMT: u32 = 1 << 6;

/// A 16550 at a kernel virtual address.
#[derive(Clone, Copy, Debug)]
pub struct Ns16550 {
    base: usize,
    width: usize,
}

impl Ns16550 {
    /// The UART whose registers are mapped at `base`, `width` bytes (1 or
    /// 4; anything else counts as 1) apart and wide.
    ///
    /// # Safety
    ///
    /// `base` must be the kernel virtual address of a 16550's register
    /// block of that layout, mapped as device memory for the life of the
    /// kernel.
    pub const unsafe fn new(base: usize, width: u8) -> Self {
        Ns16550 { base, width: if width == 4 { 4 } else { 1 } }
    }

    /// Byte offset of register `reg`.
    const fn offset(self, reg: usize) -> usize {
        reg * self.width
    }

    fn read(self, reg: usize) -> u32 {
        let a = self.base + self.offset(reg);
        // SAFETY: `new`'s contract: a mapped register of this UART, read
        // volatile at the width the layout wants.
        unsafe {
            if self.width == 4 {
                (a as *const u32).read_volatile()
            } else {
                u32::from((a as *const u8).read_volatile())
            }
        }
    }

    fn write(self, reg: usize, v: u8) {
        let a = self.base + self.offset(reg);
        // SAFETY: as in `read`.
        unsafe {
            if self.width == 4 {
                (a as *mut u32).write_volatile(u32::from(v))
            } else {
                (a as *mut u8).write_volatile(v)
            }
        }
    }

    /// Send one byte, waiting until the holding register is empty.
    pub fn putc(self, b: u8) {
        while self.read(LSR) & LSR_THRE == 0 {
            core::hint::spin_loop();
        }
        self.write(THR, b);
    }

    /// Wait until every byte written has left the UART.
    pub fn flush(self) {
        while self.read(LSR) & LSR_TEMT == 0 {
            core::hint::spin_loop();
        }
    }
}


impl runtime::Uart for Ns16550 {
    fn putc(&self, b: u8) {
        Ns16550::putc(*self, b);
    }

    fn flush(&self) {
        Ns16550::flush(*self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight 32-bit registers in ordinary memory, LSR saying "empty".
    #[test]
    fn registers_at_the_layouts_offsets() {
        let mut regs = [0u32; 8];
        regs[LSR] = LSR_THRE | LSR_TEMT;
        let base = regs.as_mut_ptr() as usize;
        // SAFETY: `regs` stands in for the register block, 32 bytes.
        let u = unsafe { Ns16550::new(base, 4) };
        u.putc(b'A');
        u.flush();
        assert_eq!(regs[THR], u32::from(b'A'));
        assert_eq!(u.offset(LSR), 20);

        let mut bytes = [0u8; 8];
        bytes[LSR] = (LSR_THRE | LSR_TEMT) as u8;
        // SAFETY: `bytes` stands in for the byte-wide register block.
        let u = unsafe { Ns16550::new(bytes.as_mut_ptr() as usize, 1) };
        u.putc(b'z');
        assert_eq!(bytes[THR], b'z');
        assert_eq!(bytes[LSR], 0x60, "status untouched");
        // SAFETY: only the layout is looked at.
        assert_eq!(unsafe { Ns16550::new(0, 2) }.offset(LSR), 5);
    }
}
