// SPDX-License-Identifier: MIT OR Apache-2.0
//! Choosing the accelerator: `--accel auto|kvm|tcg|icount`.
//!
//! `auto` uses KVM only when it runs the guest at hardware speed. Some hosts
//! offer a `/dev/kvm` that emulates a bare-metal guest hundreds of times
//! slower than TCG (PLATFORM-NOTES §3e: about 1,600 TSC ticks per
//! instruction), and their timings mean nothing. So `auto` boots the kernel
//! once under KVM with a tiny configuration and reads its `IPCB calib` line: a
//! loop of `iters` iterations of 2 instructions took `delta` ticks. Below
//! [`MAX_TICKS_PER_INSTRUCTION`] ticks per instruction the guest runs
//! natively; otherwise, or on any failure, we fall back to TCG with icount
//! (exact instruction counts, labelled as such: never virtual time passed
//! off as cycles) and say why. Plain TCG runs only when asked for.
//!
//! Some hosts' KVM refuses `IA32_ARCH_CAPABILITIES` (MSR 0x10a), and QEMU
//! then cannot start a `-cpu host` guest at all; the calibration boot is
//! retried once with `-cpu host,-arch-capabilities`, which every later KVM
//! boot of the run then uses.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::board::{Accel, Board, Medium};
use crate::boot::{self, BootSpec, Progress};
use crate::protocol::{EndStatus, Transcript};
use crate::util::Workspace;

/// The accelerator the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelChoice {
    /// KVM if it runs at hardware speed, else TCG.
    Auto,
    /// KVM (`-accel kvm -cpu host`).
    Kvm,
    /// TCG: timings are virtual time.
    Tcg,
    /// TCG with `-icount shift=0,sleep=off`: exact instruction counts.
    Icount,
}

impl AccelChoice {
    /// The names accepted by `--accel`.
    pub const NAMES: [&'static str; 4] = ["auto", "kvm", "tcg", "icount"];

    /// Parses an `--accel` value.
    pub fn parse(name: &str) -> Option<AccelChoice> {
        match name {
            "auto" => Some(AccelChoice::Auto),
            "kvm" => Some(AccelChoice::Kvm),
            "tcg" => Some(AccelChoice::Tcg),
            "icount" => Some(AccelChoice::Icount),
            _ => None,
        }
    }
}

/// Hardware speed: fewer counter ticks than this per instruction.
pub const MAX_TICKS_PER_INSTRUCTION: f64 = 20.0;

/// Command line of the calibration boot.
pub const CALIBRATION_CMDLINE: &str = "rounds=1 runs=1 warmup=0";

/// Timeout of the calibration boot.
pub const CALIBRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The note printed whenever a run uses plain TCG.
pub const TCG_WARNING: &str =
    "timings are virtual time, not CPU cycles; use --accel icount for exact instruction counts";

/// Decides from a calibration boot whether KVM runs at hardware speed.
///
/// `problems` are the boot's failures (see [`boot::BootOutcome::problems`]).
/// Returns the ticks per instruction, or why KVM is not usable.
pub fn judge_calibration(t: &Transcript, problems: &[String]) -> Result<f64, String> {
    if let Some(p) = problems.first() {
        return Err(format!("calibration boot failed: {p}"));
    }
    if t.end != Some(EndStatus::Pass) {
        return Err("calibration boot did not end with \"IPCB end status=pass\"".to_string());
    }
    let Some(c) = &t.calib else {
        return Err("calibration boot printed no \"IPCB calib\" line".to_string());
    };
    let Some(tpi) = c.ticks_per_instruction() else {
        return Err("calibration loop reported iters=0".to_string());
    };
    if tpi >= MAX_TICKS_PER_INSTRUCTION {
        return Err(format!(
            "{tpi:.1} {} ticks per instruction in the calibration loop, hardware speed is below {MAX_TICKS_PER_INSTRUCTION:.0}",
            c.counter
        ));
    }
    Ok(tpi)
}

/// Why KVM cannot even be tried for this board on this host, if so.
fn kvm_unavailable(board: &Board) -> Option<String> {
    if std::env::consts::ARCH != board.kvm_host_arch {
        return Some(format!(
            "this host is {}, {} needs a {} host for KVM",
            std::env::consts::ARCH,
            board.name,
            board.kvm_host_arch
        ));
    }
    match OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        Ok(_) => None,
        Err(e) => Some(format!("cannot open /dev/kvm read-write: {e}")),
    }
}

/// Prints why `auto` does not use KVM, and what it uses instead.
pub fn warn_fallback(reason: &str) {
    eprintln!(
        "warning: KVM unavailable or not at hardware speed ({reason}); using TCG with icount: figures are exact instruction counts, not cycles"
    );
}

/// The `-cpu` for KVM on hosts that refuse MSR 0x10a.
pub const KVM_CPU_NO_ARCH_CAPS: &str = "host,-arch-capabilities";

/// Whether a failed KVM boot is QEMU refusing IA32_ARCH_CAPABILITIES
/// (`failed to set MSR 0x10a`, or the assertion that follows it).
pub fn is_arch_capabilities_refusal(reason: &str) -> bool {
    reason.contains("MSR 0x10a") || reason.contains("kvm_buf_set_msrs")
}

/// Resolves `choice` to an accelerator, booting a calibration run for `auto`.
pub fn resolve(
    ws: &Workspace,
    board: &'static Board,
    choice: AccelChoice,
    kernel: &Path,
) -> Result<Accel> {
    match choice {
        AccelChoice::Kvm => Ok(Accel::Kvm),
        AccelChoice::Icount => Ok(Accel::Icount),
        AccelChoice::Tcg => {
            eprintln!("note: accel tcg: {TCG_WARNING}");
            Ok(Accel::Tcg)
        }
        AccelChoice::Auto => {
            if let Some(reason) = kvm_unavailable(board) {
                warn_fallback(&reason);
                return Ok(Accel::Icount);
            }
            eprintln!(
                "[ipcb] accel auto: calibration boot under KVM ({CALIBRATION_CMDLINE}, timeout {} s) ...",
                CALIBRATION_TIMEOUT.as_secs()
            );
            let spec = BootSpec {
                board,
                accel: Accel::Kvm,
                medium: Medium::Kernel {
                    elf: kernel,
                    cmdline: CALIBRATION_CMDLINE,
                },
                cmdline: CALIBRATION_CMDLINE,
                timeout: Some(CALIBRATION_TIMEOUT),
                label: Some("calibration"),
                progress: Progress::Quiet,
                strict: true,
                echo_defmt: false,
            };
            let calibrate = || match boot::boot(ws, &spec) {
                Ok(o) => {
                    let problems: Vec<String> = o
                        .problems(board.expected_benches)
                        .into_iter()
                        .map(|p| p.reason)
                        .collect();
                    judge_calibration(&o.transcript, &problems)
                }
                Err(e) => Err(format!("{e:#}")),
            };
            let mut verdict = calibrate();
            if let Err(reason) = &verdict
                && board.arch == "x86_64"
                && is_arch_capabilities_refusal(reason)
            {
                eprintln!(
                    "[ipcb] KVM refused IA32_ARCH_CAPABILITIES (MSR 0x10a): retrying with -cpu {KVM_CPU_NO_ARCH_CAPS}"
                );
                crate::board::set_kvm_cpu(KVM_CPU_NO_ARCH_CAPS);
                verdict = calibrate();
            }
            match verdict {
                Ok(tpi) => {
                    eprintln!(
                        "[ipcb] KVM runs at hardware speed ({tpi:.2} ticks per instruction): using kvm"
                    );
                    Ok(Accel::Kvm)
                }
                Err(reason) => {
                    warn_fallback(&reason);
                    Ok(Accel::Icount)
                }
            }
        }
    }
}

/// After a KVM run: warn when its own calibration line shows emulation speed.
pub fn check_kvm_speed(t: &Transcript) {
    if let Some(w) = kvm_speed_warning(t) {
        eprintln!("warning: {w}");
    }
}

/// What [`check_kvm_speed`] says of a KVM boot, if anything: a calibration
/// loop far from hardware speed, and, when the kernel's tests then failed
/// with user page faults, where those come from.
pub fn kvm_speed_warning(t: &Transcript) -> Option<String> {
    let c = t.calib.as_ref()?;
    let tpi = c.ticks_per_instruction().filter(|&tpi| tpi >= MAX_TICKS_PER_INSTRUCTION)?;
    let mut w = format!(
        "under KVM the calibration loop took {tpi:.1} {} ticks per instruction: this KVM is not running the guest at hardware speed, its timings are not cycles",
        c.counter
    );
    if t.failures.iter().any(|f| f.reason.contains("unexpected fault vector 14 ")) {
        w.push_str(
            "; it emulates the guest, and its SYSCALL can land at the kernel's entry still in user mode (a user #PF, error 0x15 in defmt.log, which no CPU raises): the failures are this KVM's; use --accel icount",
        );
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calib(iters: u64, delta: u64) -> Transcript {
        Transcript::parse_str(&format!(
            "IPCB hello proto=1 board=pc-x86_64 arch=x86_64 el=- cores=1\n\
             IPCB calib iters={iters} counter=tsc delta={delta}\n\
             IPCB end status=pass\n"
        ))
        .unwrap()
    }

    #[test]
    fn accel_names_parse() {
        for n in AccelChoice::NAMES {
            assert!(AccelChoice::parse(n).is_some(), "{n}");
        }
        assert_eq!(AccelChoice::parse("icount"), Some(AccelChoice::Icount));
        assert_eq!(AccelChoice::parse("fast"), None);
    }

    #[test]
    fn hardware_speed_is_accepted() {
        // A 3 GHz TSC and ~1 instruction per cycle: about 1 tick per instruction.
        assert_eq!(
            judge_calibration(&calib(1_000_000, 2_000_000), &[]),
            Ok(1.0)
        );
        assert!(judge_calibration(&calib(1_000_000, 39_999_999), &[]).is_ok());
    }

    #[test]
    fn emulating_kvm_is_rejected() {
        // PLATFORM-NOTES §3e: about 1,600 ticks per instruction.
        let e = judge_calibration(&calib(1_000_000, 3_200_000_000), &[]).unwrap_err();
        assert_eq!(
            e,
            "1600.0 tsc ticks per instruction in the calibration loop, hardware speed is below 20"
        );
        assert!(judge_calibration(&calib(1_000_000, 40_000_000), &[]).is_err());
    }

    #[test]
    fn slow_kvm_is_named_and_its_syscall_faults_explained() {
        assert_eq!(kvm_speed_warning(&calib(1_000_000, 2_000_000)), None);
        let w = kvm_speed_warning(&calib(1_000_000, 1_577_720_000)).unwrap();
        assert!(w.starts_with("under KVM the calibration loop took 788.9 tsc ticks per instruction") && !w.contains("SYSCALL"), "{w}");
        let t = Transcript::parse_str(
            "IPCB calib iters=1000000 counter=tsc delta=1577720000\n\
             IPCB fail test=bad-syscall reason=\"unexpected fault vector 14 at pc 0xffffffff80101180\"\n",
        )
        .unwrap();
        let w = kvm_speed_warning(&t).unwrap();
        assert!(w.contains("SYSCALL can land at the kernel's entry still in user mode") && w.ends_with("use --accel icount"), "{w}");
    }

    #[test]
    fn arch_capabilities_refusal_is_recognised() {
        assert!(is_arch_capabilities_refusal(
            "calibration boot failed: QEMU ended with exit code 1; QEMU says: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x2000000e0eb"
        ));
        assert!(is_arch_capabilities_refusal("qemu-system-x86_64: ../target/i386/kvm/kvm.c:3007: kvm_buf_set_msrs: Assertion failed"));
        assert!(!is_arch_capabilities_refusal("cannot open /dev/kvm read-write: Permission denied"));
    }

    #[test]
    fn failures_reject_kvm() {
        let e = judge_calibration(&calib(1, 1), &["guest hung: ...".to_string()]).unwrap_err();
        assert_eq!(e, "calibration boot failed: guest hung: ...");
        let e = judge_calibration(&calib(0, 5), &[]).unwrap_err();
        assert!(e.contains("iters=0"));
        let t = Transcript::parse_str("IPCB end status=pass\n").unwrap();
        assert!(
            judge_calibration(&t, &[])
                .unwrap_err()
                .contains("no \"IPCB calib\" line")
        );
        let t =
            Transcript::parse_str("IPCB calib iters=1 counter=tsc delta=2\nIPCB end status=fail\n")
                .unwrap();
        assert!(
            judge_calibration(&t, &[])
                .unwrap_err()
                .contains("status=pass")
        );
    }
}
