// SPDX-License-Identifier: MIT OR Apache-2.0
//! The NXP LINFlexD controller in UART mode, polled: the console of the
//! S32G2 (`nxp,s32g2-linflexuart`, `fsl,s32v234-linflexuart`; UART0 at
//! `0x401C_8000`).
//!
//! The register layout is the one the S32G2 reference manual gives and
//! Linux's `drivers/tty/serial/fsl_linflexuart.c` uses: 32-bit registers,
//! little-endian, the transmit data in the low byte of `BDRL`.
//!
//! **Two transmit modes.** In *buffer mode* (`UARTCR.TFBM` = 0) the
//! transmitter sends `UARTCR.TDFL` + 1 bytes of `BDRL` once written and
//! then sets `UARTSR.DTF` ("data transmission completed"), which software
//! clears by writing 1. In *FIFO mode* (`TFBM` = 1) the same status bit
//! means "transmit FIFO full" and `TDFLTFC` counts the bytes still in the
//! FIFO. [`Linflex::putc`] reads `TFBM` and does what the mode wants, so
//! it also works on a UART the firmware left in FIFO mode and
//! [`Linflex::init`] did not touch.
//!
//! **Set-up** ([`Linflex::init`]) follows the manual's sequence: request
//! initialisation mode (`LINCR1.INIT`, out of sleep), wait until
//! `LINSR.LINS` says the controller is in it, select UART mode
//! (`UARTCR.UART` on its own first: the other `UARTCR` bits are writable
//! only once it is set), then 8-bit words without parity, buffer mode of
//! one byte each way, transmitter and receiver on, and leave
//! initialisation mode. The oversampling and stop-bit fields are kept, and
//! the baud-rate registers (`LINIBRR`, `LINFBRR`) are written only when
//! the caller asks ([`divisors`]): U-Boot has set them for its own console
//! and the clock that feeds them is the firmware's business.
//!
//! All register access goes through [`Regs`] (`crate::mmio`), so the
//! logic runs on the host against a recording fake (the tests below); on
//! the board it is [`Mmio`].

/// LIN control register 1.
pub const LINCR1: usize = 0x00;
/// LIN status register.
pub const LINSR: usize = 0x08;
/// UART mode control register.
pub const UARTCR: usize = 0x10;
/// UART mode status register.
pub const UARTSR: usize = 0x14;
/// Fractional baud-rate divisor (4 bits).
pub const LINFBRR: usize = 0x24;
/// Integer baud-rate divisor (20 bits).
pub const LINIBRR: usize = 0x28;
/// Buffer data register, least significant: the transmit data.
pub const BDRL: usize = 0x38;
/// Buffer data register, most significant: the received data.
pub const BDRM: usize = 0x3C;

/// LINCR1: request initialisation mode.
pub const LINCR1_INIT: u32 = 1 << 0;
/// LINCR1: request sleep mode (set after reset).
pub const LINCR1_SLEEP: u32 = 1 << 1;

/// LINSR: the controller's state (bits 15..12).
pub const LINSR_LINS_MASK: u32 = 0xF << 12;
/// LINSR.LINS: in initialisation mode.
pub const LINSR_LINS_INIT: u32 = 0x1 << 12;

/// UARTCR: UART mode (instead of LIN).
pub const UARTCR_UART: u32 = 1 << 0;
/// UARTCR: word length bit 0 (with WL1 = 0: 8 data bits).
pub const UARTCR_WL0: u32 = 1 << 1;
/// UARTCR: parity enable.
pub const UARTCR_PCE: u32 = 1 << 2;
/// UARTCR: transmitter enable.
pub const UARTCR_TXEN: u32 = 1 << 4;
/// UARTCR: receiver enable.
pub const UARTCR_RXEN: u32 = 1 << 5;
/// UARTCR: word length bit 1.
pub const UARTCR_WL1: u32 = 1 << 7;
/// UARTCR: transmit FIFO mode (clear: buffer mode).
pub const UARTCR_TFBM: u32 = 1 << 8;
/// UARTCR: receive FIFO mode (clear: buffer mode).
pub const UARTCR_RFBM: u32 = 1 << 9;
/// UARTCR: receive data field length (buffer mode: bytes - 1) or receive
/// FIFO level (FIFO mode), bits 12..10.
pub const UARTCR_RDFLRFC_MASK: u32 = 0x7 << 10;
/// UARTCR: transmit data field length (buffer mode: bytes - 1) or
/// transmit FIFO level (FIFO mode), bits 15..13.
pub const UARTCR_TDFLTFC_SHIFT: u32 = 13;
/// UARTCR: the TDFL/TFC field.
pub const UARTCR_TDFLTFC_MASK: u32 = 0x7 << UARTCR_TDFLTFC_SHIFT;
/// UARTCR: stop bits (bits 18..17), kept by [`Linflex::init`].
pub const UARTCR_SBUR_MASK: u32 = 0x3 << 17;
/// UARTCR: reduced oversampling enable: [`UARTCR_OSR_MASK`] applies.
pub const UARTCR_ROSE: u32 = 1 << 23;
/// UARTCR: oversampling rate (bits 27..24) when ROSE is set.
pub const UARTCR_OSR_SHIFT: u32 = 24;
/// UARTCR: the OSR field.
pub const UARTCR_OSR_MASK: u32 = 0xF << UARTCR_OSR_SHIFT;

/// UARTSR: buffer mode: transmission completed (write 1 to clear); FIFO
/// mode: transmit FIFO full.
pub const UARTSR_DTFTFF: u32 = 1 << 1;
/// UARTSR: buffer mode: reception completed (write 1 to clear); FIFO
/// mode: receive FIFO empty.
pub const UARTSR_DRFRFE: u32 = 1 << 2;
/// UARTSR: the receive buffer holds a byte to read (write 1 to clear).
pub const UARTSR_RMB: u32 = 1 << 9;

/// Oversampling without `UARTCR.ROSE`.
pub const DEFAULT_OVERSAMPLING: u32 = 16;
/// How many status reads [`Linflex::init`] waits for the controller to
/// enter initialisation mode (the manual's hand-over takes a few clock
/// cycles of the module; this is generous).
pub const INIT_SPINS: u32 = 1 << 20;

/// The register access ([`crate::mmio`], shared with the other drivers
/// that test on the host), under the names this driver has always had.
pub use crate::mmio::{Mmio, Regs};

/// The baud-rate divisors: `LINIBRR` and `LINFBRR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baud {
    /// Integer part of the divisor (1..=0xF_FFFF).
    pub ibrr: u32,
    /// Fractional part, in sixteenths (0..=15).
    pub fbrr: u32,
}

/// The largest integer divisor (`LINIBRR` has 20 bits).
pub const IBRR_MAX: u32 = 0xF_FFFF;

/// The divisors for `baud` from a module clock of `clock_hz` with
/// `oversampling` samples per bit: the divisor is
/// `clock_hz / (oversampling * baud)`, rounded to the nearest sixteenth.
/// `None` when it does not fit the registers (or an input is 0).
pub fn divisors(clock_hz: u64, baud: u32, oversampling: u32) -> Option<Baud> {
    let per_bit = u64::from(oversampling) * u64::from(baud);
    if per_bit == 0 {
        return None;
    }
    // In sixteenths, rounded to nearest.
    let q = (clock_hz * 16 + per_bit / 2) / per_bit;
    let ibrr = u32::try_from(q / 16).ok()?;
    if ibrr == 0 || ibrr > IBRR_MAX {
        return None;
    }
    Some(Baud { ibrr, fbrr: (q % 16) as u32 })
}

/// Why [`Linflex::init`] gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// `LINSR.LINS` never said "initialisation mode": the controller was
    /// left as it was (and `LINCR1.INIT` cleared again).
    NoInitMode,
}

/// A LINFlexD in UART mode.
#[derive(Clone, Copy, Debug)]
pub struct Linflex<R: Regs> {
    regs: R,
}

impl<R: Regs> Linflex<R> {
    /// The UART behind `regs`.
    pub const fn new(regs: R) -> Self {
        Linflex { regs }
    }

    /// The register access (for tests).
    pub fn regs(&self) -> &R {
        &self.regs
    }

    /// Is the transmitter in FIFO mode?
    fn tx_fifo(&self) -> bool {
        self.regs.read(UARTCR) & UARTCR_TFBM != 0
    }

    /// The oversampling the baud rate is divided by (`UARTCR.OSR` when
    /// `ROSE` is set, else 16): what [`divisors`] needs.
    pub fn oversampling(&self) -> u32 {
        let cr = self.regs.read(UARTCR);
        if cr & UARTCR_ROSE != 0 {
            (cr & UARTCR_OSR_MASK) >> UARTCR_OSR_SHIFT
        } else {
            DEFAULT_OVERSAMPLING
        }
    }

    /// Put the controller in UART mode, 8 data bits, no parity, buffer
    /// mode of one byte each way, transmitter and receiver on, stale
    /// status flags cleared; set the baud-rate divisors only if `baud`
    /// says so (else the firmware's rate stays). Waits first for what the
    /// firmware left in the transmit FIFO.
    pub fn init(&self, baud: Option<Baud>) -> Result<(), InitError> {
        self.flush();
        let cr1 = self.regs.read(LINCR1);
        self.regs.write(LINCR1, (cr1 & !LINCR1_SLEEP) | LINCR1_INIT);
        let mut spins = 0;
        while self.regs.read(LINSR) & LINSR_LINS_MASK != LINSR_LINS_INIT {
            spins += 1;
            if spins == INIT_SPINS {
                self.regs.write(LINCR1, cr1 & !LINCR1_INIT);
                return Err(InitError::NoInitMode);
            }
            core::hint::spin_loop();
        }
        // The line's timing (oversampling, stop bits) as the firmware set it.
        let keep = self.regs.read(UARTCR) & (UARTCR_OSR_MASK | UARTCR_ROSE | UARTCR_SBUR_MASK);
        self.regs.write(UARTCR, UARTCR_UART);
        // WL1:WL0 = 01: 8 bits; PCE, TFBM, RFBM, TDFL, RDFL all 0.
        self.regs.write(UARTCR, keep | UARTCR_UART | UARTCR_WL0 | UARTCR_TXEN | UARTCR_RXEN);
        if let Some(b) = baud {
            self.regs.write(LINIBRR, b.ibrr);
            self.regs.write(LINFBRR, b.fbrr);
        }
        // Buffer mode's flags are write-1-to-clear: a `DTF` the firmware
        // left set would let the first byte be overwritten in flight.
        self.regs.write(UARTSR, UARTSR_DTFTFF | UARTSR_DRFRFE | UARTSR_RMB);
        let cr1 = self.regs.read(LINCR1);
        self.regs.write(LINCR1, cr1 & !(LINCR1_INIT | LINCR1_SLEEP));
        Ok(())
    }

    /// Send one byte: in buffer mode write it and wait until `DTF` says it
    /// has gone, then clear `DTF`; in FIFO mode wait while the FIFO is
    /// full, then push it.
    pub fn putc(&self, b: u8) {
        if self.tx_fifo() {
            while self.regs.read(UARTSR) & UARTSR_DTFTFF != 0 {
                core::hint::spin_loop();
            }
            self.regs.write_byte(BDRL, b);
        } else {
            self.regs.write_byte(BDRL, b);
            while self.regs.read(UARTSR) & UARTSR_DTFTFF == 0 {
                core::hint::spin_loop();
            }
            self.regs.write(UARTSR, UARTSR_DTFTFF);
        }
    }

    /// A received byte, if one is waiting (buffer mode: `DRF`, then clear
    /// `DRF` and `RMB`; FIFO mode: the FIFO is not empty).
    pub fn getc(&self) -> Option<u8> {
        let fifo = self.regs.read(UARTCR) & UARTCR_RFBM != 0;
        let sr = self.regs.read(UARTSR);
        if fifo {
            if sr & UARTSR_DRFRFE != 0 {
                return None;
            }
            return Some(self.regs.read(BDRM) as u8);
        }
        if sr & UARTSR_DRFRFE == 0 {
            return None;
        }
        let b = self.regs.read(BDRM) as u8;
        self.regs.write(UARTSR, UARTSR_DRFRFE | UARTSR_RMB);
        Some(b)
    }

    /// Wait until the transmitter holds nothing more to send: in FIFO mode
    /// until `TFC` is 0; in buffer mode [`Self::putc`] has already waited
    /// for each byte.
    pub fn flush(&self) {
        if !self.tx_fifo() {
            return;
        }
        while self.regs.read(UARTCR) & UARTCR_TDFLTFC_MASK != 0 {
            core::hint::spin_loop();
        }
    }
}

/// The `compatible` strings of a LINFlexD UART this driver takes.
pub const COMPATIBLE: &[&str] = &["nxp,s32g2-linflexuart", "fsl,s32v234-linflexuart"];

/// The node part of a `/chosen/stdout-path` value: up to the first `:`,
/// which starts the options (`serial0:115200n8`). A path or an alias.
pub fn stdout_node(stdout_path: &str) -> &str {
    stdout_path.split(':').next().unwrap_or("")
}

/// Is a node with these `compatible` strings a LINFlexD UART?
pub fn is_linflex<'a>(mut compatible: impl Iterator<Item = &'a str>) -> bool {
    compatible.any(|c| COMPATIBLE.contains(&c))
}

/// Where the device tree at physical `dtb` says the console is: the first
/// `reg` address of the node `/chosen/stdout-path` names (an alias of
/// `/aliases` is resolved, options after `:` are ignored), when that node
/// is a LINFlexD ([`COMPATIBLE`]). `None` without a tree, a `stdout-path`,
/// such a node, or when it is some other UART.
pub fn console_from_dt(dtb: u64) -> Option<u64> {
    if !crate::paging::in_direct_map(dtb) {
        return None;
    }
    // SAFETY: as `boot::parse`: a device tree in the direct map, never
    // written, mapped for the life of the kernel (the crate checks the
    // header).
    let fdt = unsafe { fdt::Fdt::from_ptr(crate::paging::phys_to_virt(dtb)) }.ok()?;
    let path = fdt.find_node("/chosen")?.property("stdout-path")?.as_str()?;
    // `find_node` resolves an alias when no node has that path.
    let node = fdt.find_node(stdout_node(path))?;
    if !is_linflex(node.compatible()?.all()) {
        return None;
    }
    Some(node.reg()?.next()?.starting_address as u64)
}


impl<R: Regs> runtime::Uart for Linflex<R> {
    fn putc(&self, b: u8) {
        Linflex::putc(self, b);
    }

    fn flush(&self) {
        Linflex::flush(self);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use core::cell::RefCell;
    use std::vec::Vec;

    use super::*;

    /// One register access the fake saw.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Op {
        Read(usize),
        Write(usize, u32),
        Byte(usize, u8),
    }

    /// A LINFlexD that behaves like the manual says, as far as the driver
    /// looks: `LINSR.LINS` follows `LINCR1.INIT` (after `init_delay`
    /// status reads), a byte written in buffer mode is sent at once
    /// (`DTF` set), `UARTSR` is write-1-to-clear; every access logged.
    struct Fake {
        regs: RefCell<[u32; 0x60 / 4]>,
        log: RefCell<Vec<Op>>,
        sent: RefCell<Vec<u8>>,
        init_delay: RefCell<u32>,
        /// Never enter initialisation mode.
        stuck: bool,
    }

    impl Fake {
        fn new(uartcr: u32) -> Self {
            let mut regs = [0; 0x60 / 4];
            regs[LINCR1 / 4] = LINCR1_SLEEP | 0x80; // the reset value: SLEEP, BF
            regs[UARTCR / 4] = uartcr;
            Fake {
                regs: RefCell::new(regs),
                log: RefCell::new(Vec::new()),
                sent: RefCell::new(Vec::new()),
                init_delay: RefCell::new(3),
                stuck: false,
            }
        }
        fn reg(&self, off: usize) -> u32 {
            self.regs.borrow()[off / 4]
        }
        fn writes(&self) -> Vec<(usize, u32)> {
            self.log
                .borrow()
                .iter()
                .filter_map(|op| match *op {
                    Op::Write(o, v) => Some((o, v)),
                    _ => None,
                })
                .collect()
        }
    }

    impl Regs for Fake {
        fn read(&self, off: usize) -> u32 {
            self.log.borrow_mut().push(Op::Read(off));
            if off == LINSR && self.reg(LINCR1) & LINCR1_INIT != 0 && !self.stuck {
                let mut d = self.init_delay.borrow_mut();
                if *d == 0 {
                    self.regs.borrow_mut()[LINSR / 4] = LINSR_LINS_INIT;
                } else {
                    *d -= 1;
                }
            }
            self.reg(off)
        }
        fn write(&self, off: usize, v: u32) {
            self.log.borrow_mut().push(Op::Write(off, v));
            let mut r = self.regs.borrow_mut();
            match off {
                UARTSR => r[off / 4] &= !v,
                LINCR1 => {
                    r[off / 4] = v;
                    if v & LINCR1_INIT == 0 {
                        r[LINSR / 4] = 0x2 << 12; // idle
                    }
                }
                UARTCR => {
                    // The other bits only once UART mode is on.
                    let was_uart = r[off / 4] & UARTCR_UART != 0;
                    r[off / 4] = if was_uart { v } else { v & UARTCR_UART };
                }
                _ => r[off / 4] = v,
            }
        }
        fn write_byte(&self, off: usize, v: u8) {
            self.log.borrow_mut().push(Op::Byte(off, v));
            assert_eq!(off, BDRL, "data goes to BDRL");
            self.sent.borrow_mut().push(v);
            let mut r = self.regs.borrow_mut();
            if r[UARTCR / 4] & UARTCR_TFBM == 0 {
                r[UARTSR / 4] |= UARTSR_DTFTFF;
            }
        }
    }

    #[test]
    fn init_enters_init_mode_sets_uart_mode_and_leaves() {
        // The firmware left ROSE with OSR 8, 2 stop bits, FIFO mode, parity.
        let old = UARTCR_ROSE | (8 << UARTCR_OSR_SHIFT) | (1 << 17) | UARTCR_TFBM | UARTCR_PCE | UARTCR_UART;
        let u = Linflex::new(Fake::new(old));
        u.regs().regs.borrow_mut()[UARTSR / 4] = UARTSR_DTFTFF | UARTSR_DRFRFE | UARTSR_RMB;
        assert_eq!(u.init(None), Ok(()));
        let f = u.regs();
        assert_eq!(f.reg(UARTSR), 0, "stale flags cleared");
        let w = f.writes();
        // INIT requested out of sleep, before any UARTCR write.
        assert_eq!(w[0].0, LINCR1);
        assert_eq!(w[0].1 & (LINCR1_INIT | LINCR1_SLEEP), LINCR1_INIT);
        // It waited until LINS said so (the fake needs 4 status reads).
        let lins_reads = f.log.borrow().iter().filter(|op| **op == Op::Read(LINSR)).count();
        assert_eq!(lins_reads, 4);
        // UART alone first, then the rest.
        let cr: Vec<u32> = w.iter().filter(|(o, _)| *o == UARTCR).map(|(_, v)| *v).collect();
        assert_eq!(cr[0], UARTCR_UART);
        let want = UARTCR_ROSE | (8 << UARTCR_OSR_SHIFT) | (1 << 17) | UARTCR_UART | UARTCR_WL0 | UARTCR_TXEN | UARTCR_RXEN;
        assert_eq!(cr[1], want);
        assert_eq!(f.reg(UARTCR), want, "buffer mode, 8 bits, no parity, timing kept");
        assert_eq!(f.reg(UARTCR) & (UARTCR_WL1 | UARTCR_TDFLTFC_MASK | UARTCR_RDFLRFC_MASK), 0);
        // No baud-rate write unless asked; INIT cleared last.
        assert!(!w.iter().any(|(o, _)| *o == LINIBRR || *o == LINFBRR));
        let last = *w.last().unwrap();
        assert_eq!(last.0, LINCR1);
        assert_eq!(last.1 & (LINCR1_INIT | LINCR1_SLEEP), 0);
        assert_eq!(u.oversampling(), 8);
    }

    #[test]
    fn init_writes_the_baud_rate_only_when_asked_and_inside_init_mode() {
        let u = Linflex::new(Fake::new(0));
        let b = Baud { ibrr: 67, fbrr: 13 };
        u.init(Some(b)).unwrap();
        let w = u.regs().writes();
        let at = |off| w.iter().position(|(o, _)| *o == off).unwrap();
        assert_eq!(w[at(LINIBRR)].1, 67);
        assert_eq!(w[at(LINFBRR)].1, 13);
        let leave = w.iter().rposition(|(o, v)| *o == LINCR1 && v & LINCR1_INIT == 0).unwrap();
        assert!(at(LINIBRR) < leave && at(LINFBRR) < leave);
        assert_eq!(u.oversampling(), DEFAULT_OVERSAMPLING);
    }

    #[test]
    fn init_gives_up_when_the_controller_never_enters_init_mode() {
        let mut f = Fake::new(UARTCR_UART | UARTCR_WL0 | UARTCR_TXEN);
        f.stuck = true;
        let u = Linflex::new(f);
        assert_eq!(u.init(None), Err(InitError::NoInitMode));
        let f = u.regs();
        assert_eq!(f.reg(LINCR1) & LINCR1_INIT, 0, "INIT withdrawn");
        assert!(!f.writes().iter().any(|(o, _)| *o == UARTCR), "UARTCR untouched");
    }

    #[test]
    fn putc_in_buffer_mode_waits_for_dtf_and_clears_it() {
        let u = Linflex::new(Fake::new(UARTCR_UART | UARTCR_WL0 | UARTCR_TXEN));
        for b in *b"IPCB\n" {
            u.putc(b);
        }
        let f = u.regs();
        assert_eq!(&f.sent.borrow()[..], b"IPCB\n");
        assert_eq!(f.reg(UARTSR) & UARTSR_DTFTFF, 0, "DTF cleared after each byte");
        // Per byte: mode, data, status until DTF, clear DTF.
        let first: Vec<Op> = f.log.borrow().iter().copied().take(4).collect();
        assert_eq!(
            first,
            [Op::Read(UARTCR), Op::Byte(BDRL, b'I'), Op::Read(UARTSR), Op::Write(UARTSR, UARTSR_DTFTFF)]
        );
        assert_eq!(f.log.borrow().len(), 4 * 5);
        u.flush();
        assert_eq!(f.log.borrow().len(), 4 * 5 + 1, "flush reads the mode only");
    }

    #[test]
    fn putc_in_fifo_mode_waits_while_full_and_flush_waits_for_empty() {
        let f = Fake::new(UARTCR_UART | UARTCR_WL0 | UARTCR_TXEN | UARTCR_TFBM);
        let u = Linflex::new(f);
        u.putc(b'x');
        let f = u.regs();
        assert_eq!(&f.sent.borrow()[..], b"x");
        assert_eq!(
            &f.log.borrow()[..],
            &[Op::Read(UARTCR), Op::Read(UARTSR), Op::Byte(BDRL, b'x')],
            "status checked before the write, never cleared"
        );
        // An empty FIFO: flush returns after one look at TFC.
        f.log.borrow_mut().clear();
        u.flush();
        assert_eq!(&f.log.borrow()[..], &[Op::Read(UARTCR), Op::Read(UARTCR)]);
    }

    #[test]
    fn getc_in_buffer_mode_reads_bdrm_and_clears_the_flags() {
        let u = Linflex::new(Fake::new(UARTCR_UART | UARTCR_RXEN));
        assert_eq!(u.getc(), None);
        {
            let mut r = u.regs().regs.borrow_mut();
            r[BDRM / 4] = 0x1234_5661;
            r[UARTSR / 4] = UARTSR_DRFRFE | UARTSR_RMB;
        }
        assert_eq!(u.getc(), Some(b'a'));
        assert_eq!(u.regs().reg(UARTSR), 0);
        assert_eq!(u.getc(), None);
    }

    #[test]
    fn getc_in_fifo_mode_reads_until_empty() {
        let u = Linflex::new(Fake::new(UARTCR_UART | UARTCR_RXEN | UARTCR_RFBM));
        u.regs().regs.borrow_mut()[BDRM / 4] = u32::from(b'q');
        assert_eq!(u.getc(), Some(b'q'));
        u.regs().regs.borrow_mut()[UARTSR / 4] = UARTSR_DRFRFE;
        assert_eq!(u.getc(), None);
    }

    #[test]
    fn divisors_round_to_the_nearest_sixteenth() {
        // 125 MHz (the S32G2's usual LINFlexD clock) at 115200 with 16x
        // oversampling: 67.817.. = 67 + 13/16.
        let b = divisors(125_000_000, 115_200, 16).unwrap();
        assert_eq!(b, Baud { ibrr: 67, fbrr: 13 });
        let actual = 125_000_000.0 / (16.0 * (f64::from(b.ibrr) + f64::from(b.fbrr) / 16.0));
        assert!((actual / 115_200.0 - 1.0).abs() < 0.001, "{actual}");
        // A fraction that rounds up into the integer part: 3150 / 1600 =
        // 1 + 15.5/16.
        assert_eq!(divisors(3150, 100, 16), Some(Baud { ibrr: 2, fbrr: 0 }));
        assert_eq!(divisors(125_000_000, 115_200, 8), Some(Baud { ibrr: 135, fbrr: 10 }));
        assert_eq!(divisors(125_000_000, 0, 16), None);
        assert_eq!(divisors(1_000, 115_200, 16), None, "divisor below 1");
        assert_eq!(divisors(u64::from(IBRR_MAX + 1) * 16, 1, 16), None, "over 20 bits");
    }

    #[test]
    fn stdout_path_names_a_node_and_options() {
        assert_eq!(stdout_node("serial0:115200n8"), "serial0");
        assert_eq!(stdout_node("/soc/serial@401c8000"), "/soc/serial@401c8000");
        assert_eq!(stdout_node(""), "");
        assert!(is_linflex(["nxp,s32g2-linflexuart", "fsl,s32v234-linflexuart"].into_iter()));
        assert!(is_linflex(["fsl,s32v234-linflexuart"].into_iter()));
        assert!(!is_linflex(["arm,pl011", "arm,primecell"].into_iter()));
        assert!(!is_linflex(core::iter::empty()));
    }
}
