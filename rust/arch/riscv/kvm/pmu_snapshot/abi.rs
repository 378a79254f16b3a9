// SPDX-License-Identifier: GPL-2.0

//! SBI PMU extension constants and error codes (SBI v2.0/v3.0, `ext-pmu.adoc`).
//!
//! Pure data: no kernel bindings, usable in KUnit and in host-side tests.

/// `SBI_PMU_START_FLAG_SET_INIT_VALUE`: start from the value passed in the call.
pub(crate) const START_SET_INIT_VALUE: usize = 1 << 0;
/// `SBI_PMU_START_FLAG_INIT_SNAPSHOT`: start from the values in the snapshot area.
pub(crate) const START_INIT_SNAPSHOT: usize = 1 << 1;
/// `SBI_PMU_STOP_FLAG_RESET`: release the counters after stopping them.
pub(crate) const STOP_RESET: usize = 1 << 0;
/// `SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT`: save the stopped counters in the snapshot area.
pub(crate) const STOP_TAKE_SNAPSHOT: usize = 1 << 1;

/// The value of both halves of the address that disables the snapshot area.
pub(crate) const SHMEM_DISABLE: usize = usize::MAX;

/// The errors an SBI call can return (SBI v2.0 table 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SbiError {
    /// `SBI_ERR_FAILED`: the call failed for an unspecified reason.
    Failed,
    /// `SBI_ERR_NOT_SUPPORTED`.
    NotSupported,
    /// `SBI_ERR_INVALID_PARAM`.
    InvalidParam,
    /// `SBI_ERR_DENIED`.
    Denied,
    /// `SBI_ERR_INVALID_ADDRESS`.
    InvalidAddress,
    /// `SBI_ERR_ALREADY_AVAILABLE`.
    AlreadyAvailable,
    /// `SBI_ERR_ALREADY_STARTED`.
    AlreadyStarted,
    /// `SBI_ERR_ALREADY_STOPPED`.
    AlreadyStopped,
    /// `SBI_ERR_NO_SHMEM`.
    NoShmem,
}

impl SbiError {
    /// Returns the numeric error code the guest sees in `a0`.
    pub(crate) const fn code(self) -> i64 {
        match self {
            SbiError::Failed => -1,
            SbiError::NotSupported => -2,
            SbiError::InvalidParam => -3,
            SbiError::Denied => -4,
            SbiError::InvalidAddress => -5,
            SbiError::AlreadyAvailable => -6,
            SbiError::AlreadyStarted => -7,
            SbiError::AlreadyStopped => -8,
            SbiError::NoShmem => -9,
        }
    }
}

/// The result of an SBI call: `Ok` is `SBI_SUCCESS`.
pub(crate) type SbiResult<T = ()> = Result<T, SbiError>;
