// SPDX-License-Identifier: MIT OR Apache-2.0
//! Booting an AArch64 kernel's Linux `Image` through U-Boot on QEMU
//! `virt`, as a board with U-Boot in flash boots it (the S32G2, most Arm
//! boards): Debian's `u-boot-qemu` (`qemu_arm64/u-boot.bin`) as `-bios`,
//! the `Image` put in RAM at [`LOAD_ADDR`] by QEMU's generic loader, and
//! U-Boot driven over the serial console:
//!
//! 1. a key at `Hit any key to stop autoboot` (U-Boot would otherwise try
//!    virtio, then DHCP/TFTP), then at the `=>` prompt
//! 2. `setenv bootargs <command line>`: U-Boot writes it into the device
//!    tree's `/chosen/bootargs`, which the kernel reads;
//! 3. `booti <LOAD_ADDR> - ${fdtcontroladdr}`: U-Boot checks the Image
//!    header, moves the image if its placement asks for it, and enters it
//!    at EL1 with `x0` = QEMU's device tree and the MMU off.
//!
//! The kernel is started by firmware: no semihosting (QEMU runs without
//! `-semihosting` and the command line has no `exit=semihosting`), so it
//! ends with PSCI `SYSTEM_OFF` through the device tree's conduit and QEMU
//! exits with status 0; the `IPCB end` line is then the verdict
//! ([`power_off_exit`]). Everything after `booti` is decoded as any other
//! boot's console ([`crate::boot::BootOutcome`]).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::ChildStdin;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::board::Board;
use crate::boot::BootOutcome;
use crate::protocol::{EndStatus, Line, ParseError, Transcript};
use crate::qemu::{self, Flow, GuestExit};
use crate::util::{Workspace, first_line, show};

/// Where QEMU's loader puts the `Image` (2 MiB-aligned, 4 MiB into RAM:
/// clear of the device tree QEMU leaves at the start of RAM and of
/// U-Boot, which relocates itself to the top).
pub const LOAD_ADDR: u64 = 0x4040_0000;
/// How long U-Boot may take to reach each point of the dialogue.
const FIRMWARE_STEP: Duration = Duration::from_secs(60);

/// One step of the dialogue with U-Boot: wait for `expect` in its output,
/// then type `send`.
struct Step {
    expect: &'static str,
    send: String,
}

/// The dialogue that stops autoboot and boots the image at [`LOAD_ADDR`]
/// with `cmdline` as `bootargs`.
fn dialogue(cmdline: &str) -> Vec<Step> {
    vec![
        Step { expect: "Hit any key to stop autoboot", send: " ".to_string() },
        Step { expect: "=> ", send: format!("setenv bootargs {cmdline}\r") },
        Step { expect: "=> ", send: "printenv bootargs\r".to_string() },
        Step {
            expect: "=> ",
            send: format!("booti {LOAD_ADDR:#x} - ${{fdtcontroladdr}}\r"),
        },
    ]
}

/// What U-Boot prints when it will not start the image.
const UBOOT_ERRORS: &[&str] = &[
    "Bad Linux ARM64 Image magic",
    "Unknown command",
    "ERROR: ",
    "Could not find a valid device tree",
];

/// What QEMU's exit means after the kernel powered the machine off: status
/// 0 after an `IPCB end` line is that line's verdict (a panic line makes
/// it a panic); anything else is left as [`qemu::classify`] said.
pub fn power_off_exit(exit: GuestExit, t: &Transcript) -> GuestExit {
    match (exit, t.end) {
        (GuestExit::Other(0), Some(_)) if t.panic.is_some() => GuestExit::Panic,
        (GuestExit::Other(0), Some(EndStatus::Pass)) => GuestExit::Pass,
        (GuestExit::Other(0), Some(EndStatus::Fail)) => GuestExit::CheckFailed,
        _ => exit,
    }
}

/// The QEMU arguments: the board's machine (`virt`), U-Boot as `-bios`,
/// the `Image` at [`LOAD_ADDR`], the console on stdio, TCG with the
/// board's CPU and `-smp`. No semihosting.
fn qemu_args(board: &Board, uboot: &str, image: &Path) -> Vec<String> {
    let mut args: Vec<String> = board.machine_args.iter().map(|s| s.to_string()).collect();
    for a in ["-display", "none", "-monitor", "none", "-no-reboot", "-serial", "stdio", "-bios", uboot] {
        args.push(a.to_string());
    }
    args.push("-device".to_string());
    args.push(format!("loader,file={},addr={LOAD_ADDR:#x},force-raw=on", image.display()));
    args.extend(crate::board::Accel::Tcg.qemu_args(board));
    if board.smp > 0 {
        args.push("-smp".to_string());
        args.push(board.smp.to_string());
    }
    args
}

/// Boots the kernel ELF `elf`'s `Image` through U-Boot on `board` (QEMU
/// `virt`) under TCG with `cmdline` as U-Boot's `bootargs`, and decodes
/// the kernel's console. Fails only for host problems; what the guest or
/// U-Boot did wrong is in the outcome (a U-Boot failure as a hang or a
/// parse error naming it).
pub fn boot_image(
    ws: &Workspace,
    board: &'static Board,
    elf: &Path,
    cmdline: &str,
    timeout: Duration,
) -> Result<BootOutcome> {
    crate::prereq::ensure_firmware(&crate::prereq::UBOOT_ARM64)?;
    let uboot = crate::prereq::UBOOT_ARM64.files[0];
    let out_dir = ws.new_out_dir(board.name, "tcg", Some("uboot"))?;
    let image = out_dir.join(crate::image::LINUX_IMAGE);
    crate::image::write_linux_image(elf, &image)?;
    let console = out_dir.join("console.log");
    let mut cmd = crate::prereq::qemu_command(board);
    cmd.current_dir(&ws.root);
    cmd.args(qemu_args(board, uboot, &image));
    let shown = show(&cmd);
    let _ = fs::write(out_dir.join("qemu-command.txt"), format!("{shown}\n"));
    let qemu_version = {
        let mut v = crate::prereq::qemu_command(board);
        v.arg("--version");
        first_line(v)
    };
    eprintln!(
        "[ipcb] booting {}'s Image through U-Boot (booti {LOAD_ADDR:#x}, bootargs \"{cmdline}\") ...; output in {}",
        board.name,
        out_dir.display()
    );

    let mut run = Run {
        steps: dialogue(cmdline).into_iter(),
        step: None,
        firmware_text: String::new(),
        kernel: false,
        lines: qemu::Lines::default(),
        transcript: Transcript::default(),
        parse_error: None,
    };
    run.next_step();
    let raw = qemu::run_session(cmd, Some(&console), Some(FIRMWARE_STEP), true, |session, bytes| {
        let before = run.kernel;
        let flow = match run.feed(bytes, session.stdin.as_mut()) {
            Ok(Progress::Step) => {
                session.set_deadline(Instant::now() + FIRMWARE_STEP);
                Flow::Continue
            }
            Ok(Progress::Going) => Flow::Continue,
            Ok(Progress::End) => Flow::ExpectExit,
            Err(e) => {
                run.parse_error.get_or_insert(e);
                return Flow::Stop;
            }
        };
        if run.kernel && !before {
            session.set_deadline(session.start + timeout);
        }
        flow
    })?;
    if !raw.killed() {
        run.flush();
    }
    if !raw.stderr.trim().is_empty() {
        let _ = fs::write(out_dir.join("qemu-stderr.log"), &raw.stderr);
    }
    let exit = (!raw.killed()).then(|| power_off_exit(qemu::classify(raw.code), &run.transcript));
    let secs = raw.elapsed.as_secs_f64();
    match (exit, raw.code) {
        (Some(GuestExit::Other(_)) | None, _) | (_, None) => match exit {
            Some(e) => eprintln!("[ipcb] QEMU exited after {secs:.1} s: {}", e.describe()),
            None => eprintln!("[ipcb] QEMU killed after {secs:.1} s"),
        },
        (Some(e), Some(c)) => eprintln!(
            "[ipcb] QEMU exited after {secs:.1} s with status {c}: the kernel powered off (PSCI SYSTEM_OFF); by its end line: {}",
            match e {
                GuestExit::Pass => "pass",
                GuestExit::CheckFailed => "a check failed",
                _ => "panic",
            }
        ),
    }
    if !run.kernel && run.parse_error.is_none() {
        let waited = run.step.as_ref().map_or("", |s| s.expect);
        run.parse_error = Some(ParseError {
            line_no: 0,
            text: crate::protocol::excerpt(run.firmware_text.lines().last().unwrap_or("")),
            msg: format!("U-Boot never got to \"{}\" (see {})", waited.trim(), console.display()),
        });
    }
    Ok(BootOutcome {
        transcript: run.transcript,
        exit,
        hung: raw.timed_out,
        stuck_after_end: raw.stuck_after_end,
        parse_error: run.parse_error,
        timeout_secs: Some(timeout.as_secs()),
        out_dir,
        console,
        qemu_stderr: raw.stderr,
        board: board.name,
        qemu_version,
        asked: cmdline.to_string(),
    })
}

/// The kernel's `IPCB config` must show the `rounds` and `runs` given in
/// `bootargs`: else U-Boot's command line never reached it.
pub fn check_bootargs(t: &Transcript, rounds: u64, runs: u32) -> std::result::Result<(), String> {
    match &t.config {
        Some(c) if c.rounds == rounds && c.runs == runs => Ok(()),
        Some(c) => Err(format!(
            "the kernel ran rounds={} runs={}, but U-Boot's bootargs said rounds={rounds} runs={runs}: the command line did not reach it",
            c.rounds, c.runs
        )),
        None => Err("no IPCB config line".to_string()),
    }
}

/// Where the dialogue is.
enum Progress {
    /// Nothing new.
    Going,
    /// A step of the dialogue was taken.
    Step,
    /// The kernel printed its `IPCB end` line.
    End,
}

/// The state of one boot through U-Boot.
struct Run {
    steps: std::vec::IntoIter<Step>,
    /// The step waiting for its text; `None` once `booti` was typed.
    step: Option<Step>,
    /// U-Boot's output since the last step.
    firmware_text: String,
    /// `booti` was typed: what follows is the kernel's console.
    kernel: bool,
    /// The kernel's console, cut into lines.
    lines: qemu::Lines,
    transcript: Transcript,
    parse_error: Option<ParseError>,
}

impl Run {
    fn next_step(&mut self) {
        self.step = self.steps.next();
        if self.step.is_none() {
            self.kernel = true;
        }
    }

    /// Takes `bytes` of QEMU's console: answers U-Boot (on `stdin`), then
    /// decodes the kernel's lines.
    fn feed(&mut self, bytes: &[u8], stdin: Option<&mut ChildStdin>) -> std::result::Result<Progress, ParseError> {
        if self.kernel {
            return self.kernel_bytes(bytes);
        }
        self.firmware_text.push_str(&String::from_utf8_lossy(bytes));
        if let Some(e) = UBOOT_ERRORS.iter().find(|e| self.firmware_text.contains(**e)) {
            let at = self.firmware_text.find(e).unwrap_or(0);
            let line = self.firmware_text[at..].lines().next().unwrap_or("").to_string();
            return Err(ParseError {
                line_no: 0,
                text: crate::protocol::excerpt(&line),
                msg: "U-Boot refused to boot the Image".to_string(),
            });
        }
        let Some(step) = &self.step else { return Ok(Progress::Going) };
        let Some(at) = self.firmware_text.find(step.expect) else { return Ok(Progress::Going) };
        if let Some(stdin) = stdin {
            // Typed slowly enough for U-Boot's 16-byte UART FIFO: it polls
            // the PL011 while it echoes.
            for chunk in step.send.as_bytes().chunks(8) {
                let _ = stdin.write_all(chunk);
                let _ = stdin.flush();
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.firmware_text.drain(..at + step.expect.len());
        self.next_step();
        if self.kernel {
            // Whatever U-Boot printed after the prompt belongs to it.
            self.firmware_text.clear();
        }
        Ok(Progress::Step)
    }

    /// The kernel's console: complete lines into the transcript.
    fn kernel_bytes(&mut self, bytes: &[u8]) -> std::result::Result<Progress, ParseError> {
        let (t, mut err) = (&mut self.transcript, None);
        let flow = self.lines.push(bytes, |n, text, complete| match t.feed(n, text, complete) {
            Ok(Some(Line::End(_))) => Flow::ExpectExit,
            Ok(_) => Flow::Continue,
            Err(e) => {
                err = Some(e);
                Flow::Stop
            }
        });
        match (err, flow) {
            (Some(e), _) => Err(e),
            (None, Flow::ExpectExit) => Ok(Progress::End),
            (None, _) => Ok(Progress::Going),
        }
    }

    /// The last kernel line, if it has no newline.
    fn flush(&mut self) {
        if self.kernel {
            let (t, err) = (&mut self.transcript, &mut self.parse_error);
            self.lines.finish(|n, text, complete| {
                if let Err(e) = t.feed(n, text, complete) {
                    err.get_or_insert(e);
                }
                Flow::Continue
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialogue_sets_bootargs_and_boots_the_image() {
        let d = dialogue("rounds=7 runs=2");
        assert_eq!(d[1].send, "setenv bootargs rounds=7 runs=2\r");
        assert_eq!(d[3].send, "booti 0x40400000 - ${fdtcontroladdr}\r");
    }

    #[test]
    fn a_kernel_that_powers_off_is_judged_by_its_end_line() {
        let pass = Transcript::parse_str(crate::protocol::tests::PASS).unwrap();
        assert_eq!(power_off_exit(GuestExit::Other(0), &pass), GuestExit::Pass);
        let failed = Transcript::parse_str(crate::protocol::tests::FAILED).unwrap();
        assert_eq!(power_off_exit(GuestExit::Other(0), &failed), GuestExit::CheckFailed);
        let none = Transcript::default();
        assert_eq!(power_off_exit(GuestExit::Other(0), &none), GuestExit::Other(0));
        assert_eq!(power_off_exit(GuestExit::Other(1), &pass), GuestExit::Other(1));
    }
}
