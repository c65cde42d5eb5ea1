// SPDX-License-Identifier: MIT OR Apache-2.0
//! Host tests of the roles against a mock kernel.
//!
//! The IPC tests run the real client and server loops on two threads joined
//! by channels: the mock's `call` sends the message (stamped with the
//! client capability's badge) and waits for the reply; its `reply_recv`
//! sends the reply and waits for the next message. A side whose peer has
//! gone gets `PartnerDied`, as from the kernel. The mock can corrupt one
//! message in flight, like the kernel's `inject=` build. Without a peer the
//! mock answers system calls from a small model of docs/abi.md, for the
//! bad-input scenarios.

extern crate std;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::vec::Vec;

use super::{client_rounds, run, run_latency};
use crate::abi::{MR_IN_REGS, TSC_SELECTOR, UTCB_WORDS, nr, role, service, status, what};
use crate::job::{Job, PMC_MASK};
use crate::kernel::Kernel;
use crate::msg::{Failure, Msg, SERVER_TURN, Side, label, round_tag, word};
use crate::scenario::{Fault, PROBE_WORDS, probe_expected};

/// What the mock's clock advances by per syscall (the fake TSC; the fake
/// `rdpmc` counter runs three times as fast, in 48 bits).
const COST: u64 = 10;
/// The badge of the client's capability (what the server must see).
const BADGE: u64 = 0xB1;

/// A message in flight.
#[derive(Clone, Copy, Debug)]
struct Packet {
    badge: u64,
    tag: u64,
    mr: [u64; MR_IN_REGS],
    utcb: [u64; UTCB_WORDS],
}

/// How the mock kernel corrupts the `n`-th message a side sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inject {
    None,
    /// Flip bit 33 of message register `k`.
    Mr(usize),
    /// Flip bit 3 of UTCB message word `k`.
    Utcb(usize),
    /// Flip bit 0 of the badge.
    Badge,
    /// Flip bit 0 of the label.
    Label,
    /// Deliver the previous message again.
    Stale,
    /// Do not deliver: the caller returns with its own registers.
    Echo,
}

/// The mock kernel of one thread.
struct Mock {
    utcb: [u64; UTCB_WORDS],
    clock: u64,
    peer: Option<(Sender<Packet>, Receiver<Packet>)>,
    /// Badge of the capability this side sends through.
    badge: u64,
    inject: Inject,
    inject_at: u64,
    sent: u64,
    delivered: u64,
    last: Option<Packet>,
    /// `null` returns a wrong status / MR0 in this round.
    null_bug: Option<(u64, u64, u64)>,
    /// `invoke`: after this many calls, answer (status, result) instead.
    invoke_bug: Option<(u64, u64, u64)>,
    /// `invoke` calls so far.
    invokes: u64,
    /// The probe sees this register index clobbered.
    probe_bug: Option<usize>,
    /// The model answers this syscall number with this status.
    model_bug: Option<(u64, u64)>,
    reports: Vec<(u64, u64, u64, Vec<u64>)>,
    /// `latency` service calls: bench, pairs, rounds, runs.
    latencies: Vec<[u64; 4]>,
    fails: Vec<(u64, Failure)>,
    oks: Vec<u64>,
    faults: Vec<Fault>,
}

impl Mock {
    fn new(peer: Option<(Sender<Packet>, Receiver<Packet>)>, badge: u64) -> Mock {
        Mock {
            utcb: [0; UTCB_WORDS],
            // Both counters wrap during the test.
            clock: u64::MAX - 5 * COST,
            peer,
            badge,
            inject: Inject::None,
            inject_at: 0,
            sent: 0,
            delivered: 0,
            last: None,
            null_bug: None,
            invoke_bug: None,
            invokes: 0,
            probe_bug: None,
            model_bug: None,
            reports: Vec::new(),
            latencies: Vec::new(),
            fails: Vec::new(),
            oks: Vec::new(),
            faults: Vec::new(),
        }
    }

    fn inject(mut self, inject: Inject, at: u64) -> Mock {
        self.inject = inject;
        self.inject_at = at;
        self
    }

    /// Sends a message to the peer, corrupted if it is the chosen one.
    /// Returns `false` if the message is swallowed (`Echo`).
    fn send(&mut self, badge: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> bool {
        let mut p = Packet {
            badge,
            tag,
            mr,
            utcb: self.utcb,
        };
        let n = self.sent;
        self.sent += 1;
        if n == self.inject_at {
            match self.inject {
                Inject::None => {}
                Inject::Mr(k) => p.mr[k] ^= 1 << 33,
                Inject::Utcb(k) => p.utcb[k] ^= 1 << 3,
                Inject::Badge => p.badge ^= 1,
                Inject::Label => p.tag ^= 1 << 16,
                Inject::Stale => p = self.last.expect("a previous message"),
                Inject::Echo => return false,
            }
        }
        self.last = Some(p);
        // A dead peer shows when we wait for its answer.
        let _ = self.peer.as_ref().expect("a peer").0.send(p);
        true
    }

    /// Waits for a message from the peer.
    fn receive(&mut self, fallback: Msg) -> Msg {
        match self.peer.as_ref().expect("a peer").1.recv() {
            Ok(p) => {
                self.delivered += 1;
                self.utcb[MR_IN_REGS..].copy_from_slice(&p.utcb[MR_IN_REGS..]);
                Msg {
                    status: status::OK,
                    badge: p.badge,
                    tag: p.tag,
                    mr: p.mr,
                }
            }
            Err(_) => Msg {
                status: status::PARTNER_DIED,
                ..fallback
            },
        }
    }

    /// The kernel's answer to everything else: docs/abi.md, for a task
    /// with a send-only endpoint capability in slot 1 and its own thread's
    /// capability in slot 3 (with `CONTROL`) and slot 4 (without).
    fn model(&mut self, nr: u64, cap: u64, tag: u64) -> u64 {
        if let Some((n, st)) = self.model_bug
            && n == nr
        {
            return st;
        }
        let tag_ok = tag & 0xff80 == 0 && tag & 0x7f <= 63;
        // Slots 3 and 4: thread capabilities (with and without CONTROL).
        let thread = cap == 3 || cap == 4;
        match nr {
            nr::INVOKE if cap == 1 => status::WRONG_CAP_TYPE,
            nr::INVOKE if !thread => status::INVALID_CAP,
            nr::INVOKE if cap == 4 => status::NO_RIGHTS,
            nr::INVOKE if !tag_ok => status::INVALID_MESSAGE,
            nr::INVOKE if tag >> 16 != crate::abi::thread_op::PING => status::UNKNOWN_OP,
            nr::INVOKE if tag & 0x7f != 0 => status::INVALID_MESSAGE,
            nr::INVOKE => status::OK,
            nr::CALL | nr::SEND | nr::RECV | nr::REPLY_RECV if thread => status::WRONG_CAP_TYPE,
            nr::NULL | nr::YIELD => status::OK,
            nr::CALL | nr::SEND | nr::RECV | nr::REPLY_RECV if cap != 1 => status::INVALID_CAP,
            nr::RECV | nr::REPLY_RECV => status::NO_RIGHTS,
            nr::CALL | nr::SEND if !tag_ok => status::INVALID_MESSAGE,
            nr::CALL | nr::SEND => panic!("the scenario would block"),
            nr::REPLY => status::NO_CALLER,
            nr::EXIT => panic!("exit is the binary's job"),
            9..=15 => status::INVALID_SYSCALL,
            _ => status::UNSUPPORTED_SERVICE,
        }
    }
}

impl Kernel for Mock {
    fn syscall(&mut self, nr: u64, cap: u64, tag: u64, mr: [u64; MR_IN_REGS]) -> Msg {
        self.clock = self.clock.wrapping_add(COST);
        let own = Msg {
            status: status::OK,
            badge: cap,
            tag,
            mr,
        };
        match nr {
            service::REPORT => {
                let deltas = self.utcb[4..4 + mr[3] as usize].to_vec();
                self.reports.push((mr[0], mr[1], mr[2], deltas));
                Msg::default()
            }
            service::FAIL => {
                self.fails.push((
                    mr[0],
                    Failure {
                        what: mr[1],
                        got: mr[2],
                        expected: mr[3],
                    },
                ));
                Msg::default()
            }
            service::TEST_OK => {
                self.oks.push(mr[0]);
                Msg::default()
            }
            service::LATENCY => {
                self.latencies.push(mr);
                Msg::default()
            }
            nr::CALL if self.peer.is_some() => {
                if self.send(self.badge, tag, mr) {
                    self.receive(own)
                } else {
                    own // never delivered: our own registers come back
                }
            }
            nr::RECV if self.peer.is_some() => self.receive(own),
            nr::REPLY_RECV if self.peer.is_some() => {
                self.send(0, tag, mr);
                self.receive(own)
            }
            _ => Msg {
                status: self.model(nr, cap, tag),
                ..own
            },
        }
    }

    fn null(&mut self, mr0: u64) -> (u64, u64) {
        self.clock = self.clock.wrapping_add(COST);
        match self.null_bug {
            Some((round, st, m)) if round == mr0 => (st, m),
            _ => (status::OK, mr0),
        }
    }

    /// The kernel of docs/abi.md for the job's capability (slot 2): a
    /// thread capability with the control right and badge [`BADGE`].
    fn invoke(&mut self, cap: u64, tag: u64) -> (u64, u64) {
        self.clock = self.clock.wrapping_add(COST);
        self.invokes += 1;
        match self.invoke_bug {
            Some((n, st, v)) if n == self.invokes => (st, v),
            _ if cap != 2 => (status::INVALID_CAP, 0),
            _ if tag != crate::abi::tag(crate::abi::thread_op::PING, 0) => (status::UNKNOWN_OP, 0),
            _ => (status::OK, BADGE),
        }
    }

    fn utcb(&self, k: usize) -> u64 {
        self.utcb[k]
    }

    fn set_utcb(&mut self, k: usize, v: u64) {
        self.utcb[k] = v;
    }

    fn read_counter(&mut self, selector: u64) -> u64 {
        if selector == TSC_SELECTOR {
            self.clock
        } else {
            self.clock.wrapping_mul(3) & PMC_MASK
        }
    }

    fn null_probe(&mut self) -> [u64; PROBE_WORDS] {
        let mut out = [0; PROBE_WORDS];
        for (i, w) in out[1..].iter_mut().enumerate() {
            *w = if self.probe_bug == Some(i) {
                0x5EED
            } else {
                probe_expected(i)
            };
        }
        out
    }

    fn fault(&mut self, f: Fault) {
        self.faults.push(f);
    }
}

fn job(role: u64, len: usize) -> Job {
    Job {
        role,
        rounds: 50,
        runs: 3,
        warmup: 1,
        bench: 7,
        n: 2,
        counters: [TSC_SELECTOR, 1 << 30, 0, 0],
        cap: 2,
        badge: BADGE,
        len,
    }
}

/// The latency words of a job with a sample buffer of `len` words.
fn lat(len: u64) -> crate::job::LatencyJob {
    crate::job::LatencyJob { counter: TSC_SELECTOR, samples: 0x30_0000_0000, samples_len: len }
}

/// Runs a client and a server of `len`-word messages on two threads;
/// returns both mocks when both have stopped.
fn ipc(len: usize, client: Mock, server: Mock) -> (Mock, Mock) {
    let (cjob, sjob) = (
        job(role::CLIENT, len),
        Job {
            cap: 1,
            ..job(role::SERVER, len)
        },
    );
    let server = thread::spawn(move || {
        let mut s = server;
        run(&mut s, &sjob);
        s.peer = None; // the server "exits": its client sees PartnerDied
        s
    });
    let mut c = client;
    run(&mut c, &cjob);
    c.peer = None; // the client exits; the server's next receive fails
    (c, server.join().expect("server thread"))
}

/// A connected client/server pair of mocks.
fn pair() -> (Mock, Mock) {
    let (to_server, from_client) = channel();
    let (to_client, from_server) = channel();
    (
        Mock::new(Some((to_server, from_server)), BADGE),
        Mock::new(Some((to_client, from_client)), 0),
    )
}

/// What the mock server reports when its client leaves: the end of a
/// mock run, not a failure of the program.
const CLIENT_GONE: (u64, Failure) = (
    7,
    Failure {
        what: what::STATUS,
        got: status::PARTNER_DIED,
        expected: 0,
    },
);

#[test]
fn clean_ipc_runs_report_every_measured_run() {
    for len in 0..=8 {
        let (c, s) = pair();
        let (c, s) = ipc(len, c, s);
        assert_eq!(c.fails, [], "len {len}");
        assert_eq!(s.fails, [CLIENT_GONE], "len {len}");
        assert_eq!(s.delivered, 4 * 50, "len {len}");
        let want: Vec<_> = (0..3)
            .map(|r| (7, r, 100, std::vec![50 * COST, 3 * 50 * COST]))
            .collect();
        assert_eq!(c.reports, want, "len {len}");
    }
}

#[test]
fn a_corrupted_request_word_is_named_by_the_server() {
    for k in 0..4 {
        let (c, s) = pair();
        let (c, s) = ipc(4, c.inject(Inject::Mr(k), 57), s);
        let expected = word(Side::Client, 57, k);
        assert_eq!(
            s.fails,
            [(
                7,
                Failure {
                    what: what::WORD_BASE + k as u64,
                    got: expected ^ 1 << 33,
                    expected
                }
            )]
        );
        // The client then sees its server die.
        assert_eq!(c.fails, [CLIENT_GONE]);
        // Round 57 is in the first measured run: only the warm-up passed.
        assert_eq!(c.reports, []);
    }
}

#[test]
fn a_corrupted_reply_is_named_by_the_client() {
    for (inject, w) in [
        (Inject::Mr(0), what::WORD_BASE),
        (Inject::Mr(3), what::WORD_BASE + 3),
        (Inject::Badge, what::BADGE),
        (Inject::Label, what::LABEL),
    ] {
        let (c, s) = pair();
        let (c, s) = ipc(4, c, s.inject(inject, 120));
        assert_eq!(c.fails.len(), 1, "{inject:?}");
        assert_eq!(c.fails[0].1.what, w, "{inject:?}");
        // Round 120 is in the second measured run: the first was reported.
        assert_eq!(c.reports.len(), 1, "{inject:?}");
        // The client exits; the server sees it gone.
        assert_eq!(s.fails, [CLIENT_GONE]);
    }
    // The exact values: badge 1 where 0 is due; label 0xa0 ^ 1 of round
    // 160 (the third measured run: two reports before it).
    let (c, s) = pair();
    let (c, _) = ipc(4, c, s.inject(Inject::Badge, 120));
    assert_eq!(
        c.fails,
        [(
            7,
            Failure {
                what: what::BADGE,
                got: 1,
                expected: 0
            }
        )]
    );
    let (c, s) = pair();
    let (c, _) = ipc(4, c, s.inject(Inject::Label, 160));
    assert_eq!(c.reports.len(), 2);
    assert_eq!(
        c.fails,
        [(
            7,
            Failure {
                what: what::LABEL,
                got: label(Side::Server, 160) ^ 1,
                expected: label(Side::Server, 160)
            }
        )]
    );
}

#[test]
fn stale_and_undelivered_messages_are_caught() {
    // The kernel delivers request 9 again as request 10.
    let (c, s) = pair();
    let (_, s) = ipc(4, c.inject(Inject::Stale, 10), s);
    assert_eq!(
        s.fails,
        [(
            7,
            Failure {
                what: what::LABEL,
                got: label(Side::Client, 9),
                expected: label(Side::Client, 10)
            }
        )]
    );
    // (Stale words alone are caught too: see
    // `msg::tests::stale_and_echoed_messages_are_caught`.)
    // Reply 30 delivered again as reply 31.
    let (c, s) = pair();
    let (c, _) = ipc(2, c, s.inject(Inject::Stale, 31));
    assert_eq!(c.fails[0].1.what, what::LABEL);
    // A call that returns without delivering: the client sees its own
    // message (the client's label where the server's is due).
    let (c, s) = pair();
    let (c, s) = ipc(4, c.inject(Inject::Echo, 5), s);
    assert_eq!(
        c.fails,
        [(
            7,
            Failure {
                what: what::LABEL,
                got: label(Side::Client, 5),
                expected: label(Side::Server, 5)
            }
        )]
    );
    assert_eq!(s.fails, [CLIENT_GONE]);
    // Even for empty messages, the label catches it.
    let (c, s) = pair();
    let (c, _) = ipc(0, c.inject(Inject::Echo, 0), s);
    assert_eq!(
        c.fails,
        [(
            7,
            Failure {
                what: what::LABEL,
                got: label(Side::Client, 0),
                expected: label(Side::Server, 0)
            }
        )]
    );
}

#[test]
fn utcb_words_of_long_messages_are_checked() {
    // A request word corrupted on its way to the server comes back in the
    // reply, turned (the server checks the registers, not the UTCB): the
    // client names it, with the value it received less its own turn.
    let (c, s) = pair();
    let (c, _) = ipc(8, c.inject(Inject::Utcb(6), 3), s);
    let expected = word(Side::Server, 3, 6);
    assert_eq!(
        c.fails[0],
        (
            7,
            Failure {
                what: what::WORD_BASE + 6,
                got: (word(Side::Client, 3, 6) ^ 8).wrapping_add(SERVER_TURN),
                expected
            }
        )
    );
    // A reply word corrupted on its way back: named by the client too.
    let (c, s) = pair();
    let (c, _) = ipc(8, c, s.inject(Inject::Utcb(4), 3));
    assert_eq!(c.fails[0].1.what, what::WORD_BASE + 4);
    assert_eq!(c.fails[0].1.got, word(Side::Server, 3, 4) ^ 8);
    // Every UTCB word of every round, from 5 to 63 words: a clean run.
    for len in [5, 8, 9, 16, 33, 63] {
        let (c, s) = pair();
        let (c, s) = ipc(len, c, s);
        assert_eq!(c.fails, [], "len={len}");
        assert_eq!(s.fails, [CLIENT_GONE], "len={len}");
    }
}

#[test]
fn the_client_loop_sends_the_pattern() {
    // One round against a kernel that records what it was given.
    struct Rec(Vec<(u64, u64, [u64; 4])>);
    impl Kernel for Rec {
        fn syscall(&mut self, nr: u64, cap: u64, tag: u64, mr: [u64; 4]) -> Msg {
            assert_eq!(nr, nr::CALL);
            self.0.push((cap, tag, mr));
            Msg::default()
        }
        fn null(&mut self, _: u64) -> (u64, u64) {
            unreachable!()
        }
        fn invoke(&mut self, _: u64, _: u64) -> (u64, u64) {
            unreachable!()
        }
        fn utcb(&self, _: usize) -> u64 {
            0
        }
        fn set_utcb(&mut self, _: usize, _: u64) {}
        fn read_counter(&mut self, _: u64) -> u64 {
            0
        }
        fn null_probe(&mut self) -> [u64; PROBE_WORDS] {
            unreachable!()
        }
        fn fault(&mut self, _: Fault) {}
    }
    let mut k = Rec(Vec::new());
    let f = client_rounds::<Rec, 3, false>(&mut k, 5, 3, 300, 1).unwrap_err();
    let i = 300;
    assert_eq!(
        k.0,
        [(
            5,
            round_tag(Side::Client, i, 3),
            [
                word(Side::Client, i, 0),
                word(Side::Client, i, 1),
                word(Side::Client, i, 2),
                0
            ]
        )]
    );
    // An all-zero reply: the label is the first thing wrong.
    assert_eq!(
        f,
        Failure {
            what: what::LABEL,
            got: 0,
            expected: label(Side::Server, i)
        }
    );
}

#[test]
fn syscall_loop_reports_and_checks_mr0() {
    let mut k = Mock::new(None, 0);
    run(&mut k, &job(role::NULL, 4));
    assert_eq!(k.fails, []);
    let want: Vec<_> = (0..3)
        .map(|r| (7, r, 50, std::vec![50 * COST, 3 * 50 * COST]))
        .collect();
    assert_eq!(k.reports, want);

    let mut k = Mock::new(None, 0);
    k.null_bug = Some((77, 0, 1234));
    run(&mut k, &job(role::NULL, 4));
    assert_eq!(
        k.fails,
        [(
            7,
            Failure {
                what: what::WORD_BASE,
                got: 1234,
                expected: 77
            }
        )]
    );
    assert_eq!(k.reports.len(), 0);

    let mut k = Mock::new(None, 0);
    k.null_bug = Some((177, 3, 177));
    run(&mut k, &job(role::NULL, 4));
    assert_eq!(k.fails, [(7, Failure::status(3))]);
    assert_eq!(k.reports.len(), 2);
}

fn scenario(id: u64, setup: impl FnOnce(&mut Mock)) -> Mock {
    let mut k = Mock::new(None, 0);
    setup(&mut k);
    // As the runtime sets up a test: bench = role = id, cap 1 (send-only).
    run(
        &mut k,
        &Job {
            bench: id,
            cap: 1,
            ..job(id, 4)
        },
    );
    k
}

#[test]
fn bad_input_scenarios_pass_against_the_documented_kernel() {
    for id in [16, 17, 18, 19, 20, 22] {
        let k = scenario(id, |_| {});
        assert_eq!(
            (k.oks.as_slice(), k.fails.as_slice()),
            (&[id][..], &[][..]),
            "scenario {id}"
        );
    }
}

#[test]
fn bad_input_scenarios_catch_a_wrong_status() {
    for (id, nr, wrong, expected) in [
        (16, 12, status::OK, status::INVALID_SYSCALL),
        (
            16,
            1000,
            status::INVALID_SYSCALL,
            status::UNSUPPORTED_SERVICE,
        ),
        (17, nr::CALL, status::WRONG_CAP_TYPE, status::INVALID_CAP),
        (18, nr::RECV, status::OK, status::NO_RIGHTS),
        (
            19,
            nr::CALL,
            status::INVALID_ARGUMENT,
            status::INVALID_MESSAGE,
        ),
        (20, nr::REPLY, status::OK, status::NO_CALLER),
        (22, nr::INVOKE, status::OK, status::INVALID_CAP),
    ] {
        let k = scenario(id, |k| k.model_bug = Some((nr, wrong)));
        assert_eq!(k.oks, []);
        assert_eq!(
            k.fails,
            [(
                id,
                Failure {
                    what: what::STATUS,
                    got: wrong,
                    expected
                }
            )]
        );
    }
}

#[test]
fn register_probe_scenario() {
    let k = scenario(21, |_| {});
    assert_eq!((k.oks.as_slice(), k.fails.len()), (&[21][..], 0));
    let k = scenario(21, |k| k.probe_bug = Some(1));
    assert_eq!(k.oks, []);
    assert_eq!(
        k.fails,
        [(
            21,
            Failure {
                what: what::REGISTER_BASE + 1,
                got: 0x5EED,
                expected: probe_expected(1)
            }
        )]
    );
}

#[test]
fn fault_scenarios_that_survive_fail() {
    let faults = [
        Fault::KernelRead,
        Fault::WriteCode,
        Fault::Privileged,
        Fault::Undefined,
        Fault::NullRead,
        Fault::NxStack,
    ];
    for (id, f) in (32..).zip(faults) {
        let k = scenario(id, |_| {});
        assert_eq!(k.faults, [f]);
        assert_eq!(k.oks, []);
        assert_eq!(
            k.fails,
            [(
                id,
                Failure {
                    what: what::SURVIVED,
                    got: id,
                    expected: 0
                }
            )]
        );
    }
}

#[test]
fn unknown_roles_fail() {
    for id in [0, 8, 15, 23, 31, 38, u64::MAX] {
        let k = scenario(id, |_| {});
        assert_eq!(
            k.fails,
            [(
                id,
                Failure {
                    what: what::UNKNOWN_ROLE,
                    got: id,
                    expected: 0
                }
            )]
        );
        assert_eq!(k.oks, []);
    }
}

#[test]
fn invoke_loop_reports_and_checks_status_and_badge() {
    let mut k = Mock::new(None, 0);
    run(&mut k, &job(role::INVOKE, 0));
    assert_eq!(k.fails, []);
    let want: Vec<_> = (0..3)
        .map(|r| (7, r, 50, std::vec![50 * COST, 3 * 50 * COST]))
        .collect();
    assert_eq!(k.reports, want);
    assert_eq!(k.invokes, 4 * 50);

    // A wrong result word, then a wrong status, each stop the run.
    let mut k = Mock::new(None, 0);
    k.invoke_bug = Some((77, 0, BADGE ^ 1));
    run(&mut k, &job(role::INVOKE, 0));
    assert_eq!(
        k.fails,
        [(
            7,
            Failure {
                what: what::BADGE,
                got: BADGE ^ 1,
                expected: BADGE
            }
        )]
    );
    assert_eq!(k.reports.len(), 0);
    let mut k = Mock::new(None, 0);
    k.invoke_bug = Some((177, status::NO_RIGHTS, 0));
    run(&mut k, &job(role::INVOKE, 0));
    assert_eq!(k.fails, [(7, Failure::status(status::NO_RIGHTS))]);
    assert_eq!(k.reports.len(), 2);
    // The wrong capability gets the kernel's error, reported as a status.
    let mut k = Mock::new(None, 0);
    run(&mut k, &Job { cap: 5, ..job(role::INVOKE, 0) });
    assert_eq!(k.fails, [(7, Failure::status(status::INVALID_CAP))]);
}

/// The latency roles fill the buffer: the overhead pairs (the mock's
/// clock does not move between two reads: 0), then per measured run
/// `rounds + 1` time stamps one round apart, and call `latency`.
#[test]
fn latency_roles_stamp_every_round() {
    use crate::abi::latency::{OVERHEAD_PAIRS, words_needed};
    let run_lat = |role, k: &mut Mock, buf: &mut [u32]| run_latency(k, &job(role, 0), &lat(buf.len() as u64), buf);
    for (role, per_round) in [(role::NULL_LAT, COST), (role::INVOKE_LAT, COST)] {
        let mut k = Mock::new(None, 0);
        let mut buf = std::vec![u32::MAX; words_needed(50, 3) as usize];
        run_lat(role, &mut k, &mut buf);
        assert_eq!(k.fails, [], "role {role}");
        assert_eq!(k.latencies, [[7, OVERHEAD_PAIRS as u64, 50, 3]]);
        assert!(buf[..OVERHEAD_PAIRS].iter().all(|d| *d == 0));
        for run in buf[OVERHEAD_PAIRS..].chunks(51) {
            assert!(run.windows(2).all(|w| u64::from(w[1].wrapping_sub(w[0])) == per_round), "role {role}");
        }
        assert_eq!(k.reports, []);
    }
    // Too small a buffer: a failure naming the words needed.
    let mut k = Mock::new(None, 0);
    let mut buf = std::vec![0u32; 100];
    run_lat(role::NULL_LAT, &mut k, &mut buf);
    let need = words_needed(50, 3);
    assert_eq!(k.fails, [(7, Failure { what: what::SAMPLE_BUFFER, got: 100, expected: need })]);
    // The IPC client against the real server: two syscalls per round.
    let (c, s) = pair();
    let server = thread::spawn(move || {
        let mut s = s;
        run(&mut s, &Job { cap: 1, ..job(role::SERVER, 2) });
        s.peer = None;
        s
    });
    let mut c = c;
    let mut buf = std::vec![0u32; need as usize];
    run_latency(&mut c, &job(role::CLIENT_LAT, 2), &lat(need), &mut buf);
    c.peer = None;
    let s = server.join().expect("server thread");
    assert_eq!(c.fails, []);
    assert_eq!(s.fails, [CLIENT_GONE]);
    assert_eq!(c.latencies, [[7, OVERHEAD_PAIRS as u64, 50, 3]]);
    for run in buf[OVERHEAD_PAIRS..].chunks(51) {
        assert!(run.windows(2).all(|w| u64::from(w[1].wrapping_sub(w[0])) == COST));
    }
}
