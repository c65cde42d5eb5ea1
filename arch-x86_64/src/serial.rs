// SPDX-License-Identifier: MIT OR Apache-2.0
//! 16550 UARTs by port I/O: COM1 carries the console (results table and
//! `IPCB` lines), COM2 the defmt diagnostics. Polled, 115200 8N1.

use x86_64::instructions::port::Port;

/// COM1 base port.
pub const COM1: u16 = 0x3F8;
/// COM2 base port.
pub const COM2: u16 = 0x2F8;

/// Program `base` for 115200 baud, 8N1, FIFOs on, interrupts off.
pub fn init(base: u16) {
    // SAFETY: standard 16550 registers; no memory is touched.
    unsafe {
        Port::<u8>::new(base + 1).write(0x00); // no interrupts
        Port::<u8>::new(base + 3).write(0x80); // DLAB
        Port::<u8>::new(base).write(0x01); // divisor 1 = 115200
        Port::<u8>::new(base + 1).write(0x00);
        Port::<u8>::new(base + 3).write(0x03); // 8N1
        Port::<u8>::new(base + 2).write(0xC7); // FIFO on, cleared
        Port::<u8>::new(base + 4).write(0x03); // DTR | RTS
    }
}

/// Send one byte, waiting for room (LSR bit 5, bounded so a missing UART
/// cannot hang the kernel).
#[inline]
pub fn putc(base: u16, b: u8) {
    // SAFETY: as in `init`.
    unsafe {
        let mut lsr = Port::<u8>::new(base + 5);
        let mut spins = 0u32;
        while lsr.read() & 0x20 == 0 && spins < 100_000 {
            spins += 1;
        }
        Port::<u8>::new(base).write(b);
    }
}
