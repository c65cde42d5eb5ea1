// SPDX-License-Identifier: MIT OR Apache-2.0
//! Workspace paths and process helpers shared by the subcommands.
//!
//! Every child process is started from the workspace root, so the pinned
//! `rust-toolchain.toml` applies to `cargo`, `rustc` and `rustup` alike.
//! Failures turn into one-line errors naming the command and the fix.
//!
//! No child process runs without a deadline: a quick query (`--version`,
//! `git`, `rustup target list`, apt's simulation) gets [`QUICK_TIMEOUT`],
//! a build or an install [`LONG_TIMEOUT`]; a child past its deadline is
//! killed and named in the error. (QEMU has its own, `--timeout`.)

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// Where the workspace and its build output live.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace root (the directory holding the top-level `Cargo.toml`).
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
    pub target_dir: PathBuf,
}

impl Workspace {
    /// Finds the workspace from this crate's manifest directory.
    pub fn locate() -> Result<Workspace> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest
            .parent()
            .context("xtask's manifest directory has no parent")?
            .to_path_buf();
        if !root.join("Cargo.toml").is_file() {
            bail!(
                "workspace root {} has no Cargo.toml; run cargo xtask from the ipcbench-rs checkout",
                root.display()
            );
        }
        let target_dir = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    env::current_dir()?.join(dir)
                }
            }
            _ => root.join("target"),
        };
        Ok(Workspace { root, target_dir })
    }

    /// A `cargo` command (the one that runs us, if known) in the workspace root.
    pub fn cargo(&self) -> Command {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        self.command(cargo)
    }

    /// Any command, started in the workspace root.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root);
        cmd
    }

    /// `target/<triple>/release/<name>`.
    pub fn release_artifact(&self, triple: &str, name: &str) -> PathBuf {
        self.target_dir.join(triple).join("release").join(name)
    }

    /// `target/ipcb`: everything xtask writes.
    pub fn ipcb_dir(&self) -> PathBuf {
        self.target_dir.join("ipcb")
    }

    /// A fresh output directory `target/ipcb/<board>-<accel>-<time>-<pid>[-label]`.
    pub fn new_out_dir(&self, board: &str, accel: &str, label: Option<&str>) -> Result<PathBuf> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut name = format!("{board}-{accel}-{}-{}", utc_stamp(secs), std::process::id());
        if let Some(label) = label {
            name.push('-');
            name.push_str(label);
        }
        let base = self.ipcb_dir();
        let mut dir = base.join(&name);
        let mut n = 2;
        while dir.exists() {
            dir = base.join(format!("{name}-{n}"));
            n += 1;
        }
        fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        Ok(dir)
    }
}

/// Formats seconds since the Unix epoch as `YYYYMMDDTHHMMSSZ` (UTC).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The command line of `cmd`, for messages (the program without its directory).
pub fn show(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    let mut s = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        s.push(' ');
        if arg.is_empty() || arg.contains([' ', '"', '\'']) {
            s.push('\'');
            s.push_str(&arg);
            s.push('\'');
        } else {
            s.push_str(&arg);
        }
    }
    s
}

/// Deadline of a quick query.
pub const QUICK_TIMEOUT: Duration = Duration::from_secs(120);
/// Deadline of a build, an install or a download.
pub const LONG_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// Waits for `child` until `timeout`; kills it past that. `Ok(None)`: killed.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `cmd.output()` with a deadline (stdin closed; stdout and stderr read
/// on threads so that a chatty child cannot block on a full pipe).
pub fn output_timeout(mut cmd: Command, timeout: Duration) -> Result<Output> {
    let shown = show(&cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = child.stdout.take().map(|o| drain(Box::new(o)));
    let err = child.stderr.take().map(|e| drain(Box::new(e)));
    let status = wait_timeout(&mut child, timeout)?;
    let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
    let (stdout, stderr) = (join(out), join(err));
    match status {
        Some(status) => Ok(Output { status, stdout, stderr }),
        None => bail!("`{shown}` did not finish within {} s and was killed", timeout.as_secs()),
    }
}

/// Runs `cmd` with inherited stdio (its output streams to the terminal),
/// for at most [`LONG_TIMEOUT`].
pub fn run_streamed(mut cmd: Command, what: &str) -> Result<()> {
    let shown = show(&cmd);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("{what}: cannot start `{shown}`"))?;
    let Some(status) = wait_timeout(&mut child, LONG_TIMEOUT)? else {
        bail!("{what}: `{shown}` did not finish within {} min and was killed", LONG_TIMEOUT.as_secs() / 60);
    };
    if !status.success() {
        bail!("{what} failed: `{shown}` ended with {status}; see its output above");
    }
    Ok(())
}

/// Runs `cmd` (for at most [`QUICK_TIMEOUT`]) and returns its stdout;
/// stderr is returned in the error.
pub fn capture(cmd: Command) -> Result<String> {
    let shown = show(&cmd);
    let out = output_timeout(cmd, QUICK_TIMEOUT)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        match err.lines().map(str::trim).find(|l| !l.is_empty()) {
            Some(first) => bail!("`{shown}` ended with {}: {first}", out.status),
            None => bail!("`{shown}` ended with {}", out.status),
        }
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first line of `cmd`'s stdout, or `None` if it cannot run.
pub fn first_line(cmd: Command) -> Option<String> {
    capture(cmd)
        .ok()?
        .lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
}

/// Finds an executable on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// True when running as root (`id -u` prints 0).
pub fn is_root() -> bool {
    let mut cmd = Command::new("id");
    cmd.arg("-u");
    first_line(cmd).as_deref() == Some("0")
}

/// The commit of the checkout (`-dirty` when tracked files changed), if any.
pub fn git_commit(ws: &Workspace) -> Option<String> {
    let mut cmd = ws.command("git");
    cmd.args(["rev-parse", "HEAD"]);
    let head = first_line(cmd)?;
    let mut cmd = ws.command("git");
    cmd.args(["status", "--porcelain", "--untracked-files=no"]);
    let dirty = capture(cmd).map(|s| !s.trim().is_empty()).unwrap_or(false);
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// `rustc --version` of the pinned toolchain.
pub fn rustc_version(ws: &Workspace) -> Option<String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = ws.command(rustc);
    cmd.arg("--version");
    first_line(cmd)
}

/// Makes an error message fit on one line.
pub fn one_line(msg: &str) -> String {
    msg.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamp_matches_known_dates() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_732_650_000 + 3661), "20241126T204101Z");
    }

    #[test]
    fn show_quotes_arguments_with_spaces() {
        let mut cmd = Command::new("/usr/bin/qemu");
        cmd.args(["-append", "rounds=1 runs=1", "-x"]);
        assert_eq!(show(&cmd), "qemu -append 'rounds=1 runs=1' -x");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\r\n\nc"), "a; b; c");
    }

    #[test]
    fn a_child_past_its_deadline_is_killed() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let t0 = Instant::now();
        let e = output_timeout(cmd, Duration::from_millis(200)).unwrap_err();
        assert!(e.to_string().contains("did not finish within 0 s and was killed"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(10));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo hi; echo err >&2"]);
        let o = output_timeout(cmd, QUICK_TIMEOUT).unwrap();
        assert_eq!((o.stdout.as_slice(), o.stderr.as_slice()), (&b"hi\n"[..], &b"err\n"[..]));
    }

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-ipcb").is_none());
    }
}
