// SPDX-License-Identifier: MIT OR Apache-2.0
//! Link with `link.ld`, embed the user program, name the board
//! (`runtime::build`); with the `el1` feature, run at EL1 (the firmware
//! always enters at EL2: `arch_aarch64::boot`'s `__ipcb_stay_el2`).

fn main() {
    runtime::build::kernel();
    if runtime::build::feature("el1") {
        runtime::build::link_arg("--defsym=__ipcb_stay_el2=0");
    }
}
