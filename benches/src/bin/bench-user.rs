// SPDX-License-Identifier: MIT OR Apache-2.0
//! `bench-user`: the user program of every benchmark task.
//!
//! The kernel enters `_start` with the thread's UTCB address in the first
//! argument register (`rdi` on x86_64, with `rsp` 8 below a 16-byte
//! boundary, as after a `call`; `x0` on AArch64, with `sp` 16-byte aligned;
//! docs/abi.md).
//! The program reads its job from the UTCB, runs it (`benches::run`) and
//! exits. A panic reports `fail` with what = 0xFFFF and exits.
//!
//! On the host this builds to an empty `main`, so that workspace-wide host
//! builds, tests and clippy work.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_code)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(all(
    target_os = "none",
    not(any(target_arch = "x86_64", target_arch = "aarch64"))
))]
compile_error!("bench-user has system-call stubs for x86_64 and aarch64 only");

#[cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "none"
))]
mod user {
    use core::sync::atomic::{AtomicU64, Ordering};

    use benches::abi::what;
    use benches::native::Native;
    use benches::sys::{self, Utcb};
    use benches::{Job, LatencyJob, is_latency, is_watchdog, run, run_latency, run_watchdog};

    /// The bench id, for the panic handler (the threads of one task share
    /// it, and have the same id).
    static BENCH: AtomicU64 = AtomicU64::new(0);

    /// The entry point: `utcb` (in `rdi` / `x0`: the C ABI's first
    /// argument on both targets) is this thread's UTCB.
    #[allow(unsafe_code)]
    // SAFETY: the one symbol named `_start` in the program; the linker
    // script names it as the ELF entry point.
    #[unsafe(no_mangle)]
    pub extern "C" fn _start(utcb: *mut u64) -> ! {
        // SAFETY: the kernel passes the address of this thread's UTCB, a
        // mapped, writable, page-aligned page of 64 words that only this
        // thread and the kernel use (docs/abi.md "User memory").
        let utcb = unsafe { Utcb::from_raw(utcb) };
        // Read the job before the first IPC overwrites words 4 and up.
        let job = Job::from_utcb(|i| utcb.get(i));
        BENCH.store(job.bench, Ordering::Relaxed);
        let mut kernel = Native::new(utcb, _start as *const () as usize);
        if benches::fuzz::is_fuzz(job.role) {
            let scratch = utcb.get(benches::fuzz::word::SCRATCH) as *mut u64;
            // SAFETY: the runtime maps a scratch page for every thread of
            // a fuzz role, writable, for it alone, and writes its address
            // into start-up word 10 (docs/abi.md "Fuzzing").
            let mut m = unsafe { benches::fuzz_sys::NativeFuzz::new(utcb, scratch, _start as *const () as usize) };
            benches::fuzz::run(&mut m, job.role);
        } else if is_latency(job.role) {
            let lat = LatencyJob::from_utcb(|i| utcb.get(i));
            let samples: &mut [u32] = if lat.samples != 0 && lat.samples.is_multiple_of(4) {
                // SAFETY: the runtime maps `samples_len` 32-bit words at
                // `samples` (4-byte aligned, checked above), writable, for
                // this thread alone, for the thread's lifetime (docs/abi.md
                // "User memory"; only the latency roles get one).
                unsafe { core::slice::from_raw_parts_mut(lat.samples as *mut u32, lat.samples_len as usize) }
            } else {
                &mut []
            };
            run_latency(&mut kernel, &job, &lat, samples);
        } else if is_watchdog(job.role) {
            run_watchdog(&mut kernel, &job);
        } else {
            run(&mut kernel, &job);
        }
        sys::exit()
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        sys::fail(BENCH.load(Ordering::Relaxed), what::PANIC, 0, 0);
        sys::exit()
    }
}
