// SPDX-License-Identifier: GPL-2.0

//! The snapshot logic of `snapshot_set_shmem`, counter start and counter
//! stop, written against two small traits so that the same code runs in the
//! kernel (over a real vCPU) and in tests (over fakes).

use super::abi::{SbiError, SbiResult};
use super::area::{WordRuns, AREA_SIZE, NUM_SLOTS, WORD};
use super::request::{index_nospec, CounterSet, ShmemRequest, StartInit, StopFlags};

/// A guest physical address.
pub(crate) type Gpa = u64;

/// A guest memory access that failed (no memory slot, or a fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemFault;

/// The vCPU's view of guest physical memory.
pub(crate) trait GuestMemory {
    /// Returns true when the page holding `gpa` is backed by a memory slot
    /// the guest can write.
    fn is_writable(&mut self, gpa: Gpa) -> bool;
    /// Reads `buf.len()` bytes at `gpa`.
    fn read(&mut self, gpa: Gpa, buf: &mut [u8]) -> Result<(), MemFault>;
    /// Writes `buf` at `gpa`.
    fn write(&mut self, gpa: Gpa, buf: &[u8]) -> Result<(), MemFault>;
    /// Writes `len` zero bytes at `gpa`.
    fn clear(&mut self, gpa: Gpa, len: usize) -> Result<(), MemFault>;
}

/// What happened to one counter in a start or a stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CounterStatus {
    /// The counter is not configured: it is skipped, silently.
    Unused,
    /// The counter was started or stopped.
    Done,
    /// The counter was already in the requested state.
    Already,
    /// The counter cannot be started or stopped.
    Invalid,
}

/// The outcome of stopping one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stopped {
    /// What happened.
    pub(crate) status: CounterStatus,
    /// The counter's value after the stop (meaningless for `Unused` and `Invalid`).
    pub(crate) value: u64,
    /// Whether the counter had overflowed (before a reset).
    pub(crate) overflowed: bool,
}

/// The vCPU's virtual counters.
pub(crate) trait CounterBank {
    /// Number of counters (hardware and firmware), at most 64.
    fn num_counters(&self) -> usize;
    /// The configured counters, as an absolute mask.
    fn in_use(&self) -> u64;
    /// Starts counter `index` (below `num_counters()`), from `init` if given.
    fn start(&mut self, index: usize, init: Option<u64>) -> CounterStatus;
    /// Stops counter `index` (below `num_counters()`), releasing it on `reset`.
    fn stop(&mut self, index: usize, reset: bool) -> Stopped;
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
pub(crate) fn set_shmem<M: GuestMemory>(
    mem: &mut M,
    area: &mut Option<Gpa>,
    lo: usize,
    hi: usize,
    flags: usize,
) -> SbiResult {
    let gpa = match ShmemRequest::from_args(lo, hi, flags, usize::BITS)? {
        ShmemRequest::Disable => {
            *area = None;
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
    mem.clear(gpa, AREA_SIZE).map_err(|_| SbiError::Failed)?;
    *area = Some(gpa);
    Ok(())
}

/// Byte image of the bitmap word and the 64 slots, in area order.
struct Words([u8; (1 + NUM_SLOTS) * WORD]);

impl Words {
    const fn new() -> Self {
        Words([0; (1 + NUM_SLOTS) * WORD])
    }

    fn get(&self, word: usize) -> u64 {
        let mut b = [0u8; WORD];
        b.copy_from_slice(&self.0[word * WORD..(word + 1) * WORD]);
        u64::from_le_bytes(b)
    }

    fn set(&mut self, word: usize, value: u64) {
        self.0[word * WORD..(word + 1) * WORD].copy_from_slice(&value.to_le_bytes());
    }

    fn run(&mut self, first: usize, len: usize) -> &mut [u8] {
        &mut self.0[first * WORD..(first + len) * WORD]
    }
}

/// Handles a counter start (FID 3).
///
/// With `INIT_SNAPSHOT` only the slots of the configured counters in the
/// set are read, in as few guest reads as there are runs of neighbours.
pub(crate) fn start<M: GuestMemory, C: CounterBank>(
    mem: &mut M,
    ctrs: &mut C,
    area: Option<Gpa>,
    base: usize,
    mask: usize,
    flags: usize,
    init_value: u64,
) -> SbiResult {
    let init = StartInit::from_flags(flags)?;
    let num = ctrs.num_counters();
    let set = CounterSet::new(base, mask, num)?;
    let mut words = Words::new();
    if init == StartInit::Snapshot {
        let gpa = area.ok_or(SbiError::NoShmem)?;
        let wanted = set.relative(ctrs.in_use());
        for run in WordRuns::new(false, wanted) {
            mem.read(gpa + run.offset() as u64, words.run(run.first, run.len))
                .map_err(|_| SbiError::Failed)?;
        }
    }

    let mut result = Ok(());
    for slot in set.iter() {
        let index = index_nospec(set.base() + slot, num);
        let value = match init {
            StartInit::Keep => None,
            StartInit::Value => Some(init_value),
            StartInit::Snapshot => Some(words.get(1 + slot)),
        };
        match ctrs.start(index, value) {
            CounterStatus::Unused | CounterStatus::Done => {}
            CounterStatus::Already => result = Err(SbiError::AlreadyStarted),
            CounterStatus::Invalid => result = Err(SbiError::InvalidParam),
        }
    }
    result
}

/// Handles a counter stop (FID 4).
///
/// With `TAKE_SNAPSHOT` the value of every stopped counter (also one that
/// was already stopped) goes to its slot and its overflow bit to the bitmap;
/// no other slot, bitmap bit or reserved byte is written.
pub(crate) fn stop<M: GuestMemory, C: CounterBank>(
    mem: &mut M,
    ctrs: &mut C,
    area: Option<Gpa>,
    base: usize,
    mask: usize,
    flags: usize,
) -> SbiResult {
    let flags = StopFlags::from_flags(flags)?;
    let num = ctrs.num_counters();
    let set = CounterSet::new(base, mask, num)?;
    let gpa = match (flags.take_snapshot, area) {
        (true, None) => return Err(SbiError::NoShmem),
        (true, Some(gpa)) => Some(gpa),
        (false, _) => None,
    };

    let mut result = Ok(());
    let mut words = Words::new();
    let mut saved = 0u64;
    let mut overflowed = 0u64;
    for slot in set.iter() {
        let index = index_nospec(set.base() + slot, num);
        let out = ctrs.stop(index, flags.reset);
        match out.status {
            CounterStatus::Unused => continue,
            CounterStatus::Invalid => {
                result = Err(SbiError::InvalidParam);
                continue;
            }
            CounterStatus::Already => result = Err(SbiError::AlreadyStopped),
            CounterStatus::Done => {}
        }
        saved |= 1 << slot;
        words.set(1 + slot, out.value);
        if out.overflowed && !flags.reset {
            overflowed |= 1 << slot;
        }
    }

    let Some(gpa) = gpa else {
        return result;
    };
    if saved == 0 {
        return result;
    }
    // Read-modify-write of the bitmap word: only the saved counters' bits change.
    let mut bitmap = [0u8; WORD];
    if mem.read(gpa, &mut bitmap).is_err() {
        return Err(SbiError::Failed);
    }
    let bitmap = (u64::from_le_bytes(bitmap) & !saved) | overflowed;
    words.set(0, bitmap);
    for run in WordRuns::new(true, saved) {
        if mem
            .write(gpa + run.offset() as u64, words.run(run.first, run.len))
            .is_err()
        {
            return Err(SbiError::Failed);
        }
    }
    result
}
