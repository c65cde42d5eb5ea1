// SPDX-License-Identifier: MIT OR Apache-2.0
//! Host tests of every syscall and every error, against `MockArch`.

extern crate std;

use std::boxed::Box;
use std::format;

use crate::mock::{reg, Machine, MockArch};
use crate::{
    Badge, Cap, EndpointId, Error, Fast, MessageInfo, Next, Reply, Rights, Syscall, TaskId,
    ThreadId, ThreadOp, ThreadState, Utcb,
};

fn utcb() -> &'static Utcb {
    Box::leak(Box::new(Utcb::new()))
}

/// A client task (slot 1: endpoint, send, badge 0xB1) and a server task
/// (slot 1: the same endpoint, receive). Returns (machine, client, server).
fn client_server(same_task: bool) -> (Machine, ThreadId, ThreadId, EndpointId) {
    let mut m = Machine::new();
    let k = &mut m.kernel;
    let ts = k.create_task(0x1000).unwrap();
    let tc = if same_task { ts } else { k.create_task(0x2000).unwrap() };
    let ep = k.create_endpoint().unwrap();
    k.set_cap(ts, 1, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
    let cslot = if same_task { 2 } else { 1 };
    k.set_cap(tc, cslot, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(0xB1) })
        .unwrap();
    let server = k.create_thread(ts, 0x40_0000, 0x7000, 1, Some(utcb())).unwrap();
    let client = k.create_thread(tc, 0x40_0100, 0x8000, 2, Some(utcb())).unwrap();
    (m, client, server, ep)
}

fn op(s: Syscall) -> u64 {
    s as u64
}

#[test]
fn call_and_reply_recv_round_trip_fastpath() {
    for (same, live) in [(false, true), (true, true), (false, false), (true, false)] {
        let (mut m, client, server, _) = client_server(same);
        m.live_fastpath = live;
        let cslot = if same { 2 } else { 1 };
        assert_eq!(m.start(), Next::Resume { thread: server, regs_from: server });
        // Server waits.
        m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
        assert_eq!(m.running(), Some(client));
        assert_eq!(m.kernel.thread_info(server).unwrap().state, ThreadState::BlockedOnRecv {
            ep: EndpointId(0)
        });
        m.cpu.regs[reg::KEEP] = 0x5E5E; // the client's preserved register
        for i in 0..5u64 {
            // Client calls: the fastpath hands the CPU to the server, whose
            // registers come from the client's save area.
            let n = m.syscall(op(Syscall::Call), cslot, MessageInfo::new(0x42, 4), &[
                i,
                i ^ 0xAA,
                !i,
                i << 8,
            ]);
            assert_eq!(n, Next::Resume { thread: server, regs_from: client });
            assert_eq!(m.status(), 0);
            assert_eq!(m.badge(), 0xB1);
            assert_eq!(m.tag(), MessageInfo::new(0x42, 4));
            assert_eq!([m.mr(0), m.mr(1), m.mr(2), m.mr(3)], [i, i ^ 0xAA, !i, i << 8]);
            assert_eq!(m.cpu.regs[reg::KEEP], 0, "the server's own preserved register");
            assert_eq!(m.kernel.thread_info(client).unwrap().state, ThreadState::BlockedOnReply);
            // Server replies and waits again.
            let n = m.syscall(op(Syscall::ReplyRecv), 1, MessageInfo::new(0x43, 2), &[
                i + 1,
                i + 2,
            ]);
            assert_eq!(n, Next::Resume { thread: client, regs_from: server });
            assert_eq!(m.status(), 0);
            assert_eq!(m.badge(), 0);
            assert_eq!(m.tag(), MessageInfo::new(0x43, 2));
            assert_eq!([m.mr(0), m.mr(1)], [i + 1, i + 2]);
            assert_eq!(m.cpu.regs[reg::KEEP], 0x5E5E, "the client's preserved register");
        }
        let log = MockArch::take_space_log();
        if same {
            assert_eq!(log, [0x1000], "no address-space switch within one task");
        } else {
            assert_eq!(log.len(), 2 + 10, "one switch per IPC between two tasks");
        }
    }
}

#[test]
fn long_message_takes_the_long_fastpath_and_copies_utcb() {
    let (mut m, client, server, _) = client_server(false);
    m.start();
    m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    // Client: 10 words, 6 of them in its UTCB.
    let cu = m.kernel.utcb(client).unwrap();
    for i in 4..10 {
        cu.set(i, 100 + i as u64);
    }
    let n = m.syscall(op(Syscall::Call), 1, MessageInfo::new(7, 10), &[1, 2, 3, 4]);
    // The register words are handed over from the client's context; the
    // UTCB words are copied.
    assert_eq!(n, Next::Resume { thread: server, regs_from: client });
    assert_eq!([m.mr(0), m.mr(1), m.mr(2), m.mr(3)], [1, 2, 3, 4]);
    assert_eq!(m.tag(), MessageInfo::new(7, 10));
    let su = m.kernel.utcb(server).unwrap();
    for i in 4..10 {
        assert_eq!(su.get(i), 100 + i as u64);
    }
}

#[test]
fn sender_first_then_receiver() {
    let (mut m, client, server, _) = client_server(false);
    m.start(); // server runs first; let it yield so the client sends first
    m.syscall(op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[]);
    assert_eq!(m.running(), Some(client));
    m.syscall(op(Syscall::Call), 1, MessageInfo::new(5, 1), &[77]);
    assert_eq!(m.running(), Some(server), "client blocked on send");
    assert!(matches!(
        m.kernel.thread_info(client).unwrap().state,
        ThreadState::BlockedOnSend { call: true, .. }
    ));
    m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    assert_eq!(m.running(), Some(server));
    assert_eq!((m.status(), m.badge(), m.mr(0)), (0, 0xB1, 77));
    assert_eq!(m.kernel.thread_info(client).unwrap().state, ThreadState::BlockedOnReply);
    m.syscall(op(Syscall::Reply), 0, MessageInfo::new(6, 1), &[78]);
    assert_eq!((m.running(), m.status()), (Some(server), 0));
    m.syscall(op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[]);
    assert_eq!(m.running(), Some(client));
    assert_eq!((m.status(), m.tag(), m.mr(0)), (0, MessageInfo::new(6, 1), 78));
}

#[test]
fn errors_are_status_codes() {
    let (mut m, _client, server, _) = client_server(false);
    m.start();
    assert_eq!(m.running(), Some(server));
    let cases: &[(u64, u64, MessageInfo, Error)] = &[
        (12, 1, MessageInfo::new(0, 0), Error::InvalidSyscall),
        (op(Syscall::Recv), 31, MessageInfo::new(0, 0), Error::InvalidCap),
        (op(Syscall::Recv), 1000, MessageInfo::new(0, 0), Error::InvalidCap),
        (op(Syscall::Recv), u64::MAX, MessageInfo::new(0, 0), Error::InvalidCap),
        (op(Syscall::Call), 1, MessageInfo::new(0, 0), Error::NoRights),
        (op(Syscall::Send), 1, MessageInfo::new(0, 0), Error::NoRights),
        (op(Syscall::Recv), 1, MessageInfo::new(0, 64), Error::InvalidMessage),
        (op(Syscall::Recv), 1, MessageInfo(1 << 8), Error::InvalidMessage),
        (op(Syscall::Reply), 0, MessageInfo::new(0, 0), Error::NoCaller),
        (99, 0, MessageInfo::new(0, 0), Error::UnsupportedService),
    ];
    for &(o, cap, tag, err) in cases {
        let n = m.syscall(o, cap, tag, &[]);
        assert_eq!(n, Next::Resume { thread: server, regs_from: server }, "{o} {cap}");
        assert_eq!(m.status(), err.code(), "op {o} cap {cap} tag {tag:?}");
    }
    // The client lacks RECV.
    m.syscall(op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[]);
    m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    assert_eq!(m.status(), Error::NoRights.code());
}

#[test]
fn null_syscall_and_services() {
    let (mut m, _c, server, _) = client_server(false);
    m.start();
    m.cpu.regs[reg::KEEP] = 1234;
    m.syscall(op(Syscall::Null), 0, MessageInfo::new(0, 0), &[5]);
    assert_eq!((m.status(), m.mr(0), m.cpu.regs[reg::KEEP]), (0, 5, 1234));
    m.syscall(20, 0, MessageInfo::new(0, 0), &[41]);
    assert_eq!((m.status(), m.mr(0)), (0, 42));
    assert_eq!(m.services.calls, [(server, TaskId(0), 20, 41)]);
}

#[test]
fn fault_kills_task_and_wakes_caller_with_error() {
    let (mut m, client, server, _) = client_server(false);
    m.start();
    m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    m.syscall(op(Syscall::Call), 1, MessageInfo::new(1, 0), &[]);
    assert_eq!(m.running(), Some(server));
    // The server faults while holding the client's reply right.
    let (task, n) = m.fault();
    assert_eq!(task, Some(TaskId(0)));
    assert_eq!(n, Next::Resume { thread: client, regs_from: client });
    assert_eq!(m.status(), Error::PartnerDied.code());
    assert_eq!(m.kernel.thread_info(server).unwrap().state, ThreadState::Dead);
    // The client exits: nothing left to run.
    assert_eq!(m.syscall(op(Syscall::Exit), 0, MessageInfo::new(0, 0), &[]), Next::Idle);
}

#[test]
fn killing_a_queued_receiver_unlinks_it() {
    let (mut m, client, server, ep) = client_server(false);
    m.start();
    m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    assert_eq!(m.running(), Some(client));
    m.kernel.kill_task(TaskId(0));
    assert_eq!(m.kernel.thread_info(server).unwrap().state, ThreadState::Dead);
    // A call now finds nobody and blocks: nothing else is ready.
    assert_eq!(m.syscall(op(Syscall::Call), 1, MessageInfo::new(0, 0), &[]), Next::Idle);
    let _ = ep;
}

#[test]
fn set_cap_and_create_reject_bad_arguments() {
    let mut m = Machine::new();
    let k = &mut m.kernel;
    assert_eq!(k.set_cap(TaskId(0), 0, Cap::Null), Err(Error::InvalidArgument));
    let t = k.create_task(1).unwrap();
    let bogus = Cap::Endpoint { ep: EndpointId(5), rights: Rights::ALL, badge: Badge(0) };
    assert_eq!(k.set_cap(t, 0, bogus), Err(Error::InvalidArgument));
    assert_eq!(k.set_cap(t, 99, Cap::Null), Err(Error::InvalidCap));
    assert_eq!(k.create_thread(TaskId(3), 0, 0, 0, None), Err(Error::InvalidArgument));
}

#[test]
fn recv_drops_an_unanswered_reply_right() {
    let (mut m, client, server, _) = client_server(false);
    m.start();
    m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    m.syscall(op(Syscall::Call), 1, MessageInfo::new(1, 0), &[]);
    assert_eq!(m.running(), Some(server));
    // The server waits again without replying: the client's call fails.
    let n = m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    assert_eq!(n, Next::Resume { thread: client, regs_from: client });
    assert_eq!(m.status(), Error::PartnerDied.code());
    // The server, waiting with no reply right, is still a fastpath target.
    let n = m.syscall(op(Syscall::Call), 1, MessageInfo::new(2, 1), &[9]);
    assert_eq!(n, Next::Resume { thread: server, regs_from: client });
    assert_eq!((m.badge(), m.mr(0)), (0xB1, 9));
}

/// Every case the fastpath declines, each checked through the general path,
/// with and without the live-register fastpath in front.
#[test]
fn slowpath_covers_every_case_the_fastpath_declines() {
    for live in [true, false] {
        // reply_recv without a caller acts as recv.
        let (mut m, client, server, _) = client_server(false);
        m.live_fastpath = live;
        m.start();
        m.syscall(op(Syscall::ReplyRecv), 1, MessageInfo::new(0, 0), &[]);
        assert_eq!(m.running(), Some(client));
        assert!(matches!(
            m.kernel.thread_info(server).unwrap().state,
            ThreadState::BlockedOnRecv { .. }
        ));

        // reply_recv with senders queued on the endpoint: reply, then take
        // the next sender's message at once (no blocking).
        let mut m2 = Machine::new();
        m2.live_fastpath = live;
        let k = &mut m2.kernel;
        let ts = k.create_task(1).unwrap();
        let tc = k.create_task(2).unwrap();
        let ep = k.create_endpoint().unwrap();
        k.set_cap(ts, 1, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
        k.set_cap(tc, 1, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(7) }).unwrap();
        let c1 = k.create_thread(tc, 0, 0, 0, Some(utcb())).unwrap();
        let c2 = k.create_thread(tc, 0, 0, 0, Some(utcb())).unwrap();
        let s = k.create_thread(ts, 0, 0, 0, Some(utcb())).unwrap();
        m2.start();
        assert_eq!(m2.running(), Some(c1));
        m2.syscall(op(Syscall::Call), 1, MessageInfo::new(1, 1), &[11]); // queued
        assert_eq!(m2.running(), Some(c2));
        m2.syscall(op(Syscall::Call), 1, MessageInfo::new(2, 1), &[22]); // queued
        assert_eq!(m2.running(), Some(s));
        m2.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
        assert_eq!((m2.badge(), m2.mr(0)), (7, 11));
        // Reply to c1 and receive c2's queued call in one go.
        let n = m2.syscall(op(Syscall::ReplyRecv), 1, MessageInfo::new(3, 1), &[33]);
        assert_eq!(n, Next::Resume { thread: s, regs_from: s });
        assert_eq!((m2.badge(), m2.tag(), m2.mr(0)), (7, MessageInfo::new(2, 1), 22));
        assert_eq!(m2.kernel.thread_info(c1).unwrap().state, ThreadState::Ready);
        assert_eq!(m2.kernel.context(c1).regs[reg::MR0], 33, "c1's reply was copied");

        // reply_recv whose caller died meanwhile: the reply goes nowhere.
        let (mut m3, client, server, _) = client_server(false);
        m3.live_fastpath = live;
        m3.start();
        m3.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
        m3.syscall(op(Syscall::Call), 1, MessageInfo::new(1, 0), &[]);
        assert_eq!(m3.running(), Some(server));
        m3.kernel.kill_task(m3.kernel.thread_info(client).unwrap().task);
        let n = m3.syscall(op(Syscall::ReplyRecv), 1, MessageInfo::new(2, 0), &[]);
        assert_eq!(n, Next::Idle, "nobody left to run");

        // call with flags in the tag, or an overlong tag: errors, not hand-offs.
        let (mut m4, _client, _server, _) = client_server(false);
        m4.live_fastpath = live;
        m4.start();
        m4.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
        for tag in [MessageInfo(1 << 9), MessageInfo::new(1, 64)] {
            m4.syscall(op(Syscall::Call), 1, tag, &[]);
            assert_eq!(m4.status(), Error::InvalidMessage.code());
        }
    }
}

/// A small deterministic PRNG (xorshift64*), so the test needs no crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Two servers and three clients in three tasks, two endpoints, caps with
/// every combination of rights in slots 1..=4.
fn random_world(fast: bool) -> Machine {
    let mut m = Machine::new();
    m.live_fastpath = fast;
    m.kernel.set_fastpath(fast);
    let k = &mut m.kernel;
    let tasks = [k.create_task(10).unwrap(), k.create_task(20).unwrap(), k.create_task(30).unwrap()];
    let eps = [k.create_endpoint().unwrap(), k.create_endpoint().unwrap()];
    for (ti, t) in tasks.iter().enumerate() {
        for (slot, (ep, rights)) in [
            (eps[0], Rights::ALL),
            (eps[1], Rights::SEND),
            (eps[1], Rights::RECV),
            (eps[0], Rights::RECV),
        ]
        .into_iter()
        .enumerate()
        {
            let badge = Badge(0x100 * (ti as u64 + 1) + slot as u64);
            k.set_cap(*t, slot + 1, Cap::Endpoint { ep, rights, badge }).unwrap();
        }
        // Slot 5: a thread capability with the control right; slot 6: one
        // without (both name thread 0; `invoke` and IPC alike see them).
        let thread = ThreadId(0);
        k.set_cap(*t, 5, Cap::Thread { thread, rights: Rights::CONTROL, badge: Badge(0x5A + ti as u64) }).unwrap();
        k.set_cap(*t, 6, Cap::Thread { thread, rights: Rights(0), badge: Badge(0x6A) }).unwrap();
    }
    for i in 0..5 {
        k.create_thread(tasks[i % 3], 0x1000 * i as u64, 0x8000, i as u64, Some(utcb())).unwrap();
    }
    m.start();
    m
}

/// The fastpath is an optimisation, not a semantics: random syscall streams
/// give the same observable behaviour with the live-register fastpath and
/// with the general path alone.
#[test]
fn fastpath_and_general_path_agree_on_random_streams() {
    let ops = [
        Syscall::Call,
        Syscall::ReplyRecv,
        Syscall::Recv,
        Syscall::Send,
        Syscall::Reply,
        Syscall::Yield,
        Syscall::Null,
        Syscall::Invoke,
    ];
    for seed in 1..200u64 {
        let mut a = random_world(true);
        let mut b = random_world(false);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for step in 0..200 {
            if a.running().is_none() {
                break;
            }
            let o = ops[rng.below(ops.len() as u64) as usize];
            let cap = rng.below(8);
            let tag = if rng.below(4) == 0 {
                ThreadOp::Ping.tag()
            } else {
                MessageInfo::new(rng.below(1 << 8), rng.below(6) as usize)
            };
            let mrs = [rng.next(), rng.next(), rng.next(), rng.next()];
            let (na, nb) = (a.syscall(o as u64, cap, tag, &mrs), b.syscall(o as u64, cap, tag, &mrs));
            let ctx = format!("seed {seed} step {step}: {o:?} cap {cap} {tag:?}");
            assert_eq!(a.running(), b.running(), "{ctx}");
            assert_eq!(na == Next::Idle, nb == Next::Idle, "{ctx}");
            assert_eq!(a.status(), b.status(), "{ctx}");
            if a.status() == 0 {
                assert_eq!((a.badge(), a.tag()), (b.badge(), b.tag()), "{ctx}");
                // Only the words the tag says are valid (and at most the
                // register ones) are the message.
                let n = a.tag().length().min(4);
                for i in 0..n {
                    assert_eq!(a.mr(i), b.mr(i), "{ctx}: mr{i}");
                }
            }
            for t in 0..5u8 {
                let (sa, sb) = (a.kernel.thread_info(ThreadId(t)), b.kernel.thread_info(ThreadId(t)));
                assert_eq!(sa, sb, "{ctx}: thread {t}");
            }
        }
    }
}

/// Every case the fastpath declines goes to the general path, which then
/// does the right thing: for each, the fastpath alone returns `None` and
/// changes nothing, and a machine with the live fastpath ends exactly where
/// one with the general path alone does.
#[test]
fn every_case_the_fastpath_declines_is_handled_by_the_slowpath() {
    /// Where the deciding syscall is made from.
    #[derive(Clone, Copy, Debug)]
    enum At {
        /// The client, with the server waiting in `recv` (call cases).
        Client,
        /// The client, with nobody waiting (the server yielded first).
        ClientAlone,
        /// The server holding the client's reply right (reply_recv cases).
        Server,
        /// The server without a reply right (it has answered already).
        ServerNoCaller,
        /// The server holding a reply right while another sender is queued.
        ServerSenderQueued,
    }
    // (where, op, cap slot, tag, what the general path must answer: the
    // status of the syscall's caller when it resumes first, else None)
    let cases: [(At, Syscall, u64, MessageInfo, &str); 14] = [
        (At::Client, Syscall::Call, 16, MessageInfo::new(1, 0), "slot out of range"),
        (At::Client, Syscall::Call, u64::MAX, MessageInfo::new(1, 0), "huge slot"),
        (At::Client, Syscall::Call, 7, MessageInfo::new(1, 0), "empty slot"),
        (At::Client, Syscall::Call, 3, MessageInfo::new(1, 0), "no send right"),
        (At::Client, Syscall::Call, 1, MessageInfo::new(1, 5), "long message (UTCB)"),
        (At::Client, Syscall::Call, 1, MessageInfo(1 << 8), "flags set"),
        (At::ClientAlone, Syscall::Call, 1, MessageInfo::new(1, 2), "no receiver waiting"),
        (At::Server, Syscall::ReplyRecv, 16, MessageInfo::new(2, 0), "slot out of range"),
        (At::Server, Syscall::ReplyRecv, 2, MessageInfo::new(2, 0), "no receive right"),
        (At::Server, Syscall::ReplyRecv, 1, MessageInfo::new(2, 6), "long reply (UTCB)"),
        (At::ServerNoCaller, Syscall::ReplyRecv, 1, MessageInfo::new(2, 1), "no reply right"),
        (At::ServerSenderQueued, Syscall::ReplyRecv, 1, MessageInfo::new(2, 1), "sender queued"),
        (At::Client, Syscall::Send, 1, MessageInfo::new(1, 1), "send"),
        (At::Server, Syscall::Recv, 1, MessageInfo::new(0, 0), "recv"),
    ];
    // Server task: slot 1 endpoint receive, slot 2 endpoint send only.
    // Client task: slot 1 endpoint send (badge 0xB1), slot 3 receive only.
    // A second client (another sender) in the client task.
    let build = |at: At, fast: bool| {
        let mut m = Machine::new();
        m.live_fastpath = fast;
        m.kernel.set_fastpath(fast);
        let k = &mut m.kernel;
        let ts = k.create_task(0x1000).unwrap();
        let tc = k.create_task(0x2000).unwrap();
        let ep = k.create_endpoint().unwrap();
        k.set_cap(ts, 1, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
        k.set_cap(ts, 2, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(0) }).unwrap();
        k.set_cap(tc, 1, Cap::Endpoint { ep, rights: Rights::SEND, badge: Badge(0xB1) }).unwrap();
        k.set_cap(tc, 3, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
        let server = k.create_thread(ts, 0x40_0000, 0x7000, 1, Some(utcb())).unwrap();
        let client = k.create_thread(tc, 0x40_0100, 0x8000, 2, Some(utcb())).unwrap();
        let other = k.create_thread(tc, 0x40_0200, 0x9000, 3, Some(utcb())).unwrap();
        m.start();
        match at {
            At::Client => {
                m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
                assert_eq!(m.running(), Some(client));
            }
            At::ClientAlone => {
                m.syscall(op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[]);
                assert_eq!(m.running(), Some(client));
            }
            At::Server | At::ServerNoCaller | At::ServerSenderQueued => {
                m.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
                m.syscall(op(Syscall::Call), 1, MessageInfo::new(1, 1), &[11]);
                assert_eq!(m.running(), Some(server));
                if let At::ServerNoCaller = at {
                    m.syscall(op(Syscall::Reply), 0, MessageInfo::new(2, 0), &[]);
                }
                if let At::ServerSenderQueued = at {
                    // The other client sends while the server holds the reply
                    // right: it queues.
                    m.syscall(op(Syscall::Yield), 0, MessageInfo::new(0, 0), &[]);
                    assert_eq!(m.running(), Some(other));
                    m.syscall(op(Syscall::Call), 1, MessageInfo::new(3, 1), &[33]);
                    assert_eq!(m.running(), Some(server));
                }
            }
        }
        m
    };
    for (at, o, cap, tag, what) in cases {
        let ctx = format!("{what}: {o:?} slot {cap} {tag:?} from {at:?}");
        // The fastpath alone: declines and changes nothing.
        let mut probe = build(at, true);
        let before: std::vec::Vec<_> =
            (0..3).map(|t| probe.kernel.thread_info(ThreadId(t))).collect();
        let cur = probe.kernel.current();
        let args = crate::SyscallArgs { op: op(o), cap, tag };
        assert_eq!(probe.kernel.fastpath(args), None, "{ctx}");
        let after: std::vec::Vec<_> =
            (0..3).map(|t| probe.kernel.thread_info(ThreadId(t))).collect();
        assert_eq!((before, cur), (after, probe.kernel.current()), "{ctx}: changed state");
        // With the fastpath on, the general path takes it, and ends where
        // the general path alone does.
        let (mut a, mut b) = (build(at, true), build(at, false));
        let mrs = [5, 6, 7, 8];
        let (na, nb) = (a.syscall(op(o), cap, tag, &mrs), b.syscall(op(o), cap, tag, &mrs));
        // The same thread resumes (the long-message fastpath hands the
        // registers over from the sender's context, `regs_from`, where the
        // general path copies them: the registers are compared below).
        let resumed = |n: Next| match n {
            Next::Resume { thread, .. } => Some(thread),
            _ => None,
        };
        assert_eq!(resumed(na), resumed(nb), "{ctx}");
        assert_eq!(a.running(), b.running(), "{ctx}");
        assert_eq!([a.mr(0), a.mr(1), a.mr(2), a.mr(3)], [b.mr(0), b.mr(1), b.mr(2), b.mr(3)], "{ctx}");
        assert_eq!((a.status(), a.badge(), a.tag()), (b.status(), b.badge(), b.tag()), "{ctx}");
        for t in 0..3u8 {
            let (sa, sb) = (a.kernel.thread_info(ThreadId(t)), b.kernel.thread_info(ThreadId(t)));
            assert_eq!(sa, sb, "{ctx}: thread {t}");
        }
    }
}

/// A `call` through a remote capability crosses from one CPU's kernel to
/// another's through the outboxes (the runtime's part is played here by
/// hand): the receiver gets the message and the badge, its reply goes
/// back, and every refusal is an error code.
#[test]
fn calls_between_the_kernels_of_two_cpus() {
    use crate::{RemoteKind, RemoteMsg};
    // CPU 1: a server waiting on its endpoint 0.
    let mut b = Machine::new();
    let ts = b.kernel.create_task(0x1000).unwrap();
    let ep = b.kernel.create_endpoint().unwrap();
    b.kernel.set_cap(ts, 1, Cap::Endpoint { ep, rights: Rights::RECV, badge: Badge(0) }).unwrap();
    let server = b.kernel.create_thread(ts, 0x40_0000, 0x7000, 1, Some(utcb())).unwrap();
    b.start();
    b.syscall(op(Syscall::Recv), 1, MessageInfo::new(0, 0), &[]);
    assert_eq!(b.running(), None, "the server waits: CPU 1 is idle");
    // CPU 0: a client with a remote capability to it.
    let mut a = Machine::new();
    let tc = a.kernel.create_task(0x2000).unwrap();
    a.kernel.set_cap(tc, 1, Cap::Remote { cpu: 1, ep, badge: Badge(0xD3) }).unwrap();
    assert_eq!(a.kernel.cap(tc, 1), Some(Cap::Remote { cpu: 1, ep, badge: Badge(0xD3) }));
    let client = a.kernel.create_thread(tc, 0x40_0100, 0x8000, 2, Some(utcb())).unwrap();
    a.start();
    // Refused: `send` (calls only), a message with UTCB words.
    a.syscall(op(Syscall::Send), 1, MessageInfo::new(1, 1), &[1]);
    assert_eq!(a.status(), Error::WrongCapType.code());
    a.syscall(op(Syscall::Call), 1, MessageInfo::new(1, 5), &[1]);
    assert_eq!(a.status(), Error::InvalidMessage.code());
    // The fastpath leaves it alone.
    let args = crate::SyscallArgs { op: op(Syscall::Call), cap: 1, tag: MessageInfo::new(1, 2) };
    assert_eq!(a.kernel.fastpath(args), None);
    for round in 0..3u64 {
        let n = a.syscall(op(Syscall::Call), 1, MessageInfo::new(0x77, 2), &[round, !round]);
        assert_eq!(n, Next::Idle, "the caller waits: CPU 0 is idle");
        assert!(a.kernel.remote_pending());
        let call = a.kernel.peek_outgoing().unwrap();
        a.kernel.pop_outgoing();
        assert_eq!((call.kind, call.cpu, call.ep, call.thread), (RemoteKind::Call, 1, ep, client.0));
        // CPU 1 takes it: the server runs with the message and the badge.
        assert!(b.kernel.remote_call(0, &call));
        b.start();
        assert_eq!(b.running(), Some(server));
        assert_eq!((b.status(), b.badge(), b.tag()), (0, 0xD3, MessageInfo::new(0x77, 2)));
        assert_eq!([b.mr(0), b.mr(1)], [round, !round]);
        // Its reply_recv answers the remote caller and waits again.
        let n = b.syscall(op(Syscall::ReplyRecv), 1, MessageInfo::new(0x78, 1), &[round + 10]);
        assert_eq!(n, Next::Idle);
        let reply = b.kernel.peek_outgoing().unwrap();
        b.kernel.pop_outgoing();
        assert_eq!((reply.kind, reply.cpu, reply.thread, reply.status), (RemoteKind::Reply, 0, client.0, 0));
        assert!(a.kernel.remote_reply(&reply));
        a.start();
        assert_eq!(a.running(), Some(client));
        assert_eq!((a.status(), a.badge(), a.tag(), a.mr(0)), (0, 0, MessageInfo::new(0x78, 1), round + 10));
        assert!(!a.kernel.remote_pending());
    }
    // No receiver waiting: the message is not taken (the runtime keeps it).
    let busy = RemoteMsg { kind: RemoteKind::Call, cpu: 1, ep, thread: client.0, badge: 0, status: 0, tag: MessageInfo::new(1, 0), mrs: [0; 4] };
    let mut idle = Machine::new();
    let t = idle.kernel.create_task(0x3000).unwrap();
    let e = idle.kernel.create_endpoint().unwrap();
    assert!(!idle.kernel.remote_call(0, &busy), "nobody waits");
    let _ = (t, e);
    // A server that dies holding the remote reply right fails the caller.
    a.syscall(op(Syscall::Call), 1, MessageInfo::new(1, 0), &[]);
    let call = a.kernel.peek_outgoing().unwrap();
    a.kernel.pop_outgoing();
    assert!(b.kernel.remote_call(0, &call));
    b.start();
    b.syscall(op(Syscall::Exit), 0, MessageInfo::new(0, 0), &[]);
    let died = b.kernel.peek_outgoing().unwrap();
    assert_eq!((died.kind, died.status), (RemoteKind::Reply, Error::PartnerDied.code()));
    assert!(a.kernel.remote_reply(&died));
    a.start();
    assert_eq!(a.status(), Error::PartnerDied.code());
    // A reply for a thread that no longer waits is dropped.
    assert!(!a.kernel.remote_reply(&died));
}

/// A thread with capabilities for `invoke`: slot 3 its own thread with the
/// control right (badge 0x7A11), slot 4 the same without it, slot 1 an
/// endpoint, slot 15 empty. Returns the machine, running that thread.
fn invoke_world(fast: bool) -> (Machine, ThreadId) {
    let mut m = Machine::new();
    m.live_fastpath = fast;
    m.kernel.set_fastpath(fast);
    let k = &mut m.kernel;
    let t = k.create_task(0x1000).unwrap();
    let ep = k.create_endpoint().unwrap();
    let me = k.create_thread(t, 0x40_0000, 0x7000, 1, Some(utcb())).unwrap();
    k.set_cap(t, 1, Cap::Endpoint { ep, rights: Rights::ALL, badge: Badge(0xB1) }).unwrap();
    k.set_cap(t, 3, Cap::Thread { thread: me, rights: Rights::CONTROL, badge: Badge(0x7A11) }).unwrap();
    k.set_cap(t, 4, Cap::Thread { thread: me, rights: Rights(0), badge: Badge(0x7A12) }).unwrap();
    m.start();
    (m, me)
}

#[test]
fn invoke_ping_on_own_thread_replies_status_and_badge() {
    for fast in [true, false] {
        let (mut m, me) = invoke_world(fast);
        m.cpu.regs[reg::KEEP] = 0x5E5E;
        for i in 0..3u64 {
            let n = m.syscall(op(Syscall::Invoke), 3, ThreadOp::Ping.tag(), &[i, !i, 7, 8]);
            assert_eq!(n, Next::Resume { thread: me, regs_from: me }, "fast {fast}");
            // Status 0, the capability's badge as the result, tag 0; the
            // message registers and the preserved register untouched.
            assert_eq!((m.status(), m.badge(), m.tag()), (0, 0x7A11, MessageInfo(0)), "fast {fast}");
            assert_eq!([m.mr(0), m.mr(1), m.mr(2), m.mr(3)], [i, !i, 7, 8]);
            assert_eq!(m.cpu.regs[reg::KEEP], 0x5E5E);
            assert_eq!(m.kernel.thread_info(me).unwrap().state, ThreadState::Ready);
        }
    }
}

#[test]
fn invoke_fast_check_and_general_half_agree() {
    let (m, _) = invoke_world(true);
    let k = &m.kernel;
    let tags = [
        ThreadOp::Ping.tag(),
        MessageInfo::new(1, 1),
        MessageInfo(ThreadOp::Ping.tag().0 | 1 << 8),
        MessageInfo::new(0, 0),
        MessageInfo::new(2, 0),
        MessageInfo::new(1 << 40 | 1, 0),
    ];
    for cap in [0, 1, 3, 4, 15, 16, 1000, 1 << 32 | 3, u64::MAX] {
        for tag in tags {
            assert_eq!(k.invoke(cap, tag), k.invoke_general(cap, tag), "cap {cap} {tag:?}");
        }
    }
    assert_eq!(k.invoke(3, ThreadOp::Ping.tag()), Reply { status: 0, value: 0x7A11 });
}

#[test]
fn invoke_bad_input_gets_the_documented_errors() {
    for fast in [true, false] {
        let (mut m, me) = invoke_world(fast);
        let ping = ThreadOp::Ping.tag();
        let cases: &[(u64, MessageInfo, Error)] = &[
            // Capability lookup: empty, out of range.
            (15, ping, Error::InvalidCap),
            (0, ping, Error::InvalidCap),
            (16, ping, Error::InvalidCap),
            (1 << 32 | 3, ping, Error::InvalidCap),
            (u64::MAX, ping, Error::InvalidCap),
            // Object dispatch: an endpoint is not invoked.
            (1, ping, Error::WrongCapType),
            // Rights: a thread capability without CONTROL.
            (4, ping, Error::NoRights),
            // Op decode: unknown labels; a malformed or overlong tag.
            (3, MessageInfo::new(0, 0), Error::UnknownOp),
            (3, MessageInfo::new(2, 0), Error::UnknownOp),
            (3, MessageInfo::new(1 << 40 | 1, 0), Error::UnknownOp),
            (3, MessageInfo::new(1, 1), Error::InvalidMessage),
            (3, MessageInfo(ping.0 | 1 << 8), Error::InvalidMessage),
            (3, MessageInfo::new(1, 64), Error::InvalidMessage),
        ];
        for &(cap, tag, err) in cases {
            let n = m.syscall(op(Syscall::Invoke), cap, tag, &[1, 2, 3, 4]);
            assert_eq!(n, Next::Resume { thread: me, regs_from: me });
            let ctx = format!("fast {fast} cap {cap} {tag:?}");
            assert_eq!((m.status(), m.badge(), m.tag()), (err.code(), 0, MessageInfo(0)), "{ctx}");
            assert_eq!([m.mr(0), m.mr(1), m.mr(2), m.mr(3)], [1, 2, 3, 4], "{ctx}");
        }
        // IPC on a thread capability is refused, and `invoke` leaves the
        // thread runnable.
        m.syscall(op(Syscall::Call), 3, MessageInfo::new(0, 0), &[]);
        assert_eq!(m.status(), Error::WrongCapType.code());
        m.syscall(op(Syscall::Recv), 3, MessageInfo::new(0, 0), &[]);
        assert_eq!(m.status(), Error::WrongCapType.code());
        assert_eq!(m.running(), Some(me));
    }
}

#[test]
fn thread_caps_store_and_read_back() {
    let (m, me) = invoke_world(true);
    let t = TaskId(0);
    assert_eq!(m.kernel.cap(t, 3), Some(Cap::Thread { thread: me, rights: Rights::CONTROL, badge: Badge(0x7A11) }));
    assert_eq!(m.kernel.cap(t, 4), Some(Cap::Thread { thread: me, rights: Rights(0), badge: Badge(0x7A12) }));
    // Rights a thread capability cannot carry are dropped: never SEND or
    // RECV, which the IPC fastpath would take for an endpoint's.
    let mut k = Machine::new().kernel;
    let t = k.create_task(1).unwrap();
    let th = k.create_thread(t, 0, 0, 0, None).unwrap();
    k.set_cap(t, 2, Cap::Thread { thread: th, rights: Rights(0xFF), badge: Badge(1) }).unwrap();
    assert_eq!(k.cap(t, 2), Some(Cap::Thread { thread: th, rights: Rights::CONTROL, badge: Badge(1) }));
    let bogus = Cap::Thread { thread: ThreadId(255), rights: Rights::CONTROL, badge: Badge(0) };
    assert_eq!(k.set_cap(t, 3, bogus), Err(Error::InvalidArgument));
    // The fastpath's answer for a syscall stream is the reply itself.
    let (mut m, _) = invoke_world(true);
    let args = crate::SyscallArgs { op: Syscall::Invoke as u64, cap: 3, tag: ThreadOp::Ping.tag() };
    assert_eq!(m.kernel.fastpath(args), Some(Fast::Reply(Reply { status: 0, value: 0x7A11 })));
}

#[test]
fn no_services_refuses_every_service_call() {
    let mut ctx = crate::mock::MockContext::default();
    let r = <crate::NoServices as crate::Services<MockArch>>::service(
        &mut crate::NoServices,
        ThreadId(0),
        TaskId(0),
        crate::SERVICE_BASE,
        &mut ctx,
        None,
    );
    assert_eq!(r, Err(Error::UnsupportedService));
}

#[test]
fn a_task_in_no_space_is_refused() {
    let mut m = Machine::new();
    assert_eq!(m.kernel.create_task(<MockArch as crate::Arch>::NO_SPACE), Err(Error::InvalidArgument));
    // The table is untouched: the next task gets slot 0.
    assert_eq!(m.kernel.create_task(0x1000), Ok(TaskId(0)));
}

/// A syscall before the first `schedule` has no current thread: a clear
/// panic (debug builds; release builds on the general path), not a
/// syscall on the table's unused last context.
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "Kernel::syscall with no current thread: call Kernel::schedule first")]
fn a_syscall_before_the_first_schedule_panics_clearly() {
    use crate::UserContext;
    let (mut m, client, _, _) = client_server(false);
    m.kernel.context_mut(client).set_syscall_args(crate::SyscallArgs {
        op: op(Syscall::Call),
        cap: 1,
        tag: MessageInfo::new(1, 0),
    });
    m.kernel.syscall(&mut crate::NoServices);
}

/// The same through the fastpath alone (the x86_64 entry calls it with
/// live registers).
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "Kernel::syscall with no current thread")]
fn a_fastpath_before_the_first_schedule_panics_clearly() {
    let (mut m, _, _, _) = client_server(false);
    m.kernel.fastpath_ipc(crate::SyscallArgs { op: op(Syscall::Call), cap: 1, tag: MessageInfo::new(1, 0) });
}

/// The general path checks in release builds too.
#[test]
#[should_panic(expected = "Kernel::syscall with no current thread")]
fn the_general_path_before_the_first_schedule_panics_clearly() {
    let (mut m, _, _, _) = client_server(false);
    m.kernel.set_fastpath(false);
    m.kernel.syscall(&mut crate::NoServices);
}
