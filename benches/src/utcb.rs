// SPDX-License-Identifier: MIT OR Apache-2.0
//! This thread's UTCB, as user code reaches it.

use crate::abi::UTCB_WORDS;
use crate::msg::WORD_STEP;

/// This thread's UTCB: 64 words, written by the runtime before start and
/// by the kernel during IPC, hence volatile accesses.
#[derive(Clone, Copy, Debug)]
pub struct Utcb(*mut u64);

impl Utcb {
    /// The UTCB at `p`.
    ///
    /// # Safety
    ///
    /// `p` must point to [`UTCB_WORDS`] 8-byte-aligned words mapped
    /// readable and writable for the life of the program, accessed by
    /// nothing but this `Utcb` (and its copies) and the kernel: the address
    /// the kernel passes in the first argument register at the entry point
    /// (docs/abi.md).
    pub const unsafe fn from_raw(p: *mut u64) -> Utcb {
        Utcb(p)
    }

    /// Word `i`. Panics if `i` is not below [`UTCB_WORDS`].
    #[inline(always)]
    pub fn get(self, i: usize) -> u64 {
        assert!(i < UTCB_WORDS);
        // SAFETY: in bounds (checked) of the mapped, aligned UTCB
        // (`from_raw`'s contract).
        unsafe { self.0.add(i).read_volatile() }
    }

    /// Sets word `i`. Panics if `i` is not below [`UTCB_WORDS`].
    #[inline(always)]
    pub fn set(self, i: usize, v: u64) {
        assert!(i < UTCB_WORDS);
        // SAFETY: as in `get`; the page is writable.
        unsafe { self.0.add(i).write_volatile(v) }
    }

    /// Adds `d` (wrapping) to words `from..to`: the long messages' turn of
    /// their UTCB words (`crate::msg`). Panics unless `from <= to <=`
    /// [`UTCB_WORDS`] and `to - from <=` [`MAX_RUN`].
    ///
    /// In assembly on both arches, so that its cost is known to the
    /// instruction: a jump into a straight run of one block per word (x86_64:
    /// one `add` to memory) or per pair of words (AArch64: `ldp`, two `add`,
    /// `stp`), with no loop and no test per word.
    #[inline(always)]
    pub fn add_words(self, from: usize, to: usize, d: u64) {
        assert!(from <= to && to <= UTCB_WORDS && to - from <= MAX_RUN);
        #[cfg(target_arch = "x86_64")]
        // Registers: none the `syscall` returns a value in (rax, rdi, rsi,
        // r12-r15), so the caller keeps its message where it is; bases
        // without a SIB byte, so every block has the same size.
        // SAFETY: the `to - from` words from word `from` lie inside the
        // mapped, writable UTCB (checked above, `from_raw`'s contract): the
        // jump enters the run of 7-byte blocks (each `addq` has a 32-bit
        // displacement, 1024 + 8 i from the base 1024 bytes below word
        // `from`) `to - from` blocks before its end, so block `i` adds to
        // word `from + i` for every `i < to - from`, and no other.
        // Only the declared registers and those words are written.
        unsafe {
            core::arch::asm!(
                "imul $7, %r10, %r10",
                "lea 3f(%rip), %r11",
                "sub %r10, %r11",
                "jmp *%r11",
                ".irp i, 59,58,57,56,55,54,53,52,51,50,49,48,47,46,45,44,43,42,41,40,39,38,37,36,35,34,33,32,31,30,29,28,27,26,25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0",
                "addq %rdx, 1024+\\i*8(%r8)",
                ".endr",
                "3:",
                inout("r10") to - from => _,
                in("r8") (self.0.add(from) as usize).wrapping_sub(1024),
                in("rdx") d,
                out("r11") _,
                options(nostack, att_syntax),
            );
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as for x86_64: an odd last word alone, then the jump
        // enters the run of 16-byte blocks, one per pair (pair `j` at byte
        // 16 j), `n / 2` blocks before its end.
        unsafe {
            core::arch::asm!(
                "tbz {n}, #0, 2f",
                "sub {n}, {n}, #1",
                "ldr {a}, [{p}, {n}, lsl #3]",
                "add {a}, {a}, {d}",
                "str {a}, [{p}, {n}, lsl #3]",
                "2:",
                "adr {t}, 3f",
                "sub {t}, {t}, {n}, lsl #3",
                "br {t}",
                ".irp j, 29,28,27,26,25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0",
                "ldp {a}, {b}, [{p}, #16*\\j]",
                "add {a}, {a}, {d}",
                "add {b}, {b}, {d}",
                "stp {a}, {b}, [{p}, #16*\\j]",
                ".endr",
                "3:",
                n = inout(reg) to - from => _,
                p = in(reg) self.0.add(from),
                d = in(reg) d,
                t = out(reg) _,
                a = out(reg) _,
                b = out(reg) _,
                options(nostack),
            );
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        for k in from..to {
            self.set(k, self.get(k).wrapping_add(d));
        }
    }

    /// Checks words `from..to` against the pattern `first + (k - from) *
    /// WORD_STEP` and adds `d` (wrapping) to each: the client's check and
    /// turn of a reply's UTCB words (`crate::msg`). Returns every
    /// difference from the pattern (before the add) folded into one word:
    /// zero exactly when every word matched (otherwise arbitrary: which
    /// word was wrong is for the cold `crate::msg::diagnose` to say, from
    /// the words less `d`). Panics as [`Self::add_words`] does.
    ///
    /// In assembly on both arches, a straight run entered by a jump (see
    /// [`Self::add_words`]): x86_64 per word a `lea` of the expected word,
    /// an `xor` from memory, an `or` and the `add` to memory; AArch64 per
    /// pair an `ldp`, two `ccmp` in one chain against a running expected
    /// word (a `sub` per word), two `add` and an `stp`, so that a single
    /// flag says whether all matched.
    #[inline(always)]
    pub fn check_turn_words(self, from: usize, to: usize, first: u64, d: u64) -> u64 {
        assert!(from <= to && to <= UTCB_WORDS && to - from <= MAX_RUN);
        let bad: u64;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `add_words` (24-byte blocks: `leaq`, `xorq` and
        // `addq` with 32-bit displacements, the expected word's 256 + i *
        // WORD_STEP from `first - 256`, and `orq`).
        unsafe {
            core::arch::asm!(
                "xor %ecx, %ecx",
                "imul $24, %r10, %r10",
                "lea 3f(%rip), %r11",
                "sub %r10, %r11",
                "jmp *%r11",
                ".irp i, 59,58,57,56,55,54,53,52,51,50,49,48,47,46,45,44,43,42,41,40,39,38,37,36,35,34,33,32,31,30,29,28,27,26,25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0",
                "leaq 256+\\i*{step}(%r9), %r10",
                "xorq 1024+\\i*8(%r8), %r10",
                "orq %r10, %rcx",
                "addq %rdx, 1024+\\i*8(%r8)",
                ".endr",
                "3:",
                out("rcx") bad,
                inout("r10") to - from => _,
                in("r8") (self.0.add(from) as usize).wrapping_sub(1024),
                in("r9") first.wrapping_sub(256),
                in("rdx") d,
                out("r11") _,
                step = const WORD_STEP,
                options(nostack, att_syntax),
            );
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as in `add_words`: an odd last word alone (its expected
        // word `first + (n - 1) * WORD_STEP`), then the run of 32-byte
        // blocks, pair `j` (words 2j and 2j + 1) checked high word first
        // with the expected word running down.
        unsafe {
            core::arch::asm!(
                "cmp xzr, xzr",
                "add {e}, {f}, {n}, lsl #12",
                "tbz {n}, #0, 2f",
                "sub {n}, {n}, #1",
                "sub {e}, {e}, #{step}",
                "ldr {a}, [{p}, {n}, lsl #3]",
                "ccmp {a}, {e}, #0, eq",
                "add {a}, {a}, {d}",
                "str {a}, [{p}, {n}, lsl #3]",
                "2:",
                "sub {e}, {e}, #{step}",
                "adr {t}, 3f",
                "sub {t}, {t}, {n}, lsl #4",
                "br {t}",
                ".irp j, 29,28,27,26,25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0",
                "ldp {a}, {b}, [{p}, #16*\\j]",
                "ccmp {b}, {e}, #0, eq",
                "sub {e}, {e}, #{step}",
                "ccmp {a}, {e}, #0, eq",
                "sub {e}, {e}, #{step}",
                "add {a}, {a}, {d}",
                "add {b}, {b}, {d}",
                "stp {a}, {b}, [{p}, #16*\\j]",
                ".endr",
                "3:",
                "cset {bad}, ne",
                bad = lateout(reg) bad,
                n = inout(reg) to - from => _,
                p = in(reg) self.0.add(from),
                f = in(reg) first,
                step = const WORD_STEP,
                d = in(reg) d,
                e = out(reg) _,
                t = out(reg) _,
                a = out(reg) _,
                b = out(reg) _,
                options(nostack),
            );
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            let mut acc = 0;
            for k in from..to {
                let v = self.get(k);
                acc |= v ^ first.wrapping_add((k - from) as u64 * WORD_STEP);
                self.set(k, v.wrapping_add(d));
            }
            bad = acc;
        }
        bad
    }
}

// The AArch64 run of `check_turn_words` forms `first + n * WORD_STEP` with
// a shift by 12 and steps with an immediate.
const _: () = assert!(WORD_STEP == 1 << 12);

/// The most words [`Utcb::add_words`] and [`Utcb::check_turn_words`] take at
/// once: those of a longest message past the registers, 64 - 4.
pub const MAX_RUN: usize = 60;
