// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask report LOG`: the figures of a real machine, from a serial
//! capture of its console.
//!
//! A board QEMU cannot boot (the Raspberry Pi 5, the NXP S32G2, an Ampere
//! Altra, a PC booted by its own firmware) prints the same `IPCB` lines as a
//! guest does (docs/protocol.md). Saved with `picocom --logfile`, `screen
//! -L` or any terminal, that log becomes the table, `results.json` and the
//! plots of `cargo xtask bench`, checked the same way: a failed check, an
//! unverified figure, interrupts in a timed run, an expected benchmark with
//! no result, or a capture cut short before `IPCB end` makes it exit
//! non-zero. Firmware and loader text around the lines, CRLF line ends and
//! bytes that are not UTF-8 are fine; a garbled `IPCB` line is an error
//! naming its line. A log holding several boots (the board was reset with
//! the capture running) is reported from its last boot.
//!
//! The counters are the hardware's own (`--accel hardware`, the default),
//! or, for a saved QEMU console, what `--accel` says the guest ran under.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::bench;
use crate::board::{self, Accel};
use crate::boot::{self, Problem};
use crate::protocol::{EndStatus, Transcript, excerpt, is_protocol_line};
use crate::report::{Report, RunMeta};
use crate::util::{Workspace, one_line};

/// Options of `cargo xtask report`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOpts {
    /// The console capture.
    pub log: PathBuf,
    /// The board, when the log has no hello line naming it (or to check it).
    pub board: Option<String>,
    /// What the counters ran under.
    pub accel: Accel,
    /// A copy of `results.json`.
    pub json: Option<PathBuf>,
}

/// The last boot in `text`, and the 1-based line it starts at; `None`
/// when `text` holds at most one boot. It starts after the last `IPCB`
/// line before its hello line (an `IPCB mem` line, which a PC prints
/// before hello, belongs to it).
fn last_boot(text: &str) -> Option<(usize, &str)> {
    let mut lines = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        lines.push((at, line.trim_matches(['\r', '\n'])));
        at += line.len();
    }
    let mut hellos = (0..lines.len()).filter(|&i| lines[i].1.starts_with("IPCB hello "));
    hellos.next()?;
    let last = hellos.next_back()?;
    let start = (0..last)
        .rev()
        .find(|&i| is_protocol_line(lines[i].1) && !lines[i].1.starts_with("IPCB mem "))
        .map_or(0, |i| i + 1);
    Some((start + 1, &text[lines[start].0..]))
}

/// Decodes `text` (a whole capture) into the transcript of its last boot,
/// with the line its boot starts at (1 when it holds one boot). Line
/// numbers in errors count from the start of the capture.
pub fn decode(text: &str) -> Result<(Transcript, usize)> {
    let (first, boot) = last_boot(text).unwrap_or((1, text));
    let t = Transcript::parse_str(boot).map_err(|mut e| {
        e.line_no += first - 1;
        anyhow::anyhow!("{e}")
    })?;
    if t.hello.is_none() && t.results.is_empty() && t.failures.is_empty() && t.end.is_none() {
        bail!(
            "no IPCB lines in it ({} line{} read): not the kernel's console, or the wrong serial port or baud rate (115200 8N1)",
            t.lines,
            if t.lines == 1 { "" } else { "s" }
        );
    }
    Ok((t, first))
}

/// The problems of a capture: those of [`boot::transcript_problems`], and a
/// capture that ends before `IPCB end`, or with a panic.
pub fn problems(t: &Transcript, expected: &[&str], log: &Path) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(r) = &t.panic {
        out.push(Problem::run(format!("kernel panicked: {}", one_line(r))));
    }
    match t.end {
        None if t.panic.is_none() => out.push(Problem::run(format!(
            "no \"IPCB end\" line: the capture was cut short or the machine hung (last line {}: \"{}\"); capture until \"IPCB end\" and give {} again",
            t.lines,
            excerpt(&t.last_line),
            log.display()
        ))),
        Some(EndStatus::Fail) if t.failures.is_empty() && t.results.iter().all(|r| r.verified) => {
            out.push(Problem::run("\"IPCB end status=fail\" but no \"IPCB fail\" line".to_string()))
        }
        _ => {}
    }
    let asked = t
        .config
        .as_ref()
        .and_then(|c| c.latency.as_deref())
        .map(|c| format!("latency={c}"))
        .unwrap_or_default();
    let ended = t.end.is_some() && t.panic.is_none();
    out.extend(boot::transcript_problems(t, expected, &asked, ended));
    out
}

/// `cargo xtask report`.
pub fn cmd_report(ws: &Workspace, opts: &ReportOpts) -> Result<ExitCode> {
    let log = &opts.log;
    if let Some(path) = &opts.json {
        bench::check_json_path(path)?;
    }
    let bytes = fs::read(log).with_context(|| format!("cannot read the console capture {}", log.display()))?;
    if bytes.is_empty() {
        bail!("{} is empty: nothing was captured (start the capture before powering the board)", log.display());
    }
    let text = String::from_utf8_lossy(&bytes);
    let (t, first) = decode(&text).with_context(|| format!("{}", log.display()))?;
    if first > 1 {
        eprintln!("[ipcb] {} holds several boots: reporting the last, from line {first}", log.display());
    }
    let said = t.hello.as_ref().map(|h| h.board.clone());
    let name = match (&opts.board, &said) {
        (Some(b), Some(s)) if b != s => {
            bail!("{}: the kernel says board={s}, not {b}: the wrong log, or drop --board", log.display())
        }
        (Some(b), _) => b.clone(),
        (None, Some(s)) => s.clone(),
        (None, None) => bail!(
            "{}: no \"IPCB hello\" line names the board (the capture started late?): give --board",
            log.display()
        ),
    };
    // A kernel of the user's own (a board crate outside this workspace)
    // prints the same lines: its figures are reported, with no list of
    // benchmarks to expect. A `--board` that names no crate is a typo.
    let (arch, expected): (String, &[&str]) = match board::find(&name) {
        Ok(b) => (b.arch.to_string(), b.expected_benches),
        Err(e) if opts.board.is_some() => return Err(e),
        Err(_) => {
            eprintln!("[ipcb] board {name} (from the hello line) is no board crate of this workspace: its figures are reported as printed, with no list of expected benchmarks to check");
            (t.hello.as_ref().map(|h| h.arch.clone()).unwrap_or_default(), &[])
        }
    };
    let problems = problems(&t, expected, log);
    let meta = RunMeta {
        board: name.clone(),
        arch,
        accel: opts.accel,
        kernel_cmdline: String::new(),
        qemu: None,
        git_commit: None,
        rustc: None,
        exit_code: None,
    };
    let report = Report::new(&meta, &t, &problems);
    let dir_name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let out_dir = ws.new_out_dir(&dir_name, opts.accel.name(), Some("report"))?;
    let console = out_dir.join("console.log");
    fs::write(&console, &bytes).with_context(|| format!("cannot write {}", console.display()))?;
    bench::publish(&report, &t, &out_dir, &console, opts.json.as_deref(), None)?;
    Ok(bench::verdict(&problems, &console))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::tests::{FAILED, PASS};

    #[test]
    fn firmware_noise_and_crlf_decode_as_one_boot() {
        let log = format!("U-Boot 2023.01\r\n\x1b[0mStarting kernel ...\r\n\r\n{PASS}");
        let (t, first) = decode(&log).unwrap();
        assert_eq!(first, 1);
        assert_eq!(t.results.len(), 3);
        assert!(problems(&t, &["ipc-intra", "ipc-inter", "syscall"], Path::new("x.log")).is_empty());
    }

    #[test]
    fn the_last_of_several_boots_is_reported() {
        let log = format!("{FAILED}{PASS}");
        let (t, first) = decode(&log).unwrap();
        assert_eq!(first, FAILED.lines().count() + 1);
        assert_eq!(t.end, Some(EndStatus::Pass));
        assert!(t.failures.is_empty());
        // A boot cut short by a reset, then a whole one.
        let cut = PASS.lines().take(8).collect::<Vec<_>>().join("\n");
        let log = format!("{cut}\n{PASS}");
        let (t, first) = decode(&log).unwrap();
        assert_eq!((first, t.end), (9, Some(EndStatus::Pass)));
        assert_eq!(last_boot(PASS), None);
    }

    #[test]
    fn a_cut_capture_and_garbage_are_errors() {
        let cut: String = PASS.lines().take(17).map(|l| format!("{l}\n")).collect();
        let (t, _) = decode(&cut).unwrap();
        let p = problems(&t, &["ipc-intra", "ipc-inter", "syscall"], Path::new("pi5.log"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].reason.contains("no \"IPCB end\" line") && p[0].reason.contains("pi5.log"), "{}", p[0].reason);

        let e = decode("U-Boot 2023.01\nboot failed\n").unwrap_err().to_string();
        assert!(e.contains("no IPCB lines") && e.contains("115200"), "{e}");
        let garbled = PASS.replace("min=95.00", "min=9\u{fffd}.00");
        let e = decode(&format!("noise\n{garbled}")).unwrap_err().to_string();
        assert!(e.contains("line 18"), "{e}");
    }

    #[test]
    fn missing_results_and_failures_are_problems() {
        let (t, _) = decode(FAILED).unwrap();
        assert!(!problems(&t, &[], Path::new("x")).is_empty());
        let (t, _) = decode(PASS).unwrap();
        let p = problems(&t, &["ipc-intra", "ipc-inter", "syscall", "null"], Path::new("x"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].reason, "no result reported");
    }
}
