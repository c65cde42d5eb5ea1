// SPDX-License-Identifier: MIT OR Apache-2.0
//! The UEFI application (`\EFI\BOOT\BOOTAA64.EFI`): from the firmware to
//! the kernel it carries.
//!
//! 1. The command line: the load options (UCS-2 text; a first word ending
//!    in `.efi`, the program name the UEFI shell puts there, is dropped),
//!    else `cmdline.txt` in the directory the application was loaded from.
//! 2. The machine: the ACPI RSDP from the EFI configuration table, then
//!    [`arch_aarch64::acpi::platform`] (MADT GICC MPIDRs, FADT PSCI
//!    conduit, SPCR console). What is missing is said on the UEFI console
//!    before anything else, while there is one: no ACPI at all ends the
//!    boot (one `IPCB fail` line, then the machine powers off); no usable
//!    SPCR means no console after `ExitBootServices` (the run goes on
//!    unseen); a MADT with more CPUs than the kernel drives keeps the
//!    first `MAX_CPUS`.
//! 3. The kernel: its ELF's `PT_LOAD` segment copied to its physical
//!    link address (`AllocatePages` at that address) when that is free,
//!    else to the 2 MiB boundary with the most free RAM after it in its GiB
//!    (the kernel runs at any 2 MiB boundary plus its text offset, and maps
//!    the GiB it lies in), `.bss` zeroed, and the [`Handoff`] block in the
//!    pages just below.
//! 4. `ExitBootServices`; from the final memory map, how far RAM is free
//!    from the kernel on (conventional, boot-services and loader memory:
//!    all of it is the kernel's once this application has jumped).
//! 5. The jump: clean the kernel, the block and the jump code itself to
//!    the point of coherency, turn the MMU and caches off (UEFI runs
//!    identity-mapped, so the code goes on at the same address) and branch
//!    to the kernel's physical entry with `x0` = the block, as a loader
//!    enters any AArch64 example kernel.

use core::fmt::Write;

use arch_aarch64::acpi::{self, NoConsole, UartKind};
use arch_aarch64::smp::MAX_CPUS;
use arch_aarch64::watchdog::Intc;
use runtime::cmdline::WordBuf;
use uefi::boot::{self, AllocateType, MemoryType};
use uefi::mem::memory_map::MemoryMap;
use uefi::proto::loaded_image::LoadedImage;
use uefi::proto::media::file::{File, FileAttribute, FileMode};
use uefi::table::cfg::ConfigTableEntry;
use uefi::{CStr16, Guid, Status, entry, guid};

use crate::handoff::{self, Handoff};

/// The kernel (aarch64-unknown-none ELF), built first by xtask.
static KERNEL_ELF: &[u8] = include_bytes!(env!("IPCB_KERNEL_ELF"));

/// The EFI configuration table's device-tree entry.
const DTB_GUID: Guid = guid!("b1b621d5-f19c-41a5-830b-d9152c69aae0");

const PAGE: u64 = 4096;

/// One line on the UEFI console (ConOut; its writer sends `\n` as CR LF).
macro_rules! say {
    ($($arg:tt)*) => {
        uefi::system::with_stdout(|out| {
            let _ = write!(out, $($arg)*);
            let _ = out.write_str("\n");
        })
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if boot_services_up() {
        say!("IPCB panic reason=\"uefi-aarch64 loader: {}\"", info.message());
        say!("IPCB end status=fail");
    }
    loop {
        core::hint::spin_loop();
    }
}

/// Boot services have not been exited (ConOut and the allocator work).
fn boot_services_up() -> bool {
    !EXITED.load(core::sync::atomic::Ordering::Relaxed)
}

static EXITED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// A boot that cannot go on: one `IPCB fail` line and the end line on the
/// UEFI console, then power off (QEMU exits).
fn give_up(reason: core::fmt::Arguments<'_>) -> ! {
    say!("IPCB fail bench=boot core=0 reason=\"{}\"", reason);
    say!("IPCB end status=fail");
    uefi::runtime::reset(uefi::runtime::ResetType::SHUTDOWN, Status::ABORTED, None)
}

/// The kernel ELF's loadable image.
struct Image<'a> {
    /// Physical entry point.
    entry: u64,
    /// Lowest and highest physical address it occupies (`.bss` included).
    start: u64,
    end: u64,
    /// `(physical address, file bytes, bytes in memory)` per segment.
    segs: [(u64, &'a [u8], u64); 4],
    n: usize,
}

/// Reads the `PT_LOAD` segments of a little-endian ELF64.
fn parse_elf(elf: &[u8]) -> Option<Image<'_>> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    if elf.get(0..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let entry = u64_at(0x18)?;
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    let mut img = Image { entry, start: u64::MAX, end: 0, segs: [(0, &[], 0); 4], n: 0 };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? != 1 {
            continue; // not PT_LOAD
        }
        let off = usize::try_from(u64_at(ph + 8)?).ok()?;
        let paddr = u64_at(ph + 0x18)?;
        let filesz = usize::try_from(u64_at(ph + 0x20)?).ok()?;
        let memsz = u64_at(ph + 0x28)?;
        if img.n == img.segs.len() || (filesz as u64) > memsz {
            return None;
        }
        img.segs[img.n] = (paddr, elf.get(off..off + filesz)?, memsz);
        img.n += 1;
        img.start = img.start.min(paddr);
        img.end = img.end.max(paddr + memsz);
    }
    (img.n > 0).then_some(img)
}

/// The kernel's blocks: it runs at any 2 MiB boundary plus its text
/// offset (`arch_aarch64::boot`).
const BLOCK: u64 = 2 << 20;
/// Its direct map is the GiB it lies in.
const GIB: u64 = 1 << 30;
/// RAM that must be free past the image, in its GiB, for a place other
/// than the link address to be taken: the per-CPU regions (2 MiB each)
/// and the frames.
const MIN_FREE: u64 = 64 << 20;

/// Allocate the kernel's pages ([`handoff::RESERVED`] below its image for
/// the block): at its link address when that is free, else at the 2 MiB
/// boundary (plus the text offset) in conventional memory with the most
/// free RAM after it in its GiB, which the kernel maps, the block in the
/// same GiB. Returns where the image starts.
fn place(img: &Image<'_>) -> Option<u64> {
    let size = img.end - img.start + handoff::RESERVED;
    let pages = size.div_ceil(PAGE) as usize;
    let at = |start: u64| {
        boot::allocate_pages(AllocateType::Address(start - handoff::RESERVED), MemoryType::LOADER_DATA, pages)
            .is_ok()
    };
    if at(img.start) {
        return Some(img.start);
    }
    let offset = img.start % BLOCK;
    let map = boot::memory_map(MemoryType::LOADER_DATA).ok()?;
    let mut best: Option<(u64, u64)> = None; // (start, free bytes after it)
    for d in map.entries().filter(|d| d.ty == MemoryType::CONVENTIONAL) {
        let (lo, hi) = (d.phys_start, d.phys_start + d.page_count * PAGE);
        let mut k = (lo + handoff::RESERVED).saturating_sub(offset).next_multiple_of(BLOCK) + offset;
        if k % GIB < handoff::RESERVED {
            k += BLOCK; // the block must lie in the image's GiB
        }
        let limit = hi.min((k & !(GIB - 1)) + GIB);
        let image_end = k + (img.end - img.start);
        if image_end + MIN_FREE <= limit && best.is_none_or(|(_, free)| limit - k > free) {
            best = Some((k, limit - k));
        }
    }
    drop(map);
    let (k, _) = best?;
    at(k).then_some(k)
}

/// The words of UCS-2 load options as ASCII into `buf`: `None` when they
/// are not printable text (firmware boot entries carry binary data there).
fn options_text(raw: &[u8], buf: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    for c in raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])) {
        match c {
            0 => break,
            0x20..=0x7E | 0x09 if n < buf.len() => {
                buf[n] = if c == 0x09 { b' ' } else { c as u8 };
                n += 1;
            }
            _ => return None,
        }
    }
    Some(n)
}

/// `text` without a first word ending in `.efi` (the UEFI shell passes
/// the program's name first), trimmed, into `out`; its length.
fn strip_program_name(text: &str, out: &mut [u8]) -> usize {
    let text = text.trim();
    let rest = match text.split_once(' ') {
        Some((first, rest)) if is_efi_name(first) => rest,
        None if is_efi_name(text) => "",
        _ => text,
    };
    let mut kept = WordBuf::new(out);
    for w in rest.split_ascii_whitespace() {
        if !kept.push(w) {
            break;
        }
    }
    kept.len()
}

/// `word` ends in `.efi`, in any case.
fn is_efi_name(word: &str) -> bool {
    word.len() >= 4 && word.as_bytes()[word.len() - 4..].eq_ignore_ascii_case(b".efi")
}

/// `cmdline.txt` from the directory this application was loaded from,
/// into `buf`; its length, or `None` when there is none.
fn cmdline_txt(buf: &mut [u8]) -> Option<usize> {
    let image = boot::open_protocol_exclusive::<LoadedImage>(boot::image_handle()).ok()?;
    // The file path node: `\EFI\BOOT\BOOTAA64.EFI`.
    let mut path = [0u16; 256];
    let mut len = 0;
    let fp = image.file_path()?;
    for node in fp.node_iter() {
        let Ok(f) = <&uefi::proto::device_path::media::FilePath>::try_from(node) else { continue };
        for c in f.path_name().iter() {
            if c == 0 || len + 1 >= path.len() {
                break;
            }
            path[len] = c;
            len += 1;
        }
    }
    drop(image);
    let dir = path[..len].iter().rposition(|&c| c == u16::from(b'\\')).map_or(0, |i| i + 1);
    let name = "cmdline.txt";
    if dir + name.len() + 1 > path.len() {
        return None;
    }
    if dir == 0 {
        path[0] = u16::from(b'\\');
    }
    let dir = dir.max(1);
    for (i, b) in name.bytes().enumerate() {
        path[dir + i] = u16::from(b);
    }
    path[dir + name.len()] = 0;
    let path = CStr16::from_u16_with_nul(&path[..=dir + name.len()]).ok()?;
    let mut fs = boot::get_image_file_system(boot::image_handle()).ok()?;
    let mut root = fs.open_volume().ok()?;
    let mut file = root.open(path, FileMode::Read, FileAttribute::empty()).ok()?.into_regular_file()?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    Some(n)
}

/// The command line: the load options, else `cmdline.txt`; into `out`.
/// Returns its length and where it came from.
fn command_line(out: &mut [u8]) -> (usize, &'static str) {
    let mut raw = [0u8; handoff::CMDLINE_MAX];
    let from_options = boot::open_protocol_exclusive::<LoadedImage>(boot::image_handle())
        .ok()
        .and_then(|img| img.load_options_as_bytes().and_then(|b| options_text(b, &mut raw)));
    if let Some(n) = from_options {
        let text = core::str::from_utf8(&raw[..n]).unwrap_or("");
        let k = strip_program_name(text, out);
        if k > 0 {
            return (k, "load options");
        }
    }
    let Some(n) = cmdline_txt(&mut raw) else { return (0, "none") };
    let text = core::str::from_utf8(&raw[..n]).unwrap_or("");
    let text = text.trim_start_matches('\u{feff}');
    (strip_program_name(text, out), "cmdline.txt")
}

/// The RSDP (ACPI 2.0 entry first) and whether there is a device tree.
fn config_tables() -> (Option<u64>, bool) {
    uefi::system::with_config_table(|t| {
        let find = |g: Guid| t.iter().find(|e| e.guid == g).map(|e| e.address as u64);
        let rsdp = find(ConfigTableEntry::ACPI2_GUID).or_else(|| find(ConfigTableEntry::ACPI_GUID));
        (rsdp, find(DTB_GUID).is_some())
    })
}

/// Firmware memory, identity-mapped while UEFI runs.
fn read_phys<'a>(pa: u64, len: usize) -> Option<&'a [u8]> {
    if pa == 0 {
        return None;
    }
    // SAFETY: UEFI identity-maps the memory it describes, ACPI tables
    // included, and nothing writes them while this application reads.
    Some(unsafe { core::slice::from_raw_parts(pa as *const u8, len) })
}

#[entry]
fn main() -> Status {
    say!("uefi-aarch64: UEFI application, {} bytes of kernel", KERNEL_ELF.len());
    let Some(img) = parse_elf(KERNEL_ELF) else {
        give_up(format_args!("the embedded kernel is not an ELF64 with PT_LOAD segments"))
    };

    // The machine, from ACPI.
    let (rsdp, dtb) = config_tables();
    let Some(rsdp) = rsdp else {
        if dtb {
            give_up(format_args!("UEFI gave no ACPI tables, only a device tree: this board reads ACPI (MADT, FADT, SPCR); boot qemu-virt-aarch64 for device-tree machines"))
        }
        give_up(format_args!("UEFI gave neither ACPI tables nor a device tree: no CPUs, console or PSCI to find"))
    };
    let p = match acpi::platform(rsdp, read_phys) {
        Ok(p) => p,
        Err(e) => give_up(format_args!("the ACPI tables at RSDP {rsdp:#x} are unreadable ({e:?})")),
    };
    let mut h_console = (handoff::CONSOLE_NONE, 1u32, 0u64);
    match p.console {
        Ok(u) => {
            h_console = match u.kind {
                UartKind::Pl011 => (handoff::CONSOLE_PL011, 4, u.base),
                UartKind::Ns16550 { width } => (handoff::CONSOLE_16550, u32::from(width), u.base),
            };
            say!("uefi-aarch64: console {:?} at {:#x} (SPCR)", u.kind, u.base);
        }
        Err(why) => {
            let what = match why {
                NoConsole::Missing => "no SPCR table",
                NoConsole::Type(_) => "the SPCR names a UART type the kernel has no driver for (it has PL011, SBSA and 16550)",
                NoConsole::NotMmio => "the SPCR console is not memory-mapped",
            };
            say!("IPCB warn reason=\"{what}: no console after ExitBootServices (only UEFI's until now); the run goes on unseen and powers off\"");
        }
    }
    let psci = match p.psci_smc {
        Some(true) => handoff::PSCI_SMC,
        Some(false) => handoff::PSCI_HVC,
        None => handoff::PSCI_NONE,
    };
    if !p.madt {
        say!("uefi-aarch64: no MADT: the boot CPU alone");
    } else if psci == handoff::PSCI_NONE {
        say!("uefi-aarch64: the FADT does not say PSCI: the boot CPU alone, and no SYSTEM_OFF at the end");
    }
    if p.cpus.dropped > 0 {
        // The kernel says it in an `IPCB warn` line (here it would be
        // said twice on a console that carries on).
        say!(
            "uefi-aarch64: the MADT lists {} CPUs, more than the {MAX_CPUS} the kernel drives",
            p.cpus.n + p.cpus.dropped
        );
    }
    say!(
        "uefi-aarch64: {} CPUs (MADT), PSCI {} (FADT), RSDP {rsdp:#x}",
        p.cpus.n,
        ["none", "hvc", "smc"][psci as usize]
    );
    match (p.gic, p.timer) {
        (Some(g), Some(t)) => say!("uefi-aarch64: watchdog: {g:x?} (MADT), timer INTIDs {t:?} (GTDT)"),
        (Some(g), None) => say!("uefi-aarch64: watchdog: {g:x?} (MADT), no GTDT: the architected timer INTIDs"),
        (None, _) => say!("uefi-aarch64: the MADT describes no GICv2 or GICv3: no watchdog"),
    }

    // The kernel at its link address if that is free, else where there is
    // room (it runs at any 2 MiB boundary plus its text offset), and the
    // block below it.
    let size = img.end - img.start + handoff::RESERVED;
    let Some(load) = place(&img) else {
        say!("uefi-aarch64: memory map (type, start, pages):");
        if let Ok(m) = boot::memory_map(MemoryType::LOADER_DATA) {
            for d in m.entries() {
                say!("  {:?} {:#x} {:#x}", d.ty, d.phys_start, d.page_count);
            }
        }
        give_up(format_args!(
            "no free RAM for the kernel ({size:#x} bytes at a 2 MiB boundary, {:#x} past it free in the same GiB), neither at its link address {:#x} nor elsewhere",
            MIN_FREE,
            img.start
        ))
    };
    let shift = load.wrapping_sub(img.start);
    let (start, end, entry) = (load, img.end.wrapping_add(shift), img.entry.wrapping_add(shift));
    let base = start - handoff::RESERVED;
    // SAFETY: the pages `base..end` were just allocated to this
    // application (identity-mapped); the ELF's segments, moved by
    // `shift`, lie in them.
    unsafe {
        core::ptr::write_bytes(base as *mut u8, 0, (end - base) as usize);
        for &(pa, bytes, _memsz) in &img.segs[..img.n] {
            let to = pa.wrapping_add(shift);
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), to as *mut u8, bytes.len());
        }
    }
    // SAFETY: the block's pages are part of the allocation, zeroed (valid
    // for a `Handoff`: plain integers), and aligned to a page.
    let h = unsafe { &mut *(base as *mut Handoff) };
    h.magic = handoff::MAGIC;
    h.size = core::mem::size_of::<Handoff>() as u64;
    h.rsdp = rsdp;
    (h.console_kind, h.console_width, h.console_base) = h_console;
    h.psci = psci;
    match p.gic {
        Some(Intc::V2 { gicd, gicc }) => (h.gic, h.gicd, h.gicc) = (handoff::GIC_V2, gicd, gicc),
        Some(Intc::V3 { gicd, gicr }) => (h.gic, h.gicd, h.gicr) = (handoff::GIC_V3, gicd, gicr),
        Some(Intc::Bcm2836 { .. }) | None => {}
    }
    if let Some(t) = p.timer {
        (h.timer_virt, h.timer_hyp) = (t.virt, t.hyp);
    }
    h.n_cpus = p.cpus.n as u32;
    h.dropped_cpus = p.cpus.dropped as u32;
    for (m, c) in h.mpidr.iter_mut().zip(&p.cpus.cpus[..p.cpus.n]) {
        *m = c.mpidr;
    }
    let (n, from) = command_line(&mut h.cmdline);
    h.cmdline_len = n as u32;
    say!(
        "uefi-aarch64: command line from {from}: '{}'",
        core::str::from_utf8(&h.cmdline[..n]).unwrap_or("")
    );
    say!("uefi-aarch64: kernel at {start:#x}..{end:#x}, entry {entry:#x}; exiting boot services");

    EXITED.store(true, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: nothing of boot services is used after this (no console, no
    // allocation, no protocol: the scoped protocols above are dropped).
    let map = unsafe { boot::exit_boot_services(None) };
    // Free RAM from the kernel on: the run of usable descriptors that
    // starts with the one holding it.
    let usable = |t: MemoryType| {
        matches!(
            t,
            MemoryType::CONVENTIONAL
                | MemoryType::BOOT_SERVICES_CODE
                | MemoryType::BOOT_SERVICES_DATA
                | MemoryType::LOADER_CODE
                | MemoryType::LOADER_DATA
        )
    };
    let mut free_end = start;
    while let Some(d) = map.entries().find(|d| {
        usable(d.ty) && d.phys_start <= free_end && free_end < d.phys_start + d.page_count * PAGE
    }) {
        free_end = d.phys_start + d.page_count * PAGE;
    }
    h.ram_end = free_end;
    // SAFETY: boot services are gone, the kernel and its block are in
    // place; the jump code cleans them and itself to the point of
    // coherency and enters the kernel with the MMU off.
    unsafe { ipcb_uefi_enter(base, entry, base, end) }
}

unsafe extern "C" {
    /// Clean `start..end` and the jump code to the point of coherency,
    /// turn the MMU and caches off at the current EL, and branch to
    /// `entry` with `x0` = `arg`.
    fn ipcb_uefi_enter(arg: u64, entry: u64, start: u64, end: u64) -> !;
}

core::arch::global_asm!(
    r#"
    .section .text.ipcb_uefi_enter, "ax"
    .global ipcb_uefi_enter
    .p2align 6
ipcb_uefi_enter:
    msr daifset, #0xf                       /* no interrupts                  */
    mrs x4, ctr_el0
    ubfx x4, x4, #16, #4                    /* DminLine: log2(words)          */
    mov x5, #4
    lsl x5, x5, x4                          /* x5 = D-cache line bytes        */
    sub x6, x5, #1
    bic x2, x2, x6
1:  dc civac, x2                            /* clean + invalidate to PoC      */
    add x2, x2, x5
    cmp x2, x3
    b.lo 1b
    adr x2, ipcb_uefi_enter                 /* this code too: it runs on      */
    adr x3, 9f                              /* with the caches off            */
2:  dc civac, x2
    add x2, x2, x5
    cmp x2, x3
    b.lo 2b
    dsb sy
    mov x6, #((1 << 12) | (1 << 2) | 1)    /* SCTLR I, C, M                  */
    mrs x4, CurrentEL
    ubfx x4, x4, #2, #2
    cmp x4, #2
    b.eq 3f
    mrs x4, sctlr_el1
    bic x4, x4, x6                          /* MMU and caches off (EL1)       */
    msr sctlr_el1, x4
    b 4f
3:  mrs x4, sctlr_el2
    bic x4, x4, x6                          /* MMU and caches off (EL2)       */
    msr sctlr_el2, x4
4:  isb
    ic iallu                                /* no stale instructions          */
    dsb nsh
    isb
    br x1                                   /* the kernel: x0 = the block     */
9:
"#
);
