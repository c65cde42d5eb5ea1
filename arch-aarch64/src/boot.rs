// SPDX-License-Identifier: MIT OR Apache-2.0
//! Boot: from the loader's jump (MMU off, EL1 or EL2) to the board's
//! `ipcb_kernel_main(el, x0)` in the higher half.
//!
//! The kernel is linked in the top 2 GiB (the image in the GiB at
//! [`KERNEL_VA_BASE`]; [`crate::paging::DEVICE_VA`] is a window onto the
//! devices, [`crate::paging::DIRECT_MAP_VA`] the direct map of RAM) and
//! runs wherever the loader put it, as long as that is congruent to its
//! link address modulo 2 MiB: the boot code is position-independent
//! (`adr`/`adrp` until the MMU is on) and maps each 2 MiB block of the
//! linked image onto the block it was loaded in.
//!
//! **The image** starts with the Linux arm64 Image header (64 bytes,
//! `Documentation/arch/arm64/booting.rst`), so U-Boot's `booti`, the
//! Raspberry Pi firmware and QEMU's `-kernel` all take the raw binary
//! (`objcopy -O binary`): `code0` branches to `ipcb_start`; `text_offset`
//! is the link address modulo 2 MiB (0 on `virt`, 0x80000 on the Pis);
//! `image_size` the whole footprint, `.bss` included; `flags`
//! [`IMAGE_FLAGS`] (little-endian, 4 KiB pages, anywhere in RAM); the
//! magic `ARM\x64` at offset 0x38. The loader enters at the header with
//! `x0` = the device tree, the MMU off, at EL2 or EL1. The ELF's entry
//! point is the *physical* address of the header too (the board's
//! `link.ld` arranges it), as QEMU `-kernel` jumps there with the MMU off.
//!
//! **A misplaced image** (not `text_offset` from a 2 MiB boundary, against
//! the boot protocol) is mapped as any other: the image window is always
//! mapped by 4 KiB pages (two level-3 tables: the image may span two 2 MiB
//! blocks of its link addresses, which `kernel.ld` checks), each onto its
//! physical page; [`misplaced_load`] tells the board's glue, which says so
//! in one `IPCB warn` line and runs as usual. An image not even 4 KiB-aligned as
//! linked cannot be mapped at all: the boot CPU parks at once (no console
//! is mapped yet).
//!
//! `ipcb_start`, running at its physical address:
//!
//! 1. masks interrupts and looks at `CurrentEL`:
//!    * **EL1**: on;
//!    * **EL2 with VHE** (`ID_AA64MMFR1_EL1.VH`), unless the board's
//!      image asks for EL1 (`__ipcb_stay_el2` = 0): sets `HCR_EL2.E2H`, `TGE`
//!      and `RW`, so EL0 runs under the EL2&0 regime and every `*_EL1`
//!      register name in this crate reaches its EL2 twin; lets EL2 and EL0
//!      use all PMU counters (`MDCR_EL2.HPMN` = N, no traps); the kernel
//!      then runs at EL2;
//!    * **EL2 without VHE** (Cortex-A53, A57), or with VHE when the image
//!      asks for EL1: configures EL2 to stay out of the way (no traps, no
//!      stage 2) and drops to EL1;
//!    * **EL3**: not supported; the CPU parks.
//! 2. enables FP/SIMD for the kernel and traps it at EL0
//!    (`CPACR_EL1.FPEN = 0b01`: user programs get none, see `docs/abi.md`);
//! 3. zeroes `.bss`;
//! 4. builds the boot page tables (Normal write-back or device memory, EL1
//!    only, global). `TTBR1`: the image at its link address (level-1 entry
//!    510, by 4 KiB pages onto where it was loaded, **W^X**: `.text`
//!    read-only and executable at EL1 only, `.rodata` read-only and never
//!    executable, `.data`, `.bss` (stacks, tables) and the rest read/write
//!    and never executable; `kernel.ld` page-aligns the bounds
//!    `__ipcb_text_end` and `__ipcb_rodata_end`); the direct
//!    map at `DIRECT_MAP_VA` (entry 508): the GiB-aligned GiB of RAM the
//!    image was loaded in, in 2 MiB blocks from its start up to
//!    `__ram_map_limit`, never executable, the blocks that hold `.text` and
//!    `.rodata` by 4 KiB pages with those read-only (on boards whose peripherals
//!    share that GiB with RAM, the Raspberry Pi 3's at 0x3F00_0000, the
//!    peripherals must never be mapped as Normal memory, which the CPU may
//!    read speculatively and cache); the board's device GiB
//!    (`__device_window_pa`, Device-nGnRE, never executable) at
//!    `DEVICE_VA` (entry 511). `TTBR0` identity-maps the 2 MiB block (two,
//!    for a misplaced image) of the boot code for the moment the MMU comes
//!    on, read-only (`SCTLR.WXN` is on: a writable page could not run).
//!    Then it invalidates the
//!    data cache over `.bss` (the tables included): that was written with
//!    the MMU and caches off, and a stale line left by the firmware would
//!    hide those writes once the caches are on;
//! 5. turns on the MMU and the caches, jumps to the higher half, sets the
//!    stack and the vectors, swaps `TTBR0` for an empty table (ASID 0) and
//!    calls the board's init hook (`ipcb_board_init`, `runtime::Board::init`)
//!    and `ipcb_kernel_main(el, x0_at_entry)`.
//!
//! The board's linker script (or its build script, with `--defsym`) must
//! define `__bss_start`, `__bss_end` (both 16-byte aligned),
//! `__kernel_start`, `__kernel_end` (the image's footprint),
//! `__ipcb_boot_end` (the end of `.text.ipcb_boot`),
//! `__ipcb_text_offset` and `__ipcb_image_size` (the header's fields),
//! `__device_window_pa` (the 1 GiB-aligned physical base of the device
//! window), `__ram_map_limit` (how much of the kernel's GiB is RAM, from its
//! start: a multiple of 2 MiB, at most 1 GiB) and `__ipcb_stay_el2` (1: keep
//! EL2 when the CPU has VHE; 0: always run at EL1); the shared
//! `arch-aarch64/ld/aarch64-kernel.ld` defines all but the last three
//! (`__ipcb_stay_el2` defaults to 1 there), and
//! puts the sections `.text.ipcb_header` and `.text.ipcb_boot` first.

/// Virtual address of the GiB the kernel image is linked in (kernel
/// level-1 entry 510).
pub const KERNEL_VA_BASE: u64 = 0xFFFF_FFFF_8000_0000;

/// The Image header's `flags`: little-endian (bit 0 clear), 4 KiB pages
/// (bits 1-2 = 1), placed anywhere in RAM at `text_offset` from a 2 MiB
/// boundary (bit 3).
pub const IMAGE_FLAGS: u64 = (1 << 1) | (1 << 3);

/// `HCR_EL2` for the kernel at EL2: E2H (34), RW (31), TGE (27).
pub const HCR_VHE: u64 = (1 << 34) | (1 << 31) | (1 << 27);
/// `SCTLR_EL12` (the EL1&0 regime's, unused) for the kernel at EL2: its
/// RES1 bits only, so `nTWI`/`nTWE` clear. The EL2&0 regime's own
/// `SCTLR_EL2` already has them clear, which traps an EL0 `wfi`; QEMU 7.2
/// consults `SCTLR_EL1` for that trap even under `HCR_EL2.{E2H,TGE}`, where
/// the reset value lets the `wfi` halt the CPU for good (interrupts are
/// off): a user task could hang the kernel. Found by the syscall fuzzer.
pub const SCTLR_EL12_VHE: u64 = 0x30D0_0800;
/// `MAIR`: attribute 0 Normal write-back read/write-allocate, attribute 1
/// Device-nGnRE.
pub const MAIR: u64 = 0x04FF;
/// `TCR` (without IPS): 48-bit VAs in both halves (T0SZ = T1SZ = 16), 4 KiB
/// granules, walks inner-shareable write-back, 8-bit ASIDs from `TTBR0`.
pub const TCR: u64 = 16 | (1 << 8) | (1 << 10) | (3 << 12) | (16 << 16) | (1 << 24) | (1 << 26)
    | (3 << 28) | (2 << 30);
/// `SCTLR`: MMU, data and instruction caches, stack alignment checks at EL1
/// and EL0, `WXN` (every writable page is never executable, whatever its
/// descriptor says: the boot identity map is therefore read-only), and
/// the RES1 bits. Left clear: `UMA` (EL0 cannot mask interrupts),
/// `nTWI`/`nTWE` (EL0 `wfi`/`wfe` trap), `UCT`, `DZE`, `UCI` (EL0 cache
/// maintenance and `CTR_EL0` trap).
pub const SCTLR: u64 = 0x30D0_181D | SCTLR_WXN;
/// `SCTLR.WXN` (bit 19).
pub const SCTLR_WXN: u64 = 1 << 19;
/// Descriptor `AP[2]`: read-only.
pub const AP_RO: u64 = 1 << 7;
/// A level-3 page of the kernel's `.text` (W^X): Normal memory, read-only,
/// executable at EL1 (EL2 under VHE) only.
pub const PAGE_TEXT: u64 = BLOCK_RAM | 0b10 | AP_RO;
/// A page of `.rodata` (and the direct map's alias of `.text` and
/// `.rodata`): read-only, never executable.
pub const PAGE_RODATA: u64 = PAGE_TEXT | BLOCK_PXN;
/// Every other kernel page of the image window and of the direct map's
/// split blocks: read/write, never executable.
pub const PAGE_RW: u64 = BLOCK_RAM | 0b10 | BLOCK_PXN;
pub use crate::paging::BLOCK_RAM;
/// Never executable at EL1 (EL2 under VHE): the direct map's blocks.
pub const BLOCK_PXN: u64 = 1 << 53;
/// A 1 GiB block of devices: Device-nGnRE (attribute 1), EL1 only,
/// accessed, never executable (PXN and UXN).
pub const BLOCK_DEVICE: u64 = 0b01 | (1 << 2) | (1 << 10) | (1 << 53) | (1 << 54);

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    r#"
    /* The Linux arm64 Image header (Documentation/arch/arm64/booting.rst),
       the first 64 bytes of the image: U-Boot's booti, the Raspberry Pi
       firmware and QEMU's -kernel read it. */
    .section .text.ipcb_header, "ax"
    .global ipcb_image_header
ipcb_image_header:
    b ipcb_start                            /* code0: on to the entry         */
    .long 0                                 /* code1                          */
    .quad __ipcb_text_offset                /* text_offset: from a 2 MiB base */
    .quad __ipcb_image_size                 /* image_size: .bss included      */
    .quad {image_flags}                     /* flags: LE, 4 KiB, anywhere     */
    .quad 0, 0, 0                           /* res2-res4                      */
    .long 0x644d5241                        /* magic "ARM\x64"                */
    .long 0                                 /* res5: no PE/COFF header        */
    .size ipcb_image_header, . - ipcb_image_header

    .section .text.ipcb_boot, "ax"
    /* MMU and caches on with TTBR0 = x0 and TTBR1 = x3 (physical tables);
       clobbers x1, x2, x4. The same for every CPU. */
    .macro IPCB_MMU_ON
    ldr x4, ={mair}
    msr mair_el1, x4
    mrs x1, id_aa64mmfr0_el1
    and x1, x1, #0xf                        /* PARange                        */
    mov x2, #5
    cmp x1, x2
    csel x1, x1, x2, ls                     /* IPS = min(PARange, 48 bits)    */
    ldr x4, ={tcr}
    orr x4, x4, x1, lsl #32
    msr tcr_el1, x4
    msr ttbr0_el1, x0
    msr ttbr1_el1, x3
    isb
    tlbi vmalle1
    dsb nsh
    isb
    ldr x4, ={sctlr}
    msr sctlr_el1, x4                       /* MMU and caches on              */
    isb
    .endm

    .global ipcb_start
    .type ipcb_start, %function
ipcb_start:
    msr daifset, #0xf                       /* no interrupts                  */
    mov x21, x0                             /* x21 = x0 at entry (DTB or 0)   */
    mov x23, xzr                            /* x23 = 0: the boot CPU          */
    b 1f

    /* A secondary CPU (smp.rs), started by PSCI CPU_ON or released from a
       spin table at this physical address, MMU off: the same EL set-up as
       the boot CPU, then its own tables (ipcb_smp_params). */
    .global ipcb_secondary_start
    .type ipcb_secondary_start, %function
ipcb_secondary_start:
    msr daifset, #0xf
    mov x23, #1                             /* x23 = 1: a secondary CPU       */
1:  mrs x9, CurrentEL
    ubfx x9, x9, #2, #2                     /* x9 = exception level           */
    cmp x9, #2
    b.eq 2f
    cmp x9, #1
    b.ne 9f                                 /* EL3: not supported             */
    mov x19, #1                             /* the kernel runs at EL1         */
    b 4f

2:  mrs x10, pmcr_el0
    ubfx x10, x10, #11, #5                  /* N = number of event counters   */
    msr mdcr_el2, x10                       /* HPMN = N: no PMU traps, EL2 counts */
    ldr x10, =__ipcb_stay_el2
    cbz x10, 3f                             /* the image wants EL1            */
    mrs x10, id_aa64mmfr1_el1
    ubfx x10, x10, #8, #4                   /* VH: is VHE there?              */
    cbz x10, 3f
    ldr x10, ={hcr_vhe}
    msr hcr_el2, x10                        /* E2H, TGE, RW: EL2&0 regime     */
    isb
    ldr x10, ={sctlr_el12}
    msr S3_5_C1_C0_0, x10                   /* SCTLR_EL12: EL0 wfi traps (QEMU) */
    mov x19, #2                             /* the kernel runs at EL2         */
    b 4f

3:  /* EL2 without VHE: leave EL2 idle and run the kernel at EL1. */
    mov x10, #(1 << 31)
    msr hcr_el2, x10                        /* RW: EL1 is AArch64; no traps   */
    mov x10, #0x33ff
    msr cptr_el2, x10                       /* no FP/SIMD traps to EL2        */
    mrs x10, cnthctl_el2
    orr x10, x10, #3
    msr cnthctl_el2, x10                    /* EL1 may read the counters      */
    msr cntvoff_el2, xzr
    mov x10, #0x3c5
    msr spsr_el2, x10                       /* EL1h, interrupts masked        */
    adr x10, 12f
    msr elr_el2, x10
    eret                                    /* to 12: at EL1                  */
12: mov x19, #1

4:  /* EL1, or EL2 with E2H (the *_el1 names below reach the EL2 registers). */
    mov x10, #(1 << 20)
    msr cpacr_el1, x10                      /* FPEN = 01: FP/SIMD at EL1 only */
    isb
    cbnz x23, 30f                           /* a secondary: its own way on    */

    adrp x10, __bss_start                   /* zero .bss (physical addresses: */
    add x10, x10, :lo12:__bss_start         /* adrp is PC-relative)           */
    adrp x11, __bss_end
    add x11, x11, :lo12:__bss_end
5:  cmp x10, x11
    b.hs 6f
    stp xzr, xzr, [x10], #16
    b 5b

6:  adr x12, ipcb_start                     /* x12 = physical address         */
    ldr x13, =ipcb_start                    /* x13 = linked (virtual) address */
    sub x20, x13, x12                       /* x20 = virtual - physical       */
    tst x20, #0xfff                         /* not even 4 KiB-aligned as      */
    b.ne 9f                                 /* linked: stop                   */
    and x25, x20, #0x1fffff                 /* x25 = 0: 2 MiB-aligned as linked */
    lsr x2, x12, #30
    lsl x24, x2, #30                        /* x24 = physical base of our GiB */
    ldr x5, ={block_dmap}
    orr x6, x24, x5                         /* x6 = its first 2 MiB block     */
    ldr x22, =__ram_map_limit               /* x22 = bytes of RAM from x24 on */
    adrp x1, ipcb_kernel_l2
    add x8, x6, x22                         /* x8 = descriptor past the end   */
10: cmp x6, x8
    b.hs 11f
    str x6, [x1], #8                        /* kernel_l2[i] = RAM block i     */
    add x6, x6, #(1 << 21)
    b 10b

11: ldr x13, =__kernel_start               /* W^X in the direct map: the     */
    sub x13, x13, x20                       /* blocks that hold the image's   */
    ldr x14, =__ipcb_rodata_end             /* text and rodata (physical      */
    sub x14, x14, x20                       /* x13..x14) by 4 KiB pages, those */
    and x6, x13, #0xffffffffffe00000        /* read-only                      */
    ldr x16, ={page_rw}
    ldr x17, ={page_rodata}
    adrp x1, ipcb_kernel_l2
    adrp x9, ipcb_dmap_l3
40: cmp x6, x14
    b.hs 11f
    sub x3, x6, x24                         /* offset in the GiB of RAM       */
    cmp x3, x22
    b.hs 11f                                /* past the RAM map: not mapped   */
    lsr x3, x3, #21                         /* x3 = level-2 index             */
    orr x8, x9, #3
    str x8, [x1, x3, lsl #3]                /* kernel_l2[i] = next l3 table   */
    mov x10, xzr
41: add x11, x6, x10, lsl #12               /* x11 = PA of page x10           */
    mov x4, x16
    cmp x11, x13
    b.lo 42f
    cmp x11, x14
    b.hs 42f
    mov x4, x17                             /* text or rodata: read-only      */
42: orr x8, x11, x4
    str x8, [x9, x10, lsl #3]
    add x10, x10, #1
    cmp x10, #512
    b.lo 41b
    add x9, x9, #4096
    add x6, x6, #(1 << 21)
    b 40b

11: ldr x6, =__kernel_start                 /* the image window: each 2 MiB   */
    and x6, x6, #0xffffffffffe00000         /* block the image spans, at its  */
    ldr x7, =__kernel_end                   /* linked address, by 4 KiB pages */
    ldr x13, =__kernel_start                /* onto where the loader put it   */
    ldr x14, =__ipcb_text_end               /* (W^X: text read-only and       */
    ldr x15, =__ipcb_rodata_end             /* executable, rodata read-only,  */
    adrp x1, ipcb_image_l2                  /* the rest read/write; only text */
    adrp x9, ipcb_image_l3                  /* executable)                    */
16: cmp x6, x7
    b.hs 14f
    ubfx x3, x6, #21, #9
    orr x8, x9, #3
    str x8, [x1, x3, lsl #3]                /* image_l2[va] = next l3 table   */
    mov x10, xzr
17: add x11, x6, x10, lsl #12               /* x11 = VA of page x10           */
    mov x4, x16                             /* read/write, never executable   */
    cmp x11, x13
    b.lo 18f
    ldr x4, ={page_text}
    cmp x11, x14
    b.lo 18f
    mov x4, x17                             /* read-only, never executable    */
    cmp x11, x15
    b.lo 18f
    mov x4, x16
18: sub x8, x11, x20                        /* its physical page              */
    orr x8, x8, x4
    str x8, [x9, x10, lsl #3]               /* l3[page] = RAM page at pa      */
    add x10, x10, #1
    cmp x10, #512
    b.lo 17b
    add x9, x9, #4096
    add x6, x6, #(1 << 21)
    b 16b

14: ldr x5, ={block_boot}                   /* read-only (WXN), executable    */
    adrp x0, ipcb_boot_l0                   /* identity map of the 2 MiB      */
    adrp x1, ipcb_boot_l1                   /* blocks that hold this code     */
    adrp x3, ipcb_boot_l2                   /* (the MMU comes on under it)    */
    ubfx x7, x12, #39, #9
    orr x8, x1, #3
    str x8, [x0, x7, lsl #3]                /* boot_l0[pa >> 39] = boot_l1    */
    ubfx x7, x12, #30, #9
    orr x8, x3, #3
    str x8, [x1, x7, lsl #3]                /* boot_l1[pa >> 30] = boot_l2    */
    ubfx x7, x12, #21, #9
    and x8, x12, #0xffffffffffe00000
    orr x8, x8, x5
    str x8, [x3, x7, lsl #3]                /* boot_l2[pa >> 21] = its block  */
    adrp x9, __ipcb_boot_end                /* and the block of its end (the  */
    add x9, x9, :lo12:__ipcb_boot_end       /* next one, when the image is    */
    sub x9, x9, #1                          /* not 2 MiB-aligned as linked;   */
    ubfx x7, x9, #21, #9                    /* in the same GiB: kernel.ld     */
    and x8, x9, #0xffffffffffe00000         /* keeps the boot code small)     */
    orr x8, x8, x5
    str x8, [x3, x7, lsl #3]

    adrp x0, ipcb_kernel_l0                 /* the kernel's half:             */
    adrp x1, ipcb_kernel_l1
    orr x7, x1, #3
    str x7, [x0, #(511 * 8)]                /* kernel_l0[511] = kernel_l1     */
    adrp x6, ipcb_kernel_l2
    orr x6, x6, #3
    str x6, [x1, #(508 * 8)]                /* kernel_l1[508] = direct map    */
    adrp x6, ipcb_image_l2
    orr x6, x6, #3
    str x6, [x1, #(510 * 8)]                /* kernel_l1[510] = the image     */
    ldr x5, =__device_window_pa
    ldr x7, ={block_device}
    orr x5, x5, x7
    str x5, [x1, #(511 * 8)]                /* kernel_l1[511] = device GiB    */

    adrp x0, __bss_start                    /* .bss and the tables were       */
    add x0, x0, :lo12:__bss_start           /* written with caches off: drop  */
    bic x0, x0, #63                         /* stale lines (64-byte lines on  */
    adrp x1, __bss_end                      /* every core we run on)          */
    add x1, x1, :lo12:__bss_end
7:  dc ivac, x0
    add x0, x0, #64
    cmp x0, x1
    b.lo 7b
    dsb sy

    adrp x0, ipcb_boot_l0                   /* TTBR0: ASID 0, identity map    */
    adrp x3, ipcb_kernel_l0                 /* TTBR1: the kernel's half       */
    IPCB_MMU_ON
    ldr x0, =8f
    br x0                                   /* into the higher half           */

8:  adrp x0, ipcb_boot_stack_top            /* now virtual                    */
    add x0, x0, :lo12:ipcb_boot_stack_top
    mov sp, x0
    adrp x0, ipcb_empty_l0
    sub x0, x0, x20                         /* its physical address           */
    msr ttbr0_el1, x0                       /* drop the identity map          */
    isb
    tlbi vmalle1
    dsb nsh
    isb
    adrp x0, {pv}
    str x20, [x0, :lo12:{pv}]               /* IPCB_PV_OFFSET = virt - phys   */
    ldr x1, ={dmap_va}
    sub x1, x1, x24
    adrp x0, {doff}
    str x1, [x0, :lo12:{doff}]              /* IPCB_DIRECT_OFFSET             */
    adrp x0, {limit}
    str x22, [x0, :lo12:{limit}]            /* IPCB_RAM_MAP_LIMIT             */
    adrp x0, {skew}
    str x25, [x0, :lo12:{skew}]             /* IPCB_LOAD_SKEW                 */
    adrp x0, {empty}
    sub x1, x0, x20
    str x1, [x0, :lo12:{empty}]             /* IPCB_EMPTY_TTBR0               */
    ldr x1, =__device_window_pa
    adrp x0, {dwin}
    str x1, [x0, :lo12:{dwin}]              /* IPCB_DEVICE_WINDOW_PA          */
    bl ipcb_board_init                      /* the board's init hook (runtime::Board::init) */
    mov x0, x19                             /* ipcb_kernel_main(el, x0)       */
    mov x1, x21
    bl ipcb_kernel_main                     /* never returns                  */
9:  wfe
    b 9b

    /* A secondary, MMU off, its EL set up (x19): the boot CPU has left this
       CPU's TTBR1 root in ipcb_smp_params (cleaned to memory: we read it
       uncached) and keeps the identity map in ipcb_boot_l0. Nothing is
       written with the MMU off: this CPU's uncached writes could race the
       boot CPU's cached lines. */
30: adrp x0, {params}                       /* physical (PC-relative)         */
    ldr x3, [x0, :lo12:{params}]            /* x3 = this CPU's TTBR1 root     */
    adrp x0, ipcb_boot_l0                   /* TTBR0: the identity map        */
    IPCB_MMU_ON
    ldr x0, =31f
    br x0                                   /* into the higher half           */
31: adrp x0, {sstack}                       /* its driver stack, in .percpu:  */
    add x0, x0, :lo12:{sstack}              /* its own copy                   */
    ldr x1, ={sstack_size}
    add x0, x0, x1
    mov sp, x0
    adrp x0, {empty}
    ldr x0, [x0, :lo12:{empty}]             /* drop the identity map          */
    msr ttbr0_el1, x0
    isb
    tlbi vmalle1
    dsb nsh
    isb
    mov x0, x19                             /* ipcb_secondary_main(el)        */
    bl ipcb_secondary_main                  /* never returns                  */
    b 9b
    .size ipcb_start, . - ipcb_start
    .ltorg

    .section .bss.ipcb_boot, "aw", %nobits
    .balign 4096
    .global ipcb_kernel_l0
    .global ipcb_kernel_l1
ipcb_boot_l0:     .skip 4096
ipcb_boot_l1:     .skip 4096
ipcb_kernel_l0:   .skip 4096
ipcb_kernel_l1:   .skip 4096
ipcb_kernel_l2:   .skip 4096
ipcb_image_l2:    .skip 4096
ipcb_boot_l2:     .skip 4096
ipcb_image_l3:    .skip 2 * 4096              /* the image window by 4 KiB      */
                                            /* pages: at most 2 blocks        */
ipcb_dmap_l3:     .skip 2 * 4096              /* the direct map's blocks that   */
                                            /* hold text and rodata           */
    .global ipcb_empty_l0
ipcb_empty_l0:    .skip 4096
    .balign 16
    .skip 262144                            /* boot stack: the driver runs here */
ipcb_boot_stack_top:
"#,
    hcr_vhe = const HCR_VHE,
    block_boot = const BLOCK_RAM | AP_RO,
    page_text = const PAGE_TEXT,
    page_rodata = const PAGE_RODATA,
    page_rw = const PAGE_RW,
    block_dmap = const BLOCK_RAM | BLOCK_PXN,
    dmap_va = const crate::paging::DIRECT_MAP_VA,
    doff = sym crate::paging::IPCB_DIRECT_OFFSET,
    block_device = const BLOCK_DEVICE,
    mair = const MAIR,
    image_flags = const IMAGE_FLAGS,
    tcr = const TCR,
    sctlr = const SCTLR,
    sctlr_el12 = const SCTLR_EL12_VHE,
    pv = sym crate::paging::IPCB_PV_OFFSET,
    empty = sym crate::paging::IPCB_EMPTY_TTBR0,
    limit = sym crate::paging::IPCB_RAM_MAP_LIMIT,
    skew = sym IPCB_LOAD_SKEW,
    dwin = sym crate::paging::IPCB_DEVICE_WINDOW_PA,
    params = sym crate::smp::IPCB_SMP_PARAMS,
    sstack = sym crate::smp::IPCB_SMP_STACK,
    sstack_size = const crate::smp::DRIVER_STACK_SIZE,
);

/// How far (in bytes, modulo 2 MiB) the loader put the image off its
/// link address: 0 when it followed the Image header (`text_offset` from a
/// 2 MiB boundary). Written once by the boot code.
#[unsafe(no_mangle)]
pub static IPCB_LOAD_SKEW: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Where the loader put the image and what its header asked for, when it
/// did not follow the header: (physical address of the image,
/// `text_offset`). The boot code maps the image by 4 KiB pages anyway
/// (W^X), so the kernel runs all the same; the board's glue reports it in
/// one `IPCB warn` line.
pub fn misplaced_load() -> Option<(u64, u64)> {
    if IPCB_LOAD_SKEW.load(core::sync::atomic::Ordering::Relaxed) == 0 {
        return None;
    }
    unsafe extern "C" {
        static __kernel_start: u8;
    }
    let va = core::ptr::addr_of!(__kernel_start) as u64;
    Some((crate::paging::virt_to_phys(va), va & 0x1F_FFFF))
}

/// What the boot loader told us, through the device tree.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// The kernel command line (`/chosen/bootargs`; empty if none).
    pub cmdline: &'static str,
    /// The first RAM region (physical start, size), if the DTB names one.
    pub memory: Option<(u64, u64)>,
    /// Where the DTB was found (physical), if one was.
    pub dtb: Option<u64>,
}

/// Does a flattened device tree start at physical `pa`?
fn is_dtb(pa: u64) -> bool {
    let Some(end) = pa.checked_add(8) else { return false };
    if !crate::paging::in_direct_map(pa) || !crate::paging::in_direct_map(end) {
        return false;
    }
    // SAFETY: `pa` lies in the direct map (checked), which maps RAM
    // readable for the kernel; the FDT header is big-endian.
    let magic = unsafe { (crate::paging::phys_to_virt(pa) as *const u32).read_volatile() };
    u32::from_be(magic) == 0xD00D_FEED
}

/// Set by [`parse`] when the device tree it found has no usable `/memory`
/// node (the board's default RAM is used; the glue says so).
static DT_WITHOUT_MEMORY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether the device tree [`parse`] read had no usable `/memory` node.
pub fn dt_without_memory() -> bool {
    DT_WITHOUT_MEMORY.load(core::sync::atomic::Ordering::Relaxed)
}

/// The node at `path` in `fdt` (`/cpus`, `/memory`: a name without a unit
/// address matches the first node of that name with any):
/// `Fdt::find_node` first; when that finds nothing, a walk from the root
/// through each node's children, which steps over the `FDT_NOP` tokens
/// libfdt leaves where it took a node out. QEMU's rewrite of a `-dtb` tree
/// replaces `/psci`, `/memory` and `/chosen` so, and the `fdt` crate's
/// `find_node` (0.1.5) gives up at such a hole: every node after it (the
/// `/cpus` of a `-dtb` boot of `xlnx-zcu102`) would be missed.
pub fn dt_node<'b, 'a: 'b>(fdt: &'b fdt::Fdt<'a>, path: &str) -> Option<fdt::node::FdtNode<'b, 'a>> {
    if let Some(n) = fdt.find_node(path) {
        return Some(n);
    }
    let mut node = fdt.find_node("/")?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let bare = !part.contains('@');
        node = node
            .children()
            .find(|c| c.name == part || (bare && c.name.split('@').next() == Some(part)))?;
    }
    Some(node)
}

/// Read the device tree at the first of `candidates` (physical addresses)
/// that holds one: a tree header in the direct map, 0 included (a board
/// with RAM at 0 may have its tree there).
///
/// With an ELF kernel, QEMU `virt` passes no DTB pointer (`x0` = 0) but
/// puts the tree at the start of RAM when the image starts at least 1 MiB
/// above it; a raw image gets its address in `x0` (PLATFORM-NOTES §3b).
pub fn parse(candidates: &[u64]) -> BootInfo {
    let mut bi = BootInfo { cmdline: "", memory: None, dtb: None };
    let Some(&pa) = candidates.iter().find(|&&pa| is_dtb(pa)) else {
        return bi;
    };
    // SAFETY: a valid FDT header lies at `pa` in the direct map; the tree
    // is never written and stays mapped for the life of the kernel (the
    // frame allocator starts above the kernel image, the tree below it).
    let Ok(fdt) = (unsafe { fdt::Fdt::from_ptr(crate::paging::phys_to_virt(pa)) }) else {
        return bi;
    };
    bi.dtb = Some(pa);
    // `dt_node`, not `chosen()` / `memory()`, which panic when the node
    // is missing.
    if let Some(args) = dt_node(&fdt, "/chosen").and_then(|n| n.property("bootargs")) {
        bi.cmdline = args.as_str().unwrap_or("");
    }
    if let Some(r) = dt_node(&fdt, "/memory").and_then(|n| n.reg()).and_then(|mut r| r.next()) {
        bi.memory = Some((r.starting_address as u64, r.size.unwrap_or(0) as u64));
    }
    if bi.memory.is_none_or(|(_, size)| size == 0) {
        bi.memory = None;
        DT_WITHOUT_MEMORY.store(true, core::sync::atomic::Ordering::Relaxed);
    }
    bi
}

/// The end of the free memory from `start` on, below `end`: the first of
/// the `reserved` regions (physical start, size) that reaches above
/// `start` stops it (at `start` itself when one covers `start`).
pub fn free_end(start: u64, end: u64, reserved: impl Iterator<Item = (u64, u64)>) -> u64 {
    reserved
        .filter(|&(a, size)| size > 0 && a.saturating_add(size) > start)
        .map(|(a, _)| a.max(start))
        .fold(end, u64::min)
}

/// How far RAM is free from `start` (the end of the kernel image) on, at
/// most to `end`, given the device tree at physical `dtb`: the tree
/// itself, its `/memreserve/` entries and the `/reserved-memory` regions
/// are not free. Firmware (the Raspberry Pi 5's) may put any of them above
/// the kernel. `end` when `dtb` holds no tree.
pub fn usable_end(dtb: u64, start: u64, end: u64) -> u64 {
    if !is_dtb(dtb) {
        return end;
    }
    // SAFETY: as in `parse`: a valid FDT header in the direct map, never
    // written.
    let Ok(fdt) = (unsafe { fdt::Fdt::from_ptr(crate::paging::phys_to_virt(dtb)) }) else {
        return end;
    };
    let tree = core::iter::once((dtb, fdt.total_size() as u64));
    let memreserve =
        fdt.memory_reservations().map(|r| (r.address() as u64, r.size() as u64));
    let end = free_end(start, end, tree.chain(memreserve));
    let Some(node) = dt_node(&fdt, "/reserved-memory") else {
        return end;
    };
    let regions = node
        .children()
        .filter_map(|c| c.reg())
        .flatten()
        .map(|r| (r.starting_address as u64, r.size.unwrap_or(0) as u64));
    free_end(start, end, regions)
}

/// `ATAG_NONE`: the end of the list.
const ATAG_NONE: u32 = 0;
/// `ATAG_CORE`: the first tag of a list.
const ATAG_CORE: u32 = 0x5441_0001;
/// `ATAG_MEM`: a RAM region (size, start).
const ATAG_MEM: u32 = 0x5441_0002;
/// `ATAG_CMDLINE`: the kernel command line, NUL-terminated.
const ATAG_CMDLINE: u32 = 0x5441_0009;

/// What an ATAG list says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Atags<'a> {
    /// The command line (`ATAG_CMDLINE`).
    pub cmdline: Option<&'a str>,
    /// The first RAM region (physical start, size) (`ATAG_MEM`).
    pub memory: Option<(u64, u64)>,
}

/// Read an ATAG list (the 32-bit Arm Linux boot protocol, which QEMU's
/// `raspi` boards still use for a raw AArch64 image when no DTB is given:
/// `x0` = 0x100) from `words`: the command line (`ATAG_CMDLINE`) and the
/// first RAM region (`ATAG_MEM`). `None` when `words` does not start with
/// `ATAG_CORE`. Tags are (size in words, tag, data...); a size that runs
/// past `words` ends the walk.
pub fn parse_atags(words: &[u32]) -> Option<Atags<'_>> {
    if words.get(1) != Some(&ATAG_CORE) {
        return None;
    }
    let (mut cmdline, mut memory) = (None, None);
    let mut at = 0;
    while let (Some(&size), Some(&tag)) = (words.get(at), words.get(at + 1)) {
        let size = size as usize;
        if tag == ATAG_NONE || size < 2 || at + size > words.len() {
            break;
        }
        let data = &words[at + 2..at + size];
        match tag {
            ATAG_MEM if memory.is_none() && data.len() >= 2 => {
                memory = Some((u64::from(data[1]), u64::from(data[0])));
            }
            ATAG_CMDLINE => {
                // SAFETY: `data` is a slice of initialised `u32`s; viewing
                // it as bytes (alignment 1, same length in bytes) is sound.
                let bytes = unsafe {
                    core::slice::from_raw_parts(data.as_ptr().cast::<u8>(), data.len() * 4)
                };
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                cmdline = core::str::from_utf8(&bytes[..end]).ok();
            }
            _ => {}
        }
        at += size;
    }
    Some(Atags { cmdline, memory })
}

/// The ATAG list at physical `pa` (in the direct map), at most `max_words`
/// long, as [`parse_atags`] reads it; the command line stays valid for the
/// life of the kernel (the frame allocator never hands out memory below the
/// kernel image, where the list lies).
pub fn atags_at(pa: u64, max_words: usize) -> Option<Atags<'static>> {
    let end = pa.checked_add(4 * max_words as u64)?;
    if !pa.is_multiple_of(4) || !crate::paging::in_direct_map(pa) || !crate::paging::in_direct_map(end - 1) {
        return None;
    }
    // SAFETY: `pa..end` lies in the direct map (checked), which maps RAM
    // readable for the kernel and is never unmapped; the caller promises
    // nothing writes the list.
    let words = unsafe {
        core::slice::from_raw_parts(crate::paging::phys_to_virt(pa) as *const u32, max_words)
    };
    parse_atags(words)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;

    /// A flattened device tree of `/` (2 address and size cells), a
    /// `/memory@0` of 256 MiB, a `/cpus` with `cpus` CPU nodes (`reg` =
    /// their number), and a `/psci`; the node `hole` put before `/cpus`
    /// and then overwritten with `FDT_NOP` tokens, as libfdt's
    /// `fdt_nop_node` leaves it (QEMU's `-dtb` rewrite).
    fn dtb_with_hole(cpus: u32) -> Vec<u8> {
        let mut strings: Vec<u8> = Vec::new();
        let mut st: Vec<u32> = Vec::new();
        let name_off = |strings: &mut Vec<u8>, n: &str| {
            let off = strings.len() as u32;
            strings.extend_from_slice(n.as_bytes());
            strings.push(0);
            off
        };
        let begin = |st: &mut Vec<u32>, name: &str| {
            st.push(1);
            let mut b = name.as_bytes().to_vec();
            b.push(0);
            while !b.len().is_multiple_of(4) {
                b.push(0);
            }
            st.extend(b.chunks(4).map(|c| u32::from_be_bytes(c.try_into().unwrap())));
        };
        let prop = |st: &mut Vec<u32>, strings: &mut Vec<u8>, name: &str, cells: &[u32]| {
            let off = name_off(strings, name);
            st.extend([3, 4 * cells.len() as u32, off]);
            st.extend(cells);
        };
        begin(&mut st, "");
        prop(&mut st, &mut strings, "#address-cells", &[2]);
        prop(&mut st, &mut strings, "#size-cells", &[2]);
        begin(&mut st, "memory@0");
        prop(&mut st, &mut strings, "reg", &[0, 0, 0, 0x1000_0000]);
        st.push(2);
        let hole = st.len();
        begin(&mut st, "hole");
        prop(&mut st, &mut strings, "reg", &[0, 0x100, 0, 0x100]);
        st.push(2);
        for t in &mut st[hole..] {
            *t = 4; // FDT_NOP
        }
        begin(&mut st, "cpus");
        prop(&mut st, &mut strings, "#address-cells", &[1]);
        prop(&mut st, &mut strings, "#size-cells", &[0]);
        for i in 0..cpus {
            begin(&mut st, &std::format!("cpu@{i}"));
            prop(&mut st, &mut strings, "reg", &[i]);
            st.push(2);
        }
        st.push(2);
        begin(&mut st, "psci");
        st.push(2);
        st.push(2); // the root's end
        st.push(9); // FDT_END
        let header = 40u32;
        let rsv = header;
        let structs = rsv + 16;
        let strs = structs + 4 * st.len() as u32;
        let total = strs + strings.len() as u32;
        let mut out: Vec<u8> = Vec::new();
        for w in [0xD00D_FEED, total, structs, strs, rsv, 17, 16, 0, strings.len() as u32, 4 * st.len() as u32] {
            out.extend(u32::to_be_bytes(w));
        }
        out.extend([0u8; 16]);
        for w in st {
            out.extend(u32::to_be_bytes(w));
        }
        out.extend(strings);
        out
    }

    #[test]
    fn dt_node_steps_over_nop_holes() {
        let blob = dtb_with_hole(3);
        let fdt = fdt::Fdt::new(&blob).unwrap();
        let cpus = dt_node(&fdt, "/cpus").expect("/cpus past the hole");
        let regs: Vec<usize> = cpus.children().filter_map(|c| c.reg()?.next()).map(|r| r.starting_address as usize).collect();
        assert_eq!(regs, [0, 1, 2]);
        let mem = dt_node(&fdt, "/memory").and_then(|n| n.reg()?.next()).unwrap();
        assert_eq!((mem.starting_address as usize, mem.size), (0, Some(0x1000_0000)));
        assert_eq!(dt_node(&fdt, "/cpus/cpu@2").map(|n| n.name), Some("cpu@2"));
        assert_eq!(dt_node(&fdt, "/cpus/cpu").map(|n| n.name), Some("cpu@0"));
        assert!(dt_node(&fdt, "/psci").is_some());
        assert!(dt_node(&fdt, "/hole").is_none());
        assert!(dt_node(&fdt, "/cpus/cpu@7").is_none());
    }

    /// What QEMU 7.2 `-M raspi3b -append "rounds=5 runs=2"` writes at 0x100.
    const QEMU_RASPI3B: [u32; 16] = [
        5, ATAG_CORE, 1, 0x1000, 0, // core: flags, page size, root device
        4, ATAG_MEM, 0x3c00_0000, 0, // 960 MiB at 0
        6, ATAG_CMDLINE, 0x6e75_6f72, 0x353d_7364, 0x6e75_7220, 0x0032_3d73, // "rounds=5 runs=2\0"
        0,
    ];

    #[test]
    fn free_memory_stops_at_the_first_reservation() {
        let r = [(0, 0x8_0000), (0x2EFF_0000, 0x1_0000), (0x1000_0000, 0x100), (0x2000_0000, 0)];
        assert_eq!(free_end(0x20_0000, 0x3C00_0000, r.into_iter()), 0x1000_0000);
        assert_eq!(free_end(0x20_0000, 0x0800_0000, r.into_iter()), 0x0800_0000);
        // A region covering the start leaves nothing free.
        assert_eq!(free_end(0x1000_0010, 0x3C00_0000, r.into_iter()), 0x1000_0010);
        assert_eq!(free_end(0x20_0000, 0x3C00_0000, core::iter::empty()), 0x3C00_0000);
    }

    #[test]
    fn reads_qemu_raspi3b_atags() {
        let a = parse_atags(&QEMU_RASPI3B).unwrap();
        assert_eq!(a.cmdline, Some("rounds=5 runs=2"));
        assert_eq!(a.memory, Some((0, 0x3c00_0000)));
    }

    #[test]
    fn rejects_or_stops_at_bad_lists() {
        assert_eq!(parse_atags(&[0, 0, 0]), None);
        assert_eq!(parse_atags(&[]), None);
        // No command line tag; a tag whose size runs past the slice ends
        // the walk.
        let a = parse_atags(&QEMU_RASPI3B[..9]).unwrap();
        assert_eq!((a.cmdline, a.memory), (None, Some((0, 0x3c00_0000))));
        assert_eq!(parse_atags(&QEMU_RASPI3B[..14]).unwrap().cmdline, None);
        let mut zero_size = QEMU_RASPI3B;
        zero_size[5] = 0;
        assert_eq!(parse_atags(&zero_size).unwrap(), Atags { cmdline: None, memory: None });
    }
}
