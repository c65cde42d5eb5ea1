// SPDX-License-Identifier: MIT OR Apache-2.0
//! Running an emulator: stream its console line by line, enforce a timeout,
//! map its exit code.
//!
//! A reader thread copies QEMU's stdout (the first serial port) byte for byte
//! into `console.log` and hands what it read to the main thread over a
//! channel, so the main thread can enforce the deadline with `recv_timeout`
//! and kill QEMU (only the child it started) when the guest hangs
//! ([`run_session`]; U-Boot's dialogue answers its prompts from there).
//! [`run_streaming`] cuts the stream into lines ([`Lines`]): bytes that are
//! not UTF-8 are decoded lossily; a line that never ends is cut at
//! [`MAX_LINE`] bytes.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::show;

/// Longest console line handed on in one piece.
pub const MAX_LINE: u64 = 64 * 1024;

/// How long QEMU may take to exit after the kernel's `IPCB end` line.
pub const EXIT_GRACE: Duration = Duration::from_secs(15);

/// How the kernel left QEMU, from the `isa-debug-exit` exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestExit {
    /// 33: every check passed.
    Pass,
    /// 35: a benchmark or test failed a check.
    CheckFailed,
    /// 37: kernel panic or kernel-mode exception.
    Panic,
    /// Any other exit code (QEMU's own errors, a reset under `-no-reboot`...).
    Other(i32),
    /// QEMU died from a signal it was not sent by us.
    Signal,
}

/// Maps QEMU's exit status to what the kernel meant.
pub fn classify(code: Option<i32>) -> GuestExit {
    match code {
        Some(33) => GuestExit::Pass,
        Some(35) => GuestExit::CheckFailed,
        Some(37) => GuestExit::Panic,
        Some(c) => GuestExit::Other(c),
        None => GuestExit::Signal,
    }
}

impl GuestExit {
    /// The exit code, if there was one.
    pub fn code(self) -> Option<i32> {
        match self {
            GuestExit::Pass => Some(33),
            GuestExit::CheckFailed => Some(35),
            GuestExit::Panic => Some(37),
            GuestExit::Other(c) => Some(c),
            GuestExit::Signal => None,
        }
    }

    /// A short description for progress and summary lines.
    pub fn describe(self) -> String {
        match self {
            GuestExit::Pass => "pass (exit code 33)".to_string(),
            GuestExit::CheckFailed => "check failed (exit code 35)".to_string(),
            GuestExit::Panic => "kernel panic or exception (exit code 37)".to_string(),
            GuestExit::Other(0) => {
                "exit code 0: the guest reset or powered off without the exit device (triple fault?)"
                    .to_string()
            }
            GuestExit::Other(c) => format!("exit code {c}: not a kernel exit code (33, 35, 37)"),
            GuestExit::Signal => "QEMU was killed by a signal".to_string(),
        }
    }
}

/// What the line callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// The guest is done: QEMU should exit within [`EXIT_GRACE`].
    ExpectExit,
    /// Kill QEMU now.
    Stop,
}

/// How a streamed run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RawExit {
    /// Exit code; `None` when we killed QEMU or a signal did.
    pub code: Option<i32>,
    /// The deadline passed before the guest finished (QEMU killed).
    pub timed_out: bool,
    /// The guest finished but QEMU did not exit within [`EXIT_GRACE`] (killed).
    pub stuck_after_end: bool,
    /// The callback asked to stop (QEMU killed).
    pub stopped: bool,
    /// QEMU's stderr.
    pub stderr: String,
    /// Wall time from start to exit.
    pub elapsed: Duration,
}

impl RawExit {
    /// True when we killed the process (so its exit status means nothing).
    pub fn killed(&self) -> bool {
        self.timed_out || self.stuck_after_end || self.stopped
    }
}

fn kill(child: &mut Child) {
    // Only the child we started, by its handle.
    let _ = child.kill();
    let _ = child.wait();
}

/// A running emulator, as the callback of [`run_session`] sees it.
pub struct Session {
    /// QEMU's stdin, the console's input (when [`run_session`] was asked
    /// for it).
    pub stdin: Option<ChildStdin>,
    /// When QEMU was started.
    pub start: Instant,
    deadline: Option<Instant>,
}

impl Session {
    /// Kill QEMU at `at` unless it has exited (instead of the deadline in
    /// force: the `timeout` given, or the grace after [`Flow::ExpectExit`]).
    pub fn set_deadline(&mut self, at: Instant) {
        self.deadline = Some(at);
    }
}

/// Runs `cmd`, handing its stdout to `on_bytes` as it arrives, in pieces
/// of any size (a firmware prompt ends in no newline). Raw stdout is
/// copied to `console` when given. With a `timeout`, QEMU is killed when
/// it has not exited by then (the callback may move that deadline). With
/// `stdin`, QEMU's stdin is a pipe the callback writes to
/// ([`Session::stdin`]); otherwise it is closed.
pub fn run_session(
    mut cmd: Command,
    console: Option<&Path>,
    timeout: Option<Duration>,
    stdin: bool,
    mut on_bytes: impl FnMut(&mut Session, &[u8]) -> Flow,
) -> Result<RawExit> {
    let shown = show(&cmd);
    let mut log = match console {
        Some(p) => Some(File::create(p).with_context(|| format!("cannot create {}", p.display()))?),
        None => None,
    };
    cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let mut stdout = child.stdout.take().context("no stdout pipe")?;
    let mut stderr = child.stderr.take().context("no stderr pipe")?;

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(f) = log.as_mut() {
                let _ = f.write_all(&buf[..n]);
            }
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
        if let Some(f) = log.as_mut() {
            let _ = f.flush();
        }
    });
    let (etx, erx) = mpsc::channel::<String>();
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        let _ = etx.send(String::from_utf8_lossy(&v).into_owned());
    });

    let mut session = Session {
        stdin: child.stdin.take(),
        start,
        deadline: timeout.map(|t| start + t),
    };
    let mut end_seen = false;
    let (mut timed_out, mut stopped, mut stuck_after_end) = (false, false, false);
    loop {
        let msg = match session.deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => rx.recv_timeout(left),
                _ => Err(RecvTimeoutError::Timeout),
            },
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match msg {
            Ok(bytes) => match on_bytes(&mut session, &bytes) {
                Flow::Continue => {}
                Flow::ExpectExit => {
                    if !end_seen {
                        end_seen = true;
                        let grace = Instant::now() + EXIT_GRACE;
                        session.deadline = Some(session.deadline.map_or(grace, |d| d.min(grace)));
                    }
                }
                Flow::Stop => {
                    stopped = true;
                    break;
                }
            },
            Err(RecvTimeoutError::Timeout) => {
                if end_seen {
                    stuck_after_end = true;
                } else {
                    timed_out = true;
                }
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }

    let mut code = None;
    if timed_out || stopped || stuck_after_end {
        kill(&mut child);
    } else {
        // stdout closed: QEMU is exiting; wait for it within the deadline.
        loop {
            if let Some(status) = child.try_wait()? {
                code = status.code();
                break;
            }
            if session.deadline.is_some_and(|d| Instant::now() >= d) {
                kill(&mut child);
                if end_seen {
                    stuck_after_end = true;
                } else {
                    timed_out = true;
                }
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
    let elapsed = start.elapsed();
    drop(rx);
    let killed = timed_out || stopped || stuck_after_end;
    if !killed {
        // QEMU exited on its own: the pipes are closed, the threads finish.
        let _ = reader.join();
    }
    // A killed process's pipes may be held open by a grandchild: do not block
    // on them (the threads end by themselves when the pipes close).
    let stderr = erx
        .recv_timeout(Duration::from_secs(if killed { 1 } else { 10 }))
        .unwrap_or_default();
    Ok(RawExit {
        code,
        timed_out,
        stuck_after_end,
        stopped,
        stderr,
        elapsed,
    })
}

/// Cuts a byte stream into console lines: `on_line(line_no, text,
/// complete)` gets each line without its `\n` (a `\r` stays), decoded
/// lossily; a line that never ends is handed on at [`MAX_LINE`] bytes, as
/// complete.
#[derive(Debug, Default)]
pub struct Lines {
    line: Vec<u8>,
    line_no: usize,
}

impl Lines {
    /// Takes `bytes`; every line they complete goes to `on_line`. The
    /// strongest wish of the callback is returned: [`Flow::Stop`] at once
    /// (the rest is dropped), else [`Flow::ExpectExit`] if any line said so.
    pub fn push(&mut self, bytes: &[u8], mut on_line: impl FnMut(usize, &str, bool) -> Flow) -> Flow {
        let mut flow = Flow::Continue;
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                if self.line.len() as u64 != MAX_LINE {
                    continue;
                }
            }
            self.line_no += 1;
            let text = String::from_utf8_lossy(&self.line).into_owned();
            self.line.clear();
            match on_line(self.line_no, &text, true) {
                Flow::Continue => {}
                Flow::ExpectExit => flow = Flow::ExpectExit,
                Flow::Stop => return Flow::Stop,
            }
        }
        flow
    }

    /// The last line, which had no newline, as incomplete.
    pub fn finish(&mut self, mut on_line: impl FnMut(usize, &str, bool) -> Flow) {
        if !self.line.is_empty() {
            self.line_no += 1;
            let _ = on_line(self.line_no, &String::from_utf8_lossy(&self.line), false);
            self.line.clear();
        }
    }
}

/// Runs `cmd`, feeding its stdout line by line to `on_line(line_no, text,
/// complete)` ([`Lines`]); `complete` is false for a final line without a
/// newline. Otherwise as [`run_session`], with stdin closed.
pub fn run_streaming(
    cmd: Command,
    console: Option<&Path>,
    timeout: Option<Duration>,
    mut on_line: impl FnMut(usize, &str, bool) -> Flow,
) -> Result<RawExit> {
    let mut lines = Lines::default();
    let raw = run_session(cmd, console, timeout, false, |_, bytes| lines.push(bytes, &mut on_line))?;
    if !raw.killed() {
        lines.finish(&mut on_line);
    }
    Ok(raw)
}

/// Sends each of `cmds` (QMP JSON) to the QMP socket at `sock`, after
/// leaving capabilities negotiation, and waits for each answer (skipping
/// events) for at most `timeout` per read. A refused command is an error.
pub fn qmp(sock: &Path, cmds: &[&str], timeout: Duration) -> Result<()> {
    let stream = std::os::unix::net::UnixStream::connect(sock)
        .with_context(|| format!("cannot connect to QMP at {}", sock.display()))?;
    stream.set_read_timeout(Some(timeout))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line).context("no QMP greeting")?;
    for cmd in std::iter::once(r#"{"execute":"qmp_capabilities"}"#).chain(cmds.iter().copied()) {
        writeln!(w, "{cmd}")?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("QMP closed before answering {cmd}");
            }
            if line.contains("\"return\"") {
                break;
            }
            if line.contains("\"error\"") {
                bail!("QMP refused {cmd}: {}", line.trim());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    fn collect(script: &str, timeout: Option<Duration>) -> (RawExit, Vec<(usize, String, bool)>) {
        let mut lines = Vec::new();
        let exit = run_streaming(sh(script), None, timeout, |n, t, c| {
            lines.push((n, t.to_string(), c));
            if t == "IPCB end status=pass" {
                Flow::ExpectExit
            } else {
                Flow::Continue
            }
        })
        .unwrap();
        (exit, lines)
    }

    #[test]
    fn exit_codes_map_to_kernel_verdicts() {
        assert_eq!(classify(Some(33)), GuestExit::Pass);
        assert_eq!(classify(Some(35)), GuestExit::CheckFailed);
        assert_eq!(classify(Some(37)), GuestExit::Panic);
        assert_eq!(classify(Some(1)), GuestExit::Other(1));
        assert_eq!(classify(None), GuestExit::Signal);
        for c in [33, 35, 37, 0, 1] {
            assert_eq!(classify(Some(c)).code(), Some(c));
        }
        assert!(GuestExit::Other(0).describe().contains("triple fault"));
        assert!(GuestExit::Other(1).describe().contains("exit code 1"));
    }

    #[test]
    fn streams_lines_and_exit_code() {
        let (exit, lines) = collect(
            "printf 'a\\r\\nIPCB end status=pass\\n'; echo oops >&2; exit 33",
            Some(Duration::from_secs(20)),
        );
        assert_eq!(exit.code, Some(33));
        assert!(!exit.killed());
        assert_eq!(exit.stderr, "oops\n");
        assert_eq!(
            lines,
            vec![
                (1, "a\r".into(), true),
                (2, "IPCB end status=pass".into(), true)
            ]
        );
    }

    #[test]
    fn last_line_without_newline_is_incomplete_and_bytes_are_lossy() {
        let (exit, lines) = collect("printf 'x\\377y\\nhalf'; exit 35", None);
        assert_eq!(exit.code, Some(35));
        assert_eq!(
            lines,
            vec![(1, "x\u{fffd}y".into(), true), (2, "half".into(), false)]
        );
    }

    #[test]
    fn hung_guest_is_killed_at_the_deadline() {
        let (exit, lines) = collect(
            "echo booting; exec sleep 30",
            Some(Duration::from_millis(300)),
        );
        assert!(exit.timed_out && exit.killed());
        assert_eq!(exit.code, None);
        assert!(exit.elapsed < Duration::from_secs(10));
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn callback_can_stop_the_run() {
        let mut seen = 0;
        let exit = run_streaming(
            sh("while true; do echo x; sleep 0.01; done"),
            None,
            None,
            |_, _, _| {
                seen += 1;
                if seen == 3 {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            },
        )
        .unwrap();
        assert!(exit.stopped);
        assert_eq!(seen, 3);
    }

    #[test]
    fn console_log_gets_raw_bytes() {
        let dir = std::env::temp_dir().join(format!("xtask-qemu-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("console.log");
        run_streaming(sh("printf 'a\\377\\r\\nb'"), Some(&log), None, |_, _, _| {
            Flow::Continue
        })
        .unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"a\xff\r\nb");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_cut_pieces_and_keep_going_after_the_end_line() {
        let mut l = Lines::default();
        let mut got = Vec::new();
        let mut f = |n: usize, t: &str, c: bool| {
            got.push((n, t.to_string(), c));
            if t == "IPCB end status=pass" { Flow::ExpectExit } else { Flow::Continue }
        };
        assert_eq!(l.push(b"a\r\nIPCB e", &mut f), Flow::Continue);
        assert_eq!(l.push(b"nd status=pass\nb\nha", &mut f), Flow::ExpectExit);
        l.finish(&mut f);
        let want = [(1, "a\r", true), (2, "IPCB end status=pass", true), (3, "b", true), (4, "ha", false)];
        assert_eq!(got, want.map(|(n, t, c)| (n, t.to_string(), c)));
        // A line that never ends is handed on at MAX_LINE bytes.
        let mut l = Lines::default();
        let mut lens = Vec::new();
        l.push(&vec![b'x'; MAX_LINE as usize + 3], |_, t, c| {
            lens.push((t.len(), c));
            Flow::Continue
        });
        l.finish(|_, t, c| {
            lens.push((t.len(), c));
            Flow::Continue
        });
        assert_eq!(lens, [(MAX_LINE as usize, true), (3, false)]);
        // Stop drops the rest.
        let mut l = Lines::default();
        let mut n = 0;
        assert_eq!(l.push(b"1\n2\n3\n", |_, _, _| { n += 1; Flow::Stop }), Flow::Stop);
        assert_eq!(n, 1);
    }

    #[test]
    fn a_session_answers_a_prompt_and_moves_its_deadline() {
        let script = "printf '=> '; read x; echo \"got $x\"; exit 33";
        let mut seen = String::new();
        let exit = run_session(sh(script), None, Some(Duration::from_secs(20)), true, |s, b| {
            seen.push_str(&String::from_utf8_lossy(b));
            if seen.ends_with("=> ") {
                let _ = s.stdin.as_mut().unwrap().write_all(b"hi\n");
            }
            Flow::Continue
        })
        .unwrap();
        assert_eq!((exit.code, seen.as_str()), (Some(33), "=> got hi\n"));
        // Unanswered, with the deadline moved from 20 s to 300 ms: killed.
        let exit = run_session(sh(script), None, Some(Duration::from_secs(20)), true, |s, _| {
            s.set_deadline(Instant::now() + Duration::from_millis(300));
            Flow::Continue
        })
        .unwrap();
        assert!(exit.timed_out && exit.code.is_none() && exit.elapsed < Duration::from_secs(10), "{exit:?}");
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let err = run_streaming(Command::new("no-such-qemu-ipcb"), None, None, |_, _, _| {
            Flow::Continue
        })
        .unwrap_err();
        assert!(err.to_string().contains("cannot start `no-such-qemu-ipcb`"));
    }
}
