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
//! path, no kernel copy of the area is kept: the area stays mapped through
//! a gfn-to-pfn cache and each call reads or writes only the words it needs.

use core::ffi::{c_int, c_ulong};
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

/// Runs `f` on the vCPU of an SBI call and stores the SBI error code in
/// `retdata->err_val`; returns 0, what KVM's SBI handlers return when the
/// call needs nothing from user space.
///
/// # Safety
///
/// `vcpu` must be null or point to a vCPU that is handling its own SBI call
/// on this thread, with the VM's SRCU read lock held; `retdata` must be
/// null or valid for writes.
unsafe fn with_vcpu(
    vcpu: *mut bindings::kvm_vcpu,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
    f: impl FnOnce(&mut Vcpu<'_>) -> abi::SbiResult,
) -> c_int {
    let code = match NonNull::new(vcpu) {
        // SAFETY: guaranteed by the caller.
        Some(ptr) => result_code(f(&mut unsafe { Vcpu::from_raw(ptr) })),
        None => SbiError::InvalidParam.code(),
    };
    if !retdata.is_null() {
        // CAST: `err_val` is an `unsigned long` that holds the sign-extended
        // SBI error code, as in C.
        // SAFETY: `retdata` is valid for writes (guaranteed by the caller).
        unsafe { (*retdata).err_val = code as isize as usize };
    }
    0
}

/// `sbi_pmu_snapshot_set_shmem(lo, hi, flags)`; stores the SBI error code
/// in `retdata` and returns 0.
///
/// # Safety
///
/// `vcpu` must point to a vCPU that is handling its own SBI call on this
/// thread, with the VM's SRCU read lock held; `retdata` must be valid for
/// writes.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_snapshot_set_shmem(
    vcpu: *mut bindings::kvm_vcpu,
    lo: c_ulong,
    hi: c_ulong,
    flags: c_ulong,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        with_vcpu(vcpu, retdata, |v| {
            let mut area = v.snapshot_area();
            let (mut mem, _) = v.parts();
            let r = engine::set_shmem(
                &mut mem,
                &mut area,
                lo as usize,
                hi as usize,
                flags as usize,
            );
            drop(mem);
            v.set_snapshot_area(area);
            r
        })
    }
}

/// `sbi_pmu_counter_start(base, mask, flags, value)`; stores the SBI error
/// code in `retdata` and returns 0.
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
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        with_vcpu(vcpu, retdata, |v| {
            let area = v.snapshot_area();
            let (mut mem, mut ctrs) = v.parts();
            engine::start(
                &mut mem,
                &mut ctrs,
                area,
                base as usize,
                mask as usize,
                flags as usize,
                value,
            )
        })
    }
}

/// `sbi_pmu_counter_stop(base, mask, flags)`; stores the SBI error code in
/// `retdata` and returns 0.
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
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        with_vcpu(vcpu, retdata, |v| {
            let area = v.snapshot_area();
            let (mut mem, mut ctrs) = v.parts();
            engine::stop(
                &mut mem,
                &mut ctrs,
                area,
                base as usize,
                mask as usize,
                flags as usize,
            )
        })
    }
}

/// Drops the vCPU's snapshot registration on reset and teardown. No guest
/// memory is touched, nothing is freed (the Rust path keeps no kernel copy)
/// and nothing sleeps: vCPU reset runs with preemption disabled.
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
    let mut area = vcpu.snapshot_area();
    engine::clear(&mut area);
    vcpu.set_snapshot_area(area);
}

/// `sbi_pmu_counter_get_info(counter_idx)`; stores the SBI error code and,
/// on success, the counter's info word in `retdata`, and returns 0.
///
/// # Safety
///
/// As for [`kvm_riscv_pmu_rs_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_ctr_info(
    vcpu: *mut bindings::kvm_vcpu,
    index: c_ulong,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    let mut info = 0;
    // SAFETY: guaranteed by the caller.
    let ret = unsafe {
        with_vcpu(vcpu, retdata, |v| {
            let (_, ctrs) = v.parts();
            info = engine::ctr_info(&ctrs, index as usize)?;
            Ok(())
        })
    };
    // SAFETY: `retdata` is null or valid for writes (guaranteed by the
    // caller); `err_val` was just written.
    if let Some(r) = unsafe { retdata.as_mut() } {
        if r.err_val == 0 {
            r.out_val = info;
        }
    }
    ret
}

/// Whether `base` and `mask` name only counters below `num_counters`, with
/// no wrap-around of `base + bit`; used for every SBI PMU call that takes
/// a counter base and mask, including config matching.
#[no_mangle]
pub extern "C" fn kvm_riscv_pmu_rs_counter_mask_valid(
    base: c_ulong,
    mask: c_ulong,
    num_counters: c_ulong,
) -> bool {
    let num = (num_counters as usize).min(area::NUM_SLOTS);
    request::CounterSet::new(base as usize, mask as usize, num).is_ok()
}
