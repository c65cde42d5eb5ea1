// SPDX-License-Identifier: MIT OR Apache-2.0
//! `cargo xtask`: the host tool of ipcbench-rs.
//!
//! It builds the example kernels and their user programs, boots them in QEMU,
//! decodes the kernel's `IPCB` line protocol (`docs/protocol.md`), prints the
//! results in the layout of L4Re's IPC table, writes `results.json`
//! (DESIGN.md §6) and runs the project's test suite (`cargo xtask test`, the
//! one command CI calls).
//!
//! ```text
//! cargo xtask build [--board pc-x86_64]
//! cargo xtask run   [--board B] [--accel auto|kvm|tcg|icount] [--timeout SECS] [--verbose]
//!                   [--el 1|2] [--cpu MODEL] [--smp N] [--kernel ELF] [-- KERNEL_ARGS]
//! cargo xtask bench [--board B] [--accel auto|kvm|tcg|icount] [--rounds N] [--runs N]
//!                   [--words N] [--json [PATH]] [--timeout SECS] [--verbose] [--el 1|2] [--cpu MODEL]
//!                   [--smp N] [--kernel ELF] [--latency [--counter NAME]]
//! cargo xtask test  [--board B] [--timeout SECS]
//! cargo xtask fuzz  [--board B] [--count N] [--seed S] [--smp N] [--el 1|2] [--accel A] [--timeout SECS] [--verbose]
//! cargo xtask soak  [--board B] [--smp N] [--ipcs M] [--el 1|2] [--accel A] [--timeout SECS] [--verbose]
//! cargo xtask report LOG|DEVICE|- [--board B] [--accel hardware|kvm|tcg|icount] [--json PATH] [--timeout SECS]
//! cargo xtask iso   [--board B] [--out PATH] [--kernel ELF] [-- KERNEL_ARGS]
//! cargo xtask image --board raspi3b|rpi5|s32g2|uefi-aarch64 [--el 1|2] [--out DIR] [--kernel ELF] [-- KERNEL_ARGS]
//! ```
//!
//! Each boot writes `target/ipcb/<board>-<accel>-<time>-<pid>[-label]/`
//! with `console.log` (raw serial), `defmt.bin` (second serial port: the
//! kernel's defmt frames), `defmt.log` (those frames decoded with the kernel
//! ELF, one line each, or why decoding failed; `--verbose` also prints them),
//! `results.json`, `qemu-command.txt` and, when QEMU complained,
//! `qemu-stderr.log`. When the kernel ran the message-size sweep
//! (`IPCB result bench=ipc-sweep words=N ...`), `bench` also writes
//! `sweep.svg` (and `sweep.png` when `/usr/bin/convert` is ImageMagick).
//!
//! Module map:
//!
//! * [`cli`](mod@cli): the subcommands and options, parsed into a [`cli::Cmd`]
//!   (this module runs it);
//! * [`protocol`]: the line decoder;
//! * [`board`]: the boards, read from the board crates' metadata, and
//!   QEMU command lines;
//! * [`qemu`]: running QEMU with a timeout, exit codes;
//! * [`boot`]: one boot, its output directory and its verdict;
//! * [`defmt_log`]: decoding the kernel's defmt diagnostics (`defmt.log`);
//! * [`accel`]: `--accel auto` and the KVM speed calibration;
//! * [`report`], [`table`], [`plot`]: counter relabelling, JSON, the table,
//!   the plots (message-size sweep, per core, latency histograms);
//! * [`image`], [`prereq`]: building kernels and ISOs, installing tools;
//! * [`bench`](mod@bench), [`suite`]: the `bench`/`run` and `test` subcommands;
//! * [`capture`]: `report`, the figures of a real machine from a serial
//!   capture of its console.
//!
//! Every error ends the program with one line, `error: ...`, naming the fix,
//! and a non-zero exit status.

mod accel;
mod baseline;
mod bench;
mod cli;
mod compare;
mod board;
mod boot;
mod capture;
mod defmt_log;
mod fuzz;
mod image;
mod latency;
mod nmi;
mod plot;
mod prereq;
mod protocol;
mod qemu;
mod report;
mod screen;
mod soak;
mod suite;
mod table;
mod uefi_arm;
mod uboot;
mod uefi_pc;
mod util;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::bench::BenchOpts;
use crate::cli::{absolute, cli, parse, variant, Cmd};
use crate::util::{Workspace, one_line};

fn run(cmd: Cmd) -> Result<ExitCode> {
    if let Cmd::Compare { old, new, threshold, force } = &cmd {
        let ok = compare::cmd_compare(old, new, *threshold, *force)?;
        return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let ws = Workspace::locate()?;
    match cmd {
        Cmd::Compare { .. } => unreachable!("handled above"),
        Cmd::Build { board } => {
            let board = board::find(&board)?;
            prereq::ensure_targets(&ws)?;
            let kernel = image::build(&ws, board, &[])?;
            println!("{}", kernel.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            board,
            accel,
            timeout,
            cmdline,
            verbose,
            kernel,
        } => {
            let kernel = absolute(kernel, "--kernel")?;
            bench::cmd_run(
                &ws,
                &board,
                accel,
                timeout,
                &cmdline.join(" "),
                kernel.as_deref(),
                verbose,
            )
        }
        Cmd::Bench {
            board,
            accel,
            rounds,
            runs,
            words,
            json,
            timeout,
            verbose,
            kernel,
            latency,
            counter,
            kpti,
        } => {
            let opts = BenchOpts {
                latency,
                counter,
                kpti,
                board,
                accel,
                rounds,
                runs,
                words,
                json: absolute(json, "--json")?,
                timeout,
                verbose,
                kernel: absolute(kernel, "--kernel")?,
            };
            bench::cmd_bench(&ws, &opts)
        }
        Cmd::Test { board, timeout } => suite::cmd_test(&ws, &board, Duration::from_secs(timeout)),
        Cmd::Fuzz(opts) => fuzz::cmd_fuzz(&ws, &opts),
        Cmd::Soak(opts) => soak::cmd_soak(&ws, &opts),
        Cmd::Report(mut opts) => {
            if opts.log != std::path::Path::new("-") {
                opts.log = absolute(Some(opts.log), "LOG")?.unwrap_or_default();
            }
            opts.json = absolute(opts.json, "--json")?;
            capture::cmd_report(&ws, &opts)
        }
        Cmd::Image {
            board,
            out,
            cmdline,
            kernel,
        } => {
            let b = board::find(&board)?;
            if !uefi_arm::is_uefi(b) && b.raw_image.is_none() && !b.linux_image {
                anyhow::bail!(
                    "board {} boots the ELF: no image to make (`cargo xtask build`; for GRUB, `cargo xtask iso`)",
                    b.name
                );
            }
            let kernel = bench::kernel_for(&ws, b, absolute(kernel, "--kernel")?.as_deref())?;
            let dir = match absolute(out, "--out")? {
                Some(d) => d,
                None => ws.ipcb_dir().join(format!("image-{}", b.name)),
            };
            let cmdline = if cmdline.is_empty() {
                image::DEFAULT_IMAGE_CMDLINE.to_string()
            } else {
                cmdline.join(" ")
            };
            if uefi_arm::is_uefi(b) {
                uefi_arm::cmd_image(&ws, b, &kernel, &dir, &cmdline)?;
                return Ok(ExitCode::SUCCESS);
            }
            let f = image::sd_files(b, &kernel, &dir, &cmdline)?;
            let limit = b
                .raw_image
                .map(|raw| format!(", limit {} ({})", raw.max_footprint, raw.max_footprint_why))
                .unwrap_or_default();
            eprintln!(
                "[ipcb] {}: {} bytes; the kernel occupies {} bytes from {:#x} with .bss{limit}",
                f.image.display(),
                f.image_size,
                f.footprint,
                f.load,
            );
            if let Some(linux) = f.linux_image.as_ref().filter(|p| **p != f.image) {
                eprintln!("[ipcb] {} (Linux arm64 Image, for U-Boot booti)", linux.display());
            }
            if let Some(c) = &f.config {
                eprintln!("[ipcb] {}", c.display());
            }
            eprintln!("[ipcb] {} ({cmdline})", f.cmdline.display());
            if b.emulated {
                eprintln!("[ipcb] QEMU boots it with `cargo xtask bench --board {}`", b.name);
            } else {
                eprintln!(
                    "[ipcb] copy these files to the SD card's FAT32 boot partition: see {}",
                    b.hardware_doc.unwrap_or_default()
                );
            }
            println!("{}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Iso {
            board,
            out,
            cmdline,
            kernel,
        } => {
            let b = board::find(&board)?;
            if !b.grub {
                anyhow::bail!("board {} does not boot from GRUB", b.name);
            }
            prereq::ensure_grub()?;
            let kernel = bench::kernel_for(&ws, b, absolute(kernel, "--kernel")?.as_deref())?;
            image::check_multiboot2(&ws, &kernel)?;
            let out = out.unwrap_or_else(|| ws.ipcb_dir().join(format!("ipcbench-{}.iso", b.name)));
            let cmdline = if cmdline.is_empty() {
                "rounds=20000".to_string()
            } else {
                cmdline.join(" ")
            };
            let iso = image::make_iso(&ws, b, &kernel, &cmdline, &out)?;
            for hint in uefi_pc::boot_hints(&iso) {
                eprintln!("[ipcb] {hint}");
            }
            println!("{}", iso.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    board::set_variant(variant(&matches));
    let cmd = parse(&matches);
    match run(cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
