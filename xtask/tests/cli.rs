// SPDX-License-Identifier: MIT OR Apache-2.0
//! End-to-end checks of the `xtask` binary's command line: help, and the
//! one-line errors that need no QEMU and no kernel build.

use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

#[test]
fn help_lists_the_subcommands() {
    let out = xtask(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["build", "run", "bench", "test", "iso"] {
        assert!(help.contains(sub), "{sub} missing from:\n{help}");
    }
    let out = xtask(&["bench", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--board",
        "--accel",
        "--rounds",
        "--runs",
        "--json",
        "--timeout",
        "--verbose",
    ] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
}

#[test]
fn unemulated_and_unknown_boards_are_one_clear_error_line() {
    for sub in ["bench", "run", "test"] {
        for (board, doc) in [("rpi5", "docs/raspberry-pi.md"), ("s32g2", "docs/s32g2.md")] {
            let out = xtask(&[sub, "--board", board]);
            assert_eq!(out.status.code(), Some(1), "{sub}");
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                format!(
                    "error: board {board} is not emulated by QEMU: make its boot files with \
                     `cargo xtask image --board {board}` and run them on the board ({doc})\n"
                ),
                "{sub}"
            );
        }
    }
    let out = xtask(&["iso", "--board", "rpi5"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: board rpi5 does not boot from GRUB\n"
    );
    let out = xtask(&["build", "--board", "vax"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: unknown board vax: no crate in examples/ has that name; boards: pc-x86_64, qemu-virt-aarch64, raspi3b, rpi5, s32g2, uefi-aarch64, zcu102\n"
    );
    let out = xtask(&["image", "--board", "pc-x86_64"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: board pc-x86_64 boots the ELF"));
}

#[test]
fn bad_options_are_rejected_by_the_parser() {
    let out = xtask(&["bench", "--accel", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'fast'"));
    let out = xtask(&[]);
    assert_ne!(out.status.code(), Some(0));
}
