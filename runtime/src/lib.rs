// SPDX-License-Identifier: MIT OR Apache-2.0
//! `runtime`: everything a benchmark kernel does between "the CPU is set up"
//! and "exit", independent of the instruction set.
//!
//! * [`Machine`]: what the runtime needs of an arch crate beyond
//!   [`ipc_core::Arch`] (address spaces, mapping, entering user mode, the
//!   counter plan);
//! * [`Board`]: what it needs of a board (console, exit, name);
//! * [`inject`]: the test suite's fault injection;
//! * [`mem::FrameAlloc`] and [`elf`]: frames for page tables and user
//!   memory, and the loader of the embedded user program;
//! * [`bench`](mod@bench): the benchmark driver, which builds tasks, threads and
//!   endpoints for each benchmark, runs them, checks what they report and
//!   prints the results table and the `IPCB` protocol lines
//!   (`docs/protocol.md`);
//! * [`State`]: the kernel state the arch entry points work on, and
//!   [`State::syscall`] / [`State::user_fault`], the Rust halves of the
//!   syscall and trap entries;
//! * [`kernel`]: the kernel glue every example kernel shares (the
//!   kernel-state cell, the arch-independent parts of the entry halves,
//!   fatal ends, the driver's start), generic over the arch and the board;
//! * `build` (feature `build`, for a board's build script): linking a
//!   kernel and embedding its user program.

#![no_std]

#[cfg(feature = "build")]
extern crate std;

#[cfg(feature = "build")]
pub mod build;

pub mod bench;
pub mod cmdline;
pub mod console;
pub use console::Uart;
pub mod elf;
pub mod inject;
pub mod kernel;
pub mod mem;
mod state;
pub use state::{svc, FailRecord, Reports, RuntimeServices};

pub use state::{Fault, State};

use ipc_core::Arch;
use pmu::{CounterSet, MAX_COUNTERS};

/// Memory permissions of a user mapping.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Perm {
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

/// Why a mapping failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemError {
    /// No free frame left.
    OutOfFrames,
    /// The address is not a user address or not page-aligned.
    BadAddress,
    /// The page is mapped already.
    AlreadyMapped,
}

/// What kind of exception a user fault was, across instruction sets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultClass {
    /// Translation or permission fault on a memory access (x86 #PF, Arm
    /// data/instruction abort).
    Page,
    /// Privileged instruction or protection violation (x86 #GP, Arm trapped
    /// system instruction).
    Protection,
    /// Undefined instruction (x86 #UD, Arm unknown reason).
    Undefined,
    /// Anything else.
    Other,
}

/// How user programs read one counter: the arch-specific selector that the
/// user program's counter-read code understands (x86: `1 << 63` for RDTSC,
/// else the RDPMC index; Arm: 0 for PMCCNTR_EL0, else the event counter
/// index + 1).
pub type CounterSelector = u64;

/// What the arch knows about its time counter's rate ([`Machine::clock`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockInfo {
    /// The counter's name in the protocol (`tsc`).
    pub counter: &'static str,
    /// Ticks per second.
    pub hz: u64,
    /// Where `hz` came from (`cpuid-15h`, `cpuid-16h`, `cpuid-40000010h`,
    /// `pit`, `assumed`).
    pub source: &'static str,
    /// The counter runs at one rate in every power state (x86: invariant
    /// TSC, CPUID 0x8000_0007 EDX bit 8).
    pub invariant: bool,
}

/// One probe of the kernel's W^X self-test ([`Machine::wx_probe`],
/// `selftest=wx`): a kernel-mode access that the kernel's own page tables
/// must refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WxProbe {
    /// What was tried (`write .text`, `run .data`, ...).
    pub what: &'static str,
    /// The address tried.
    pub addr: u64,
    /// The fault it raised, in the arch's terms (vector or exception
    /// class, error code or syndrome, faulting address, pc); `None`: the
    /// access went through.
    pub fault: Option<Fault>,
    /// The fault is the one the protection must raise (a permission fault
    /// of that kind, at that address).
    pub refused: bool,
}

/// What the runtime needs of an architecture beyond [`ipc_core::Arch`].
pub trait Machine: Arch {
    /// Instruction set name (`x86_64`, `aarch64`).
    const NAME: &'static str;

    /// Kernel virtual address of physical address `pa` (the kernel's direct
    /// map of RAM).
    fn phys_to_virt(pa: u64) -> *mut u8;

    /// A new, empty user address space (the kernel half shared), with
    /// address-space identifier `id` (PCID / ASID, 1..).
    fn new_space(frames: &mut mem::FrameAlloc, id: u16) -> Result<Self::Space, MemError>;

    /// Map the 4 KiB page at user address `va` to frame `pa` in `space`.
    fn map_page(
        frames: &mut mem::FrameAlloc,
        space: Self::Space,
        va: u64,
        pa: u64,
        perm: Perm,
    ) -> Result<(), MemError>;

    /// Forget every user translation of every address space (all PCIDs /
    /// ASIDs): called when address-space identifiers are reused.
    fn flush_user_tlb();

    /// Make the kernel's own address space current (no user mappings).
    fn load_kernel_space();

    /// The counters of this CPU and how user code reads them.
    fn counters() -> (CounterSet, [CounterSelector; MAX_COUNTERS]);

    /// CPU vendor and model strings for the report.
    fn cpu_identity(vendor: &mut [u8; 16], model: &mut [u8; 48]) -> (usize, usize);

    /// Classify a user fault.
    fn fault_class(f: &Fault) -> FaultClass;

    /// Does the CPU report that it runs under a hypervisor?
    fn hypervisor() -> bool;

    /// The exception level the kernel runs at (Arm: 1, or 2 with VHE), for
    /// `IPCB hello`; `None` (the default) where the arch has none.
    fn el() -> Option<u8> {
        None
    }

    /// The rate of the arch's time counter (the TSC), where it knows one,
    /// for the `IPCB clock` line. `None` (the default): not reported.
    fn clock() -> Option<ClockInfo> {
        None
    }

    /// Non-maskable interrupts taken so far, on every CPU (a BMC or a
    /// watchdog sends them; the arch counts them and returns). Reported
    /// at the end of a run when not zero.
    fn nmis() -> u64 {
        0
    }

    /// Stray interrupts (and Arm SErrors) taken while user code ran, on
    /// every CPU: the arch enables none, but firmware may leave a source
    /// on; the arch counts them, masks them for the interrupted thread and
    /// returns. Reported at the end of a run when not zero.
    fn stray_interrupts() -> u64 {
        0
    }

    /// Arm this CPU's watchdog with a budget of `Some(ticks)` of its timer
    /// (user mode then runs with interrupts on, so that the timer can stop
    /// a thread that spins; the arch's handler kills the running task with
    /// [`State::watchdog_kill`] when the budget runs out, and re-arms for
    /// the threads left), or stop it (`None`: user mode with interrupts
    /// off, as the timed runs want it). The driver arms it before user code
    /// that is not a timed run and stops it afterwards. Returns whether the
    /// arch has a watchdog (the default: none, and nothing is armed).
    fn watchdog(budget: Option<u64>) -> bool {
        let _ = budget;
        false
    }

    /// Maskable interrupts this CPU has taken so far (the watchdog's timer
    /// and any other source the arch counts; NMIs are [`Machine::nmis`]).
    /// The driver reports how many arrived during each benchmark's runs:
    /// 0, since the timed runs keep interrupts masked.
    fn interrupts() -> u64 {
        0
    }

    /// Probe `i` of the kernel's W^X self-test (`selftest=wx`): try, in
    /// kernel mode on the boot CPU, an access the kernel's mappings must
    /// refuse (a write to `.text`, a jump into `.data`, ...), catch the
    /// fault and report it. `None` past the last probe (the default: the
    /// arch has none).
    fn wx_probe(i: usize) -> Option<WxProbe> {
        let _ = i;
        None
    }

    /// Read the cycle/time counter used for the boot calibration loop and
    /// run the loop: `iters` iterations of two instructions each. Returns
    /// (counter name, delta).
    fn calibrate(iters: u64) -> (&'static str, u64);

    /// Route syscalls through the *floor* entry (`on`) or the normal one.
    /// The floor entry returns at once from syscall number 0 (status 0,
    /// nothing else touched) and passes every other number to the normal
    /// entry: the kernel's minimal round trip, measured by the `floor`
    /// benchmark. Returns `false` where the arch has no floor entry (the
    /// benchmark is then skipped).
    fn floor_entry(on: bool) -> bool {
        let _ = on;
        false
    }

    /// Turn kernel isolation on for this CPU (`kpti=on`): from now on the
    /// user tables of every space made on it map nothing of the kernel
    /// but its entry trampoline (Meltdown-style isolation, as Linux's
    /// KPTI). Called on each CPU before its first space. Returns the
    /// mode's name for the report, or why the arch cannot (the default:
    /// it has no isolation).
    fn kernel_isolation() -> Result<&'static str, &'static str> {
        Err("this arch has no kernel isolation mode")
    }

    /// With kernel isolation on: walk the user tables of `space` and prove
    /// that they keep of the kernel only the entry trampoline; returns how
    /// many kernel pages they keep, or what is wrong.
    fn isolation_check(space: Self::Space) -> Result<u64, &'static str> {
        let _ = space;
        Err("this arch has no kernel isolation mode")
    }

    /// Run user mode, starting in `thread` with argument registers from
    /// `regs_from`, until the kernel has no ready thread left; then return.
    ///
    /// # Safety
    ///
    /// The contexts must be those of live threads of the kernel that the
    /// arch's entry points hand to the runtime, and must stay valid (not
    /// moved) while user code runs.
    unsafe fn run_user(thread: *mut Self::Context, regs_from: *const Self::Context);

    /// Index of the CPU this runs on: 0 on the boot CPU, then 1, 2, ... in
    /// the order [`Machine::start_secondaries`] started them.
    fn cpu_index() -> usize {
        0
    }

    /// Start every other CPU the firmware lists. Each runs `entry(index)`
    /// on its own kernel stack, with its own per-CPU kernel state (the
    /// board's state static reaches that CPU's copy), once it is set up as
    /// the boot CPU is (entries, exceptions, counters, features). Returns
    /// the number of CPUs online, this one included (1 where the arch
    /// starts none).
    ///
    /// # Safety
    ///
    /// Call once, on the boot CPU, after its own set-up.
    unsafe fn start_secondaries(entry: fn(usize) -> !) -> usize {
        let _ = entry;
        1
    }

    /// A secondary CPU with no work waits here until [`Machine::unpark_all`]
    /// (it may also return early; the caller checks for work and parks
    /// again). It should stop executing while it waits (x86 `hlt` until an
    /// IPI, Arm `wfi`): under QEMU icount every instruction any CPU runs
    /// advances the one clock all CPUs read, so a spinning CPU would add to
    /// the figures measured on the boot CPU meanwhile. The default spins.
    fn park() {
        core::hint::spin_loop();
    }

    /// Wake every CPU waiting in [`Machine::park`] (after publishing work).
    fn unpark_all() {}

    /// One turn of a short spin-wait (the start barrier, collecting the
    /// results). The default is `core::hint::spin_loop` (x86 `pause`). An
    /// arch whose spin hint does not let QEMU's round robin switch to
    /// another vCPU under icount (AArch64's is `isb`) uses one that does.
    fn relax() {
        core::hint::spin_loop();
    }

    /// Wake CPU `cpu` (an index of [`Machine::cpu_index`]) if it waits in
    /// [`Machine::park`]. The default wakes them all.
    fn wake(cpu: usize) {
        let _ = cpu;
        Self::unpark_all();
    }
}

/// What the runtime needs of a board.
pub trait Board {
    /// The board's name in reports (`pc-x86_64`, `qemu-virt-aarch64`).
    const NAME: &'static str;
    /// The board's init hook: bring up what its console and the rest of
    /// the kernel need before anything else runs (a UART's enable, clocks,
    /// pin muxing). Called once, on the boot CPU, by the arch's boot code
    /// right before the board's `ipcb_kernel_main`: in the higher half
    /// with the MMU on and the device window mapped, on the boot stack,
    /// before the kernel's first console byte (the symbol
    /// `ipcb_board_init`, emitted by `board_kernel!`). The default does
    /// nothing.
    fn init() {}
    /// Write one byte to the console.
    fn putc(b: u8);
    /// Exit: status 0 = pass, 1 = a check failed, 2 = kernel panic. Under
    /// QEMU this ends the emulator; on hardware it halts.
    fn exit(status: u8) -> !;
    /// Number of CPUs the kernel uses.
    fn cores() -> usize {
        1
    }
}
