// SPDX-License-Identifier: MIT OR Apache-2.0
//! A text console on the boot loader's linear framebuffer, for PCs without
//! a UART (servers with only a BMC's screen, mini PCs).
//!
//! **What is shown.** Row 0 is a status line (`ipcbench-rs`, the board,
//! the cores, `running` / `PASS` / `FAIL`), filled from the console's own
//! `IPCB hello` and `IPCB end` lines. Below it, the console's lines a
//! person reads, scrolling: everything that is not an `IPCB` protocol line,
//! plus the `IPCB` lines that say something went wrong or ended
//! (`fail`, `panic`, `warn`, `end`). So the screen ends with the results
//! table, its footnote and the status. The serial console keeps every
//! line; the screen is a mirror, never the only copy.
//!
//! **How it is drawn.** Glyphs of Noto Sans Mono, 16 px rows
//! (`noto-sans-mono-bitmap`: one intensity byte per pixel), in white on
//! black (the status word in green or red). A shadow grid of the
//! characters on screen means a scroll redraws only the cells that
//! change, and the framebuffer is only written, never read (it is mapped
//! uncached). 32- and 24-bit RGB framebuffers (multiboot 2 framebuffer
//! type 1) are drawn; anything else is left alone.
//!
//! Not on any measured path: it runs inside the board's `putc`.

use noto_sans_mono_bitmap::{get_raster, get_raster_width, FontWeight, RasterHeight};

/// Glyph cell width in pixels.
pub const CELL_W: usize = get_raster_width(FontWeight::Regular, RasterHeight::Size16);
/// Glyph cell height in pixels.
pub const CELL_H: usize = RasterHeight::Size16.val();
/// Most text columns kept (wider screens leave the rest black).
pub const MAX_COLS: usize = 256;
/// Most text rows kept.
pub const MAX_ROWS: usize = 128;
/// Longest console line remembered before it is shown (longer ones wrap).
const LINE_MAX: usize = 1024;

/// The text colours (RGB).
const WHITE: (u8, u8, u8) = (0xFF, 0xFF, 0xFF);
const GREEN: (u8, u8, u8) = (0x00, 0xFF, 0x00);
const RED: (u8, u8, u8) = (0xFF, 0x00, 0x00);

/// The glyph for `c` (intensity bytes, [`CELL_W`] × [`CELL_H`]): printable
/// ASCII, else `?`. Also what the host's screen reader compares against.
pub fn glyph(c: u8) -> &'static [u8] {
    let c = if (0x20..0x7F).contains(&c) { c } else { b'?' };
    match get_raster(char::from(c), FontWeight::Regular, RasterHeight::Size16) {
        Some(r) => r.pixels(),
        None => &[],
    }
}

/// A linear RGB framebuffer, as multiboot 2 tag 8 describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framebuffer {
    /// Physical address of the first pixel.
    pub addr: u64,
    /// Bytes per scan line.
    pub pitch: u32,
    /// Pixels per line.
    pub width: u32,
    /// Lines.
    pub height: u32,
    /// Bits per pixel.
    pub bpp: u8,
    /// Multiboot 2 framebuffer type: 0 indexed, 1 RGB, 2 EGA text.
    pub kind: u8,
    /// Bit position and size of red, green and blue (type 1).
    pub rgb: [(u8, u8); 3],
}

impl Framebuffer {
    /// Decode a multiboot 2 framebuffer information tag (type 8, whole).
    pub fn from_tag(tag: &[u8]) -> Option<Framebuffer> {
        let u32_at = |o: usize| Some(u32::from_le_bytes(tag.get(o..o + 4)?.try_into().ok()?));
        let addr = u64::from_le_bytes(tag.get(8..16)?.try_into().ok()?);
        let (pitch, width, height) = (u32_at(16)?, u32_at(20)?, u32_at(24)?);
        let (bpp, kind) = (*tag.get(28)?, *tag.get(29)?);
        let mut rgb = [(0, 0); 3];
        if kind == 1 {
            for (i, c) in rgb.iter_mut().enumerate() {
                *c = (*tag.get(32 + 2 * i)?, *tag.get(33 + 2 * i)?);
            }
        }
        Some(Framebuffer { addr, pitch, width, height, bpp, kind, rgb })
    }

    /// Bytes the framebuffer spans.
    pub fn len(&self) -> u64 {
        u64::from(self.pitch) * u64::from(self.height)
    }

    /// Zero bytes?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Can this console draw on it (RGB, 24 or 32 bits, lines that fit)?
    pub fn drawable(&self) -> bool {
        self.kind == 1
            && matches!(self.bpp, 24 | 32)
            && u64::from(self.width) * u64::from(self.bpp / 8) <= u64::from(self.pitch)
            && self.width as usize >= CELL_W * 8
            && self.height as usize >= CELL_H * 4
            && self.rgb.iter().all(|&(pos, size)| size > 0 && size <= 8 && u32::from(pos) + u32::from(size) <= u32::from(self.bpp))
    }

    /// The pixel value of colour `(r, g, b)`.
    fn pixel(&self, (r, g, b): (u8, u8, u8)) -> u32 {
        [r, g, b].iter().zip(self.rgb).fold(0, |v, (&c, (pos, size))| v | ((u32::from(c) >> (8 - size)) << pos))
    }
}

/// Virtual address of the framebuffer window: entry 509 of the kernel
/// half's page-directory-pointer table, the GiB below the kernel's (510)
/// and the per-CPU region's (511). The secondaries' tables copy the boot
/// CPU's PDPT, so they see the window too.
pub const WINDOW_VA: u64 = 0xFFFF_FFFF_4000_0000;
/// The window's size: one page directory of 2 MiB pages.
pub const WINDOW_SIZE: u64 = 1 << 30;

#[cfg(target_os = "none")]
static mut WINDOW_PD: x86_64::structures::paging::PageTable = x86_64::structures::paging::PageTable::new();

/// Map `fb` into the window, uncached (PCD and PWT: UC whatever the PAT
/// holds), global, not executable. Returns the address of its first
/// byte, or `None` when it does not fit in the window.
///
/// # Safety
///
/// Once, on the boot CPU, before the other CPUs start (they copy the
/// kernel's PDPT), with `fb` describing device memory the loader set up.
#[cfg(target_os = "none")]
pub unsafe fn map(fb: &Framebuffer) -> Option<*mut u8> {
    use core::ptr::{addr_of, addr_of_mut};
    use x86_64::structures::paging::{PageTable, PageTableFlags as F};
    unsafe extern "C" {
        static mut ipcb_kernel_pdpt: PageTable;
    }
    const PAGE: u64 = 2 << 20;
    let first = fb.addr & !(PAGE - 1);
    let end = fb.addr.checked_add(fb.len())?;
    if fb.is_empty() || end - first > WINDOW_SIZE || end > 1 << 46 {
        return None;
    }
    let flags = F::PRESENT | F::WRITABLE | F::HUGE_PAGE | F::NO_CACHE | F::WRITE_THROUGH | F::GLOBAL | F::NO_EXECUTE;
    // SAFETY: the window's page directory and PDPT entry 509 are ours,
    // used by nothing else; single-threaded boot, per the caller.
    unsafe {
        let pd = &mut *addr_of_mut!(WINDOW_PD);
        let mut pa = first;
        let mut i = 0;
        while pa < end {
            pd[i].set_addr(x86_64::PhysAddr::new(pa), flags);
            pa += PAGE;
            i += 1;
        }
        let pd_pa = addr_of!(WINDOW_PD) as u64 - crate::boot::KERNEL_OFFSET;
        (&mut *addr_of_mut!(ipcb_kernel_pdpt))[509].set_addr(x86_64::PhysAddr::new(pd_pa), F::PRESENT | F::WRITABLE);
    }
    crate::paging::flush_all();
    Some((WINDOW_VA + (fb.addr - first)) as *mut u8)
}

/// The text console on a [`Framebuffer`].
pub struct Screen {
    base: *mut u8,
    fb: Framebuffer,
    cols: usize,
    rows: usize,
    /// Characters on screen (row 0: the status line).
    shown: [[u8; MAX_COLS]; MAX_ROWS],
    /// The colour of each character on screen: 0 white, 1 green, 2 red.
    shown_col: [[u8; MAX_COLS]; MAX_ROWS],
    /// Text rows below the status line in use.
    used: usize,
    line: [u8; LINE_MAX],
    line_len: usize,
    board: [u8; 32],
    board_len: usize,
    cores: [u8; 8],
    cores_len: usize,
    /// 0 running, 1 pass, 2 fail.
    status: u8,
}

// SAFETY: the screen is one object at one place; the board serialises its
// users (one lock around every call).
unsafe impl Send for Screen {}

impl Screen {
    /// A console on the framebuffer `fb`, mapped at `base`: clears it.
    ///
    /// # Safety
    ///
    /// `base` must be the start of a writable mapping of `fb.len()` bytes
    /// of `fb`'s memory (device memory: only written, with volatile
    /// stores), used by nothing else while the screen lives; `fb` must be
    /// [`Framebuffer::drawable`].
    pub unsafe fn new(base: *mut u8, fb: Framebuffer) -> Screen {
        let cols = (fb.width as usize / CELL_W).min(MAX_COLS);
        let rows = (fb.height as usize / CELL_H).min(MAX_ROWS);
        let mut s = Screen {
            base,
            fb,
            cols,
            rows,
            shown: [[b' '; MAX_COLS]; MAX_ROWS],
            shown_col: [[0; MAX_COLS]; MAX_ROWS],
            used: 0,
            line: [0; LINE_MAX],
            line_len: 0,
            board: [0; 32],
            board_len: 0,
            cores: [0; 8],
            cores_len: 0,
            status: 0,
        };
        for y in 0..fb.height as usize {
            for x in 0..fb.width as usize {
                s.put_pixel(x, y, 0);
            }
        }
        s.draw_status();
        s
    }

    /// Text columns and rows (the status line included).
    pub fn size(&self) -> (usize, usize) {
        (self.cols, self.rows)
    }

    fn put_pixel(&mut self, x: usize, y: usize, v: u32) {
        let bytes = usize::from(self.fb.bpp / 8);
        let off = y * self.fb.pitch as usize + x * bytes;
        let p = v.to_le_bytes();
        for (i, &b) in p.iter().enumerate().take(bytes) {
            // SAFETY: `x < width` and `y < height` (callers draw inside the
            // text grid), so `off + i < pitch * height`, inside the mapping
            // `new` was given.
            unsafe { self.base.add(off + i).write_volatile(b) };
        }
    }

    /// Draw `c` in colour `col` at text cell (`cx`, `cy`), unless it is
    /// there already.
    fn cell(&mut self, cx: usize, cy: usize, c: u8, col: u8) {
        if cx >= self.cols || cy >= self.rows || (self.shown[cy][cx] == c && self.shown_col[cy][cx] == col) {
            return;
        }
        self.shown[cy][cx] = c;
        self.shown_col[cy][cx] = col;
        let rgb = [WHITE, GREEN, RED][usize::from(col).min(2)];
        let g = glyph(c);
        for gy in 0..CELL_H {
            for gx in 0..CELL_W {
                let i = g.get(gy * CELL_W + gx).copied().unwrap_or(0);
                let scale = |v: u8| ((u16::from(v) * u16::from(i)) / 255) as u8;
                let v = self.fb.pixel((scale(rgb.0), scale(rgb.1), scale(rgb.2)));
                self.put_pixel(cx * CELL_W + gx, cy * CELL_H + gy, v);
            }
        }
    }

    /// Row `cy` shows `text` (colour `col`), blank after it.
    fn row(&mut self, cy: usize, text: &[u8], col: u8) {
        for cx in 0..self.cols {
            let c = text.get(cx).copied().unwrap_or(b' ');
            self.cell(cx, cy, c, if c == b' ' { 0 } else { col });
        }
    }

    fn draw_status(&mut self) {
        let mut t = [b' '; MAX_COLS];
        let mut n = 0;
        let board = if self.board_len > 0 { &self.board[..self.board_len] } else { b"?" };
        let cores = if self.cores_len > 0 { &self.cores[..self.cores_len] } else { b"?" };
        for s in [&b"ipcbench-rs  board "[..], board, b"  cores ", cores, b"  status "] {
            n = append(&mut t, n, s);
        }
        let word_at = n;
        n = append(&mut t, n, [&b"running"[..], b"PASS", b"FAIL"][usize::from(self.status)]);
        self.row(0, &t[..word_at], 0);
        for (cx, &c) in t.iter().enumerate().take(n).skip(word_at) {
            self.cell(cx, 0, c, self.status);
        }
    }

    /// One byte of console output.
    pub fn putc(&mut self, b: u8) {
        match b {
            b'\r' => {}
            b'\n' => {
                let n = self.line_len;
                self.line_len = 0;
                let line = self.line;
                self.line_done(&line[..n]);
            }
            _ if self.line_len < LINE_MAX => {
                self.line[self.line_len] = b;
                self.line_len += 1;
            }
            _ => {}
        }
    }

    fn line_done(&mut self, line: &[u8]) {
        if let Some(rest) = line.strip_prefix(b"IPCB ") {
            if rest.starts_with(b"hello ") {
                self.board_len = copy_value(rest, b"board=", &mut self.board);
                self.cores_len = copy_value(rest, b"cores=", &mut self.cores);
                self.draw_status();
            } else if rest.starts_with(b"end ") {
                self.status = if rest.ends_with(b"status=pass") { 1 } else { 2 };
                self.draw_status();
            }
            let shown = [&b"fail "[..], b"panic ", b"warn ", b"end "].iter().any(|p| rest.starts_with(p));
            if !shown {
                return;
            }
        }
        // Wrap long lines; an empty line is one blank row.
        let mut chunks = line.chunks(self.cols.max(1));
        let first = chunks.next().unwrap_or(&[]);
        self.text_row(first);
        for c in chunks {
            self.text_row(c);
        }
    }

    /// Append one row of text below the status line, scrolling if full.
    fn text_row(&mut self, text: &[u8]) {
        let area = self.rows - 1;
        if self.used == area {
            // Scroll: every row takes the one below's text.
            for cy in 1..area {
                let (next, col) = (self.shown[cy + 1], self.shown_col[cy + 1]);
                for cx in 0..self.cols {
                    self.cell(cx, cy, next[cx], col[cx]);
                }
            }
            self.row(area, text, 0);
        } else {
            self.used += 1;
            self.row(self.used, text, 0);
        }
    }
}

/// `s` copied into `t` at `n` (as far as it fits); the new length.
fn append(t: &mut [u8], n: usize, s: &[u8]) -> usize {
    let k = s.len().min(t.len().saturating_sub(n));
    t[n..n + k].copy_from_slice(&s[..k]);
    n + k
}

/// The value of `key` (up to the next space) in `line`, copied to `out`;
/// its length.
fn copy_value(line: &[u8], key: &[u8], out: &mut [u8]) -> usize {
    let Some(at) = line.windows(key.len()).position(|w| w == key) else { return 0 };
    let v = &line[at + key.len()..];
    let n = v.iter().position(|&c| c == b' ').unwrap_or(v.len()).min(out.len());
    out[..n].copy_from_slice(&v[..n]);
    n
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn fb(w: u32, h: u32) -> Framebuffer {
        Framebuffer { addr: 0, pitch: w * 4, width: w, height: h, bpp: 32, kind: 1, rgb: [(16, 8), (8, 8), (0, 8)] }
    }

    /// The character drawn at cell (cx, cy): the glyph whose pixels match
    /// the cell's brightest channel exactly.
    fn read_cell(px: &[u8], f: &Framebuffer, cx: usize, cy: usize) -> u8 {
        let cell: Vec<u8> = (0..CELL_H)
            .flat_map(|y| (0..CELL_W).map(move |x| (x, y)))
            .map(|(x, y)| {
                let o = (cy * CELL_H + y) * f.pitch as usize + (cx * CELL_W + x) * 4;
                px[o..o + 3].iter().copied().max().unwrap()
            })
            .collect();
        (0x20u8..0x7F).find(|&c| glyph(c).iter().zip(&cell).all(|(&g, &p)| g.abs_diff(p) <= 1)).unwrap_or(0)
    }

    fn read_row(px: &[u8], f: &Framebuffer, cy: usize, n: usize) -> std::string::String {
        (0..n).map(|cx| char::from(read_cell(px, f, cx, cy))).collect()
    }

    #[test]
    fn font_cells() {
        assert_eq!((CELL_W, CELL_H), (7, 16));
        assert_eq!(glyph(b'A').len(), CELL_W * CELL_H);
        assert_eq!(glyph(0x07), glyph(b'?'));
    }

    #[test]
    fn tag_8_decodes_and_only_rgb_is_drawn() {
        let mut t = std::vec![0u8; 40];
        t[..4].copy_from_slice(&8u32.to_le_bytes());
        t[4..8].copy_from_slice(&38u32.to_le_bytes());
        t[8..16].copy_from_slice(&0xFD00_0000u64.to_le_bytes());
        t[16..20].copy_from_slice(&4096u32.to_le_bytes());
        t[20..24].copy_from_slice(&1024u32.to_le_bytes());
        t[24..28].copy_from_slice(&768u32.to_le_bytes());
        t[28] = 32;
        t[29] = 1;
        t[32..38].copy_from_slice(&[16, 8, 8, 8, 0, 8]);
        let f = Framebuffer::from_tag(&t).unwrap();
        assert_eq!(f, Framebuffer { addr: 0xFD00_0000, ..fb(1024, 768) });
        assert!(f.drawable());
        assert_eq!(f.pixel((1, 2, 3)), 0x01_0203);
        assert!(!Framebuffer { kind: 2, bpp: 16, ..f }.drawable()); // EGA text
        assert!(!Framebuffer { bpp: 8, ..f }.drawable());
        assert!(Framebuffer::from_tag(&t[..20]).is_none());
    }

    #[test]
    fn shows_the_table_and_the_status_not_the_protocol() {
        let f = fb(7 * 60, 128); // 60 x 8 cells
        let mut px = std::vec![0xAAu8; f.len() as usize];
        // SAFETY: `px` is the framebuffer's memory, alive for the test.
        let mut s = unsafe { Screen::new(px.as_mut_ptr(), f) };
        assert_eq!(s.size(), (60, 8));
        assert_eq!(read_row(&px, &f, 0, 60).trim_end(), "ipcbench-rs  board ?  cores ?  status running");
        for l in ["IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=4", "IPCB result bench=ipc-intra core=0", "counter  ipc-intra", "tsc          85.50"] {
            l.bytes().chain([b'\r', b'\n']).for_each(|b| s.putc(b));
        }
        assert_eq!(read_row(&px, &f, 0, 60).trim_end(), "ipcbench-rs  board pc-x86_64  cores 4  status running");
        assert_eq!(read_row(&px, &f, 1, 60).trim_end(), "counter  ipc-intra");
        assert_eq!(read_row(&px, &f, 2, 60).trim_end(), "tsc          85.50");
        for i in 0..10 {
            std::format!("line {i}\n").bytes().for_each(|b| s.putc(b));
        }
        "IPCB end status=pass\n".bytes().for_each(|b| s.putc(b));
        // Scrolled: the last seven text rows.
        assert_eq!(read_row(&px, &f, 1, 6), "line 4");
        assert_eq!(read_row(&px, &f, 6, 6), "line 9");
        assert_eq!(read_row(&px, &f, 7, 60).trim_end(), "IPCB end status=pass");
        // The status word (green) reads back too.
        assert_eq!(read_row(&px, &f, 0, 60).trim_end(), "ipcbench-rs  board pc-x86_64  cores 4  status PASS");
        // A line longer than the screen wraps.
        let long = "x".repeat(70) + "\n";
        long.bytes().for_each(|b| s.putc(b));
        assert_eq!(read_row(&px, &f, 6, 60), "x".repeat(60));
        assert_eq!(read_row(&px, &f, 7, 60).trim_end(), "x".repeat(10));
    }
}
