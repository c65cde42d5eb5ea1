// SPDX-License-Identifier: MIT OR Apache-2.0
//! The console: `core::fmt` over the board's first serial port.

use core::fmt;
use core::marker::PhantomData;

use crate::Board;

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
