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
//! higher half, which drops the identity map and calls the board's
//! `ipcb_kernel_main(magic, info)`.
//!
//! The board's linker script must define `__kernel_start`, `__load_end` (end
//! of the file-backed part) and `__bss_end`.

/// Virtual address of physical address 0 in the kernel's mapping.
pub const KERNEL_OFFSET: u64 = 0xFFFF_FFFF_8000_0000;
/// The kernel maps (and can reach) the first GiB of physical memory.
pub const DIRECT_MAP_SIZE: u64 = 1 << 30;
/// Multiboot 1 magic in `eax`.
pub const MB1_BOOT_MAGIC: u64 = 0x2BAD_B002;
/// Multiboot 2 magic in `eax`.
pub const MB2_BOOT_MAGIC: u64 = 0x36D7_6289;

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .set KOFF, 0xFFFFFFFF80000000
    .set MB1_MAGIC, 0x1BADB002
    .set MB1_FLAGS, 0x00010003          /* page-align, memory info, a.out kludge */
    .set MB2_MAGIC, 0xE85250D6

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
"#,
    options(att_syntax)
);

/// What the boot loader told us.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// The kernel command line (empty if none).
    pub cmdline: &'static str,
    /// End of usable RAM above 1 MiB (physical), if the loader said.
    pub mem_top: Option<u64>,
    /// Which protocol booted us.
    pub loader: &'static str,
    /// End (physical) of what the loader handed over: the information
    /// structure, the command line and the memory map. Memory the kernel
    /// hands out must start above it (QEMU puts it right after the image).
    pub info_end: u64,
    /// Physical address of the copy of the ACPI RSDP the loader passed
    /// (multiboot 2 tags 14 and 15), if any.
    pub rsdp: Option<u64>,
}

/// Read a NUL-terminated string at physical address `pa`.
///
/// # Safety
///
/// `pa` must point into the direct map at a NUL-terminated string that
/// stays unchanged for the life of the kernel.
#[cfg(target_os = "none")]
unsafe fn c_str(pa: u64) -> &'static str {
    if pa == 0 || pa >= DIRECT_MAP_SIZE {
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

/// Decode the multiboot 1 or 2 information the loader handed over.
#[cfg(target_os = "none")]
pub fn parse(magic: u64, info: u64) -> BootInfo {
    let mut bi = BootInfo { cmdline: "", mem_top: None, loader: "unknown", info_end: 0, rsdp: None };
    if info == 0 || info >= DIRECT_MAP_SIZE - 4096 {
        return bi;
    }
    if magic == MB1_BOOT_MAGIC {
        bi.loader = "multiboot1";
        // SAFETY: the loader put the info structure at `info`, in low RAM.
        let flags = unsafe { rd32(info) };
        if flags & 1 != 0 {
            // SAFETY: as above; mem_upper is at +8.
            bi.mem_top = Some(0x10_0000 + u64::from(unsafe { rd32(info + 8) }) * 1024);
        }
        // The fixed part of the structure is 116 bytes (with the
        // framebuffer fields).
        bi.info_end = info + 116;
        if flags & 4 != 0 {
            // SAFETY: the cmdline pointer is at +16 and names a C string.
            let pa = u64::from(unsafe { rd32(info + 16) });
            // SAFETY: as above.
            bi.cmdline = unsafe { c_str(pa) };
            bi.info_end = bi.info_end.max(pa + bi.cmdline.len() as u64 + 1);
        }
        if flags & (1 << 6) != 0 {
            // SAFETY: mmap_length at +44, mmap_addr at +48.
            let (len, pa) = unsafe { (rd32(info + 44), rd32(info + 48)) };
            bi.info_end = bi.info_end.max(u64::from(pa) + u64::from(len));
        }
    } else if magic == MB2_BOOT_MAGIC {
        bi.loader = "multiboot2";
        // SAFETY: the loader put the info structure at `info`, in low RAM.
        let total = u64::from(unsafe { rd32(info) });
        bi.info_end = info + total;
        let mut tag = info + 8;
        while tag + 8 <= info + total {
            // SAFETY: inside the info structure.
            let (ty, size) = unsafe { (rd32(tag), rd32(tag + 4)) };
            match ty {
                0 => break,
                // SAFETY: the string follows the 8-byte tag header.
                1 => bi.cmdline = unsafe { c_str(tag + 8) },
                // SAFETY: mem_upper at +12 of the basic memory tag.
                4 => bi.mem_top = Some(0x10_0000 + u64::from(unsafe { rd32(tag + 12) }) * 1024),
                // A copy of the RSDP (v1 or v2) follows the tag header;
                // prefer the v2 one (its XSDT), whichever comes first.
                14 if bi.rsdp.is_none() => bi.rsdp = Some(tag + 8),
                15 => bi.rsdp = Some(tag + 8),
                _ => {}
            }
            tag += (u64::from(size) + 7) & !7;
        }
    }
    bi
}
