// SPDX-License-Identifier: GPL-2.0

//! Which of the four contexts a perf sample belongs to, and its IP.
//!
//! Pure logic over the value of `perf_guest_state()` and the interrupted
//! host registers; no kernel bindings, so it also runs in tests.

/// `PERF_GUEST_ACTIVE`: the sample interrupted a guest.
pub(crate) const PERF_GUEST_ACTIVE: u32 = 0x01;
/// `PERF_GUEST_USER`: the interrupted guest was in user mode.
pub(crate) const PERF_GUEST_USER: u32 = 0x02;

/// `PERF_RECORD_MISC_KERNEL`.
pub(crate) const MISC_KERNEL: u16 = 1;
/// `PERF_RECORD_MISC_USER`.
pub(crate) const MISC_USER: u16 = 2;
/// `PERF_RECORD_MISC_GUEST_KERNEL`.
pub(crate) const MISC_GUEST_KERNEL: u16 = 4;
/// `PERF_RECORD_MISC_GUEST_USER`.
pub(crate) const MISC_GUEST_USER: u16 = 5;

/// The context a sample was taken in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    /// Host kernel.
    HostKernel,
    /// Host user space.
    HostUser,
    /// Guest kernel (VS-mode).
    GuestKernel,
    /// Guest user space (VU-mode).
    GuestUser,
}

impl Context {
    /// Classifies a sample from `perf_guest_state()` and whether the
    /// interrupted host registers are in user mode. Host registers are only
    /// looked at when no guest was interrupted.
    pub(crate) const fn of(guest_state: u32, host_user_mode: bool) -> Self {
        if guest_state & PERF_GUEST_ACTIVE == 0 && guest_state != 0 {
            // A state without ACTIVE but with other bits is malformed:
            // attribute it to the host rather than guess.
            return if host_user_mode {
                Context::HostUser
            } else {
                Context::HostKernel
            };
        }
        match (
            guest_state != 0,
            guest_state & PERF_GUEST_USER != 0,
            host_user_mode,
        ) {
            (true, true, _) => Context::GuestUser,
            (true, false, _) => Context::GuestKernel,
            (false, _, true) => Context::HostUser,
            (false, _, false) => Context::HostKernel,
        }
    }

    /// Whether the sample belongs to a guest.
    pub(crate) const fn is_guest(self) -> bool {
        matches!(self, Context::GuestKernel | Context::GuestUser)
    }

    /// The `PERF_RECORD_MISC_*` cpumode of the sample.
    pub(crate) const fn misc(self) -> u16 {
        match self {
            Context::HostKernel => MISC_KERNEL,
            Context::HostUser => MISC_USER,
            Context::GuestKernel => MISC_GUEST_KERNEL,
            Context::GuestUser => MISC_GUEST_USER,
        }
    }
}

/// The IP of a sample: the guest's when a guest was interrupted (asking
/// `guest_ip` only then, as `perf_guest_get_ip()` requires), else `host_ip`.
pub(crate) fn instruction_pointer(
    guest_state: u32,
    guest_ip: impl FnOnce() -> usize,
    host_ip: usize,
) -> usize {
    if Context::of(guest_state, false).is_guest() {
        guest_ip()
    } else {
        host_ip
    }
}
