// SPDX-License-Identifier: MIT OR Apache-2.0
//! Link with `link.ld`, embed the user program, name the board
//! (`runtime::build`).

fn main() {
    runtime::build::kernel();
}
