// SPDX-License-Identifier: GPL-2.0

//! Host-side build of the pure core of the Rust SBI PMU snapshot: the same
//! source files the kernel compiles, with the same test cases KUnit runs.

#![no_std]
#![allow(dead_code)]

extern crate std;

#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/abi.rs"]
mod abi;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/area.rs"]
mod area;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/engine.rs"]
mod engine;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/request.rs"]
mod request;
#[path = "../../../rust/arch/riscv/kvm/pmu_snapshot/tests.rs"]
mod tests;

#[cfg(test)]
mod host {
    use std::{println, vec};

    /// Runs every shared case, printing one TAP-like line per case.
    #[test]
    fn shared_core_cases() {
        let mut failed = 0;
        for (i, case) in super::tests::CASES.iter().enumerate() {
            let mut scratch = vec![0u8; super::tests::SCRATCH_SIZE];
            let name = case.name.trim_end_matches('\0');
            match (case.run)(&mut scratch) {
                Ok(()) => println!("ok {} {}", i + 1, name),
                Err(line) => {
                    failed += 1;
                    println!("not ok {} {} # check at tests.rs:{}", i + 1, name, line);
                }
            }
        }
        assert_eq!(failed, 0, "{failed} shared core cases failed");
    }
}
