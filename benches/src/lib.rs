// SPDX-License-Identifier: MIT OR Apache-2.0
//! `benches`: the user-mode benchmark program and its system-call stubs.
//!
//! One program, `bench-user` (`src/bin/bench-user.rs`), is loaded into
//! every user task. Before a thread starts, the runtime writes its job into
//! the thread's UTCB (docs/abi.md "Start-up words"): a role, the rounds and
//! runs, the counters to read, the endpoint capability and the badge to
//! expect, the message length. The program plays that role:
//!
//! * the IPC client (role 1) and server (role 2): the `call` /
//!   `reply_recv` loop measured as `ipc-intra` and `ipc-inter`;
//! * the `null` syscall loop (role 3): `null` and `floor`;
//! * the `invoke` loop (role 4): `syscall`, L4Re's syscall benchmark: a
//!   control op (`ping`) on the thread's own capability;
//! * with `--latency`, the same three loops with every round timed on its
//!   own (roles 5, 6, 7), into a sample buffer the runtime maps;
//! * seeded syscall fuzzing (`fuzz=N`; roles 48..=53, [`fuzz`]): random
//!   syscalls checked against a model of the ABI, with IPC partners, a
//!   victim task and faults on purpose;
//! * correctness scenarios (roles 16..=21), which check that bad input gets
//!   the documented error, and fault scenarios (32..=37), which the kernel
//!   must survive by killing the task.
//!
//! | role | what the program does | passes when |
//! |---|---|---|
//! | 1 | IPC client: `call` loop, reports each measured run | every reply checks out |
//! | 2 | IPC server: `recv`, then `reply_recv` loop | every request checks out |
//! | 3 | `null` loop, reports each measured run | status 0, MR0 unchanged |
//! | 4 | `invoke` loop (`ping` on the thread capability in word 14), reports each measured run | status 0, result = the badge in word 15 |
//! | 5, 6, 7 | roles 1, 3, 4 with each round timed (counter word 17, buffer words 18, 19), then `latency` | as roles 1, 3, 4 |
//! | 16 | syscall 12; syscall 1000, `1 << 32`, `(1 << 32) + 1`, `u64::MAX` | `InvalidSyscall`; `UnsupportedService` each |
//! | 17 | `call` on slots 15 (empty, the last), 1000, `u64::MAX` | `InvalidCap` each |
//! | 18 | `recv` on the send-only capability (word 14) | `NoRights` |
//! | 19 | `call` on it with length 64; with flag bit 8 | `InvalidMessage` each |
//! | 20 | `reply` without a caller | `NoCaller` |
//! | 21 | `null` with known values in every register | preserved / unchanged / zero as docs/abi.md says |
//! | 22 | `invoke` on slots 15, 1000, `1 << 32 \| 3` (empty, out of range), the endpoint (word 14), the thread capability without `CONTROL` (slot 4); on its own (slot 3) with a flag bit, an unknown label, `ping` with a word; `call`, `recv` on slot 3; then a good `ping` | `InvalidCap` ×3, `WrongCapType`, `NoRights`, `InvalidMessage`, `UnknownOp`, `InvalidMessage`, `WrongCapType` ×2, 0 |
//! | 32 | read `0xFFFF_FFFF_8010_0000` (kernel) | the kernel kills the task |
//! | 33 | write to its own code (`_start`) | the kernel kills the task |
//! | 34 | `hlt` (x86_64), `msr daifset` (AArch64) | the kernel kills the task |
//! | 35 | `ud2` (x86_64), `udf` (AArch64) | the kernel kills the task |
//! | 36 | read address 0 | the kernel kills the task |
//! | 37 | call into its (no-execute) stack | the kernel kills the task |
//! | 38 | `recv` on word 14, then `loop {}` (`selftest=watchdog`) | the kernel's watchdog kills the task |
//! | 39 | `call` on word 14 (the spinner) | `PartnerDied`, then `test_ok(bench)` |
//! | 48..=53 | the syscall fuzzer's roles ([`fuzz`]: fuzz threads, echo servers, feeders, the victim and its server, the faulter) | every return as the ABI says; the victim untouched; only planned faults kill |
//!
//! Scenarios 16..=22 report `test_ok(role)` or `fail`; a fault scenario that
//! survives reports `fail` (what = 0x200). Numbers: [`abi::role`].
//!
//! # Design
//!
//! * **Every message is checked, cheaply.** The client's message changes
//!   every round; the server checks it and answers with a different
//!   pattern that the client checks in turn: status, label, length, badge
//!   and every word ([`msg`]). The check is part of the measured loop, so it
//!   is branch-free with one branch per message; only a failure takes the
//!   cold path that names what failed.
//! * **Host-testable logic.** Message patterns, checks, job decoding, the
//!   scenario tables and the role loops themselves ([`run`](mod@run), written
//!   against the [`kernel::Kernel`] trait) build and test on the host; the
//!   tests run client and server on two threads over a mock kernel that can
//!   corrupt messages in flight.
//! * **`unsafe` fenced in.** Only `sys` (the `syscall` / `svc` stubs, the
//!   register probe and the deliberate faults), `utcb` and `counter`
//!   (`rdtsc`, `rdpmc`; `mrs pmccntr_el0`, `pmevcntr<n>_el0`) contain
//!   `unsafe`, and only for the bare-metal targets (`sys.rs` and
//!   `counter.rs` for x86_64, `sys_aarch64.rs` and `counter_aarch64.rs` for
//!   AArch64); every block carries a `// SAFETY:` note and every asm line a
//!   gloss. The calls that are only a `syscall7` with their number live
//!   once, in `calls.rs`.

#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod abi;
pub mod fuzz;
pub mod job;
pub mod kernel;
pub mod msg;
pub mod run;
pub mod scenario;

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
#[allow(unsafe_code)]
pub mod counter;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[allow(unsafe_code)]
#[path = "counter_aarch64.rs"]
pub mod counter;
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "none"
))]
pub mod native;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
#[allow(unsafe_code)]
pub mod sys;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[allow(unsafe_code)]
#[path = "sys_aarch64.rs"]
pub mod sys;
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "none"
))]
pub mod calls;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod utcb;
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
#[allow(unsafe_code)]
#[path = "fuzz_x86_64.rs"]
pub mod fuzz_sys;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[allow(unsafe_code)]
#[path = "fuzz_aarch64.rs"]
pub mod fuzz_sys;

pub use job::{Job, LatencyJob};
pub use kernel::Kernel;
pub use run::{is_latency, is_watchdog, run, run_latency, run_watchdog};
