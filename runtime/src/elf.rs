// SPDX-License-Identifier: MIT OR Apache-2.0
//! A minimal ELF64 reader for the embedded user program: the header checks
//! and the `PT_LOAD` segments, nothing else.

/// One loadable segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Segment {
    /// Virtual address.
    pub vaddr: u64,
    /// Size in memory (the part past `filesz` is zero).
    pub memsz: u64,
    /// Bytes taken from the file.
    pub filesz: u64,
    /// File offset of those bytes.
    pub offset: u64,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

/// Why an image was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ElfError {
    /// Not a little-endian ELF64 executable.
    NotElf64,
    /// Built for another machine.
    WrongMachine,
    /// A header or segment lies outside the file.
    Truncated,
}

/// ELF machine numbers.
pub const EM_X86_64: u16 = 62;
/// AArch64.
pub const EM_AARCH64: u16 = 183;

fn u16_at(b: &[u8], o: usize) -> Result<u16, ElfError> {
    b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or(ElfError::Truncated)
}
fn u32_at(b: &[u8], o: usize) -> Result<u32, ElfError> {
    let s = b.get(o..o + 4).ok_or(ElfError::Truncated)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn u64_at(b: &[u8], o: usize) -> Result<u64, ElfError> {
    let s = b.get(o..o + 8).ok_or(ElfError::Truncated)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

/// A checked ELF image.
#[derive(Clone, Copy, Debug)]
pub struct Elf<'a> {
    bytes: &'a [u8],
    /// Entry point.
    pub entry: u64,
    phoff: usize,
    phentsize: usize,
    phnum: usize,
}

impl<'a> Elf<'a> {
    /// Check the header of `bytes` (for `machine`).
    pub fn parse(bytes: &'a [u8], machine: u16) -> Result<Self, ElfError> {
        if bytes.len() < 64
            || bytes.get(0..4) != Some(b"\x7fELF")
            || bytes.get(4) != Some(&2)
            || bytes.get(5) != Some(&1)
        {
            return Err(ElfError::NotElf64);
        }
        if u16_at(bytes, 18)? != machine {
            return Err(ElfError::WrongMachine);
        }
        let e = Elf {
            bytes,
            entry: u64_at(bytes, 24)?,
            phoff: u64_at(bytes, 32)? as usize,
            phentsize: u16_at(bytes, 54)? as usize,
            phnum: u16_at(bytes, 56)? as usize,
        };
        if e.phentsize < 56 {
            return Err(ElfError::NotElf64);
        }
        Ok(e)
    }

    /// The `PT_LOAD` segments.
    pub fn segments(&self) -> impl Iterator<Item = Result<Segment, ElfError>> + '_ {
        (0..self.phnum).filter_map(move |i| {
            let o = self.phoff + i * self.phentsize;
            let r = (|| {
                if u32_at(self.bytes, o)? != 1 {
                    return Ok(None);
                }
                let flags = u32_at(self.bytes, o + 4)?;
                let s = Segment {
                    offset: u64_at(self.bytes, o + 8)?,
                    vaddr: u64_at(self.bytes, o + 16)?,
                    filesz: u64_at(self.bytes, o + 32)?,
                    memsz: u64_at(self.bytes, o + 40)?,
                    write: flags & 2 != 0,
                    exec: flags & 1 != 0,
                };
                if s.offset.checked_add(s.filesz).is_none_or(|e| e > self.bytes.len() as u64)
                    || s.filesz > s.memsz
                {
                    return Err(ElfError::Truncated);
                }
                Ok(Some(s))
            })();
            r.transpose()
        })
    }

    /// The file bytes of `seg`.
    pub fn data(&self, seg: &Segment) -> &'a [u8] {
        &self.bytes[seg.offset as usize..(seg.offset + seg.filesz) as usize]
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    fn image() -> std::vec::Vec<u8> {
        let mut b = vec![0u8; 64 + 56 + 16];
        b[0..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[24..32].copy_from_slice(&0x40_1000u64.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        let p = 64;
        b[p..p + 4].copy_from_slice(&1u32.to_le_bytes());
        b[p + 4..p + 8].copy_from_slice(&5u32.to_le_bytes());
        b[p + 8..p + 16].copy_from_slice(&120u64.to_le_bytes());
        b[p + 16..p + 24].copy_from_slice(&0x40_0000u64.to_le_bytes());
        b[p + 32..p + 40].copy_from_slice(&16u64.to_le_bytes());
        b[p + 40..p + 48].copy_from_slice(&0x2000u64.to_le_bytes());
        b
    }

    #[test]
    fn parses_segments() {
        let b = image();
        let e = Elf::parse(&b, EM_X86_64).unwrap();
        assert_eq!(e.entry, 0x40_1000);
        let segs: std::vec::Vec<_> = e.segments().collect();
        assert_eq!(segs.len(), 1);
        let s = segs[0].unwrap();
        assert_eq!((s.vaddr, s.memsz, s.filesz, s.exec, s.write), (0x40_0000, 0x2000, 16, true, false));
        assert_eq!(e.data(&s).len(), 16);
    }

    #[test]
    fn rejects_bad_images() {
        let b = image();
        assert_eq!(Elf::parse(&b[..10], EM_X86_64).unwrap_err(), ElfError::NotElf64);
        assert_eq!(Elf::parse(&b, EM_AARCH64).unwrap_err(), ElfError::WrongMachine);
        let mut t = b.clone();
        t[64 + 32..64 + 40].copy_from_slice(&1000u64.to_le_bytes());
        let e = Elf::parse(&t, EM_X86_64).unwrap();
        assert_eq!(e.segments().next().unwrap(), Err(ElfError::Truncated));
    }
}
