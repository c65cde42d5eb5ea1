// SPDX-License-Identifier: MIT OR Apache-2.0
//! The message scheme: what the client and the server send in each round,
//! and the check of every received message (DESIGN.md §5).
//!
//! # The patterns
//!
//! Round `i` (counted from 0 over all runs, warm-up included, the same count
//! on both sides) has the seed `s = seed(i) = i * 0x7F4A_7C15` (wrapping)
//! and carries
//!
//! | | client → server (`call`) | server → client (`reply_recv`) |
//! |---|---|---|
//! | tag | `(s & !0xffff) \| L`: label `s >> 16` | `((s + 0x80_0000) & !0xffff) \| L` |
//! | word `k < L` | `f(s, k) = s + 0x40_0000 + k * 0x1000` | `g(s, k) = s + 0xC0_0000 + k * 0x1000` |
//! | register MRs `k >= L` | 0 | 0 |
//! | badge seen | the server's badge (UTCB word 15) | 0 |
//!
//! So
//!
//! * the label and every word change every round (the seed step is at
//!   least 2^16): a kernel that fails to deliver leaves the receiver's
//!   registers holding its own previous (outgoing) message, and one that
//!   delivers the previous round's message again differs in the label and
//!   in every word: both are caught;
//! * the two directions never share a label or a word (their offsets
//!   differ by no multiple of the word step up to 63 words), so a message
//!   echoed back to its sender is caught, and so is any swap of two words;
//! * everything is the seed plus a 32-bit sign-extended constant: the
//!   measured loops carry the seed alone (one `add` per round), and
//!   producing or checking a word is one `lea`/`xor`/`or` chain on x86_64.
//!
//! # Long messages: the UTCB words
//!
//! Words `4..L` travel in the UTCB, and each side turns them in place
//! rather than making them anew: the server adds [`SERVER_TURN`] to every
//! word it received (so `f(s, k)` becomes its reply's `g(s, k)`), and the
//! client, once it has checked every word of the reply against `g(s, k)`,
//! adds [`CLIENT_TURN`] (so `g(s, k)` becomes the next round's `f(s +
//! SEED_MUL, k)`; before a run's first round it writes them). The server
//! checks the registers, the tag and the badge of every request, but not
//! its UTCB words: the client's check of the reply checks them, after both
//! crossings. Every way a kernel can get them wrong is still caught, and
//! said by the word:
//!
//! * a request word not copied leaves the server's reply word of the last
//!   round in its UTCB; turned, it differs from `g(s, k)` by `SEED_MUL -
//!   SERVER_TURN`, never zero;
//! * a reply word not copied leaves the client's own request word, which
//!   differs from `g(s, k)` by `SERVER_TURN`, never zero;
//! * a word copied from the wrong place or the wrong round differs too
//!   (the same pattern argument as for the registers).
//!
//! So a word costs each side one add (x86_64: one `add` to memory), and
//! the client one compare, the least that still checks each of them every
//! round (`utcb::Utcb::add_words` and `mismatch_words`, in
//! assembly).
//!
//! # The check
//!
//! [`mismatch`] folds every difference into one word (`bad |= got ^
//! expected`, branch-free), so the measured loop takes a single branch per
//! message. Only when that word is non-zero does the cold [`diagnose`] look
//! again, field by field, to say what failed, in the order status, label,
//! length, badge, words.

use crate::abi::{MR_IN_REGS, tag_label, tag_length_flags, what};

/// Multiplier of the per-round seed, and so the seed's step from one
/// round to the next: odd (every round of 2^64 has its own seed), at least
/// 2^16 (the label changes every round) and a positive 32-bit immediate
/// (one `add` on x86_64). The low half of the 64-bit golden ratio.
pub const SEED_MUL: u64 = 0x7F4A_7C15;
/// Distance between consecutive words of one message. With the offsets
/// below, every word's constant (up to 63 words) is a multiple of 0x1000 up
/// to 0xFFF000: one `add xN, seed, #imm, lsl #12` on AArch64, one `lea` on
/// x86_64.
pub const WORD_STEP: u64 = 0x1000;
/// Offset of the client's words from the seed.
pub const CLIENT_OFFSET: u64 = 0x40_0000;
/// Offset of the server's words from the seed.
pub const SERVER_OFFSET: u64 = 0xC0_0000;
/// The server's turn of a long message's UTCB words: added to each word
/// received, it makes the reply's word, `f(s, k) + SERVER_TURN = g(s, k)`.
pub const SERVER_TURN: u64 = SERVER_OFFSET.wrapping_sub(CLIENT_OFFSET);
/// The client's turn: added to each UTCB word of a checked reply, it makes
/// the next round's request word, `g(s, k) + CLIENT_TURN = f(s + SEED_MUL,
/// k)`.
pub const CLIENT_TURN: u64 = CLIENT_OFFSET.wrapping_sub(SERVER_OFFSET).wrapping_add(SEED_MUL);
/// Offset of the client's tag from the seed.
pub const CLIENT_TAG_OFFSET: u64 = 0;
/// Offset of the server's tag from the seed (one `add ..., lsl #12` on
/// AArch64 as well).
pub const SERVER_TAG_OFFSET: u64 = 0x80_0000;

/// Who sends a message; the receiver checks against the sender's pattern.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// The IPC client (its `call`s).
    Client,
    /// The IPC server (its replies).
    Server,
}

impl Side {
    /// The offset of the tag from the seed.
    #[inline(always)]
    pub const fn tag_offset(self) -> u64 {
        match self {
            Side::Client => CLIENT_TAG_OFFSET,
            Side::Server => SERVER_TAG_OFFSET,
        }
    }

    /// The offset of word 0 from the seed.
    #[inline(always)]
    pub const fn word_offset(self) -> u64 {
        match self {
            Side::Client => CLIENT_OFFSET,
            Side::Server => SERVER_OFFSET,
        }
    }
}

/// The per-round seed all words of round `round` derive from.
#[inline(always)]
pub const fn seed(round: u64) -> u64 {
    round.wrapping_mul(SEED_MUL)
}

/// `x`, hidden from the optimiser (an empty `asm!` that "may change" the
/// register). The measured loops pass their seed through it every round:
/// otherwise LLVM rewrites `seed + constant` into several induction
/// variables, and with only `rbx` and `rbp` surviving a `syscall` those
/// end up on the stack. Costs no instruction.
#[inline(always)]
#[allow(unsafe_code)]
pub fn opaque(mut x: u64) -> u64 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    // SAFETY: an empty assembly block: it reads and writes only `x`.
    unsafe {
        core::arch::asm!("/* {0} */", inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        x = core::hint::black_box(x);
    }
    x
}

/// Word `k` of the message `side` sends in the round of seed `s`.
#[inline(always)]
pub const fn word_at(side: Side, s: u64, k: usize) -> u64 {
    s.wrapping_add(side.word_offset().wrapping_add(k as u64 * WORD_STEP))
}

/// Word `k` of the message `side` sends in round `round`: `f(i, k)` for the
/// client, `g(j, k)` for the server.
#[inline(always)]
pub const fn word(side: Side, round: u64, k: usize) -> u64 {
    word_at(side, seed(round), k)
}

/// `f(i, k)`: word `k` of the client's message in round `i`.
#[inline(always)]
pub const fn client_word(i: u64, k: usize) -> u64 {
    word(Side::Client, i, k)
}

/// `g(j, k)`: word `k` of the server's reply in round `j`.
#[inline(always)]
pub const fn server_word(j: u64, k: usize) -> u64 {
    word(Side::Server, j, k)
}

/// The tag `side` sends with `len` words in the round of seed `s`: the
/// label is the seed (plus the side's offset) without its low 16 bits.
#[inline(always)]
pub const fn tag_at(side: Side, s: u64, len: usize) -> u64 {
    (s.wrapping_add(side.tag_offset()) & !0xffff) | len as u64
}

/// The tag `side` sends in round `round` with `len` words.
#[inline(always)]
pub const fn round_tag(side: Side, round: u64, len: usize) -> u64 {
    tag_at(side, seed(round), len)
}

/// The label `side` sends in round `round`.
#[inline(always)]
pub const fn label(side: Side, round: u64) -> u64 {
    tag_label(round_tag(side, round, 0))
}

/// The register message registers of `side`'s message in the round of
/// seed `s` with `R` (at most 4) words in registers: words `0..R`, then
/// zeros.
#[inline(always)]
pub fn register_words_at<const R: usize>(side: Side, s: u64) -> [u64; MR_IN_REGS] {
    core::array::from_fn(|k| if k < R { word_at(side, s, k) } else { 0 })
}

/// The register message registers `side` sends in the round of seed `s`
/// when they hold `held` (the message received last): words `0..R` of the
/// pattern, and the registers past the message left as they are. They are
/// not part of the message (the receiver checks only `length` words), and
/// leaving them costs nothing where zeroing costs an instruction each.
#[inline(always)]
pub fn outgoing_at<const R: usize>(side: Side, s: u64, held: &[u64; MR_IN_REGS]) -> [u64; MR_IN_REGS] {
    core::array::from_fn(|k| if k < R { word_at(side, s, k) } else { held[k] })
}

/// [`register_words_at`] for round `round`.
#[inline(always)]
pub fn register_words<const R: usize>(side: Side, round: u64) -> [u64; MR_IN_REGS] {
    register_words_at::<R>(side, seed(round))
}

/// What a syscall hands back: status, badge, tag and the register message
/// registers (x86_64 `rax`, `rdi`, `rsi`, `rdx`, `r8`, `r9`, `r10`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Msg {
    /// Status: 0 or an error code.
    pub status: u64,
    /// Badge of the sender (0 for a reply).
    pub badge: u64,
    /// Tag of the received message.
    pub tag: u64,
    /// MR0..MR3.
    pub mr: [u64; MR_IN_REGS],
}

/// A failed check, as the `fail` service call reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Failure {
    /// What failed ([`crate::abi::what`]).
    pub what: u64,
    /// The value seen.
    pub got: u64,
    /// The value expected.
    pub expected: u64,
}

impl Failure {
    /// A syscall returned status `got` where 0 was expected.
    #[inline(always)]
    pub const fn status(got: u64) -> Self {
        Failure {
            what: what::STATUS,
            got,
            expected: 0,
        }
    }
}

/// Everything the receiver of a message knows in advance.
///
/// Laid out with the round (which changes every time) between the length
/// and the badge (often both constants): with two constant words side by
/// side, LLVM builds a copy of the struct with a 16-byte FP/SIMD load, and
/// AArch64 user programs have no FP/SIMD registers (docs/abi.md).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct Expected {
    /// Its length in words.
    pub len: usize,
    /// The seed of its round ([`seed`]).
    pub seed: u64,
    /// The badge the receiver must see.
    pub badge: u64,
    /// Who sent it.
    pub side: Side,
}

/// Folds every difference between `m` and the expected message into one
/// word: zero exactly when status, tag (label, length, flags), badge and
/// the register words `0..R` are right. `R` must be `min(e.len, 4)`; words
/// `4..e.len` live in the UTCB and are checked with [`mismatch_words`].
#[inline(always)]
pub fn mismatch<const R: usize>(m: &Msg, e: &Expected) -> u64 {
    debug_assert!(
        R == if e.len < MR_IN_REGS {
            e.len
        } else {
            MR_IN_REGS
        }
    );
    // AArch64: equalities joined with `&` (no short circuit), which LLVM
    // makes one `cmp`/`ccmp` chain, a compare per field after the expected
    // value's one `add`; x86_64: `xor`/`or`, as LLVM does best there.
    #[cfg(target_arch = "aarch64")]
    {
        let mut ok = (m.status == 0) & (m.badge == e.badge) & (m.tag == tag_at(e.side, e.seed, e.len));
        let mut k = 0;
        while k < R {
            ok &= m.mr[k] == word_at(e.side, e.seed, k);
            k += 1;
        }
        u64::from(!ok)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let mut bad = m.status | (m.badge ^ e.badge) | (m.tag ^ tag_at(e.side, e.seed, e.len));
        let mut k = 0;
        while k < R {
            bad |= m.mr[k] ^ word_at(e.side, e.seed, k);
            k += 1;
        }
        bad
    }
}

/// Like [`mismatch`] for the UTCB words `from..to`, read through `utcb`,
/// against the pattern `first + (k - from) * WORD_STEP` (with `from` = 4
/// and `first` = [`word_at`] of word 4: the words of a long message). The
/// reference of the user programs' assembly (`utcb::Utcb::check_turn_words`)
/// and what [`crate::kernel::Kernel::utcb_check_turn`] does by default.
#[inline(always)]
pub fn mismatch_words(from: usize, to: usize, first: u64, utcb: impl Fn(usize) -> u64) -> u64 {
    let mut bad = 0;
    for k in from..to {
        bad |= utcb(k) ^ first.wrapping_add((k - from) as u64 * WORD_STEP);
    }
    bad
}

/// Says what is wrong with `m` (and the UTCB words, read through `utcb`):
/// the first of status, label, length (with the flags), badge, word 0, 1,
/// ... that differs. `None` if nothing does. Cold: called only after
/// [`mismatch`] saw a difference. (`m` and `e` are taken by value so that
/// the measured loops keep theirs in registers and spill them only on this
/// path.)
#[cold]
#[inline(never)]
pub fn diagnose(m: Msg, e: Expected, utcb: impl Fn(usize) -> u64) -> Option<Failure> {
    let expected_tag = tag_at(e.side, e.seed, e.len);
    let fields = [
        (what::STATUS, m.status, 0),
        (what::LABEL, tag_label(m.tag), tag_label(expected_tag)),
        (
            what::LENGTH,
            tag_length_flags(m.tag),
            tag_length_flags(expected_tag),
        ),
        (what::BADGE, m.badge, e.badge),
    ];
    let words = (0..e.len).map(|k| {
        let got = if k < MR_IN_REGS { m.mr[k] } else { utcb(k) };
        (what::WORD_BASE + k as u64, got, word_at(e.side, e.seed, k))
    });
    fields
        .into_iter()
        .chain(words)
        .find(|(_, got, expected)| got != expected)
        .map(|(what, got, expected)| Failure {
            what,
            got,
            expected,
        })
}

/// The whole check of a message with no UTCB words (`e.len <= 4`), for
/// callers outside the measured loops.
pub fn check_registers<const R: usize>(m: &Msg, e: &Expected) -> Result<(), Failure> {
    if mismatch::<R>(m, e) == 0 {
        return Ok(());
    }
    Err(diagnose(*m, *e, |_| 0).unwrap_or(Failure::status(m.status)))
}

#[cfg(test)]
mod tests {
    use super::{
        CLIENT_OFFSET, Expected, Failure, MR_IN_REGS, Msg, SEED_MUL, SERVER_OFFSET,
        SERVER_TAG_OFFSET, Side, WORD_STEP, check_registers, client_word, diagnose, label,
        mismatch, mismatch_words, register_words, round_tag, seed, server_word, word, word_at,
    };
    use crate::abi::{MSG_MAX_WORDS, tag, what};

    /// The message `side` sends in `round`, as its receiver sees it.
    fn sent(side: Side, round: u64, badge: u64) -> Msg {
        Msg {
            status: 0,
            badge,
            tag: round_tag(side, round, 4),
            mr: register_words::<4>(side, round),
        }
    }

    fn exp(side: Side, round: u64, badge: u64) -> Expected {
        Expected {
            side,
            seed: seed(round),
            len: 4,
            badge,
        }
    }

    #[test]
    fn offsets_are_sign_extended_imm32() {
        // Every word offset up to 63 words is a sign-extended 32-bit value:
        // one `lea reg, [seed + imm32]` per word.
        for k in 0..=MSG_MAX_WORDS as u64 {
            for off in [CLIENT_OFFSET, SERVER_OFFSET] {
                let v = off.wrapping_add(k * WORD_STEP);
                assert_eq!(v as i32 as i64 as u64, v, "k={k}");
            }
        }
    }

    #[test]
    fn patterns_differ_across_rounds_sides_and_words() {
        for i in [0u64, 1, 2, 255, 256, 19_999, 1 << 40, u64::MAX] {
            for k in 0..=MSG_MAX_WORDS {
                // The message changes every round ...
                assert_ne!(client_word(i, k), client_word(i.wrapping_add(1), k));
                assert_ne!(server_word(i, k), server_word(i.wrapping_add(1), k));
                // ... and the two directions never share a word of a round.
                for k2 in 0..=MSG_MAX_WORDS {
                    assert_ne!(client_word(i, k), server_word(i, k2), "i={i} k={k} k2={k2}");
                    if k != k2 {
                        assert_ne!(client_word(i, k), client_word(i, k2));
                    }
                }
            }
            assert_ne!(
                label(Side::Client, i),
                label(Side::Client, i.wrapping_add(1))
            );
            assert_ne!(label(Side::Client, i), label(Side::Server, i));
        }
        assert_eq!(label(Side::Client, 5), (5 * SEED_MUL) >> 16);
        assert_eq!(label(Side::Server, 5), (5 * SEED_MUL + SERVER_TAG_OFFSET) >> 16);
        assert_eq!(round_tag(Side::Client, 5, 3), tag(label(Side::Client, 5), 3));
        // The constants the loops add are positive 32-bit immediates.
        for c in [SEED_MUL, SERVER_TAG_OFFSET] {
            assert!((1 << 16..1 << 31).contains(&c));
        }
    }

    #[test]
    fn unused_registers_are_zero() {
        assert_eq!(register_words::<0>(Side::Client, 7), [0; 4]);
        assert_eq!(
            register_words::<2>(Side::Server, 7),
            [server_word(7, 0), server_word(7, 1), 0, 0]
        );
    }

    #[test]
    fn a_good_message_passes() {
        for i in [0, 1, 300, u64::MAX] {
            assert_eq!(
                mismatch::<4>(&sent(Side::Client, i, 0xB1), &exp(Side::Client, i, 0xB1)),
                0
            );
            assert_eq!(
                check_registers::<4>(&sent(Side::Server, i, 0), &exp(Side::Server, i, 0)),
                Ok(())
            );
        }
    }

    #[test]
    fn every_corrupted_field_is_found_and_named() {
        let e = exp(Side::Client, 42, 0xB1);
        let good = sent(Side::Client, 42, 0xB1);
        for k in 0..4 {
            for bit in [0, 31, 32, 63] {
                let mut m = good;
                m.mr[k] ^= 1 << bit;
                assert_ne!(mismatch::<4>(&m, &e), 0);
                assert_eq!(
                    diagnose(m, e, |_| 0),
                    Some(Failure {
                        what: what::WORD_BASE + k as u64,
                        got: m.mr[k],
                        expected: client_word(42, k)
                    })
                );
            }
        }
        let mut m = good;
        m.badge = 0xB0;
        assert_eq!(
            check_registers::<4>(&m, &e),
            Err(Failure {
                what: what::BADGE,
                got: 0xB0,
                expected: 0xB1
            })
        );
        let mut m = good;
        m.tag ^= 1 << 20;
        assert_eq!(
            check_registers::<4>(&m, &e),
            Err(Failure {
                what: what::LABEL,
                got: label(Side::Client, 42) ^ 0x10,
                expected: label(Side::Client, 42)
            })
        );
        let mut m = good;
        m.tag = round_tag(Side::Client, 42, 3);
        assert_eq!(
            check_registers::<4>(&m, &e),
            Err(Failure {
                what: what::LENGTH,
                got: 3,
                expected: 4
            })
        );
        let mut m = good;
        m.tag |= 1 << 8; // a flag bit
        assert_eq!(
            check_registers::<4>(&m, &e),
            Err(Failure {
                what: what::LENGTH,
                got: 0x104,
                expected: 4
            })
        );
        // The status is reported first, whatever else is wrong.
        let mut m = good;
        m.status = 8;
        m.mr[1] = 0;
        assert_eq!(check_registers::<4>(&m, &e), Err(Failure::status(8)));
    }

    #[test]
    fn stale_and_echoed_messages_are_caught() {
        for i in [1u64, 2, 256, 257, 20_000] {
            // The previous round's message delivered again: label and every
            // word differ.
            let stale = sent(Side::Client, i - 1, 0xB1);
            let e = exp(Side::Client, i, 0xB1);
            assert_ne!(mismatch::<4>(&stale, &e), 0);
            for k in 0..4 {
                assert_ne!(stale.mr[k], client_word(i, k));
            }
            let f = diagnose(stale, e, |_| 0).unwrap();
            assert!(f.what == what::LABEL || f.what == what::WORD_BASE, "{f:?}");
            // A reply never delivered: the client's registers still hold
            // what it sent (status 0, its own tag and words).
            let echoed = Msg {
                badge: 0,
                ..sent(Side::Client, i, 0)
            };
            assert_ne!(mismatch::<4>(&echoed, &exp(Side::Server, i, 0)), 0);
            // Even with the right label, stale words alone are caught.
            let mut m = sent(Side::Server, i - 1, 0);
            m.tag = round_tag(Side::Server, i, 4);
            assert_eq!(
                check_registers::<4>(&m, &exp(Side::Server, i, 0))
                    .unwrap_err()
                    .what,
                what::WORD_BASE
            );
        }
    }

    #[test]
    fn short_messages_ignore_unused_registers() {
        let e = Expected {
            side: Side::Server,
            seed: seed(9),
            len: 2,
            badge: 0,
        };
        let mut m = Msg {
            status: 0,
            badge: 0,
            tag: round_tag(Side::Server, 9, 2),
            mr: register_words::<2>(Side::Server, 9),
        };
        m.mr[2] = 0xdead; // not part of the message: not checked
        assert_eq!(mismatch::<2>(&m, &e), 0);
        m.mr[1] ^= 1;
        assert_eq!(
            check_registers::<2>(&m, &e).unwrap_err().what,
            what::WORD_BASE + 1
        );
        let e0 = Expected { len: 0, ..e };
        let m0 = Msg {
            tag: round_tag(Side::Server, 9, 0),
            ..Msg::default()
        };
        assert_eq!(mismatch::<0>(&m0, &e0), 0);
    }

    #[test]
    fn utcb_words_are_checked() {
        let e = Expected {
            side: Side::Client,
            seed: seed(3),
            len: 8,
            badge: 7,
        };
        let mut utcb = [0u64; 64];
        for (k, w) in utcb.iter_mut().enumerate() {
            *w = word(Side::Client, 3, k);
        }
        let m = Msg {
            status: 0,
            badge: 7,
            tag: round_tag(Side::Client, 3, 8),
            mr: register_words::<4>(Side::Client, 3),
        };
        let long = |utcb: &[u64; 64]| mismatch_words(MR_IN_REGS, e.len, word_at(e.side, e.seed, MR_IN_REGS), |k| utcb[k]);
        assert_eq!(mismatch::<4>(&m, &e) | long(&utcb), 0);
        utcb[6] ^= 1 << 40;
        assert_ne!(long(&utcb), 0);
        assert_eq!(
            diagnose(m, e, |k| utcb[k]).unwrap().what,
            what::WORD_BASE + 6
        );
        // Words past the length are not part of the message.
        utcb[6] ^= 1 << 40;
        utcb[8] = 0;
        assert_eq!(long(&utcb), 0);
        assert_eq!(MR_IN_REGS, 4);
    }
}
