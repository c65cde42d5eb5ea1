// SPDX-License-Identifier: MIT OR Apache-2.0
//! Command-line text: [`WordBuf`], the words a kernel (or its loader)
//! keeps of a command line, joined into a buffer of its own.

/// Words joined by single spaces into a caller's buffer: what the boards
/// and arch crates keep of a command line once they have taken their own
/// words out (`exit=semihosting`, `console=`, a firmware's Linux options,
/// a UEFI program name).
pub struct WordBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> WordBuf<'a> {
    /// Nothing yet, in `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        WordBuf { buf, len: 0 }
    }

    /// Append `w`, after a space unless it is the first; `false`, with
    /// nothing written, when it does not fit.
    pub fn push(&mut self, w: &str) -> bool {
        let sep = usize::from(self.len > 0);
        let Some(dst) = self.buf.get_mut(self.len..self.len + sep + w.len()) else {
            return false;
        };
        if sep == 1 {
            dst[0] = b' ';
        }
        dst[sep..].copy_from_slice(w.as_bytes());
        self.len += sep + w.len();
        true
    }

    /// Bytes used so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No word yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The words pushed, as one string.
    pub fn into_str(self) -> &'a str {
        // Whole words of `str`s, joined by ASCII spaces: valid UTF-8.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::WordBuf;

    #[test]
    fn words_are_joined_until_one_does_not_fit() {
        let mut buf = [0u8; 9];
        let mut w = WordBuf::new(&mut buf);
        assert!(w.is_empty());
        assert!(w.push("ab"));
        assert!(w.push("cd"));
        assert!(!w.push("efgh"), "3 bytes left, 5 needed");
        assert!(w.push("ef"));
        assert_eq!(w.len(), 8);
        assert_eq!(w.into_str(), "ab cd ef");
    }

    #[test]
    fn a_first_word_may_fill_the_buffer() {
        let mut buf = [0u8; 4];
        let mut w = WordBuf::new(&mut buf);
        assert!(w.push("abcd"));
        assert!(!w.push("e"));
        assert_eq!(w.into_str(), "abcd");
    }
}
