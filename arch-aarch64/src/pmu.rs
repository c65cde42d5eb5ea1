// SPDX-License-Identifier: MIT OR Apache-2.0
//! PMUv3 counters, programmed for reads from user mode (as L4Re's ipcbench
//! reads them), and the CPU's identity.
//!
//! * **PMCCNTR_EL0**, the cycle counter, 64 bits (`PMCR_EL0.LC`), counting
//!   at EL0, EL1 and EL2 (`PMCCFILTR_EL0.NSH`, so the kernel's time counts
//!   when it runs at EL2 with VHE). User selector 0.
//! * **Instructions retired** (common event 0x08) on event counter 0, when
//!   `PMCEID0_EL0` bit 8 says the CPU has it, with the same filter. User
//!   selector 1 (event counter index + 1). QEMU TCG announces the event only
//!   under `-icount` (PLATFORM-NOTES §3d).
//!
//! User mode may read, not write: `PMUSERENR_EL0.CR` and `ER` are set, `EN`
//! is not. The aarch64-cpu crate has no PMU registers, so this module
//! writes its own `mrs`/`msr`. A counter the CPU lacks is reported absent
//! and never programmed.

use pmu::{CounterKind, CounterSet, MAX_COUNTERS};
use runtime::CounterSelector;

/// Selector of PMCCNTR_EL0 (user programs read it with `mrs pmccntr_el0`).
pub const SEL_PMCCNTR: CounterSelector = 0;
/// Selector of event counter 0 (`mrs pmevcntr0_el0`).
pub const SEL_EVENT0: CounterSelector = 1;

/// Common event number: instructions architecturally executed.
pub const EVENT_INST_RETIRED: u64 = 0x08;
/// Filter bit: count at EL2 (non-secure).
pub const FILTER_NSH: u64 = 1 << 27;

/// Read system register `$r` (a string literal) into a `u64`.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
macro_rules! mrs {
    ($r:literal) => {{
        let v: u64;
        // SAFETY: reading a PMU or ID register has no side effects; EL1
        // (and EL2) may read every register named in this module.
        unsafe {
            core::arch::asm!(concat!("mrs {}, ", $r), out(reg) v, options(nomem, nostack, preserves_flags))
        };
        v
    }};
}

/// Write `$v` to system register `$r` (a string literal).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
macro_rules! msr {
    ($r:literal, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: the PMU registers written here configure counting and
        // user access to the counters; they touch no memory.
        unsafe { core::arch::asm!(concat!("msr ", $r, ", {}"), in(reg) v, options(nostack, preserves_flags)) };
    }};
}

/// Is a PMUv3 there (`ID_AA64DFR0_EL1.PMUVer` neither 0 nor IMPLEMENTATION
/// DEFINED)?
pub fn present() -> bool {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let v = (mrs!("id_aa64dfr0_el1") >> 8) & 0xF;
        v != 0 && v != 0xF
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    false
}

/// Probe and program the counters; returns the set and user selectors.
pub fn init() -> (CounterSet, [CounterSelector; MAX_COUNTERS]) {
    let mut set = CounterSet::new();
    let mut sel = [0; MAX_COUNTERS];
    if !present() {
        return (set, sel);
    }
    let mut i = 0;
    if program() {
        set.push(CounterKind::Instructions);
        sel[i] = SEL_EVENT0;
        i += 1;
    }
    set.push(CounterKind::Pmccntr);
    sel[i] = SEL_PMCCNTR;
    (set, sel)
}

/// Program the cycle counter and, if the CPU has the event, the
/// instructions counter; returns whether it has.
fn program() -> bool {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let n = (mrs!("pmcr_el0") >> 11) & 0x1F;
        let inst = n >= 1 && mrs!("pmceid0_el0") & (1 << EVENT_INST_RETIRED) != 0;
        msr!("pmcntenclr_el0", u64::from(u32::MAX)); // everything off
        msr!("pmovsclr_el0", u64::from(u32::MAX)); // no stale overflows
        msr!("pmccfiltr_el0", FILTER_NSH); // EL0, EL1 and EL2
        if inst {
            msr!("pmevtyper0_el0", EVENT_INST_RETIRED | FILTER_NSH);
        }
        // E: enable; P, C: reset the counters; LC: 64-bit cycle counter.
        msr!("pmcr_el0", (1 << 6) | (1 << 2) | (1 << 1) | 1);
        msr!("pmcntenset_el0", (1 << 31) | u64::from(inst));
        // CR, ER: EL0 may read the cycle and event counters (not write).
        msr!("pmuserenr_el0", (1 << 2) | (1 << 3));
        aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
        inst
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    false
}

/// Read PMCCNTR_EL0.
#[inline(always)]
pub fn cycles() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        mrs!("pmccntr_el0")
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

/// Read the virtual counter (CNTVCT_EL0), which every CPU has.
#[inline(always)]
pub fn ticks() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        mrs!("cntvct_el0")
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

/// Timed loop for the boot calibration: `iters` iterations of `subs;
/// b.ne`, timed with PMCCNTR (or CNTVCT without a PMU).
pub fn calibrate(iters: u64) -> (&'static str, u64) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let (name, read): (&'static str, fn() -> u64) =
            if present() { ("pmccntr", cycles) } else { ("cntvct", ticks) };
        let t0 = read();
        // SAFETY: a register-only loop.
        unsafe {
            core::arch::asm!(
                "2: subs {n}, {n}, #1", // n -= 1
                "b.ne 2b",              // until n == 0
                n = inout(reg) iters.max(1) => _,
                options(nomem, nostack),
            );
        }
        (name, read() - t0)
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    {
        let _ = iters;
        unimplemented!("calibration runs on the target only")
    }
}

/// The implementer's name for `MIDR_EL1.Implementer`.
pub fn implementer_name(imp: u8) -> Option<&'static str> {
    Some(match imp {
        // 0x00 is reserved for software use: QEMU's `max` CPU.
        0x00 => "software",
        0x41 => "ARM",
        0x42 => "Broadcom",
        0x43 => "Cavium",
        0x46 => "Fujitsu",
        0x48 => "HiSilicon",
        0x4E => "NVIDIA",
        0x51 => "Qualcomm",
        0x61 => "Apple",
        0xC0 => "Ampere",
        _ => return None,
    })
}

/// The name of an Arm Ltd. part (`MIDR_EL1.PartNum`).
pub fn arm_part_name(part: u16) -> Option<&'static str> {
    Some(match part {
        0xD03 => "Cortex-A53",
        0xD04 => "Cortex-A35",
        0xD05 => "Cortex-A55",
        0xD07 => "Cortex-A57",
        0xD08 => "Cortex-A72",
        0xD09 => "Cortex-A73",
        0xD0A => "Cortex-A75",
        0xD0B => "Cortex-A76",
        0xD0C => "Neoverse-N1",
        0xD0D => "Cortex-A77",
        0xD40 => "Neoverse-V1",
        0xD41 => "Cortex-A78",
        0xD44 => "Cortex-X1",
        0xD46 => "Cortex-A510",
        0xD47 => "Cortex-A710",
        0xD49 => "Neoverse-N2",
        0xD4F => "Neoverse-V2",
        0xD80 => "Cortex-A520",
        0xD81 => "Cortex-A720",
        0xD82 => "Cortex-X4",
        0xD8E => "Neoverse-N3",
        _ => return None,
    })
}

/// The name of a part of another implementer than Arm Ltd.
pub fn other_part_name(imp: u8, part: u16) -> Option<&'static str> {
    Some(match (imp, part) {
        (0x00, 0x051) => "QEMU max",
        (0xC0, 0xAC3) => "AmpereOne",
        (0xC0, 0xAC4) => "AmpereOne AC04",
        (0x51, 0x800..=0x805) => "Kryo",
        (0x46, 0x001) => "A64FX",
        (0x48, 0xD01) => "TaiShan v110",
        (0x61, 0x022..=0x029) => "Apple M1",
        (0x4E, 0x004) => "Carmel",
        (0x43, 0x0AF) => "ThunderX2",
        _ => return None,
    })
}

/// Write `v` as hexadecimal (`0x..`, `digits` digits) into `out` at `*n`.
fn put_hex(out: &mut [u8], n: &mut usize, v: u64, digits: u32) {
    for b in *b"0x" {
        put(out, n, b);
    }
    for i in (0..digits).rev() {
        let d = ((v >> (4 * i)) & 0xF) as u8;
        put(out, n, if d < 10 { b'0' + d } else { b'a' + d - 10 });
    }
}

fn put(out: &mut [u8], n: &mut usize, b: u8) {
    if *n < out.len() {
        out[*n] = b;
        *n += 1;
    }
}

fn put_str(out: &mut [u8], n: &mut usize, s: &str) {
    for b in s.bytes() {
        put(out, n, b);
    }
}

/// Vendor and model from a `MIDR_EL1` value: the implementer's name, and
/// the part's name (or number) with its revision, e.g. `Cortex-A76 r4p0`.
pub fn describe_midr(midr: u64, vendor: &mut [u8; 16], model: &mut [u8; 48]) -> (usize, usize) {
    let imp = (midr >> 24) as u8;
    let variant = (midr >> 20) & 0xF;
    let part = ((midr >> 4) & 0xFFF) as u16;
    let revision = midr & 0xF;
    let mut v = 0;
    match implementer_name(imp) {
        Some(s) => put_str(vendor, &mut v, s),
        None => put_hex(vendor, &mut v, u64::from(imp), 2),
    }
    let mut m = 0;
    let name = if imp == 0x41 { arm_part_name(part) } else { other_part_name(imp, part) };
    match name {
        Some(s) => put_str(model, &mut m, s),
        None => {
            put_str(model, &mut m, "part ");
            put_hex(model, &mut m, u64::from(part), 3);
        }
    }
    put_str(model, &mut m, " r");
    put(model, &mut m, b'0' + variant as u8);
    put(model, &mut m, b'p');
    put(model, &mut m, b'0' + revision as u8);
    (v, m)
}

/// Vendor and model of this CPU.
pub fn identity(vendor: &mut [u8; 16], model: &mut [u8; 48]) -> (usize, usize) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    let midr = mrs!("midr_el1");
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let midr = 0;
    describe_midr(midr, vendor, model)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    fn describe(midr: u64) -> (String, String) {
        let (mut v, mut m) = ([0u8; 16], [0u8; 48]);
        let (vl, ml) = describe_midr(midr, &mut v, &mut m);
        (String::from_utf8(v[..vl].to_vec()).unwrap(), String::from_utf8(m[..ml].to_vec()).unwrap())
    }

    #[test]
    fn names_known_and_unknown_parts() {
        assert_eq!(describe(0x414F_D0B0), ("ARM".into(), "Cortex-A76 r4p0".into()));
        assert_eq!(describe(0x410F_D034), ("ARM".into(), "Cortex-A53 r0p4".into()));
        assert_eq!(describe(0x000F_0510), ("software".into(), "QEMU max r0p0".into()));
        assert_eq!(describe(0x413F_D0C1), ("ARM".into(), "Neoverse-N1 r3p1".into()));
        assert_eq!(describe(0xC00F_AC30), ("Ampere".into(), "AmpereOne r0p0".into()));
        assert_eq!(describe(0x4E0F_0990), ("NVIDIA".into(), "part 0x099 r0p0".into()));
    }
}
