// SPDX-License-Identifier: GPL-2.0

//! Exports the perf attribution test cases to `perf_guest_kunit.c`, plus
//! cases that call the real `perf_misc_flags()` and
//! `perf_instruction_pointer()` on made-up registers with no guest running.

use core::ffi::{c_char, c_uint, c_ulong};

use kernel::bindings;

use super::attribution::{MISC_KERNEL, MISC_USER};
use super::tests::CASES;
use crate::harness::{check_eq, report, Case, CaseResult};

/// Number of test cases (the shared ones, then the FFI ones).
#[no_mangle]
pub(crate) extern "C" fn riscv_perf_guest_test_count() -> c_uint {
    // CAST: there are a few dozen cases.
    (CASES.len() + FFI_CASES.len()) as c_uint
}

/// Case `index`, the shared ones first.
fn case(index: c_uint) -> Option<&'static Case<fn() -> CaseResult>> {
    let i = index as usize;
    CASES
        .get(i)
        .or_else(|| FFI_CASES.get(i.checked_sub(CASES.len())?))
}

/// Name of case `index` as a NUL-terminated string, or null past the end.
#[no_mangle]
pub(crate) extern "C" fn riscv_perf_guest_test_name(index: c_uint) -> *const c_char {
    case(index).map_or(core::ptr::null(), |c| c.name.as_ptr().cast())
}

/// Runs case `index`; returns 0 on success, else the line of the failed
/// check (`u32::MAX` for a bad index), with the failed expression and its
/// values in `msg`.
///
/// # Safety
///
/// `msg` must be null or valid for writes of `msg_len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn riscv_perf_guest_test_run(
    index: c_uint,
    msg: *mut c_char,
    msg_len: usize,
) -> u32 {
    match case(index) {
        // SAFETY: `msg` is null or valid for `msg_len` bytes (guaranteed by
        // the caller).
        Some(c) => unsafe { report((c.run)(), msg.cast(), msg_len) },
        None => u32::MAX,
    }
}

/// The cases that call into the kernel; they run after the shared `CASES`.
static FFI_CASES: &[Case<fn() -> CaseResult>] = &[
    Case {
        name: "no_guest_kernel_regs\0",
        run: no_guest_kernel_regs,
    },
    Case {
        name: "no_guest_user_regs\0",
        run: no_guest_user_regs,
    },
];

/// Made-up registers: all zeroes but `status` and `epc`.
fn regs(status: usize, epc: usize) -> bindings::pt_regs {
    // SAFETY: `pt_regs` is plain integers, for which all zeroes is valid.
    let mut r: bindings::pt_regs = unsafe { core::mem::zeroed() };
    r.status = status;
    r.epc = epc;
    r
}

/// With no guest running, supervisor-mode registers give `KERNEL` and the host IP.
fn no_guest_kernel_regs() -> CaseResult {
    let mut r = regs(1 << 8, 0xffff_ffff_8000_1234);
    // SAFETY: `r` is a valid `pt_regs`; no vCPU runs on this thread, so
    // the guest callbacks report no guest.
    let (flags, ip) = unsafe {
        (
            super::perf_misc_flags(&mut r),
            super::perf_instruction_pointer(&mut r),
        )
    };
    check_eq!(flags, MISC_KERNEL as c_ulong);
    check_eq!(ip, 0xffff_ffff_8000_1234);
    Ok(())
}

/// With no guest running, user-mode registers give `USER` and the host IP.
fn no_guest_user_regs() -> CaseResult {
    let mut r = regs(0, 0x1_0000);
    // SAFETY: as in `no_guest_kernel_regs`.
    let (flags, ip) = unsafe {
        (
            super::perf_misc_flags(&mut r),
            super::perf_instruction_pointer(&mut r),
        )
    };
    check_eq!(flags, MISC_USER as c_ulong);
    check_eq!(ip, 0x1_0000);
    Ok(())
}
