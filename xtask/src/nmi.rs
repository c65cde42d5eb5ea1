// SPDX-License-Identifier: MIT OR Apache-2.0
//! The NMI test: a non-maskable interrupt sent to every CPU in the middle
//! of a run (QMP `inject-nmi`, as a BMC or a watchdog would send one) must
//! not fail the run: each CPU counts it, returns from it, and the kernel
//! says how many arrived in an `IPCB warn` line (one per CPU).
//!
//! QEMU gets a QMP socket in the run's output directory instead of
//! `-monitor none`; once the kernel printed its first result, xtask
//! connects, leaves capabilities negotiation and injects the NMI.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::board::{Accel, Board, Medium, qemu_args};
use crate::protocol::{EndStatus, Line, Transcript};
use crate::qemu::{self, Flow, GuestExit};
use crate::util::Workspace;

/// Sends `inject-nmi` over the QMP socket at `sock`.
fn inject_nmi(sock: &Path) -> Result<()> {
    qemu::qmp(sock, &[r#"{"execute":"inject-nmi"}"#], Duration::from_secs(10))
}

/// QEMU's arguments for `board` with a QMP socket at `sock` in place of
/// `-monitor none`.
fn args_with_qmp(board: &Board, accel: Accel, medium: &Medium<'_>, out_dir: &Path, sock: &Path) -> Vec<OsString> {
    let mut args = qemu_args(board, accel, medium, out_dir);
    if let Some(i) = args.windows(2).position(|w| w[0] == "-monitor" && w[1] == "none") {
        args.drain(i..i + 2);
    }
    args.push("-qmp".into());
    let mut q = OsString::from("unix:");
    q.push(sock);
    q.push(",server=on,wait=off");
    args.push(q);
    args
}

/// Boots `kernel` on `board` under `accel` with `cmdline`, sends an NMI to
/// every CPU after the first result, and checks that the run passes and
/// reports the NMIs. `Err` is the one-line reason.
pub fn check(ws: &Workspace, board: &'static Board, accel: Accel, kernel: &Path, cmdline: &str, timeout: Duration) -> Result<()> {
    let out_dir = ws.new_out_dir(board.name, accel.name(), Some("nmi"))?;
    let sock = out_dir.join("qmp.sock");
    let medium = Medium::Kernel { elf: kernel, cmdline };
    let mut cmd = crate::prereq::qemu_command(board);
    cmd.current_dir(&ws.root);
    cmd.args(args_with_qmp(board, accel, &medium, &out_dir, &sock));
    let console = out_dir.join("console.log");
    let mut t = Transcript::default();
    let mut sent: Option<Result<()>> = None;
    let raw = qemu::run_streaming(cmd, Some(&console), Some(timeout), |n, text, complete| {
        match t.feed(n, text, complete) {
            Ok(Some(Line::Result(_))) if sent.is_none() => {
                sent = Some(inject_nmi(&sock));
                Flow::Continue
            }
            Ok(Some(Line::End(_))) => Flow::ExpectExit,
            Ok(_) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    })?;
    let see = console.display();
    match sent {
        None => bail!("the kernel printed no result, so no NMI was sent; see {see}"),
        Some(Err(e)) => bail!("cannot send the NMI: {e:#}"),
        Some(Ok(())) => {}
    }
    if raw.killed() {
        bail!("the guest did not finish after the NMI (hung or killed); see {see}");
    }
    let exit = qemu::classify(raw.code);
    if t.end != Some(EndStatus::Pass) || exit != GuestExit::Pass {
        let why = t.panic.clone().unwrap_or_else(|| format!("exit {}", exit.describe()));
        bail!("the run did not pass after the NMI ({why}); see {see}");
    }
    // One NMI per CPU: every CPU's LINT1 delivers it.
    let cores = t.hello.as_ref().map_or(1, |h| h.cores);
    let want = format!("{cores} NMI{} arrived", if cores == 1 { "" } else { "s" });
    if !t.warnings.iter().any(|w| w.starts_with(&want)) {
        let got: Vec<&str> = t.warnings.iter().map(String::as_str).filter(|w| w.contains("NMI")).collect();
        bail!("the run passed but did not report one NMI per CPU (\"{want}\"; got {got:?}); see {see}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmp_replaces_the_monitor() {
        let b = crate::board::find_base("pc-x86_64").unwrap();
        let medium = Medium::Kernel { elf: Path::new("/k"), cmdline: "" };
        let args: Vec<String> = args_with_qmp(b, Accel::Icount, &medium, Path::new("/o"), Path::new("/o/qmp.sock"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert!(!args.iter().any(|a| a == "-monitor"), "{args:?}");
        assert!(args.ends_with(&["-qmp".to_string(), "unix:/o/qmp.sock,server=on,wait=off".to_string()]), "{args:?}");
    }
}
