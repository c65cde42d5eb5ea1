// SPDX-License-Identifier: MIT OR Apache-2.0
//! The suite's verdicts: pure checks of what a boot printed (its
//! transcript, console, files) or a command answered, each an `Err` with
//! the one-line reason. The steps (`super`) run the boots and call these.

use std::collections::BTreeMap;

use crate::protocol::{EndStatus, Transcript};
use crate::qemu::GuestExit;
use crate::boot::{self, BootOutcome};
use crate::{board, image};

use super::err_string;
use super::plan::{BOOT_FIRST_INSN, LATENCY_SLACK, RPI5_BOARD, S32G2_BOARD, WATCHDOG_REASON, WX_TEST};

/// A step's outcome: `Err` holds the one-line reason.
pub type StepResult = std::result::Result<(), String>;

/// Where an arm64 image's first instruction leads: itself when it is not a
/// `b`, else the branch target (the Image header's `code0`). Returns the
/// instruction there.
pub fn entry_insn(image: &[u8]) -> Option<u32> {
    let word = |off: usize| image.get(off..off + 4).map(|w| u32::from_le_bytes(w.try_into().unwrap()));
    let first = word(0)?;
    if first & 0xFC00_0000 != 0x1400_0000 {
        return Some(first);
    }
    // b imm26: a signed word offset.
    let off = (((first & 0x03FF_FFFF) << 6) as i32 >> 6) * 4;
    word(usize::try_from(off).ok()?)
}

/// A published package's metadata (one entry of `cargo metadata`'s
/// `packages`): what crates.io shows, and no placeholder repository.
pub fn check_publish_fields(pkg: &serde_json::Value) -> StepResult {
    for f in ["description", "license", "readme"] {
        if pkg[f].as_str().is_none_or(str::is_empty) {
            return Err(format!("Cargo.toml has no {f}"));
        }
    }
    for f in ["keywords", "categories"] {
        if pkg[f].as_array().is_none_or(Vec::is_empty) {
            return Err(format!("Cargo.toml has no {f}"));
        }
    }
    if let Some(r) = pkg["repository"].as_str() {
        let l = r.to_lowercase();
        if ["example", "placeholder", "todo", "your-", "<", "xxx"].iter().any(|w| l.contains(w)) {
            return Err(format!("repository `{r}` is a placeholder: name the real one or remove it"));
        }
    }
    Ok(())
}

/// Does cargo's error output say the registry could not be reached (as
/// opposed to a problem with the package)?
pub fn registry_unreachable(stderr: &str) -> bool {
    let l = stderr.to_lowercase();
    [
        "could not resolve host",
        "could not connect",
        "download of config.json failed",
        "couldn't resolve host",
        "failed to connect",
        "couldn't connect",
        "connection refused",
        "network unreachable",
        "timed out",
        "spurious network error",
        "failed to query replaced source",
        "ssl connect error",
    ]
    .iter()
    .any(|p| l.contains(p))
}

/// `line` is the last line of a passing `cargo xtask fuzz` of `count`
/// syscalls: `fuzz: N syscalls, K task kills, 0 kernel faults, benchmarks
/// verified`.
pub fn check_fuzz_line(line: &str, count: u64) -> StepResult {
    let rest = line.strip_prefix(&format!("fuzz: {count} syscalls, ")).and_then(|r| r.strip_suffix(" task kills, 0 kernel faults, benchmarks verified"));
    match rest {
        Some(k) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!("the last line is \"{line}\", not \"fuzz: {count} syscalls, K task kills, 0 kernel faults, benchmarks verified\"")),
    }
}

/// The kernel ran at the exception level expected (`None`: any).
pub fn check_el(expected: Option<u8>, said: Option<u8>) -> StepResult {
    match (expected, said) {
        (None, _) => Ok(()),
        (Some(want), Some(got)) if want == got => Ok(()),
        (Some(want), other) => Err(format!(
            "expected EL{want}, the kernel says it ran at {}",
            other.map_or("an unknown level".to_string(), |e| format!("EL{e}"))
        )),
    }
}

/// The Pi 5 files are right: the image begins with the boot code, is
/// padded to the kernel's footprint, which fits below the device tree;
/// `config.txt` is the generated one.
pub fn check_rpi5_files(
    image: &[u8],
    footprint: u64,
    config: &str,
    max_footprint: u64,
) -> StepResult {
    if image.get(0x38..0x3C) != Some(&b"ARM\x64"[..]) {
        return Err("kernel_2712.img has no Linux arm64 Image header (magic ARM\\x64 at 0x38)".to_string());
    }
    match entry_insn(image) {
        Some(BOOT_FIRST_INSN) => {}
        other => {
            return Err(format!(
                "kernel_2712.img's first instruction does not lead to ipcb_start (msr daifset, #0xf) but to {}",
                other.map_or("nothing".to_string(), |i| format!("{i:#010x}"))
            ));
        }
    }
    if image.len() as u64 != footprint {
        return Err(format!(
            "kernel_2712.img is {} bytes, not padded to the kernel's footprint of {footprint}",
            image.len()
        ));
    }
    if footprint > max_footprint {
        return Err(format!("the kernel occupies {footprint} bytes, over {max_footprint}"));
    }
    if config != rpi5_config()? {
        return Err("config.txt differs from the generated one".to_string());
    }
    Ok(())
}

/// The Pi 5's `config.txt`, from its crate's `[raw]` and `[config-txt]`.
pub(crate) fn rpi5_config() -> std::result::Result<String, String> {
    let b = board::find_base(RPI5_BOARD).map_err(err_string)?;
    let dtb = b.config_txt.ok_or("rpi5 has no [config-txt] metadata")?.device_tree_address;
    Ok(image::rpi5_config_txt(&b.raw_image.ok_or("rpi5 has no [raw] metadata")?, dtb))
}

/// The S32G2 files are right: `Image` begins with a Linux arm64 Image
/// header whose `text_offset` is the link address `load` modulo 2 MiB and
/// whose `image_size` covers the `footprint`, its first instruction leads
/// to the boot code, the footprint ends below U-Boot's device tree, and
/// `boot.cmd` is the documented script for `cmdline`.
pub fn check_s32g2_files(
    image: &[u8],
    load: u64,
    footprint: u64,
    script: &str,
    cmdline: &str,
) -> StepResult {
    let u64_at = |o: usize| image.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    if image.get(0x38..0x3C) != Some(&b"ARM\x64"[..]) {
        return Err("Image has no Linux arm64 Image header (magic ARM\\x64 at 0x38)".to_string());
    }
    let (text_offset, image_size) = (u64_at(8).unwrap_or(0), u64_at(16).unwrap_or(0));
    if text_offset != load % (2 << 20) {
        return Err(format!(
            "Image's text_offset is {text_offset:#x}, not {:#x} (its link address {load:#x} modulo 2 MiB)",
            load % (2 << 20)
        ));
    }
    if image_size < footprint || image_size < image.len() as u64 {
        return Err(format!(
            "Image's image_size {image_size} is below the kernel's footprint of {footprint} (or the file's {} bytes)",
            image.len()
        ));
    }
    match entry_insn(image) {
        Some(BOOT_FIRST_INSN) => {}
        other => {
            return Err(format!(
                "Image's first instruction does not lead to ipcb_start (msr daifset, #0xf) but to {}",
                other.map_or("nothing".to_string(), |i| format!("{i:#010x}"))
            ));
        }
    }
    let u = board::find_base(S32G2_BOARD).map_err(err_string)?.u_boot.ok_or("s32g2 has no [u-boot] metadata")?;
    image::s32g2_fits(&u, footprint).map_err(err_string)?;
    if script != image::s32g2_boot_cmd(cmdline) {
        return Err("boot.cmd differs from the documented script".to_string());
    }
    Ok(())
}

/// A boot passes: no problems, and every expected bench has a verified result.
pub fn check_pass(o: &BootOutcome, expected: &[&str]) -> StepResult {
    let problems = o.problems(expected);
    if let Some(p) = problems.first() {
        let who = match &p.subject {
            boot::Subject::Run => String::new(),
            boot::Subject::Bench(b) => format!("{b}: "),
            boot::Subject::Test(t) => format!("test {t}: "),
        };
        let more = if problems.len() > 1 {
            format!(" (and {} more)", problems.len() - 1)
        } else {
            String::new()
        };
        return Err(format!("{who}{}{more}", p.reason));
    }
    for bench in expected {
        if !o
            .transcript
            .results
            .iter()
            .any(|r| r.bench == *bench && r.verified)
        {
            return Err(format!("{bench}: no verified result"));
        }
    }
    Ok(())
}

/// The kernel brought up `n` cores, and each reported a verified result of
/// each of `benches`.
pub fn check_cores(t: &Transcript, n: u32, benches: &[&str]) -> StepResult {
    let cores = t.hello.as_ref().map(|h| h.cores).ok_or("no IPCB hello")?;
    if cores != n {
        return Err(format!("{cores} of {n} CPUs online"));
    }
    for bench in benches {
        for core in 0..n {
            if !t
                .results
                .iter()
                .any(|r| r.bench == *bench && r.core == core && r.verified)
            {
                return Err(format!("{bench}: no verified result from core {core}"));
            }
        }
    }
    Ok(())
}

/// The `IPCB latency` lines of a `latency=` boot under icount: one for
/// each expected benchmark among [`boot::LATENCY_BENCHES`], with the read
/// overhead measured and subtracted, min <= p50 <= p90 <= p99 <= max (and
/// the same of any other latency line, e.g. `floor`'s), and
/// p50 at least the throughput figure of a round (its median per op times
/// the ops per round, less one for rounding) and at most
/// [`LATENCY_SLACK`] above it. Returns how many.
pub fn check_latency(t: &Transcript, expected: &[&str]) -> std::result::Result<usize, String> {
    let mut n = 0;
    // The expected ones must be there; any other (floor, where the board
    // has it) must be consistent too.
    let present = |b: &&&str| t.latencies.iter().any(|l| l.bench == **b);
    for b in boot::LATENCY_BENCHES.iter().filter(|b| expected.contains(b) || present(b)) {
        let l = t
            .latencies
            .iter()
            .find(|l| l.bench == *b)
            .ok_or_else(|| format!("no latency line for {b}"))?;
        if !(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max) {
            return Err(format!("{b}: percentiles out of order: min {} p50 {} p90 {} p99 {} max {}", l.min, l.p50, l.p90, l.p99, l.max));
        }
        if l.overhead_pairs == 0 || l.overhead_min == 0 || l.subtracted != l.overhead_median {
            return Err(format!("{b}: counter overhead not measured and subtracted (pairs {}, min {}, median {}, subtracted {})", l.overhead_pairs, l.overhead_min, l.overhead_median, l.subtracted));
        }
        let tp = t
            .results
            .iter()
            .find(|r| r.bench == *b && r.core == l.core && r.counter == l.counter)
            .ok_or_else(|| format!("{b}: no throughput figure to set the latency beside"))?
            .median
            * l.ops_per_round as f64;
        let d = l.p50 as f64 - tp;
        if !(-1.0..=LATENCY_SLACK).contains(&d) {
            return Err(format!("{b}: p50 {} per {} is {d:+.2} from the throughput round {tp:.2} (allowed -1..+{LATENCY_SLACK})", l.p50, l.unit));
        }
        n += 1;
    }
    Ok(n)
}

/// The kernel's defmt frames reached the host: `defmt.log` in `out_dir`
/// (decoded from `defmt.bin`) holds the boot line (`boot: el N, ...`). On
/// the Arm boards QEMU runs with semihosting, the frames go through the
/// semihosting console.
pub fn check_defmt_boot_line(out_dir: &std::path::Path) -> StepResult {
    let path = out_dir.join("defmt.log");
    let log = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if log.lines().any(|l| l.contains(" boot: ")) {
        Ok(())
    } else {
        Err(format!("no defmt boot line in {} (the kernel's defmt frames did not reach the host)", path.display()))
    }
}

/// Bad input to `cargo xtask` (`args`): it must fail, with exactly one
/// stderr line, `error: ...`, and nothing booted.
pub fn check_bad_input(args: &[&str], success: bool, stderr: &str) -> StepResult {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let shown = args.join(" ");
    if success {
        return Err(format!("`cargo xtask {shown}` succeeded; it must be refused"));
    }
    match lines.as_slice() {
        [one] if one.starts_with("error: ") => Ok(()),
        _ => Err(format!("`cargo xtask {shown}` must print one `error:` line, printed: {}", crate::util::one_line(stderr))),
    }
}

/// A [`WATCHDOG_CMDLINE`](super::plan::WATCHDOG_CMDLINE) boot: the `watchdog` scenario on core 0 alone,
/// then (with several cores) `watchdog-parallel` on every core at once:
/// one `IPCB watchdog` line ([`WATCHDOG_REASON`]) per kill of the spinner
/// (task 0), so two for core 0 and one for each other core (the hello
/// line's `cores=`), each
/// scenario passed (its caller saw `PartnerDied`) on every core, and
/// every result says `interrupts=0`.
pub fn check_watchdog(t: &Transcript) -> StepResult {
    let cores = t.hello.as_ref().map_or(1, |h| h.cores.max(1));
    if let Some(w) = t.watchdogs.iter().find(|w| w.reason != WATCHDOG_REASON) {
        return Err(format!("the watchdog line of core {} says reason {:?}; expected {WATCHDOG_REASON:?}", w.core, w.reason));
    }
    // The scenarios' spinner is task 0 (a fuzz boot's hang episode kills
    // task 4 besides: not counted here).
    let spinners = || t.watchdogs.iter().filter(|w| w.task == Some(0));
    for core in 0..cores {
        let want = if core == 0 && cores > 1 { 2 } else { 1 };
        let got = spinners().filter(|w| w.core == core).count();
        if got != want {
            return Err(format!("{got} \"IPCB watchdog\" lines for core {core} of {cores}; expected {want}"));
        }
    }
    if let Some(w) = spinners().find(|w| w.core >= cores) {
        return Err(format!("an \"IPCB watchdog\" line for core {}, beyond the {cores} cores", w.core));
    }
    if !t.tests.iter().any(|n| n == "watchdog") {
        return Err("no \"IPCB ok test=watchdog\" line".to_string());
    }
    let parallel = t.tests.iter().filter(|n| *n == "watchdog-parallel").count();
    let want = if cores > 1 { cores as usize } else { 0 };
    if parallel != want {
        return Err(format!("{parallel} \"IPCB ok test=watchdog-parallel\" lines; expected {want} (one per core)"));
    }
    if t.results.is_empty() {
        return Err("no results after the watchdog's kill".to_string());
    }
    match t.results.iter().find(|r| r.interrupts != Some(0)) {
        Some(r) => Err(format!("result {} core {}: interrupts={:?}, expected 0", r.bench, r.core, r.interrupts)),
        None => Ok(()),
    }
}

/// A fuzz boot with several cores also fuzzed on every core at once: one
/// `ok fuzz-parallel` line per core of xtask's `kernel up: ... cores=N`
/// (what `cargo xtask fuzz` shows on stderr).
pub fn check_fuzz_parallel(stderr: &str) -> StepResult {
    let cores = stderr
        .lines()
        .find(|l| l.contains("kernel up:"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("cores=")))
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or("no \"kernel up: ... cores=N\" line")?;
    let ok = stderr.lines().filter(|l| l.split_whitespace().collect::<Vec<_>>() == ["[ipcb]", "ok", "fuzz-parallel"]).count();
    let want = if cores > 1 { cores } else { 0 };
    if ok != want {
        return Err(format!("{ok} cores passed fuzz-parallel, expected {want} (the boot has {cores})"));
    }
    Ok(())
}

/// The boot reported the W^X self-test passed ([`WX_TEST`]).
pub fn check_wx(t: &Transcript) -> StepResult {
    if t.tests.iter().any(|n| n == WX_TEST) {
        Ok(())
    } else {
        Err(format!("no \"IPCB ok test={WX_TEST}\" line (selftest=wx)"))
    }
}

pub fn list_tests(t: &Transcript) {
    if t.tests.is_empty() {
        eprintln!("[ipcb] warning: the kernel reported no \"IPCB ok\" correctness tests");
    } else {
        eprintln!(
            "[ipcb] kernel tests passed ({}): {}",
            t.tests.len(),
            t.tests.join(", ")
        );
    }
}

/// A figure's identity: bench, message words (the sweep), core, counter.
type FigureKey = (String, Option<u64>, u32, String);

/// `ipc-sweep words 8 core 0 tsc`, for messages.
fn figure_name((bench, words, core, counter): &FigureKey) -> String {
    let words = words.map(|w| format!(" words {w}")).unwrap_or_default();
    format!("{bench}{words} core {core} {counter}")
}

/// Compares the per-op figures (medians) of two runs; returns how many matched.
pub fn compare_figures(a: &Transcript, b: &Transcript) -> std::result::Result<usize, String> {
    let figures = |t: &Transcript| -> BTreeMap<FigureKey, f64> {
        t.results
            .iter()
            .map(|r| {
                (
                    (r.bench.clone(), r.words, r.core, r.counter.clone()),
                    r.median,
                )
            })
            .collect()
    };
    let (fa, fb) = (figures(a), figures(b));
    if fa.is_empty() {
        return Err("no figures to compare".to_string());
    }
    let mut diffs = Vec::new();
    for (k, va) in &fa {
        let name = figure_name(k);
        match fb.get(k) {
            Some(vb) if vb == va => {}
            Some(vb) => diffs.push(format!("{name}: {va:.2} then {vb:.2}")),
            None => diffs.push(format!("{name}: missing in the second boot")),
        }
    }
    for k in fb.keys().filter(|k| !fa.contains_key(*k)) {
        diffs.push(format!("{}: missing in the first boot", figure_name(k)));
    }
    if diffs.is_empty() {
        Ok(fa.len())
    } else {
        Err(format!(
            "figures differ between two icount boots: {}",
            diffs.join("; ")
        ))
    }
}

/// A fault-injection boot detected the fault: an `IPCB fail` for an IPC
/// benchmark, `IPCB end status=fail` and exit code 35. Returns what failed.
pub fn injection_detected(o: &BootOutcome) -> std::result::Result<String, String> {
    if let Some(e) = &o.parse_error {
        return Err(e.to_string());
    }
    if o.hung || o.stuck_after_end {
        // Reuse the detailed message.
        let p = o.problems(&[]);
        return Err(p
            .first()
            .map_or_else(|| "guest hung".to_string(), |p| p.reason.clone()));
    }
    let t = &o.transcript;
    let Some(f) = t
        .failures
        .iter()
        .find(|f| !f.is_test && f.bench.starts_with("ipc-"))
    else {
        return Err(format!(
            "no \"IPCB fail\" line for an IPC benchmark (last line: \"{}\")",
            crate::protocol::excerpt(&t.last_line)
        ));
    };
    if t.end != Some(EndStatus::Fail) {
        return Err(match t.end {
            Some(EndStatus::Pass) => "kernel ended with status=pass".to_string(),
            _ => "no \"IPCB end status=fail\" line".to_string(),
        });
    }
    match o.exit {
        Some(GuestExit::CheckFailed) => Ok(format!("{}: {}", f.bench, f.reason)),
        Some(other) => Err(format!("expected exit code 35, got {}", other.describe())),
        None => Err("QEMU was killed".to_string()),
    }
}

/// The `results.json` fields that describe the host run rather than the
/// kernel's console: a report from a serial capture leaves them empty.
pub const HOST_FIELDS: &[&str] = &["git_commit", "rustc", "qemu", "kernel_cmdline", "exit_code"];

/// `cargo xtask report`'s JSON (`got`) against the JSON of the boot whose
/// console it was given (`want`): every field but [`HOST_FIELDS`] equal.
pub fn check_report_json(want: &str, got: &str) -> StepResult {
    let parse = |s: &str, what: &str| match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) | Err(_) => Err(format!("the {what} JSON is not an object")),
    };
    let (want, got) = (parse(want, "boot's")?, parse(got, "report's")?);
    let keys = want.keys().chain(got.keys()).filter(|k| !HOST_FIELDS.contains(&k.as_str()));
    let differ: std::collections::BTreeSet<&str> = keys.filter(|k| want.get(*k) != got.get(*k)).map(String::as_str).collect();
    if differ.is_empty() {
        Ok(())
    } else {
        Err(format!("the report's results.json differs from the boot's in: {}", differ.into_iter().collect::<Vec<_>>().join(", ")))
    }
}
