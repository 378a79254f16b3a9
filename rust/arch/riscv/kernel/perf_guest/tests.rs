// SPDX-License-Identifier: GPL-2.0

//! Test cases for the perf attribution core, run by KUnit through
//! `kunit.rs` and `perf_guest_kunit.c`.

use crate::harness::{cases, check, check_eq, CaseResult};

use super::attribution::{
    instruction_pointer, Context, MISC_GUEST_KERNEL, MISC_GUEST_USER, MISC_KERNEL, MISC_USER,
    PERF_GUEST_ACTIVE, PERF_GUEST_USER,
};

/// Short name for `PERF_GUEST_ACTIVE`.
const ACTIVE: u32 = PERF_GUEST_ACTIVE;
/// Short name for `PERF_GUEST_USER`.
const USER: u32 = PERF_GUEST_USER;

/// No guest and supervisor-mode host registers: a host kernel sample (`MISC_KERNEL`).
fn host_kernel() -> CaseResult {
    check_eq!(Context::of(0, false), Context::HostKernel);
    check_eq!(Context::of(0, false).misc(), MISC_KERNEL);
    check!(!Context::of(0, false).is_guest());
    Ok(())
}

/// No guest and user-mode host registers: a host user sample (`MISC_USER`).
fn host_user() -> CaseResult {
    check_eq!(Context::of(0, true), Context::HostUser);
    check_eq!(Context::of(0, true).misc(), MISC_USER);
    Ok(())
}

/// An interrupted guest not in user mode is `GuestKernel`, whatever the host registers.
fn guest_kernel() -> CaseResult {
    // The host registers do not matter once a guest was interrupted.
    for host_user in [false, true] {
        check_eq!(Context::of(ACTIVE, host_user), Context::GuestKernel);
        check_eq!(Context::of(ACTIVE, host_user).misc(), MISC_GUEST_KERNEL);
    }
    Ok(())
}

/// An interrupted guest in user mode is `GuestUser`, whatever the host registers.
fn guest_user() -> CaseResult {
    for host_user in [false, true] {
        check_eq!(Context::of(ACTIVE | USER, host_user), Context::GuestUser);
        check_eq!(
            Context::of(ACTIVE | USER, host_user).misc(),
            MISC_GUEST_USER
        );
        check!(Context::of(ACTIVE | USER, host_user).is_guest());
    }
    Ok(())
}

/// A guest state with bits set but not `ACTIVE` is attributed to the host.
fn malformed_state_is_host() -> CaseResult {
    check_eq!(Context::of(USER, false), Context::HostKernel);
    check_eq!(Context::of(USER, true), Context::HostUser);
    check_eq!(Context::of(0x80, false), Context::HostKernel);
    Ok(())
}

/// The IP is the guest's only when a guest was interrupted, and the guest IP is asked
/// for only then.
fn ip_from_guest_only_in_guest() -> CaseResult {
    let mut asked = 0;
    check_eq!(
        instruction_pointer(
            0,
            || {
                asked += 1;
                0x1000
            },
            0xffff_0000
        ),
        0xffff_0000
    );
    check_eq!(asked, 0);
    check_eq!(
        instruction_pointer(
            ACTIVE,
            || {
                asked += 1;
                0x1000
            },
            0xffff_0000
        ),
        0x1000
    );
    check_eq!(
        instruction_pointer(
            ACTIVE | USER,
            || {
                asked += 1;
                0x2000
            },
            0
        ),
        0x2000
    );
    check_eq!(asked, 2);
    check_eq!(
        instruction_pointer(
            USER,
            || {
                asked += 1;
                0x3000
            },
            0x42
        ),
        0x42
    );
    check_eq!(asked, 2);
    Ok(())
}

cases!(
    host_kernel,
    host_user,
    guest_kernel,
    guest_user,
    malformed_state_is_host,
    ip_from_guest_only_in_guest,
);
