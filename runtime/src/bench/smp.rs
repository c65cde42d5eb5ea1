// SPDX-License-Identifier: MIT OR Apache-2.0
//! All cores at once: starting the other CPUs, handing them parallel
//! scenarios, the start barrier, and collecting what each core measured.
//!
//! Each CPU has a kernel of its own (the board's state static reaches a
//! per-CPU copy on every CPU, [`Machine::start_secondaries`]) and a slice
//! of RAM of its own ([`crate::mem::FrameAlloc::split`]), so a CPU builds and runs its
//! scenario without a lock and without writing a cache line another CPU
//! writes: the boot CPU publishes a job (a generation number and the
//! scenario), every CPU builds its tasks, all meet at one start barrier,
//! run, and each writes its snapshot into its own cache-line-sized slot.
//! The boot CPU then prints one record per core.
//!
//! A secondary CPU without work waits in [`Machine::park`] (halted where
//! the arch can, so that it adds nothing to the one instruction clock the
//! boot CPU measures with under QEMU icount); the short waits of a parallel
//! run (the start barrier, the collection) spin with
//! [`core::hint::spin_loop`]. No timer is involved, so under icount's
//! round-robin, where the vCPUs take turns on one thread, a spinning CPU
//! only burns its turn and the others progress.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use core::mem::MaybeUninit;

use ipc_core::{Kernel, Next, RemoteKind, RemoteMsg};

use super::{cross_words, exec, exec_on, job_scenario, run, Env, Scenario, SetupError, Snapshot, CROSS_SERVER};
use crate::mem::FrameSplit;
use crate::{Board, Machine};

/// Most CPUs the driver uses (more are left parked by the arch).
pub const MAX_CPUS: usize = 256;

/// CPUs that can take part in cross-core IPC: the channel matrix is
/// `MAX_CROSS_CPUS`² cache lines, so it is kept to the first CPUs (the
/// `ipc-cross-core` benchmark uses CPUs 0 and 1) instead of 256² lines.
pub const MAX_CROSS_CPUS: usize = 16;

/// One CPU's answer to the current job, on a cache line of its own.
#[repr(C, align(64))]
struct Slot {
    /// Generation of the job the snapshot answers.
    done: AtomicU64,
    /// Written by its CPU before `done`, read by the boot CPU after.
    snap: UnsafeCell<Option<Result<Snapshot, SetupError>>>,
}

// SAFETY: `snap` is written only by the slot's CPU while `done` is behind
// the current generation, and read only by the boot CPU after `done`
// reached it (release/acquire on `done`).
unsafe impl Sync for Slot {}

/// A word on a cache line of its own.
#[repr(C, align(64))]
struct Line<T>(T);

static SLOTS: [Slot; MAX_CPUS] =
    [const { Slot { done: AtomicU64::new(0), snap: UnsafeCell::new(None) } }; MAX_CPUS];
/// The boot CPU's [`Env`], type-erased (it lives until the end of
/// [`super::main`], which does not return).
static ENV: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
/// The RAM slices, published before [`READY`].
#[repr(C, align(64))]
struct SplitCell(UnsafeCell<Option<FrameSplit>>);
static SPLIT: SplitCell = SplitCell(UnsafeCell::new(None));
/// Set once the boot CPU published [`ENV`] and [`SPLIT`].
static READY: Line<AtomicBool> = Line(AtomicBool::new(false));
/// Secondary CPUs that finished their set-up.
static ONLINE: Line<AtomicUsize> = Line(AtomicUsize::new(0));
/// The job: its generation (0: none yet) and the parallel scenario.
static GEN: Line<AtomicU64> = Line(AtomicU64::new(0));
static JOB: Line<AtomicUsize> = Line(AtomicUsize::new(0));
/// Arrivals at the start barrier of the current job (reset by the boot CPU
/// before it publishes a job, when nobody is at the barrier).
static ARRIVED: Line<AtomicUsize> = Line(AtomicUsize::new(0));
/// The job number of `ipc-cross-core` (not an index of `PARALLEL`).
const CROSS_JOB: usize = usize::MAX;
/// The message length of the current cross-core job (both halves).
static CROSS_WORDS: Line<AtomicU64> = Line(AtomicU64::new(0));
/// Generation of the `ipc-cross-core` job whose client has finished: the
/// server's CPU then stops waiting for calls.
static CROSS_DONE: Line<AtomicU64> = Line(AtomicU64::new(0));

/// A one-message channel from one CPU's kernel to another's: the sender
/// writes `msg` and bumps `seq`; the receiver, once its kernel took the
/// message, sets `ack` to `seq`. A message the receiving kernel cannot take
/// yet (no thread waits on the endpoint) stays until it can.
#[repr(C, align(64))]
struct Chan {
    seq: AtomicU64,
    ack: AtomicU64,
    msg: UnsafeCell<MaybeUninit<RemoteMsg>>,
}

// SAFETY: `msg` is written only by the sending CPU while `ack == seq` (the
// receiver does not read it), and read only by the receiving CPU while
// `seq != ack` (the sender does not write it); release/acquire on `seq`
// and `ack` order the accesses.
unsafe impl Sync for Chan {}

/// `CHANS[to][from]`.
static CHANS: [[Chan; MAX_CROSS_CPUS]; MAX_CROSS_CPUS] = [const {
    [const { Chan { seq: AtomicU64::new(0), ack: AtomicU64::new(0), msg: UnsafeCell::new(MaybeUninit::uninit()) } };
        MAX_CROSS_CPUS]
}; MAX_CROSS_CPUS];

// SAFETY: `SPLIT` is written once by the boot CPU before `READY` is
// released and only read after it was acquired.
unsafe impl Sync for SplitCell {}

/// Start the other CPUs and give each its slice of RAM. Returns the number
/// of CPUs the driver uses (at most [`MAX_CPUS`]), when all are ready.
///
/// # Safety
///
/// Once, on the boot CPU, before any scenario; `env` must live as long as
/// the program runs.
pub(super) unsafe fn start<M: Machine, B: Board>(env: &Env<'_, M, B>) -> usize {
    ENV.store(core::ptr::from_ref(env).cast_mut().cast(), Ordering::Release);
    // SAFETY: forwarded from the caller's contract.
    let n = unsafe { M::start_secondaries(secondary::<M, B>) }.clamp(1, MAX_CPUS);
    if n > 1 {
        // SAFETY: the driver holds no other reference to the state, and the
        // secondaries do not touch SPLIT before READY.
        unsafe {
            let st = &mut *(env.state)();
            *SPLIT.0.get() = Some(st.frames.split(n));
        }
    }
    READY.0.store(true, Ordering::Release);
    while ONLINE.0.load(Ordering::Acquire) < n - 1 {
        M::relax();
    }
    n
}

/// A secondary CPU: take its RAM slice, reset its kernel, enable its
/// counters as the boot CPU did, then run the jobs it is given.
fn secondary<M: Machine, B: Board>(cpu: usize) -> ! {
    while !READY.0.load(Ordering::Acquire) {
        M::relax();
    }
    if cpu >= MAX_CPUS {
        // Beyond what the driver uses: stay parked (halted, not spinning).
        loop {
            M::park();
        }
    }
    // SAFETY: ENV points to the boot CPU's `Env<M, B>` (set before READY,
    // alive for good); SPLIT is immutable after READY.
    let (env, split) = unsafe {
        (&*ENV.load(Ordering::Acquire).cast::<Env<'static, M, B>>(), (*SPLIT.0.get()).unwrap())
    };
    if let Err(why) = env.config.kpti.then(M::kernel_isolation).transpose() {
        panic!("kpti=on on CPU {}: {}", cpu, why);
    }
    // SAFETY: this CPU's own state copy; nothing else references it.
    unsafe { (*(env.state)()).reinit(split.part(cpu)) };
    let _ = M::counters();
    ONLINE.0.fetch_add(1, Ordering::Release);
    let mut seen = 0;
    loop {
        let g = GEN.0.load(Ordering::Acquire);
        if g == seen {
            // Not spinning: the boot CPU's single-core figures are being
            // measured meanwhile (see `Machine::park`).
            M::park();
            continue;
        }
        seen = g;
        let job = JOB.0.load(Ordering::Acquire);
        let r = if job == super::fuzz::FUZZ_JOB {
            super::fuzz::fuzz_core(env, cpu);
            Err(SetupError::NotRun)
        } else if job == CROSS_JOB {
            if cpu != 1 {
                SLOTS[cpu].done.store(g, Ordering::Release);
                continue;
            }
            let sc = Scenario { words: CROSS_WORDS.0.load(Ordering::Acquire), ..CROSS_SERVER };
            exec_on(env, &sc, Some(2), true)
        } else {
            exec(env, &job_scenario(&env.config, job), Some(cores()))
        };
        // SAFETY: this CPU's slot; the boot CPU reads it only after `done`.
        unsafe { *SLOTS[cpu].snap.get() = Some(r) };
        SLOTS[cpu].done.store(g, Ordering::Release);
    }
}

/// CPUs in use (after [`start`]).
fn cores() -> usize {
    ONLINE.0.load(Ordering::Acquire) + 1
}

/// Wait until `n` CPUs have arrived at the start barrier (this one
/// included). The count only grows: round `k` ends at `k * n` arrivals.
pub(super) fn barrier<M: Machine>(n: usize) {
    ARRIVED.0.fetch_add(1, Ordering::AcqRel);
    while ARRIVED.0.load(Ordering::Acquire) < n {
        M::relax();
    }
}

/// Run parallel scenario `job` on all `n` CPUs at once, then hand each
/// core's snapshot to `each` (core 0 first). Nothing is handed on (and
/// so nothing printed) before every core has finished: under icount the
/// cores share one instruction clock.
pub(super) fn run_parallel<M: Machine, B: Board>(
    env: &Env<'_, M, B>,
    job: usize,
    n: usize,
    mut each: impl FnMut(usize, Result<Snapshot, SetupError>),
) {
    ARRIVED.0.store(0, Ordering::Release);
    JOB.0.store(job, Ordering::Release);
    let g = GEN.0.fetch_add(1, Ordering::AcqRel) + 1;
    M::unpark_all();
    let mine = exec(env, &job_scenario(&env.config, job), Some(n));
    for slot in SLOTS.iter().take(n).skip(1) {
        while slot.done.load(Ordering::Acquire) != g {
            M::relax();
        }
    }
    each(0, mine);
    for (cpu, slot) in SLOTS.iter().enumerate().take(n).skip(1) {
        // SAFETY: `done` reached `g`: the CPU wrote its snapshot and does
        // not touch the slot until the next generation.
        each(cpu, unsafe { (*slot.snap.get()).take() }.unwrap_or(Err(SetupError::NotRun)));
    }
}

/// Fuzz on all `n` CPUs at once (`fuzz::fuzz_core`, this one as core 0);
/// returns when every core has finished.
pub(super) fn run_fuzz_parallel<M: Machine, B: Board>(env: &Env<'_, M, B>, n: usize) {
    ARRIVED.0.store(0, Ordering::Release);
    JOB.0.store(super::fuzz::FUZZ_JOB, Ordering::Release);
    let g = GEN.0.fetch_add(1, Ordering::AcqRel) + 1;
    M::unpark_all();
    super::fuzz::fuzz_core(env, 0);
    for slot in SLOTS.iter().take(n).skip(1) {
        while slot.done.load(Ordering::Acquire) != g {
            M::relax();
        }
    }
    for slot in SLOTS.iter().take(n).skip(1) {
        // SAFETY: as in `run_parallel`: `done` reached `g`.
        let _ = unsafe { (*slot.snap.get()).take() };
    }
}

/// Run `ipc-cross-core` on CPUs 0 (client, this one) and 1 (server);
/// returns both snapshots. Needs two CPUs.
pub(super) fn run_cross<M: Machine, B: Board>(
    env: &Env<'_, M, B>,
) -> (Result<Snapshot, SetupError>, Result<Snapshot, SetupError>) {
    run_cross_with(env, cross_words(&env.config))
}

/// [`run_cross`] with `words`-word messages (at most the register words).
pub(super) fn run_cross_with<M: Machine, B: Board>(
    env: &Env<'_, M, B>,
    words: u64,
) -> (Result<Snapshot, SetupError>, Result<Snapshot, SetupError>) {
    ARRIVED.0.store(0, Ordering::Release);
    JOB.0.store(CROSS_JOB, Ordering::Release);
    CROSS_WORDS.0.store(words, Ordering::Release);
    let g = GEN.0.fetch_add(1, Ordering::AcqRel) + 1;
    M::unpark_all();
    let sc = Scenario { words, ..super::CROSS_CLIENT };
    let client = exec_on(env, &sc, Some(2), true);
    // The client is done (or failed): let the server's CPU stop waiting.
    CROSS_DONE.0.store(g, Ordering::Release);
    M::wake(1);
    for slot in SLOTS.iter().take(cores()).skip(1) {
        while slot.done.load(Ordering::Acquire) != g {
            M::relax();
        }
    }
    // SAFETY: as in `run_parallel`.
    let server = unsafe { (*SLOTS[1].snap.get()).take() }.unwrap_or(Err(SetupError::NotRun));
    (client, server)
}

/// Run user mode from `next` in a scenario that talks to another CPU: when
/// this kernel goes idle, hand its messages for other CPUs on, take the
/// ones for it, and run again; wait (parked) while nothing is to be done.
/// Ends, on the client's CPU, when no call is outstanding and nothing is
/// ready; on the server's, when the client's CPU says so.
pub(super) fn run_cross_core<M: Machine, B: Board>(env: &Env<'_, M, B>, next: Next) {
    let me = M::cpu_index();
    let g = GEN.0.load(Ordering::Acquire);
    let mut next = next;
    loop {
        run(env, next);
        // SAFETY: user mode is idle; the driver is the only user of this
        // CPU's state until the next `run`.
        let k = unsafe { &mut (*(env.state)()).kernel };
        while let Some(m) = k.peek_outgoing() {
            if !post::<M>(me, &m) {
                break;
            }
            k.pop_outgoing();
        }
        take::<M>(me, k);
        if k.has_ready() {
            next = k.schedule();
            continue;
        }
        let done = if me == 0 {
            !k.remote_pending()
        } else {
            CROSS_DONE.0.load(Ordering::Acquire) == g
        };
        if done {
            return;
        }
        // Halted until a message or an acknowledgement wakes this CPU.
        M::park();
        next = Next::Idle;
    }
}

/// Put `m` into the channel from `from` to `m.cpu` and wake that CPU;
/// `false` if the channel still holds an unread message.
fn post<M: Machine>(from: usize, m: &RemoteMsg) -> bool {
    let to = usize::from(m.cpu);
    if to >= MAX_CROSS_CPUS || from >= MAX_CROSS_CPUS {
        return true; // nowhere to go: dropped (the caller waits for good)
    }
    let c = &CHANS[to][from];
    let seq = c.seq.load(Ordering::Relaxed);
    if c.ack.load(Ordering::Acquire) != seq {
        return false;
    }
    // SAFETY: `ack == seq`: the receiver does not read `msg` now.
    unsafe { (*c.msg.get()).write(*m) };
    c.seq.store(seq + 1, Ordering::Release);
    M::wake(to);
    true
}

/// Offer `kernel` every message waiting for CPU `me`; acknowledge (and wake
/// the sender of) each it takes.
fn take<M: Machine>(me: usize, kernel: &mut Kernel<M>) {
    let Some(inbox) = CHANS.get(me) else { return };
    for (from, c) in inbox.iter().enumerate().take(cores()) {
        let seq = c.seq.load(Ordering::Acquire);
        if seq == c.ack.load(Ordering::Relaxed) {
            continue;
        }
        // SAFETY: `seq != ack`: the sender wrote `msg` and does not touch
        // it until we acknowledge.
        let m = unsafe { (*c.msg.get()).assume_init() };
        let taken = match m.kind {
            RemoteKind::Call => kernel.remote_call(from as u8, &m),
            // A reply for a thread that no longer waits is dropped.
            RemoteKind::Reply => {
                kernel.remote_reply(&m);
                true
            }
        };
        if taken {
            c.ack.store(seq, Ordering::Release);
            M::wake(from);
        }
    }
}
