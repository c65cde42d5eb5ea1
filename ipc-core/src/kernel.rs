// SPDX-License-Identifier: MIT OR Apache-2.0
//! The kernel state of one CPU and the general (slow) path of every syscall.
//!
//! A [`Kernel`] owns fixed tables of threads, tasks and endpoints (no heap),
//! the run queue and the current thread. The arch entry code saves the
//! caller's registers into its [`crate::Arch::Context`] and calls
//! [`Kernel::syscall`], which first tries the [`crate::fastpath`] and
//! otherwise runs the general path in this module. Either way the answer is a
//! [`Next`]: which thread to resume, and whose saved context its argument
//! registers come from.

use crate::arch::{Arch, SyscallArgs, UserContext};
use crate::fastpath::Fast;
use crate::object::{some, Cap, CapSlot, Dir, Endpoint, Queue, Tcb, ThreadState, Utcb, NIL};
use crate::types::{
    Badge, EndpointId, Error, MessageInfo, Rights, Syscall, TaskId, ThreadId, Word, CAP_SLOTS,
    MAX_ENDPOINTS, MAX_TASKS, MAX_THREADS, SERVICE_BASE,
};

/// Entries of the thread and endpoint tables: every `u8` index is in range,
/// so indexing needs no check (the last entry, [`NIL`], is never used).
pub(crate) const SLOTS: usize = 256;
const _: () = assert!(MAX_THREADS < SLOTS && MAX_ENDPOINTS < SLOTS);
// The task table is small: `task % MAX_TASKS` is one `and`.
const _: () = assert!(MAX_TASKS.is_power_of_two());
const _: () = assert!(CAP_SLOTS.is_power_of_two());
/// Every task's capability slots, in one table indexed by a byte.
pub(crate) const CAP_TABLE: usize = MAX_TASKS * CAP_SLOTS;
const _: () = assert!(CAP_TABLE == 256);

/// Register message words a message between CPUs carries (the most any
/// arch keeps in registers).
pub const REMOTE_WORDS: usize = 4;

/// Which way a message between CPUs goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RemoteKind {
    /// A `call` to endpoint `ep` of CPU `cpu`, from thread `thread` here.
    Call,
    /// The reply to thread `thread` of CPU `cpu`.
    Reply,
}

/// A message between the kernels of two CPUs (register words only), as the
/// runtime carries it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RemoteMsg {
    /// Call or reply.
    pub kind: RemoteKind,
    /// The CPU it is for.
    pub cpu: u8,
    /// The endpoint there (calls).
    pub ep: EndpointId,
    /// The calling thread (calls: on the sending CPU; replies: on `cpu`).
    pub thread: u8,
    /// The capability's badge (calls).
    pub badge: Word,
    /// 0, or the error the caller gets (replies: `PartnerDied`).
    pub status: Word,
    /// The tag.
    pub tag: MessageInfo,
    /// The register message words.
    pub mrs: [Word; REMOTE_WORDS],
}

/// A small FIFO of messages for other CPUs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outbox {
    msgs: [Option<RemoteMsg>; Outbox::LEN],
    head: usize,
    len: usize,
}

impl Outbox {
    const LEN: usize = 16;
    pub(crate) const EMPTY: Outbox = Outbox { msgs: [None; Outbox::LEN], head: 0, len: 0 };

    fn push(&mut self, m: RemoteMsg) -> bool {
        if self.len == Self::LEN {
            return false;
        }
        self.msgs[(self.head + self.len) % Self::LEN] = Some(m);
        self.len += 1;
        true
    }

    fn peek(&self) -> Option<RemoteMsg> {
        if self.len == 0 { None } else { self.msgs[self.head] }
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.msgs[self.head] = None;
            self.head = (self.head + 1) % Self::LEN;
            self.len -= 1;
        }
    }
}

const _: () = assert!(REMOTE_WORDS >= 4);

/// The panic message of a syscall with no current thread.
pub(crate) const NO_CURRENT: &str =
    "Kernel::syscall with no current thread: call Kernel::schedule first, and enter user mode only in the thread it names";

/// What the arch does when the kernel entry is over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Next {
    /// Return to user mode in `thread`. Its argument registers (status,
    /// badge, tag, register message registers) are loaded from the saved
    /// context of `regs_from`, all other registers from its own context.
    /// `regs_from` differs from `thread` only on the fastpath, where it is the
    /// sender: that is how a message crosses without being copied.
    Resume {
        /// The thread to run.
        thread: ThreadId,
        /// Whose saved argument registers it gets.
        regs_from: ThreadId,
    },
    /// No thread is ready on this CPU.
    Idle,
}

/// A syscall number at or above [`SERVICE_BASE`] is a service call: the
/// kernel hands it to the runtime through this trait (console output, result
/// reports, ...). Services must not block or switch threads.
pub trait Services<A: Arch> {
    /// Handle service call `op` of `thread` (in `task`). The service reads its
    /// arguments from, and may write results to, the message registers in
    /// `ctx` and `utcb`. `Ok` sets status 0, `Err` the error's code.
    fn service(
        &mut self,
        thread: ThreadId,
        task: TaskId,
        op: Word,
        ctx: &mut A::Context,
        utcb: Option<&Utcb>,
    ) -> Result<(), Error>;
}

/// Services for a kernel that offers none: every service call gets
/// [`Error::UnsupportedService`]. For out-of-tree kernels and tests that
/// only need IPC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoServices;

impl<A: Arch> Services<A> for NoServices {
    fn service(
        &mut self,
        _thread: ThreadId,
        _task: TaskId,
        _op: Word,
        _ctx: &mut A::Context,
        _utcb: Option<&Utcb>,
    ) -> Result<(), Error> {
        Err(Error::UnsupportedService)
    }
}

/// What the runtime may know about a thread.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ThreadInfo {
    /// Its state.
    pub state: ThreadState,
    /// Its task.
    pub task: TaskId,
}

/// A field placed at a multiple of 4 KiB in a `repr(C)` struct.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(4096))]
pub(crate) struct PageAligned<T>(pub(crate) T);

impl<T> core::ops::Deref for PageAligned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> core::ops::DerefMut for PageAligned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The kernel objects and scheduler of one CPU.
///
/// `repr(C)`, in the order the fastpaths want: the small fields that
/// `call`, `reply_recv` and `invoke` read (`current`, `cap_bases`,
/// `endpoints`, `runq`, `cur_space`) and the capability tables come first,
/// within 4 KiB of the start, so that the kernel's address and a short
/// immediate reach each of them (an AArch64 byte load's offset has 12
/// bits); the big per-thread arrays follow. The assembly `invoke` fastpath
/// finds its fields through [`InvokeLayout`](crate::InvokeLayout).
#[repr(C)]
pub struct Kernel<A: Arch> {
    /// The thread running on this CPU, or `NIL`.
    pub(crate) current: u8,
    /// Each thread's [`Tcb::cap_base`] again, a byte per thread: the
    /// `invoke` fastpath finds the caller's capability table with one load
    /// instead of a shift and a load.
    pub(crate) cap_bases: [u8; SLOTS],
    pub(crate) endpoints: [Endpoint; SLOTS],
    /// Ready threads other than the current one.
    pub(crate) runq: Queue,
    /// The address space loaded in the MMU (`A::NO_SPACE` if none).
    pub(crate) cur_space: A::Space,
    /// Try the fastpath in [`Kernel::syscall`] (tests turn it off to
    /// compare the two paths).
    pub(crate) fastpath_on: bool,
    /// Capability tables: task `t`'s slot `s` is entry `t * CAP_SLOTS + s`.
    pub(crate) caps: [CapSlot; CAP_TABLE],
    /// Hot per-thread state, at a multiple of 4 KiB (an AArch64 `add`
    /// reaches it from the kernel's address with one 12-bit immediate).
    pub(crate) threads: PageAligned<[Tcb<A>; SLOTS]>,
    /// UTCBs, per thread: right after the thread table, so at a multiple
    /// of 4 KiB as well where a table entry is a multiple of 16 bytes (the
    /// long-message fastpath's AArch64 `add` of its address is then one
    /// instruction).
    pub(crate) utcbs: [Option<&'static Utcb>; SLOTS],
    /// Badge of the capability a queued sender sent through, per thread.
    pub(crate) send_badges: [Badge; SLOTS],
    /// Saved user registers, per thread.
    pub(crate) ctxs: [A::Context; SLOTS],
    /// Address spaces, per task (`None`: the task slot is free).
    pub(crate) spaces: [Option<A::Space>; MAX_TASKS],
    /// Messages for other CPUs, oldest first.
    pub(crate) outbox: Outbox,
}

impl<A: Arch> Default for Kernel<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Arch> Kernel<A> {
    /// An empty kernel: no tasks, threads or endpoints.
    pub fn new() -> Self {
        Kernel {
            threads: PageAligned(core::array::from_fn(|_| Tcb::empty())),
            ctxs: [A::Context::new_thread(0, 0, 0); SLOTS],
            utcbs: [None; SLOTS],
            send_badges: [Badge(0); SLOTS],
            cap_bases: [0; SLOTS],
            caps: [CapSlot::NULL; CAP_TABLE],
            spaces: [None; MAX_TASKS],
            endpoints: [Endpoint::EMPTY; SLOTS],
            current: NIL,
            cur_space: A::NO_SPACE,
            runq: Queue::EMPTY,
            fastpath_on: true,
            outbox: Outbox::EMPTY,
        }
    }

    /// Turn the fastpath inside [`Kernel::syscall`] on or off. Off, every
    /// syscall takes the general path; the behaviour must be the same (the
    /// host tests check this on random syscall streams).
    pub fn set_fastpath(&mut self, on: bool) {
        self.fastpath_on = on;
    }

    /// Drop every object (between two benchmarks). The address space loaded
    /// in the MMU is forgotten, so the next switch reloads it. Works in
    /// place: the tables are too large for a temporary on a kernel stack.
    pub fn reset(&mut self) {
        for t in self.threads.iter_mut() {
            *t = Tcb::empty();
        }
        for c in self.ctxs.iter_mut() {
            *c = A::Context::new_thread(0, 0, 0);
        }
        self.utcbs = [None; SLOTS];
        self.send_badges = [Badge(0); SLOTS];
        self.cap_bases = [0; SLOTS];
        self.caps = [CapSlot::NULL; CAP_TABLE];
        self.spaces = [None; MAX_TASKS];
        self.endpoints = [Endpoint::EMPTY; SLOTS];
        self.current = NIL;
        self.cur_space = A::NO_SPACE;
        self.runq = Queue::EMPTY;
        self.outbox = Outbox::EMPTY;
    }

    // ----- accessors --------------------------------------------------------

    #[inline(always)]
    pub(crate) fn tcb(&self, id: u8) -> &Tcb<A> {
        &self.threads[id as usize]
    }

    #[inline(always)]
    pub(crate) fn tcb_mut(&mut self, id: u8) -> &mut Tcb<A> {
        &mut self.threads[id as usize]
    }

    #[inline(always)]
    pub(crate) fn ctx(&self, id: u8) -> &A::Context {
        &self.ctxs[id as usize]
    }

    #[inline(always)]
    pub(crate) fn ctx_mut(&mut self, id: u8) -> &mut A::Context {
        &mut self.ctxs[id as usize]
    }

    /// The saved registers of two distinct threads at once.
    fn ctx_pair(&mut self, a: u8, b: u8) -> (&mut A::Context, &mut A::Context) {
        let (a, b) = (a as usize, b as usize);
        assert_ne!(a, b, "a thread cannot message itself");
        if a < b {
            let (lo, hi) = self.ctxs.split_at_mut(b);
            (&mut lo[a], &mut hi[0])
        } else {
            let (lo, hi) = self.ctxs.split_at_mut(a);
            (&mut hi[0], &mut lo[b])
        }
    }

    #[inline(always)]
    pub(crate) fn ep_mut(&mut self, id: EndpointId) -> &mut Endpoint {
        &mut self.endpoints[id.0 as usize]
    }

    /// The thread running on this CPU.
    pub fn current(&self) -> Option<ThreadId> {
        some(self.current)
    }

    /// State and task of `t`.
    pub fn thread_info(&self, t: ThreadId) -> Option<ThreadInfo> {
        let tcb = self.threads.get(t.0 as usize)?;
        Some(ThreadInfo { state: tcb.state, task: tcb.task })
    }

    /// The saved registers of `t` (the arch takes their address for its
    /// entry and exit code).
    #[inline(always)]
    pub fn context(&self, t: ThreadId) -> &A::Context {
        self.ctx(t.0)
    }

    /// The fastpath declined: store its arguments into the current thread's
    /// saved context, where the general path ([`Kernel::syscall`]) reads
    /// them (the entry saves the other registers).
    pub fn save_syscall_args(&mut self, args: SyscallArgs) {
        if self.current != NIL {
            self.ctx_mut(self.current).set_syscall_args(args);
        }
    }

    /// The saved registers of `t`, writable.
    #[inline(always)]
    pub fn context_mut(&mut self, t: ThreadId) -> &mut A::Context {
        self.ctx_mut(t.0)
    }

    /// The UTCB of `t`.
    pub fn utcb(&self, t: ThreadId) -> Option<&'static Utcb> {
        *self.utcbs.get(t.0 as usize)?
    }

    /// The address space of `task`.
    pub fn space(&self, task: TaskId) -> Option<A::Space> {
        *self.spaces.get(task.0 as usize)?
    }

    /// The capability in `slot` of `task`.
    pub fn cap(&self, task: TaskId, slot: usize) -> Option<Cap> {
        if slot >= CAP_SLOTS || usize::from(task.0) >= MAX_TASKS {
            return None;
        }
        Some(self.caps[usize::from(task.0) * CAP_SLOTS + slot].cap())
    }

    // ----- object creation (runtime only, not reachable from user mode) -----

    /// A new task with address space `space` and an empty capability table.
    ///
    /// `InvalidArgument` if the task table is full, or if `space` is
    /// [`Arch::NO_SPACE`] (the kernel starts with that "loaded", so a task
    /// in it would run in whatever space was loaded before).
    pub fn create_task(&mut self, space: A::Space) -> Result<TaskId, Error> {
        if space == A::NO_SPACE {
            return Err(Error::InvalidArgument);
        }
        let i = self.spaces.iter().position(|s| s.is_none()).ok_or(Error::InvalidArgument)?;
        self.spaces[i] = Some(space);
        self.caps[i * CAP_SLOTS..(i + 1) * CAP_SLOTS].fill(CapSlot::NULL);
        Ok(TaskId(i as u16))
    }

    /// A new endpoint.
    pub fn create_endpoint(&mut self) -> Result<EndpointId, Error> {
        let i = self.endpoints[..MAX_ENDPOINTS]
            .iter()
            .position(|e| !e.live)
            .ok_or(Error::InvalidArgument)?;
        self.endpoints[i] = Endpoint { live: true, ..Endpoint::EMPTY };
        Ok(EndpointId(i as u8))
    }

    /// Put `cap` into `slot` of `task`'s capability table.
    pub fn set_cap(&mut self, task: TaskId, slot: usize, cap: Cap) -> Result<(), Error> {
        if self.space(task).is_none() {
            return Err(Error::InvalidArgument);
        }
        if let Cap::Endpoint { ep, .. } = cap
            && !(usize::from(ep.0) < MAX_ENDPOINTS && self.endpoints[usize::from(ep.0)].live)
        {
            return Err(Error::InvalidArgument);
        }
        if let Cap::Thread { thread, .. } = cap
            && usize::from(thread.0) >= MAX_THREADS
        {
            return Err(Error::InvalidArgument);
        }
        if slot >= CAP_SLOTS {
            return Err(Error::InvalidCap);
        }
        self.caps[usize::from(task.0) * CAP_SLOTS + slot] = CapSlot::new(cap);
        Ok(())
    }

    /// A new thread in `task`, ready to run at `entry` with stack pointer
    /// `stack` and `arg` in its first argument register. It goes to the
    /// tail of the run queue.
    pub fn create_thread(
        &mut self,
        task: TaskId,
        entry: Word,
        stack: Word,
        arg: Word,
        utcb: Option<&'static Utcb>,
    ) -> Result<ThreadId, Error> {
        let space = self.space(task).ok_or(Error::InvalidArgument)?;
        let i = self.threads[..MAX_THREADS]
            .iter()
            .position(|t| t.state == ThreadState::Inactive)
            .ok_or(Error::InvalidArgument)?;
        let cap_base = (usize::from(task.0) * CAP_SLOTS) as u8;
        self.cap_bases[i] = cap_base;
        self.threads[i] =
            Tcb {
                state: ThreadState::Ready,
                task,
                cap_base,
                remote_cpu: 0,
                remote_thread: NIL,
                next: NIL,
                caller: NIL,
                space,
            };
        self.ctxs[i] = A::Context::new_thread(entry, stack, arg);
        self.utcbs[i] = utcb;
        self.send_badges[i] = Badge(0);
        self.runq_push(i as u8);
        Ok(ThreadId(i as u8))
    }

    // ----- run queue ----------------------------------------------------------

    fn runq_push(&mut self, t: u8) {
        self.tcb_mut(t).next = NIL;
        match self.runq.tail {
            NIL => self.runq.head = t,
            tail => self.tcb_mut(tail).next = t,
        }
        self.runq.tail = t;
    }

    fn runq_pop(&mut self) -> Option<u8> {
        let h = self.runq.head;
        if h == NIL {
            return None;
        }
        self.runq.head = self.tcb(h).next;
        if self.runq.head == NIL {
            self.runq.tail = NIL;
        }
        Some(h)
    }

    /// Remove `t` from the queue `q` (a linear walk: slowpath only).
    fn queue_remove(threads: &mut [Tcb<A>; SLOTS], q: &mut Queue, t: u8) -> bool {
        let mut prev = NIL;
        let mut cur = q.head;
        while cur != NIL {
            let next = threads[cur as usize].next;
            if cur == t {
                if prev == NIL {
                    q.head = next;
                } else {
                    threads[prev as usize].next = next;
                }
                if q.tail == t {
                    q.tail = prev;
                }
                threads[t as usize].next = NIL;
                return true;
            }
            prev = cur;
            cur = next;
        }
        false
    }

    /// Make `t` the current thread, switching the address space if its task's
    /// differs from the loaded one.
    #[inline(always)]
    pub(crate) fn activate(&mut self, t: u8) {
        let space = self.tcb(t).space;
        if space != self.cur_space {
            A::switch_space(space);
            self.cur_space = space;
        }
        self.current = t;
    }

    /// Pick the next ready thread (or go idle) and make it current.
    pub fn schedule(&mut self) -> Next {
        match self.runq_pop() {
            Some(t) => {
                self.activate(t);
                Next::Resume { thread: ThreadId(t), regs_from: ThreadId(t) }
            }
            None => {
                self.current = NIL;
                Next::Idle
            }
        }
    }

    #[inline(always)]
    fn resume_current(&self) -> Next {
        Next::Resume { thread: ThreadId(self.current), regs_from: ThreadId(self.current) }
    }

    // ----- the syscall entry point ------------------------------------------

    /// Handle the syscall of the current thread, whose registers the arch has
    /// saved into its context. Returns what to run next.
    ///
    /// # Panics
    ///
    /// If there is no current thread: the arch called this outside a
    /// syscall, or before the first [`Kernel::schedule`] made a thread
    /// current (in debug builds always; in release builds where the
    /// general path runs, so that the fastpath keeps its instructions).
    #[inline(always)]
    pub fn syscall<S: Services<A>>(&mut self, svc: &mut S) -> Next {
        let cur = self.current;
        debug_assert!(cur != NIL, "{}", NO_CURRENT);
        let args = self.ctx(cur).syscall_args();
        if !self.fastpath_on {
            return self.slowpath(cur, svc);
        }
        match self.fastpath(args) {
            Some(Fast::Return) => {
                self.ctx_mut(cur).set_recv_badge(0);
                self.resume_current()
            }
            Some(Fast::HandOff { thread, badge }) => {
                // The message is in the caller's saved registers: hand them
                // over as they are, with status 0 and the badge.
                self.ctx_mut(cur).set_recv_badge(badge);
                Next::Resume { thread, regs_from: ThreadId(cur) }
            }
            Some(Fast::Reply(r)) => self.reply_invoke(cur, r),
            None => match self.fastpath_long_cold(args) {
                Some(Fast::HandOff { thread, badge }) => {
                    self.ctx_mut(cur).set_recv_badge(badge);
                    Next::Resume { thread, regs_from: ThreadId(cur) }
                }
                _ => self.slowpath(cur, svc),
            },
        }
    }

    /// The general path of every syscall.
    #[cold]
    #[inline(never)]
    fn slowpath<S: Services<A>>(&mut self, cur: u8, svc: &mut S) -> Next {
        assert!(cur != NIL, "{}", NO_CURRENT);
        let args = self.ctx(cur).syscall_args();
        let Some(op) = Syscall::from_word(args.op) else {
            if args.op >= SERVICE_BASE {
                let task = self.tcb(cur).task;
                let i = cur as usize;
                let r = svc.service(ThreadId(cur), task, args.op, &mut self.ctxs[i], self.utcbs[i]);
                return self.finish(cur, r);
            }
            return self.finish(cur, Err(Error::InvalidSyscall));
        };
        match op {
            Syscall::Null => {
                self.ctx_mut(cur).set_recv_badge(0);
                self.resume_current()
            }
            Syscall::Call | Syscall::Send => self.do_send(cur, args, op == Syscall::Call),
            Syscall::Recv => match self.lookup(cur, args, Rights::RECV) {
                Ok(ep) => self.do_recv(cur, ep, None),
                Err(e) => self.finish(cur, Err(e)),
            },
            Syscall::ReplyRecv => match self.lookup(cur, args, Rights::RECV) {
                Ok(ep) => {
                    let woken = match some(self.tcb(cur).caller) {
                        Some(caller) => self.reply_to(cur, caller.0, args.tag),
                        None => {
                            if let Err(e) = self.reply_remote(cur, args.tag) {
                                return self.finish(cur, Err(e));
                            }
                            None
                        }
                    };
                    self.do_recv(cur, ep, woken)
                }
                Err(e) => self.finish(cur, Err(e)),
            },
            Syscall::Reply => {
                if !args.tag.is_valid() {
                    return self.finish(cur, Err(Error::InvalidMessage));
                }
                match some(self.tcb(cur).caller) {
                    Some(caller) => {
                        if let Some(c) = self.reply_to(cur, caller.0, args.tag) {
                            self.runq_push(c);
                        }
                        self.finish(cur, Ok(()))
                    }
                    None if self.tcb(cur).remote_thread != NIL => {
                        let r = self.reply_remote(cur, args.tag);
                        self.finish(cur, r)
                    }
                    None => self.finish(cur, Err(Error::NoCaller)),
                }
            }
            Syscall::Yield => {
                self.ctx_mut(cur).set_status(0);
                self.runq_push(cur);
                self.schedule()
            }
            Syscall::Exit => {
                self.kill_thread(cur);
                self.schedule()
            }
            Syscall::Invoke => {
                let r = self.invoke_general(args.cap, args.tag);
                self.reply_invoke(cur, r)
            }
        }
    }

    /// Resume `cur` with the reply of its `invoke`: the status, the result
    /// in the badge register, tag 0; the message registers as they were.
    fn reply_invoke(&mut self, cur: u8, r: crate::fastpath::Reply) -> Next {
        let c = self.ctx_mut(cur);
        c.set_recv_result(r.value, MessageInfo(0));
        c.set_status(r.status);
        self.resume_current()
    }

    /// Resume the current thread with the status of `r`.
    fn finish(&mut self, cur: u8, r: Result<(), Error>) -> Next {
        let status = match r {
            Ok(()) => 0,
            Err(e) => e.code(),
        };
        self.ctx_mut(cur).set_status(status);
        self.resume_current()
    }

    /// Validate the tag and look up the endpoint capability in `args.cap`,
    /// which must carry `need`. Returns the endpoint and the cap's badge.
    fn lookup_cap(
        &self,
        cur: u8,
        args: SyscallArgs,
        need: Rights,
    ) -> Result<(EndpointId, Badge), Error> {
        if !args.tag.is_valid() {
            return Err(Error::InvalidMessage);
        }
        match self.slot_cap(cur, args)? {
            Cap::Null => Err(Error::InvalidCap),
            Cap::Remote { .. } | Cap::Thread { .. } => Err(Error::WrongCapType),
            Cap::Endpoint { ep, rights, badge } => {
                if rights.contains(need) {
                    Ok((ep, badge))
                } else {
                    Err(Error::NoRights)
                }
            }
        }
    }

    /// The capability in `args.cap` of `cur`'s task (`Cap::Null` for an
    /// empty slot; `InvalidCap` out of range).
    pub(crate) fn slot_cap(&self, cur: u8, args: SyscallArgs) -> Result<Cap, Error> {
        let slot = usize::try_from(args.cap).map_err(|_| Error::InvalidCap)?;
        if slot >= CAP_SLOTS {
            return Err(Error::InvalidCap);
        }
        let base = usize::from(self.tcb(cur).cap_base);
        Ok(self.caps[(base + slot) % CAP_TABLE].cap())
    }

    fn lookup(&self, cur: u8, args: SyscallArgs, need: Rights) -> Result<EndpointId, Error> {
        self.lookup_cap(cur, args, need).map(|(ep, _)| ep)
    }

    /// Copy the message of `from` (as it sent it: its saved tag, register
    /// message registers and UTCB words) to `to`, with `badge`.
    fn deliver(&mut self, from: u8, to: u8, tag: MessageInfo, badge: Badge) {
        let su = self.utcbs[from as usize];
        let du = self.utcbs[to as usize];
        let (src, dst) = self.ctx_pair(from, to);
        let n = tag.length();
        // The register words travel whole, as on the fastpath (docs/abi.md):
        // the receiver never keeps stale words past the tag's length.
        for i in 0..A::MR_IN_REGS {
            dst.set_mr(i, src.mr(i));
        }
        if n > A::MR_IN_REGS
            && let (Some(s), Some(d)) = (su, du)
        {
            for i in A::MR_IN_REGS..n {
                d.set(i, s.get(i));
            }
        }
        dst.set_recv_result(badge.0, tag);
    }

    /// Give `caller` the reply in `cur`'s registers and make it ready (not
    /// queued: the caller decides between a hand-off and the run queue).
    /// `None` if the caller died meanwhile: the reply goes nowhere.
    fn reply_to(&mut self, cur: u8, caller: u8, tag: MessageInfo) -> Option<u8> {
        self.tcb_mut(cur).caller = NIL;
        if self.tcb(caller).state != ThreadState::BlockedOnReply {
            return None;
        }
        self.deliver(cur, caller, tag, Badge(0));
        self.tcb_mut(caller).state = ThreadState::Ready;
        Some(caller)
    }

    /// Wake `caller`, which waits for a reply that will not come: status
    /// `PartnerDied` and no message (badge, tag and register words 0, as a
    /// `PartnerDied` from another CPU has them), then the run queue. The
    /// caller's saved argument registers are not its own on every path (a
    /// fastpath `call` leaves its badge there, the live-register fastpath
    /// leaves older words), so they are cleared, never returned.
    fn wake_partner_died(&mut self, caller: u8) {
        let c = self.ctx_mut(caller);
        c.set_recv_result(0, MessageInfo(0));
        for i in 0..A::MR_IN_REGS {
            c.set_mr(i, 0);
        }
        c.set_status(Error::PartnerDied.code());
        self.tcb_mut(caller).state = ThreadState::Ready;
        self.runq_push(caller);
    }

    /// Give `receiver` the reply right for `caller`; a reply right it still
    /// held is lost, and the thread waiting on it is woken with an error.
    fn set_caller(&mut self, receiver: u8, caller: u8) {
        let old = self.tcb(receiver).caller;
        if old != NIL && self.tcb(old).state == ThreadState::BlockedOnReply {
            self.wake_partner_died(old);
        }
        self.tcb_mut(receiver).caller = caller;
    }

    fn do_send(&mut self, cur: u8, args: SyscallArgs, call: bool) -> Next {
        if args.tag.is_valid()
            && let Ok(Cap::Remote { cpu, ep, badge }) = self.slot_cap(cur, args)
        {
            return self.remote_send(cur, args, call, cpu, ep, badge);
        }
        let (ep, badge) = match self.lookup_cap(cur, args, Rights::SEND) {
            Ok(x) => x,
            Err(e) => return self.finish(cur, Err(e)),
        };
        let dest = self.ep_mut(ep).recv.head;
        if dest != NIL {
            // A receiver waits: deliver now.
            self.ep_pop(ep, Dir::Recv);
            self.deliver(cur, dest, args.tag, badge);
            self.tcb_mut(dest).state = ThreadState::Ready;
            if call {
                self.set_caller(dest, cur);
                self.tcb_mut(cur).state = ThreadState::BlockedOnReply;
                self.activate(dest);
                return self.resume_current();
            }
            self.runq_push(dest);
            return self.finish(cur, Ok(()));
        }
        // Nobody waits: queue the sender with its message in its registers.
        self.tcb_mut(cur).state = ThreadState::BlockedOnSend { ep, call };
        self.send_badges[cur as usize] = badge;
        self.ep_push(ep, cur, Dir::Send);
        self.schedule()
    }

    /// Receive on `ep`. `handoff` is a thread just made ready by a reply:
    /// if `cur` blocks, it runs next (as on the fastpath); otherwise it
    /// joins the run queue.
    fn do_recv(&mut self, cur: u8, ep: EndpointId, handoff: Option<u8>) -> Next {
        // Waiting for a new message drops an unanswered reply right (its
        // holder gets `PartnerDied`): a thread waiting in `recv` never holds
        // one, which the fastpath relies on.
        let old = self.tcb(cur).caller;
        if old != NIL {
            self.tcb_mut(cur).caller = NIL;
            if self.tcb(old).state == ThreadState::BlockedOnReply {
                self.wake_partner_died(old);
            }
        }
        self.drop_remote_right(cur);
        let sender = self.ep_mut(ep).send.head;
        if sender != NIL {
            self.ep_pop(ep, Dir::Send);
            let ThreadState::BlockedOnSend { call, .. } = self.tcb(sender).state else {
                unreachable!("send queue holds a thread not blocked on send");
            };
            let tag = self.ctx(sender).syscall_args().tag;
            let badge = self.send_badges[sender as usize];
            self.deliver(sender, cur, tag, badge);
            if call {
                self.set_caller(cur, sender);
                self.tcb_mut(sender).state = ThreadState::BlockedOnReply;
            } else {
                self.ctx_mut(sender).set_status(0);
                self.tcb_mut(sender).state = ThreadState::Ready;
                self.runq_push(sender);
            }
            if let Some(h) = handoff {
                self.runq_push(h);
            }
            return self.resume_current();
        }
        self.tcb_mut(cur).state = ThreadState::BlockedOnRecv { ep };
        self.ep_push(ep, cur, Dir::Recv);
        match handoff {
            Some(h) => {
                self.activate(h);
                self.resume_current()
            }
            None => self.schedule(),
        }
    }

    /// Append `t` to the `dir` queue of `ep`.
    #[inline(always)]
    pub(crate) fn ep_push(&mut self, ep: EndpointId, t: u8, dir: Dir) {
        self.tcb_mut(t).next = NIL;
        let q = *self.ep_mut(ep).queue_mut(dir);
        if q.head == NIL {
            *self.ep_mut(ep).queue_mut(dir) = Queue { head: t, tail: t };
        } else {
            self.tcb_mut(q.tail).next = t;
            self.ep_mut(ep).queue_mut(dir).tail = t;
        }
    }

    /// Remove the head of the (non-empty) `dir` queue of `ep`. The last
    /// waiter's `next` is `NIL`, which empties the queue.
    #[inline(always)]
    pub(crate) fn ep_pop(&mut self, ep: EndpointId, dir: Dir) {
        let head = self.ep_mut(ep).queue_mut(dir).head;
        let next = self.tcb(head).next;
        self.ep_mut(ep).queue_mut(dir).head = next;
    }

    // ----- IPC between CPUs -------------------------------------------------------

    /// `call` (or `send`) through a [`Cap::Remote`]: the message goes into
    /// the outbox for the runtime to carry to `cpu`, and the caller waits
    /// for the reply (`send` is refused: a remote endpoint answers calls).
    fn remote_send(
        &mut self,
        cur: u8,
        args: SyscallArgs,
        call: bool,
        cpu: u8,
        ep: EndpointId,
        badge: Badge,
    ) -> Next {
        if !call {
            return self.finish(cur, Err(Error::WrongCapType));
        }
        if args.tag.length() > A::MR_IN_REGS {
            return self.finish(cur, Err(Error::InvalidMessage));
        }
        let msg = RemoteMsg {
            kind: RemoteKind::Call,
            cpu,
            ep,
            thread: cur,
            badge: badge.0,
            status: 0,
            tag: args.tag,
            mrs: self.register_words(cur),
        };
        if !self.outbox.push(msg) {
            return self.finish(cur, Err(Error::InvalidArgument));
        }
        self.tcb_mut(cur).state = ThreadState::BlockedOnRemoteReply;
        self.schedule()
    }

    /// The register message words in `t`'s saved context.
    fn register_words(&self, t: u8) -> [Word; REMOTE_WORDS] {
        let c = self.ctx(t);
        core::array::from_fn(|i| if i < A::MR_IN_REGS { c.mr(i) } else { 0 })
    }

    /// Answer the remote reply right `cur` holds, if any, with the message
    /// in its registers (register words only).
    fn reply_remote(&mut self, cur: u8, tag: MessageInfo) -> Result<(), Error> {
        let (cpu, thread) = (self.tcb(cur).remote_cpu, self.tcb(cur).remote_thread);
        if thread == NIL {
            return Ok(());
        }
        if !tag.is_valid() || tag.length() > A::MR_IN_REGS {
            return Err(Error::InvalidMessage);
        }
        let msg = RemoteMsg {
            kind: RemoteKind::Reply,
            cpu,
            ep: EndpointId(0),
            thread,
            badge: 0,
            status: 0,
            tag,
            mrs: self.register_words(cur),
        };
        if !self.outbox.push(msg) {
            return Err(Error::InvalidArgument);
        }
        self.tcb_mut(cur).remote_thread = NIL;
        Ok(())
    }

    /// Drop the remote reply right `t` holds: its caller gets `PartnerDied`.
    fn drop_remote_right(&mut self, t: u8) {
        let (cpu, thread) = (self.tcb(t).remote_cpu, self.tcb(t).remote_thread);
        if thread == NIL {
            return;
        }
        self.tcb_mut(t).remote_thread = NIL;
        // If the outbox is full the caller waits for good; it holds 16.
        let _ = self.outbox.push(RemoteMsg {
            kind: RemoteKind::Reply,
            cpu,
            ep: EndpointId(0),
            thread,
            badge: 0,
            status: Error::PartnerDied.code(),
            tag: MessageInfo(0),
            mrs: [0; REMOTE_WORDS],
        });
    }

    /// The oldest message for another CPU, left in the outbox (take it with
    /// [`Kernel::pop_outgoing`] once it is on its way).
    pub fn peek_outgoing(&self) -> Option<RemoteMsg> {
        self.outbox.peek()
    }

    /// Drop the oldest message of the outbox (it was handed on).
    pub fn pop_outgoing(&mut self) {
        self.outbox.pop();
    }

    /// A `call` from another CPU arrived for endpoint `m.ep` of this kernel:
    /// deliver it to a thread waiting there, which gets the remote reply
    /// right and joins the run queue. `false` if no thread waits (the
    /// runtime keeps the message and offers it again later) or the
    /// endpoint does not exist.
    pub fn remote_call(&mut self, from_cpu: u8, m: &RemoteMsg) -> bool {
        if usize::from(m.ep.0) >= MAX_ENDPOINTS || !self.ep_mut(m.ep).live {
            return false;
        }
        let dest = self.ep_mut(m.ep).recv.head;
        if dest == NIL {
            return false;
        }
        self.ep_pop(m.ep, Dir::Recv);
        self.load_message(dest, m);
        let d = self.tcb_mut(dest);
        d.state = ThreadState::Ready;
        d.remote_cpu = from_cpu;
        d.remote_thread = m.thread;
        self.runq_push(dest);
        true
    }

    /// The reply to a remote `call` of thread `m.thread` arrived: it gets
    /// the message (or the error status) and joins the run queue. `false`
    /// if that thread no longer waits for one (it was killed).
    pub fn remote_reply(&mut self, m: &RemoteMsg) -> bool {
        if usize::from(m.thread) >= MAX_THREADS
            || self.tcb(m.thread).state != ThreadState::BlockedOnRemoteReply
        {
            return false;
        }
        self.load_message(m.thread, m);
        if m.status != 0 {
            self.ctx_mut(m.thread).set_status(m.status);
        }
        self.tcb_mut(m.thread).state = ThreadState::Ready;
        self.runq_push(m.thread);
        true
    }

    /// Put `m` (status 0, badge, tag, register words) into `t`'s context.
    fn load_message(&mut self, t: u8, m: &RemoteMsg) {
        let c = self.ctx_mut(t);
        for (i, w) in m.mrs.iter().enumerate().take(A::MR_IN_REGS) {
            c.set_mr(i, *w);
        }
        c.set_recv_result(m.badge, m.tag);
    }

    /// Does a thread wait for a reply from another CPU, or a message for
    /// one wait in the outbox?
    pub fn remote_pending(&self) -> bool {
        self.outbox.peek().is_some()
            || self.threads[..MAX_THREADS]
                .iter()
                .any(|t| t.state == ThreadState::BlockedOnRemoteReply)
    }

    /// Is a thread ready to run (the current one, or one on the run queue)?
    pub fn has_ready(&self) -> bool {
        self.current != NIL || self.runq.head != NIL
    }

    // ----- faults and exits ---------------------------------------------------

    /// End thread `t`: take it off every queue, fail the thread waiting for
    /// its reply, and mark it dead.
    fn kill_thread(&mut self, t: u8) {
        match self.tcb(t).state {
            ThreadState::BlockedOnSend { ep, .. } => {
                let mut q = self.ep_mut(ep).send;
                Self::queue_remove(&mut self.threads, &mut q, t);
                self.ep_mut(ep).send = q;
            }
            ThreadState::BlockedOnRecv { ep } => {
                let mut q = self.ep_mut(ep).recv;
                Self::queue_remove(&mut self.threads, &mut q, t);
                self.ep_mut(ep).recv = q;
            }
            ThreadState::Ready if self.current != t => {
                let mut q = self.runq;
                Self::queue_remove(&mut self.threads, &mut q, t);
                self.runq = q;
            }
            _ => {}
        }
        // Nobody may keep a reply right for a dead thread (the fastpath
        // relies on a held right naming a thread blocked on the reply).
        for i in 0..MAX_THREADS {
            if self.threads[i].caller == t {
                self.threads[i].caller = NIL;
            }
        }
        self.drop_remote_right(t);
        let caller = self.tcb(t).caller;
        if caller != NIL && self.tcb(caller).state == ThreadState::BlockedOnReply {
            self.wake_partner_died(caller);
        }
        let tcb = self.tcb_mut(t);
        tcb.caller = NIL;
        tcb.state = ThreadState::Dead;
        if self.current == t {
            self.current = NIL;
        }
    }

    /// The current thread faulted: kill its whole task (every thread in it)
    /// and pick the next thread. Returns the killed task.
    pub fn fault_current(&mut self) -> (Option<TaskId>, Next) {
        let cur = self.current;
        if cur == NIL {
            return (None, self.schedule());
        }
        let task = self.tcb(cur).task;
        self.kill_task(task);
        (Some(task), self.schedule())
    }

    /// Kill every thread of `task`. Its capabilities and address space stay
    /// until [`Kernel::reset`].
    pub fn kill_task(&mut self, task: TaskId) {
        for i in 0..MAX_THREADS {
            let s = self.threads[i].state;
            if self.threads[i].task == task && s != ThreadState::Inactive && s != ThreadState::Dead {
                self.kill_thread(i as u8);
            }
        }
    }
}
