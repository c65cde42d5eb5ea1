// SPDX-License-Identifier: MIT OR Apache-2.0
//! `arch-aarch64`: the AArch64 backend (exception vectors, `svc` entry,
//! context switch, TTBR0 with ASIDs, EL1 and EL2 with VHE, PMUv3).
//!
//! Not implemented yet: it is the next backend (see the CHANGELOG). It will
//! implement [`ipc_core::Arch`] and `runtime::Machine` like `arch-x86_64`
//! does, with the same public item names, using the `aarch64-cpu` crate (the
//! maintained successor of `cortex-a`) for system registers and its own
//! `mrs`/`msr` for the PMU registers that crate lacks.

#![no_std]
