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
//! LOG may also be the live console: a serial device (`/dev/ttyACM0`, set
//! to 115200 8N1 raw with `stty`), a named pipe, or `-` for stdin. It is
//! read until the kernel's `IPCB end` line or `--timeout`; the bytes are
//! kept as the report's `console.log`.
//!
//! The counters are the hardware's own (`--accel hardware`, the default),
//! or, for a saved QEMU console, what `--accel` says the guest ran under.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{bench, qemu};
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
    /// How long a live console (a serial device, a pipe, stdin) is read.
    pub timeout: Duration,
}

/// Whether `path` is a live console (a serial device, a pipe, `-` for
/// stdin), read until the kernel's end line rather than to its end.
pub fn is_live(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    path == Path::new("-") || fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_fifo())
}

/// Reads a live console until its `IPCB end` line (or a panic line and a
/// moment after it) or `timeout`, whichever comes first: a serial device
/// set to 115200 8N1 raw first (`stty`), a pipe, or stdin (`-`). What
/// arrived is returned; a capture cut by the timeout is judged as any
/// other cut capture.
pub fn read_live(path: &Path, timeout: Duration) -> Result<Vec<u8>> {
    use std::os::unix::fs::FileTypeExt;
    let device = fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device());
    if device {
        let out = Command::new("stty")
            .args(["-F"])
            .arg(path)
            .args(["115200", "raw", "-echo", "cs8", "-parenb", "-cstopb"])
            .output()
            .context("cannot run stty (coreutils)")?;
        if !out.status.success() {
            let why = one_line(&String::from_utf8_lossy(&out.stderr));
            let fix = if why.contains("Permission denied") {
                "add your user to the dialout group (sudo usermod -aG dialout $USER, then log in again)"
            } else {
                "is it a serial port?"
            };
            bail!("cannot set {} to 115200 8N1 ({why}): {fix}", path.display());
        }
    }
    eprintln!(
        "[ipcb] reading {} until \"IPCB end\" (at most {} s): power the board on now",
        path.display(),
        timeout.as_secs()
    );
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let p = path.to_path_buf();
    // Left blocked in `read` when the deadline passes: the process ends.
    thread::spawn(move || {
        let mut src: Box<dyn Read> = if p == Path::new("-") {
            Box::new(std::io::stdin())
        } else {
            match File::open(&p) {
                Ok(f) => Box::new(f),
                Err(_) => return,
            }
        };
        let mut buf = [0u8; 4096];
        while let Ok(n) = src.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut bytes = Vec::new();
    let mut lines = qemu::Lines::default();
    let mut deadline = Instant::now() + timeout;
    let mut ended = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(chunk) = rx.recv_timeout(left) else { break };
        bytes.extend_from_slice(&chunk);
        let flow = lines.push(&chunk, |_, text, _| {
            let text = text.trim_end_matches('\r');
            if text.starts_with("IPCB end ") {
                qemu::Flow::Stop
            } else if text.starts_with("IPCB panic ") {
                qemu::Flow::ExpectExit
            } else {
                qemu::Flow::Continue
            }
        });
        match flow {
            qemu::Flow::Stop => break,
            qemu::Flow::ExpectExit if !ended => {
                ended = true;
                deadline = deadline.min(Instant::now() + PANIC_GRACE);
            }
            _ => {}
        }
    }
    Ok(bytes)
}

/// How long a live console is read after a panic line (its end line, if
/// the kernel gets that far, comes at once).
const PANIC_GRACE: Duration = Duration::from_secs(2);

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
    let bytes = if is_live(log) {
        let bytes = read_live(log, opts.timeout)?;
        if bytes.is_empty() {
            bail!(
                "nothing arrived from {} in {} s: is the board powered, the cable on its debug UART (TX to RX, GND to GND), the right port?",
                log.display(),
                opts.timeout.as_secs()
            );
        }
        bytes
    } else {
        let bytes = fs::read(log).with_context(|| format!("cannot read the console capture {}", log.display()))?;
        if bytes.is_empty() {
            bail!("{} is empty: nothing was captured (start the capture before powering the board)", log.display());
        }
        bytes
    };
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

    /// A named pipe in a fresh directory, and a writer that sends `parts`
    /// into it and then holds it open for 20 s (a console that stays up).
    fn fifo(name: &str, parts: Vec<String>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-capture-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("console");
        assert!(Command::new("mkfifo").arg(&p).status().unwrap().success());
        let w = p.clone();
        thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&w).unwrap();
            for part in parts {
                let _ = std::io::Write::write_all(&mut f, part.as_bytes());
                thread::sleep(Duration::from_millis(50));
            }
            thread::sleep(Duration::from_secs(20));
        });
        p
    }

    #[test]
    fn a_live_console_is_read_until_its_end_line() {
        let (a, b) = PASS.split_at(PASS.find("IPCB result").unwrap());
        let p = fifo("end", vec![format!("U-Boot\r\n{a}"), b.to_string(), "after the end\n".into()]);
        assert!(is_live(&p) && is_live(Path::new("-")) && !is_live(Path::new("Cargo.toml")));
        let t0 = Instant::now();
        let bytes = read_live(&p, Duration::from_secs(60)).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(15), "read past the end line");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("U-Boot") && text.ends_with("IPCB end status=pass\r\n"), "{text}");
        assert_eq!(decode(&text).unwrap().0.end, Some(EndStatus::Pass));
    }

    #[test]
    fn a_live_console_without_an_end_stops_at_the_timeout() {
        let cut = PASS[..PASS.find("IPCB result").unwrap()].to_string();
        let p = fifo("cut", vec![cut.clone()]);
        let t0 = Instant::now();
        let bytes = read_live(&p, Duration::from_millis(500)).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(15));
        let (t, _) = decode(&String::from_utf8(bytes).unwrap()).unwrap();
        assert!(t.hello.is_some() && t.end.is_none());
        assert!(problems(&t, &[], &p)[0].reason.contains("no \"IPCB end\" line"));
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
