// SPDX-License-Identifier: MIT OR Apache-2.0
//! The Cadence UART (`cdns,uart-r1p12`, `xlnx,xuartps`), polled: the
//! console of the Xilinx Zynq-7000 and Zynq UltraScale+ MPSoC (ZCU102:
//! UART0 at `0xFF00_0000`, UART1 at `0xFF01_0000`).
//!
//! The register layout is the one of the Zynq UltraScale+ technical
//! reference manual (UG1085, "UART"), which Linux's
//! `drivers/tty/serial/xilinx_uartps.c`, U-Boot's `serial_zynq.c` and
//! QEMU's `hw/char/cadence_uart.c` use: 32-bit registers, the transmit and
//! receive FIFO (16 bytes deep in QEMU, 64 on the MPSoC) behind one data
//! register.
//!
//! **Set-up** ([`Cadence::init`]). Out of reset the transmitter and the
//! receiver are *disabled* (`CR` = `0x128`: `TX_DIS`, `RX_DIS`,
//! `STPBRK`), and a byte written then is dropped without a trace: QEMU's
//! model ignores it, as the hardware does. On a board the first-stage
//! boot loader or U-Boot has enabled them; under QEMU `-kernel` nothing
//! runs before the kernel, so the kernel must. `init` waits for what the
//! firmware left in the transmit FIFO, sets the mode to 8 data bits, no
//! parity, one stop bit, normal channel mode (keeping the firmware's
//! clock pre-scaler choice), writes the baud-rate divisors only when asked
//! ([`divisors`]; the reference clock is the firmware's business), resets
//! both FIFOs and enables the transmitter and the receiver.
//!
//! All register access goes through [`Regs`] (`crate::mmio`, shared with
//! `linflex`), so the logic runs on the host against a fake (the tests
//! below); on the board it is [`Mmio`].

/// Control register.
pub const CR: usize = 0x00;
/// Mode register.
pub const MR: usize = 0x04;
/// Interrupt disable register.
pub const IDR: usize = 0x0C;
/// Baud-rate generator (the clock divisor, `CD`).
pub const BAUDGEN: usize = 0x18;
/// Channel status register.
pub const SR: usize = 0x2C;
/// Transmit and receive FIFO.
pub const FIFO: usize = 0x30;
/// Baud-rate divider (`BDIV`: bit time in sample clocks, minus one).
pub const BAUDDIV: usize = 0x34;

/// CR: reset the receive FIFO (self-clearing).
pub const CR_RXRST: u32 = 1 << 0;
/// CR: reset the transmit FIFO (self-clearing).
pub const CR_TXRST: u32 = 1 << 1;
/// CR: receiver enable.
pub const CR_RX_EN: u32 = 1 << 2;
/// CR: receiver disable (wins over `RX_EN`).
pub const CR_RX_DIS: u32 = 1 << 3;
/// CR: transmitter enable.
pub const CR_TX_EN: u32 = 1 << 4;
/// CR: transmitter disable (wins over `TX_EN`).
pub const CR_TX_DIS: u32 = 1 << 5;
/// CR: stop sending a break (the reset value has it set).
pub const CR_STPBRK: u32 = 1 << 8;
/// CR after reset: both directions disabled.
pub const CR_RESET: u32 = 0x128;

/// MR: the baud generator runs from the reference clock divided by 8.
pub const MR_CLKSEL: u32 = 1 << 0;
/// MR: parity, bits 5..3; `0b1xx` is "no parity".
pub const MR_PARITY_NONE: u32 = 0b100 << 3;
/// MR: every field [`Cadence::init`] sets (character length, parity, stop
/// bits, channel mode); `CLKSEL` and the rest are kept.
pub const MR_FORMAT_MASK: u32 = 0x3FE;

/// SR: the receive FIFO is empty.
pub const SR_RXEMPTY: u32 = 1 << 1;
/// SR: the transmit FIFO is empty.
pub const SR_TXEMPTY: u32 = 1 << 3;
/// SR: the transmit FIFO is full.
pub const SR_TXFULL: u32 = 1 << 4;
/// SR: the transmitter is still shifting a character out.
pub const SR_TACTIVE: u32 = 1 << 11;

/// Every interrupt source (`IDR`): the console polls.
pub const ALL_INTERRUPTS: u32 = 0x1FFF;

/// How many status reads [`Cadence::init`] waits for a FIFO reset to
/// clear itself before it goes on anyway (a few clock cycles of the
/// UART's on the hardware, immediate in QEMU).
pub const RESET_SPINS: u32 = 1 << 16;

/// The register access, shared with `linflex` (`crate::mmio`).
pub use crate::mmio::{Mmio, Regs};

/// The baud-rate divisors: `BAUDGEN` (`CD`) and `BAUDDIV` (`BDIV`), for
/// `baud = clock / (CD * (BDIV + 1))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baud {
    /// Clock divisor, 1..=65535.
    pub cd: u32,
    /// Bit time in sample clocks minus one, 4..=255.
    pub bdiv: u32,
}

/// The divisors that come closest to `baud` from a baud-generator clock
/// of `clock_hz` (the reference clock, or an eighth of it with
/// [`MR_CLKSEL`]), trying every `BDIV` as Linux's driver does. `None`
/// when none fits the registers or an input is 0.
pub fn divisors(clock_hz: u64, baud: u32) -> Option<Baud> {
    if baud == 0 || clock_hz == 0 {
        return None;
    }
    let baud = u64::from(baud);
    let mut best: Option<(u64, Baud)> = None;
    for bdiv in 4..=255u32 {
        let per_cd = baud * u64::from(bdiv + 1);
        // CD rounded to nearest.
        let cd = (clock_hz + per_cd / 2) / per_cd;
        if cd == 0 || cd > 65535 {
            continue;
        }
        let actual = clock_hz / (cd * u64::from(bdiv + 1));
        let err = actual.abs_diff(baud);
        if best.is_none_or(|(e, _)| err < e) {
            best = Some((err, Baud { cd: cd as u32, bdiv }));
        }
    }
    best.map(|(_, b)| b)
}

/// A Cadence UART.
#[derive(Clone, Copy, Debug)]
pub struct Cadence<R: Regs> {
    regs: R,
}

impl<R: Regs> Cadence<R> {
    /// The UART behind `regs`.
    pub const fn new(regs: R) -> Self {
        Cadence { regs }
    }

    /// The register access (for tests).
    pub fn regs(&self) -> &R {
        &self.regs
    }

    /// Is the transmitter enabled (`TX_EN` without `TX_DIS`)?
    pub fn tx_enabled(&self) -> bool {
        self.regs.read(CR) & (CR_TX_EN | CR_TX_DIS) == CR_TX_EN
    }

    /// Enable the transmitter and the receiver with 8 data bits, no
    /// parity, one stop bit, normal channel mode, interrupts off, both
    /// FIFOs emptied; set the baud-rate divisors only if `baud` says so
    /// (else the firmware's rate stays). Waits first for what the firmware
    /// left in the transmit FIFO, if its transmitter was on.
    pub fn init(&self, baud: Option<Baud>) {
        if self.tx_enabled() {
            self.flush();
        }
        // Both directions off while the format changes.
        self.regs.write(CR, CR_TX_DIS | CR_RX_DIS | CR_STPBRK);
        self.regs.write(IDR, ALL_INTERRUPTS);
        let mr = self.regs.read(MR);
        // CHRL 0b00 (8 bits), PAR 0b100 (none), NBSTOP 0b00 (1), CHMODE
        // 0b00 (normal).
        self.regs.write(MR, (mr & !MR_FORMAT_MASK) | MR_PARITY_NONE);
        if let Some(b) = baud {
            self.regs.write(BAUDGEN, b.cd);
            self.regs.write(BAUDDIV, b.bdiv);
        }
        self.regs.write(CR, CR_TXRST | CR_RXRST | CR_TX_DIS | CR_RX_DIS | CR_STPBRK);
        let mut spins = 0;
        while self.regs.read(CR) & (CR_TXRST | CR_RXRST) != 0 && spins < RESET_SPINS {
            spins += 1;
            core::hint::spin_loop();
        }
        self.regs.write(CR, CR_TX_EN | CR_RX_EN | CR_STPBRK);
    }

    /// Send one byte, waiting while the transmit FIFO is full.
    pub fn putc(&self, b: u8) {
        while self.regs.read(SR) & SR_TXFULL != 0 {
            core::hint::spin_loop();
        }
        self.regs.write(FIFO, u32::from(b));
    }

    /// A received byte, if one is waiting.
    pub fn getc(&self) -> Option<u8> {
        if self.regs.read(SR) & SR_RXEMPTY != 0 {
            return None;
        }
        Some(self.regs.read(FIFO) as u8)
    }

    /// Wait until every byte sent has left the UART: the FIFO empty and
    /// the last character shifted out. Returns at once while the
    /// transmitter is disabled (nothing would ever drain).
    pub fn flush(&self) {
        if !self.tx_enabled() {
            return;
        }
        while self.regs.read(SR) & (SR_TXEMPTY | SR_TACTIVE) != SR_TXEMPTY {
            core::hint::spin_loop();
        }
    }
}

impl<R: Regs> runtime::Uart for Cadence<R> {
    /// [`Cadence::init`] keeping the firmware's baud rate.
    fn init(&self) {
        Cadence::init(self, None);
    }

    fn putc(&self, b: u8) {
        Cadence::putc(self, b);
    }

    fn flush(&self) {
        Cadence::flush(self);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use core::cell::RefCell;
    use std::vec::Vec;

    use super::*;

    /// A Cadence UART as QEMU models it, as far as the driver looks: the
    /// FIFO resets clear themselves, a byte is taken only while the
    /// transmitter is enabled (else dropped), the FIFO drains `drain_every`
    /// status reads after a byte; every write logged.
    struct Fake {
        regs: RefCell<[u32; 0x48 / 4]>,
        writes: RefCell<Vec<(usize, u32)>>,
        sent: RefCell<Vec<u8>>,
        dropped: RefCell<usize>,
        /// Bytes in the transmit FIFO.
        fifo: RefCell<u32>,
        depth: u32,
    }

    impl Fake {
        fn new(cr: u32) -> Self {
            let mut regs = [0; 0x48 / 4];
            regs[CR / 4] = cr;
            regs[BAUDGEN / 4] = 0x28B;
            regs[BAUDDIV / 4] = 0xF;
            Fake {
                regs: RefCell::new(regs),
                writes: RefCell::new(Vec::new()),
                sent: RefCell::new(Vec::new()),
                dropped: RefCell::new(0),
                fifo: RefCell::new(0),
                depth: 16,
            }
        }
        fn reg(&self, off: usize) -> u32 {
            self.regs.borrow()[off / 4]
        }
        fn tx_on(&self) -> bool {
            self.reg(CR) & (CR_TX_EN | CR_TX_DIS) == CR_TX_EN
        }
    }

    impl Regs for Fake {
        fn read(&self, off: usize) -> u32 {
            if off == SR {
                // One byte leaves per status read while enabled.
                let mut f = self.fifo.borrow_mut();
                let mut sr = SR_RXEMPTY;
                if *f == self.depth {
                    sr |= SR_TXFULL;
                }
                if *f == 0 {
                    sr |= SR_TXEMPTY;
                } else {
                    sr |= SR_TACTIVE;
                }
                if self.tx_on() && *f > 0 {
                    *f -= 1;
                }
                return sr;
            }
            self.reg(off)
        }
        fn write(&self, off: usize, v: u32) {
            self.writes.borrow_mut().push((off, v));
            match off {
                FIFO => {
                    let mut f = self.fifo.borrow_mut();
                    if !self.tx_on() || *f == self.depth {
                        *self.dropped.borrow_mut() += 1;
                    } else {
                        *f += 1;
                        self.sent.borrow_mut().push(v as u8);
                    }
                }
                CR => {
                    if v & CR_TXRST != 0 {
                        *self.fifo.borrow_mut() = 0;
                    }
                    self.regs.borrow_mut()[CR / 4] = v & !(CR_TXRST | CR_RXRST);
                }
                _ => self.regs.borrow_mut()[off / 4] = v,
            }
        }
        fn write_byte(&self, _: usize, _: u8) {
            unreachable!("the Cadence UART takes 32-bit writes only");
        }
    }

    #[test]
    fn out_of_reset_bytes_are_dropped_until_init_enables_the_transmitter() {
        let u = Cadence::new(Fake::new(CR_RESET));
        assert!(!u.tx_enabled());
        u.putc(b'x');
        u.flush(); // returns: nothing would drain
        assert_eq!(*u.regs().dropped.borrow(), 1, "QEMU and the hardware drop it");
        u.init(None);
        assert!(u.tx_enabled());
        for b in *b"IPCB hello\n" {
            u.putc(b);
        }
        u.flush();
        let f = u.regs();
        assert_eq!(&f.sent.borrow()[..], b"IPCB hello\n");
        assert_eq!(*f.dropped.borrow(), 1);
        assert_eq!(*f.fifo.borrow(), 0, "flush waited for the FIFO to drain");
    }

    #[test]
    fn init_sets_8n1_normal_mode_keeps_the_clock_and_the_rate() {
        let f = Fake::new(CR_RESET);
        // The firmware chose CLKSEL; a stale odd parity, 2 stop bits, loopback.
        f.regs.borrow_mut()[MR / 4] = MR_CLKSEL | (0b001 << 3) | (0b10 << 6) | (0b10 << 8);
        let u = Cadence::new(f);
        u.init(None);
        let f = u.regs();
        assert_eq!(f.reg(MR), MR_CLKSEL | MR_PARITY_NONE);
        assert_eq!((f.reg(BAUDGEN), f.reg(BAUDDIV)), (0x28B, 0xF), "rate untouched");
        let w = f.writes.borrow();
        // Disabled first, FIFOs reset while disabled, enabled last.
        assert_eq!(w[0], (CR, CR_TX_DIS | CR_RX_DIS | CR_STPBRK));
        assert!(w.contains(&(IDR, ALL_INTERRUPTS)));
        assert!(w.iter().any(|&(o, v)| o == CR && v & CR_TXRST != 0 && v & CR_TX_DIS != 0));
        assert_eq!(*w.last().unwrap(), (CR, CR_TX_EN | CR_RX_EN | CR_STPBRK));
    }

    #[test]
    fn init_waits_for_the_firmwares_bytes_and_writes_the_rate_when_asked() {
        let u = Cadence::new(Fake::new(CR_TX_EN | CR_RX_EN | CR_STPBRK));
        for b in *b"U-Boot" {
            u.putc(b);
        }
        assert!(*u.regs().fifo.borrow() > 0);
        let b = Baud { cd: 62, bdiv: 6 };
        u.init(Some(b));
        let f = u.regs();
        assert_eq!(&f.sent.borrow()[..], b"U-Boot", "not cut off by the FIFO reset");
        assert_eq!((f.reg(BAUDGEN), f.reg(BAUDDIV)), (62, 6));
        let w = f.writes.borrow();
        let at = |off| w.iter().position(|&(o, _)| o == off).unwrap();
        let enable = w.iter().rposition(|&(o, v)| o == CR && v & CR_TX_EN != 0).unwrap();
        assert!(at(BAUDGEN) < enable && at(BAUDDIV) < enable, "rate set while disabled");
    }

    #[test]
    fn putc_waits_while_the_fifo_is_full() {
        let mut f = Fake::new(CR_TX_EN | CR_RX_EN);
        f.depth = 2;
        let u = Cadence::new(f);
        for b in 0..10u8 {
            u.putc(b);
        }
        assert_eq!(*u.regs().dropped.borrow(), 0);
        assert_eq!(u.regs().sent.borrow().len(), 10);
    }

    #[test]
    fn divisors_match_the_usual_115200_settings() {
        // 100 MHz reference clock (the ZCU102's UART_REF_CLK): the search of
        // Linux's cdns_uart_calc_baud_divs gives CD 124, BDIV 6 (115207 baud).
        let b = divisors(100_000_000, 115_200).unwrap();
        let actual = 100_000_000 / (b.cd * (b.bdiv + 1));
        assert!(actual.abs_diff(115_200) * 1000 < 115_200, "{b:?} gives {actual}");
        assert_eq!(b, Baud { cd: 124, bdiv: 6 });
        // QEMU's model: 50 MHz.
        let b = divisors(50_000_000, 115_200).unwrap();
        assert_eq!(b, Baud { cd: 62, bdiv: 6 });
        assert_eq!(divisors(100_000_000, 0), None);
        assert_eq!(divisors(0, 115_200), None);
        assert_eq!(divisors(1_000, 115_200), None, "CD below 1");
    }
}
