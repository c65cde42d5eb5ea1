// SPDX-License-Identifier: MIT OR Apache-2.0
//! `bench-user`: the user program of every benchmark task. It reads its job
//! from its UTCB and runs that role (see the `benches` library docs).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("bench-user runs as a user task of the benchmark kernel (target x86_64-unknown-none)");
}

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
mod user {
    use benches::msg::{self, Received, REG_MRS};
    use benches::{abi, role, sys, what, word};

    /// Word `i` of the UTCB at `utcb` (threads of one task share the
    /// program's statics, so the UTCB address travels in the `Job`).
    fn w(utcb: *mut u64, i: usize) -> u64 {
        // SAFETY: the UTCB page is mapped for this thread.
        unsafe { utcb.add(i).read_volatile() }
    }

    struct Job {
        utcb: *mut u64,
        rounds: u64,
        runs: u64,
        warmup: u64,
        bench: u64,
        cap: u64,
        badge: u64,
        len: usize,
        sel: [u64; 4],
        n: usize,
    }

    fn job(utcb: *mut u64) -> Job {
        let w = |i| w(utcb, i);
        let n = (w(word::NCOUNTERS) as usize).min(4);
        let mut sel = [0; 4];
        for (i, s) in sel.iter_mut().enumerate().take(n) {
            *s = w(word::COUNTER0 + i);
        }
        Job {
            utcb,
            rounds: w(word::ROUNDS),
            runs: w(word::RUNS),
            warmup: w(word::WARMUP),
            bench: w(word::BENCH),
            cap: w(word::CAP),
            badge: w(word::BADGE),
            len: (w(word::LENGTH) as usize).min(REG_MRS),
            sel,
            n,
        }
    }

    #[inline(always)]
    fn read_all(j: &Job, out: &mut [u64; 4]) {
        for i in 0..j.n {
            out[i] = sys::read_counter(j.sel[i]);
        }
    }

    /// Time `warmup + runs` runs of `body`, report the measured ones.
    fn measure(j: &Job, ops: u64, mut body: impl FnMut(&Job) -> bool) {
        for run in 0..j.warmup + j.runs {
            let (mut t0, mut t1) = ([0u64; 4], [0u64; 4]);
            read_all(j, &mut t0);
            let ok = body(j);
            read_all(j, &mut t1);
            if !ok {
                sys::exit();
            }
            if run >= j.warmup {
                let mut d = [0u64; 4];
                for i in 0..j.n {
                    d[i] = t1[i].wrapping_sub(t0[i]);
                }
                sys::report(j.utcb, j.bench, run - j.warmup, ops, &d[..j.n]);
            }
        }
    }

    fn client(j: &Job) {
        let mut i = 0u64;
        measure(j, 2 * j.rounds, |j| {
            let (cap, len) = (j.cap, j.len);
            for _ in 0..j.rounds {
                let t = msg::tag(msg::request_label(i), len as u64);
                let r = sys::call(cap, t, msg::request(i, len));
                if msg::reply_mismatch(&r, i, len) != 0 {
                    let exp = msg::tag(msg::reply_label(msg::request_label(i)), len as u64);
                    let f = msg::diagnose(&r, 0, 0, exp, &msg::request(i, len), len)
                        .unwrap_or((what::STATUS, r.status, 0));
                    sys::fail(j.bench, f.0, f.1, f.2);
                    return false;
                }
                i = i.wrapping_add(1);
            }
            true
        });
        sys::exit();
    }

    fn server(j: &Job) -> ! {
        let (cap, len, want) = (j.cap, j.len, j.badge);
        let mut r = sys::recv(cap);
        let mut n = 0u64;
        loop {
            if msg::request_mismatch(r.status, r.badge, want, r.tag, n, len) != 0 {
                let exp = msg::tag(msg::request_label(n), len as u64);
                let f = msg::diagnose(&r, 0, want, exp, &r.mr, 0).unwrap_or((what::STATUS, r.status, 0));
                sys::fail(j.bench, f.0, f.1, f.2);
                sys::exit();
            }
            // Echo the message registers; the client checks them.
            let reply = msg::tag(msg::reply_label(r.tag >> 16), len as u64);
            r = sys::reply_recv(cap, reply, r.mr);
            n = n.wrapping_add(1);
        }
    }

    fn syscall_loop(j: &Job) {
        measure(j, j.rounds, |j| {
            for i in 0..j.rounds {
                let r = sys::null(i);
                if (r.status | (r.mr[0] ^ i)) != 0 {
                    let f = if r.status != 0 { (what::STATUS, r.status, 0) } else { (what::MR0, r.mr[0], i) };
                    sys::fail(j.bench, f.0, f.1, f.2);
                    return false;
                }
            }
            true
        });
        sys::exit();
    }

    /// Expect `status` from a syscall, else report and exit.
    fn expect(id: u64, r: Received, status: u64) {
        if r.status != status {
            sys::fail(id, what::STATUS, r.status, status);
            sys::exit();
        }
    }

    fn scenario(id: u64, j: &Job) {
        match id {
            role::BAD_SYSCALL => {
                expect(id, sys::syscall(12, 0, 0, [0; REG_MRS]), abi::E_INVALID_SYSCALL);
                expect(id, sys::syscall(1000, 0, 0, [0; REG_MRS]), abi::E_UNSUPPORTED_SERVICE);
            }
            role::BAD_CAP => {
                for slot in [31, 1000, u64::MAX] {
                    expect(id, sys::call(slot, 0, [0; REG_MRS]), abi::E_INVALID_CAP);
                }
            }
            role::NO_RIGHTS => expect(id, sys::recv(j.cap), abi::E_NO_RIGHTS),
            role::BAD_MESSAGE => {
                expect(id, sys::call(j.cap, msg::tag(1, 64), [0; REG_MRS]), abi::E_INVALID_MESSAGE);
                expect(id, sys::call(j.cap, msg::tag(1, 0) | (1 << 8), [0; REG_MRS]), abi::E_INVALID_MESSAGE);
            }
            role::NO_CALLER => expect(id, sys::reply(0, [0; REG_MRS]), abi::E_NO_CALLER),
            role::NULL_PRESERVES => {
                let bad = sys::null_preserves();
                if bad != 0 {
                    sys::fail(id, what::STATUS, bad, 0);
                    sys::exit();
                }
            }
            _ => {
                // Fault scenarios: the kernel must kill us before we report.
                fault(id);
                sys::fail(id, what::STATUS, 1, 0);
                sys::exit();
            }
        }
        sys::test_ok(id);
        sys::exit();
    }

    #[allow(unsafe_code)]
    fn fault(id: u64) {
        // SAFETY: each of these is meant to fault; the kernel kills the task.
        unsafe {
            match id {
                role::FAULT_KERNEL_READ => {
                    core::ptr::read_volatile(0xFFFF_FFFF_8010_0000 as *const u64);
                }
                role::FAULT_WRITE_CODE => {
                    core::ptr::write_volatile(_start as *const () as *mut u8, 0xCC);
                }
                role::FAULT_PRIVILEGED => core::arch::asm!("hlt"),
                role::FAULT_UNDEFINED => core::arch::asm!("ud2"),
                role::FAULT_NULL_READ => {
                    core::ptr::read_volatile(core::ptr::null::<u64>());
                }
                role::FAULT_NX_STACK => {
                    let code = [0xC3u8; 16]; // `ret`, on the (no-execute) stack
                    let f: extern "C" fn() = core::mem::transmute(code.as_ptr());
                    f();
                    core::hint::black_box(&code);
                }
                _ => {}
            }
        }
    }

    /// Entry: `rdi` = UTCB address, stack set up by the kernel.
    #[unsafe(no_mangle)]
    #[unsafe(link_section = ".text._start")]
    pub extern "sysv64" fn _start(utcb: *mut u64) -> ! {
        let j = job(utcb);
        match w(utcb, word::ROLE) {
            role::CLIENT => client(&j),
            role::SERVER => server(&j),
            role::SYSCALL => syscall_loop(&j),
            id => scenario(id, &j),
        }
        sys::exit()
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        sys::fail(0, what::PANIC, 0, 0);
        sys::exit()
    }
}
