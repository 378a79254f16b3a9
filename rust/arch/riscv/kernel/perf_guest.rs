// SPDX-License-Identifier: GPL-2.0

//! riscv perf: tell guest samples from host samples.
//!
//! Overrides the generic `perf_misc_flags()` and `perf_instruction_pointer()`
//! (see `asm/perf_event.h`): when `perf_guest_state()` says the sample
//! interrupted a guest, the sample is `GUEST_KERNEL` or `GUEST_USER` and its
//! IP is the guest's; otherwise it is `KERNEL` or `USER` from the interrupted
//! host registers. The classification is in [`attribution`], pure and
//! tested by KUnit.

use core::ffi::c_ulong;

use kernel::bindings;

#[path = "perf_guest/attribution.rs"]
mod attribution;

#[cfg(CONFIG_RISCV_PERF_GUEST_KUNIT_TEST)]
#[path = "../lib/rust_cases.rs"]
mod harness;
#[cfg(CONFIG_RISCV_PERF_GUEST_KUNIT_TEST)]
// A failed check carries its message by value, without allocating.
#[allow(clippy::result_large_err)]
#[path = "perf_guest/kunit.rs"]
mod kunit;
#[cfg(CONFIG_RISCV_PERF_GUEST_KUNIT_TEST)]
#[allow(clippy::result_large_err)]
#[path = "perf_guest/tests.rs"]
mod tests;

use attribution::Context;

/// `SR_PP`, the previous-privilege field `user_mode()` reads: `sstatus.SPP`
/// for a kernel running in S-mode, non-zero when the trap came from
/// supervisor mode.
#[cfg(not(CONFIG_RISCV_M_MODE))]
const SR_PP: usize = 1 << 8;
/// `SR_PP` for a kernel running in M-mode: `mstatus.MPP`, zero when the
/// trap came from user mode.
#[cfg(CONFIG_RISCV_M_MODE)]
const SR_PP: usize = 3 << 11;

// The classification's constants are its own (it builds without the
// kernel); here they are checked against the kernel's, at compile time.
const _: () = {
    use attribution::*;
    assert!(bindings::PERF_RECORD_MISC_KERNEL == MISC_KERNEL as u32);
    assert!(bindings::PERF_RECORD_MISC_USER == MISC_USER as u32);
    assert!(bindings::PERF_RECORD_MISC_GUEST_KERNEL == MISC_GUEST_KERNEL as u32);
    assert!(bindings::PERF_RECORD_MISC_GUEST_USER == MISC_GUEST_USER as u32);
    assert!(bindings::PERF_GUEST_ACTIVE == PERF_GUEST_ACTIVE);
    assert!(bindings::PERF_GUEST_USER == PERF_GUEST_USER);
};

/// The interrupted host context: its IP and whether it was user mode.
///
/// # Safety
///
/// `regs` must be null or point to valid registers.
unsafe fn host(regs: *const bindings::pt_regs) -> (usize, bool) {
    if regs.is_null() {
        return (0, false);
    }
    // SAFETY: `regs` is valid (guaranteed by the caller).
    let (epc, status) = unsafe { ((*regs).epc, (*regs).status) };
    // `user_mode()`: the previous privilege was user mode.
    (epc, status & SR_PP == 0)
}

/// The `PERF_GUEST_*` bits of the current sample, from `perf_guest_state()`; 0 when no
/// guest was interrupted or when the sample is a host sample whatever the
/// guest state (the overflow of an event that excludes the guest).
fn guest_state() -> u32 {
    // SAFETY: reads this CPU's host-sample flag and the registered guest
    // callbacks; safe in any context, including the PMU interrupt.
    unsafe { bindings::riscv_perf_sample_guest_state() }
}

/// `perf_misc_flags()` for riscv: the `PERF_RECORD_MISC_*` cpumode.
///
/// # Safety
///
/// `regs` must be null or point to the registers of the sampled context.
#[no_mangle]
pub unsafe extern "C" fn perf_misc_flags(regs: *mut bindings::pt_regs) -> c_ulong {
    let state = guest_state();
    // SAFETY: guaranteed by the caller.
    let (_, user) = unsafe { host(regs) };
    c_ulong::from(Context::of(state, user).misc())
}

/// `perf_instruction_pointer()` for riscv: the guest's IP for guest
/// samples, else the interrupted host IP.
///
/// # Safety
///
/// `regs` must be null or point to the registers of the sampled context.
#[no_mangle]
pub unsafe extern "C" fn perf_instruction_pointer(regs: *mut bindings::pt_regs) -> c_ulong {
    let state = guest_state();
    // SAFETY: guaranteed by the caller.
    let (ip, _) = unsafe { host(regs) };
    let guest_ip = || {
        // SAFETY: only called while `perf_guest_state()` reports a guest,
        // as `perf_guest_get_ip()` requires.
        unsafe { bindings::perf_guest_get_ip() as usize }
    };
    attribution::instruction_pointer(state, guest_ip, ip) as c_ulong
}
