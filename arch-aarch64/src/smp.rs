// SPDX-License-Identifier: MIT OR Apache-2.0
//! SMP: per-CPU data by page-table aliasing, the CPU list, the start of the
//! other CPUs (PSCI `CPU_ON` or a spin table) and parking them halted.
//!
//! **Per-CPU data without a per-CPU instruction.** Everything a CPU's
//! kernel writes on its IPC path (the kernel stack with the entry's
//! per-CPU block on top, `IPCB_KSTACK`; the board's kernel state; the
//! secondary's driver stack; [`cpu_index`]'s word) is linked into the
//! section `.percpu` at [`PERCPU_VA`] (entry 509 of the kernel's level-1
//! table). Each CPU has its own physical copy of that region (a 2 MiB
//! block) and its own `TTBR1` root: its own level-0 table, its own level-1
//! table (entries 510, the kernel's GiB of RAM, and 511, the device
//! window, are the boot CPU's descriptors; entry 509 its own) and its own
//! level-2 table whose entry 0 maps the region to its copy. User address
//! spaces live in `TTBR0` only and never name the kernel half, so a task
//! runs on the CPU that built it with that CPU's kernel half, and nothing
//! changes on an address-space switch. The entry finds the per-CPU block
//! at `sp`, the fast handlers get the state from it, and the Rust code
//! names the state static: the same instructions as on one CPU, each
//! reaching its own CPU's copy. No `TPIDR` read, no CPU number, no lock.
//! `TTBR1` is written once per CPU, at boot, before the MMU comes on (the
//! boot CPU adds entry 509 to its boot tables with a `dsb` and an `isb`).
//! The region is mapped global, as the kernel image is: a CPU's TLB only
//! ever holds its own copy's translation.
//!
//! **Memory**: after the kernel image, one 2 MiB-aligned chunk per CPU;
//! the frame allocator starts after the last ([`init_boot`]). A
//! secondary's three table pages are the last 16 KiB of its chunk.
//!
//! **Start-up** ([`start_secondaries`]), one CPU at a time: the boot CPU
//! clones its region into the CPU's chunk (so the board's state is "set up
//! like the boot CPU's", and the entry's per-CPU block points at the
//! clone's state and contexts: same addresses), writes the CPU's index into
//! the clone, builds its tables, leaves their root in `IPCB_SMP_PARAMS`
//! (cleaned to the point of coherency: the new CPU reads it with its MMU
//! off) and starts it at `ipcb_secondary_start` (`boot.rs`): PSCI `CPU_ON`
//! through the conduit the device tree names (`hvc` or `smc`), or the
//! spin table (the entry's physical address into the CPU's release word,
//! `dsb`, `sev`). The CPU runs the boot CPU's EL set-up, turns its MMU on
//! with its own `TTBR1`, and calls `ipcb_secondary_main`.
//!
//! **Parking** ([`park`], [`unpark_all`], [`wake`]): `wfe`, ended by the
//! `sev` of the CPU that publishes work (after a `dsb`). On hardware the
//! core sleeps in `wfe`; a `sev` sent before it gets there leaves its event
//! register set, so no wake-up is lost. QEMU TCG runs `wfe` as a yield:
//! under icount a parked vCPU runs a handful of instructions per turn of
//! the round robin instead of sleeping. (Parking in `wfi` until an SGI,
//! with `PSTATE.I` masked, halted the vCPUs under plain TCG, but under
//! QEMU 7.2's icount the SGI never ended the `wfi`: the boot CPU waited for
//! good. See `docs/methodology.md`.)

use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::paging::BLOCK_RAM;
use crate::paging;

/// Most CPUs the kernel starts (the runtime's driver uses as many).
pub const MAX_CPUS: usize = 256;
/// Virtual address of the per-CPU region (kernel level-1 entry 509).
pub const PERCPU_VA: u64 = 0xFFFF_FFFF_4000_0000;
/// Size of one CPU's copy of the region (one 2 MiB block).
pub const PERCPU_CHUNK: u64 = 2 << 20;
/// Stack of a secondary CPU's driver (where `entry` runs), in its region.
pub const DRIVER_STACK_SIZE: usize = 256 * 1024;
/// Frames left for the frame allocator at least; CPUs whose chunk would
/// eat into them are not started.
const MIN_FRAMES_BYTES: u64 = 16 << 20;
/// PSCI `CPU_ON` (SMC64).
const PSCI_CPU_ON: u64 = 0xC400_0003;
/// How long a CPU may take to come up, in seconds of the generic timer
/// (under plain TCG on a busy host a vCPU thread may wait that long for a
/// host CPU).
const START_TIMEOUT_SECS: u64 = 2;

/// How the firmware starts a CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// PSCI `CPU_ON` through `hvc` (`smc` = false) or `smc`.
    Psci {
        /// The conduit is `smc`.
        smc: bool,
    },
    /// A spin table: each CPU waits for an entry address in its release
    /// word ([`CpuDesc::release`]).
    SpinTable,
}

/// One CPU as the firmware describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuDesc {
    /// Its affinity (`MPIDR_EL1` bits 0-23 and 32-39), the PSCI target.
    pub mpidr: u64,
    /// Its spin-table release word (physical), for [`Start::SpinTable`].
    pub release: u64,
}

/// The CPUs and how to start and wake them.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The CPUs, the boot CPU among them (any order).
    pub cpus: [CpuDesc; MAX_CPUS],
    /// How many of `cpus` are valid.
    pub n: usize,
    /// CPUs listed beyond [`MAX_CPUS`].
    pub dropped: usize,
    /// How to start them.
    pub start: Start,
}

impl Config {
    /// The boot CPU alone.
    pub const fn single() -> Self {
        Config {
            cpus: [CpuDesc { mpidr: 0, release: 0 }; MAX_CPUS],
            n: 0,
            dropped: 0,
            start: Start::SpinTable,
        }
    }

    /// Add a CPU.
    pub fn push(&mut self, c: CpuDesc) {
        if self.n < MAX_CPUS {
            self.cpus[self.n] = c;
            self.n += 1;
        } else {
            self.dropped += 1;
        }
    }
}

/// The affinity bits of `MPIDR_EL1` (Aff0-Aff2 and Aff3): what PSCI and
/// the device tree's `reg` name a CPU by. The A76 puts its core number in
/// Aff1 (`MT` = 1), so no single byte of it is an index.
pub const MPIDR_AFF: u64 = 0xFF_00FF_FFFF;

/// Big-endian cells of a property as one number (1 or 2 cells).
fn cells(v: &[u8]) -> Option<u64> {
    match v.len() {
        4 => Some(u64::from(u32::from_be_bytes(v.try_into().ok()?))),
        8 => Some(u64::from_be_bytes(v.try_into().ok()?)),
        _ => None,
    }
}

/// The CPUs and their enable method, from the
/// device tree at physical `dtb`: every `/cpus/cpu@...` node (its `reg`,
/// `enable-method`, `cpu-release-addr`) and the `/psci` node's `method`.
/// `None` without a tree or CPUs.
pub fn from_dt(dtb: u64) -> Option<Config> {
    if !paging::in_direct_map(dtb) {
        return None;
    }
    // SAFETY: as `boot::parse`: a device tree in the direct map, never
    // written, mapped for the life of the kernel (the crate checks the
    // header).
    let fdt = unsafe { fdt::Fdt::from_ptr(paging::phys_to_virt(dtb)) }.ok()?;
    let mut cfg = Config::single();
    let psci_smc = crate::boot::dt_node(&fdt, "/psci")
        .and_then(|n| n.property("method"))
        .and_then(|p| p.as_str())
        .map(|m| m == "smc");
    let mut spin = false;
    for node in crate::boot::dt_node(&fdt, "/cpus")?.children() {
        if node.name.split('@').next() != Some("cpu") {
            continue;
        }
        let Some(mpidr) = node.property("reg").and_then(|p| cells(p.value)) else { continue };
        let method = node.property("enable-method").and_then(|p| p.as_str()).unwrap_or("");
        let release = node.property("cpu-release-addr").and_then(|p| cells(p.value)).unwrap_or(0);
        spin |= method == "spin-table";
        cfg.push(CpuDesc { mpidr, release });
    }
    cfg.start = match psci_smc {
        Some(smc) if !spin => Start::Psci { smc },
        _ => Start::SpinTable,
    };
    (cfg.n > 0).then_some(cfg)
}

/// What the CPU-local code needs about its own CPU, in `.percpu`.
#[repr(C)]
struct CpuLocal {
    /// Index of this CPU (0 = the boot CPU).
    index: usize,
}

#[unsafe(link_section = ".percpu")]
static mut LOCAL: CpuLocal = CpuLocal { index: 0 };

/// A secondary CPU's driver stack (the boot CPU keeps its boot stack); the
/// secondary entry (`boot.rs`) puts `sp` at its top.
#[repr(C, align(16))]
pub struct DriverStack([u8; DRIVER_STACK_SIZE]);
#[unsafe(link_section = ".percpu")]
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(crate) static mut IPCB_SMP_STACK: DriverStack = DriverStack([0; DRIVER_STACK_SIZE]);

/// What a starting CPU reads with its MMU off: its `TTBR1` root
/// (physical). On a cache line of its own, which the boot CPU cleans to
/// memory.
#[repr(C, align(64))]
pub struct Params {
    ttbr1: AtomicU64,
}
#[unsafe(no_mangle)]
pub(crate) static IPCB_SMP_PARAMS: Params = Params { ttbr1: AtomicU64::new(0) };

/// A translation table.
#[repr(C, align(4096))]
struct Table([u64; 512]);
/// The boot CPU's level-2 table for the region (secondaries have theirs in
/// their chunk).
static mut BOOT_PERCPU_L2: Table = Table([0; 512]);

unsafe extern "C" {
    static mut ipcb_kernel_l0: Table;
    static mut ipcb_kernel_l1: Table;
    static __percpu_start: u8;
    static __percpu_end: u8;
    static ipcb_secondary_start: u8;
}

/// The plan: what [`init_boot`] found and reserved.
struct Plan {
    cfg: Config,
    /// Index of the boot CPU in `cfg.cpus`.
    me: usize,
    /// CPUs with a chunk (this one included).
    n: usize,
    /// Physical address of CPU 0's chunk.
    base: u64,
    note: &'static str,
    putc: Option<fn(u8)>,
}

static mut PLAN: Plan = Plan {
    cfg: Config::single(),
    me: 0,
    n: 1,
    base: 0,
    note: "",
    putc: None,
};
/// Secondary CPUs that finished their set-up.
static ONLINE: AtomicUsize = AtomicUsize::new(0);
/// A secondary that came up at another exception level than the boot CPU
/// (it stops).
static EL_MISMATCH: AtomicUsize = AtomicUsize::new(0);
/// The runtime's entry for secondaries (`fn(usize) -> !`, as usize).
static ENTRY: AtomicUsize = AtomicUsize::new(0);
/// No CPU is being started (see [`STARTING`]).
const NOT_STARTING: usize = usize::MAX;
/// The index of the CPU the boot CPU is waiting for. The CPU claims it
/// when it comes up, or the boot CPU takes it back when it gives up
/// waiting (both by compare-and-swap to [`NOT_STARTING`]): a CPU that
/// comes up after the boot CPU gave up finds it taken and parks for good,
/// instead of joining a kernel that no longer counts it.
static STARTING: AtomicUsize = AtomicUsize::new(NOT_STARTING);

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: set once by `init_boot` before any reader.
        if let Some(p) = unsafe { (*addr_of!(PLAN)).putc } {
            s.bytes().for_each(p);
        }
        Ok(())
    }
}

/// Physical address of a kernel static (in the image).
fn image_pa<T>(p: *const T) -> u64 {
    paging::virt_to_phys(p as u64)
}

/// Descriptor of the 2 MiB block of a CPU's region: Normal memory, EL1
/// read/write, global, never executable.
fn percpu_block(pa: u64) -> u64 {
    pa | BLOCK_RAM | (1 << 53)
}

/// Make table writes visible to the walker, then to this CPU's fetches.
fn sync_tables() {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: barriers only; not `nomem`, the table stores must not move
    // past them.
    unsafe {
        core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags))
    };
}

/// Boot CPU, before anything touches `.percpu`: reserve one region copy
/// per CPU of `cfg` (as many as RAM allows), map the boot CPU's and zero
/// it. `kernel_end` is the end of the image
/// (physical), `ram_end` the end of usable RAM; `putc` the console for the
/// one line [`start_secondaries`] prints. Returns the first physical
/// address the frame allocator may use.
///
/// # Safety
///
/// Once, on the boot CPU, before `cpu::init` and before anything uses a
/// `.percpu` static.
pub unsafe fn init_boot(cfg: Config, kernel_end: u64, ram_end: u64, putc: fn(u8)) -> u64 {
    // SAFETY: single-threaded boot; the tables below are the boot CPU's
    // and entry 509 is not used yet.
    unsafe {
        let plan = &mut *addr_of_mut!(PLAN);
        plan.putc = Some(putc);
        plan.cfg = cfg;
        let mine = mpidr() & MPIDR_AFF;
        plan.me = cfg.cpus[..cfg.n].iter().position(|c| c.mpidr & MPIDR_AFF == mine).unwrap_or(usize::MAX);
        plan.n = cfg.n.max(1);
        if plan.me == usize::MAX {
            plan.n = 1;
            plan.note = "the boot CPU is not in the CPU list: boot CPU only";
        }

        let base = kernel_end.next_multiple_of(PERCPU_CHUNK);
        let fit = ram_end.saturating_sub(base + MIN_FRAMES_BYTES) / PERCPU_CHUNK;
        assert!(fit >= 1, "not enough RAM for the per-CPU region");
        if plan.n as u64 > fit {
            plan.n = fit as usize;
            plan.note = "not enough RAM for more per-CPU regions";
        }
        plan.base = base;

        // The boot CPU's copy: mapped at entry 509 of its boot tables
        // (invalid until now: no TLB maintenance), then zeroed.
        let l2 = &mut *addr_of_mut!(BOOT_PERCPU_L2);
        l2.0[0] = percpu_block(base);
        (*addr_of_mut!(ipcb_kernel_l1)).0[509] = image_pa(addr_of!(BOOT_PERCPU_L2)) | 3;
        sync_tables();
        let used = addr_of!(__percpu_end) as u64 - addr_of!(__percpu_start) as u64;
        core::ptr::write_bytes(PERCPU_VA as *mut u8, 0, used as usize);
        base + plan.n as u64 * PERCPU_CHUNK
    }
}

/// `MPIDR_EL1` of the running CPU.
fn mpidr() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let v: u64;
        // SAFETY: reads an ID register.
        unsafe { core::arch::asm!("mrs {}, mpidr_el1", out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

/// Index of the running CPU (0 = the boot CPU).
#[inline]
pub fn cpu_index() -> usize {
    // SAFETY: this CPU's own copy, written (into the clone) before the CPU
    // started.
    unsafe { (*addr_of!(LOCAL)).index }
}

/// Start every other CPU of the plan; each runs `entry(index)` once set
/// up. Returns the number of CPUs online, this one included. Prints one
/// console line (`smp: N CPUs online (MPIDR ...)`).
///
/// # Safety
///
/// Once, on the boot CPU, after `cpu::init`, with the board's per-CPU
/// statics initialised (they are cloned), interrupts masked.
pub unsafe fn start_secondaries(entry: fn(usize) -> !) -> usize {
    ENTRY.store(entry as usize, Ordering::Release);
    // SAFETY: single-threaded until the first secondary runs; the
    // secondaries read only ENTRY and their clone, both written
    // before they start.
    unsafe {
        let plan = &mut *addr_of_mut!(PLAN);
        let mut why = plan.note;
        let mut ids = [0u64; MAX_CPUS];
        ids[0] = mpidr() & MPIDR_AFF;
        let mut started = 1;
        let others = (0..plan.cfg.n).filter(|&i| i != plan.me);
        for c in others.take(plan.n.saturating_sub(1)) {
            let desc = plan.cfg.cpus[c];
            match start_one(plan, started, desc) {
                Ok(()) => {
                    ids[started] = desc.mpidr;
                    started += 1;
                }
                Err(e) => {
                    why = e;
                    break;
                }
            }
        }
        let skipped = plan.cfg.n.max(1) - started + plan.cfg.dropped;
        plan.n = started;
        let mut con = Console;
        let _ = write!(con, "smp: {} CPU{} online (MPIDR", started, if started == 1 { "" } else { "s" });
        for id in &ids[..started] {
            let _ = write!(con, " {id:#x}");
        }
        let _ = write!(con, ")");
        if started > 1 {
            let how = match plan.cfg.start {
                Start::Psci { smc: false } => "PSCI hvc",
                Start::Psci { smc: true } => "PSCI smc",
                Start::SpinTable => "spin table",
            };
            let _ = write!(con, ", started by {how}");
        }
        if skipped > 0 {
            let _ = write!(con, ", {skipped} not started");
        }
        if !why.is_empty() {
            let _ = write!(con, "; {why}");
        }
        let _ = con.write_str("\r\n");
        started
    }
}

/// Clone the region for CPU `index`, build its tables and start the CPU
/// `desc`; wait until it is online.
///
/// # Safety
///
/// Boot CPU, from [`start_secondaries`]; `index` < the plan's `n`.
unsafe fn start_one(plan: &Plan, index: usize, desc: CpuDesc) -> Result<(), &'static str> {
    let chunk = plan.base + index as u64 * PERCPU_CHUNK;
    let used = addr_of!(__percpu_end) as u64 - addr_of!(__percpu_start) as u64;
    let tables = chunk + PERCPU_CHUNK - 0x4000;
    // SAFETY: the chunk was reserved for this CPU by `init_boot` (the frame
    // allocator starts after it) and lies in the direct map; the CPU is not
    // running yet. The boot CPU's region is read while only this CPU runs
    // on it.
    unsafe {
        let dst = paging::phys_to_virt(chunk);
        core::ptr::copy_nonoverlapping(PERCPU_VA as *const u8, dst, used as usize);
        let local = dst.add((addr_of!(LOCAL) as u64 - PERCPU_VA) as usize) as *mut CpuLocal;
        (*local).index = index;
        let t = |k: u64| &mut *(paging::phys_to_virt(tables + k * 4096) as *mut Table);
        let (l0, l1, l2) = (t(0), t(1), t(2));
        l0.0 = (*addr_of!(ipcb_kernel_l0)).0;
        l0.0[511] = (tables + 4096) | 3;
        l1.0 = (*addr_of!(ipcb_kernel_l1)).0;
        l1.0[509] = (tables + 2 * 4096) | 3;
        l2.0 = [0; 512];
        l2.0[0] = percpu_block(chunk);
    }
    IPCB_SMP_PARAMS.ttbr1.store(tables, Ordering::Relaxed);
    let before = ONLINE.load(Ordering::Acquire);
    clean_to_poc(addr_of!(IPCB_SMP_PARAMS) as u64);
    let entry = image_pa(addr_of!(ipcb_secondary_start));
    STARTING.store(index, Ordering::Release);
    match plan.cfg.start {
        Start::Psci { smc } => {
            let r = psci_cpu_on(smc, desc.mpidr, entry);
            if r != 0 {
                STARTING.store(NOT_STARTING, Ordering::Release);
                return Err(if r == -4 { "PSCI CPU_ON: already on" } else { "PSCI CPU_ON failed" });
            }
        }
        Start::SpinTable => {
            if desc.release == 0 || !paging::in_direct_map(desc.release) {
                STARTING.store(NOT_STARTING, Ordering::Release);
                return Err("no spin-table release address");
            }
            let p = paging::phys_to_virt(desc.release) as *mut u64;
            // SAFETY: the release word is firmware memory below the kernel
            // image (never handed out), read only by the waiting CPU.
            unsafe { p.write_volatile(entry) };
            clean_to_poc(p as u64);
            sev();
        }
    }
    let freq = counter_freq().max(1);
    let t0 = crate::pmu::ticks();
    let mut claimed = false;
    while ONLINE.load(Ordering::Acquire) == before {
        if EL_MISMATCH.load(Ordering::Acquire) != 0 {
            return Err("a CPU came up at another exception level: later ones not started");
        }
        if !claimed && crate::pmu::ticks().wrapping_sub(t0) > freq * START_TIMEOUT_SECS {
            // Give up, unless the CPU has just claimed its start: then it
            // is on its way online, and we wait for it.
            let give_up = STARTING.compare_exchange(index, NOT_STARTING, Ordering::AcqRel, Ordering::Acquire);
            if give_up.is_ok() {
                return Err("a CPU did not come up: later ones not started");
            }
            claimed = true;
        }
        relax();
    }
    Ok(())
}

/// Clean (and invalidate) the data-cache line of kernel address `va` to
/// the point of coherency, for a reader with its MMU and caches off.
fn clean_to_poc(va: u64) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: cache maintenance of a mapped kernel address changes no
    // memory contents.
    unsafe {
        core::arch::asm!("dc civac, {}", "dsb sy", in(reg) va, options(nostack, preserves_flags))
    };
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = va;
}

fn sev() {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: an event, no memory effect.
    unsafe {
        core::arch::asm!("sev", options(nomem, nostack, preserves_flags))
    };
}

fn counter_freq() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let v: u64;
        // SAFETY: reads a timer ID register.
        unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    1
}

/// PSCI `CPU_ON(target, entry, 0)` through `smc` or `hvc`; the PSCI return
/// code (0: success).
fn psci_cpu_on(smc: bool, target: u64, entry: u64) -> i64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let mut x0 = PSCI_CPU_ON;
        // SAFETY: an SMC Calling Convention call: x0-x17 may be clobbered,
        // memory is untouched by the firmware's CPU_ON as seen from here.
        unsafe {
            if smc {
                core::arch::asm!("smc #0", inout("x0") x0, inout("x1") target => _, inout("x2") entry => _,
                    inout("x3") 0u64 => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                    out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                    out("x14") _, out("x15") _, out("x16") _, out("x17") _, options(nostack));
            } else {
                core::arch::asm!("hvc #0", inout("x0") x0, inout("x1") target => _, inout("x2") entry => _,
                    inout("x3") 0u64 => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                    out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                    out("x14") _, out("x15") _, out("x16") _, out("x17") _, options(nostack));
            }
        }
        x0 as i64
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    {
        let _ = (smc, target, entry, PSCI_CPU_ON);
        -1
    }
}

/// A secondary CPU, in the higher half on its own tables and driver stack
/// (`boot.rs`): `el` is the level its EL set-up reached.
#[unsafe(no_mangle)]
extern "C" fn ipcb_secondary_main(el: u64) -> ! {
    if el != u64::from(crate::cpu::el()) {
        EL_MISMATCH.store(1, Ordering::Release);
        crate::cpu::halt();
    }
    let index = cpu_index();
    if STARTING.compare_exchange(index, NOT_STARTING, Ordering::AcqRel, Ordering::Acquire).is_err() {
        // Too late: the boot CPU gave up on this CPU and goes on without it.
        crate::cpu::halt();
    }
    // SAFETY: this CPU's first Rust code: interrupts masked, its own
    // `.percpu` copy mapped (a clone of the boot CPU's, whose per-CPU
    // block `init` now resets for this CPU).
    unsafe { crate::cpu::init(el as u8) };
    ONLINE.fetch_add(1, Ordering::Release);
    // SAFETY: ENTRY holds a `fn(usize) -> !` (start_secondaries), stored
    // before this CPU was started.
    let entry: fn(usize) -> ! = unsafe { core::mem::transmute(ENTRY.load(Ordering::Acquire)) };
    entry(index)
}

/// Wait until another CPU wakes this one (or an early return: the caller
/// checks for work and parks again): `wfe`, woken by the `sev` of
/// [`wake`] / [`unpark_all`]. A `sev` sent before this CPU reaches its
/// `wfe` leaves the event register set, so the `wfe` returns at once and
/// no wake-up is lost. On hardware the core sleeps in `wfe`. QEMU TCG
/// runs `wfe` as a yield to the next vCPU: under icount's round robin a
/// parked vCPU then runs a handful of instructions (the `wfe` and the
/// caller's check) once per turn it gets, not a spinning loop.
pub fn park() {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: waits for an event; no memory effect.
    unsafe {
        core::arch::asm!("wfe", options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    core::hint::spin_loop();
}

/// One turn of a spin-wait: `yield`. A hint on hardware; under QEMU's
/// single-threaded round robin (icount) it ends this vCPU's turn, so the
/// CPU being waited for runs (`core::hint::spin_loop`, an `isb` here, does
/// not: a CPU spinning on it holds the one thread for its whole turn).
pub fn relax() {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: a hint instruction; no memory, no registers.
    unsafe {
        core::arch::asm!("yield", options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    core::hint::spin_loop();
}

/// Wake CPU `index` (if it is parked): an event to every CPU.
pub fn wake(index: usize) {
    let _ = index;
    unpark_all();
}

/// Wake every other CPU: `sev`, after a `dsb` so that the work published
/// before it is visible first.
pub fn unpark_all() {
    barrier_sy();
    sev();
}

fn barrier_sy() {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: a barrier; orders memory and device accesses.
    unsafe {
        core::arch::asm!("dsb sy", options(nostack, preserves_flags))
    };
}
