// SPDX-License-Identifier: MIT OR Apache-2.0
//! Host decoding of the kernel's defmt diagnostics.
//!
//! The kernel writes defmt frames (rzCOBS-encoded) to its second serial port;
//! QEMU saves them as `<run dir>/defmt.bin`. The format strings are not in
//! the stream but in the kernel ELF's `.defmt` section, so decoding needs the
//! very ELF that was booted. [`decode`] turns the capture into one text line
//! per frame; [`write_log`] does that after every boot and writes
//! `<run dir>/defmt.log`, never failing the run: the diagnostics are never
//! needed to read results (docs/protocol.md).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use defmt_decoder::{DecodeError, Table};

/// Decodes the defmt capture `bin` with the format strings of the kernel
/// `elf`: one line per frame, `"<timestamp> <LEVEL> <message>"`, or
/// `"<timestamp> <message>"` for `println!` frames (no level). The timestamp
/// is left out when the kernel defines none.
///
/// Bytes that do not form a valid frame (a frame cut short when QEMU was
/// killed, or text that is not defmt at all) are skipped: rzCOBS
/// resynchronises at the next frame separator.
pub fn decode(elf: &Path, bin: &Path) -> Result<Vec<String>> {
    let elf_bytes =
        fs::read(elf).with_context(|| format!("reading the kernel ELF {}", elf.display()))?;
    let bytes = fs::read(bin).with_context(|| format!("reading {}", bin.display()))?;
    let table = Table::parse(&elf_bytes)
        .with_context(|| format!("reading the defmt table of {}", elf.display()))?;
    let Some(table) = table else {
        bail!(
            "{} has no .defmt section: not a defmt kernel, or not the ELF that was booted \
             (an objcopy'd image loses .defmt)",
            elf.display()
        );
    };
    Ok(decode_bytes(&table, &bytes))
}

/// Decodes a complete capture with an already parsed table.
fn decode_bytes(table: &Table, bytes: &[u8]) -> Vec<String> {
    let mut decoder = table.new_stream_decoder();
    decoder.received(bytes);
    let mut lines = Vec::new();
    loop {
        match decoder.decode() {
            Ok(frame) => {
                let mut line = String::new();
                if let Some(ts) = frame.display_timestamp() {
                    let _ = write!(line, "{ts} ");
                }
                if let Some(level) = frame.level() {
                    line.push_str(&level.as_str().to_uppercase());
                    line.push(' ');
                }
                let _ = write!(line, "{}", frame.display_message());
                lines.push(line);
            }
            // The rest is an incomplete frame (or nothing): done.
            Err(DecodeError::UnexpectedEof) => break,
            // The decoder has dropped the bad frame: go on with the next one.
            Err(DecodeError::Malformed) => {}
        }
    }
    lines
}

/// Decodes `<out_dir>/defmt.bin` with `elf` and writes `<out_dir>/defmt.log`.
///
/// Returns the decoded lines, or the one-line reason decoding failed; that
/// reason is then what `defmt.log` holds. Only a failure to write
/// `defmt.log` itself is left unreported (the run goes on either way).
pub fn write_log(elf: &Path, out_dir: &Path) -> std::result::Result<Vec<String>, String> {
    let log = out_dir.join("defmt.log");
    match decode(elf, &out_dir.join("defmt.bin")) {
        Ok(lines) => {
            let mut text = lines.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            let _ = fs::write(&log, text);
            Ok(lines)
        }
        Err(e) => {
            let reason = format!("{e:#}");
            let _ = fs::write(&log, format!("defmt decoding failed: {reason}\n"));
            Err(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh scratch directory for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-defmt-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A table as `Table::parse` would build it from a kernel with a `{=u64}`
    /// timestamp, one `info!`, one `warn!` and one `println!`.
    fn table() -> Table {
        let entry = |tag: &str, s: &str| serde_json::json!({ "string": { "tag": tag, "string": s }, "raw_symbol": s });
        serde_json::from_value(serde_json::json!({
            "timestamp": entry("Timestamp", "{=u64}"),
            "entries": {
                "1": entry("Info", "boot: frames {=u32}"),
                "2": entry("Warn", "user fault: vector {=u8}"),
                "3": entry("Println", "hello"),
            },
            "bitflags": {},
            "encoding": "Rzcobs",
        }))
        .unwrap()
    }

    /// rzCOBS-encodes one frame and its separator (the kernel's encoder,
    /// `defmt::Encoder`, after its first frame).
    fn rzcobs(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut run, mut zeros) = (0u8, 0u8);
        for &b in data {
            if run < 7 {
                if b == 0 {
                    zeros |= 1 << run;
                } else {
                    out.push(b);
                }
                run += 1;
                if run == 7 && zeros != 0 {
                    out.push(zeros);
                    run = 0;
                    zeros = 0;
                }
            } else if b == 0 {
                out.push((run - 7) | 0x80);
                run = 0;
                zeros = 0;
            } else {
                out.push(b);
                run += 1;
                if run == 134 {
                    out.push(0xff);
                    run = 0;
                    zeros = 0;
                }
            }
        }
        match run {
            0 => {}
            1..=6 => out.push((zeros | (0xff << run)) & 0x7f),
            _ => out.push((run - 7) | 0x80),
        }
        out.push(0);
        out
    }

    /// One frame: string index, timestamp, arguments.
    fn frame(index: u16, ts: u64, args: &[u8]) -> Vec<u8> {
        let mut f = index.to_le_bytes().to_vec();
        f.extend_from_slice(&ts.to_le_bytes());
        f.extend_from_slice(args);
        rzcobs(&f)
    }

    #[test]
    fn decodes_frames_and_skips_garbage() {
        let mut bytes = vec![0];
        bytes.extend(frame(1, 1234, &4096u32.to_le_bytes()));
        // Text that is not defmt (a boot loader's), then an unknown index.
        bytes.extend(b"GRUB loading\r\n\0");
        bytes.extend(frame(99, 1, &[]));
        bytes.extend(frame(2, 5678, &[14]));
        bytes.extend(frame(3, 9000, &[]));
        // A frame cut short when QEMU was killed.
        let cut = frame(1, 1, &[1, 2, 3, 4]);
        bytes.extend(&cut[..cut.len() - 3]);
        assert_eq!(
            decode_bytes(&table(), &bytes),
            vec![
                "1234 INFO boot: frames 4096",
                "5678 WARN user fault: vector 14",
                "9000 hello",
            ]
        );
    }

    #[test]
    fn empty_capture_gives_no_lines() {
        assert!(decode_bytes(&table(), &[]).is_empty());
        assert!(decode_bytes(&table(), &[0, 0, 0]).is_empty());
    }

    #[test]
    fn missing_files_are_named() {
        let dir = scratch("missing");
        let e = decode(&dir.join("kernel"), &dir.join("defmt.bin")).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.starts_with("reading the kernel ELF "), "{msg}");
        assert!(msg.contains("kernel"), "{msg}");

        // The run directory holds the error in defmt.log.
        let r = write_log(&dir.join("kernel"), &dir).unwrap_err();
        assert!(r.starts_with("reading the kernel ELF "), "{r}");
        let log = fs::read_to_string(dir.join("defmt.log")).unwrap();
        assert!(
            log.starts_with("defmt decoding failed: reading the kernel ELF "),
            "{log}"
        );
        // The ELF is there, the capture is not.
        let exe = std::env::current_exe().unwrap();
        let e = decode(&exe, &dir.join("defmt.bin")).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.starts_with("reading ") && msg.contains("defmt.bin: "),
            "{msg}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn elf_without_defmt_is_a_clear_error() {
        // This test binary is an ELF without a .defmt section.
        let exe = std::env::current_exe().unwrap();
        let dir = scratch("nodefmt");
        fs::write(dir.join("defmt.bin"), [0u8]).unwrap();
        let e = decode(&exe, &dir.join("defmt.bin")).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "has no .defmt section: not a defmt kernel, or not the ELF that was booted \
                 (an objcopy'd image loses .defmt)"
            ),
            "{e:#}"
        );

        // Not an ELF at all.
        fs::write(dir.join("kernel"), b"not an ELF").unwrap();
        let e = decode(&dir.join("kernel"), &dir.join("defmt.bin")).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("reading the defmt table of "),
            "{e:#}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
