// SPDX-License-Identifier: MIT OR Apache-2.0
//! The TSC's rate, and whether it is invariant.
//!
//! The rate is needed for the start-up protocol's delays (`apic.rs`) and
//! is reported with the results, so that TSC figures can be turned into
//! time. It is taken, in this order, from:
//!
//! 1. CPUID leaf 0x15 (Intel since Skylake): TSC = crystal × EBX / EAX,
//!    when the leaf names the crystal (ECX ≠ 0);
//! 2. CPUID leaf 0x16: the processor base frequency in MHz, which is the
//!    TSC rate on the Intel parts whose leaf 0x15 names no crystal;
//! 3. the hypervisor leaf 0x40000010 (VMware's, also offered by KVM and
//!    others): the TSC rate in kHz;
//! 4. the PIT (channel 2), bounded: [`crate::apic::calibrate`];
//! 5. failing all that, an assumed 4 GHz, said as such (too long a
//!    start-up delay is safe, too short is not).
//!
//! AMD parts have neither leaf 0x15 nor 0x16 and take the PIT.
//!
//! **Invariant TSC** (CPUID 0x8000_0007 EDX bit 8): the TSC runs at a
//! constant rate in every P-, C- and T-state. Without it a TSC figure is not
//! a fixed multiple of time; the results say so. QEMU TCG does not set
//! the bit (under icount the TSC counts instructions anyway).

/// A CPUID query: `(leaf, subleaf) -> [eax, ebx, ecx, edx]`.
pub type Cpuid = fn(u32, u32) -> [u32; 4];

/// Where the rate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// CPUID leaf 0x15 (crystal × ratio).
    Leaf15,
    /// CPUID leaf 0x16 (base frequency).
    Leaf16,
    /// CPUID leaf 0x4000_0010 (hypervisor).
    Hypervisor,
    /// Measured against the PIT.
    Pit,
    /// Nothing answered: 4 GHz assumed.
    Assumed,
}

impl Source {
    /// The name printed in the `IPCB clock` line.
    pub fn name(self) -> &'static str {
        match self {
            Source::Leaf15 => "cpuid-15h",
            Source::Leaf16 => "cpuid-16h",
            Source::Hypervisor => "cpuid-40000010h",
            Source::Pit => "pit",
            Source::Assumed => "assumed",
        }
    }
}

/// The TSC rate and its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Ticks per second.
    pub hz: u64,
    /// Where `hz` came from.
    pub source: Source,
}

/// The rate from CPUID alone (steps 1-3 of the module docs), if it has one.
pub fn from_cpuid(cpuid: Cpuid) -> Option<Rate> {
    let max_basic = cpuid(0, 0)[0];
    if max_basic >= 0x15 {
        let [den, num, crystal, _] = cpuid(0x15, 0);
        if den != 0 && num != 0 && crystal != 0 {
            let hz = u64::from(crystal) * u64::from(num) / u64::from(den);
            return Some(Rate { hz, source: Source::Leaf15 });
        }
    }
    if max_basic >= 0x16 {
        let base_mhz = cpuid(0x16, 0)[0] & 0xFFFF;
        if base_mhz != 0 {
            return Some(Rate { hz: u64::from(base_mhz) * 1_000_000, source: Source::Leaf16 });
        }
    }
    // The hypervisor leaves exist only when CPUID.1:ECX bit 31 says a
    // hypervisor is present (on bare metal 0x4000_0000 aliases a basic leaf).
    if cpuid(1, 0)[2] & (1 << 31) != 0 && cpuid(0x4000_0000, 0)[0] >= 0x4000_0010 {
        let khz = cpuid(0x4000_0010, 0)[0];
        if khz != 0 {
            return Some(Rate { hz: u64::from(khz) * 1000, source: Source::Hypervisor });
        }
    }
    None
}

/// Whether the TSC is invariant (CPUID 0x8000_0007 EDX bit 8).
pub fn invariant(cpuid: Cpuid) -> bool {
    cpuid(0x8000_0000, 0)[0] >= 0x8000_0007 && cpuid(0x8000_0007, 0)[3] & (1 << 8) != 0
}

/// The rate from the PIT's ticks per µs (0: the PIT never answered).
pub fn from_pit(per_us: u64) -> Rate {
    match per_us {
        0 => Rate { hz: 4_000_000_000, source: Source::Assumed },
        n => Rate { hz: n * 1_000_000, source: Source::Pit },
    }
}

#[cfg(target_arch = "x86_64")]
fn hw_cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    let (a, b, c, d) = crate::cpu::cpuid(leaf, sub);
    [a, b, c, d]
}

/// The rate, measured once (on the boot CPU) and kept.
#[cfg(target_arch = "x86_64")]
static RATE: spin_once::Once = spin_once::Once::new();

/// The TSC rate: from CPUID, else the PIT (at most 10 ms), once; later
/// calls return the first answer. Also sets the start-up delay's rate.
#[cfg(target_arch = "x86_64")]
pub fn rate() -> Rate {
    RATE.get_or_init(|| {
        let r = match from_cpuid(hw_cpuid) {
            Some(r) => r,
            None => from_pit(crate::apic::calibrate(10)),
        };
        crate::apic::set_tsc_per_us((r.hz / 1_000_000).max(1));
        r
    })
}

/// Whether this CPU's TSC is invariant.
#[cfg(target_arch = "x86_64")]
pub fn is_invariant() -> bool {
    invariant(hw_cpuid)
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod spin_once {
    //! A write-once cell for [`super::Rate`] without a lock (the boot CPU
    //! fills it before any other CPU runs; a race would only measure twice).
    use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

    use super::{Rate, Source};

    pub struct Once {
        hz: AtomicU64,
        /// 0: empty; else 1 + the source's index.
        source: AtomicU8,
    }

    const SOURCES: [Source; 5] = [Source::Leaf15, Source::Leaf16, Source::Hypervisor, Source::Pit, Source::Assumed];

    impl Once {
        pub const fn new() -> Self {
            Once { hz: AtomicU64::new(0), source: AtomicU8::new(0) }
        }

        pub fn get_or_init(&self, f: impl FnOnce() -> Rate) -> Rate {
            match self.source.load(Ordering::Acquire) {
                0 => {
                    let r = f();
                    self.hz.store(r.hz, Ordering::Relaxed);
                    let i = SOURCES.iter().position(|s| *s == r.source).unwrap_or(4) as u8;
                    self.source.store(i + 1, Ordering::Release);
                    r
                }
                s => Rate { hz: self.hz.load(Ordering::Relaxed), source: SOURCES[usize::from(s - 1)] },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CPU that answers `leaves`, zeros elsewhere.
    macro_rules! cpu {
        ($($leaf:expr => $regs:expr),* $(,)?) => {{
            fn f(leaf: u32, _sub: u32) -> [u32; 4] {
                match leaf {
                    $($leaf => $regs,)*
                    _ => [0; 4],
                }
            }
            f as Cpuid
        }};
    }

    #[test]
    fn leaf_15_with_a_crystal() {
        // 24 MHz crystal, ratio 188/2: 2.256 GHz (an Alder Lake-N).
        let c = cpu!(0 => [0x20, 0, 0, 0], 0x15 => [2, 188, 24_000_000, 0], 0x16 => [800, 0, 0, 0]);
        assert_eq!(from_cpuid(c), Some(Rate { hz: 2_256_000_000, source: Source::Leaf15 }));
    }

    #[test]
    fn leaf_16_when_15_names_no_crystal() {
        let c = cpu!(0 => [0x16, 0, 0, 0], 0x15 => [2, 176, 0, 0], 0x16 => [2200, 3700, 100, 0]);
        assert_eq!(from_cpuid(c), Some(Rate { hz: 2_200_000_000, source: Source::Leaf16 }));
    }

    #[test]
    fn hypervisor_leaf_only_under_a_hypervisor() {
        let under = cpu!(0 => [0xd, 0, 0, 0], 1 => [0, 0, 1 << 31, 0],
            0x4000_0000 => [0x4000_0010, 0, 0, 0], 0x4000_0010 => [2_994_000, 0, 0, 0]);
        assert_eq!(from_cpuid(under), Some(Rate { hz: 2_994_000_000, source: Source::Hypervisor }));
        let bare = cpu!(0 => [0xd, 0, 0, 0], 0x4000_0000 => [0x4000_0010, 0, 0, 0], 0x4000_0010 => [5, 0, 0, 0]);
        assert_eq!(from_cpuid(bare), None);
    }

    #[test]
    fn amd_has_no_leaf_and_takes_the_pit() {
        let amd = cpu!(0 => [0x10, 0, 0, 0], 0x8000_0000 => [0x8000_0021, 0, 0, 0], 0x8000_0007 => [0, 0, 0, 1 << 8]);
        assert_eq!(from_cpuid(amd), None);
        assert!(invariant(amd));
        assert_eq!(from_pit(2994), Rate { hz: 2_994_000_000, source: Source::Pit });
        assert_eq!(from_pit(0).source, Source::Assumed);
    }

    #[test]
    fn invariance_needs_the_extended_leaf() {
        let old = cpu!(0x8000_0000 => [0x8000_0004, 0, 0, 0], 0x8000_0007 => [0, 0, 0, 1 << 8]);
        assert!(!invariant(old));
        let none = cpu!(0x8000_0000 => [0x8000_0008, 0, 0, 0]);
        assert!(!invariant(none));
    }

    #[test]
    fn rate_is_kept() {
        let once = spin_once::Once::new();
        let r = once.get_or_init(|| Rate { hz: 7, source: Source::Pit });
        assert_eq!(r, once.get_or_init(|| Rate { hz: 9, source: Source::Leaf15 }));
    }
}
