// SPDX-License-Identifier: GPL-2.0

//! Exports the perf attribution test cases to `perf_guest_kunit.c`, plus
//! cases that call the real `perf_misc_flags()` and
//! `perf_instruction_pointer()` on made-up registers with no guest running.

use core::ffi::{c_char, c_uint};

use kernel::bindings;

use super::attribution::{MISC_KERNEL, MISC_USER};
use super::tests::CASES;

/// Number of test cases (the shared ones, then the FFI ones).
#[no_mangle]
pub(crate) extern "C" fn riscv_perf_guest_test_count() -> c_uint {
    // CAST: there are a few dozen cases.
    (CASES.len() + FFI_CASES.len()) as c_uint
}

/// Name of case `index` as a NUL-terminated string, or null past the end.
#[no_mangle]
pub(crate) extern "C" fn riscv_perf_guest_test_name(index: c_uint) -> *const c_char {
    let i = index as usize;
    let name = match CASES.get(i) {
        Some(c) => c.name,
        None => match FFI_CASES.get(i - CASES.len()) {
            Some((name, _)) => name,
            None => return core::ptr::null(),
        },
    };
    name.as_ptr().cast()
}

/// Runs case `index`; returns 0 on success, else the line of the failed
/// check (`u32::MAX` for a bad index).
#[no_mangle]
pub(crate) extern "C" fn riscv_perf_guest_test_run(index: c_uint) -> u32 {
    let i = index as usize;
    let run = match CASES.get(i) {
        Some(c) => c.run,
        None => match FFI_CASES.get(i - CASES.len()) {
            Some((_, run)) => *run,
            None => return u32::MAX,
        },
    };
    match run() {
        Ok(()) => 0,
        Err(line) => line,
    }
}

/// A case that needs the kernel: its NUL-terminated name and its body.
type FfiCase = (&'static str, fn() -> Result<(), u32>);

/// The cases that call into the kernel; they run after the shared `CASES`.
static FFI_CASES: &[FfiCase] = &[
    ("no_guest_kernel_regs\0", no_guest_kernel_regs),
    ("no_guest_user_regs\0", no_guest_user_regs),
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
fn no_guest_kernel_regs() -> Result<(), u32> {
    let mut r = regs(1 << 8, 0xffff_ffff_8000_1234);
    // SAFETY: `r` is a valid `pt_regs`; no vCPU runs on this thread, so
    // the guest callbacks report no guest.
    let (flags, ip) = unsafe {
        (
            super::perf_misc_flags(&mut r),
            super::perf_instruction_pointer(&mut r),
        )
    };
    if flags != MISC_KERNEL as _ || ip != 0xffff_ffff_8000_1234 {
        return Err(line!());
    }
    Ok(())
}

/// With no guest running, user-mode registers give `USER` and the host IP.
fn no_guest_user_regs() -> Result<(), u32> {
    let mut r = regs(0, 0x1_0000);
    // SAFETY: as in `no_guest_kernel_regs`.
    let (flags, ip) = unsafe {
        (
            super::perf_misc_flags(&mut r),
            super::perf_instruction_pointer(&mut r),
        )
    };
    if flags != MISC_USER as _ || ip != 0x1_0000 {
        return Err(line!());
    }
    Ok(())
}
