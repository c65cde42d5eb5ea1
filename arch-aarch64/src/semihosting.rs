// SPDX-License-Identifier: MIT OR Apache-2.0
//! Arm semihosting (`hlt #0xf000`): the exit call, which QEMU with
//! `-semihosting` turns into its own exit status, and writes to the
//! semihosting console, which QEMU sends to the chardev its
//! `-semihosting-config chardev=` names: the kernel's defmt frames.

/// `SYS_WRITEC`: one byte to the console.
const SYS_WRITEC: u64 = 0x03;
/// `SYS_WRITE0`: a zero-terminated string to the console.
const SYS_WRITE0: u64 = 0x04;
/// `SYS_EXIT_EXTENDED`.
const SYS_EXIT_EXTENDED: u64 = 0x20;
/// `ADP_Stopped_ApplicationExit`: the exit reason that carries a status.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Ask the debugger (QEMU) to end the program with exit status `code`.
/// Returns only if no semihosting host answered (QEMU without
/// `-semihosting` treats the `hlt` as an undefined instruction, which the
/// kernel then takes as a kernel exception).
pub fn exit(code: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    // SAFETY: the semihosting call reads the two-word block at x1 and does
    // not return when it succeeds; it writes only x0.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000", // semihosting call: op in w0, argument block in x1
            inout("x0") SYS_EXIT_EXTENDED => _,
            in("x1") block.as_ptr(),
            options(nostack, readonly, preserves_flags),
        );
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = (block, SYS_EXIT_EXTENDED);
}

/// End the QEMU run with the kernel's status (0 pass, 1 a check failed,
/// 2 panic) as the exit codes of the PC's `isa-debug-exit`,
/// `(0x10 + status) * 2 + 1`: 33, 35, 37. (Not 0/1/2: a guest that powers
/// off or resets also leaves QEMU with status 0.) Halts the CPU if no
/// semihosting host answered.
pub fn exit_status(status: u8) -> ! {
    exit(0x21 + 2 * u32::from(status));
    crate::halt()
}

/// A semihosting call: operation `op`, argument block at `block`; returns
/// `x0`. Only where a semihosting host is known to answer (else the `hlt`
/// is an undefined instruction).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn call(op: u64, block: &[u64]) -> u64 {
    let r: u64;
    // SAFETY: the host reads the argument block (and the buffers it
    // names, which the caller keeps alive) and writes only x0.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            inout("x0") op => r,
            in("x1") block.as_ptr(),
            options(nostack, readonly, preserves_flags),
        );
    }
    r
}

/// Writes `bytes` to the semihosting console, which QEMU sends to the
/// chardev of its `-semihosting-config chardev=` (else its stderr): runs of
/// non-zero bytes with `SYS_WRITE0` (from a copy with a terminating zero),
/// each zero byte with `SYS_WRITEC`. (`SYS_WRITE` to `:tt` would go to
/// QEMU's own stdout instead.) Call only under a semihosting host (QEMU
/// `-semihosting`: `cargo xtask` says so on the command line).
pub fn write_console(bytes: &[u8]) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let mut buf = [0u8; 257];
        for (i, run) in bytes.split(|&b| b == 0).enumerate() {
            if i > 0 {
                let zero = 0u8;
                // SYS_WRITEC reads the byte at x1.
                let _ = call(SYS_WRITEC, core::slice::from_ref(&u64::from(zero)));
            }
            for chunk in run.chunks(buf.len() - 1) {
                buf[..chunk.len()].copy_from_slice(chunk);
                buf[chunk.len()] = 0;
                // SYS_WRITE0 takes the string's address in x1 itself.
                let _ = call_ptr(SYS_WRITE0, buf.as_ptr());
            }
        }
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    let _ = (bytes, SYS_WRITEC, SYS_WRITE0);
}

/// A semihosting call whose argument is the address `p` itself (`x1`).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn call_ptr(op: u64, p: *const u8) -> u64 {
    let r: u64;
    // SAFETY: the host reads the zero-terminated string at `p`, which the
    // caller keeps alive, and writes only x0.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            inout("x0") op => r,
            in("x1") p,
            options(nostack, readonly, preserves_flags),
        );
    }
    r
}
