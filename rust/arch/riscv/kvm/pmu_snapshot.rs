// SPDX-License-Identifier: GPL-2.0

//! RISC-V KVM: the SBI PMU snapshot area in Rust.
//!
//! Implements `snapshot_set_shmem` (FID 7), counter start (FID 3, with
//! `INIT_SNAPSHOT`) and stop (FID 4, with `TAKE_SNAPSHOT`), counter info
//! (FID 1), firmware counter reads (FID 5), the clearing of the area on
//! vCPU reset and teardown, and the vCPU's PMU state registers
//! (`KVM_REG_RISCV_SBI_PMU` of `KVM_GET_ONE_REG`/`KVM_SET_ONE_REG`, for live
//! migration), for `arch/riscv/kvm/vcpu_pmu.c`.
//!
//! The SBI entry points are the C functions of `kvm_vcpu_pmu.h`
//! themselves (`kvm_riscv_vcpu_pmu_ctr_start()` and so on), defined here
//! when `CONFIG_KVM_RISCV_PMU_SNAPSHOT_RUST` leaves the C bodies out, so a
//! call costs no forwarding frame.
//!
//! Layers, top to bottom: this FFI edge turns the C arguments into safe
//! types once; [`vcpu`] is the safe shell over the vCPU; [`engine`],
//! [`request`], [`state`], [`area`] and [`abi`] are the pure core, which uses nothing
//! but `core` and also runs in KUnit and in host-side tests. Unlike the C
//! path, no kernel copy of the area is kept: the area stays mapped through
//! a gfn-to-pfn cache and each call reads or writes only the words it needs.

use core::ffi::{c_int, c_uint, c_ulong};
use core::ptr::NonNull;

use kernel::bindings;

#[path = "pmu_snapshot/abi.rs"]
mod abi;
#[path = "pmu_snapshot/area.rs"]
mod area;
#[path = "pmu_snapshot/engine.rs"]
mod engine;
#[path = "pmu_snapshot/event_info.rs"]
mod event_info;
#[path = "pmu_snapshot/memory.rs"]
mod memory;
#[path = "pmu_snapshot/request.rs"]
mod request;
#[path = "pmu_snapshot/state.rs"]
mod state;
#[path = "pmu_snapshot/vcpu.rs"]
mod vcpu;

#[cfg(CONFIG_KVM_RISCV_PMU_SNAPSHOT_KUNIT_TEST)]
#[path = "../lib/rust_cases.rs"]
mod harness;
#[cfg(CONFIG_KVM_RISCV_PMU_SNAPSHOT_KUNIT_TEST)]
// A failed check carries its message by value, without allocating.
#[allow(clippy::result_large_err)]
#[path = "pmu_snapshot/kunit.rs"]
mod kunit;
#[cfg(CONFIG_KVM_RISCV_PMU_SNAPSHOT_KUNIT_TEST)]
#[allow(clippy::result_large_err)]
#[path = "pmu_snapshot/tests.rs"]
mod tests;

use engine::CounterBank;
use state::{Reg, RegError};
use vcpu::Vcpu;

/// What a successful SBI call returns in `out_val`, if anything.
trait OutVal {
    /// The value for `out_val`; `None` leaves it 0.
    fn out_val(self) -> Option<usize>;
}

impl OutVal for () {
    fn out_val(self) -> Option<usize> {
        None
    }
}

impl OutVal for usize {
    fn out_val(self) -> Option<usize> {
        Some(self)
    }
}

/// Runs the SBI call `f` on the vCPU and stores its result in `retdata`:
/// the value in `out_val` on success, the SBI error code in `err_val` on
/// failure. Returns 0, what KVM's SBI handlers return when the call needs
/// nothing from user space.
///
/// Like the C handlers, this relies on KVM's SBI dispatch handing every
/// handler a zeroed `retdata`: a success leaves `err_val` alone.
///
/// # Safety
///
/// `vcpu` must point to a vCPU that is handling its own SBI call on this
/// thread, with the VM's SRCU read lock held; `retdata` must be valid for
/// writes and zeroed.
unsafe fn sbi_call<T: OutVal>(
    vcpu: *mut bindings::kvm_vcpu,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
    f: impl FnOnce(&mut Vcpu<'_>) -> abi::SbiResult<T>,
) -> c_int {
    // SAFETY: `vcpu` is a valid vCPU that handles its own SBI call with the
    // SRCU read lock held (guaranteed by the caller).
    let mut vcpu = unsafe { Vcpu::from_raw(NonNull::new_unchecked(vcpu)) };
    match f(&mut vcpu) {
        Ok(value) => {
            if let Some(value) = value.out_val() {
                // SAFETY: `retdata` is valid for writes (guaranteed by the
                // caller).
                unsafe { (*retdata).out_val = value };
            }
        }
        // CAST: `err_val` is an `unsigned long` that holds the sign-extended
        // SBI error code, as in C.
        // SAFETY: as above.
        Err(e) => unsafe { (*retdata).err_val = e.code() as isize as usize },
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
/// writes and zeroed, as KVM's SBI dispatch passes it.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_snapshot_set_shmem(
    vcpu: *mut bindings::kvm_vcpu,
    lo: c_ulong,
    hi: c_ulong,
    flags: c_ulong,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        sbi_call(vcpu, retdata, |v| {
            let mut area = v.snapshot_area();
            let (mut mem, _) = v.parts();
            let r = engine::set_shmem(
                &mut mem,
                &mut area,
                lo as usize,
                hi as usize,
                flags as usize,
            );
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
/// As for [`kvm_riscv_vcpu_pmu_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_ctr_start(
    vcpu: *mut bindings::kvm_vcpu,
    base: c_ulong,
    mask: c_ulong,
    flags: c_ulong,
    value: u64,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        sbi_call(vcpu, retdata, |v| {
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
/// As for [`kvm_riscv_vcpu_pmu_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_ctr_stop(
    vcpu: *mut bindings::kvm_vcpu,
    base: c_ulong,
    mask: c_ulong,
    flags: c_ulong,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        sbi_call(vcpu, retdata, |v| {
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

/// Drops the vCPU's snapshot registration and the mapping of its area on
/// reset and teardown. No guest memory is touched and nothing is freed (the
/// Rust path keeps no kernel copy); dropping the mapping may sleep.
///
/// # Safety
///
/// `vcpu` must point to a valid vCPU that is not running and whose PMU
/// context is not used concurrently, in process context.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_pmu_rs_snapshot_clear(vcpu: *mut bindings::kvm_vcpu) {
    let Some(ptr) = NonNull::new(vcpu) else {
        return;
    };
    // SAFETY: guaranteed by the caller; no guest memory is accessed, so the
    // SRCU read lock is not needed.
    let mut vcpu = unsafe { Vcpu::from_raw(ptr) };
    let mut area = vcpu.snapshot_area();
    let (mut mem, _) = vcpu.parts();
    engine::clear(&mut mem, &mut area);
    vcpu.set_snapshot_area(area);
}

/// `sbi_pmu_counter_get_info(counter_idx)`; stores the SBI error code and,
/// on success, the counter's info word in `retdata`, and returns 0.
///
/// # Safety
///
/// As for [`kvm_riscv_vcpu_pmu_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_ctr_info(
    vcpu: *mut bindings::kvm_vcpu,
    index: c_ulong,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        sbi_call(vcpu, retdata, |v| {
            let (_, ctrs) = v.parts();
            engine::ctr_info(&ctrs, index as usize)
        })
    }
}

/// `sbi_pmu_event_get_info(shmem_lo, shmem_hi, num_entries, flags)` (SBI
/// v3.0); stores the SBI error code in `retdata` and returns 0.
///
/// # Safety
///
/// As for [`kvm_riscv_vcpu_pmu_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_event_info(
    vcpu: *mut bindings::kvm_vcpu,
    lo: c_ulong,
    hi: c_ulong,
    num_entries: c_ulong,
    flags: c_ulong,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        sbi_call(vcpu, retdata, |v| {
            let (mut mem, _) = v.parts();
            event_info::event_info(
                &mut mem,
                &mut vcpu::HostEvents,
                lo as usize,
                hi as usize,
                num_entries as usize,
                flags as usize,
            )
        })
    }
}

/// `sbi_pmu_counter_fw_read(counter_idx)`; stores the SBI error code and,
/// on success, the counter's value in `retdata`, and returns 0.
///
/// # Safety
///
/// As for [`kvm_riscv_vcpu_pmu_snapshot_set_shmem`].
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_fw_ctr_read(
    vcpu: *mut bindings::kvm_vcpu,
    index: c_ulong,
    retdata: *mut bindings::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe {
        sbi_call(vcpu, retdata, |v| {
            let (_, mut ctrs) = v.parts();
            // CAST: a counter value is 64 bits wide, like `unsigned long` on RV64.
            engine::fw_read(&mut ctrs, index as usize).map(|value| value as usize)
        })
    }
}

/// The `index`th of the vCPU's `KVM_REG_RISCV_SBI_PMU` registers, as its
/// number and `KVM_REG_SIZE` bits; 0 past the last.
///
/// # Safety
///
/// `vcpu` must point to a valid vCPU whose PMU is initialised and not used
/// concurrently (its ioctl), in process context.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_state_reg(
    vcpu: *mut bindings::kvm_vcpu,
    index: c_uint,
) -> u64 {
    // SAFETY: guaranteed by the caller; no guest memory is accessed.
    let mut vcpu = unsafe { Vcpu::from_raw(NonNull::new_unchecked(vcpu)) };
    let (_, ctrs) = vcpu.parts();
    // CAST: `usize` holds a `u32`.
    Reg::nth(index as usize, ctrs.num_counters(), ctrs.fw_events()).map_or(0, Reg::encode)
}

/// Reads register `reg` (number and size bits) into `val`; returns 0,
/// `-ENOENT` when it does not exist, or `-EINVAL` when its size differs.
///
/// # Safety
///
/// As for [`kvm_riscv_vcpu_pmu_state_reg`]; `val` must be valid for writes
/// of `KVM_PMU_STATE_REG_MAX` bytes and aligned for `u64`.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_state_get(
    vcpu: *mut bindings::kvm_vcpu,
    reg: u64,
    val: *mut u64,
) -> c_int {
    // SAFETY: guaranteed by the caller; no guest memory is accessed.
    let mut vcpu = unsafe { Vcpu::from_raw(NonNull::new_unchecked(vcpu)) };
    let area = vcpu.snapshot_area();
    let (_, ctrs) = vcpu.parts();
    let words: [u64; 4] = match Reg::decode(reg, ctrs.num_counters(), ctrs.fw_events()) {
        Err(e) => return e.errno(),
        Ok(Reg::Snapshot) => [state::snapshot_value(area), 0, 0, 0],
        Ok(Reg::Counter(i)) => ctrs.save_counter(i).to_words(),
        Ok(Reg::Firmware(i)) => {
            let [value, flags] = ctrs.save_firmware(i);
            [value, flags, 0, 0]
        }
    };
    // SAFETY: `val` is valid for writes of four words (guaranteed by the
    // caller); the C side copies out only the register's size.
    unsafe { val.cast::<[u64; 4]>().write(words) };
    0
}

/// Restores register `reg` (number and size bits) from `val`; returns 0,
/// or a negative errno with the vCPU's state unchanged: `-ENOENT` for no
/// such register, `-EINVAL` for another size or a value the vCPU could
/// not have reached (including an event this host cannot count and an area
/// outside writable guest memory).
///
/// # Safety
///
/// As for [`kvm_riscv_vcpu_pmu_state_reg`], with the VM's SRCU read lock
/// held; `val` must be valid for reads of `KVM_PMU_STATE_REG_MAX` bytes
/// and aligned for `u64`.
#[no_mangle]
pub unsafe extern "C" fn kvm_riscv_vcpu_pmu_state_set(
    vcpu: *mut bindings::kvm_vcpu,
    reg: u64,
    val: *const u64,
) -> c_int {
    // SAFETY: guaranteed by the caller.
    let mut vcpu = unsafe { Vcpu::from_raw(NonNull::new_unchecked(vcpu)) };
    // SAFETY: `val` is valid for reads of four words (guaranteed by the
    // caller); the words past the register's size are not used.
    let words = unsafe { val.cast::<[u64; 4]>().read() };
    let result = {
        let (_, ctrs) = vcpu.parts();
        Reg::decode(reg, ctrs.num_counters(), ctrs.fw_events())
    };
    let result = result.and_then(|r| match r {
        Reg::Snapshot => {
            let mut area = vcpu.snapshot_area();
            let (mut mem, _) = vcpu.parts();
            let r = state::restore_snapshot(&mut mem, &mut area, words[0]);
            vcpu.set_snapshot_area(area);
            r
        }
        Reg::Counter(i) => {
            let (_, mut ctrs) = vcpu.parts();
            let kind = ctrs.kind(i);
            let checked =
                state::check_counter(state::CounterReg::from_words(words), kind, ctrs.fw_events())?;
            ctrs.restore_counter(i, checked)
        }
        Reg::Firmware(i) => {
            let (_, mut ctrs) = vcpu.parts();
            let (value, started) = state::check_firmware([words[0], words[1]])?;
            ctrs.restore_firmware(i, value, started);
            Ok(())
        }
    });
    result.map_or_else(RegError::errno, |()| 0)
}
