// SPDX-License-Identifier: GPL-2.0

//! Validation of the guest's SBI PMU arguments.
//!
//! Everything here is a pure function of the guest's registers (and the
//! number of counters of the vCPU): it decides which SBI error a call gets
//! before any state is touched.

use super::abi::{
    SbiError, SbiResult, SHMEM_DISABLE, START_INIT_SNAPSHOT, START_SET_INIT_VALUE, STOP_RESET,
    STOP_TAKE_SNAPSHOT,
};
use super::area::AREA_SIZE;

/// The validated flags of a counter start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartInit {
    /// Start from the counter's current value.
    Keep,
    /// `SET_INIT_VALUE`: start from the value in the call.
    Value,
    /// `INIT_SNAPSHOT`: start from the value in the snapshot area.
    Snapshot,
}

impl StartInit {
    /// Validates the `flags` of a start: reserved bits must be zero (SBI
    /// v3.0), and the two initialisation flags are mutually exclusive.
    pub(crate) fn from_flags(flags: usize) -> SbiResult<Self> {
        match flags {
            0 => Ok(StartInit::Keep),
            START_SET_INIT_VALUE => Ok(StartInit::Value),
            START_INIT_SNAPSHOT => Ok(StartInit::Snapshot),
            // Both initialisation flags, or a reserved bit.
            _ => Err(SbiError::InvalidParam),
        }
    }
}

/// The validated flags of a counter stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StopFlags {
    /// `RESET`: release the counters.
    pub(crate) reset: bool,
    /// `TAKE_SNAPSHOT`: save the stopped counters in the snapshot area.
    pub(crate) take_snapshot: bool,
}

impl StopFlags {
    /// Validates the `flags` of a stop: reserved bits must be zero (SBI v3.0).
    pub(crate) fn from_flags(flags: usize) -> SbiResult<Self> {
        if flags & !(STOP_RESET | STOP_TAKE_SNAPSHOT) != 0 {
            return Err(SbiError::InvalidParam);
        }
        Ok(StopFlags {
            reset: flags & STOP_RESET != 0,
            take_snapshot: flags & STOP_TAKE_SNAPSHOT != 0,
        })
    }
}

/// What a valid `snapshot_set_shmem` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShmemRequest {
    /// Both halves all ones: clear and disable the area.
    Disable,
    /// Use the 4 KiB area at this guest physical address.
    Enable(u64),
}

impl ShmemRequest {
    /// Validates the arguments of `snapshot_set_shmem` (FID 7).
    ///
    /// `xlen` is the guest's register width in bits (32 or 64). Whether the
    /// address is backed by writable guest memory is checked later, against
    /// the vCPU's memory slots.
    pub(crate) fn from_args(lo: usize, hi: usize, flags: usize, xlen: u32) -> SbiResult<Self> {
        if flags != 0 {
            return Err(SbiError::InvalidParam);
        }
        if lo == SHMEM_DISABLE && hi == SHMEM_DISABLE {
            return Ok(ShmemRequest::Disable);
        }
        if lo % AREA_SIZE != 0 {
            return Err(SbiError::InvalidParam);
        }
        Ok(ShmemRequest::Enable(split_address(lo, hi, xlen)?))
    }
}

/// The guest physical address that a `lo`/`hi` pair of SBI arguments
/// names, for a guest with `xlen`-bit registers (32 or 64): on RV32 the
/// high half holds the bits above 32; on RV64 the low half holds the whole
/// address, and a non-zero high half, which would name bits above 64, is
/// `InvalidAddress`.
pub(crate) fn split_address(lo: usize, hi: usize, xlen: u32) -> SbiResult<u64> {
    if xlen >= 64 {
        if hi != 0 {
            return Err(SbiError::InvalidAddress);
        }
        // CAST: `usize` is at most 64 bits wide.
        Ok(lo as u64)
    } else {
        let mask = (1u64 << xlen) - 1;
        // CAST: as above; only the low `xlen` bits of each half count.
        Ok(((hi as u64 & mask) << xlen) | (lo as u64 & mask))
    }
}

/// A validated `counter_idx_base` and `counter_idx_mask` pair.
///
/// # Invariants
///
/// `mask != 0` and `base + i < num_counters` for every bit `i` of `mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CounterSet {
    /// The absolute number of the counter of bit 0 of `mask`.
    base: usize,
    /// The counters of the set, relative to `base`.
    mask: u64,
}

impl CounterSet {
    /// Validates a base and mask against the vCPU's number of counters
    /// (at most 64). A `base + bit` that would wrap around is rejected.
    pub(crate) fn new(base: usize, mask: usize, num_counters: usize) -> SbiResult<Self> {
        if mask == 0 || base >= num_counters {
            return Err(SbiError::InvalidParam);
        }
        // Counters `base..num_counters` exist: the mask must fit in that
        // room. Shifting instead of adding cannot wrap around.
        let room = num_counters - base;
        if room < usize::BITS as usize && mask >> room != 0 {
            return Err(SbiError::InvalidParam);
        }
        // INVARIANT: `mask != 0`, and every bit `i` of it is below `room`,
        // so `base + i < num_counters`.
        Ok(CounterSet {
            base,
            mask: mask as u64,
        })
    }

    /// The absolute number of the counter of relative number `slot`.
    pub(crate) const fn counter(&self, slot: usize) -> usize {
        self.base + slot
    }

    /// The absolute mask of the relative counters `relative`.
    pub(crate) const fn absolute(&self, relative: u64) -> u64 {
        // `base < 64` by the invariant, so the shift is in range.
        relative << self.base
    }

    /// The relative mask of the counters among `absolute`, an absolute mask.
    pub(crate) const fn relative(&self, absolute: u64) -> u64 {
        // `base < 64` by the invariant, so the shift is in range.
        (absolute >> self.base) & self.mask
    }
}

/// Iterator over the set bits of a mask, lowest first.
pub(crate) struct Bits(pub u64);

impl Iterator for Bits {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

/// Clamps `index` to `0` when it is not below `size`, also under
/// speculation: the bounds check cannot be bypassed by a mispredicted branch
/// (Spectre v1), as with the kernel's `array_index_nospec()`.
#[inline(always)]
pub(crate) fn index_nospec(index: usize, size: usize) -> usize {
    // Hidden from the optimiser, so that it cannot replace the mask
    // arithmetic below with a branch.
    let index = opaque(index);
    // All ones when `index < size`, else zero (`size <= isize::MAX` here).
    let mask = (!(index | size.wrapping_sub(1).wrapping_sub(index)) as isize >> (usize::BITS - 1))
        as usize;
    let clamped = index & mask;
    // Telling the compiler that the result is in range lets it drop a
    // bounds check of its own, which would be a branch on the guest's value.
    if size != 0 && clamped >= size {
        // SAFETY: `mask` is all ones only when `index < size`, else zero,
        // so `clamped` is either `index`, below `size`, or 0, below a
        // non-zero `size`: this is never reached.
        unsafe { core::hint::unreachable_unchecked() }
    }
    clamped
}

/// Keeps `index` inside an array of `size` entries, `size` a power of two,
/// also under speculation: the index is hidden from the optimiser, as in
/// [`index_nospec`], and then masked, so the mask cannot be dropped even
/// where an earlier bound check makes it look redundant. An index that is
/// not below `size` wraps around instead of becoming 0: use it for indices
/// that are already checked, where only a mispredicted check could let one
/// through.
#[inline(always)]
pub(crate) fn index_nospec_pow2(index: usize, size: usize) -> usize {
    debug_assert!(size.is_power_of_two());
    opaque(index) & (size - 1)
}

/// Returns `value` unchanged, hidden from the optimiser: it can assume
/// nothing about the result, so masks applied to it stay in the code even
/// where an earlier bound check makes them look redundant.
#[inline(always)]
fn opaque(value: usize) -> usize {
    let mut value = value;
    // SAFETY: An empty assembly block that only names a register; it has no
    // effect on memory or on the stack.
    unsafe {
        core::arch::asm!(
            "/* {0} */",
            inout(reg) value,
            options(pure, nomem, nostack, preserves_flags)
        )
    };
    value
}
