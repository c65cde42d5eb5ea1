// SPDX-License-Identifier: MIT OR Apache-2.0
//! The conformance suite as a port uses it: `MockArch` passes, and ports
//! with a deliberate mistake each fail the named check with a message (a
//! failed check, not a panic inside ipc-core).

use ipc_core::conformance::{self, Config, Report};
use ipc_core::mock::MockArch;
use ipc_core::{Arch, MessageInfo, SyscallArgs, UserContext, Word};

#[test]
fn mock_arch_conforms() {
    conformance::run::<MockArch>();
}

/// A port's mistakes, one per kind.
const SWAPPED_MRS: u8 = 0;
const STATUS_IN_TAG: u8 = 1;
const BADGE_CLOBBERS_MR: u8 = 2;
const PANICS_IN_SET_MR: u8 = 3;
const SIX_MRS: u8 = 4;
const OP_CAP_SWAPPED: u8 = 5;
const ARGS_NOT_STORED: u8 = 6;
const MRS_READ_ZERO: u8 = 7;
const MRS_NOT_STORED: u8 = 8;
const RESULT_DROPS_BADGE: u8 = 9;
const PC_IS_SP: u8 = 10;
const ENTRY_IGNORED: u8 = 11;

/// A register file like `MockContext`'s (op, cap, tag, mr0..5, pc, sp),
/// with mistake `K` in its accessors.
#[derive(Clone, Copy, Debug)]
struct Ctx<const K: u8> {
    r: [Word; 11],
}

const OP: usize = 0;
const CAP: usize = 1;
const TAG: usize = 2;
const MR0: usize = 3;
const PC: usize = 9;
const SP: usize = 10;

impl<const K: u8> UserContext for Ctx<K> {
    fn new_thread(entry: Word, stack: Word, arg: Word) -> Self {
        let mut r = [0; 11];
        (r[PC], r[SP], r[CAP]) = (if K == ENTRY_IGNORED { 0x1000 } else { entry }, stack, arg);
        Ctx { r }
    }
    fn syscall_args(&self) -> SyscallArgs {
        let (op, cap) = if K == OP_CAP_SWAPPED { (CAP, OP) } else { (OP, CAP) };
        SyscallArgs { op: self.r[op], cap: self.r[cap], tag: MessageInfo(self.r[TAG]) }
    }
    fn set_syscall_args(&mut self, a: SyscallArgs) {
        if K != ARGS_NOT_STORED {
            (self.r[OP], self.r[CAP], self.r[TAG]) = (a.op, a.cap, a.tag.0);
        }
    }
    fn mr(&self, i: usize) -> Word {
        // The mistake: MR0 and MR1 read from each other's register.
        let i = if K == SWAPPED_MRS && i < 2 { 1 - i } else { i };
        if K == MRS_READ_ZERO { 0 } else { self.r[MR0 + i] }
    }
    fn set_mr(&mut self, i: usize, v: Word) {
        assert!(!(K == PANICS_IN_SET_MR && i >= 2), "this port's set_mr only knows two registers (i = {i})");
        if K != MRS_NOT_STORED {
            self.r[MR0 + i] = v;
        }
    }
    fn set_recv_result(&mut self, badge: Word, tag: MessageInfo) {
        let badge = if K == RESULT_DROPS_BADGE { 0 } else { badge };
        (self.r[OP], self.r[CAP], self.r[TAG]) = (0, badge, tag.0);
    }
    fn set_recv_badge(&mut self, badge: Word) {
        (self.r[OP], self.r[CAP]) = (0, badge);
        if K == BADGE_CLOBBERS_MR {
            self.r[MR0] = 0;
        }
    }
    fn set_status(&mut self, status: Word) {
        // The mistake: the status goes to another register than the
        // syscall number's.
        self.r[if K == STATUS_IN_TAG { TAG } else { OP }] = status;
    }
    fn stack_pointer(&self) -> Word {
        self.r[SP]
    }
    fn program_counter(&self) -> Word {
        self.r[if K == PC_IS_SP { SP } else { PC }]
    }
}

struct Port<const K: u8>;

impl<const K: u8> Arch for Port<K> {
    type Context = Ctx<K>;
    type Space = u64;
    const NO_SPACE: u64 = 0;
    const MR_IN_REGS: usize = if K == SIX_MRS { 6 } else { 4 };
    fn switch_space(_: u64) {}
}

fn report<const K: u8>() -> Report {
    let r = conformance::check(&Config::<Port<K>>::default());
    assert_eq!(r.checks.len(), conformance::names::<Port<K>>().len());
    r
}

/// Every failure is a check's own message, never a panic from ipc-core.
fn no_panics(r: &Report) {
    for c in r.failures() {
        let e = c.result.as_ref().unwrap_err();
        assert!(!e.starts_with("panicked"), "{}: a panic instead of a failed check: {e}\n{r}", c.name);
    }
}

#[test]
fn swapped_message_registers_fail_the_register_check() {
    let r = report::<SWAPPED_MRS>();
    let e = r.failure("context.message_registers").unwrap_or_else(|| panic!("not reported:\n{r}"));
    assert!(e.contains("mr(0)") && e.contains("swapped or aliased"), "{e}");
    // The scenarios see the words arrive swapped.
    let e = r.failure("ipc.call_reply_recv.slowpath").unwrap_or_else(|| panic!("not reported:\n{r}"));
    assert!(e.contains("message register 0"), "{e}");
    // What does not touch the message registers still passes.
    assert_eq!(r.failure("context.set_status"), None, "{r}");
    assert_eq!(r.failure("arch.no_space"), None, "{r}");
    no_panics(&r);
}

#[test]
#[should_panic(expected = "FAILED  context.message_registers: mr(0)")]
fn run_panics_with_the_report() {
    conformance::run::<Port<SWAPPED_MRS>>();
}

#[test]
fn a_status_in_the_wrong_register_fails_set_status() {
    let r = report::<STATUS_IN_TAG>();
    let e = r.failure("context.set_status").unwrap_or_else(|| panic!("not reported:\n{r}"));
    assert!(e.contains("shares the syscall number's register"), "{e}");
    assert!(r.failure("ipc.errors_are_status_codes").is_some(), "{r}");
    no_panics(&r);
}

#[test]
fn a_setter_writing_too_much_fails_its_check() {
    let r = report::<BADGE_CLOBBERS_MR>();
    let e = r.failure("context.set_recv_badge").unwrap_or_else(|| panic!("not reported:\n{r}"));
    assert!(e.contains("set_recv_badge changed message register 0"), "{e}");
    // The live fastpath hands over with set_recv_badge: the message loses MR0.
    assert!(r.failure("ipc.call_reply_recv.live_fastpath").is_some(), "{r}");
    no_panics(&r);
}

#[test]
fn a_panic_in_the_port_fails_the_check_it_happened_in() {
    let r = report::<PANICS_IN_SET_MR>();
    let e = r.failure("context.message_registers").unwrap_or_else(|| panic!("not reported:\n{r}"));
    assert!(e.starts_with("panicked: this port's set_mr only knows two registers"), "{e}");
    // The other checks still ran.
    assert_eq!(r.failure("context.new_thread"), None, "{r}");
}

#[test]
fn more_register_words_than_a_remote_message_carries_fail_the_constants() {
    let r = report::<SIX_MRS>();
    let e = r.failure("arch.constants").unwrap_or_else(|| panic!("not reported:\n{r}"));
    assert!(e.contains("MR_IN_REGS is 6"), "{e}");
    assert_eq!(r.failures().count(), 1, "only the constants are wrong:\n{r}");
}

#[test]
fn a_task_space_equal_to_no_space_fails_no_space() {
    let cfg = Config::<MockArch>::new([MockArch::NO_SPACE, 0x2000]);
    let r = conformance::check(&cfg);
    let e = r.failure("arch.no_space").unwrap_or_else(|| panic!("not reported:\n{r}"));
    assert!(e.contains("spaces[0]") && e.contains("NO_SPACE"), "{e}");
    // The scenarios cannot create their tasks: said, not a panic.
    let e = r.failure("ipc.call_reply_recv.live_fastpath").unwrap();
    assert!(e.contains("create_task(spaces[0]) failed with InvalidArgument"), "{e}");
    no_panics(&r);
}

#[test]
fn the_report_lists_every_check() {
    let r = conformance::check(&Config::<MockArch>::default());
    let text = r.to_string();
    assert!(text.starts_with("ipc-core conformance of ipc_core::mock::MockArch: 0 of "), "{text}");
    for n in conformance::names::<MockArch>() {
        assert!(text.contains(&format!("  ok      {n}\n")), "{n} missing:\n{text}");
    }
}

/// Mistakes of every accessor: each fails checks with messages, and none
/// drives ipc-core or the harness into a panic.
#[test]
fn no_mistake_panics_inside_ipc_core() {
    fn one<const K: u8>(first: &str) {
        let r = report::<K>();
        assert!(r.failure(first).is_some(), "mistake {K}: {first} not failed:\n{r}");
        no_panics(&r);
    }
    one::<SWAPPED_MRS>("context.message_registers");
    one::<STATUS_IN_TAG>("context.set_status");
    one::<BADGE_CLOBBERS_MR>("context.set_recv_badge");
    one::<OP_CAP_SWAPPED>("context.syscall_args");
    one::<ARGS_NOT_STORED>("context.syscall_args");
    one::<MRS_READ_ZERO>("context.message_registers");
    one::<MRS_NOT_STORED>("context.message_registers");
    one::<RESULT_DROPS_BADGE>("context.set_recv_result");
    one::<PC_IS_SP>("context.new_thread");
    one::<ENTRY_IGNORED>("context.new_thread");
}
