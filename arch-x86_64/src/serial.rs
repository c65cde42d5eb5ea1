// SPDX-License-Identifier: MIT OR Apache-2.0
//! 16550 UARTs by port I/O, and which of them carry what.
//!
//! By default COM1 carries the console (results table and `IPCB` lines)
//! and COM2 the defmt diagnostics. The kernel command line moves either:
//! `console=COM1..COM4|0xNNNN|none` and `defmt=COM1..COM4|0xNNNN|none`
//! ([`Ports::from_cmdline`]). Servers' serial-over-LAN is often COM2, so
//! `console=COM2` alone also turns defmt off: two streams never share a
//! port (binary defmt frames would garble the table). Polled, 115200 8N1.

use x86_64::instructions::port::Port;

/// COM1 base port.
pub const COM1: u16 = 0x3F8;
/// COM2 base port.
pub const COM2: u16 = 0x2F8;
/// COM3 base port.
pub const COM3: u16 = 0x3E8;
/// COM4 base port.
pub const COM4: u16 = 0x2E8;

/// Where the two serial streams go (`None`: nowhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    /// The console: the results table and the `IPCB` lines.
    pub console: Option<u16>,
    /// The defmt diagnostics.
    pub defmt: Option<u16>,
    /// defmt was turned off because it named the console's port (the
    /// kernel says so in one `IPCB warn` line).
    pub defmt_shared: bool,
}

impl Default for Ports {
    fn default() -> Self {
        Ports { console: Some(COM1), defmt: Some(COM2), defmt_shared: false }
    }
}

/// A port value: `COM1`..`COM4` (any case), `0xNNNN` (an I/O port whose
/// eight UART registers fit below 0x10000, not 0), or `none`
/// (`Some(None)`). `None`: not a port.
pub fn parse_port(v: &str) -> Option<Option<u16>> {
    let com = [("com1", COM1), ("com2", COM2), ("com3", COM3), ("com4", COM4)];
    if v.eq_ignore_ascii_case("none") {
        return Some(None);
    }
    if let Some(&(_, base)) = com.iter().find(|(n, _)| v.eq_ignore_ascii_case(n)) {
        return Some(Some(base));
    }
    let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))?;
    match u16::from_str_radix(hex, 16) {
        Ok(p) if p != 0 && p <= 0xFFF8 && !hex.is_empty() && hex.len() <= 4 => Some(Some(p)),
        _ => None,
    }
}

/// Is `w` a word [`Ports::from_cmdline`] reads (`console=` or `defmt=`)?
pub fn is_port_word(w: &str) -> bool {
    w.starts_with("console=") || w.starts_with("defmt=")
}

impl Ports {
    /// The ports a command line names (the last word of each key wins),
    /// or the first word with a bad value.
    pub fn from_cmdline(s: &str) -> Result<Ports, &str> {
        let mut p = Ports::default();
        for w in s.split_ascii_whitespace().filter(|w| is_port_word(w)) {
            let (k, v) = w.split_once('=').ok_or(w)?;
            let port = parse_port(v).ok_or(w)?;
            if k == "console" {
                p.console = port;
            } else {
                p.defmt = port;
            }
        }
        if p.console.is_some() && p.console == p.defmt {
            p.defmt = None;
            p.defmt_shared = true;
        }
        Ok(p)
    }
}

/// `s` without its `console=` and `defmt=` words, in `buf` (the words
/// left are separated by single spaces; the first word keeps its place,
/// so a loader's leading image path stays first). `None`: `buf` is too
/// small.
pub fn without_port_words<'a>(s: &str, buf: &'a mut [u8]) -> Option<&'a str> {
    let mut kept = runtime::cmdline::WordBuf::new(buf);
    for w in s.split_ascii_whitespace().filter(|w| !is_port_word(w)) {
        if !kept.push(w) {
            return None;
        }
    }
    Some(kept.into_str())
}

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


/// The 16550 at I/O port `base` (COM1 `0x3F8`, COM2 `0x2F8`, ...), as a
/// [`runtime::Uart`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Com(pub u16);

impl runtime::Uart for Com {
    /// 115200 baud, 8N1, FIFOs on ([`init`]).
    fn init(&self) {
        init(self.0);
    }

    fn putc(&self, b: u8) {
        putc(self.0, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_values() {
        assert_eq!(parse_port("COM1"), Some(Some(0x3F8)));
        assert_eq!(parse_port("com2"), Some(Some(0x2F8)));
        assert_eq!(parse_port("COM3"), Some(Some(0x3E8)));
        assert_eq!(parse_port("COM4"), Some(Some(0x2E8)));
        assert_eq!(parse_port("none"), Some(None));
        assert_eq!(parse_port("0x3f8"), Some(Some(0x3F8)));
        assert_eq!(parse_port("0XE000"), Some(Some(0xE000)));
        for bad in ["", "COM5", "COM", "0x", "0x0", "0xFFFF", "0x10000", "0x00003f8", "1016", "0xzz", "nothing"] {
            assert_eq!(parse_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn defaults_and_moves() {
        let d = Ports::default();
        assert_eq!(Ports::from_cmdline(""), Ok(d));
        assert_eq!(Ports::from_cmdline("/boot/kernel.elf rounds=5"), Ok(d));
        assert_eq!(
            Ports::from_cmdline("console=COM3 defmt=0x2e8"),
            Ok(Ports { console: Some(COM3), defmt: Some(COM4), defmt_shared: false })
        );
        assert_eq!(
            Ports::from_cmdline("console=COM2 defmt=none"),
            Ok(Ports { console: Some(COM2), defmt: None, defmt_shared: false })
        );
        assert_eq!(
            Ports::from_cmdline("console=none"),
            Ok(Ports { console: None, defmt: Some(COM2), defmt_shared: false })
        );
        // The last word of a key wins.
        assert_eq!(Ports::from_cmdline("defmt=none defmt=COM4").map(|p| p.defmt), Ok(Some(COM4)));
    }

    #[test]
    fn one_port_never_carries_both_streams() {
        // Serial-over-LAN on COM2: the default defmt port is the console's.
        assert_eq!(
            Ports::from_cmdline("console=COM2"),
            Ok(Ports { console: Some(COM2), defmt: None, defmt_shared: true })
        );
        assert_eq!(
            Ports::from_cmdline("defmt=0x3F8"),
            Ok(Ports { console: Some(COM1), defmt: None, defmt_shared: true })
        );
        // Both off is not a clash.
        assert_eq!(
            Ports::from_cmdline("console=none defmt=none"),
            Ok(Ports { console: None, defmt: None, defmt_shared: false })
        );
    }

    #[test]
    fn bad_values_name_their_word() {
        assert_eq!(Ports::from_cmdline("rounds=5 console=COM9"), Err("console=COM9"));
        assert_eq!(Ports::from_cmdline("defmt="), Err("defmt="));
    }

    #[test]
    fn port_words_are_taken_out_for_the_runtime() {
        let mut buf = [0u8; 64];
        assert_eq!(
            without_port_words("/boot/kernel.elf console=COM2  rounds=5 defmt=none runs=2", &mut buf),
            Some("/boot/kernel.elf rounds=5 runs=2")
        );
        assert_eq!(without_port_words("console=none", &mut buf), Some(""));
        assert_eq!(without_port_words("", &mut buf), Some(""));
        let mut small = [0u8; 8];
        assert_eq!(without_port_words("rounds=5 runs=2", &mut small), None);
        assert_eq!(without_port_words("rounds=5", &mut small), Some("rounds=5"));
    }
}
