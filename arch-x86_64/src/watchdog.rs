// SPDX-License-Identifier: MIT OR Apache-2.0
//! The watchdog: this CPU's local APIC timer, one-shot, armed while user
//! code runs outside the timed runs (correctness and fault scenarios, a
//! server waiting, ...), stopped during them.
//!
//! The runtime arms it with a budget in timer ticks (the APIC bus clock,
//! divided by 1: 1 GHz in QEMU, where one tick is one nanosecond of virtual
//! time, under icount one instruction) when it starts user mode, and this
//! CPU's user mode then runs with `IF` set ([`crate::cpu::set_user_interrupts`]:
//! the other copy of the `syscall` entry). If the count runs out while a
//! thread runs in user mode, the interrupt (vector [`VECTOR`]) kills that
//! thread's task as a fault would; the board's handler prints the
//! `IPCB watchdog` line and re-arms the timer for the threads left. The
//! kernel itself always runs with interrupts off, so an expiry during a
//! kernel entry is taken at the next return to user mode (that thread is
//! then the one killed).
//!
//! The timed runs never see it: the runtime stops the timer and switches
//! back to the entry whose exits load the ABI's fixed `rflags` (interrupts
//! off) before a benchmark runs; an interrupt still pending from an earlier
//! phase stays pending (`IF` is clear throughout) and is dropped as stale
//! when it is finally taken ([`expired`]: the timer must have been armed
//! and its count be 0). Every interrupt this vector delivers is counted
//! ([`interrupts`]), and each benchmark result carries the number taken
//! during its runs (0).

use core::ptr::{addr_of, addr_of_mut};

use crate::apic;

/// The watchdog's interrupt vector ([`crate::cpu::WATCHDOG_VECTOR`]).
pub use crate::cpu::WATCHDOG_VECTOR as VECTOR;

/// This CPU's watchdog state (`.percpu`: each CPU its own; the region
/// starts zeroed: disarmed).
#[derive(Clone, Copy)]
struct Wd {
    /// The budget in timer ticks; 0: disarmed.
    budget: u64,
    /// Interrupts this vector delivered to this CPU.
    interrupts: u64,
}

#[unsafe(link_section = ".percpu")]
static mut WD: Wd = Wd { budget: 0, interrupts: 0 };

fn wd() -> Wd {
    // SAFETY: this CPU's own copy; one kernel entry at a time, interrupts
    // off in the kernel.
    unsafe { *addr_of!(WD) }
}

fn set(w: Wd) {
    // SAFETY: as in `wd`.
    unsafe { *addr_of_mut!(WD) = w };
}

/// Arm the watchdog with `budget` ticks (user mode then runs with
/// interrupts on), or (`None`, or 0) stop it (user mode with interrupts
/// off, as in the timed runs). Call between runs of user mode.
pub fn arm(budget: Option<u64>) {
    let b = budget.unwrap_or(0).min(u64::from(u32::MAX));
    set(Wd { budget: b, ..wd() });
    if b == 0 {
        apic::timer_stop();
        crate::cpu::set_user_interrupts(false);
    } else {
        crate::cpu::set_user_interrupts(true);
        apic::timer_one_shot(VECTOR, b as u32);
    }
}

/// A fresh budget for the threads left after a kill (armed only).
pub fn rearm() {
    let b = wd().budget;
    if b != 0 {
        apic::timer_one_shot(VECTOR, b as u32);
    }
}

/// The budget in force (ticks; 0: disarmed).
pub fn budget() -> u64 {
    wd().budget
}

/// The interrupt stub's first step: count the interrupt, end it (EOI), and
/// tell whether it is an expiry that must kill the running thread: it came
/// from user mode (`from_user`), the watchdog is armed and the timer's
/// count has run out. Anything else (a stale interrupt from an earlier
/// phase, one taken in the kernel) is resumed.
pub fn expired(from_user: bool) -> bool {
    let w = wd();
    set(Wd { interrupts: w.interrupts + 1, ..w });
    apic::eoi();
    from_user && w.budget != 0 && apic::timer_current() == 0
}

/// Interrupts the watchdog's vector delivered to this CPU so far.
pub fn interrupts() -> u64 {
    wd().interrupts
}
