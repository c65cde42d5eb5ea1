// SPDX-License-Identifier: MIT OR Apache-2.0
//! The console: `core::fmt` over the board's first serial port, and the
//! [`Uart`] trait its drivers implement.

use core::fmt;
use core::marker::PhantomData;

use crate::Board;

/// The transmit side of a serial port, as a board's console (or its
/// second port, for defmt) drives it. The drivers implement it: the PC's
/// 16550 on I/O ports (`arch_x86_64::serial::Com`), and on AArch64 the
/// PL011, the memory-mapped 16550, NXP's LINFlexD and the Xilinx Zynq's
/// Cadence UART (`arch_aarch64::{pl011, ns16550, linflex, cadence}`). A port to a board with
/// another UART implements it for that UART; its [`Board::putc`] and
/// [`Board::exit`] call it (`docs/porting.md`).
pub trait Uart {
    /// Set the port up (rate, framing, FIFOs) where the firmware has not;
    /// called once, before the first byte. The default does nothing (QEMU
    /// and the firmware of the boards here leave their ports usable).
    fn init(&self) {}
    /// Send one byte, waiting for room in the transmitter.
    fn putc(&self, b: u8);
    /// Wait until every byte sent has left the port (before the board
    /// stops for good, so that the last line reaches the cable). The
    /// default has nothing to wait for.
    fn flush(&self) {}
    /// Send `bytes`, in order.
    fn write_all(&self, bytes: &[u8]) {
        for &b in bytes {
            self.putc(b);
        }
    }
}

/// A `fmt::Write` sink for board `B`'s console.
pub struct Console<B: Board>(PhantomData<B>);

impl<B: Board> Default for Console<B> {
    fn default() -> Self {
        Console(PhantomData)
    }
}

impl<B: Board> fmt::Write for Console<B> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                B::putc(b'\r');
            }
            B::putc(b);
        }
        Ok(())
    }
}

/// `println!` to board `B`'s console.
#[macro_export]
macro_rules! kprintln {
    ($b:ty, $($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::console::Console::<$b>::default(), $($arg)*);
    }};
}

/// `print!` to board `B`'s console.
#[macro_export]
macro_rules! kprint {
    ($b:ty, $($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::console::Console::<$b>::default(), $($arg)*);
    }};
}
