// SPDX-License-Identifier: MIT OR Apache-2.0
//! Host tests of the fuzz model: the expected statuses follow docs/abi.md
//! (and ipc-core's own checks), the generators are deterministic, and the
//! register check names what it finds.

use super::{Expect, FaultKind, FuzzMachine, Hold, Rng, check, echo_tag, echo_word, expect, feed_is_call, feed_tag, fuzz, gen_cap, gen_input, gen_nr, gen_tag, layout, next_hold, nr, regs, scratch, stat, status, tag_len, tag_valid, thread_op, what, word, Failure, VICTIM_TAG};

#[test]
fn same_seed_same_inputs() {
    let (mut a, mut b) = (Rng(42), Rng(42));
    for _ in 0..1000 {
        assert_eq!((gen_nr(&mut a), gen_cap(&mut a), gen_tag(&mut a)), (gen_nr(&mut b), gen_cap(&mut b), gen_tag(&mut b)));
    }
    assert_ne!(Rng(1).next_u64(), Rng(2).next_u64());
}

#[test]
fn generated_numbers_avoid_exit_and_the_reporting_services() {
    let mut r = Rng(7);
    let mut seen_high = false;
    for _ in 0..100_000 {
        let n = gen_nr(&mut r);
        assert!(n != nr::EXIT && !(17..=20).contains(&n), "{n}");
        seen_high |= n >> 32 != 0 && n as u32 <= 8;
    }
    assert!(seen_high);
}

#[test]
fn statuses_follow_the_abi() {
    use layout::{B_VICTIM, ECHO, ECHO_NONE, FEED, LOOP_ALL, LOOP_RECV, LOOP_SEND, THREAD0, THREAD0_NONE, VICTIM};
    let ok = 0x7E57 << 16;
    let ping = thread_op::PING << 16;
    assert_eq!(expect(nr::NULL, 999, u64::MAX, Hold::No), Expect::Null);
    assert_eq!(expect(12, 0, ok, Hold::No), Expect::Error(status::INVALID_SYSCALL));
    assert_eq!(expect(1 << 32, 0, ok, Hold::No), Expect::Error(status::UNSUPPORTED_SERVICE));
    assert_eq!(expect(1 << 32 | 1, ECHO, ok, Hold::No), Expect::Error(status::UNSUPPORTED_SERVICE));
    assert_eq!(expect(16, 33, ok, Hold::No), Expect::Error(status::INVALID_ARGUMENT));
    // IPC: the tag first, then the slot, the kind, the right.
    assert_eq!(expect(nr::CALL, 1000, ok | 64, Hold::No), Expect::Error(status::INVALID_MESSAGE));
    assert_eq!(expect(nr::RECV, 1000, ok | 1 << 7, Hold::No), Expect::Error(status::INVALID_MESSAGE));
    assert_eq!(expect(nr::CALL, 1000, ok, Hold::No), Expect::Error(status::INVALID_CAP));
    assert_eq!(expect(nr::CALL, 1 << 32 | ECHO, ok, Hold::No), Expect::Error(status::INVALID_CAP));
    assert_eq!(expect(nr::CALL, 0, ok, Hold::No), Expect::Error(status::INVALID_CAP));
    assert_eq!(expect(nr::CALL, THREAD0, ok, Hold::No), Expect::Error(status::WRONG_CAP_TYPE));
    assert_eq!(expect(nr::CALL, FEED, ok, Hold::No), Expect::Error(status::NO_RIGHTS));
    assert_eq!(expect(nr::RECV, ECHO, ok, Hold::No), Expect::Error(status::NO_RIGHTS));
    assert_eq!(expect(nr::SEND, ECHO_NONE, ok, Hold::No), Expect::Error(status::NO_RIGHTS));
    assert_eq!(expect(nr::CALL, ECHO, ok | 63, Hold::No), Expect::Echo);
    assert_eq!(expect(nr::SEND, LOOP_SEND, ok, Hold::No), Expect::Ok);
    assert_eq!(expect(nr::CALL, LOOP_ALL, ok, Hold::No), Expect::LoopReply);
    assert_eq!(expect(nr::RECV, FEED, ok, Hold::No), Expect::Feed);
    assert_eq!(expect(nr::REPLY_RECV, LOOP_RECV, ok, Hold::Yes), Expect::Loop);
    // reply: the tag, then the caller.
    assert_eq!(expect(nr::REPLY, 0, ok | 64, Hold::Yes), Expect::Error(status::INVALID_MESSAGE));
    assert_eq!(expect(nr::REPLY, 0, ok, Hold::No), Expect::Error(status::NO_CALLER));
    assert_eq!(expect(nr::REPLY, 0, ok, Hold::Yes), Expect::Ok);
    assert_eq!(expect(nr::REPLY, 0, ok, Hold::Maybe), Expect::ReplyMaybe);
    // invoke: the slot, the kind, the right, then the tag (docs/abi.md).
    assert_eq!(expect(nr::INVOKE, 15, ping, Hold::No), Expect::Error(status::INVALID_CAP));
    assert_eq!(expect(nr::INVOKE, ECHO, ping | 64, Hold::No), Expect::Error(status::WRONG_CAP_TYPE));
    assert_eq!(expect(nr::INVOKE, THREAD0_NONE, ping | 64, Hold::No), Expect::Error(status::NO_RIGHTS));
    assert_eq!(expect(nr::INVOKE, THREAD0, ping | 1 << 8, Hold::No), Expect::Error(status::INVALID_MESSAGE));
    assert_eq!(expect(nr::INVOKE, THREAD0, ok, Hold::No), Expect::Error(status::UNKNOWN_OP));
    assert_eq!(expect(nr::INVOKE, THREAD0, ping | 1, Hold::No), Expect::Error(status::INVALID_MESSAGE));
    assert_eq!(expect(nr::INVOKE, VICTIM, ping, Hold::No), Expect::Invoke(B_VICTIM));
    assert_eq!(expect(nr::YIELD, u64::MAX, u64::MAX, Hold::No), Expect::Ok);
}

#[test]
fn the_reply_right_follows_the_messages() {
    let call = feed_tag(0);
    let send = feed_tag(1);
    assert_eq!(next_hold(nr::RECV, Expect::Feed, 0, call, Hold::No), Hold::Yes);
    assert_eq!(next_hold(nr::RECV, Expect::Feed, 0, send, Hold::Yes), Hold::No);
    assert_eq!(next_hold(nr::RECV, Expect::Loop, 0, 0, Hold::No), Hold::Maybe);
    assert_eq!(next_hold(nr::REPLY, Expect::Ok, 0, 0, Hold::Yes), Hold::No);
    assert_eq!(next_hold(nr::REPLY, Expect::ReplyMaybe, 6, 0, Hold::Maybe), Hold::No);
    assert_eq!(next_hold(nr::SEND, Expect::Ok, 0, 0, Hold::Yes), Hold::Yes);
    assert_eq!(next_hold(nr::RECV, Expect::Error(status::NO_RIGHTS), 4, 0, Hold::Yes), Hold::Yes);
}

/// A machine whose syscall is a function of the scratch page.
struct Mock {
    w: [u64; 512],
    u: [u64; 64],
    kernel: fn(&mut Mock),
}

impl FuzzMachine for Mock {
    fn w(&self, i: usize) -> u64 {
        self.w[i]
    }
    fn set_w(&mut self, i: usize, v: u64) {
        self.w[i] = v;
    }
    fn utcb(&self, k: usize) -> u64 {
        self.u[k]
    }
    fn set_utcb(&mut self, k: usize, v: u64) {
        self.u[k] = v;
    }
    fn raw(&mut self) {
        for i in 0..regs::N {
            self.w[scratch::OUT + i] = self.w[scratch::IN + i];
        }
        (self.kernel)(self);
    }
    fn fault(&mut self, _: FaultKind, _: &mut Rng) -> u64 {
        0
    }
    fn fail(&mut self, _: u64, _: Failure) {}
    fn call7(&mut self, _: u64, _: u64, _: u64, _: [u64; 4]) -> (u64, u64, u64, [u64; 4]) {
        (0, 0, 0, [0; 4])
    }
}

/// What a correct kernel does to the registers of a failing call.
fn error_return(m: &mut Mock, code: u64) {
    m.w[scratch::OUT + regs::NR] = code;
    for &i in regs::ZEROED {
        m.w[scratch::OUT + i] = 0;
    }
    m.w[scratch::OUT + regs::FLAGS] = regs::FLAGS_AFTER;
}

#[test]
fn the_check_names_the_register() {
    let mut m = Mock { w: [0; 512], u: [0; 64], kernel: |m| error_return(m, status::INVALID_CAP) };
    let mut r = Rng(3);
    gen_input(&mut m, &mut r);
    m.w[scratch::IN + regs::NR] = nr::CALL;
    m.raw();
    assert_eq!(check(&m, nr::CALL, Expect::Error(status::INVALID_CAP)), Ok(status::INVALID_CAP));
    assert_eq!(check(&m, nr::CALL, Expect::Error(status::NO_RIGHTS)).unwrap_err().what, what::STATUS);
    // A kernel value left in a clobbered register.
    m.w[scratch::OUT + regs::ZEROED[0]] = 0xFFFF_FFFF_8010_0000;
    assert_eq!(check(&m, nr::CALL, Expect::Error(status::INVALID_CAP)).unwrap_err().what, what::REG + regs::ZEROED[0] as u64);
    m.w[scratch::OUT + regs::ZEROED[0]] = 0;
    // A UTCB word the kernel had no business writing.
    m.u[10] ^= 1;
    assert_eq!(check(&m, nr::CALL, Expect::Error(status::INVALID_CAP)).unwrap_err().what, what::UTCB + 10);
    m.u[10] ^= 1;
    // A preserved register lost.
    m.w[scratch::OUT + regs::PRESERVED[0]] ^= 1;
    assert_eq!(check(&m, nr::CALL, Expect::Error(status::INVALID_CAP)).unwrap_err().what, what::REG + regs::PRESERVED[0] as u64);
}

#[test]
fn the_fuzz_loop_runs_over_a_model_kernel() {
    // A kernel that refuses everything with the status the model expects
    // (and answers null): the loop must run its budget and finish.
    fn kernel(m: &mut Mock) {
        let (nr, cap, tag) = (m.w[regs::NR], m.w[regs::CAP], m.w[regs::TAG]);
        match expect(nr, cap, tag, Hold::No) {
            Expect::Null => m.w[scratch::OUT + regs::NR] = 0,
            Expect::Error(c) => error_return(m, c),
            Expect::Invoke(b) => {
                error_return(m, 0);
                m.w[scratch::OUT + regs::CAP] = b;
                m.w[scratch::OUT + regs::TAG] = 0;
            }
            _ => {
                // Anything that would block: answer like yield.
                error_return(m, 0);
                m.w[scratch::IN + regs::NR] = nr::YIELD;
            }
        }
    }
    let mut m = Mock { w: [0; 512], u: [0; 64], kernel };
    m.u[word::BUDGET] = 0;
    m.u[word::SEED] = 9;
    assert_eq!(fuzz(&mut m), Ok(()));
    assert_eq!(m.u[stat::STATE], stat::DONE);
    // Every FaultKind has a distinct name and number.
    for (i, k) in FaultKind::ALL.iter().enumerate() {
        assert_eq!(FaultKind::from_index(i as u64), Some(*k));
        for j in 0..i {
            assert_ne!(FaultKind::ALL[j].name(), k.name());
        }
    }
    assert_eq!(FaultKind::from_index(16), None);
}

#[test]
fn patterns_differ() {
    assert_ne!(echo_word(0, 5), 5);
    assert!(tag_valid(echo_tag(0x1234 << 16 | 63)));
    assert_eq!(tag_len(echo_tag(0x1234 << 16 | 63)), 63);
    assert!(tag_valid(feed_tag(17)) && feed_is_call(0) && !feed_is_call(1));
    assert!(tag_valid(VICTIM_TAG));
}
