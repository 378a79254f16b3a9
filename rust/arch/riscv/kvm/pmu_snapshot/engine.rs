// SPDX-License-Identifier: GPL-2.0

//! The logic of `snapshot_set_shmem`, counter start, counter stop, counter
//! info and firmware counter reads, written against three small traits
//! (guest memory, one access to the mapped area, the counters) so that the
//! same code runs in the kernel (over a real vCPU) and in tests (over fakes).

use super::abi::{SbiError, SbiResult};
use super::area::{AREA_SIZE, NUM_SLOTS};
use super::request::{index_nospec, Bits, CounterSet, ShmemRequest, StartInit, StopFlags};

pub(crate) use super::memory::{Gpa, GuestMemory, GuestRange, MemFault};

/// The vCPU's snapshot area in guest memory.
///
/// An area is attached once, at registration; each access to it is a
/// [`MappedArea`] that [`SnapshotMemory::begin`] returns and whose drop ends
/// the access. Offsets are relative to the area, so nothing outside the
/// 4 KiB area can be reached through these traits.
pub(crate) trait SnapshotMemory: GuestMemory {
    /// One access to the attached area.
    type Mapped<'a>: MappedArea
    where
        Self: 'a;

    /// Makes the page at `gpa` the area, or detaches it with `None`.
    fn attach(&mut self, gpa: Option<Gpa>) -> Result<(), MemFault>;
    /// Starts an access to the attached area; fails when its memory is gone.
    fn begin(&mut self) -> Result<Self::Mapped<'_>, MemFault>;
}

/// The snapshot area during one access; dropping it ends the access, and
/// marks the area's page dirty if anything was written.
pub(crate) trait MappedArea {
    /// Reads the overflow bitmap word.
    fn bitmap(&mut self) -> u64;
    /// Writes the overflow bitmap word.
    fn set_bitmap(&mut self, value: u64);
    /// Reads value slot `slot` (below [`NUM_SLOTS`]).
    fn slot(&mut self, slot: usize) -> u64;
    /// Writes value slot `slot` (below [`NUM_SLOTS`]).
    fn set_slot(&mut self, slot: usize, value: u64);
    /// Takes one value of `values` per slot from `first` on, and writes it
    /// when the slot's bit of `mask` is set (bit 0 is slot `first`); stops
    /// after the last set bit of `mask` or at the last slot.
    fn set_slots(&mut self, first: usize, mask: u64, values: impl Iterator<Item = u64>) {
        let mut mask = mask;
        for (slot, value) in (first..NUM_SLOTS).zip(values) {
            if mask == 0 {
                break;
            }
            if mask & 1 != 0 {
                self.set_slot(slot, value);
            }
            mask >>= 1;
        }
    }
    /// Zeroes the whole area.
    fn clear(&mut self);
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
}

impl Outcome {
    /// Adds the counters of `other`, which has no counter in common.
    fn merge(&mut self, other: &Outcome) {
        self.done |= other.done;
        self.already |= other.already;
        self.invalid |= other.invalid;
    }

    /// Records what happened to the counter of relative bit `bit`.
    #[inline(always)]
    fn note(&mut self, step: Step, bit: u64) {
        match step {
            Step::Done => self.done |= bit,
            Step::Already => self.already |= bit,
            Step::Invalid => self.invalid |= bit,
        }
    }
}

/// What starting or stopping one counter did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Started or stopped.
    Done,
    /// Already started (start) or stopped (stop).
    Already,
    /// The counter cannot be started or stopped.
    Invalid,
}

/// The vCPU's virtual counters.
///
/// Counters are numbered absolutely; every `counter` argument is a
/// configured counter of a validated [`CounterSet`]. A counter is either a
/// firmware counter, which KVM counts itself and which starts and stops
/// without sleeping, or a hardware counter backed by a perf event, whose
/// start and stop may sleep and so never run during an access to the area.
pub(crate) trait CounterBank {
    /// Number of counters (hardware and firmware), at most 64.
    fn num_counters(&self) -> usize;
    /// The configured counters, as an absolute mask.
    fn in_use(&self) -> u64;
    /// The counters that overflowed since they were last started, as an
    /// absolute mask.
    fn overflowed(&self) -> u64;
    /// Forgets the overflows of the counters of `mask` (absolute), which
    /// are about to start again.
    fn clear_overflowed(&mut self, mask: u64);
    /// The hardware counters, as an absolute mask; the others are firmware
    /// counters.
    fn hardware(&self) -> u64;
    /// The value of a counter (current for a stopped counter).
    fn value(&self, counter: usize) -> u64;
    /// The values of the `count` counters from `counter` on, as [`value`]
    /// gives them (fewer if the counters end first).
    ///
    /// [`value`]: CounterBank::value
    fn values(&self, counter: usize, count: usize) -> impl Iterator<Item = u64> + '_ {
        (counter..counter.saturating_add(count).min(self.num_counters())).map(|c| self.value(c))
    }
    /// Starts a stopped firmware counter from `init`, or from its value
    /// with `None`; a started one is left alone (`Already`). Never sleeps.
    fn start_firmware(&mut self, counter: usize, init: Option<u64>) -> Step;
    /// Stops a firmware counter, bringing its value up to date, and returns
    /// that value with the step (the value means nothing for `Invalid`);
    /// never sleeps.
    fn stop_firmware(&mut self, counter: usize) -> (Step, u64);
    /// Gets a stopped hardware counter ready to start from `init` (or
    /// from its value with `None`): `Done` when [`start_hardware`] may
    /// start it; a started one is left alone (`Already`). Never sleeps.
    ///
    /// [`start_hardware`]: CounterBank::start_hardware
    fn prepare_hardware(&mut self, counter: usize, init: Option<u64>) -> Step;
    /// Starts a hardware counter from its value; may sleep.
    fn start_hardware(&mut self, counter: usize) -> Step;
    /// Stops a hardware counter, bringing its value up to date; may sleep.
    fn stop_hardware(&mut self, counter: usize) -> Step;
    /// Reads a firmware counter: the value of its event, or `None` when it
    /// has no firmware event configured.
    fn read_firmware(&mut self, counter: usize) -> Option<u64>;
    /// Releases the configured counters of `mask` (absolute): a stop with
    /// `RESET`.
    fn release(&mut self, mask: u64);
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

/// Handles `counter_fw_read(counter_idx)` (FID 5).
///
/// Only a firmware counter can be read this way: a hardware counter, the
/// `time` counter 1 and an index past the counters are `InvalidParam`, as the
/// specification says (the C path reads a hardware counter's perf event).
/// So is a firmware counter without a configured event: it has nothing to
/// read (as mainline Linux since 7.1).
pub(crate) fn fw_read<C: CounterBank>(ctrs: &mut C, index: usize) -> SbiResult<u64> {
    let num = ctrs.num_counters();
    if index >= num || index == 1 {
        return Err(SbiError::InvalidParam);
    }
    // The counter bank masks `index` with `index_nospec_pow2()` before it
    // indexes its array, which keeps a mispredicted bound inside it.
    if (ctrs.hardware() >> index) & 1 != 0 {
        return Err(SbiError::InvalidParam);
    }
    // A counter with no firmware event configured has nothing to read.
    ctrs.read_firmware(index).ok_or(SbiError::InvalidParam)
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
    // CAST: the area's size.
    let writable = GuestRange::new(gpa, AREA_SIZE as u64).is_some_and(|a| a.writable(mem));
    if !writable {
        return Err(SbiError::InvalidAddress);
    }
    // The old area is dropped whatever happens next, so that a failed call
    // never leaves the guest with an area it did not ask for.
    *area = None;
    if mem.attach(Some(gpa)).is_err() {
        return Err(SbiError::Failed);
    }
    let mapped = mem.begin().map(|mut mapped| mapped.clear());
    if mapped.is_err() {
        let _ = mem.attach(None);
        return Err(SbiError::Failed);
    }
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

/// Starts the firmware counters among the configured counters `wanted`
/// (relative to `set`), each from the value `init` gives for its slot, and
/// gets the stopped hardware counters ready to start in the same way;
/// returns what happened and the hardware counters left for
/// [`start_hardware`]. A counter that is already started keeps its value.
/// Never sleeps, so `init` may read the mapped area.
#[inline(always)]
fn start_firmware<C: CounterBank>(
    ctrs: &mut C,
    set: &CounterSet,
    wanted: u64,
    mut init: impl FnMut(usize) -> Option<u64>,
) -> (Outcome, u64) {
    let mut out = Outcome::default();
    let hardware = wanted & set.relative(ctrs.hardware());
    for slot in Bits(wanted & !hardware) {
        out.note(
            ctrs.start_firmware(set.counter(slot), init(slot)),
            1 << slot,
        );
    }
    let mut ready = 0;
    for slot in Bits(hardware) {
        match ctrs.prepare_hardware(set.counter(slot), init(slot)) {
            Step::Done => ready |= 1 << slot,
            step => out.note(step, 1 << slot),
        }
    }
    (out, ready)
}

/// Starts the hardware counters `hardware` (relative to `set`).
fn start_hardware<C: CounterBank>(
    ctrs: &mut C,
    set: &CounterSet,
    hardware: u64,
    out: &mut Outcome,
) {
    for slot in Bits(hardware) {
        out.note(ctrs.start_hardware(set.counter(slot)), 1 << slot);
    }
}

/// Handles a counter start (FID 3).
///
/// With `INIT_SNAPSHOT` only the slots of the configured counters in the
/// set are read, and each firmware counter starts as its slot is read,
/// within one access to the mapped area; hardware counters start after it
/// (starting a perf event may sleep, which an access to the area must not).
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
    if init == StartInit::Snapshot && area.is_none() {
        return Err(SbiError::NoShmem);
    }
    let wanted = set.relative(ctrs.in_use());
    // The guest starts these counters again: their overflows are over. This
    // comes before any of them runs, so that no new overflow is lost, and
    // after the area is mapped, so that a failed start changes nothing.
    let restarted = set.absolute(wanted);
    let (mut out, hardware) = match init {
        StartInit::Keep => {
            ctrs.clear_overflowed(restarted);
            start_firmware(ctrs, &set, wanted, |_| None)
        }
        StartInit::Value => {
            ctrs.clear_overflowed(restarted);
            start_firmware(ctrs, &set, wanted, |_| Some(init_value))
        }
        StartInit::Snapshot => {
            let mut mapped = mem.begin().map_err(|_| SbiError::Failed)?;
            ctrs.clear_overflowed(restarted);
            start_firmware(ctrs, &set, wanted, |slot| Some(mapped.slot(slot)))
        }
    };
    if hardware != 0 {
        start_hardware(ctrs, &set, hardware, &mut out);
    }
    sbi_result(&out, SbiError::AlreadyStarted)
}

/// Stops the firmware counters `firmware` (relative to `set`), calling
/// `save` with the slot and value of each one stopped or already stopped.
/// Never sleeps, so `save` may write the mapped area.
#[inline(always)]
fn stop_firmware<C: CounterBank>(
    ctrs: &mut C,
    set: &CounterSet,
    firmware: u64,
    mut save: impl FnMut(usize, u64),
) -> Outcome {
    let mut out = Outcome::default();
    for slot in Bits(firmware) {
        let (step, value) = ctrs.stop_firmware(set.counter(slot));
        if step != Step::Invalid {
            save(slot, value);
        }
        out.note(step, 1 << slot);
    }
    out
}

/// Stops the hardware counters `hardware` (relative to `set`).
fn stop_hardware<C: CounterBank>(ctrs: &mut C, set: &CounterSet, hardware: u64) -> Outcome {
    let mut out = Outcome::default();
    for slot in Bits(hardware) {
        out.note(ctrs.stop_hardware(set.counter(slot)), 1 << slot);
    }
    out
}

/// Handles a counter stop (FID 4).
///
/// With `TAKE_SNAPSHOT` the value of every stopped counter (also one that
/// was already stopped) goes to its slot and its overflow bit to the
/// bitmap; no other slot, bitmap bit or reserved byte is written. Hardware
/// counters are stopped before the area is mapped (stopping a perf event may
/// sleep); firmware counters are saved as they stop, in one access to the
/// area. With `RESET` the counters are released after their values are
/// saved, and their bitmap bits are cleared.
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
    if flags.take_snapshot && area.is_none() {
        return Err(SbiError::NoShmem);
    }
    let wanted = set.relative(ctrs.in_use());
    // Hardware counters stop first, outside any access to the area
    // (stopping a perf event may sleep); both kinds of stop share this walk.
    let hardware = wanted & set.relative(ctrs.hardware());
    let mut out = if hardware != 0 {
        stop_hardware(ctrs, &set, hardware)
    } else {
        Outcome::default()
    };
    let firmware = wanted & !hardware;
    let mut failed = false;
    if !flags.take_snapshot || wanted == 0 {
        out.merge(&stop_firmware(ctrs, &set, firmware, |_, _| {}));
    } else {
        failed = stop_to_snapshot(mem, ctrs, &set, firmware, flags.reset, &mut out);
    }
    if flags.reset {
        ctrs.release(set.absolute(wanted));
    }
    if failed {
        return Err(SbiError::Failed);
    }
    sbi_result(&out, SbiError::AlreadyStopped)
}

/// Saves the stopped hardware counters of `out` (relative to `set`) in the
/// area, stops the firmware counters `firmware` as their slots are written
/// and updates the bitmap word, all in one access; adds the firmware
/// counters to `out` and returns whether saving failed (the area's memory
/// is gone).
fn stop_to_snapshot<M: SnapshotMemory, C: CounterBank>(
    mem: &mut M,
    ctrs: &mut C,
    set: &CounterSet,
    firmware: u64,
    reset: bool,
    out: &mut Outcome,
) -> bool {
    let Ok(mut mapped) = mem.begin() else {
        out.merge(&stop_firmware(ctrs, set, firmware, |_, _| {}));
        return (out.done | out.already) != 0;
    };
    let stopped = out.done | out.already;
    if stopped != 0 {
        // One walk from the base of the set to its highest stopped counter:
        // cheaper than a walk over the set bits, which costs a bit scan per
        // counter (the kernel's code has no Zbb). Guests put the base on
        // their first counter, so the walk rarely passes a gap.
        mapped.set_slots(0, stopped, ctrs.values(set.counter(0), NUM_SLOTS));
    }
    out.merge(&stop_firmware(ctrs, set, firmware, |slot, value| {
        mapped.set_slot(slot, value)
    }));
    let saved = out.done | out.already;
    if saved != 0 {
        let overflowed = if reset {
            0
        } else {
            set.relative(ctrs.overflowed()) & saved
        };
        // Read-modify-write of the bitmap word: only the saved counters'
        // bits change.
        let bitmap = mapped.bitmap();
        mapped.set_bitmap((bitmap & !saved) | overflowed);
    }
    false
}

/// Drops the vCPU's snapshot registration and its mapping (vCPU reset and
/// teardown, which run where sleeping is allowed). The area is not touched
/// again.
pub(crate) fn clear<M: SnapshotMemory>(mem: &mut M, area: &mut Option<Gpa>) {
    *area = None;
    // Detaching cannot fail.
    let _ = mem.attach(None);
}

const _: () = assert!(AREA_SIZE == 4096);
