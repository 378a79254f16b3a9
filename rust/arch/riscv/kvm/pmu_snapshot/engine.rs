// SPDX-License-Identifier: GPL-2.0

//! The snapshot logic of `snapshot_set_shmem`, counter start, counter stop
//! and counter info, written against two small traits so that the same
//! code runs in the kernel (over a real vCPU) and in tests (over fakes).

use super::abi::{SbiError, SbiResult};
use super::area::{self, AREA_SIZE, NUM_SLOTS};
use super::request::{index_nospec, Bits, CounterSet, ShmemRequest, StartInit, StopFlags};

/// A guest physical address.
pub(crate) type Gpa = u64;

/// A guest memory access that failed (no memory slot, or a fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemFault;

/// The vCPU's snapshot area in guest memory.
///
/// An area is attached once, at registration; each access to it is
/// bracketed by [`SnapshotMemory::begin`] and [`SnapshotMemory::end`], and
/// offsets are relative to the area, so nothing outside the 4 KiB area can
/// be reached through this trait.
pub(crate) trait SnapshotMemory {
    /// Returns true when the page holding `gpa` is backed by a memory slot
    /// the guest can write.
    fn is_writable(&mut self, gpa: Gpa) -> bool;
    /// Makes the page at `gpa` the area, or detaches it with `None`.
    fn attach(&mut self, gpa: Option<Gpa>) -> Result<(), MemFault>;
    /// Starts an access to the attached area; fails when its memory is gone.
    fn begin(&mut self) -> Result<(), MemFault>;
    /// Reads the little-endian word at byte `offset` (a multiple of 8 below
    /// 4096) of the area.
    fn read_word(&mut self, offset: usize) -> u64;
    /// Writes the little-endian word at byte `offset` (a multiple of 8 below
    /// 4096) of the area.
    fn write_word(&mut self, offset: usize, value: u64);
    /// Zeroes the whole area.
    fn clear(&mut self);
    /// Ends the access begun by `begin`; `dirty` if anything was written.
    fn end(&mut self, dirty: bool);
}

/// How a start initialises the counters it starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Init<'a> {
    /// Keep each counter's value.
    Keep,
    /// Every counter starts from this value.
    Value(u64),
    /// Counter `base + i` starts from `values[i]`; the slice reaches the
    /// highest counter of the set.
    PerSlot(&'a [u64]),
}

/// What a start or stop did, as masks relative to the base of the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Counters started or stopped.
    pub(crate) done: u64,
    /// Counters that were already started (start) or stopped (stop).
    pub(crate) already: u64,
    /// Counters that cannot be started or stopped.
    pub(crate) invalid: u64,
    /// (Stop) counters that had overflowed, before any reset.
    pub(crate) overflowed: u64,
}

/// The vCPU's virtual counters. Counters in the mask that are not
/// configured appear in no mask of the [`Outcome`].
pub(crate) trait CounterBank {
    /// Number of counters (hardware and firmware), at most 64.
    fn num_counters(&self) -> usize;
    /// The configured counters, as an absolute mask.
    fn in_use(&self) -> u64;
    /// Starts the counters of `set`.
    fn start(&mut self, set: &CounterSet, init: Init<'_>) -> Outcome;
    /// Stops the counters of `set`, releasing them on `reset`. With
    /// `values` (which reaches the highest counter of the set), stores the
    /// value of every counter in `done | already` at its slot and reports
    /// overflows.
    fn stop(&mut self, set: &CounterSet, reset: bool, values: Option<&mut [u64]>) -> Outcome;
    /// Returns the `counter_info` word of counter `index` (below `num_counters()`).
    fn info(&self, index: usize) -> usize;
}

/// Handles `counter_get_info(counter_idx)` (FID 1).
///
/// Counter 1 is the `time` CSR, which KVM does not offer as a counter.
pub(crate) fn ctr_info<C: CounterBank>(ctrs: &C, index: usize) -> SbiResult<usize> {
    let num = ctrs.num_counters();
    if index >= num || index == 1 {
        return Err(SbiError::InvalidParam);
    }
    Ok(ctrs.info(index_nospec(index, num)))
}

/// Handles `snapshot_set_shmem(lo, hi, flags)`.
///
/// `area` is the vCPU's registration. On success the new area is zeroed and
/// replaces the old one, which is never touched again; on disable the
/// registration is dropped.
pub(crate) fn set_shmem<M: SnapshotMemory>(
    mem: &mut M,
    area: &mut Option<Gpa>,
    lo: usize,
    hi: usize,
    flags: usize,
) -> SbiResult {
    let gpa = match ShmemRequest::from_args(lo, hi, flags, usize::BITS)? {
        ShmemRequest::Disable => {
            *area = None;
            // Detaching cannot fail.
            let _ = mem.attach(None);
            return Ok(());
        }
        ShmemRequest::Enable(gpa) => gpa,
    };
    // The area is one aligned page, so one writable page is all it needs.
    if !mem.is_writable(gpa) {
        return Err(SbiError::InvalidAddress);
    }
    // The old area is dropped whatever happens next, so that a failed call
    // never leaves the guest with an area it did not ask for.
    *area = None;
    if mem.attach(Some(gpa)).is_err() || mem.begin().is_err() {
        let _ = mem.attach(None);
        return Err(SbiError::Failed);
    }
    mem.clear();
    mem.end(true);
    *area = Some(gpa);
    Ok(())
}

/// The SBI result of a start or stop: `InvalidParam` if any counter was invalid, else
/// `already` if any was already started or stopped, else success.
fn sbi_result(out: &Outcome, already: SbiError) -> SbiResult {
    if out.invalid != 0 {
        Err(SbiError::InvalidParam)
    } else if out.already != 0 {
        Err(already)
    } else {
        Ok(())
    }
}

/// Slots in the buffer of a start or stop that reaches at most counter
/// `base + SMALL - 1`.
const SMALL: usize = 8;

/// Reads the slots of the configured counters of `set` and starts the set
/// from them. `N` must reach the highest counter of the set.
fn start_from_snapshot<const N: usize, M: SnapshotMemory, C: CounterBank>(
    mem: &mut M,
    ctrs: &mut C,
    set: &CounterSet,
) -> SbiResult<Outcome> {
    let wanted = set.relative(ctrs.in_use());
    let mut values = [0u64; N];
    mem.begin().map_err(|_| SbiError::Failed)?;
    for slot in Bits(wanted) {
        values[slot] = mem.read_word(area::slot_offset(slot));
    }
    mem.end(false);
    Ok(ctrs.start(set, Init::PerSlot(&values)))
}

/// Handles a counter start (FID 3).
///
/// With `INIT_SNAPSHOT` only the slots of the configured counters in the
/// set are read, all within one access to the mapped area.
pub(crate) fn start<M: SnapshotMemory, C: CounterBank>(
    mem: &mut M,
    ctrs: &mut C,
    area: Option<Gpa>,
    base: usize,
    mask: usize,
    flags: usize,
    init_value: u64,
) -> SbiResult {
    let init = StartInit::from_flags(flags)?;
    let set = CounterSet::new(base, mask, ctrs.num_counters())?;
    let out = match init {
        StartInit::Keep => ctrs.start(&set, Init::Keep),
        StartInit::Value => ctrs.start(&set, Init::Value(init_value)),
        StartInit::Snapshot => {
            if area.is_none() {
                return Err(SbiError::NoShmem);
            }
            // Small sets (the common case) need only a small buffer.
            if set.fits(SMALL) {
                start_from_snapshot::<SMALL, _, _>(mem, ctrs, &set)?
            } else {
                start_from_snapshot::<NUM_SLOTS, _, _>(mem, ctrs, &set)?
            }
        }
    };
    sbi_result(&out, SbiError::AlreadyStarted)
}

/// Handles a counter stop (FID 4).
///
/// With `TAKE_SNAPSHOT` the value of every stopped counter (also one that
/// was already stopped) goes to its slot and its overflow bit to the
/// bitmap; no other slot, bitmap bit or reserved byte is written.
pub(crate) fn stop<M: SnapshotMemory, C: CounterBank>(
    mem: &mut M,
    ctrs: &mut C,
    area: Option<Gpa>,
    base: usize,
    mask: usize,
    flags: usize,
) -> SbiResult {
    let flags = StopFlags::from_flags(flags)?;
    let set = CounterSet::new(base, mask, ctrs.num_counters())?;
    if !flags.take_snapshot {
        let out = ctrs.stop(&set, flags.reset, None);
        return sbi_result(&out, SbiError::AlreadyStopped);
    }
    if area.is_none() {
        return Err(SbiError::NoShmem);
    }

    if set.fits(SMALL) {
        stop_to_snapshot::<SMALL, _, _>(mem, ctrs, &set, flags.reset)
    } else {
        stop_to_snapshot::<NUM_SLOTS, _, _>(mem, ctrs, &set, flags.reset)
    }
}

/// Stops `set` and saves the stopped counters in the area. `N` must reach
/// the highest counter of the set.
fn stop_to_snapshot<const N: usize, M: SnapshotMemory, C: CounterBank>(
    mem: &mut M,
    ctrs: &mut C,
    set: &CounterSet,
    reset: bool,
) -> SbiResult {
    let mut values = [0u64; N];
    let out = ctrs.stop(set, reset, Some(&mut values));
    let saved = out.done | out.already;
    let result = sbi_result(&out, SbiError::AlreadyStopped);
    if saved == 0 {
        return result;
    }
    let overflowed = if reset { 0 } else { out.overflowed & saved };

    mem.begin().map_err(|_| SbiError::Failed)?;
    // Read-modify-write of the bitmap word: only the saved counters' bits change.
    let bitmap = (mem.read_word(0) & !saved) | overflowed;
    mem.write_word(0, bitmap);
    for slot in Bits(saved) {
        mem.write_word(area::slot_offset(slot), values[slot]);
    }
    mem.end(true);
    result
}

/// Drops the vCPU's snapshot registration (vCPU reset and teardown). The
/// area is not touched again; the mapping itself is dropped by the C side
/// at vCPU teardown, where sleeping is allowed.
pub(crate) fn clear(area: &mut Option<Gpa>) {
    *area = None;
}

const _: () = assert!(AREA_SIZE == 4096);
