// SPDX-License-Identifier: GPL-2.0

//! Exports the pure-core test cases of [`super::tests`] to the C KUnit
//! suite in `pmu_snapshot_kunit.c`, which runs each as a parameter of one
//! KUnit case.

use core::ffi::{c_char, c_uint};

use super::tests::{CASES, SCRATCH_SIZE};
use crate::harness::report;

/// Number of test cases.
#[no_mangle]
pub(crate) extern "C" fn kvm_pmu_snapshot_test_count() -> c_uint {
    // CAST: there are a few dozen cases.
    CASES.len() as c_uint
}

/// Bytes of scratch memory a case needs.
#[no_mangle]
pub(crate) extern "C" fn kvm_pmu_snapshot_test_scratch_size() -> usize {
    SCRATCH_SIZE
}

/// Name of case `index` as a NUL-terminated string, or null past the end.
#[no_mangle]
pub(crate) extern "C" fn kvm_pmu_snapshot_test_name(index: c_uint) -> *const c_char {
    match CASES.get(index as usize) {
        Some(case) => case.name.as_ptr().cast(),
        None => core::ptr::null(),
    }
}

/// Runs case `index`; returns 0 on success, else the source line of the
/// failed check (`u32::MAX` for a bad index or scratch buffer), with the
/// failed expression and its values in `msg`.
///
/// # Safety
///
/// `scratch` must be valid for reads and writes of `len` bytes and not
/// used by anything else during the call; `msg` must be null or valid for
/// writes of `msg_len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_pmu_snapshot_test_run(
    index: c_uint,
    scratch: *mut u8,
    len: usize,
    msg: *mut c_char,
    msg_len: usize,
) -> u32 {
    let Some(case) = CASES.get(index as usize) else {
        return u32::MAX;
    };
    if scratch.is_null() || len < SCRATCH_SIZE {
        return u32::MAX;
    }
    // SAFETY: `scratch` is valid and exclusive for `len` bytes (guaranteed by
    // the caller).
    let scratch = unsafe { core::slice::from_raw_parts_mut(scratch, len) };
    // SAFETY: `msg` is null or valid for `msg_len` bytes (guaranteed by the
    // caller).
    unsafe { report((case.run)(scratch), msg.cast(), msg_len) }
}
