// SPDX-License-Identifier: MIT OR Apache-2.0
//! The checks of the conformance suite, one function each. A check returns
//! `Err` with a sentence saying what the port's `Arch` did and what was
//! expected; it never panics on purpose (the runner still catches a panic
//! of the port's own code and reports it).

extern crate std;

use std::boxed::Box;
use std::format;
use std::string::String;
use std::vec::Vec;

use super::{Config, Machine};
use crate::arch::{resume_context, Arch, SyscallArgs, UserContext};
use crate::kernel::{RemoteKind, Services, REMOTE_WORDS};
use crate::object::{Cap, ThreadState, Utcb};
use crate::types::{
    Badge, Error, MessageInfo, Rights, Syscall, TaskId, ThreadId, ThreadOp, Word, MSG_MAX_WORDS,
    SERVICE_BASE,
};

/// What a check returns.
pub(super) type Outcome = Result<(), String>;

/// Fail the check unless `got == want`, naming what was compared.
macro_rules! ensure_eq {
    ($got:expr, $want:expr, $($what:tt)+) => {{
        let (got, want) = ($got, $want);
        if got != want {
            return Err(format!("{}: got {}, expected {}", format_args!($($what)+), hex(&got), hex(&want)));
        }
    }};
}

/// Fail the check unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($what:tt)+) => {{
        if !$cond {
            return Err(format!($($what)+));
        }
    }};
}

/// A named check.
pub(super) type Named<A> = (&'static str, fn(&Config<A>) -> Outcome);

/// Every check, in the order they run.
pub(super) fn all<A: Arch>() -> Vec<Named<A>> {
    let v: Vec<Named<A>> = std::vec![
        ("arch.constants", constants::<A>),
        ("arch.no_space", no_space::<A>),
        ("context.new_thread", new_thread::<A>),
        ("context.syscall_args", syscall_args::<A>),
        ("context.message_registers", message_registers::<A>),
        ("context.set_status", set_status::<A>),
        ("context.set_recv_result", set_recv_result::<A>),
        ("context.set_recv_badge", set_recv_badge::<A>),
        ("exit.resume_context", exit_resume::<A>),
        ("ipc.call_reply_recv.live_fastpath", |c| call_reply_recv::<A>(c, Path::Live)),
        ("ipc.call_reply_recv.saved_fastpath", |c| call_reply_recv::<A>(c, Path::Saved)),
        ("ipc.call_reply_recv.slowpath", |c| call_reply_recv::<A>(c, Path::Slow)),
        ("ipc.long_message_utcb", long_message::<A>),
        ("ipc.send_then_recv", send_recv::<A>),
        ("ipc.errors_are_status_codes", errors::<A>),
        ("syscall.null_invoke_services", null_invoke_services::<A>),
        ("fault.kills_task_wakes_caller", fault::<A>),
        ("exit.thread_never_runs_again", exit_kill::<A>),
        ("remote.call_between_two_kernels", remote::<A>),
    ];
    v
}

// ----- helpers ---------------------------------------------------------------

/// `v` in hex on one line (`{:#x?}` without its line breaks).
fn hex<T: core::fmt::Debug>(v: &T) -> String {
    let s = format!("{v:#x?}");
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let line = line.trim();
        if !(out.is_empty() || out.ends_with(['[', '(', '{']) || line.starts_with([']', ')', '}'])) {
            out.push(' ');
        }
        out.push_str(line);
    }
    out.replace(",]", "]").replace(",)", ")").replace(",}", "}")
}

/// A distinct word for pattern `k`, register `i` (high bits set, so a
/// truncating register shows).
fn pat(k: u64, i: usize) -> Word {
    0xA500_0000_0000_0000 | (k << 32) | (i as Word + 1)
}

/// The registers of a context that the checks can see through
/// [`UserContext`].
#[derive(Clone, PartialEq, Eq, Debug)]
struct View {
    args: SyscallArgs,
    mrs: Vec<Word>,
    pc: Word,
    sp: Word,
}

fn view<A: Arch>(c: &A::Context) -> View {
    View {
        args: c.syscall_args(),
        mrs: (0..A::MR_IN_REGS).map(|i| c.mr(i)).collect(),
        pc: c.program_counter(),
        sp: c.stack_pointer(),
    }
}

/// A thread context with every visible register set: arguments and
/// message registers from pattern `k`.
fn filled<A: Arch>(cfg: &Config<A>, k: u64) -> A::Context {
    let mut c = A::Context::new_thread(cfg.entry + 0x100 * k, cfg.stack - 0x1_0000 * k, k);
    c.set_syscall_args(SyscallArgs { op: pat(k, 90), cap: pat(k, 91), tag: MessageInfo(pat(k, 92)) });
    for i in 0..A::MR_IN_REGS {
        c.set_mr(i, pat(k, i));
    }
    c
}

/// Compare everything but what a setter may change.
fn unchanged(what: &str, before: &View, after: &View, args_too: bool) -> Outcome {
    for (i, (b, a)) in before.mrs.iter().zip(&after.mrs).enumerate() {
        ensure!(b == a, "{what} changed message register {i}: {b:#x} became {a:#x}");
    }
    ensure!(before.pc == after.pc, "{what} changed the program counter: {:#x} became {:#x}", before.pc, after.pc);
    ensure!(before.sp == after.sp, "{what} changed the stack pointer: {:#x} became {:#x}", before.sp, after.sp);
    if args_too {
        ensure_eq!(after.args, before.args, "{what} changed the syscall argument registers");
    }
    Ok(())
}

fn utcb() -> &'static Utcb {
    Box::leak(Box::new(Utcb::new()))
}

/// The threads of a two-task world.
struct World {
    server: ThreadId,
    client: ThreadId,
    server_task: TaskId,
    client_task: TaskId,
}

/// Slot of the server's receive capability and the client's send
/// capability (badge [`BADGE`]).
const EP_SLOT: Word = 1;
/// Badge of the client's capability.
const BADGE: Word = 0xB1B1_0000_0000_00B1;
/// Slot of the server's thread capability (control right, badge
/// [`PING_BADGE`]).
const THREAD_SLOT: usize = 3;
const PING_BADGE: Word = 0x7A11_0000_0000_7A11;

/// A server task and a client task (the config's two spaces), one
/// endpoint; the server runs first.
fn world<A: Arch, S: Services<A>>(cfg: &Config<A>, m: &mut Machine<A, S>) -> Result<World, String> {
    let k = &mut m.kernel;
    let e = |what: &str, e: Error| format!("{what} failed with {e:?}");
    let server_task = k.create_task(cfg.spaces[0]).map_err(|x| e("create_task(spaces[0])", x))?;
    let client_task = k.create_task(cfg.spaces[1]).map_err(|x| e("create_task(spaces[1])", x))?;
    let ep = k.create_endpoint().map_err(|x| e("create_endpoint", x))?;
    k.set_cap(server_task, EP_SLOT as usize, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) })
        .map_err(|x| e("set_cap", x))?;
    k.set_cap(client_task, EP_SLOT as usize, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(BADGE) })
        .map_err(|x| e("set_cap", x))?;
    let server = k.create_thread(server_task, cfg.entry, cfg.stack, 1, Some(utcb())).map_err(|x| e("create_thread", x))?;
    let client = k
        .create_thread(client_task, cfg.entry + 0x1000, cfg.stack - 0x10_0000, 2, Some(utcb()))
        .map_err(|x| e("create_thread", x))?;
    k.set_cap(server_task, THREAD_SLOT, Cap::Thread { thread: server, rights: Rights::CONTROL, badge: Badge(PING_BADGE) })
        .map_err(|x| e("set_cap", x))?;
    Ok(World { server, client, server_task, client_task })
}

/// How a syscall enters the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// The fastpath with the registers live (the x86_64 entry).
    Live,
    /// The registers saved, then [`crate::Kernel::syscall`] with its
    /// fastpath.
    Saved,
    /// The general path alone.
    Slow,
}

impl core::fmt::Display for Path {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Path::Live => "live-register fastpath",
            Path::Saved => "fastpath after a full save",
            Path::Slow => "general path",
        })
    }
}

fn machine<A: Arch, S: Services<A> + Default>(path: Path) -> Box<Machine<A, S>> {
    let mut m = Box::new(Machine::<A, S>::new());
    m.live_fastpath = path == Path::Live;
    m.kernel.set_fastpath(path != Path::Slow);
    m
}

/// The running thread executes a syscall; fails the check if no thread
/// runs.
fn sys<A: Arch, S: Services<A>>(
    m: &mut Machine<A, S>,
    step: &str,
    op: Word,
    cap: Word,
    tag: MessageInfo,
    words: &[Word],
) -> Outcome {
    ensure!(m.running().is_some(), "{step}: no thread runs (the previous step left every thread blocked)");
    m.syscall(op, cap, tag, words);
    Ok(())
}

fn running<A: Arch, S: Services<A>>(m: &Machine<A, S>, t: ThreadId, step: &str) -> Outcome {
    ensure_eq!(m.running(), Some(t), "{step}: the running thread");
    Ok(())
}

/// The running thread is `t`, with its own program counter and stack
/// pointer (the registers a syscall preserves), as created.
fn resumed<A: Arch, S: Services<A>>(m: &Machine<A, S>, t: ThreadId, pc: Word, sp: Word, step: &str) -> Outcome {
    running(m, t, step)?;
    ensure_eq!(m.cpu.program_counter(), pc, "{step}: the resumed thread's program counter (a preserved register)");
    ensure_eq!(m.cpu.stack_pointer(), sp, "{step}: the resumed thread's stack pointer (a preserved register)");
    Ok(())
}

/// The CPU holds status 0, `badge`, `tag` and the message `words`.
fn received<A: Arch, S: Services<A>>(m: &Machine<A, S>, badge: Word, tag: MessageInfo, words: &[Word], step: &str) -> Outcome {
    ensure_eq!(m.status(), 0, "{step}: status register");
    ensure_eq!(m.badge(), badge, "{step}: badge register");
    ensure_eq!(m.tag(), tag, "{step}: tag register");
    for (i, w) in words.iter().enumerate() {
        let r = if i < A::MR_IN_REGS { "message register" } else { "UTCB word" };
        ensure_eq!(m.word(i), *w, "{step}: {r} {i}");
    }
    Ok(())
}

fn status_is<A: Arch, S: Services<A>>(m: &Machine<A, S>, e: Error, step: &str) -> Outcome {
    ensure_eq!(m.status(), e.code(), "{step}: status register (expected {e:?})");
    Ok(())
}

fn words(k: u64, n: usize) -> Vec<Word> {
    (0..n).map(|i| pat(k, i)).collect()
}

fn op(s: Syscall) -> Word {
    s as Word
}

// ----- the arch's constants ----------------------------------------------------

fn constants<A: Arch>(_: &Config<A>) -> Outcome {
    ensure!(
        A::MR_IN_REGS <= REMOTE_WORDS,
        "MR_IN_REGS is {}, but a message between CPUs (RemoteMsg) carries {REMOTE_WORDS} register words: words {REMOTE_WORDS}..{} of a remote call would be lost",
        A::MR_IN_REGS,
        A::MR_IN_REGS
    );
    ensure!(A::MR_IN_REGS <= MSG_MAX_WORDS, "MR_IN_REGS is {}, more than a message has words ({MSG_MAX_WORDS})", A::MR_IN_REGS);
    Ok(())
}

fn no_space<A: Arch>(cfg: &Config<A>) -> Outcome {
    let no = A::NO_SPACE;
    ensure!(no == A::NO_SPACE, "NO_SPACE is not equal to itself (Space's PartialEq)");
    for (i, s) in cfg.spaces.iter().enumerate() {
        ensure!(
            *s != A::NO_SPACE,
            "the config's spaces[{i}] ({s:?}) equals NO_SPACE: a task in it would never be switched to (the kernel starts with NO_SPACE \"loaded\")"
        );
    }
    ensure!(cfg.spaces[0] != cfg.spaces[1], "the config's two spaces are equal ({:?}): the suite needs two address spaces", cfg.spaces[0]);
    let mut m = Box::new(Machine::<A>::new());
    ensure_eq!(
        m.kernel.create_task(A::NO_SPACE),
        Err(Error::InvalidArgument),
        "create_task(NO_SPACE) must be refused"
    );
    Ok(())
}

// ----- the context type --------------------------------------------------------

fn new_thread<A: Arch>(cfg: &Config<A>) -> Outcome {
    for (entry, stack) in [(cfg.entry, cfg.stack), (cfg.entry + 0x2000, cfg.stack - 0x20_0000)] {
        let c = A::Context::new_thread(entry, stack, 0xA6);
        ensure_eq!(c.program_counter(), entry, "program_counter() of new_thread({entry:#x}, {stack:#x}, _)");
        ensure_eq!(c.stack_pointer(), stack, "stack_pointer() of new_thread({entry:#x}, {stack:#x}, _)");
        let copy = c;
        ensure_eq!(view::<A>(&copy), view::<A>(&c), "a copy of a context");
    }
    Ok(())
}

fn syscall_args<A: Arch>(cfg: &Config<A>) -> Outcome {
    let cases = [
        SyscallArgs { op: 1, cap: 2, tag: MessageInfo::new(3, 4) },
        SyscallArgs { op: Word::MAX, cap: 0x8000_0000_0000_0001, tag: MessageInfo(Word::MAX) },
        SyscallArgs { op: pat(3, 0), cap: pat(3, 1), tag: MessageInfo(pat(3, 2)) },
        SyscallArgs { op: 0, cap: 0, tag: MessageInfo(0) },
    ];
    for args in cases {
        let mut c = filled(cfg, 1);
        let before = view::<A>(&c);
        c.set_syscall_args(args);
        ensure_eq!(c.syscall_args(), args, "syscall_args() after set_syscall_args({})", hex(&args));
        unchanged("set_syscall_args", &before, &view::<A>(&c), false)?;
    }
    Ok(())
}

fn message_registers<A: Arch>(cfg: &Config<A>) -> Outcome {
    let mut c = filled(cfg, 1);
    let args = c.syscall_args();
    let (pc, sp) = (c.program_counter(), c.stack_pointer());
    for i in 0..A::MR_IN_REGS {
        let v = pat(2, i);
        c.set_mr(i, v);
        ensure!(c.mr(i) == v, "mr({i}) is {:#x} right after set_mr({i}, {v:#x}): the accessors disagree (registers swapped or aliased?)", c.mr(i));
        for j in 0..A::MR_IN_REGS {
            let want = if j <= i { pat(2, j) } else { pat(1, j) };
            ensure!(
                c.mr(j) == want,
                "mr({j}) is {:#x} after set_mr({i}, {v:#x}), expected {want:#x}: set_mr({i}) wrote another message register, or mr({j}) reads one",
                c.mr(j)
            );
        }
    }
    ensure_eq!(c.syscall_args(), args, "the syscall argument registers after set_mr");
    ensure_eq!((c.program_counter(), c.stack_pointer()), (pc, sp), "program counter and stack pointer after set_mr");
    Ok(())
}

fn set_status<A: Arch>(cfg: &Config<A>) -> Outcome {
    for s in [0, Error::PartnerDied.code(), pat(4, 0)] {
        let mut c = filled(cfg, 1);
        let before = view::<A>(&c);
        c.set_status(s);
        let a = c.syscall_args();
        ensure_eq!(a.op, s, "syscall_args().op (the status shares the syscall number's register) after set_status({s:#x})");
        ensure_eq!(a.cap, before.args.cap, "the badge / capability register after set_status");
        ensure_eq!(a.tag, before.args.tag, "the tag register after set_status");
        unchanged("set_status", &before, &view::<A>(&c), false)?;
    }
    Ok(())
}

fn set_recv_result<A: Arch>(cfg: &Config<A>) -> Outcome {
    let mut c = filled(cfg, 1);
    let before = view::<A>(&c);
    let (badge, tag) = (pat(5, 1), MessageInfo(pat(5, 2)));
    c.set_recv_result(badge, tag);
    ensure_eq!(c.syscall_args(), SyscallArgs { op: 0, cap: badge, tag }, "syscall_args() (status, badge, tag) after set_recv_result({badge:#x}, {})", hex(&tag));
    unchanged("set_recv_result", &before, &view::<A>(&c), false)
}

fn set_recv_badge<A: Arch>(cfg: &Config<A>) -> Outcome {
    let mut c = filled(cfg, 1);
    let before = view::<A>(&c);
    let badge = pat(6, 1);
    c.set_recv_badge(badge);
    ensure_eq!(
        c.syscall_args(),
        SyscallArgs { op: 0, cap: badge, tag: before.args.tag },
        "syscall_args() after set_recv_badge({badge:#x}) (status 0, the badge, the tag left alone)"
    );
    unchanged("set_recv_badge", &before, &view::<A>(&c), false)
}

fn exit_resume<A: Arch>(cfg: &Config<A>) -> Outcome {
    let own = filled(cfg, 1);
    let from = filled(cfg, 2);
    let r = resume_context::<A>(&own, &from);
    let (v, o, f) = (view::<A>(&r), view::<A>(&own), view::<A>(&from));
    ensure_eq!(v.args, f.args, "argument registers of a thread resumed with regs_from another thread's context");
    ensure_eq!(v.mrs, f.mrs, "message registers of a thread resumed with regs_from another thread's context");
    ensure_eq!((v.pc, v.sp), (o.pc, o.sp), "program counter and stack pointer of a resumed thread (its own)");
    Ok(())
}

// ----- scenarios -----------------------------------------------------------------

fn call_reply_recv<A: Arch>(cfg: &Config<A>, path: Path) -> Outcome {
    let mut m = machine::<A, crate::NoServices>(path);
    let w = world(cfg, &mut m)?;
    let (spc, ssp) = (cfg.entry, cfg.stack);
    let (cpc, csp) = (cfg.entry + 0x1000, cfg.stack - 0x10_0000);
    m.start();
    resumed(&m, w.server, spc, ssp, "start (the server was created first)")?;
    sys(&mut m, "server recv", op(Syscall::Recv), EP_SLOT, MessageInfo::new(0, 0), &[])?;
    resumed(&m, w.client, cpc, csp, "server recv (blocks)")?;
    let n = A::MR_IN_REGS;
    for round in 0..3u64 {
        let msg = words(10 + round, n);
        let tag = MessageInfo::new(0x42 + round, n);
        sys(&mut m, "client call", op(Syscall::Call), EP_SLOT, tag, &msg)?;
        let step = format!("round {round}: client call with {n} register words");
        resumed(&m, w.server, spc, ssp, &step)?;
        received(&m, BADGE, tag, &msg, &step)?;
        let reply = words(20 + round, n);
        let rtag = MessageInfo::new(0x43 + round, n);
        sys(&mut m, "server reply_recv", op(Syscall::ReplyRecv), EP_SLOT, rtag, &reply)?;
        let step = format!("round {round}: server reply_recv with {n} register words");
        resumed(&m, w.client, cpc, csp, &step)?;
        received(&m, 0, rtag, &reply, &step)?;
    }
    Ok(())
}

fn long_message<A: Arch>(cfg: &Config<A>) -> Outcome {
    let n = A::MR_IN_REGS + 3;
    if n > MSG_MAX_WORDS {
        return Ok(());
    }
    for path in [Path::Live, Path::Slow] {
        let mut m = machine::<A, crate::NoServices>(path);
        let w = world(cfg, &mut m)?;
        m.start();
        sys(&mut m, "server recv", op(Syscall::Recv), EP_SLOT, MessageInfo::new(0, 0), &[])?;
        let msg = words(30, n);
        sys(&mut m, "client call", op(Syscall::Call), EP_SLOT, MessageInfo::new(5, n), &msg)?;
        let step = format!("{path}: client call with {n} words ({} in the UTCB)", n - A::MR_IN_REGS);
        running(&m, w.server, &step)?;
        received(&m, BADGE, MessageInfo::new(5, n), &msg, &step)?;
        let reply = words(31, n);
        sys(&mut m, "server reply_recv", op(Syscall::ReplyRecv), EP_SLOT, MessageInfo::new(6, n), &reply)?;
        let step = format!("{path}: server reply_recv with {n} words");
        running(&m, w.client, &step)?;
        received(&m, 0, MessageInfo::new(6, n), &reply, &step)?;
    }
    Ok(())
}

fn send_recv<A: Arch>(cfg: &Config<A>) -> Outcome {
    for path in [Path::Live, Path::Slow] {
        let mut m = machine::<A, crate::NoServices>(path);
        let w = world(cfg, &mut m)?;
        let (cpc, csp) = (cfg.entry + 0x1000, cfg.stack - 0x10_0000);
        m.start();
        sys(&mut m, "server yield", op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[])?;
        running(&m, w.client, &format!("{path}: server yield"))?;
        let msg = words(40, A::MR_IN_REGS);
        let tag = MessageInfo::new(0x51, A::MR_IN_REGS);
        sys(&mut m, "client send", op(Syscall::Send), EP_SLOT, tag, &msg)?;
        let step = format!("{path}: client send with nobody waiting (the client blocks)");
        running(&m, w.server, &step)?;
        ensure_eq!(m.status(), 0, "{step}: the server's status from its yield");
        ensure_eq!(
            m.kernel.thread_info(w.client).map(|i| i.state),
            Some(ThreadState::BlockedOnSend { ep: crate::EndpointId(0), call: false }),
            "{step}: the client's state"
        );
        sys(&mut m, "server recv", op(Syscall::Recv), EP_SLOT, MessageInfo::new(0, 0), &[])?;
        let step = format!("{path}: server recv takes the queued message (from the sender's saved registers)");
        running(&m, w.server, &step)?;
        received(&m, BADGE, tag, &msg, &step)?;
        sys(&mut m, "server recv", op(Syscall::Recv), EP_SLOT, MessageInfo::new(0, 0), &[])?;
        let step = format!("{path}: server recv again (blocks; the sender resumes)");
        resumed(&m, w.client, cpc, csp, &step)?;
        ensure_eq!(m.status(), 0, "{step}: the sender's status");
        for (i, v) in msg.iter().enumerate() {
            ensure_eq!(m.mr(i), *v, "{step}: the sender's message register {i} (a status leaves it alone)");
        }
    }
    Ok(())
}

fn errors<A: Arch>(cfg: &Config<A>) -> Outcome {
    let mut m = machine::<A, crate::NoServices>(Path::Live);
    let w = world(cfg, &mut m)?;
    m.start();
    let msg = words(50, A::MR_IN_REGS);
    let cases = [
        ("an unknown syscall number (9)", 9, EP_SLOT, MessageInfo::new(0, 0), Error::InvalidSyscall),
        ("call through an empty slot", op(Syscall::Call), 5, MessageInfo::new(0, 0), Error::InvalidCap),
        ("call through slot 99 (out of range)", op(Syscall::Call), 99, MessageInfo::new(0, 0), Error::InvalidCap),
        ("call through a receive-only capability", op(Syscall::Call), EP_SLOT, MessageInfo::new(0, 0), Error::NoRights),
        ("recv with reserved tag flags", op(Syscall::Recv), EP_SLOT, MessageInfo(1 << 7), Error::InvalidMessage),
        ("reply without a caller", op(Syscall::Reply), 0, MessageInfo::new(0, 0), Error::NoCaller),
        ("invoke on an endpoint capability", op(Syscall::Invoke), EP_SLOT, ThreadOp::Ping.tag(), Error::WrongCapType),
    ];
    for (what, o, cap, tag, e) in cases {
        sys(&mut m, what, o, cap, tag, &msg)?;
        resumed(&m, w.server, cfg.entry, cfg.stack, what)?;
        status_is(&m, e, what)?;
        if o != op(Syscall::Invoke) {
            for (i, v) in msg.iter().enumerate() {
                ensure_eq!(m.mr(i), *v, "{what}: message register {i} (an error leaves it alone)");
            }
        }
    }
    Ok(())
}

/// Services that add 1 to message register 0 (service [`SERVICE_BASE`] + 1)
/// and refuse every other number.
#[derive(Default)]
struct Echo {
    calls: Vec<(ThreadId, TaskId, Word)>,
}

impl<A: Arch> Services<A> for Echo {
    fn service(&mut self, thread: ThreadId, task: TaskId, op: Word, ctx: &mut A::Context, _: Option<&Utcb>) -> Result<(), Error> {
        self.calls.push((thread, task, op));
        if op != SERVICE_BASE + 1 {
            return Err(Error::UnsupportedService);
        }
        if A::MR_IN_REGS > 0 {
            ctx.set_mr(0, ctx.mr(0).wrapping_add(1));
        }
        Ok(())
    }
}

fn null_invoke_services<A: Arch>(cfg: &Config<A>) -> Outcome {
    for path in [Path::Live, Path::Slow] {
        let mut m = machine::<A, Echo>(path);
        let w = world(cfg, &mut m)?;
        m.start();
        let msg = words(60, A::MR_IN_REGS);
        let tag = MessageInfo::new(0x61, A::MR_IN_REGS);
        let step = format!("{path}: null");
        sys(&mut m, &step, op(Syscall::Null), 0x1234, tag, &msg)?;
        resumed(&m, w.server, cfg.entry, cfg.stack, &step)?;
        received(&m, 0, tag, &msg, &step)?;
        let step = format!("{path}: invoke ping on the thread's own capability");
        sys(&mut m, &step, op(Syscall::Invoke), THREAD_SLOT as Word, ThreadOp::Ping.tag(), &msg)?;
        resumed(&m, w.server, cfg.entry, cfg.stack, &step)?;
        received(&m, PING_BADGE, MessageInfo(0), &msg, &step)?;
        let step = format!("{path}: invoke of an unknown op");
        sys(&mut m, &step, op(Syscall::Invoke), THREAD_SLOT as Word, MessageInfo::new(0x99, 0), &[])?;
        status_is(&m, Error::UnknownOp, &step)?;
        ensure_eq!(m.badge(), 0, "{step}: the result word with an error");
        let step = format!("{path}: service call {}", SERVICE_BASE + 1);
        sys(&mut m, &step, SERVICE_BASE + 1, 0, MessageInfo::new(0, 1), &msg)?;
        resumed(&m, w.server, cfg.entry, cfg.stack, &step)?;
        ensure_eq!(m.status(), 0, "{step}: status register");
        if A::MR_IN_REGS > 0 {
            ensure_eq!(m.mr(0), msg[0].wrapping_add(1), "{step}: message register 0 as the service wrote it into the context");
        }
        let step = format!("{path}: service call {} (refused)", SERVICE_BASE + 2);
        sys(&mut m, &step, SERVICE_BASE + 2, 0, MessageInfo::new(0, 0), &[])?;
        status_is(&m, Error::UnsupportedService, &step)?;
        ensure_eq!(
            m.services.calls,
            std::vec![(w.server, w.server_task, SERVICE_BASE + 1), (w.server, w.server_task, SERVICE_BASE + 2)],
            "{path}: the service calls the services saw (thread, task, number)"
        );
    }
    Ok(())
}

fn fault<A: Arch>(cfg: &Config<A>) -> Outcome {
    for path in [Path::Live, Path::Slow] {
        let mut m = machine::<A, crate::NoServices>(path);
        let w = world(cfg, &mut m)?;
        m.start();
        sys(&mut m, "server recv", op(Syscall::Recv), EP_SLOT, MessageInfo::new(0, 0), &[])?;
        let msg = words(70, A::MR_IN_REGS);
        sys(&mut m, "client call", op(Syscall::Call), EP_SLOT, MessageInfo::new(1, A::MR_IN_REGS), &msg)?;
        running(&m, w.server, "client call")?;
        let (killed, _) = m.fault();
        let step = format!("{path}: the server faults while the client waits for its reply");
        ensure_eq!(killed, Some(w.server_task), "{step}: the killed task");
        ensure_eq!(m.kernel.thread_info(w.server).map(|i| i.state), Some(ThreadState::Dead), "{step}: the server's state");
        resumed(&m, w.client, cfg.entry + 0x1000, cfg.stack - 0x10_0000, &step)?;
        status_is(&m, Error::PartnerDied, &step)?;
        ensure_eq!((m.badge(), m.tag()), (0, MessageInfo(0)), "{step}: badge and tag of the woken caller");
        for i in 0..A::MR_IN_REGS {
            ensure_eq!(m.mr(i), 0, "{step}: message register {i} of the woken caller (no message)");
        }
    }
    Ok(())
}

fn exit_kill<A: Arch>(cfg: &Config<A>) -> Outcome {
    let mut m = machine::<A, crate::NoServices>(Path::Live);
    let w = world(cfg, &mut m)?;
    m.start();
    sys(&mut m, "server yield", op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[])?;
    // The client queues a send; killing its task takes it off the queue.
    sys(&mut m, "client send", op(Syscall::Send), EP_SLOT, MessageInfo::new(1, 0), &[])?;
    running(&m, w.server, "client send (blocks)")?;
    m.kernel.kill_task(w.client_task);
    ensure_eq!(m.kernel.thread_info(w.client).map(|i| i.state), Some(ThreadState::Dead), "the client after kill_task");
    sys(&mut m, "server recv", op(Syscall::Recv), EP_SLOT, MessageInfo::new(0, 0), &[])?;
    ensure_eq!(m.running(), None, "server recv after the queued sender was killed: nothing runs (the dead sender's message is gone)");
    // A fresh world: the server exits.
    let mut m = machine::<A, crate::NoServices>(Path::Live);
    let w = world(cfg, &mut m)?;
    m.start();
    sys(&mut m, "server exit", op(Syscall::Exit), 0, MessageInfo::new(0, 0), &[])?;
    resumed(&m, w.client, cfg.entry + 0x1000, cfg.stack - 0x10_0000, "server exit")?;
    sys(&mut m, "client yield", op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[])?;
    running(&m, w.client, "client yield with the server dead (the client runs again)")?;
    Ok(())
}

fn remote<A: Arch>(cfg: &Config<A>) -> Outcome {
    let n = A::MR_IN_REGS.min(REMOTE_WORDS);
    // CPU 1: the server waits.
    let mut b = machine::<A, crate::NoServices>(Path::Live);
    let w = world(cfg, &mut b)?;
    b.start();
    sys(&mut b, "CPU 1: server recv", op(Syscall::Recv), EP_SLOT, MessageInfo::new(0, 0), &[])?;
    b.kernel.kill_task(w.client_task);
    // CPU 0: a client with a remote capability.
    let mut a = machine::<A, crate::NoServices>(Path::Live);
    let tc = a.kernel.create_task(cfg.spaces[1]).map_err(|e| format!("create_task: {e:?}"))?;
    a.kernel
        .set_cap(tc, 1, Cap::Remote { cpu: 1, ep: crate::EndpointId(0), badge: Badge(0xD3) })
        .map_err(|e| format!("set_cap: {e:?}"))?;
    let client = a
        .kernel
        .create_thread(tc, cfg.entry + 0x1000, cfg.stack - 0x10_0000, 2, Some(utcb()))
        .map_err(|e| format!("create_thread: {e:?}"))?;
    a.start();
    let msg = words(80, n);
    sys(&mut a, "CPU 0: client call", op(Syscall::Call), 1, MessageInfo::new(0x77, n), &msg)?;
    ensure_eq!(a.running(), None, "CPU 0: the remote caller waits");
    let call = a.kernel.peek_outgoing().ok_or("CPU 0: no message in the outbox after a remote call")?;
    a.kernel.pop_outgoing();
    ensure_eq!(call.kind, RemoteKind::Call, "the outgoing message's kind");
    ensure_eq!(&call.mrs[..n], &msg[..], "the register words of the outgoing call (read with mr())");
    ensure!(b.kernel.remote_call(0, &call), "CPU 1 refused the call with its server waiting");
    b.start();
    let step = "CPU 1: the server takes the remote call";
    resumed(&b, w.server, cfg.entry, cfg.stack, step)?;
    received(&b, 0xD3, MessageInfo::new(0x77, n), &msg, step)?;
    let reply = words(81, n);
    sys(&mut b, "CPU 1: server reply_recv", op(Syscall::ReplyRecv), EP_SLOT, MessageInfo::new(0x78, n), &reply)?;
    let r = b.kernel.peek_outgoing().ok_or("CPU 1: no reply in the outbox")?;
    b.kernel.pop_outgoing();
    ensure_eq!(&r.mrs[..n], &reply[..], "the register words of the outgoing reply");
    ensure!(a.kernel.remote_reply(&r), "CPU 0 refused the reply");
    a.start();
    let step = "CPU 0: the caller gets the remote reply";
    resumed(&a, client, cfg.entry + 0x1000, cfg.stack - 0x10_0000, step)?;
    received(&a, 0, MessageInfo::new(0x78, n), &reply, step)?;
    Ok(())
}
