// SPDX-License-Identifier: MIT OR Apache-2.0
//! Fault injection for the test suite: corrupt the 100th message handed
//! over on the fastpath, so that `cargo xtask test` can show the user
//! program's end-to-end check catches it (`inject=mr|badge|label` on the
//! kernel command line). The example kernels use these only when built
//! with their `inject` feature, which turns on this crate's ([`ENABLED`]):
//! the kernel's fast handler sends the 100th
//! `call`/`reply_recv` down the general path (`due`), where the message
//! sits in memory, and corrupts it there before the exit (`apply`).

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use ipc_core::{MessageInfo, Next, UserContext};

use crate::bench::Inject;
use crate::{Board, Machine, State};

/// Fault injection is built in (the `inject` feature; never in a measured
/// build). Without it the checks on the fast handlers fold away.
pub const ENABLED: bool = cfg!(feature = "inject");

static KIND: AtomicU8 = AtomicU8::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);

/// The corruption the command line asked for.
pub fn set(k: Inject) {
    KIND.store(k as u8, Ordering::Relaxed);
}

/// Is this IPC (`call` or `reply_recv`, syscall number `op`) the 100th,
/// the one to corrupt?
pub fn due(op: u64) -> bool {
    KIND.load(Ordering::Relaxed) != Inject::None as u8
        && (op == 1 || op == 2)
        && COUNT.fetch_add(1, Ordering::Relaxed) + 1 == 100
}

/// After the general path handled the 100th IPC: corrupt the message the
/// receiver is about to get (its registers come from `regs_from`).
pub fn apply<M: Machine, B: Board>(st: &mut State<M, B>, next: Next) {
    let Next::Resume { thread, regs_from } = next else { return };
    if thread == regs_from || COUNT.load(Ordering::Relaxed) != 100 {
        return;
    }
    COUNT.store(101, Ordering::Relaxed);
    let ctx = st.kernel.context_mut(regs_from);
    let args = ctx.syscall_args();
    match KIND.load(Ordering::Relaxed) {
        k if k == Inject::Mr as u8 => ctx.set_mr(2, ctx.mr(2) ^ 1),
        k if k == Inject::Badge as u8 => ctx.set_recv_result(args.cap ^ 1, args.tag),
        k if k == Inject::Label as u8 => {
            ctx.set_recv_result(args.cap, MessageInfo(args.tag.0 ^ (1 << 16)))
        }
        _ => {}
    }
}
