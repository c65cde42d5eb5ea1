// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `cargo xtask test` step that shows a board crate is all a board
//! needs: [`COPY_FROM`] is copied to `examples/`[`COPY_NAME`] with that
//! package name and nothing else changed (its glue is a library,
//! `arch_aarch64::kernel`, and its build script `runtime::build`), and
//! `cargo xtask run --board` [`COPY_NAME`] must boot it and pass. Then the
//! copy's metadata is broken three ways, and a `--board` that names no
//! crate is asked for: each must be one `error:` line, naming the crate
//! and the field (the last listing the boards, the copy among them), with
//! exit status 1.
//!
//! The copy and any change to `Cargo.lock` are undone when the step ends,
//! whether it passed or not ([`CrateCopy`]'s `Drop`); a copy left by a killed
//! run is replaced.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::{Workspace, one_line, output_timeout, run_streamed};

/// The board crate the step copies.
pub const COPY_FROM: &str = "qemu-virt-aarch64";
/// The copy's package name, and so its board name.
pub const COPY_NAME: &str = "board-copy-test";
/// Its command line: a short run.
pub const COPY_CMDLINE: &str = "rounds=200 runs=1 warmup=1 sweep=0";

/// A board crate copied into `examples/`, removed on drop (and
/// `Cargo.lock` put back as it was).
struct CrateCopy {
    dir: PathBuf,
    manifest: String,
    lock_path: PathBuf,
    lock: Option<Vec<u8>>,
}

impl CrateCopy {
    fn make(ws: &Workspace, from: &str, to: &str) -> Result<CrateCopy, String> {
        let examples = ws.root.join(super::metadata::BOARDS_DIR);
        let dir = examples.join(to);
        let lock_path = ws.root.join("Cargo.lock");
        let mut copy = CrateCopy { dir: dir.clone(), manifest: String::new(), lock_path: lock_path.clone(), lock: fs::read(&lock_path).ok() };
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove the old copy {}: {e}", dir.display()))?;
        }
        copy_tree(&examples.join(from), &dir).map_err(|e| format!("cannot copy {from} to {}: {e}", dir.display()))?;
        let path = dir.join("Cargo.toml");
        let toml = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // The package's name and its binary's, which must be the same.
        let old = format!("name = \"{from}\"");
        if toml.matches(&old).count() != 2 {
            return Err(format!("{}: expected `{old}` twice ([package] and [[bin]])", path.display()));
        }
        let manifest = toml.replace(&old, &format!("name = \"{to}\""));
        fs::write(&path, &manifest).map_err(|e| format!("{}: {e}", path.display()))?;
        copy.manifest = manifest;
        Ok(copy)
    }

    /// Rewrites the copy's `Cargo.toml`: `from` (present once) becomes `to`.
    fn edit(&self, from: &str, to: &str) -> Result<(), String> {
        if self.manifest.matches(from).count() != 1 {
            return Err(format!("the copy's Cargo.toml does not have `{from}` once"));
        }
        fs::write(self.dir.join("Cargo.toml"), self.manifest.replace(from, to)).map_err(|e| e.to_string())
    }
}

impl CrateCopy {
    /// The copy's `Cargo.toml` as made.
    fn restore(&self) -> Result<(), String> {
        fs::write(self.dir.join("Cargo.toml"), &self.manifest).map_err(|e| e.to_string())
    }
}

impl Drop for CrateCopy {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("[ipcb] warning: cannot remove {}: {e}", self.dir.display());
        }
        if let Some(lock) = &self.lock
            && fs::read(&self.lock_path).ok().as_ref() != Some(lock)
        {
            let _ = fs::write(&self.lock_path, lock);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `cargo xtask ARGS` must fail with exit status 1 and one line, `error:
/// ...`: returns what follows `error: `.
fn one_error(ws: &Workspace, args: &[&str]) -> Result<String, String> {
    let mut cmd = ws.cargo();
    cmd.arg("xtask").args(args);
    let out = output_timeout(cmd, crate::util::QUICK_TIMEOUT).map_err(|e| one_line(&format!("{e:#}")))?;
    let err = String::from_utf8_lossy(&out.stderr);
    match err.strip_suffix('\n').and_then(|l| l.strip_prefix("error: ")) {
        Some(line) if out.status.code() == Some(1) && !line.contains('\n') => Ok(line.to_string()),
        _ => Err(format!("cargo xtask {}: expected exit status 1 and one error line, got {} and {err:?}", args.join(" "), out.status)),
    }
}

/// The step.
pub fn check_copy(ws: &Workspace, timeout: Duration) -> Result<(), String> {
    let copy = CrateCopy::make(ws, COPY_FROM, COPY_NAME)?;
    eprintln!("[ipcb] copied examples/{COPY_FROM} to examples/{COPY_NAME} (package {COPY_NAME})");
    let secs = timeout.as_secs().to_string();
    let mut cmd = ws.cargo();
    cmd.args(["xtask", "run", "--board", COPY_NAME, "--accel", "tcg", "--timeout", &secs, "--", COPY_CMDLINE]);
    run_streamed(cmd, &format!("cargo xtask run --board {COPY_NAME}")).map_err(|e| one_line(&format!("{e:#}")))?;

    // Bad input: each is one line naming the crate and the field.
    let at = format!("board crate {COPY_NAME} (examples/{COPY_NAME}/Cargo.toml): [package.metadata.ipcbench]");
    let build = ["build", "--board", COPY_NAME];
    let expect = |line: String, ok: bool| if ok { Ok(()) } else { Err(format!("unexpected error line: {line}")) };
    copy.edit("target = \"aarch64-unknown-none\"\n", "")?;
    let line = one_error(ws, &build)?;
    expect(line.clone(), line == format!("{at} target: missing"))?;
    copy.edit("exit = \"semihosting\"", "exit = \"reboot\"")?;
    let line = one_error(ws, &build)?;
    expect(line.clone(), line == format!("{at} exit: reboot: on aarch64 one of semihosting, psci-off, park"))?;
    copy.edit("[package.metadata.ipcbench]\n", &format!("[package.metadata.ipcbench]\nname = \"{COPY_FROM}\"\n"))?;
    let line = one_error(ws, &build)?;
    let both = [COPY_FROM, COPY_NAME].iter().all(|c| line.contains(&format!(" {c} (examples/{c}/Cargo.toml) ")));
    expect(line.clone(), both && line.ends_with(&format!("are both named {COPY_FROM}: [package.metadata.ipcbench] name must differ")))?;
    // The good copy again: a board among the others.
    copy.restore()?;
    let line = one_error(ws, &["build", "--board", "vax"])?;
    let listed = line.split("; boards: ").nth(1).is_some_and(|l| l.split(", ").any(|b| b == COPY_NAME) && l.split(", ").any(|b| b == COPY_FROM));
    expect(line.clone(), line.starts_with("unknown board vax: no crate in examples/ has that name; boards: ") && listed)
}
