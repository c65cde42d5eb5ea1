// SPDX-License-Identifier: MIT OR Apache-2.0
//! Boot: from the loader's jump (MMU off, EL1 or EL2) to the board's
//! `ipcb_kernel_main(el, x0)` in the higher half.
//!
//! The kernel is linked in the top 2 GiB (the GiB at [`KERNEL_VA_BASE`]
//! holds the image and the direct map of RAM; the next one, at
//! [`crate::paging::DEVICE_VA`], a window onto the devices) and loaded at a
//! physical address congruent to its link address modulo 1 GiB. The ELF
//! entry point is the *physical* address of `ipcb_start` (the board's
//! `link.ld` arranges it), as loaders jump there with the MMU off.
//!
//! `ipcb_start`, running at its physical address:
//!
//! 1. masks interrupts and looks at `CurrentEL`:
//!    * **EL1**: on;
//!    * **EL2 with VHE** (`ID_AA64MMFR1_EL1.VH`): sets `HCR_EL2.E2H`, `TGE`
//!      and `RW`, so EL0 runs under the EL2&0 regime and every `*_EL1`
//!      register name in this crate reaches its EL2 twin; lets EL2 and EL0
//!      use all PMU counters (`MDCR_EL2.HPMN` = N, no traps); the kernel
//!      then runs at EL2;
//!    * **EL2 without VHE** (Cortex-A53, A57): configures EL2 to stay out of
//!      the way (no traps, no stage 2) and drops to EL1;
//!    * **EL3**: not supported; the CPU parks.
//! 2. enables FP/SIMD for the kernel and traps it at EL0
//!    (`CPACR_EL1.FPEN = 0b01`: user programs get none, see `docs/abi.md`);
//! 3. zeroes `.bss`;
//! 4. builds the boot page tables: `TTBR1` maps the kernel's GiB of RAM
//!    (Normal write-back, EL1 only, global) at [`KERNEL_VA_BASE`] and the
//!    board's device GiB (`__device_window_pa`, Device-nGnRE, never
//!    executable) at `DEVICE_VA`; `TTBR0` identity-maps the kernel's GiB for
//!    the moment the MMU comes on;
//! 5. turns on the MMU and the caches, jumps to the higher half, sets the
//!    stack and the vectors, swaps `TTBR0` for an empty table (ASID 0) and
//!    calls `ipcb_kernel_main(el, x0_at_entry)`.
//!
//! The board's linker script must define `__bss_start`, `__bss_end` (both
//! 16-byte aligned) and `__device_window_pa` (the 1 GiB-aligned physical
//! base of the device window).

/// Virtual address of the start of the kernel's GiB of RAM (the image lies
/// in it; it is also the kernel's direct map of that GiB).
pub const KERNEL_VA_BASE: u64 = 0xFFFF_FFFF_8000_0000;

/// `HCR_EL2` for the kernel at EL2: E2H (34), RW (31), TGE (27).
pub const HCR_VHE: u64 = (1 << 34) | (1 << 31) | (1 << 27);
/// `MAIR`: attribute 0 Normal write-back read/write-allocate, attribute 1
/// Device-nGnRE.
pub const MAIR: u64 = 0x04FF;
/// `TCR` (without IPS): 48-bit VAs in both halves (T0SZ = T1SZ = 16), 4 KiB
/// granules, walks inner-shareable write-back, 8-bit ASIDs from `TTBR0`.
pub const TCR: u64 = 16 | (1 << 8) | (1 << 10) | (3 << 12) | (16 << 16) | (1 << 24) | (1 << 26)
    | (3 << 28) | (2 << 30);
/// `SCTLR`: MMU, data and instruction caches, stack alignment checks at EL1
/// and EL0, and the RES1 bits. Left clear: `UMA` (EL0 cannot mask
/// interrupts), `nTWI`/`nTWE` (EL0 `wfi`/`wfe` trap), `UCT`, `DZE`, `UCI`
/// (EL0 cache maintenance and `CTR_EL0` trap), `WXN`.
pub const SCTLR: u64 = 0x30D0_181D;
/// A 1 GiB block of kernel RAM: Normal memory (attribute 0), EL1 read/write
/// and no EL0 access (AP = 00), inner shareable, accessed, global, never
/// executable at EL0 (UXN).
pub const BLOCK_RAM: u64 = 0b01 | (3 << 8) | (1 << 10) | (1 << 54);
/// A 1 GiB block of devices: Device-nGnRE (attribute 1), EL1 only,
/// accessed, never executable (PXN and UXN).
pub const BLOCK_DEVICE: u64 = 0b01 | (1 << 2) | (1 << 10) | (1 << 53) | (1 << 54);

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    r#"
    .section .text.ipcb_boot, "ax"
    .global ipcb_start
    .type ipcb_start, %function
ipcb_start:
    msr daifset, #0xf                       /* no interrupts                  */
    mov x21, x0                             /* x21 = x0 at entry (DTB or 0)   */
    mrs x9, CurrentEL
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
    mrs x10, id_aa64mmfr1_el1
    ubfx x10, x10, #8, #4                   /* VH: is VHE there?              */
    cbz x10, 3f
    ldr x10, ={hcr_vhe}
    msr hcr_el2, x10                        /* E2H, TGE, RW: EL2&0 regime     */
    isb
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
    adr x10, 1f
    msr elr_el2, x10
    eret                                    /* to 1: at EL1                   */
1:  mov x19, #1

4:  /* EL1, or EL2 with E2H (the *_el1 names below reach the EL2 registers). */
    mov x10, #(1 << 20)
    msr cpacr_el1, x10                      /* FPEN = 01: FP/SIMD at EL1 only */
    isb

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
    lsr x2, x12, #30
    lsl x4, x2, #30                         /* x4 = physical base of our GiB  */
    ldr x5, ={block_ram}
    orr x6, x4, x5                          /* x6 = its block descriptor      */

    adrp x0, ipcb_boot_l0                   /* identity map of our GiB:       */
    adrp x1, ipcb_boot_l1
    lsr x3, x12, #39
    and x3, x3, #0x1ff
    orr x7, x1, #3
    str x7, [x0, x3, lsl #3]                /* boot_l0[pa >> 39] = boot_l1    */
    and x3, x2, #0x1ff
    str x6, [x1, x3, lsl #3]                /* boot_l1[pa >> 30] = our GiB    */

    adrp x0, ipcb_kernel_l0                 /* the kernel's half:             */
    adrp x1, ipcb_kernel_l1
    orr x7, x1, #3
    str x7, [x0, #(511 * 8)]                /* kernel_l0[511] = kernel_l1     */
    str x6, [x1, #(510 * 8)]                /* kernel_l1[510] = our GiB       */
    ldr x5, =__device_window_pa
    ldr x7, ={block_device}
    orr x5, x5, x7
    str x5, [x1, #(511 * 8)]                /* kernel_l1[511] = device GiB    */

    adrp x0, ipcb_boot_l0                   /* the tables were written with   */
    adrp x1, ipcb_boot_tables_end           /* caches off: drop stale lines   */
7:  dc ivac, x0
    add x0, x0, #64
    cmp x0, x1
    b.lo 7b
    dsb sy

    ldr x0, ={mair}
    msr mair_el1, x0
    mrs x1, id_aa64mmfr0_el1
    and x1, x1, #0xf                        /* PARange                        */
    mov x2, #5
    cmp x1, x2
    csel x1, x1, x2, ls                     /* IPS = min(PARange, 48 bits)    */
    ldr x0, ={tcr}
    orr x0, x0, x1, lsl #32
    msr tcr_el1, x0
    adrp x0, ipcb_boot_l0
    msr ttbr0_el1, x0                       /* ASID 0, identity map           */
    adrp x0, ipcb_kernel_l0
    msr ttbr1_el1, x0
    isb
    tlbi vmalle1
    dsb nsh
    isb
    ldr x0, ={sctlr}
    msr sctlr_el1, x0                       /* MMU and caches on              */
    isb
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
    adrp x0, {empty}
    sub x1, x0, x20
    str x1, [x0, :lo12:{empty}]             /* IPCB_EMPTY_TTBR0               */
    mov x0, x19                             /* ipcb_kernel_main(el, x0)       */
    mov x1, x21
    bl ipcb_kernel_main                     /* never returns                  */
9:  wfe
    b 9b
    .size ipcb_start, . - ipcb_start
    .ltorg

    .section .bss.ipcb_boot, "aw", %nobits
    .balign 4096
    .global ipcb_kernel_l0
ipcb_boot_l0:     .skip 4096
ipcb_boot_l1:     .skip 4096
ipcb_kernel_l0:   .skip 4096
ipcb_kernel_l1:   .skip 4096
ipcb_boot_tables_end:
    .global ipcb_empty_l0
ipcb_empty_l0:    .skip 4096
    .balign 16
    .skip 262144                            /* boot stack: the driver runs here */
ipcb_boot_stack_top:
"#,
    hcr_vhe = const HCR_VHE,
    block_ram = const BLOCK_RAM,
    block_device = const BLOCK_DEVICE,
    mair = const MAIR,
    tcr = const TCR,
    sctlr = const SCTLR,
    pv = sym crate::paging::IPCB_PV_OFFSET,
    empty = sym crate::paging::IPCB_EMPTY_TTBR0,
);

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

/// Read the device tree at the first of `candidates` (physical addresses;
/// zeros are skipped) that holds one.
///
/// With an ELF kernel, QEMU `virt` passes no DTB pointer (`x0` = 0) but
/// puts the tree at the start of RAM when the image starts at least 1 MiB
/// above it; a raw image gets its address in `x0` (PLATFORM-NOTES §3b).
pub fn parse(candidates: &[u64]) -> BootInfo {
    let mut bi = BootInfo { cmdline: "", memory: None, dtb: None };
    let Some(&pa) = candidates.iter().find(|&&pa| pa != 0 && is_dtb(pa)) else {
        return bi;
    };
    // SAFETY: a valid FDT header lies at `pa` in the direct map; the tree
    // is never written and stays mapped for the life of the kernel (the
    // frame allocator starts above the kernel image, the tree below it).
    let Ok(fdt) = (unsafe { fdt::Fdt::from_ptr(crate::paging::phys_to_virt(pa)) }) else {
        return bi;
    };
    bi.dtb = Some(pa);
    // `find_node`, not `chosen()` / `memory()`, which panic when the node
    // is missing.
    if let Some(args) = fdt.find_node("/chosen").and_then(|n| n.property("bootargs")) {
        bi.cmdline = args.as_str().unwrap_or("");
    }
    if let Some(r) = fdt.find_node("/memory").and_then(|n| n.reg()).and_then(|mut r| r.next()) {
        bi.memory = Some((r.starting_address as u64, r.size.unwrap_or(0) as u64));
    }
    bi
}
