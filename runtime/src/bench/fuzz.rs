// SPDX-License-Identifier: MIT OR Apache-2.0
//! Seeded syscall fuzzing (`fuzz=N seed=S`): before the correctness
//! scenarios and the benchmarks, the driver runs *episodes* until the fuzz
//! threads have issued `N` syscalls.
//!
//! Each episode starts from an empty kernel, like any scenario: five tasks
//! (the user program `bench-user`, roles 48..=53 of `benches::fuzz`),
//! four endpoints, the capabilities of docs/abi.md "Fuzzing", eight or
//! nine threads, each with its job and a seed in its UTCB and a scratch
//! page.
//! Its plan (the budgets, who faults on purpose and how) comes from a
//! splitmix64 stream of the seed and the episode number, and every thread's
//! seed from the same stream, so a seed replays the same run (one CPU, no
//! interrupts: the schedule is a function of the syscalls).
//!
//! The driver runs user mode until no thread is ready (partners wait for
//! good in `recv` or `send`, a fuzz thread may too), then judges: no
//! thread reported a failed check; every task killed was one planned to
//! fault, and each planned fault killed it; the victim finished every
//! round. The count of syscalls is what the fuzz threads left in their
//! UTCBs. The result is one `IPCB fuzz` line and `IPCB ok test=fuzz`, or
//! `IPCB fail test=fuzz reason="episode E ..."` at the first episode that
//! fails (and the fuzzing stops there).

use core::sync::atomic::{AtomicU64, Ordering};

use ipc_core::{Badge, Cap, EndpointId, Rights, TaskId, ThreadId, Word};

use super::{load_elf, run, run_guarded, Env, SetupError, STACK_AREA, STACK_BASE, UTCB_BASE};
use crate::elf::Elf;
use super::smp::MAX_CPUS;
use crate::mem::FRAME;
use crate::{kprint, kprintln, Board, Machine, MemError, Perm, State};

/// Roles (the program's copy: `benches::fuzz::role`).
mod role {
    pub const FUZZ: u64 = 48;
    pub const ECHO: u64 = 49;
    pub const FEED: u64 = 50;
    pub const VICTIM: u64 = 51;
    pub const VICTIM_SERVER: u64 = 52;
    pub const FAULTER: u64 = 53;
}

/// UTCB words 0..3 a fuzz thread leaves (`benches::fuzz::stat`).
mod stat {
    pub const COUNT: usize = 0;
    pub const STATE: usize = 1;
    pub const NR: usize = 2;
    pub const CAP: usize = 3;
    pub const DONE: u64 = 1;
    pub const FAULTING: u64 = 3;
}

/// Where each thread's scratch page is mapped: `+ k * 4 KiB` for thread
/// `k` of its task (docs/abi.md "Fuzzing").
pub const SCRATCH_BASE: u64 = 0x38_0000_0000;

/// Stack mapped per fuzz thread (16 KiB below the usual top).
const FUZZ_STACK: u64 = 16 * 1024;

/// The fault kinds (`benches::fuzz::FaultKind`, in order).
const FAULT_NAMES: [&str; 16] = [
    "kernel-read", "write-code", "privileged", "undefined", "null-read", "nx-stack", "wild-read",
    "wild-write", "wild-jump", "breakpoint", "gate", "step", "wild-stack", "float", "divide", "run-utcb",
];

/// Most syscalls per fuzz thread and episode.
const MAX_BUDGET: u64 = 1024;

/// splitmix64, as the program's `benches::fuzz::Rng`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// One thread of an episode.
#[derive(Clone, Copy, Debug)]
struct Th {
    task: usize,
    role: u64,
    budget: u64,
    seed: u64,
    end_fault: u64,
    /// The slot of its endpoint (the partners), word 14.
    slot: u64,
}

/// The names of the tasks, for reports.
const TASKS: [&str; 5] = ["fuzz", "echo", "feed", "victim", "faulter"];

/// An endpoint capability.
const fn ep(ep: usize, rights: Rights, badge: u64) -> (usize, Rights, u64) {
    (ep, rights, badge)
}

const ECHO: usize = 0;
const FEED: usize = 1;
const LOOP: usize = 2;
const VIC: usize = 3;

/// The endpoint capabilities: (task, slot, endpoint, rights, badge). The
/// fuzz task's table is `benches::fuzz::layout`.
const EP_CAPS: [(usize, usize, (usize, Rights, u64)); 13] = [
    (0, 1, ep(ECHO, Rights::SEND, 0xEC0)),
    (0, 2, ep(FEED, Rights::RECV, 0)),
    (0, 5, ep(LOOP, Rights::ALL, 0x100)),
    (0, 6, ep(LOOP, Rights::SEND, 0x101)),
    (0, 7, ep(LOOP, Rights::RECV, 0)),
    (0, 9, ep(ECHO, Rights(0), 0xEC9)),
    (1, 1, ep(ECHO, Rights::RECV, 0)),
    (1, 2, ep(LOOP, Rights::RECV, 0)),
    (2, 1, ep(FEED, Rights::SEND, 0xFEED)),
    (2, 2, ep(LOOP, Rights::SEND, 0xFEE2)),
    (3, 1, ep(VIC, Rights::RECV, 0)),
    (3, 2, ep(VIC, Rights::SEND, 0x71C7)),
    (4, 1, ep(ECHO, Rights::SEND, 0xEC4)),
];

/// The fuzz task's thread capabilities: (slot, thread index in the
/// episode, rights, badge).
const THREAD_CAPS: [(usize, usize, Rights, u64); 4] = [
    (3, F0, Rights::CONTROL, 0x7F0),
    (4, F0 + 1, Rights::CONTROL, 0x7F1),
    (8, VICTIM, Rights::CONTROL, 0x71C),
    (10, F0, Rights(0), 0x7FA),
];

/// The victim's client: thread 5 of an episode.
const VICTIM: usize = 5;
/// The first fuzz thread: thread 6 (the second is 7, the faulter 8).
const F0: usize = 6;
/// Threads in an episode (with the faulter).
const THREADS: usize = 9;

/// A built episode: the first thread to run, the threads, the tasks, the
/// threads' scratch pages (physical).
type Built = (ipc_core::Next, [ThreadId; THREADS], [TaskId; 5], [u64; THREADS]);

/// Builds an episode.
fn setup<M: Machine, B: Board>(
    st: &mut State<M, B>,
    env: &Env<'_, M, B>,
    threads: &[Th],
) -> Result<Built, SetupError> {
    super::fresh(st, env);

    let elf = Elf::parse(env.user_elf, env.elf_machine)?;
    let mut tasks = [TaskId(0); 5];
    let mut entry = 0;
    for (i, t) in tasks.iter_mut().enumerate() {
        let space = M::new_space(&mut st.frames, i as u16 + 1)?;
        entry = load_elf(st, space, &elf)?;
        *t = st.kernel.create_task(space)?;
    }
    let mut eps = [EndpointId(0); 4];
    for e in eps.iter_mut() {
        *e = st.kernel.create_endpoint()?;
    }
    for (task, slot, (e, rights, badge)) in EP_CAPS {
        st.kernel.set_cap(tasks[task], slot, Cap::Endpoint { ep: eps[e], rights, badge: Badge(badge) })?;
    }
    let mut ids = [ThreadId(0); THREADS];
    let mut scratches = [0u64; THREADS];
    let mut per_task = [0u64; 5];
    for (n, th) in threads.iter().enumerate() {
        let k = per_task[th.task];
        per_task[th.task] += 1;
        let space = st.kernel.space(tasks[th.task]).ok_or(ipc_core::Error::InvalidArgument)?;
        let page = |va: u64, st: &mut State<M, B>| -> Result<u64, SetupError> {
            let pa = st.frames.alloc().ok_or(MemError::OutOfFrames)?;
            // SAFETY: a fresh frame in the direct map.
            unsafe { core::ptr::write_bytes(M::phys_to_virt(pa), 0, FRAME as usize) };
            M::map_page(&mut st.frames, space, va, pa, Perm { write: true, exec: false })?;
            Ok(pa)
        };
        let uva = UTCB_BASE + k * FRAME;
        let upa = page(uva, st)?;
        let scratch = SCRATCH_BASE + k * FRAME;
        scratches[n] = page(scratch, st)?;
        let stack_top = STACK_BASE + k * STACK_AREA + STACK_AREA;
        let mut va = stack_top - FUZZ_STACK;
        while va < stack_top {
            page(va, st)?;
            va += FRAME;
        }
        // SAFETY: as in `bench::setup`: a zeroed, page-aligned frame that
        // lives until the next set-up resets the kernel.
        let utcb: &'static ipc_core::Utcb = unsafe { &*(M::phys_to_virt(upa) as *const ipc_core::Utcb) };
        let words: [(usize, Word); 7] =
            [(4, th.role), (5, th.budget), (6, th.seed), (7, th.end_fault), (8, n as u64), (10, scratch), (14, th.slot)];
        for (i, v) in words {
            utcb.set(i, v);
        }
        ids[n] = st.kernel.create_thread(tasks[th.task], entry, stack_top - 8, uva, Some(utcb))?;
    }
    for (slot, t, rights, badge) in THREAD_CAPS {
        let thread = *ids.get(t).ok_or(ipc_core::Error::InvalidArgument)?;
        st.kernel.set_cap(tasks[0], slot, Cap::Thread { thread, rights, badge: Badge(badge) })?;
    }
    Ok((st.kernel.schedule(), ids, tasks, scratches))
}

/// The totals of a fuzz phase.
struct Totals {
    syscalls: u64,
    kills: u64,
    episodes: u64,
}

/// Runs the fuzz phase (`cfg.fuzz` syscalls, seed `cfg.seed`) on this
/// CPU; prints its `IPCB` lines. Then, with several CPUs, every core at
/// once ([`parallel`]). `true` if every episode passed.
pub(super) fn fuzz<M: Machine, B: Board>(env: &Env<'_, M, B>, cores: usize) -> bool {
    let (want, seed) = (env.config.fuzz, env.config.seed);
    kprintln!(B, "fuzz: {} syscalls, seed {:#x}", want, seed);
    let Ok(t) = episodes(env, seed, want, true) else { return false };
    if hang_episode(env, seed).is_err() {
        return false;
    }
    kprintln!(B, "IPCB fuzz syscalls={} kills={} episodes={} seed={:#x} kernel_faults=0", t.syscalls, t.kills, t.episodes, seed);
    kprintln!(B, "IPCB ok test=fuzz");
    cores < 2 || parallel(env, cores)
}

/// Episodes until `want` syscalls, from `seed`; `notes`: the progress
/// lines (the boot CPU's run alone).
fn episodes<M: Machine, B: Board>(env: &Env<'_, M, B>, seed: u64, want: u64, notes: bool) -> Result<Totals, ()> {
    let mut t = Totals { syscalls: 0, kills: 0, episodes: 0 };
    let step = (want / 10).max(1);
    let mut next_note = step;
    while t.syscalls < want {
        let left = want - t.syscalls;
        episode(env, seed, &mut t, left)?;
        if notes && t.syscalls >= next_note && t.syscalls < want {
            kprintln!(B, "fuzz: {} syscalls, {} task kills, {} episodes so far", t.syscalls, t.kills, t.episodes);
            next_note = (t.syscalls / step + 1) * step;
        }
    }
    Ok(t)
}

/// The parallel job number of the fuzzing on every core (not an index
/// of the benchmarks' `PARALLEL`).
pub(super) const FUZZ_JOB: usize = 1 << 14;

/// What each core's share of [`parallel`] came to: syscalls, task
/// kills, and 1 if every episode passed (its own cache lines, written by
/// that core before its slot says done).
static PAR_SYSCALLS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static PAR_KILLS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static PAR_OK: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// The seed of core `core`'s share of [`parallel`].
pub(super) fn core_seed(seed: u64, core: usize) -> u64 {
    seed ^ (core as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// Core `core`'s share of [`parallel`]: a quarter of the syscalls (at
/// least one) from its own seed, in its own kernel, under its own
/// watchdog; the totals in `PAR_*`.
pub(super) fn fuzz_core<M: Machine, B: Board>(env: &Env<'_, M, B>, core: usize) {
    let want = (env.config.fuzz / 4).max(1);
    let r = episodes(env, core_seed(env.config.seed, core), want, false);
    let (s, k, ok) = match r {
        Ok(t) => (t.syscalls, t.kills, 1),
        Err(()) => (0, 0, 0),
    };
    if let Some(i) = (core < MAX_CPUS).then_some(core) {
        PAR_SYSCALLS[i].store(s, Ordering::Relaxed);
        PAR_KILLS[i].store(k, Ordering::Relaxed);
        PAR_OK[i].store(ok, Ordering::Release);
    }
}

/// Fuzzing on every core at once (each core its own kernel, seed and
/// watchdog: [`fuzz_core`]); one `IPCB ok test=fuzz-parallel core=N
/// syscalls=S kills=K` line per core (a failed episode has printed its
/// `IPCB fail test=fuzz` line). Not in the `IPCB fuzz` totals, which stay
/// the boot CPU's run alone (the seed's replay).
fn parallel<M: Machine, B: Board>(env: &Env<'_, M, B>, cores: usize) -> bool {
    for ok in PAR_OK.iter().take(cores) {
        ok.store(0, Ordering::Relaxed);
    }
    super::smp::run_fuzz_parallel(env, cores);
    let mut all = true;
    for core in 0..cores.min(MAX_CPUS) {
        if PAR_OK[core].load(Ordering::Acquire) == 1 {
            kprintln!(B, "IPCB ok test=fuzz-parallel core={} syscalls={} kills={}", core,
                PAR_SYSCALLS[core].load(Ordering::Relaxed), PAR_KILLS[core].load(Ordering::Relaxed));
        } else {
            kprintln!(B, "IPCB fail test=fuzz-parallel reason=\"core {} (seed {:#x}): an episode failed\"", core, core_seed(env.config.seed, core));
            all = false;
        }
    }
    all
}

/// The faulter's end that spins for ever (`benches::fuzz::END_SPIN`).
const END_SPIN: u64 = 17;

/// The watchdog's budget in the hang episode (ticks: 20 ms of QEMU's
/// virtual time on x86, 0.32 s on Arm), at most the configured one.
const HANG_BUDGET: u64 = 20_000_000;

/// After the random episodes, one that hangs: the faulter alone, which
/// spins in user mode for ever ([`END_SPIN`]); the watchdog must kill it
/// (one `IPCB watchdog` line), which proves the episodes run under it.
/// Not counted in the totals (no syscalls, no fault kill). Skipped, and
/// said, on a board without a watchdog.
fn hang_episode<M: Machine, B: Board>(env: &Env<'_, M, B>, seed: u64) -> Result<(), ()> {
    if !M::watchdog(None) {
        kprintln!(B, "fuzz: no watchdog on {}: no hang episode", B::NAME);
        return Ok(());
    }
    let mut r = Rng(seed ^ 0x4841_4E47);
    let threads = [Th { task: 4, role: role::FAULTER, budget: 0, seed: r.next(), end_fault: END_SPIN, slot: 1 }];
    let built = {
        // SAFETY: no other reference to the state is live in the driver.
        let st = unsafe { &mut *(env.state)() };
        setup(st, env, &threads)
    };
    let (next, ids, _, _) = match built {
        Ok(x) => x,
        Err(err) => {
            kprintln!(B, "IPCB fail test=fuzz reason=\"the hang episode: setup failed: {:?}\"", err);
            return Err(());
        }
    };
    M::watchdog(Some(env.config.watchdog.min(HANG_BUDGET)));
    run(env, next);
    M::watchdog(None);
    // SAFETY: user mode is over; the driver is the only user of the state.
    let st = unsafe { &*(env.state)() };
    let spun = st.kernel.utcb(ids[0]).map_or(0, |u| u.get(stat::STATE)) == stat::FAULTING;
    if !spun || st.watchdog_kills != 1 || st.services.reports.fail.is_some() {
        kprintln!(B, "IPCB fail test=fuzz reason=\"the hang episode: the spinning faulter {}, {} watchdog kills (expected 1)\"",
            if spun { "spun" } else { "did not spin" }, st.watchdog_kills);
        return Err(());
    }
    kprintln!(B, "fuzz: hang episode: the spinning faulter killed by the watchdog");
    Ok(())
}

/// One episode with at most `left` syscalls; adds its counts to `t`.
fn episode<M: Machine, B: Board>(env: &Env<'_, M, B>, seed: u64, t: &mut Totals, left: u64) -> Result<(), ()> {
    let e = t.episodes;
    t.episodes += 1;
    let mut r = Rng(seed ^ e.wrapping_mul(0xA076_1D64_78BD_642F));
    let b0 = 1 + r.below(left.min(MAX_BUDGET));
    let b1 = r.below((left - b0).min(MAX_BUDGET) + 1);
    let plan = r.below(8);
    let kind = 1 + r.below(FAULT_NAMES.len() as u64);
    let fb = r.below((left - b0 - b1).min(8) + 1);
    let f0_fault = if plan < 2 { kind } else { 0 };
    let faulter = (2..4).contains(&plan);
    let rounds = (b0 + b1) / 16 + 4;
    let th = |task, role, slot, budget, end_fault, r: &mut Rng| Th { task, role, budget, seed: r.next(), end_fault, slot };
    // The partners first, so that they wait before the fuzz threads run:
    // an echo server on the echo and on the loop endpoint, the victim's
    // server, a feeder on the feed and on the loop endpoint.
    let mut threads = [
        th(1, role::ECHO, 1, 0, 0, &mut r),
        th(1, role::ECHO, 2, 0, 0, &mut r),
        th(3, role::VICTIM_SERVER, 1, 0, 0, &mut r),
        th(2, role::FEED, 1, b0 + b1 + 8, 0, &mut r),
        th(2, role::FEED, 2, b0 + b1 + 8, 0, &mut r),
        th(3, role::VICTIM, 2, rounds, 0, &mut r),
        th(0, role::FUZZ, 0, b0, f0_fault, &mut r),
        th(0, role::FUZZ, 0, b1, 0, &mut r),
        th(4, role::FAULTER, 1, fb, kind, &mut r),
    ];
    let n = if faulter { THREADS } else { THREADS - 1 };
    let threads = &mut threads[..n];

    let before = {
        // SAFETY: no other reference to the state is live in the driver.
        unsafe { (*(env.state)()).faults }
    };
    let built = {
        // SAFETY: as above.
        let st = unsafe { &mut *(env.state)() };
        setup(st, env, threads)
    };
    let (next, ids, tasks, scratches) = match built {
        Ok(x) => x,
        Err(err) => {
            kprintln!(B, "IPCB fail test=fuzz reason=\"episode {} (seed {:#x}): setup failed: {:?}\"", e, seed, err);
            return Err(());
        }
    };
    // Under the watchdog, as any user code outside the timed runs.
    run_guarded(env, next);
    // SAFETY: user mode is over; the driver is the only user of the state.
    let st = unsafe { &*(env.state)() };
    let word = |n: usize, i: usize| st.kernel.utcb(ids[n]).map_or(0, |u| u.get(i));
    let name = |n: usize| match threads[n].role {
        role::FUZZ => "fuzz",
        role::ECHO => "echo",
        role::FEED => "feed",
        role::VICTIM => "victim",
        role::VICTIM_SERVER => "victim-server",
        _ => "faulter",
    };
    let fail = |why: core::fmt::Arguments<'_>| {
        kprintln!(B, "IPCB fail test=fuzz reason=\"episode {} (seed {:#x}): {}\"", e, seed, why);
        Err(())
    };
    for (n, thr) in threads.iter().enumerate() {
        if thr.role == role::FUZZ || thr.role == role::FAULTER {
            t.syscalls += word(n, stat::COUNT);
        }
    }
    if let Some(f) = st.services.reports.fail {
        let n = f.bench as usize;
        if n < threads.len() {
            // For a person: the failing call's registers as the stub
            // loaded them and as they came back (the arch's numbering,
            // docs/abi.md "Fuzzing"; 32 = the flags).
            // SAFETY: the thread's scratch page, a frame in the direct
            // map that the next set-up reclaims; user mode is over.
            let w = |i: usize| unsafe { (M::phys_to_virt(scratches[n]) as *const u64).add(i).read_volatile() };
            for (what, base) in [("in", 0), ("out", 40)] {
                kprint!(B, "fuzz: episode {} thread {} registers {}:", e, n, what);
                for i in 0..34 {
                    kprint!(B, " {:#x}", w(base + i));
                }
                kprintln!(B, "");
            }
            return fail(format_args!(
                "thread {} ({}), syscall {} (nr {:#x} cap {:#x}): check {:#x} got {:#x} expected {:#x}",
                n, name(n), word(n, stat::COUNT), word(n, stat::NR), word(n, stat::CAP), f.what, f.got, f.expected
            ));
        }
        return fail(format_args!("a failure from thread {}: check {:#x} got {:#x} expected {:#x}", f.bench, f.what, f.got, f.expected));
    }
    // Who was to be killed: the threads that got to their fault.
    let planned: u64 = (0..threads.len()).filter(|&n| word(n, stat::STATE) == stat::FAULTING).count() as u64;
    let kills = st.faults - before;
    t.kills += kills;
    let killed = |task: usize| st.fault.is_some_and(|f| f.task == Some(tasks[task]));
    if kills != planned || (kills > 0 && !(killed(0) || killed(4))) {
        let (task, v, a, pc) = match st.fault {
            Some(f) => {
                let task = f.task.and_then(|x| tasks.iter().position(|&y| y == x)).map_or("?", |i| TASKS[i]);
                (task, f.vector, f.addr, f.pc)
            }
            None => ("none", 0, 0, 0),
        };
        return fail(format_args!(
            "{} task(s) killed, {} planned (the last: task {}, vector {:#x} addr {:#x} pc {:#x})",
            kills, planned, task, v, a, pc
        ));
    }
    if let Some(f) = st.fault.filter(|_| kills > 0) {
        let task = if killed(4) { 4 } else { 0 };
        let kind = if task == 4 { kind } else { f0_fault };
        kprintln!(B, "fuzz: episode {}: task {} killed ({}): vector {:#x} error {:#x} addr {:#x} pc {:#x}",
            e, TASKS[task], FAULT_NAMES[(kind - 1) as usize], f.vector, f.error, f.addr, f.pc);
    }
    if st.watchdog_kills > 0 {
        return fail(format_args!("{} thread(s) ran past the watchdog's budget of {} ticks", st.watchdog_kills, env.config.watchdog));
    }
    if word(VICTIM, stat::STATE) != stat::DONE || word(VICTIM, stat::COUNT) != rounds {
        return fail(format_args!("the victim did {} of its {} rounds", word(VICTIM, stat::COUNT), rounds));
    }
    Ok(())
}
