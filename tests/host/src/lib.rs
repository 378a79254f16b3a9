// SPDX-License-Identifier: GPL-2.0

//! Host-side build of the pure cores of the Rust SBI PMU snapshot and of the
//! perf guest/host attribution: the same source files the kernel compiles,
//! with the same test cases KUnit runs, one cargo test per case.

#![no_std]
#![allow(dead_code)]

extern crate std;

#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/abi.rs"]
mod abi;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/area.rs"]
mod area;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/engine.rs"]
mod engine;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/event_info.rs"]
mod event_info;
#[path = "../../../rust/arch/riscv/lib/rust_cases.rs"]
mod harness;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/memory.rs"]
mod memory;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/request.rs"]
mod request;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/state.rs"]
mod state;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/tests.rs"]
mod tests;

#[path = "../../../rust/arch/riscv/kernel/perf_guest/attribution.rs"]
mod attribution;
/// The perf guest/host attribution cases (their `super` is this crate).
#[path = "../../../rust/arch/riscv/kernel/perf_guest/tests.rs"]
mod perf_tests;
