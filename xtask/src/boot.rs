// SPDX-License-Identifier: MIT OR Apache-2.0
//! One boot of a kernel under QEMU: output directory, progress, decoding and
//! the verdict.
//!
//! [`boot`] starts QEMU, decodes the console as it streams and returns a
//! [`BootOutcome`]. It only fails for host problems (QEMU cannot start, no
//! output directory); everything the guest did wrong, including hanging or
//! printing garbage, is in the outcome, and [`BootOutcome::problems`] turns it
//! into a list of one-line reasons. An empty list means the run passed.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::board::{Accel, Board, Medium, qemu_args};
use crate::defmt_log;
use crate::protocol::{EndStatus, Line, ParseError, Transcript, excerpt};
use crate::qemu::{self, Flow, GuestExit};
use crate::report::relabel;
use crate::util::{Workspace, first_line, one_line, show};

/// How much to print on stderr while the guest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing.
    Quiet,
    /// One line per decoded protocol line.
    Normal,
    /// Normal, plus every console line.
    Verbose,
    /// Copy the console to stdout (for `cargo xtask run`).
    Echo,
}

/// What to boot and how.
#[derive(Debug)]
pub struct BootSpec<'a> {
    /// The board.
    pub board: &'static Board,
    /// The accelerator.
    pub accel: Accel,
    /// Kernel (with command line) or ISO.
    pub medium: Medium<'a>,
    /// The command line in force, for the record (for an ISO: GRUB's).
    pub cmdline: &'a str,
    /// Kill QEMU when it has not finished by then.
    pub timeout: Option<Duration>,
    /// Suffix for the output directory name.
    pub label: Option<&'a str>,
    /// Progress output.
    pub progress: Progress,
    /// Stop at the first unparseable `IPCB` line (otherwise warn and go on).
    pub strict: bool,
    /// Print the decoded defmt diagnostics on stderr, each line prefixed
    /// with `[defmt] ` (they always go to `defmt.log`).
    pub echo_defmt: bool,
}

impl<'a> BootSpec<'a> {
    /// A boot that stops at the first garbled `IPCB` line, shows the usual
    /// progress and keeps the defmt lines to `defmt.log`: the suite's boots.
    pub fn checked(
        board: &'static Board,
        accel: Accel,
        medium: Medium<'a>,
        cmdline: &'a str,
        timeout: Duration,
        label: &'a str,
    ) -> BootSpec<'a> {
        BootSpec {
            board,
            accel,
            medium,
            cmdline,
            timeout: Some(timeout),
            label: Some(label),
            progress: Progress::Normal,
            strict: true,
            echo_defmt: false,
        }
    }
}

/// Whom a problem concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The run as a whole (hang, panic, garbled output, ...).
    Run,
    /// One benchmark.
    Bench(String),
    /// One built-in correctness test.
    Test(String),
}

/// Something that makes a run fail, with a one-line reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// What failed.
    pub subject: Subject,
    /// The core, when known.
    pub core: Option<u32>,
    /// The message length in words, for a size of the message-size sweep.
    pub words: Option<u64>,
    /// Why.
    pub reason: String,
}

impl Problem {
    /// A problem of the run as a whole.
    pub fn run(reason: String) -> Problem {
        Problem {
            subject: Subject::Run,
            core: None,
            words: None,
            reason,
        }
    }
}

/// Everything one boot produced.
#[derive(Debug, Clone)]
pub struct BootOutcome {
    /// Decoded protocol lines.
    pub transcript: Transcript,
    /// How QEMU exited; `None` when we killed it.
    pub exit: Option<GuestExit>,
    /// Killed because no `IPCB end` came before the deadline.
    pub hung: bool,
    /// Killed because QEMU did not exit after `IPCB end`.
    pub stuck_after_end: bool,
    /// The first unparseable `IPCB` line (the run was stopped there when strict).
    pub parse_error: Option<ParseError>,
    /// The timeout in force, in seconds.
    pub timeout_secs: Option<u64>,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Raw console capture.
    pub console: PathBuf,
    /// QEMU's stderr.
    pub qemu_stderr: String,
    /// The board booted (what `IPCB hello` must name).
    pub board: &'static str,
    /// `qemu-system-* --version`, first line.
    pub qemu_version: Option<String>,
    /// The kernel command line asked for (checked against `IPCB config`).
    pub asked: String,
}

/// Prints the progress line for a decoded protocol line.
fn progress_line(line: &Line, accel: Accel) -> Option<String> {
    Some(match line {
        Line::Hello(h) => {
            let el = h.el.map(|e| format!(" el={e}")).unwrap_or_default();
            format!(
                "kernel up: board={} arch={}{el} cores={}",
                h.board, h.arch, h.cores
            )
        }
        Line::Cpu(c) => format!(
            "cpu: {} {}",
            c.vendor.as_deref().unwrap_or("?"),
            c.model.as_deref().unwrap_or("?")
        ),
        Line::Counter(_) => return None,
        Line::Calib(c) => match c.ticks_per_instruction() {
            Some(t) => format!("calibration: {t:.2} {} ticks per instruction", c.counter),
            None => "calibration: iters=0".to_string(),
        },
        Line::Clock(c) => format!(
            "clock: {} at {:.3} MHz (from {}){}",
            c.counter,
            c.hz as f64 / 1e6,
            c.source,
            if c.invariant { ", invariant" } else { ", NOT invariant" }
        ),
        Line::Config(c) => format!(
            "config: rounds={} runs={} warmup={} inject={}{}",
            c.rounds,
            c.runs,
            c.warmup,
            c.inject,
            c.sweep
                .map(|s| format!(" sweep={}", u8::from(s)))
                .unwrap_or_default()
        ),
        Line::Ok(t) => format!("ok     {t}"),
        Line::Soak(z) => format!(
            "soak   {} one-way IPCs on {} cores, {} passes: {} corrupted, {} failed",
            z.ipcs, z.cores, z.passes, z.corrupted, z.failed
        ),
        Line::Fuzz(z) => format!("fuzz   {} syscalls, {} task kills, {} episodes, seed {}", z.syscalls, z.kills, z.episodes, z.seed),
        Line::Latency(l) => format!(
            "latency {}{} core {}: p50 {} p90 {} p99 {} max {} {} per {} (counter read {} subtracted)",
            l.bench,
            l.words.map(|w| format!(" words {w}")).unwrap_or_default(),
            l.core,
            l.p50,
            l.p90,
            l.p99,
            l.max,
            relabel(&l.counter, accel).counter,
            l.unit,
            l.subtracted
        ),
        Line::Result(r) => {
            let l = relabel(&r.counter, accel);
            format!(
                "result {}{} core {}: {:.2} {} per {} (min {:.2}, max {:.2}, {} runs){}",
                r.bench,
                r.words.map(|w| format!(" words {w}")).unwrap_or_default(),
                r.core,
                r.median,
                l.counter,
                r.unit,
                r.min,
                r.max,
                r.runs,
                if r.verified { "" } else { "  NOT VERIFIED" }
            )
        }
        Line::Fail(f) => format!(
            "FAIL   {}{}{}: {}",
            f.bench,
            f.words.map(|w| format!(" words {w}")).unwrap_or_default(),
            f.core.map(|c| format!(" core {c}")).unwrap_or_default(),
            f.reason
        ),
        Line::End(s) => format!("end status={}", s.as_str()),
        Line::Panic(r) => format!("PANIC  {r}"),
        Line::Mem(m) => format!(
            "memory: {} MiB in the {} map; {} per-CPU regions, {} MiB of frames",
            m.ram_mib, m.map, m.percpu, m.frames_mib
        ),
        Line::Warn(w) => format!("kernel warning: {w}"),
        Line::Watchdog(w) => format!(
            "watchdog: core {} killed task {}: {}",
            w.core,
            w.task.map_or("-".to_string(), |t| t.to_string()),
            w.reason
        ),
    })
}

/// Boots once and decodes the console.
pub fn boot(ws: &Workspace, spec: &BootSpec<'_>) -> Result<BootOutcome> {
    let board = spec.board;
    let out_dir = ws.new_out_dir(board.name, spec.accel.name(), spec.label)?;
    let console = out_dir.join("console.log");
    if let (Some(raw), Medium::Kernel { elf, .. }) = (board.raw_image, &spec.medium) {
        // The loader takes the raw image; `qemu_args` names it.
        crate::image::write_raw(board, elf, &out_dir.join(raw.file))?;
    }
    if let (true, Medium::Kernel { elf, cmdline }) = (crate::uefi_arm::is_uefi(board), &spec.medium) {
        // AAVMF boots the ESP; `qemu_args` names it.
        let esp = out_dir.join(crate::uefi_arm::ESP_DIR);
        crate::uefi_arm::prepare_boot(ws, board, elf, &esp, &crate::board::kernel_cmdline(board, cmdline))?;
    }
    let mut cmd = crate::prereq::qemu_command(board);
    cmd.current_dir(&ws.root);
    cmd.args(qemu_args(board, spec.accel, &spec.medium, &out_dir));
    let shown = show(&cmd);
    let _ = fs::write(out_dir.join("qemu-command.txt"), format!("{shown}\n"));
    let qemu_version = {
        let mut v = crate::prereq::qemu_command(board);
        v.arg("--version");
        first_line(v)
    };
    if spec.progress != Progress::Quiet {
        let what = match spec.medium {
            Medium::Kernel { .. } if spec.cmdline.is_empty() => "(kernel defaults)".to_string(),
            Medium::Kernel { .. } => format!("({})", spec.cmdline),
            Medium::Cdrom { .. } => format!("from the GRUB ISO ({})", spec.cmdline),
            Medium::FatDisk { .. } => format!("from the FAT disk ({})", spec.cmdline),
        };
        eprintln!(
            "[ipcb] booting {} under {} {what} ...; output in {}",
            board.name,
            spec.accel.name(),
            out_dir.display()
        );
        if spec.progress == Progress::Verbose {
            eprintln!("[ipcb] {shown}");
        }
    }

    let mut transcript = Transcript::default();
    let mut parse_error: Option<ParseError> = None;
    let raw = qemu::run_streaming(cmd, Some(&console), spec.timeout, |n, text, complete| {
        match spec.progress {
            Progress::Echo => println!("{}", text.trim_end_matches('\r')),
            Progress::Verbose => eprintln!("  | {}", text.trim_end_matches('\r')),
            _ => {}
        }
        match transcript.feed(n, text, complete) {
            Ok(Some(line)) => {
                if matches!(spec.progress, Progress::Normal | Progress::Verbose)
                    && let Some(msg) = progress_line(&line, spec.accel)
                {
                    eprintln!("[ipcb] {msg}");
                }
                if matches!(line, Line::End(_)) {
                    return Flow::ExpectExit;
                }
                Flow::Continue
            }
            Ok(None) => Flow::Continue,
            Err(e) => {
                let stop = spec.strict;
                if !stop && spec.progress != Progress::Quiet {
                    eprintln!("warning: {e}");
                }
                parse_error.get_or_insert(e);
                if stop { Flow::Stop } else { Flow::Continue }
            }
        }
    })?;
    if !raw.stderr.trim().is_empty() {
        let _ = fs::write(out_dir.join("qemu-stderr.log"), &raw.stderr);
    }
    // Diagnostics only: a decoding failure is written to defmt.log and
    // reported in one line, never a reason for the run to fail.
    match defmt_log::write_log(spec.medium.elf(), &out_dir) {
        Ok(lines) => {
            if spec.echo_defmt {
                for l in &lines {
                    eprintln!("[defmt] {l}");
                }
            }
        }
        Err(reason) => {
            if spec.progress != Progress::Quiet || spec.echo_defmt {
                eprintln!(
                    "warning: defmt diagnostics not decoded: {}",
                    one_line(&reason)
                );
            }
        }
    }
    let exit = (!raw.killed())
        .then(|| crate::uefi_arm::power_off_exit(board, qemu::classify(raw.code), &transcript));
    if spec.progress != Progress::Quiet {
        match exit {
            Some(e) => eprintln!(
                "[ipcb] QEMU exited after {:.1} s: {}",
                raw.elapsed.as_secs_f64(),
                crate::uefi_arm::describe_exit(board, e, raw.code)
            ),
            None => eprintln!(
                "[ipcb] QEMU killed after {:.1} s",
                raw.elapsed.as_secs_f64()
            ),
        }
    }
    Ok(BootOutcome {
        transcript,
        exit,
        hung: raw.timed_out,
        stuck_after_end: raw.stuck_after_end,
        parse_error,
        timeout_secs: spec.timeout.map(|t| t.as_secs()),
        out_dir,
        console,
        qemu_stderr: raw.stderr,
        board: board.name,
        qemu_version,
        asked: spec.cmdline.to_string(),
    })
}

/// Why the kernel's `IPCB config` is not the command line `asked` for
/// (`rounds=`, `runs=`, `words=`), if it is not: a kernel that lost its
/// command line (a boot loader that did not pass it, a device tree not
/// found) runs its defaults, and its figures answer another question.
/// `ended`: the kernel got to its end line (a missing config line is then
/// a problem too).
pub fn config_mismatch(
    asked: &str,
    config: Option<&crate::protocol::Config>,
    ended: bool,
) -> Option<String> {
    let wanted: Vec<(&str, u64)> = asked
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| matches!(*k, "rounds" | "runs" | "words"))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    let want_kpti = asked.split_whitespace().any(|w| w == "kpti=on");
    if wanted.is_empty() && !want_kpti {
        return None;
    }
    let Some(c) = config else {
        return ended.then(|| format!("the kernel printed no \"IPCB config\" line, so it is unknown whether it ran the {asked:?} asked for"));
    };
    let got = |k: &str| match k {
        "rounds" => Some(c.rounds),
        "runs" => Some(u64::from(c.runs)),
        _ => c.words,
    };
    let mut differ: Vec<String> = wanted
        .iter()
        .filter(|(k, v)| got(k).is_some_and(|g| g != *v))
        .map(|(k, v)| format!("{k}={} (asked {k}={v})", got(k).unwrap_or(0)))
        .collect();
    if want_kpti && c.kpti.as_deref().is_none_or(|k| k == "off") {
        differ.push(format!("kpti={} (asked kpti=on)", c.kpti.as_deref().unwrap_or("?")));
    }
    (!differ.is_empty()).then(|| {
        format!(
            "the kernel ran {}: its command line did not reach it (check the boot loader's command line / bootargs)",
            differ.join(" ")
        )
    })
}

impl BootOutcome {
    /// `last line: "..."` for error messages.
    fn last(&self) -> String {
        format!("last line: \"{}\"", excerpt(&self.transcript.last_line))
    }

    /// The first non-empty line QEMU printed on stderr, if any.
    fn qemu_says(&self) -> String {
        self.qemu_stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| format!("; QEMU says: {}", excerpt(l)))
            .unwrap_or_default()
    }

    /// Every reason this run fails; empty when it passed.
    ///
    /// `expected` names the benchmarks that must each have a verified result
    /// (checked only when the kernel reached its end line).
    pub fn problems(&self, expected: &[&str]) -> Vec<Problem> {
        let t = &self.transcript;
        let console = self.console.display();
        let mut out = Vec::new();
        if let Some(e) = &self.parse_error {
            out.push(Problem::run(e.to_string()));
        }
        if self.hung {
            out.push(Problem::run(format!(
                "guest hung: no \"IPCB end\" after {} s ({}); see {console}",
                self.timeout_secs.unwrap_or(0),
                self.last()
            )));
        }
        if self.stuck_after_end {
            out.push(Problem::run(format!(
                "QEMU did not exit within {} s after \"IPCB end\": the kernel must write its status to the exit device; see {console}",
                qemu::EXIT_GRACE.as_secs()
            )));
        }
        let end = t.end;
        match self.exit {
            None => {}
            Some(GuestExit::Pass) => match end {
                Some(EndStatus::Pass) => {}
                Some(EndStatus::Fail) => out.push(Problem::run(
                    "kernel printed \"IPCB end status=fail\" but exited with the pass code 33".to_string(),
                )),
                None => out.push(Problem::run(format!(
                    "kernel exited with the pass code 33 without an \"IPCB end\" line ({}); see {console}",
                    self.last()
                ))),
            },
            Some(GuestExit::CheckFailed) => {
                if end == Some(EndStatus::Pass) {
                    out.push(Problem::run(
                        "kernel printed \"IPCB end status=pass\" but exited with code 35 (check failed)".to_string(),
                    ));
                } else if t.failures.is_empty() && t.results.iter().all(|r| r.verified) {
                    out.push(Problem::run(format!(
                        "kernel reported a failed check (exit code 35) but printed no \"IPCB fail\" line ({}); see {console}",
                        self.last()
                    )));
                }
            }
            Some(GuestExit::Panic) => {
                let what = match &t.panic {
                    Some(r) => format!("\"{}\"", excerpt(&one_line(r))),
                    None => self.last(),
                };
                out.push(Problem::run(format!(
                    "kernel panic or kernel-mode exception (exit code 37; {what}); see {console} and the defmt log {}",
                    self.out_dir.join("defmt.log").display()
                )));
            }
            Some(other @ (GuestExit::Other(_) | GuestExit::Signal)) => out.push(Problem::run(format!(
                "QEMU ended with {}{} ({}); see {console}",
                other.describe(),
                self.qemu_says(),
                self.last()
            ))),
        }
        if let Some(why) = config_mismatch(&self.asked, t.config.as_ref(), t.end.is_some()) {
            out.push(Problem::run(why));
        }
        if let Some(r) = &t.panic
            && self.exit != Some(GuestExit::Panic)
        {
            out.push(Problem::run(format!(
                "kernel panicked: {}",
                excerpt(&one_line(r))
            )));
        }
        // Missing results only mean something when the kernel ended normally.
        let ended_normally = end.is_some()
            && t.panic.is_none()
            && matches!(self.exit, Some(GuestExit::Pass | GuestExit::CheckFailed));
        if let Some(h) = &t.hello
            && h.board != self.board
        {
            out.push(Problem::run(format!(
                "the kernel says board={}, but this is a {} run: wrong kernel image?",
                h.board, self.board
            )));
        }
        out.extend(transcript_problems(t, expected, &self.asked, ended_normally));
        out
    }
}

/// The problems a console transcript shows on its own, however the kernel
/// ran (a QEMU boot, or a serial capture from a real machine given to
/// `cargo xtask report`): failed checks (`IPCB fail`), interrupts during
/// timed runs, unverified figures; and, when the kernel `ended` normally,
/// a missing hello line, an `expected` benchmark with no result and the
/// latency lines `asked` for ([`latency_missing`]).
pub fn transcript_problems(t: &Transcript, expected: &[&str], asked: &str, ended: bool) -> Vec<Problem> {
    let mut out = Vec::new();
    for f in &t.failures {
        out.push(Problem {
            subject: if f.is_test {
                Subject::Test(f.bench.clone())
            } else {
                Subject::Bench(f.bench.clone())
            },
            core: f.core,
            words: f.words,
            reason: one_line(&f.reason),
        });
    }
    for r in t.results.iter().filter(|r| r.interrupts.is_some_and(|n| n > 0)) {
        out.push(Problem {
            subject: Subject::Bench(r.bench.clone()),
            core: Some(r.core),
            words: r.words,
            reason: format!(
                "{} interrupts during its timed runs (counter {}; expected 0): reported as failed",
                r.interrupts.unwrap_or(0),
                r.counter
            ),
        });
    }
    for l in t.latencies.iter().filter(|l| l.interrupts.is_some_and(|n| n > 0)) {
        out.push(Problem {
            subject: Subject::Bench(format!("latency {}", l.bench)),
            core: Some(l.core),
            words: l.words,
            reason: format!("{} interrupts during its timed runs (expected 0): reported as failed", l.interrupts.unwrap_or(0)),
        });
    }
    for r in t.results.iter().filter(|r| !r.verified) {
        out.push(Problem {
            subject: Subject::Bench(r.bench.clone()),
            core: Some(r.core),
            words: r.words,
            reason: format!(
                "figures not verified (counter {}): reported as failed",
                r.counter
            ),
        });
    }
    if ended {
        if t.hello.is_none() {
            out.push(Problem::run(
                "no \"IPCB hello\" line before \"IPCB end\"".to_string(),
            ));
        }
        for bench in expected {
            let reported = t.results.iter().any(|r| r.bench == *bench)
                || t.failures.iter().any(|f| f.bench == *bench && !f.is_test);
            if !reported {
                out.push(Problem {
                    subject: Subject::Bench(bench.to_string()),
                    core: None,
                    words: None,
                    reason: "no result reported".to_string(),
                });
            }
        }
        out.extend(latency_missing(asked, t, expected));
    }
    out
}

/// The benchmarks that `latency=` times round by round.
pub const LATENCY_BENCHES: &[&str] = &["ipc-intra", "ipc-inter", "syscall", "null", "floor"];

/// When `asked` has `latency=<counter>`: the kernel must say so in its
/// config line, and every expected benchmark of [`LATENCY_BENCHES`] must
/// have an `IPCB latency` line (or a failure of its latency run).
pub fn latency_missing(asked: &str, t: &Transcript, expected: &[&str]) -> Vec<Problem> {
    let Some(counter) = asked
        .split_whitespace()
        .filter_map(|kv| kv.strip_prefix("latency="))
        .next_back()
        .filter(|c| *c != "none")
    else {
        return Vec::new();
    };
    let said = t.config.as_ref().and_then(|c| c.latency.as_deref());
    if said != Some(counter) {
        return vec![Problem::run(format!(
            "latency={counter} was asked for, but the kernel's config line says {}: a kernel without --latency support, or its command line did not reach it",
            said.map_or("nothing of latency".to_string(), |s| format!("latency={s}"))
        ))];
    }
    let failed_all = t.failures.iter().any(|f| f.bench == "latency");
    LATENCY_BENCHES
        .iter()
        .filter(|b| expected.contains(b))
        .filter(|b| {
            !failed_all
                && !t.latencies.iter().any(|l| l.bench == **b)
                && !t.failures.iter().any(|f| f.bench == format!("latency {b}"))
        })
        .map(|b| Problem {
            subject: Subject::Bench(format!("latency {b}")),
            core: None,
            words: None,
            reason: "no latency line reported".to_string(),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::tests::{FAILED, PASS};

    /// An outcome as if QEMU had produced `console` and exited with `code`.
    pub(crate) fn outcome(console: &str, code: Option<i32>) -> BootOutcome {
        BootOutcome {
            transcript: Transcript::parse_str(console).unwrap(),
            exit: code.map(|c| qemu::classify(Some(c))),
            hung: false,
            stuck_after_end: false,
            parse_error: None,
            timeout_secs: Some(600),
            out_dir: PathBuf::from("target/ipcb/x"),
            console: PathBuf::from("target/ipcb/x/console.log"),
            qemu_stderr: String::new(),
            board: "pc-x86_64",
            qemu_version: Some("QEMU emulator version 7.2.22".into()),
            asked: String::new(),
        }
    }

    const EXPECTED: &[&str] = &["ipc-intra", "ipc-inter", "syscall"];

    fn reasons(o: &BootOutcome) -> Vec<String> {
        o.problems(EXPECTED).into_iter().map(|p| p.reason).collect()
    }

    #[test]
    fn latency_lines_must_come_when_asked_for() {
        let asked = "rounds=500 runs=2 latency=tsc";
        let lines = crate::protocol::tests::latency_lines();
        let with = PASS.replace("inject=none", "inject=none latency=tsc").replace("IPCB end", &format!("{lines}IPCB end"));
        let t = Transcript::parse_str(&with).unwrap();
        assert_eq!(latency_missing(asked, &t, &["ipc-intra", "ipc-inter", "syscall"]), []);
        // syscall's latency line missing; its latency run failing instead is fine.
        let without = with.replace("IPCB latency bench=syscall", "latency bench=syscall");
        let t = Transcript::parse_str(&without).unwrap();
        let p = latency_missing(asked, &t, &["ipc-intra", "ipc-inter", "syscall"]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].subject, Subject::Bench("latency syscall".into()));
        let failed = without.replace("IPCB end", "IPCB fail bench=syscall core=0 latency=1 reason=\"x\"\nIPCB end");
        let t = Transcript::parse_str(&failed).unwrap();
        assert_eq!(latency_missing(asked, &t, &["syscall"]), []);
        assert_eq!(t.failures[0].bench, "latency syscall");
        // A kernel that did not take latency=.
        let t = Transcript::parse_str(PASS).unwrap();
        let p = latency_missing(asked, &t, &["syscall"]);
        assert!(p[0].reason.contains("config line says nothing of latency"), "{}", p[0].reason);
        assert_eq!(latency_missing("rounds=5", &t, &["syscall"]), []);
    }

    #[test]
    fn config_must_be_what_was_asked() {
        let cfg = |rounds, runs, words| crate::protocol::Config {
            rounds,
            runs,
            warmup: 1,
            inject: "none".into(),
            sweep: Some(true),
            words,
            latency: None,
            kpti: None,
        };
        assert_eq!(config_mismatch("rounds=200 runs=2", Some(&cfg(200, 2, Some(0))), true), None);
        assert_eq!(config_mismatch("", Some(&cfg(20000, 5, None)), true), None);
        let off = crate::protocol::Config { kpti: Some("off".into()), ..cfg(200, 2, Some(0)) };
        assert!(config_mismatch("kpti=on", Some(&off), true).unwrap().contains("kpti=off (asked kpti=on)"));
        let on = crate::protocol::Config { kpti: Some("pcid".into()), ..off };
        assert_eq!(config_mismatch("rounds=200 kpti=on", Some(&on), true), None);
        let why = config_mismatch("rounds=200 runs=2 words=4", Some(&cfg(20000, 2, Some(0))), true).unwrap();
        assert!(why.starts_with("the kernel ran rounds=20000 (asked rounds=200) words=0 (asked words=4)"), "{why}");
        assert!(config_mismatch("rounds=200", None, true).unwrap().contains("no \"IPCB config\" line"));
        assert_eq!(config_mismatch("rounds=200", None, false), None);
    }

    #[test]
    fn passing_run_has_no_problems() {
        assert!(outcome(PASS, Some(33)).problems(EXPECTED).is_empty());
    }

    #[test]
    fn failed_run_lists_the_bench() {
        let p = outcome(FAILED, Some(35)).problems(EXPECTED);
        assert_eq!(
            p,
            vec![Problem {
                subject: Subject::Bench("ipc-inter".into()),
                core: Some(0),
                words: None,
                reason: "mr2 mismatch".into()
            }]
        );
    }

    #[test]
    fn exit_code_and_end_line_must_agree() {
        let r = reasons(&outcome(PASS, Some(35)));
        assert!(
            r[0].contains("status=pass\" but exited with code 35"),
            "{r:?}"
        );
        let r = reasons(&outcome(FAILED, Some(33)));
        assert!(r[0].contains("but exited with the pass code 33"), "{r:?}");
        let no_end = PASS.replace("IPCB end status=pass\r\n", "");
        let r = reasons(&outcome(&no_end, Some(33)));
        assert_eq!(r.len(), 1);
        assert!(r[0].contains("without an \"IPCB end\" line"), "{r:?}");
        let no_fail =
            "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\nIPCB end status=fail\n";
        let r = reasons(&outcome(no_fail, Some(35)));
        assert!(r[0].contains("printed no \"IPCB fail\" line"), "{r:?}");
        // ... and all three benches are missing.
        assert_eq!(r.iter().filter(|r| *r == "no result reported").count(), 3);
    }

    #[test]
    fn panic_other_codes_hang_and_garbage() {
        let panicked = PASS.replace(
            "IPCB end status=pass\r\n",
            "panicked at runtime/src/lib.rs:10\r\n",
        );
        let r = reasons(&outcome(&panicked, Some(37)));
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("kernel panic or kernel-mode exception (exit code 37; last line: \"panicked at runtime/src/lib.rs:10\")"), "{r:?}");
        let with_line = PASS.replace(
            "IPCB end status=pass\r\n",
            "IPCB panic reason=\"kernel exception vector 13\"\r\nIPCB end status=fail\r\n",
        );
        let r = reasons(&outcome(&with_line, Some(37)));
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].starts_with("kernel panic or kernel-mode exception (exit code 37; \"kernel exception vector 13\")"), "{r:?}");
        let r = reasons(&outcome(&with_line, Some(35)));
        assert!(
            r.contains(&"kernel panicked: kernel exception vector 13".to_string()),
            "{r:?}"
        );

        let mut o = outcome("", Some(1));
        o.qemu_stderr = "qemu-system-x86_64: failed to initialize kvm: Permission denied\n".into();
        let r = reasons(&o);
        assert!(
            r[0].contains("exit code 1")
                && r[0].contains("QEMU says: qemu-system-x86_64: failed to initialize kvm"),
            "{r:?}"
        );

        let mut o = outcome(
            "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\nrunning ipc-intra",
            None,
        );
        o.hung = true;
        let r = reasons(&o);
        assert_eq!(
            r,
            vec![
                "guest hung: no \"IPCB end\" after 600 s (last line: \"running ipc-intra\"); see target/ipcb/x/console.log"
            ]
        );

        let mut o = outcome("", None);
        o.parse_error = Some(ParseError {
            line_no: 7,
            text: "IPCB result bench".into(),
            msg: "x".into(),
        });
        assert!(
            reasons(&o)[0].starts_with("unparseable kernel output line 7: \"IPCB result bench\"")
        );
    }

    #[test]
    fn sweep_run_passes_and_its_failures_name_the_size() {
        let text = crate::protocol::tests::pass_with_sweep();
        assert!(outcome(&text, Some(33)).problems(EXPECTED).is_empty());
        let bad = text
            .replace("ipc-sweep words=16 core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=306.00 median=306.00 mean=306.00 max=306.00 verified=1",
                     "ipc-sweep words=16 core=0 counter=tsc unit=one-way-ipc ops=40000 runs=5 min=306.00 median=306.00 mean=306.00 max=306.00 verified=0")
            .replace("IPCB end status=pass", "IPCB fail bench=ipc-sweep words=63 core=0 reason=\"mr 40 got 0x0 expected 0x1\"\r\nIPCB end status=fail");
        let p = outcome(&bad, Some(35)).problems(EXPECTED);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            (&p[0].subject, p[0].words, p[0].reason.as_str()),
            (
                &Subject::Bench("ipc-sweep".into()),
                Some(63),
                "mr 40 got 0x0 expected 0x1"
            )
        );
        assert_eq!(
            (&p[1].subject, p[1].words),
            (&Subject::Bench("ipc-sweep".into()), Some(16))
        );
        assert!(p[1].reason.contains("not verified"), "{p:?}");
    }

    #[test]
    fn wrong_board_is_a_problem() {
        let text = PASS.replace("board=pc-x86_64", "board=raspi3b");
        let r = reasons(&outcome(&text, Some(33)));
        assert_eq!(
            r,
            vec!["the kernel says board=raspi3b, but this is a pc-x86_64 run: wrong kernel image?"]
        );
    }

    #[test]
    fn unverified_and_missing_results_fail() {
        let text = PASS
            .replace("max=95.00 verified=1", "max=95.00 verified=0")
            .replace("IPCB result bench=syscall", "IPCB result bench=syscall-x");
        let p = outcome(&text, Some(33)).problems(EXPECTED);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].subject, Subject::Bench("ipc-inter".into()));
        assert!(p[0].reason.contains("not verified"));
        assert_eq!(p[1].subject, Subject::Bench("syscall".into()));
        assert_eq!(p[1].reason, "no result reported");
    }

    #[test]
    fn interrupts_during_the_timed_runs_fail_the_result() {
        let ok = PASS.replace("max=95.00 verified=1", "max=95.00 interrupts=0 verified=1");
        assert!(outcome(&ok, Some(33)).problems(EXPECTED).is_empty());
        let text = PASS.replace("max=95.00 verified=1", "max=95.00 interrupts=3 verified=1");
        let p = outcome(&text, Some(33)).problems(EXPECTED);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].subject, Subject::Bench("ipc-inter".into()));
        assert!(p[0].reason.starts_with("3 interrupts during its timed runs"), "{p:?}");
    }

    #[test]
    fn progress_lines_use_relabelled_counters() {
        let l = crate::protocol::parse_line(
            "IPCB result bench=ipc-intra core=0 counter=tsc unit=one-way-ipc ops=4 runs=3 min=1.00 median=2.00 mean=2.00 max=3.00 verified=1",
        )
        .unwrap();
        assert_eq!(
            progress_line(&l, Accel::Icount).unwrap(),
            "result ipc-intra core 0: 2.00 instructions per one-way-ipc (min 1.00, max 3.00, 3 runs)"
        );
        assert_eq!(
            progress_line(&l, Accel::Tcg).unwrap(),
            "result ipc-intra core 0: 2.00 tsc per one-way-ipc (min 1.00, max 3.00, 3 runs)"
        );
        let l = crate::protocol::parse_line(
            "IPCB result bench=ipc-sweep words=63 core=0 counter=tsc unit=one-way-ipc ops=4 runs=3 min=1.00 median=2.00 mean=2.00 max=3.00 verified=1",
        )
        .unwrap();
        assert_eq!(
            progress_line(&l, Accel::Icount).unwrap(),
            "result ipc-sweep words 63 core 0: 2.00 instructions per one-way-ipc (min 1.00, max 3.00, 3 runs)"
        );
        let l = crate::protocol::parse_line(
            "IPCB fail bench=ipc-sweep words=8 core=0 reason=\"mr 6 got 0x0 expected 0x1\"",
        )
        .unwrap();
        assert_eq!(
            progress_line(&l, Accel::Icount).unwrap(),
            "FAIL   ipc-sweep words 8 core 0: mr 6 got 0x0 expected 0x1"
        );
        let l =
            crate::protocol::parse_line("IPCB config rounds=2 runs=1 warmup=0 inject=none sweep=1")
                .unwrap();
        assert_eq!(
            progress_line(&l, Accel::Icount).unwrap(),
            "config: rounds=2 runs=1 warmup=0 inject=none sweep=1"
        );
    }
}
