// SPDX-License-Identifier: MIT OR Apache-2.0
//! Arm semihosting (`hlt #0xf000`): the exit call, which QEMU with
//! `-semihosting` turns into its own exit status.

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
