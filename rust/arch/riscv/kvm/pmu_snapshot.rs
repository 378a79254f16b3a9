// SPDX-License-Identifier: GPL-2.0

//! RISC-V KVM: the SBI PMU snapshot area in Rust.
//!
//! Implements `snapshot_set_shmem` (FID 7), the snapshot parts of counter
//! start (`INIT_SNAPSHOT`) and stop (`TAKE_SNAPSHOT`) and the clearing of the
//! area on vCPU reset and teardown, for `arch/riscv/kvm/vcpu_pmu.c`.
//!
//! Layers, top to bottom: this FFI edge turns the C arguments into safe
//! types once; [`vcpu`] is the safe shell over the vCPU; [`engine`],
//! [`request`], [`area`] and [`abi`] are the pure core, which uses nothing
//! but `core` and also runs in KUnit and in host-side tests. Unlike the C
//! path, no kernel copy of the area is kept: each call reads or writes only
//! the guest words it needs.

use core::ffi::{c_long, c_ulong};
use core::ptr::NonNull;

use kernel::bindings;

#[path = "pmu_snapshot/abi.rs"]
mod abi;
#[path = "pmu_snapshot/area.rs"]
mod area;
#[path = "pmu_snapshot/engine.rs"]
mod engine;
#[path = "pmu_snapshot/request.rs"]
mod request;
#[path = "pmu_snapshot/vcpu.rs"]
mod vcpu;

#[cfg(CONFIG_KVM_RISCV_PMU_SNAPSHOT_KUNIT_TEST)]
#[path = "pmu_snapshot/kunit.rs"]
mod kunit;
#[cfg(CONFIG_KVM_RISCV_PMU_SNAPSHOT_KUNIT_TEST)]
#[path = "pmu_snapshot/tests.rs"]
mod tests;

use abi::{result_code, SbiError};
use vcpu::Vcpu;

/// Runs `f` on the vCPU of an SBI call and returns the SBI error code.
///
/// # Safety
///
/// `vcpu` must be null or point to a vCPU that is handling its own SBI call
/// on this thread, with the VM's SRCU read lock held.
unsafe fn with_vcpu(vcpu: *mut bindings::kvm_vcpu, f: impl FnOnce(&mut Vcpu<'_>) -> abi::SbiResult) -> c_long {
    let Some(ptr) = NonNull::new(vcpu) else {
        return SbiError::InvalidParam.code() as c_long;
    };
    // SAFETY: guaranteed by the caller.
    let mut vcpu = unsafe { Vcpu::from_raw(ptr) };
    // CAST: SBI error codes are small negative numbers.
    result_code(f(&mut vcpu)) as c_long
}

/// `sbi_pmu_snapshot_set_shmem(lo, hi, flags)`; returns the SBI error code.
///
/// # Safety
///
/// `vcpu` must point to a vCPU that is handling its own SBI call on this
/// thread, with the VM's SRCU read lock held.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_snapshot_set_shmem(
    vcpu: *mut bindings::kvm_vcpu,
    lo: c_ulong,
    hi: c_ulong,
    flags: c_ulong,
) -> c_long {
    // SAFETY: guaranteed by the caller.
    unsafe {
        with_vcpu(vcpu, |v| {
            let mut area = v.snapshot_area();
            let (mut mem, _) = v.parts();
            let r = engine::set_shmem(&mut mem, &mut area, lo as usize, hi as usize, flags as usize);
            v.set_snapshot_area(area);
            r
        })
    }
}

/// `sbi_pmu_counter_start(base, mask, flags, value)`; returns the SBI error code.
///
/// # Safety
///
/// As for [`kvm_riscv_pmu_rs_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_ctr_start(
    vcpu: *mut bindings::kvm_vcpu,
    base: c_ulong,
    mask: c_ulong,
    flags: c_ulong,
    value: u64,
) -> c_long {
    // SAFETY: guaranteed by the caller.
    unsafe {
        with_vcpu(vcpu, |v| {
            let area = v.snapshot_area();
            let (mut mem, mut ctrs) = v.parts();
            engine::start(&mut mem, &mut ctrs, area, base as usize, mask as usize, flags as usize, value)
        })
    }
}

/// `sbi_pmu_counter_stop(base, mask, flags)`; returns the SBI error code.
///
/// # Safety
///
/// As for [`kvm_riscv_pmu_rs_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_ctr_stop(
    vcpu: *mut bindings::kvm_vcpu,
    base: c_ulong,
    mask: c_ulong,
    flags: c_ulong,
) -> c_long {
    // SAFETY: guaranteed by the caller.
    unsafe {
        with_vcpu(vcpu, |v| {
            let area = v.snapshot_area();
            let (mut mem, mut ctrs) = v.parts();
            engine::stop(&mut mem, &mut ctrs, area, base as usize, mask as usize, flags as usize)
        })
    }
}

/// Drops the vCPU's snapshot area on reset and teardown. No guest memory is
/// touched and nothing is freed: the Rust path keeps no kernel copy.
///
/// # Safety
///
/// `vcpu` must point to a valid vCPU that is not running and whose PMU
/// context is not used concurrently.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_snapshot_clear(vcpu: *mut bindings::kvm_vcpu) {
    let Some(ptr) = NonNull::new(vcpu) else {
        return;
    };
    // SAFETY: guaranteed by the caller; no guest memory is accessed, so the
    // SRCU read lock is not needed.
    let mut vcpu = unsafe { Vcpu::from_raw(ptr) };
    vcpu.set_snapshot_area(None);
}

/// `sbi_pmu_counter_get_info(counter_idx)`; returns the SBI error code and,
/// on success, stores the counter's info word in `*out`.
///
/// # Safety
///
/// As for [`kvm_riscv_pmu_rs_snapshot_set_shmem`]; `out` must be valid for
/// writes.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_ctr_info(
    vcpu: *mut bindings::kvm_vcpu,
    index: c_ulong,
    out: *mut c_ulong,
) -> c_long {
    let mut info = 0;
    // SAFETY: guaranteed by the caller.
    let code = unsafe {
        with_vcpu(vcpu, |v| {
            let (_, ctrs) = v.parts();
            info = engine::ctr_info(&ctrs, index as usize)?;
            Ok(())
        })
    };
    if code == 0 {
        // SAFETY: `out` is valid for writes (guaranteed by the caller).
        unsafe { out.write(info as c_ulong) };
    }
    code
}
