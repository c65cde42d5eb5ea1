// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel state the arch entry points work on, and the runtime's
//! service calls.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};

use ipc_core::{Error, Kernel, Next, Services, TaskId, ThreadId, UserContext, Utcb, Word};
use pmu::{RunLog, MAX_COUNTERS};

use crate::mem::FrameAlloc;
use crate::{Board, Machine};

/// Taken while a core prints its `IPCB watchdog` line.
static WATCHDOG_LINE: AtomicBool = AtomicBool::new(false);

/// Service call numbers (docs/abi.md).
pub mod svc {
    /// Console output: up to 32 bytes in MR0..MR3.
    pub const PUTC: u64 = 16;
    /// One measured run.
    pub const REPORT: u64 = 17;
    /// A failed check.
    pub const FAIL: u64 = 18;
    /// A correctness scenario passed.
    pub const TEST_OK: u64 = 19;
    /// A latency role's time stamps are in its sample buffer.
    pub const LATENCY: u64 = 20;
}

/// A user fault, as the arch trap handler saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Exception vector (x86) or exception class (Arm).
    pub vector: u64,
    /// Error code / syndrome.
    pub error: u64,
    /// Faulting address, where the exception has one.
    pub addr: u64,
    /// User program counter.
    pub pc: u64,
    /// The task that was killed (filled in by [`State::user_fault`]).
    pub task: Option<TaskId>,
}

/// A failed check reported by a benchmark program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FailRecord {
    /// Bench id.
    pub bench: u64,
    /// What failed (docs/abi.md `fail`).
    pub what: u64,
    /// Value seen.
    pub got: u64,
    /// Value expected.
    pub expected: u64,
}

/// What the user programs reported during one scenario.
#[derive(Clone, Copy, Debug)]
pub struct Reports {
    /// Measured runs: counter deltas per run.
    pub log: RunLog,
    /// Operations per run (all reports of one bench must agree).
    pub ops: u64,
    /// A report that did not fit (wrong counter count, ops mismatch, too
    /// many runs).
    pub bad_report: bool,
    /// First failed check, if any.
    pub fail: Option<FailRecord>,
    /// Scenario ids reported passing.
    pub tests_ok: u64,
    /// Counters per report expected.
    pub counters: usize,
    /// Physical address of the latency role's sample buffer, when the
    /// scenario has one.
    pub samples: Option<u64>,
    /// The `latency` service call: overhead pairs, rounds per run, runs.
    pub latency: Option<[u64; 3]>,
}

impl Reports {
    /// Nothing reported yet; reports must carry `counters` counters.
    pub const fn new(counters: usize) -> Self {
        Reports { log: RunLog::new(), ops: 0, bad_report: false, fail: None, tests_ok: 0, counters, samples: None, latency: None }
    }
}

/// The runtime's implementation of the service calls.
pub struct RuntimeServices<B: Board> {
    /// What has been reported.
    pub reports: Reports,
    _b: PhantomData<B>,
}

impl<M: Machine, B: Board> Services<M> for RuntimeServices<B> {
    fn service(
        &mut self,
        _thread: ThreadId,
        _task: TaskId,
        op: Word,
        ctx: &mut M::Context,
        utcb: Option<&Utcb>,
    ) -> Result<(), Error> {
        let mr = |i| ctx.mr(i);
        let args = ctx.syscall_args();
        match op {
            svc::PUTC => {
                let n = usize::try_from(args.cap).map_err(|_| Error::InvalidArgument)?;
                if n > 8 * M::MR_IN_REGS.min(4) {
                    return Err(Error::InvalidArgument);
                }
                for i in 0..n {
                    B::putc((mr(i / 8) >> (8 * (i % 8))) as u8);
                }
                Ok(())
            }
            svc::REPORT => {
                let r = &mut self.reports;
                let n = mr(3) as usize;
                let ops = mr(2);
                if n != r.counters || n > MAX_COUNTERS || (r.ops != 0 && r.ops != ops) || ops == 0 {
                    r.bad_report = true;
                    return Err(Error::InvalidArgument);
                }
                let utcb = utcb.ok_or(Error::InvalidArgument)?;
                let mut d = [0u64; MAX_COUNTERS];
                for (i, v) in d.iter_mut().enumerate().take(n) {
                    *v = utcb.get(4 + i);
                }
                r.ops = ops;
                if !r.log.push(&d[..n]) {
                    r.bad_report = true;
                    return Err(Error::InvalidArgument);
                }
                Ok(())
            }
            svc::FAIL => {
                if self.reports.fail.is_none() {
                    self.reports.fail =
                        Some(FailRecord { bench: mr(0), what: mr(1), got: mr(2), expected: mr(3) });
                }
                Ok(())
            }
            svc::LATENCY => {
                let r = &mut self.reports;
                if r.samples.is_none() || r.latency.is_some() {
                    r.bad_report = true;
                    return Err(Error::InvalidArgument);
                }
                r.latency = Some([mr(1), mr(2), mr(3)]);
                Ok(())
            }
            svc::TEST_OK => {
                let id = mr(0);
                if id >= 64 {
                    return Err(Error::InvalidArgument);
                }
                self.reports.tests_ok |= 1 << id;
                Ok(())
            }
            _ => Err(Error::UnsupportedService),
        }
    }
}

/// Everything the kernel entry points need: the IPC core, frames, what the
/// user programs reported and the last user fault.
pub struct State<M: Machine, B: Board> {
    /// The IPC core.
    pub kernel: Kernel<M>,
    /// Frames for page tables and user memory.
    pub frames: FrameAlloc,
    /// The service calls and their records.
    pub services: RuntimeServices<B>,
    /// The last user fault.
    pub fault: Option<Fault>,
    /// Count of user faults.
    pub faults: u64,
    /// Tasks the watchdog killed in the current scenario.
    pub watchdog_kills: u64,
}

impl<M: Machine, B: Board> State<M, B> {
    /// A fresh state over the frames in `frames`.
    pub fn new(frames: FrameAlloc) -> Self {
        State {
            kernel: Kernel::new(),
            frames,
            services: RuntimeServices { reports: Reports::new(0), _b: PhantomData },
            fault: None,
            faults: 0,
            watchdog_kills: 0,
        }
    }

    /// Make `self` what [`State::new`] would give, in place (a CPU's state
    /// is too large for a temporary on its kernel stack), over `frames`.
    pub fn reinit(&mut self, frames: FrameAlloc) {
        self.kernel.reset();
        self.frames = frames;
        self.services.reports = Reports::new(0);
        self.fault = None;
        self.faults = 0;
        self.watchdog_kills = 0;
    }

    /// The Rust half of the syscall entry.
    #[inline(always)]
    pub fn syscall(&mut self) -> Next {
        self.kernel.syscall(&mut self.services)
    }

    /// The Rust half of a user-mode exception: kill the faulting task, pick
    /// the next thread.
    #[cold]
    pub fn user_fault(&mut self, mut f: Fault) -> Next {
        let (task, next) = self.kernel.fault_current();
        f.task = task;
        self.fault = Some(f);
        self.faults += 1;
        next
    }

    /// The Rust half of the watchdog's expiry (the arch's timer interrupt
    /// from user mode, outside the timed runs): kill the running task as a
    /// fault would (its callers get `PartnerDied`), say so in one `IPCB
    /// watchdog` line (`core`: this CPU, `budget`: in timer ticks), pick
    /// the next thread.
    #[cold]
    pub fn watchdog_kill(&mut self, core: usize, budget: u64) -> Next {
        let (task, next) = self.kernel.fault_current();
        self.watchdog_kills += 1;
        // Several cores' watchdogs may expire at once: one line at a time
        // (nothing else prints while they run user code).
        while WATCHDOG_LINE.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        match task {
            Some(t) => crate::kprintln!(B, "IPCB watchdog core={} task={} reason=\"ran past its budget of {} ticks\"", core, t.0, budget),
            None => crate::kprintln!(B, "IPCB watchdog core={} task=- reason=\"ran past its budget of {} ticks\"", core, budget),
        }
        WATCHDOG_LINE.store(false, Ordering::Release);
        next
    }
}
