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

/// The reserved bits of an event index, 20 to 31, which must be zero.
pub(crate) const EVENT_IDX_RESERVED: u32 = 0xfff0_0000;
/// Event type of hardware general events (`event_idx[19:16]`).
pub(crate) const TYPE_HW: u32 = 0x0;
/// Event type of hardware cache events.
pub(crate) const TYPE_CACHE: u32 = 0x1;
/// Event type of raw events (48 bits of event data).
pub(crate) const TYPE_RAW: u32 = 0x2;
/// Event type of raw events v2 (56 bits of event data, SBI v3.0).
pub(crate) const TYPE_RAW_V2: u32 = 0x3;
/// Event type of firmware events.
pub(crate) const TYPE_FW: u32 = 0xf;
/// Firmware event codes below this one are defined (`SBI_PMU_FW_MAX`).
pub(crate) const FW_MAX: u32 = 22;

/// The type (`event_idx[19:16]`, with the reserved bits above it) and the
/// code (`event_idx[15:0]`) of an event index.
pub(crate) const fn split_event_idx(event_idx: u32) -> (u32, u32) {
    (event_idx >> 16, event_idx & 0xffff)
}

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
