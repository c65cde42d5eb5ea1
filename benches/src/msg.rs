// SPDX-License-Identifier: MIT OR Apache-2.0
//! The message scheme and its checks.

use crate::what;

/// Number of message registers that travel in CPU registers (x86_64).
pub const REG_MRS: usize = 4;

/// Distinct per-word constants: word `k` of round `i` is `i + C[k]`.
pub const C: [u64; REG_MRS] =
    [0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 0x85EB_CA77_C2B2_AE63];

/// The message tag: `label << 16 | length`.
#[inline(always)]
pub const fn tag(label: u64, len: u64) -> u64 {
    (label << 16) | len
}

/// Label of request `i`.
#[inline(always)]
pub const fn request_label(i: u64) -> u64 {
    0x1000 + (i & 0xff)
}

/// The server's reply label for a request label.
#[inline(always)]
pub const fn reply_label(request: u64) -> u64 {
    request + 0x1000
}

/// The message registers of request `i` (words past `len` are zero).
#[inline(always)]
pub const fn request(i: u64, len: usize) -> [u64; REG_MRS] {
    let mut m = [0; REG_MRS];
    let mut k = 0;
    while k < REG_MRS {
        if k < len {
            m[k] = i.wrapping_add(C[k]);
        }
        k += 1;
    }
    m
}

/// A reply as the client received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Status register.
    pub status: u64,
    /// Badge register.
    pub badge: u64,
    /// Tag register.
    pub tag: u64,
    /// Message registers.
    pub mr: [u64; REG_MRS],
}

/// Which check failed: (what, got, expected), `what` as in [`crate::what`].
pub type Failure = (u64, u64, u64);

/// Find the first difference between `got` and the expected message, or
/// `None` if they agree. Used after the cheap check flagged a message.
#[inline(never)]
pub fn diagnose(got: &Received, status: u64, badge: u64, tag: u64, mr: &[u64; REG_MRS], len: usize) -> Option<Failure> {
    if got.status != status {
        return Some((what::STATUS, got.status, status));
    }
    if got.tag >> 16 != tag >> 16 {
        return Some((what::LABEL, got.tag >> 16, tag >> 16));
    }
    if got.tag & 0xffff != tag & 0xffff {
        return Some((what::LENGTH, got.tag & 0xffff, tag & 0xffff));
    }
    if got.badge != badge {
        return Some((what::BADGE, got.badge, badge));
    }
    (0..len.min(REG_MRS)).find(|&k| got.mr[k] != mr[k]).map(|k| (what::MR0 + k as u64, got.mr[k], mr[k]))
}

/// The cheap check of a reply to request `i`: zero when status, tag, badge
/// and the first `len` message registers are as expected. Branch-free: one
/// XOR and one OR per word.
#[inline(always)]
pub fn reply_mismatch(r: &Received, i: u64, len: usize) -> u64 {
    let sent = request(i, len);
    let mut bad = r.status | r.badge | (r.tag ^ tag(reply_label(request_label(i)), len as u64));
    let mut k = 0;
    while k < len && k < REG_MRS {
        bad |= r.mr[k] ^ sent[k];
        k += 1;
    }
    bad
}

/// The cheap check of a request at the server: status, badge, tag.
#[inline(always)]
pub fn request_mismatch(status: u64, badge: u64, want_badge: u64, t: u64, j: u64, len: usize) -> u64 {
    status | (badge ^ want_badge) | (t ^ tag(request_label(j), len as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good_reply(i: u64, len: usize) -> Received {
        Received { status: 0, badge: 0, tag: tag(reply_label(request_label(i)), len as u64), mr: request(i, len) }
    }

    #[test]
    fn good_messages_pass() {
        for i in [0, 1, 255, 256, 1 << 40, u64::MAX] {
            for len in 0..=4 {
                assert_eq!(reply_mismatch(&good_reply(i, len), i, len), 0);
                assert_eq!(request_mismatch(0, 0xB1, 0xB1, tag(request_label(i), len as u64), i, len), 0);
            }
        }
    }

    #[test]
    fn every_corruption_is_caught_and_named() {
        let i = 1234;
        let len = 4;
        let want = good_reply(i, len);
        let exp_tag = want.tag;
        let mut cases: [(Received, u64); 7] = [(want, 0); 7];
        cases[0].0.status = 8;
        cases[0].1 = what::STATUS;
        cases[1].0.tag ^= 1 << 16;
        cases[1].1 = what::LABEL;
        cases[2].0.tag ^= 1;
        cases[2].1 = what::LENGTH;
        cases[3].0.badge = 0xB1;
        cases[3].1 = what::BADGE;
        for k in 0..3 {
            cases[4 + k].0.mr[k + 1] ^= 1 << 17;
            cases[4 + k].1 = what::MR0 + k as u64 + 1;
        }
        for (r, w) in cases {
            assert_ne!(reply_mismatch(&r, i, len), 0, "{r:?}");
            let f = diagnose(&r, 0, 0, exp_tag, &request(i, len), len).unwrap();
            assert_eq!(f.0, w);
        }
        assert_eq!(diagnose(&want, 0, 0, exp_tag, &request(i, len), len), None);
    }

    #[test]
    fn stale_messages_are_caught() {
        // A kernel that did not deliver leaves the previous round's registers.
        for i in 1..300 {
            let stale = good_reply(i - 1, 4);
            assert_ne!(reply_mismatch(&stale, i, 4), 0);
            assert_ne!(request_mismatch(0, 0xB1, 0xB1, tag(request_label(i - 1), 4), i, 4), 0);
        }
    }

    #[test]
    fn unused_words_are_zero() {
        assert_eq!(request(7, 2)[2..], [0, 0]);
    }
}
