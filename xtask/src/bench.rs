// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask bench` and `cargo xtask run`: build, boot, report.
//!
//! `bench` decodes the console strictly, prints the table on stdout and
//! progress on stderr, writes `results.json` into the run's output directory
//! (and to `--json PATH` when asked), plots the message-size sweep into
//! `sweep.svg` there when the kernel ran it, and exits non-zero when anything
//! failed.
//! `run` copies the console to stdout for a person to read and only reports
//! how the kernel exited.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::accel::{self, AccelChoice};
use crate::board::{self, Accel, Board, Medium};
use crate::boot::{self, BootOutcome, BootSpec, Problem, Progress, Subject};
use crate::protocol::Transcript;
use crate::report::{Report, RunMeta};
use crate::util::{Workspace, git_commit, one_line, rustc_version};
use crate::{image, latency, prereq};
use crate::{plot, table};

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub struct BenchOpts {
    /// Board name.
    pub board: String,
    /// Accelerator choice.
    pub accel: AccelChoice,
    /// Rounds per run (kernel default when `None`).
    pub rounds: Option<u64>,
    /// Measured runs (kernel default when `None`).
    pub runs: Option<u32>,
    /// Message words of ipc-intra and ipc-inter (kernel default 0 when
    /// `None`).
    pub words: Option<u64>,
    /// Where to write JSON besides the output directory.
    pub json: Option<PathBuf>,
    /// Seconds before the guest counts as hung.
    pub timeout: u64,
    /// Echo the console to stderr.
    pub verbose: bool,
    /// Boot this prebuilt kernel ELF instead of building one.
    pub kernel: Option<PathBuf>,
    /// `--latency`: also time every round on its own.
    pub latency: bool,
    /// `--counter`: the counter that times them.
    pub counter: Option<String>,
    /// `--kpti`: kernel isolation on.
    pub kpti: bool,
}

/// `--kpti`: the command-line word `kpti=on` (`None` without `--kpti`),
/// on a board whose arch has kernel isolation (x86_64); elsewhere a
/// one-line error, before anything is built or booted.
pub fn kpti_word(board: &Board, kpti: bool) -> Result<Option<&'static str>> {
    if kpti && board.arch != "x86_64" {
        bail!("--kpti: kernel isolation is x86_64-only; board {} is {} (Arm kernels already run user code on their own TTBR0 tables with the kernel in TTBR1: leave --kpti off)", board.name, board.arch);
    }
    Ok(kpti.then_some("kpti=on"))
}

/// Append `word` (if any) to `cmdline`.
pub fn push_word(cmdline: &mut String, word: Option<&str>) {
    if let Some(w) = word {
        if !cmdline.is_empty() {
            cmdline.push(' ');
        }
        cmdline.push_str(w);
    }
}

/// The kernel to boot: `prebuilt` if given (it must exist), else a fresh build.
/// One boot of `board`'s kernel for a long-run command (`fuzz`, `soak`):
/// QEMU installed, the kernel built, `accel` resolved, `cmdline` given,
/// killed after `timeout_secs`; its outcome.
pub fn long_run_boot(
    ws: &Workspace,
    board: &'static Board,
    accel: crate::accel::AccelChoice,
    cmdline: &str,
    timeout_secs: u64,
    label: &str,
    verbose: bool,
) -> Result<boot::BootOutcome> {
    crate::prereq::ensure_qemu(board)?;
    let kernel = kernel_for(ws, board, None)?;
    let accel = crate::accel::resolve(ws, board, accel, &kernel)?;
    let spec = boot::BootSpec {
        board,
        accel,
        medium: crate::board::Medium::Kernel { elf: &kernel, cmdline },
        cmdline,
        timeout: Some(std::time::Duration::from_secs(timeout_secs)),
        label: Some(label),
        progress: if verbose { boot::Progress::Verbose } else { boot::Progress::Normal },
        strict: true,
        echo_defmt: verbose,
    };
    boot::boot(ws, &spec)
}

pub fn kernel_for(ws: &Workspace, board: &Board, prebuilt: Option<&Path>) -> Result<PathBuf> {
    match prebuilt {
        Some(elf) if elf.is_file() => Ok(elf.to_path_buf()),
        Some(elf) => anyhow::bail!("kernel {} does not exist", elf.display()),
        None => {
            prereq::ensure_targets(ws)?;
            image::build(ws, board, &[])
        }
    }
}

/// The kernel command line for the requested configuration.
pub fn bench_cmdline(rounds: Option<u64>, runs: Option<u32>, words: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(r) = rounds {
        parts.push(format!("rounds={r}"));
    }
    if let Some(r) = runs {
        parts.push(format!("runs={r}"));
    }
    if let Some(w) = words {
        parts.push(format!("words={w}"));
    }
    parts.join(" ")
}

/// Host facts plus the decoded console and verdict, as a report.
pub fn make_report(
    ws: &Workspace,
    board: &'static Board,
    accel: Accel,
    cmdline: &str,
    o: &BootOutcome,
    problems: &[Problem],
) -> Report {
    let meta = RunMeta {
        board: board.name.to_string(),
        arch: board.arch.to_string(),
        accel,
        kernel_cmdline: cmdline.to_string(),
        qemu: o.qemu_version.clone(),
        git_commit: git_commit(ws),
        rustc: rustc_version(ws),
        exit_code: o.exit.and_then(|e| e.code()),
    };
    Report::new(&meta, &o.transcript, problems)
}

/// Writes the report's JSON to `path`.
pub fn write_json(report: &Report, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(path, report.to_json()).with_context(|| format!("cannot write {}", path.display()))
}

/// Checks, before any boot, that `path` can be written: its directory is
/// made (as [`write_json`] would) and a probe file is created and removed
/// there; an existing `path` must be a file. A run whose results could not
/// be saved is not started.
pub fn check_json_path(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("--json {}: is a directory; give a file name", path.display());
    }
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => {
            fs::create_dir_all(d).with_context(|| format!("--json {}: cannot create {}", path.display(), d.display()))?;
            d.to_path_buf()
        }
        None => PathBuf::from("."),
    };
    let probe = dir.join(format!(".ipcb-json-probe-{}", std::process::id()));
    fs::write(&probe, b"").with_context(|| format!("--json {}: cannot write into {}", path.display(), dir.display()))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// Prints the run-level problems as `error:` lines; returns how many benches
/// or tests failed.
pub fn print_problems(problems: &[Problem]) -> usize {
    let mut failed = 0;
    for p in problems {
        match &p.subject {
            Subject::Run => eprintln!("error: {}", p.reason),
            Subject::Bench(_) | Subject::Test(_) => failed += 1,
        }
    }
    failed
}

/// `cargo xtask bench`.
pub fn cmd_bench(ws: &Workspace, opts: &BenchOpts) -> Result<ExitCode> {
    let board = board::find(&opts.board)?;
    let lat_counter = latency::check(board, opts.accel, opts.latency, opts.counter.as_deref(), opts.rounds, opts.runs)?;
    let kpti = kpti_word(board, opts.kpti)?;
    if let Some(path) = &opts.json {
        check_json_path(path)?;
    }
    prereq::ensure_qemu(board)?;
    let kernel = kernel_for(ws, board, opts.kernel.as_deref())?;
    let accel = accel::resolve(ws, board, opts.accel, &kernel)?;
    let mut cmdline = bench_cmdline(opts.rounds, opts.runs, opts.words);
    if let Some(c) = &lat_counter {
        latency::check_resolved(board, accel, c)?;
        push_word(&mut cmdline, Some(&format!("latency={c}")));
    }
    push_word(&mut cmdline, kpti);
    let spec = BootSpec {
        board,
        accel,
        medium: Medium::Kernel {
            elf: &kernel,
            cmdline: &cmdline,
        },
        cmdline: &cmdline,
        timeout: Some(Duration::from_secs(opts.timeout)),
        label: None,
        progress: if opts.verbose {
            Progress::Verbose
        } else {
            Progress::Normal
        },
        strict: true,
        echo_defmt: opts.verbose,
    };
    let outcome = boot::boot(ws, &spec)?;
    if accel == Accel::Kvm {
        accel::check_kvm_speed(&outcome.transcript);
    }
    let problems = outcome.problems(board.expected_benches);
    let report = make_report(ws, board, accel, &cmdline, &outcome, &problems);

    let defmt = outcome.out_dir.join("defmt.log");
    publish(&report, &outcome.transcript, &outcome.out_dir, &outcome.console, opts.json.as_deref(), Some(&defmt))?;
    Ok(verdict(&problems, &outcome.console))
}

/// Shows and saves a run's report (`bench`, and `report` for a serial
/// capture): the table on stdout (when the kernel printed anything), its
/// JSON as `<out_dir>/results.json` and to `json`, the plots of what ran
/// (sweep, per core, latency) into `out_dir`, and one line on stderr
/// naming the files (`console`, `defmt` when there is one).
pub fn publish(report: &Report, t: &Transcript, out_dir: &Path, console: &Path, json: Option<&Path>, defmt: Option<&Path>) -> Result<()> {
    if t.hello.is_some() || !t.results.is_empty() || !t.failures.is_empty() {
        println!();
        print!("{}", table::render(report));
    }
    let run_json = out_dir.join("results.json");
    write_json(report, &run_json)?;
    if let Some(path) = json {
        write_json(report, path)?;
        eprintln!("[ipcb] wrote {}", path.display());
    }
    let warn = |what: &str, e: anyhow::Error| eprintln!("warning: {what} not written: {}", one_line(&format!("{e:#}")));
    let sweep = match plot::sweep::write(report, out_dir) {
        Ok(files) => files.map(|f| {
            let png = f.png.map(|p| format!(" and {}", p.display())).unwrap_or_default();
            format!("  sweep plot: {}{png}", f.svg.display())
        }),
        Err(e) => {
            warn("sweep plot", e);
            None
        }
    };
    let listed = |what: &str, files: Result<Vec<PathBuf>>| match files {
        Ok(files) => files.iter().map(|f| format!("  {what} plot: {}", f.display())).collect::<String>(),
        Err(e) => {
            warn(&format!("{what} plots"), e);
            String::new()
        }
    };
    let cores = listed("per-core", plot::cores::write(report, out_dir));
    let lat_plots = listed("latency", plot::latency::write(report, out_dir));
    let defmt = defmt.map(|d| format!("  defmt: {}", d.display())).unwrap_or_default();
    eprintln!(
        "[ipcb] console: {}  results: {}{defmt}{}{cores}{lat_plots}",
        console.display(),
        run_json.display(),
        sweep.unwrap_or_default()
    );
    Ok(())
}

/// The exit status of a run with `problems`, after printing them as
/// `error:` lines (and one line naming the failed benches and tests).
pub fn verdict(problems: &[Problem], console: &Path) -> ExitCode {
    let failed = print_problems(problems);
    if problems.is_empty() {
        return ExitCode::SUCCESS;
    }
    if failed > 0 {
        let mut names: Vec<String> = Vec::new();
        for p in problems {
            let n = match &p.subject {
                Subject::Bench(b) => b.clone(),
                Subject::Test(t) => format!("test {t}"),
                Subject::Run => continue,
            };
            if !names.contains(&n) {
                names.push(n);
            }
        }
        eprintln!(
            "error: failed: {} (reasons under the table; console: {})",
            names.join(", "),
            console.display()
        );
    }
    ExitCode::FAILURE
}

/// `cargo xtask run`.
pub fn cmd_run(
    ws: &Workspace,
    board_name: &str,
    choice: AccelChoice,
    timeout: Option<u64>,
    cmdline: &str,
    prebuilt: Option<&Path>,
    verbose: bool,
) -> Result<ExitCode> {
    let board = board::find(board_name)?;
    prereq::ensure_qemu(board)?;
    let kernel = kernel_for(ws, board, prebuilt)?;
    let accel = accel::resolve(ws, board, choice, &kernel)?;
    let spec = BootSpec {
        board,
        accel,
        medium: Medium::Kernel {
            elf: &kernel,
            cmdline,
        },
        cmdline,
        timeout: timeout.map(Duration::from_secs),
        label: None,
        progress: Progress::Echo,
        strict: false,
        echo_defmt: verbose,
    };
    let outcome = boot::boot(ws, &spec)?;
    let problems = outcome.problems(&[]);
    let failed = print_problems(&problems);
    if failed > 0 {
        eprintln!("error: {failed} check(s) failed; see the console above");
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_only_names_what_was_asked() {
        assert_eq!(bench_cmdline(None, None, None), "");
        assert_eq!(bench_cmdline(Some(20000), None, None), "rounds=20000");
        assert_eq!(bench_cmdline(Some(1), Some(3), None), "rounds=1 runs=3");
        assert_eq!(bench_cmdline(None, None, Some(4)), "words=4");
    }

    #[test]
    fn only_bench_and_test_problems_count_as_failed_benches() {
        let p = vec![
            Problem {
                subject: Subject::Run,
                core: None,
                words: None,
                reason: "guest hung".into(),
            },
            Problem {
                subject: Subject::Bench("ipc-inter".into()),
                core: Some(0),
                words: None,
                reason: "x".into(),
            },
        ];
        assert_eq!(print_problems(&p), 1);
    }

    #[test]
    fn json_path_is_checked_before_booting() {
        let dir = std::env::temp_dir().join(format!("ipcb-jsonchk-{}", std::process::id()));
        assert!(check_json_path(&dir.join("a").join("r.json")).is_ok());
        assert!(dir.join("a").is_dir());
        let e = check_json_path(&dir).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let _ = fs::remove_dir_all(&dir);
        let e = check_json_path(Path::new("/proc/ipcb/r.json")).unwrap_err();
        assert!(e.to_string().starts_with("--json /proc/ipcb/r.json: cannot"), "{e}");
    }

    #[test]
    fn json_file_is_written() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        let path = dir.join("sub").join("results.json");
        let r = crate::report::tests::report(crate::protocol::tests::PASS, 33, Accel::Icount);
        write_json(&r, &path).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["status"], "pass");
        fs::remove_dir_all(&dir).unwrap();
    }
}
