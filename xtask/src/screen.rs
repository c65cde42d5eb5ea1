// SPDX-License-Identifier: MIT OR Apache-2.0
//! The screen test: a PC with no serial port at all.
//!
//! The GRUB ISO boots with `-serial none`, so the only output is the
//! framebuffer console the kernel draws (`arch_x86_64::fbcon`). QEMU runs
//! without the exit device (the kernel halts at the end, as on a PC) and
//! with a QMP socket; every few seconds xtask takes a screendump (a PPM
//! file) and reads the text back by comparing each 7 × 16 cell with the
//! glyphs of the same font the kernel draws with (`noto-sans-mono-bitmap`,
//! 16 px regular): the cell's brightest channel per pixel is the glyph's
//! intensity, since the kernel draws in white, pure green and pure red on
//! black. The run is over when the status line (row 0) says `PASS` or
//! `FAIL`; it must say `PASS`, and the screen must show the table with
//! every standard benchmark's name and `IPCB end status=pass`.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use noto_sans_mono_bitmap::{FontWeight, RasterHeight, get_raster, get_raster_width};

use crate::board::{Accel, Board, Medium, qemu_args};
use crate::qemu;
use crate::util::Workspace;

/// Glyph cell width in pixels (as the kernel's).
pub const CELL_W: usize = get_raster_width(FontWeight::Regular, RasterHeight::Size16);
/// Glyph cell height in pixels.
pub const CELL_H: usize = RasterHeight::Size16.val();
/// Summed intensity difference at most for a cell to count as a glyph
/// (the kernel's pixels are the glyph's exactly; a little slack for a
/// scaler that rounds).
const MATCH_SLACK: u32 = 2 * (CELL_W * CELL_H) as u32;
/// Seconds between screendumps.
const POLL: Duration = Duration::from_secs(3);

/// An RGB picture (a binary PPM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// RGB bytes, row by row.
    pub rgb: Vec<u8>,
}

impl Picture {
    /// Decodes a binary PPM (`P6`, maxval 255), as QMP `screendump` writes.
    pub fn from_ppm(b: &[u8]) -> Result<Picture> {
        // Header: magic, width, height, maxval, separated by whitespace
        // (comments are not written by QEMU and not accepted here).
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            if start == i {
                bail!("PPM header cut short");
            }
            fields.push(std::str::from_utf8(&b[start..i]).context("PPM header not text")?);
        }
        i += 1; // the one whitespace byte before the pixels
        if fields[0] != "P6" {
            bail!("not a binary PPM (magic {:?})", fields[0]);
        }
        let num = |s: &str| s.parse::<usize>().with_context(|| format!("bad PPM number {s:?}"));
        let (width, height, max) = (num(fields[1])?, num(fields[2])?, num(fields[3])?);
        if max != 255 {
            bail!("PPM maxval {max}, expected 255");
        }
        let n = width * height * 3;
        let rgb = b.get(i..i + n).with_context(|| format!("PPM has fewer than {width}x{height} pixels"))?;
        Ok(Picture { width, height, rgb: rgb.to_vec() })
    }

    /// The brightest channel of the pixel at (`x`, `y`).
    fn level(&self, x: usize, y: usize) -> u8 {
        let o = (y * self.width + x) * 3;
        self.rgb[o].max(self.rgb[o + 1]).max(self.rgb[o + 2])
    }
}

/// The glyph of printable ASCII `c` (intensities, `CELL_W` × `CELL_H`).
fn glyph(c: u8) -> &'static [u8] {
    get_raster(char::from(c), FontWeight::Regular, RasterHeight::Size16).map_or(&[], |r| r.pixels())
}

/// The character in the cell whose top left pixel is (`x`, `y`): the
/// closest glyph, if it is within [`MATCH_SLACK`]; else `None`.
pub fn read_cell(p: &Picture, x: usize, y: usize) -> Option<u8> {
    let cell: Vec<u8> = (0..CELL_H).flat_map(|gy| (0..CELL_W).map(move |gx| (gx, gy))).map(|(gx, gy)| p.level(x + gx, y + gy)).collect();
    if cell.iter().all(|&v| v == 0) {
        return Some(b' ');
    }
    (0x21u8..0x7F)
        .map(|c| (c, glyph(c).iter().zip(&cell).map(|(&g, &v)| u32::from(g.abs_diff(v))).sum::<u32>()))
        .min_by_key(|&(_, d)| d)
        .filter(|&(_, d)| d <= MATCH_SLACK)
        .map(|(c, _)| c)
}

/// The text on screen, one string per cell row (trailing blanks removed;
/// a cell that is no glyph reads as `\u{FFFD}`).
pub fn read_text(p: &Picture) -> Vec<String> {
    (0..p.height / CELL_H)
        .map(|row| {
            let s: String = (0..p.width / CELL_W)
                .map(|col| read_cell(p, col * CELL_W, row * CELL_H).map_or('\u{FFFD}', char::from))
                .collect();
            s.trim_end().to_string()
        })
        .collect()
}

/// What the screen says about the run: `Some(true)` PASS, `Some(false)`
/// FAIL, `None` still running (or no status line yet).
pub fn status(text: &[String]) -> Option<bool> {
    let first = text.first()?;
    if !first.starts_with("ipcbench-rs") {
        return None;
    }
    if first.ends_with("status PASS") {
        Some(true)
    } else if first.ends_with("status FAIL") {
        Some(false)
    } else {
        None
    }
}

/// Why a finished screen does not show a passing run with `benches` in
/// its table, if it does not.
pub fn judge(text: &[String], benches: &[&str]) -> Option<String> {
    if status(text) != Some(true) {
        return Some(format!("the status line reads {:?}", text.first().map_or("", String::as_str)));
    }
    let Some(header) = text.iter().find(|l| l.starts_with("counter ")) else {
        return Some("no results table (a row starting \"counter\") on screen".to_string());
    };
    let names: Vec<&str> = header.split_whitespace().skip(1).collect();
    if let Some(b) = benches.iter().find(|b| !names.contains(b)) {
        return Some(format!("the table has no column {b} (header {header:?})"));
    }
    let row = text.iter().position(|l| l == header).map_or(0, |i| i + 1);
    let figures = text.get(row).map(|l| l.split_whitespace().skip(1).filter(|f| f.parse::<f64>().is_ok()).count()).unwrap_or(0);
    if figures != names.len() {
        return Some(format!("the table's first row has {figures} figures for {} columns", names.len()));
    }
    if !text.iter().any(|l| l == "IPCB end status=pass") {
        return Some("no \"IPCB end status=pass\" line on screen".to_string());
    }
    None
}

/// Sends each command to the QMP socket at `sock` ([`qemu::qmp`]).
fn qmp(sock: &Path, cmds: &[String]) -> Result<()> {
    let cmds: Vec<&str> = cmds.iter().map(String::as_str).collect();
    qemu::qmp(sock, &cmds, Duration::from_secs(30))
}

/// QEMU's arguments for the screen test: the board's for the ISO, with no
/// serial port, no exit device and a QMP socket instead of the monitor.
fn screen_args(board: &Board, iso: &Path, elf: &Path, out_dir: &Path, sock: &Path) -> Vec<OsString> {
    let all = qemu_args(board, Accel::Tcg, &Medium::Cdrom { iso, elf }, out_dir);
    let mut args = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let pair = all.get(i + 1).map(|v| (all[i].to_str().unwrap_or(""), v.to_str().unwrap_or("")));
        match pair {
            Some(("-serial" | "-monitor", _)) => i += 2,
            Some(("-device", d)) if d.starts_with("isa-debug-exit") => i += 2,
            _ => {
                args.push(all[i].clone());
                i += 1;
            }
        }
    }
    let mut q = OsString::from("unix:");
    q.push(sock);
    q.push(",server=on,wait=off");
    args.extend(["-serial".into(), "none".into(), "-qmp".into(), q]);
    args
}

/// Boots `iso` (GRUB with the kernel `elf`) with no serial port and reads
/// the result from the screen, within `timeout`. `Err`: the one-line
/// reason.
pub fn check(ws: &Workspace, board: &'static Board, iso: &Path, elf: &Path, label: &str, timeout: Duration) -> Result<()> {
    let out_dir = ws.new_out_dir(board.name, "tcg", Some(label))?;
    let sock = out_dir.join("qmp.sock");
    let shot = out_dir.join("screen.ppm");
    let mut cmd = crate::prereq::qemu_command(board);
    cmd.current_dir(&ws.root);
    cmd.args(screen_args(board, iso, elf, &out_dir, &sock));
    cmd.stdin(Stdio::null());
    cmd.stdout(std::fs::File::create(out_dir.join("qemu-stdout.log"))?);
    cmd.stderr(std::fs::File::create(out_dir.join("qemu-stderr.log"))?);
    eprintln!("[ipcb] booting the GRUB ISO with -serial none ({label}); screendumps in {}", out_dir.display());
    let mut child = cmd.spawn().context("cannot start QEMU")?;
    let start = Instant::now();
    let outcome = (|| -> Result<Vec<String>> {
        loop {
            std::thread::sleep(POLL);
            if let Some(st) = child.try_wait()? {
                bail!("QEMU exited ({st}) before the screen showed the end; see {}", out_dir.display());
            }
            if sock.exists() {
                let _ = std::fs::remove_file(&shot);
                let cmd = format!(r#"{{"execute":"screendump","arguments":{{"filename":"{}"}}}}"#, shot.display());
                qmp(&sock, &[cmd])?;
                let text = read_text(&Picture::from_ppm(&std::fs::read(&shot)?)?);
                if status(&text).is_some() {
                    return Ok(text);
                }
            }
            if start.elapsed() > timeout {
                bail!("no PASS or FAIL on screen after {} s; last screen in {}", timeout.as_secs(), shot.display());
            }
        }
    })();
    let _ = qmp(&sock, &[r#"{"execute":"quit"}"#.to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    let text = outcome?;
    let _ = std::fs::write(out_dir.join("screen.txt"), text.join("\n") + "\n");
    eprintln!("[ipcb] the screen after {:.1} s:", start.elapsed().as_secs_f64());
    for l in text.iter().filter(|l| !l.is_empty()) {
        eprintln!("  | {l}");
    }
    match judge(&text, board.expected_benches) {
        Some(why) => bail!("{why}; see {}", out_dir.join("screen.txt").display()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture with `lines` drawn as the kernel draws them (white on
    /// black; `green` colours the given line in pure green).
    fn draw(lines: &[&str], cols: usize, rows: usize, green: Option<usize>) -> Picture {
        let (width, height) = (cols * CELL_W + 3, rows * CELL_H + 5); // ragged edges
        let mut rgb = vec![0u8; width * height * 3];
        for (row, l) in lines.iter().enumerate() {
            for (col, c) in l.bytes().enumerate() {
                for (i, &v) in glyph(c).iter().enumerate() {
                    let (x, y) = (col * CELL_W + i % CELL_W, row * CELL_H + i / CELL_W);
                    let o = (y * width + x) * 3;
                    let px = if green == Some(row) { [0, v, 0] } else { [v, v, v] };
                    rgb[o..o + 3].copy_from_slice(&px);
                }
            }
        }
        Picture { width, height, rgb }
    }

    fn ppm(p: &Picture) -> Vec<u8> {
        let mut b = format!("P6\n{} {}\n255\n", p.width, p.height).into_bytes();
        b.extend_from_slice(&p.rgb);
        b
    }

    const SCREEN: &[&str] = &[
        "ipcbench-rs  board pc-x86_64  cores 2  status PASS",
        "",
        "counter            ipc-intra     ipc-inter       syscall          null         floor",
        "tsc                   639.93      18152.25        409.52        245.30        237.99",
        "IPCB end status=pass",
    ];

    #[test]
    fn the_font_is_the_kernels() {
        assert_eq!((CELL_W, CELL_H), (7, 16));
        assert_eq!(glyph(b'A').len(), CELL_W * CELL_H);
    }

    #[test]
    fn reads_back_every_printable_character() {
        let all: String = (0x20u8..0x7F).map(char::from).collect();
        let p = draw(&[&all], all.len(), 1, None);
        assert_eq!(read_text(&p), vec![all.trim_end().to_string()]);
        // Green text reads the same.
        let p = draw(&[&all], all.len(), 1, Some(0));
        assert_eq!(read_text(&p), vec![all.trim_end().to_string()]);
    }

    #[test]
    fn a_smudged_cell_is_no_glyph() {
        let mut p = draw(&["ab"], 2, 1, None);
        for y in 0..CELL_H {
            for x in 0..CELL_W {
                let o = (y * p.width + x) * 3;
                p.rgb[o] = if (x + y) % 2 == 0 { 255 } else { 0 };
            }
        }
        assert_eq!(read_cell(&p, 0, 0), None);
        assert_eq!(read_text(&p), vec!["\u{FFFD}b".to_string()]);
    }

    #[test]
    fn ppm_round_trip_and_bad_files() {
        let p = draw(&["x"], 3, 2, None);
        assert_eq!(Picture::from_ppm(&ppm(&p)).unwrap(), p);
        assert!(Picture::from_ppm(b"P5\n1 1\n255\n\0").is_err());
        assert!(Picture::from_ppm(b"P6\n2 2\n255\n\0\0\0").is_err());
        assert!(Picture::from_ppm(b"P6\n2").is_err());
        assert!(Picture::from_ppm(b"P6\n1 1\n65535\n\0\0\0\0\0\0").is_err());
    }

    #[test]
    fn a_finished_screen_is_judged() {
        let text = read_text(&draw(SCREEN, 90, 8, Some(0)));
        assert_eq!(status(&text), Some(true));
        assert_eq!(judge(&text, &["ipc-intra", "ipc-inter", "syscall", "null"]), None);
        assert!(judge(&text, &["ipc-cross"]).unwrap().contains("no column ipc-cross"));
        let running = read_text(&draw(&["ipcbench-rs  board pc-x86_64  cores ?  status running"], 60, 2, None));
        assert_eq!(status(&running), None);
        let failed = read_text(&draw(&["ipcbench-rs  board pc-x86_64  cores 1  status FAIL"], 60, 2, None));
        assert_eq!(status(&failed), Some(false));
        assert!(judge(&failed, &[]).unwrap().contains("status FAIL"));
        let mut no_end = SCREEN.to_vec();
        no_end.pop();
        assert!(judge(&read_text(&draw(&no_end, 90, 8, None)), &["null"]).unwrap().contains("IPCB end"));
    }

    #[test]
    fn no_serial_port_no_exit_device_and_qmp() {
        let b = crate::board::find_base("pc-x86_64").unwrap();
        let args: Vec<String> = screen_args(b, Path::new("/i.iso"), Path::new("/k"), Path::new("/o"), Path::new("/o/q.sock"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let s = args.join(" ");
        assert!(s.contains("-cdrom /i.iso"), "{s}");
        assert!(!s.contains("isa-debug-exit") && !s.contains("-monitor") && !s.contains("stdio"), "{s}");
        assert!(s.ends_with("-serial none -qmp unix:/o/q.sock,server=on,wait=off"), "{s}");
    }
}
