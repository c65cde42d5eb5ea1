// SPDX-License-Identifier: MIT OR Apache-2.0
//! The conformance suite: what a port's [`Arch`] must do for ipc-core, as
//! named checks a host test runs (feature `conformance`, which needs
//! `std`).
//!
//! A port to a new SoC or ISA implements [`Arch`] and its
//! [`UserContext`](crate::UserContext), then adds one test:
//!
//! ```ignore
//! #[test]
//! fn conformance() {
//!     ipc_core::conformance::run::<MyArch>();
//! }
//! ```
//!
//! with `ipc-core = { version = "0.1", features = ["conformance"] }` among
//! its dev-dependencies. [`run`] panics with a report naming every failed
//! check and saying what the `Arch` did and what was expected;
//! [`check`] returns the [`Report`] instead.
//!
//! What the checks cover (their names, in order, are [`names`]):
//!
//! * `arch.*`: the constants ([`Arch::MR_IN_REGS`] within what a message
//!   between CPUs carries) and [`Arch::NO_SPACE`] (distinct from every
//!   task's space, refused by [`Kernel::create_task`](crate::Kernel::create_task)).
//! * `context.*`: the context type's register mapping, one accessor at a
//!   time: a thread's entry and stack, the syscall arguments, every
//!   message register (no two aliased or swapped), and each result setter
//!   writing what it names and nothing else.
//! * `exit.resume_context`: the exit path of a [`crate::Next::Resume`] (argument
//!   registers from `regs_from`, the rest from the thread's own context;
//!   [`resume_context`](crate::resume_context)).
//! * `ipc.*`, `syscall.*`, `fault.*`, `exit.*`, `remote.*`: the scenarios
//!   of ipc-core's own tests run on the port's context type through
//!   [`Machine`], which plays the arch's entry and exit: `call` /
//!   `reply_recv` on the live-register fastpath, on the fastpath after a
//!   full save and on the general path; long messages through the UTCB;
//!   `send` before `recv`; every error a status code; `null`, `invoke` and
//!   service calls; a fault killing a task and waking its caller with
//!   `PartnerDied`; `exit` and `kill_task`; a `call` between two CPUs'
//!   kernels. Each scenario checks the status, badge, tag and every
//!   message word the running thread sees, and that a resumed thread has
//!   its own program counter and stack pointer.
//!
//! The suite calls [`Arch::switch_space`] (through the kernel): on the
//! host, a port whose real switch cannot run there tests a twin of its
//! `Arch` with the same `Context` and constants and a `switch_space` that
//! does nothing. A panic in the port's code fails the check it happened in,
//! with the panic's message (the test harness also prints it).
//!
//! `MockArch` (feature `mock`) passes:
//!
//! ```
//! let report = ipc_core::conformance::check(&ipc_core::conformance::Config::<ipc_core::mock::MockArch>::default());
//! assert!(report.passed(), "{report}");
//! assert_eq!(report.checks.len(), ipc_core::conformance::names::<ipc_core::mock::MockArch>().len());
//! ```

extern crate std;

use core::fmt;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::arch::Arch;
use crate::types::Word;

mod checks;
mod machine;

pub use machine::Machine;

/// What the suite needs to know about a port beyond its [`Arch`].
pub struct Config<A: Arch> {
    /// Two distinct address spaces for the suite's tasks, neither
    /// [`Arch::NO_SPACE`]. They are handed to [`Arch::switch_space`].
    pub spaces: [A::Space; 2],
    /// A user entry address the context type keeps as it is (the
    /// threads start at it and a little above).
    pub entry: Word,
    /// A user stack pointer the context type keeps as it is (16-byte
    /// aligned; the threads' stacks are at it and a few MiB below).
    pub stack: Word,
}

impl<A: Arch> Config<A> {
    /// The suite's defaults with these address spaces: entry `0x40_0000`,
    /// stack `0x7fff_0000`.
    pub fn new(spaces: [A::Space; 2]) -> Self {
        Config { spaces, entry: 0x40_0000, stack: 0x7fff_0000 }
    }
}

impl<A: Arch> Default for Config<A>
where
    A::Space: From<u16>,
{
    /// [`Config::new`] with two of the spaces 1, 2 and 3 that are not
    /// [`Arch::NO_SPACE`].
    fn default() -> Self {
        let mut s = [1u16, 2, 3].into_iter().map(<A::Space as From<u16>>::from).filter(|s| *s != A::NO_SPACE);
        let a = s.next().unwrap_or_else(|| <A::Space as From<u16>>::from(1));
        let b = s.next().unwrap_or_else(|| <A::Space as From<u16>>::from(2));
        Config::new([a, b])
    }
}

/// The outcome of one named check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The check's name (one of [`names`]).
    pub name: &'static str,
    /// `Err` says what the port's `Arch` did and what was expected.
    pub result: Result<(), String>,
}

/// The outcome of every check, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The `Arch` checked (its type name).
    pub arch: &'static str,
    /// One entry per check.
    pub checks: Vec<Check>,
}

impl Report {
    /// Did every check pass?
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.result.is_ok())
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.result.is_err())
    }

    /// The message of check `name` if it failed; `None` if it passed or
    /// does not exist.
    pub fn failure(&self, name: &str) -> Option<&str> {
        self.checks.iter().find(|c| c.name == name).and_then(|c| c.result.as_ref().err()).map(|s| s.as_str())
    }
}

impl fmt::Display for Report {
    /// One line per check (`ok` or `FAILED`, the name, the message), after
    /// a line with the `Arch` and the count of failures.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        writeln!(f, "ipc-core conformance of {}: {} of {} checks failed", self.arch, failed, self.checks.len())?;
        for c in &self.checks {
            match &c.result {
                Ok(()) => writeln!(f, "  ok      {}", c.name)?,
                Err(e) => writeln!(f, "  FAILED  {}: {e}", c.name)?,
            }
        }
        Ok(())
    }
}

/// The names of the checks, in the order they run.
pub fn names<A: Arch>() -> Vec<&'static str> {
    checks::all::<A>().into_iter().map(|(n, _)| n).collect()
}

/// Run every check on `A` with `cfg`; never panics (a panic in the port's
/// code fails its check).
pub fn check<A: Arch>(cfg: &Config<A>) -> Report {
    let checks = checks::all::<A>()
        .into_iter()
        .map(|(name, f)| {
            let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(cfg))) {
                Ok(r) => r,
                Err(p) => Err(std::format!("panicked: {}", panic_message(&*p))),
            };
            Check { name, result }
        })
        .collect();
    Report { arch: core::any::type_name::<A>(), checks }
}

fn panic_message(p: &(dyn core::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Run every check on `A` with `cfg`, for a `#[test]`.
///
/// # Panics
///
/// If a check fails, with the whole [`Report`] as the message.
pub fn run_with<A: Arch>(cfg: &Config<A>) {
    let r = check(cfg);
    if !r.passed() {
        panic!("{r}");
    }
}

/// Run every check on `A` with the default [`Config`], for a `#[test]`.
///
/// # Panics
///
/// If a check fails, with the whole [`Report`] as the message.
pub fn run<A: Arch>()
where
    A::Space: From<u16>,
{
    run_with(&Config::<A>::default());
}
