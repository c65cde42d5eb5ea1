// SPDX-License-Identifier: MIT OR Apache-2.0
//! Boot: multiboot headers, the 32-bit entry, long mode, the higher half.
//!
//! One ELF boots from QEMU `-kernel` and from GRUB2:
//!
//! * **QEMU `-kernel`** speaks multiboot 1 only, and refuses a 64-bit ELF
//!   unless the header sets the *a.out kludge* (flags bit 16): QEMU then
//!   ignores the ELF headers and copies the file bytes from the header's
//!   file offset to `load_addr..load_end_addr`, zeroes up to `bss_end_addr`
//!   and jumps to `entry_addr` in 32-bit protected mode, `eax = 0x2BADB002`.
//!   The board's `link.ld` therefore keeps the image one contiguous
//!   `PT_LOAD` segment, linked at `KERNEL_OFFSET + 1 MiB`, loaded at 1 MiB.
//! * **GRUB2** (`multiboot2 /boot/kernel.elf`) loads the ELF segments at
//!   their physical addresses and enters at the address of the multiboot2
//!   *entry address tag*, `eax = 0x36D76289`.
//!
//! The 32-bit code builds the boot page tables (identity map of the first
//! GiB, for the switch; the same GiB at `KERNEL_OFFSET` with global 2 MiB
//! pages, which is the kernel's own mapping and its direct map of RAM),
//! turns on PAE, long mode, NX, `syscall` and paging, and jumps to the
//! higher half, which drops the identity map, remaps the kernel W^X
//! (`paging::ipcb_protect_kernel`: text read + execute, rodata read-only, the
//! rest never executable) and calls the board's init hook
//! (`ipcb_board_init`, `runtime::Board::init`), then its
//! `ipcb_kernel_main(magic, info)`.
//!
//! The 32-bit code first copies a multiboot 2 information structure into
//! the image ([`INFO_MAX`] bytes at most): GRUB may put it anywhere below
//! 4 GiB, and once paging is on the kernel reaches only its direct map.
//! `parse` decodes the copy ([`parse_mb2`], host-tested), the memory map
//! included ([`crate::memmap`]).
//!
//! The board's linker script must define `__kernel_start`, `__load_end` (end
//! of the file-backed part), `__bss_end`, and the page-aligned `__text_end`
//! (end of the boot code and `.text`) and `__rodata_end`.

use crate::memmap::{self, MemMap, Range, Source};

pub use crate::layout::{DIRECT_MAP_SIZE, KERNEL_OFFSET};
/// Multiboot 1 magic in `eax`.
pub const MB1_BOOT_MAGIC: u64 = 0x2BAD_B002;
/// Multiboot 2 magic in `eax`.
pub const MB2_BOOT_MAGIC: u64 = 0x36D7_6289;
/// Room for the copy of the multiboot 2 information structure the 32-bit
/// entry makes (a big server's EFI memory map is some 20 KiB).
pub const INFO_MAX: usize = 64 * 1024;
/// Most problems [`BootInfo`] keeps for the console.
pub const MAX_WARNINGS: usize = 4;

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .set KOFF, 0xFFFFFFFF80000000
    .set MB1_MAGIC, 0x1BADB002
    .set MB1_FLAGS, 0x00010003          /* page-align, memory info, a.out kludge */
    .set MB2_MAGIC, 0xE85250D6
    .set INFO_MAX, {info_max}           /* room for the multiboot 2 copy   */

    .section .boot.header, "a"
    .balign 8
ipcb_mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long 0x100000000 - MB1_MAGIC - MB1_FLAGS   /* checksum: the three sum to 0 */
    .long ipcb_mb1_header - KOFF        /* header_addr (physical) */
    .long __kernel_start - KOFF         /* load_addr */
    .long __load_end - KOFF             /* load_end_addr */
    .long __bss_end - KOFF              /* bss_end_addr */
    .long ipcb_start32 - KOFF           /* entry_addr */

    .balign 8
ipcb_mb2_header:
    .long MB2_MAGIC
    .long 0                             /* architecture: i386 protected mode */
    .long ipcb_mb2_end - ipcb_mb2_header
    .long 0x100000000 - MB2_MAGIC - (ipcb_mb2_end - ipcb_mb2_header)
    .balign 8
    .short 3                            /* entry address tag */
    .short 0
    .long 12
    .long ipcb_start32 - KOFF
    .balign 8
    .short 5                            /* framebuffer tag: a linear mode, */
    .short 1                            /* optional (text mode boots too)  */
    .long 20
    .long 1024                          /* width, height, depth preferred  */
    .long 768
    .long 32
    .balign 8
    .short 0                            /* end tag */
    .short 0
    .long 8
ipcb_mb2_end:

    .section .boot.text, "ax"
    .code32
    .global ipcb_start32
ipcb_start32:
    cli
    cld
    mov %eax, %edi                      /* edi = loader magic */
    mov %ebx, %esi                      /* esi = boot information (physical) */

    /* Multiboot 2: copy the information structure into the image now,
       wherever below 4 GiB the loader put it. Paging is off, so every
       address below 4 GiB is reachable here; later only the direct map
       is. The original stays where it is, untouched. */
    cmp $0x36D76289, %eax
    jne 5f
    test %ebx, %ebx
    jz 5f                               /* no structure                    */
    mov (%ebx), %ecx                    /* ecx = total_size                */
    mov %ebx, %edx
    add %ecx, %edx
    jc 5f                               /* runs past 4 GiB: out of reach   */
    cmp $INFO_MAX, %ecx
    jbe 4f
    mov $INFO_MAX, %ecx                 /* too big: keep the first part    */
4:  mov %ecx, (ipcb_boot_info_len - KOFF)
    mov $(ipcb_boot_info - KOFF), %edi
    rep movsb                           /* copy ecx bytes from esi to edi  */
    mov %eax, %edi                      /* edi, esi as before              */
    mov %ebx, %esi
5:

    /* Both page directories map 0..1 GiB with 2 MiB pages; the kernel's
       is global (survives CR3 switches), the identity one is not. */
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax                       /* eax = ecx * 2 MiB */
    or $0x183, %eax                     /* present | writable | 2 MiB | global */
    mov %eax, (ipcb_kernel_pd - KOFF)(,%ecx,8)
    movl $0, (ipcb_kernel_pd - KOFF + 4)(,%ecx,8)
    and $0xFFFFFEFF, %eax               /* identity copy: not global */
    mov %eax, (ipcb_boot_pd - KOFF)(,%ecx,8)
    movl $0, (ipcb_boot_pd - KOFF + 4)(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jne 1b

    movl $(ipcb_boot_pdpt - KOFF + 3), (ipcb_pml4 - KOFF)             /* PML4[0] */
    movl $(ipcb_kernel_pdpt - KOFF + 3), (ipcb_pml4 - KOFF + 511*8)   /* PML4[511] */
    movl $(ipcb_boot_pd - KOFF + 3), (ipcb_boot_pdpt - KOFF)          /* PDPT[0] */
    movl $(ipcb_kernel_pd - KOFF + 3), (ipcb_kernel_pdpt - KOFF + 510*8) /* PDPT[510] */

    mov $(ipcb_pml4 - KOFF), %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0xA0, %eax                      /* PAE | PGE */
    mov %eax, %cr4
    mov $0xC0000080, %ecx               /* IA32_EFER */
    rdmsr
    or $0x901, %eax                     /* SCE | LME | NXE */
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                /* PG | WP | PE */
    mov %eax, %cr0
    lgdt (ipcb_boot_gdtr - KOFF)
    ljmp $0x08, $(ipcb_start64_low - KOFF)

    .code64
ipcb_start64_low:
    movabs $ipcb_start64, %rax          /* leave the identity map */
    jmp *%rax

    .balign 16
ipcb_boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF            /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF            /* 0x10: data */
ipcb_boot_gdtr:
    .short 23
    .long ipcb_boot_gdt - KOFF

    .section .text.ipcb_start64, "ax"
ipcb_start64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    lea ipcb_boot_stack_top(%rip), %rsp
    movq $0, ipcb_pml4(%rip)            /* drop the identity map */
    mov %cr3, %rax
    mov %rax, %cr3
    mov %edi, %edi                      /* zero-extend magic and info */
    mov %esi, %esi
    push %rdi
    push %rsi
    call ipcb_protect_kernel            /* W^X: paging.rs */
    call ipcb_board_init                /* the board's init hook (runtime::Board::init) */
    pop %rsi
    pop %rdi
    call ipcb_kernel_main               /* never returns */
2:  hlt
    jmp 2b

    .section .bss.ipcb_boot, "aw", @nobits
    .balign 4096
    .global ipcb_pml4, ipcb_boot_pdpt, ipcb_kernel_pdpt
ipcb_pml4:        .skip 4096
ipcb_boot_pdpt:   .skip 4096
ipcb_kernel_pdpt: .skip 4096
ipcb_boot_pd:     .skip 4096
ipcb_kernel_pd:   .skip 4096
    .balign 16
    .skip 262144                        /* boot stack: the driver runs here */
ipcb_boot_stack_top:
    .balign 8
    .global ipcb_boot_info, ipcb_boot_info_len
ipcb_boot_info:   .skip {info_max}      /* the copy of the multiboot 2 information */
ipcb_boot_info_len: .skip 4             /* bytes copied (0: none)          */
"#,
    info_max = const INFO_MAX,
    options(att_syntax)
);

/// What the boot loader told us.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// The kernel command line (empty if none).
    pub cmdline: &'static str,
    /// Which protocol booted us.
    pub loader: &'static str,
    /// Usable RAM (within the direct map; the total of all of it too).
    pub mem: MemMap,
    /// What the loader handed over that the kernel must not overwrite
    /// (the information structure, the command line, the memory map):
    /// taken out of [`BootInfo::mem`] by the caller, with the image.
    pub reserved: [Range; 3],
    /// Physical address of the multiboot information structure (0: none).
    pub info_pa: u64,
    /// Physical address of the copy of the ACPI RSDP the loader passed
    /// (multiboot 2 tags 14 and 15), if any.
    pub rsdp: Option<u64>,
    /// The EFI system table (multiboot 2 tag 12, 64-bit firmware: `true`;
    /// tag 11, 32-bit: `false`), if any: its configuration table names the
    /// RSDP too.
    pub efi_system_table: Option<(u64, bool)>,
    /// The framebuffer the loader set up (multiboot 2 tag 8), if any.
    pub framebuffer: Option<crate::fbcon::Framebuffer>,
    /// Problems with what the loader passed, one `IPCB warn` line each.
    pub warnings: [&'static str; MAX_WARNINGS],
    /// How many of `warnings` are set.
    pub n_warnings: usize,
}

impl BootInfo {
    fn new(loader: &'static str) -> Self {
        BootInfo {
            cmdline: "",
            loader,
            mem: MemMap::new(DIRECT_MAP_SIZE, Source::Assumed),
            reserved: [Range::default(); 3],
            info_pa: 0,
            rsdp: None,
            efi_system_table: None,
            framebuffer: None,
            warnings: [""; MAX_WARNINGS],
            n_warnings: 0,
        }
    }

    /// The problems found, in order.
    pub fn warnings(&self) -> &[&'static str] {
        &self.warnings[..self.n_warnings]
    }

    fn warn(&mut self, why: &'static str) {
        if self.n_warnings < MAX_WARNINGS {
            self.warnings[self.n_warnings] = why;
            self.n_warnings += 1;
        }
    }

    /// No map from the loader: assume the RAM every PC has, 1 to 64 MiB.
    fn assume_ram(&mut self) {
        if self.mem.ranges().iter().all(|r| r.end <= 0x10_0000) {
            self.mem = MemMap::new(DIRECT_MAP_SIZE, Source::Assumed);
            self.mem.add(0x8000, 0x1000); // the AP trampoline's page
            self.mem.add(0x10_0000, 63 << 20);
            self.warn("no memory map from the boot loader: assuming RAM from 1 to 64 MiB");
        }
    }
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off.checked_add(4)?)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off.checked_add(8)?)?.try_into().ok()?))
}

/// The NUL-terminated string at the start of `b` (empty if not UTF-8).
fn c_str_in(b: &'static [u8]) -> &'static str {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..n]).unwrap_or("")
}

/// Decode a multiboot 2 information structure: `info` is the copy the
/// entry made, `copy_pa` its physical address (the RSDP tags are used in
/// place, in the copy), `info_pa` where the loader put the original and
/// `total` the size it claims (more than `info.len()` when the copy is
/// cut short).
pub fn parse_mb2(info: &'static [u8], copy_pa: u64, info_pa: u64, total: u64) -> BootInfo {
    let mut bi = BootInfo::new("multiboot2");
    bi.info_pa = info_pa;
    bi.reserved[0] = Range { start: info_pa, end: info_pa + total };
    if total > info.len() as u64 {
        bi.warn("multiboot2 information larger than the kernel's 64 KiB copy: tags beyond it ignored");
    }
    let (mut basic, mut e820, mut efi) = (None, None, None);
    let mut boot_services_exited = true;
    let mut off = 8;
    while let (Some(ty), Some(size)) = (u32_at(info, off), u32_at(info, off + 4)) {
        let size = size as usize;
        let Some(tag) = info.get(off..off.saturating_add(size)).filter(|_| size >= 8) else {
            if ty != 0 {
                bi.warn("multiboot2 information cut short: a tag runs past its end");
            }
            break;
        };
        match ty {
            0 => break,
            1 => bi.cmdline = c_str_in(&info[off + 8..off + size]),
            4 => basic = Some(tag),
            6 => e820 = Some(tag),
            11 => bi.efi_system_table = u32_at(tag, 8).map(|p| (u64::from(p), false)),
            12 => bi.efi_system_table = u64_at(tag, 8).map(|p| (p, true)),
            // A copy of the RSDP (v1 or v2) follows the tag header;
            // prefer the v2 one (its XSDT), whichever comes first.
            14 if bi.rsdp.is_none() => bi.rsdp = Some(copy_pa + off as u64 + 8),
            15 => bi.rsdp = Some(copy_pa + off as u64 + 8),
            8 => bi.framebuffer = crate::fbcon::Framebuffer::from_tag(tag),
            17 => efi = Some(tag),
            18 => boot_services_exited = false,
            _ => {}
        }
        off += (size + 7) & !7;
    }
    if let Some(tag) = efi {
        bi.mem = MemMap::new(DIRECT_MAP_SIZE, Source::Efi);
        let step = u32_at(tag, 8).unwrap_or(0) as usize;
        if step >= 40 {
            let mut d = 16;
            while d + 40 <= tag.len() {
                let (ty, start, pages) = (u32_at(tag, d), u64_at(tag, d + 8), u64_at(tag, d + 24));
                if let (Some(ty), Some(start), Some(pages)) = (ty, start, pages)
                    && memmap::efi_type_usable(ty, boot_services_exited)
                {
                    bi.mem.add(start, pages.saturating_mul(4096));
                }
                d += step;
            }
        }
    }
    if bi.mem.total == 0
        && let Some(tag) = e820
    {
        bi.mem = MemMap::new(DIRECT_MAP_SIZE, Source::E820);
        let step = u32_at(tag, 8).unwrap_or(0) as usize;
        if step >= 24 {
            let mut e = 16;
            while e + 24 <= tag.len() {
                if let (Some(start), Some(len), Some(1)) = (u64_at(tag, e), u64_at(tag, e + 8), u32_at(tag, e + 16)) {
                    bi.mem.add(start, len);
                }
                e += step;
            }
        }
    }
    if bi.mem.total == 0
        && let Some(tag) = basic
    {
        bi.mem = MemMap::new(DIRECT_MAP_SIZE, Source::Basic);
        let (lower, upper) = (u32_at(tag, 8).unwrap_or(0), u32_at(tag, 12).unwrap_or(0));
        bi.mem.add(0, u64::from(lower) * 1024);
        bi.mem.add(0x10_0000, u64::from(upper) * 1024);
    }
    bi.assume_ram();
    bi
}

/// Read a NUL-terminated string at physical address `pa`.
///
/// # Safety
///
/// `pa` must point into the direct map at a NUL-terminated string that
/// stays unchanged for the life of the kernel.
#[cfg(target_os = "none")]
unsafe fn c_str(pa: u64) -> &'static str {
    if pa == 0 || pa >= DIRECT_MAP_SIZE - 4096 {
        return "";
    }
    let p = (pa + KERNEL_OFFSET) as *const u8;
    let mut n = 0;
    // SAFETY: the caller promises a NUL-terminated string; we stop at 4 KiB.
    while n < 4096 && unsafe { p.add(n).read() } != 0 {
        n += 1;
    }
    // SAFETY: `n` bytes from `p` are readable and not written again.
    let bytes = unsafe { core::slice::from_raw_parts(p, n) };
    core::str::from_utf8(bytes).unwrap_or("")
}

/// Read a `u32` at physical address `pa`.
///
/// # Safety
///
/// `pa + 4` must lie in the direct map.
#[cfg(target_os = "none")]
unsafe fn rd32(pa: u64) -> u32 {
    // SAFETY: in the direct map, per the caller.
    unsafe { ((pa + KERNEL_OFFSET) as *const u32).read_unaligned() }
}

/// Read a `u64` at physical address `pa`.
///
/// # Safety
///
/// `pa + 8` must lie in the direct map.
#[cfg(target_os = "none")]
unsafe fn rd64(pa: u64) -> u64 {
    // SAFETY: in the direct map, per the caller.
    unsafe { ((pa + KERNEL_OFFSET) as *const u64).read_unaligned() }
}

#[cfg(target_os = "none")]
unsafe extern "C" {
    static ipcb_boot_info: [u8; INFO_MAX];
    static ipcb_boot_info_len: u32;
}

/// Decode the multiboot 1 or 2 information the loader handed over
/// (multiboot 2: the copy the 32-bit entry made).
#[cfg(target_os = "none")]
pub fn parse(magic: u64, info: u64) -> BootInfo {
    use core::ptr::addr_of;
    if magic == MB2_BOOT_MAGIC {
        // SAFETY: written by the 32-bit entry only, before any Rust code.
        let len = unsafe { ipcb_boot_info_len } as usize;
        if len < 16 {
            let mut bi = BootInfo::new("multiboot2");
            bi.warn(if info == 0 {
                "no multiboot2 information structure"
            } else {
                "multiboot2 information structure out of reach (bad size, or past 4 GiB)"
            });
            bi.assume_ram();
            return bi;
        }
        // SAFETY: the copy is `len` bytes, in the image, never written
        // again after the entry made it.
        let copy: &'static [u8] =
            unsafe { core::slice::from_raw_parts(addr_of!(ipcb_boot_info).cast::<u8>(), len.min(INFO_MAX)) };
        let total = u64::from(u32_at(copy, 0).unwrap_or(0));
        let copy_pa = addr_of!(ipcb_boot_info) as u64 - KERNEL_OFFSET;
        return parse_mb2(copy, copy_pa, info, total);
    }
    let mut bi = BootInfo::new(if magic == MB1_BOOT_MAGIC { "multiboot1" } else { "unknown" });
    if magic != MB1_BOOT_MAGIC {
        bi.warn("not started by a multiboot loader: no boot information");
    } else if info == 0 || info >= DIRECT_MAP_SIZE - 4096 {
        bi.warn("multiboot1 information structure out of reach (beyond the first GiB)");
    } else {
        bi.info_pa = info;
        // SAFETY: the loader put the info structure at `info`, in low RAM
        // (checked above).
        let flags = unsafe { rd32(info) };
        // The fixed part of the structure is 116 bytes (with the
        // framebuffer fields).
        bi.reserved[0] = Range { start: info, end: info + 116 };
        if flags & 4 != 0 {
            // SAFETY: the cmdline pointer is at +16 and names a C string.
            let pa = u64::from(unsafe { rd32(info + 16) });
            // SAFETY: as above.
            bi.cmdline = unsafe { c_str(pa) };
            bi.reserved[1] = Range { start: pa, end: pa + bi.cmdline.len() as u64 + 1 };
        }
        if flags & (1 << 6) != 0 {
            // SAFETY: mmap_length at +44, mmap_addr at +48.
            let (len, pa) = unsafe { (u64::from(rd32(info + 44)), u64::from(rd32(info + 48))) };
            bi.reserved[2] = Range { start: pa, end: pa + len };
            bi.mem = MemMap::new(DIRECT_MAP_SIZE, Source::E820);
            let mut e = pa;
            // Each entry: size (of the rest), base, length, type.
            while len <= DIRECT_MAP_SIZE && e + 24 <= pa + len && e + 24 < DIRECT_MAP_SIZE {
                // SAFETY: inside the map the loader described, in the direct map.
                let (size, base, n, ty) = unsafe { (rd32(e), rd64(e + 4), rd64(e + 12), rd32(e + 20)) };
                if ty == 1 {
                    bi.mem.add(base, n);
                }
                e += u64::from(size) + 4;
            }
        }
        if bi.mem.total == 0 && flags & 1 != 0 {
            bi.mem = MemMap::new(DIRECT_MAP_SIZE, Source::Basic);
            // SAFETY: mem_lower at +4, mem_upper at +8.
            let (lower, upper) = unsafe { (rd32(info + 4), rd32(info + 8)) };
            bi.mem.add(0, u64::from(lower) * 1024);
            bi.mem.add(0x10_0000, u64::from(upper) * 1024);
        }
    }
    bi.assume_ram();
    bi
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn tag(out: &mut Vec<u8>, ty: u32, body: &[u8]) {
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&(8 + body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
    }

    fn info(tags: &[(u32, Vec<u8>)]) -> &'static [u8] {
        let mut v = std::vec![0u8; 8];
        for (ty, body) in tags {
            tag(&mut v, *ty, body);
        }
        tag(&mut v, 0, &[]);
        let n = v.len() as u32;
        v[..4].copy_from_slice(&n.to_le_bytes());
        v.leak()
    }

    fn efi_map(descs: &[(u32, u64, u64)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&48u32.to_le_bytes()); // descriptor size
        b.extend_from_slice(&1u32.to_le_bytes()); // version
        for &(ty, start, pages) in descs {
            let mut d = [0u8; 48];
            d[..4].copy_from_slice(&ty.to_le_bytes());
            d[8..16].copy_from_slice(&start.to_le_bytes());
            d[24..32].copy_from_slice(&pages.to_le_bytes());
            b.extend_from_slice(&d);
        }
        b
    }

    fn e820(entries: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&24u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for &(start, len, ty) in entries {
            b.extend_from_slice(&start.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&ty.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
        }
        b
    }

    #[test]
    fn efi_map_wins_over_e820_and_basic() {
        let i = info(&[
            (1, b"rounds=5\0".to_vec()),
            (4, [640u32.to_le_bytes(), 7168u32.to_le_bytes()].concat()),
            (6, e820(&[(0, 0x9_F000, 1), (0x10_0000, 8 << 30, 1)])),
            (17, efi_map(&[(7, 0, 0x9F), (2, 0x10_0000, 0x100), (7, 0x20_0000, 0x600), (4, 0x80_0000, 0x1000), (7, 1 << 32, 0x10_0000)])),
            (15, std::vec![0u8; 36]),
        ]);
        let bi = parse_mb2(i, 0x1000, 0x7F00_0000, i.len() as u64);
        assert_eq!(bi.cmdline, "rounds=5");
        assert_eq!(bi.mem.source, Source::Efi);
        assert_eq!(bi.mem.total, (0x9F + 0x600 + 0x1000 + 0x10_0000) * 4096);
        // Conventional and boot-services data merge; loader data is left out.
        assert_eq!(bi.mem.ranges(), &[Range { start: 0, end: 0x9_F000 }, Range { start: 0x20_0000, end: 0x180_0000 }]);
        assert!(bi.rsdp.is_some_and(|pa| pa > 0x1000));
        assert_eq!(bi.reserved[0], Range { start: 0x7F00_0000, end: 0x7F00_0000 + i.len() as u64 });
        assert!(bi.warnings().is_empty());
    }

    #[test]
    fn framebuffer_tag() {
        let mut body = std::vec![0u8; 30];
        body[..8].copy_from_slice(&0xFD00_0000u64.to_le_bytes());
        body[8..12].copy_from_slice(&4096u32.to_le_bytes());
        body[12..16].copy_from_slice(&1024u32.to_le_bytes());
        body[16..20].copy_from_slice(&768u32.to_le_bytes());
        body[20] = 32;
        body[21] = 1;
        body[24..30].copy_from_slice(&[16, 8, 8, 8, 0, 8]);
        let i = info(&[(8, body)]);
        let fb = parse_mb2(i, 0, 0x10000, i.len() as u64).framebuffer.unwrap();
        assert_eq!((fb.addr, fb.pitch, fb.width, fb.height, fb.bpp, fb.kind), (0xFD00_0000, 4096, 1024, 768, 32, 1));
        assert!(fb.drawable());
        assert!(parse_mb2(info(&[]), 0, 0x10000, 16).framebuffer.is_none());
    }

    #[test]
    fn e820_then_basic_then_an_assumption() {
        let i = info(&[(6, e820(&[(0x10_0000, 255 << 20, 1), (0xFEC0_0000, 0x1000, 2)]))]);
        let bi = parse_mb2(i, 0, 0x10000, i.len() as u64);
        assert_eq!((bi.mem.source, bi.mem.total), (Source::E820, 255 << 20));
        let i = info(&[(4, [640u32.to_le_bytes(), 7168u32.to_le_bytes()].concat())]);
        assert_eq!(parse_mb2(i, 0, 0x10000, i.len() as u64).mem.source, Source::Basic);
        let i = info(&[]);
        let bi = parse_mb2(i, 0, 0x10000, i.len() as u64);
        assert_eq!(bi.mem.source, Source::Assumed);
        assert_eq!(bi.warnings().len(), 1);
    }

    #[test]
    fn truncated_information_is_reported_and_used_as_far_as_it_goes() {
        let i = info(&[(6, e820(&[(0x10_0000, 255 << 20, 1)])), (6, std::vec![0u8; 64])]);
        let cut = &i[..i.len() - 40];
        let bi = parse_mb2(cut, 0, 0x10000, i.len() as u64);
        assert_eq!(bi.mem.total, 255 << 20);
        assert_eq!(bi.warnings().len(), 2);
    }

    #[test]
    fn boot_services_still_running_keep_their_memory() {
        let i = info(&[(17, efi_map(&[(7, 0x10_0000, 0x100), (4, 0x20_0000, 0x100)])), (18, Vec::new())]);
        let bi = parse_mb2(i, 0, 0x10000, i.len() as u64);
        assert_eq!(bi.mem.total, 0x100 * 4096);
    }
}
