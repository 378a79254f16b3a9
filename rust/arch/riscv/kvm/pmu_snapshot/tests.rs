// SPDX-License-Identifier: GPL-2.0

//! Test cases for the pure core, shared by the KUnit suite (through
//! `kunit.rs` and `pmu_snapshot_kunit.c`) and the host-side cargo tests.
//!
//! Each case gets a scratch buffer of [`SCRATCH_SIZE`] bytes, which the fake
//! guest memory uses as its backing; the harness (`arch/riscv/lib/rust_cases.rs`)
//! reports the first failed check with its values.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::harness::{cases, check, check_eq, check_ok, CaseResult, Failure};

use super::abi::SbiError;
use super::area::{self, AREA_SIZE, NUM_SLOTS};
use super::engine::{
    self, CounterBank, Gpa, GuestMemory, GuestRange, MappedArea, MemFault, SnapshotMemory, Step,
};
use super::event_info::{self, EventInfoRequest, EventSupport};
use super::request::{
    index_nospec, index_nospec_pow2, Bits, CounterSet, ShmemRequest, StartInit, StopFlags,
};
use super::state::{self, CounterKind, CounterReg, CounterState, Reg, RegError};

/// Bytes of scratch memory each case needs.
pub(crate) const SCRATCH_SIZE: usize = 4 * PAGE;

/// Set while a `FakeMapped` access is in progress, for `FakeCtrs` to check
/// that no hardware counter (which may sleep) starts or stops during one.
/// KUnit runs the cases one after the other; cargo runs them on threads of
/// their own, so a host build keeps one flag per thread.
#[cfg(not(test))]
static IN_ACCESS: AtomicBool = AtomicBool::new(false);

#[cfg(test)]
::std::thread_local! {
    /// The flag of this test thread.
    static IN_ACCESS_OF_THREAD: AtomicBool = const { AtomicBool::new(false) };
}

/// Marks the start (`true`) or the end of a fake access.
fn set_in_access(on: bool) {
    #[cfg(not(test))]
    IN_ACCESS.store(on, Ordering::Relaxed);
    #[cfg(test)]
    IN_ACCESS_OF_THREAD.with(|f| f.store(on, Ordering::Relaxed));
}

/// Whether a fake access is in progress.
fn in_access() -> bool {
    #[cfg(not(test))]
    let on = IN_ACCESS.load(Ordering::Relaxed);
    #[cfg(test)]
    let on = IN_ACCESS_OF_THREAD.with(|f| f.load(Ordering::Relaxed));
    on
}

/// Size of a fake guest page, in bytes.
const PAGE: usize = 4096;
/// Guest physical address of the first fake page.
const RAM: Gpa = 0x8000_0000;
/// Page 0 and 1: writable RAM. Page 2: read-only memory. Page 3: a hole.
const RO_PAGE: Gpa = RAM + 2 * PAGE as u64;
/// Page 3: a hole, with no memory behind it.
const HOLE: Gpa = RAM + 3 * PAGE as u64;
/// Number of accesses `FakeMem` logs; later ones are only counted.
const LOG_LEN: usize = 80;

/// The kind of a logged access to the fake area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// A word read (the bitmap or a slot).
    Read,
    /// A word write (the bitmap or a slot).
    Write,
    /// A clear of the whole area (`clear`), logged at offset 0.
    Clear,
}

/// Fake guest memory over the scratch buffer: the attached area, and a log
/// of every word access (offsets within the area).
struct FakeMem<'a> {
    /// The scratch buffer, backing the fake guest pages from `RAM` on.
    pages: &'a mut [u8],
    /// The attached area, if any.
    attached: Option<Gpa>,
    /// Whether an access (a `FakeMapped` from `begin`) is in progress.
    in_access: bool,
    /// The first `LOG_LEN` accesses, with their offsets within the area.
    log: [(Op, usize); LOG_LEN],
    /// Number of accesses since the log was last reset, also those past `LOG_LEN`.
    logged: usize,
    /// Memory of the attached area has gone (a moved memory slot).
    gone: bool,
    /// Accesses outside the area (a slot number past the last slot).
    stray: usize,
    /// Copies in and out of guest memory (`GuestMemory`).
    copies: Copies,
}

/// What `FakeMem` counted of the copies in and out of guest memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Copies {
    /// `writable` calls.
    writable_calls: usize,
    /// `read` calls that succeeded.
    reads: usize,
    /// `write` calls that succeeded.
    writes: usize,
    /// Bytes written.
    written: usize,
    /// The largest copy, in bytes.
    largest: usize,
}

impl<'a> FakeMem<'a> {
    /// Fake memory over `scratch`, which is filled with `0xa5` bytes; nothing is attached.
    fn new(scratch: &'a mut [u8]) -> Self {
        for b in scratch.iter_mut() {
            *b = 0xa5;
        }
        FakeMem {
            pages: scratch,
            attached: None,
            in_access: false,
            log: [(Op::Read, 0); LOG_LEN],
            logged: 0,
            gone: false,
            stray: 0,
            copies: Copies::default(),
        }
    }

    /// Logs an access of kind `op` at `offset`.
    fn note(&mut self, op: Op, offset: usize) {
        if self.logged < LOG_LEN {
            self.log[self.logged] = (op, offset);
        }
        self.logged += 1;
    }

    /// The offsets of the logged accesses of kind `op`, in order.
    fn logged_ops(&self, op: Op) -> impl Iterator<Item = usize> + '_ {
        self.log[..self.logged.min(LOG_LEN)]
            .iter()
            .filter(move |(o, _)| *o == op)
            .map(|(_, off)| *off)
    }

    /// The word at guest physical address `gpa`, read directly (not an access, not logged).
    fn word(&self, gpa: Gpa) -> u64 {
        let at = (gpa - RAM) as usize;
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.pages[at..at + 8]);
        u64::from_le_bytes(b)
    }

    /// Writes the word at guest physical address `gpa` directly (not an access, not logged).
    fn set_word(&mut self, gpa: Gpa, v: u64) {
        let at = (gpa - RAM) as usize;
        self.pages[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// Value slot `i` of the area at `area`, read directly.
    fn slot(&self, area: Gpa, i: usize) -> u64 {
        self.word(area + area::slot_offset(i) as u64)
    }

    /// Sets value slot `i` of the area at `area` directly.
    fn set_slot(&mut self, area: Gpa, i: usize, v: u64) {
        self.set_word(area + area::slot_offset(i) as u64, v)
    }

    /// Forgets the logged accesses.
    fn reset_log(&mut self) {
        self.logged = 0;
    }

    /// Byte index in `pages` of `len` bytes at `gpa`, if they lie below `end`.
    fn copy_at(&self, gpa: Gpa, len: usize, end: Gpa) -> Result<usize, MemFault> {
        let last = gpa.checked_add(len as u64).ok_or(MemFault)?;
        if gpa < RAM || last > end {
            return Err(MemFault);
        }
        Ok((gpa - RAM) as usize)
    }

    /// The 32-bit word at `gpa`, read directly.
    fn word32(&self, gpa: Gpa) -> u32 {
        let at = (gpa - RAM) as usize;
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.pages[at..at + 4]);
        u32::from_le_bytes(b)
    }

    /// Writes event_get_info entry `i` of the array at `array` directly.
    fn set_entry(&mut self, array: Gpa, i: usize, idx: u32, output: u32, data: u64) {
        let at = (array - RAM) as usize + i * event_info::ENTRY_SIZE;
        self.pages[at..at + 4].copy_from_slice(&idx.to_le_bytes());
        self.pages[at + 4..at + 8].copy_from_slice(&output.to_le_bytes());
        self.pages[at + 8..at + 16].copy_from_slice(&data.to_le_bytes());
    }

    /// The output word of entry `i` of the array at `array`.
    fn output(&self, array: Gpa, i: usize) -> u32 {
        self.word32(array + (i * event_info::ENTRY_SIZE + event_info::OUTPUT_OFFSET) as u64)
    }

    /// Byte index in `pages` of `offset` in the attached area, if valid.
    fn at(&self, offset: usize) -> Option<usize> {
        let gpa = self.attached?;
        if !self.in_access || offset % 8 != 0 || offset >= AREA_SIZE {
            return None;
        }
        Some((gpa - RAM) as usize + offset)
    }

    /// Reads the word at `offset` of the area during an access, logged.
    fn read_word(&mut self, offset: usize) -> u64 {
        self.note(Op::Read, offset);
        match self.at(offset) {
            Some(at) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.pages[at..at + 8]);
                u64::from_le_bytes(b)
            }
            None => {
                self.stray += 1;
                0
            }
        }
    }

    /// Writes the word at `offset` of the area during an access, logged.
    fn write_word(&mut self, offset: usize, value: u64) {
        self.note(Op::Write, offset);
        match self.at(offset) {
            Some(at) => self.pages[at..at + 8].copy_from_slice(&value.to_le_bytes()),
            None => self.stray += 1,
        }
    }
}

/// One access to the fake area; ends when dropped.
struct FakeMapped<'m, 'a> {
    /// The fake memory being accessed.
    mem: &'m mut FakeMem<'a>,
}

impl MappedArea for FakeMapped<'_, '_> {
    fn bitmap(&mut self) -> u64 {
        self.mem.read_word(area::BITMAP_OFFSET)
    }

    fn set_bitmap(&mut self, value: u64) {
        self.mem.write_word(area::BITMAP_OFFSET, value);
    }

    fn slot(&mut self, slot: usize) -> u64 {
        self.mem.read_word(area::slot_offset(slot))
    }

    fn set_slot(&mut self, slot: usize, value: u64) {
        self.mem.write_word(area::slot_offset(slot), value);
    }

    fn clear(&mut self) {
        self.mem.note(Op::Clear, 0);
        match self.mem.at(0) {
            Some(at) => {
                for b in &mut self.mem.pages[at..at + AREA_SIZE] {
                    *b = 0;
                }
            }
            None => self.mem.stray += 1,
        }
    }
}

impl Drop for FakeMapped<'_, '_> {
    fn drop(&mut self) {
        self.mem.in_access = false;
        set_in_access(false);
    }
}

impl GuestMemory for FakeMem<'_> {
    fn writable(&mut self, gpa: Gpa, len: u64) -> bool {
        self.copies.writable_calls += 1;
        len > 0 && gpa >= RAM && gpa.checked_add(len).is_some_and(|end| end <= RO_PAGE)
    }

    fn read(&mut self, gpa: Gpa, buf: &mut [u8]) -> Result<(), MemFault> {
        // Pages 0 to 2 can be read; page 3 is a hole.
        let at = self.copy_at(gpa, buf.len(), HOLE)?;
        buf.copy_from_slice(&self.pages[at..at + buf.len()]);
        self.copies.reads += 1;
        self.copies.largest = self.copies.largest.max(buf.len());
        Ok(())
    }

    fn write(&mut self, gpa: Gpa, data: &[u8]) -> Result<(), MemFault> {
        // Pages 0 and 1 can be written.
        let at = self.copy_at(gpa, data.len(), RO_PAGE)?;
        self.pages[at..at + data.len()].copy_from_slice(data);
        self.copies.writes += 1;
        self.copies.written += data.len();
        self.copies.largest = self.copies.largest.max(data.len());
        Ok(())
    }
}

impl<'a> SnapshotMemory for FakeMem<'a> {
    type Mapped<'m>
        = FakeMapped<'m, 'a>
    where
        Self: 'm;

    fn attach(&mut self, gpa: Option<Gpa>) -> Result<(), MemFault> {
        self.gone = false;
        self.attached = None;
        match gpa {
            Some(g) if (RAM..RO_PAGE).contains(&g) && g % PAGE as u64 == 0 => {
                self.attached = Some(g);
                Ok(())
            }
            Some(_) => Err(MemFault),
            None => Ok(()),
        }
    }

    fn begin(&mut self) -> Result<FakeMapped<'_, 'a>, MemFault> {
        if self.attached.is_none() || self.gone || self.in_access {
            return Err(MemFault);
        }
        self.in_access = true;
        set_in_access(true);
        Ok(FakeMapped { mem: self })
    }
}

/// Fake counters: a counter's value grows by 100 per start/stop cycle.
struct FakeCtrs {
    /// Number of counters.
    num: usize,
    /// The configured counters, as an absolute mask.
    in_use: u64,
    /// The started counters.
    running: u64,
    /// Counters that have overflowed since they were last started.
    overflown: u64,
    /// Counters that a start or stop reports as invalid.
    invalid: u64,
    /// The hardware counters; the others are firmware counters.
    hardware: u64,
    /// Hardware counter starts and stops so far.
    hardware_ops: usize,
    /// A hardware counter started or stopped during an access to the area.
    slept_in_access: bool,
    /// The value of each counter.
    value: [u64; 64],
    /// Configured counters that any start has covered.
    starts: u64,
    /// Configured counters that any stop has covered.
    stops: u64,
}

impl FakeCtrs {
    /// `num` counters, of which those in `in_use` are configured; all stopped, at 0.
    fn new(num: usize, in_use: u64) -> Self {
        FakeCtrs {
            num,
            in_use,
            running: 0,
            overflown: 0,
            invalid: 0,
            hardware: 0,
            hardware_ops: 0,
            slept_in_access: false,
            value: [0; 64],
            starts: 0,
            stops: 0,
        }
    }
}

impl FakeCtrs {
    /// Starts counter `i` from `init` (or its value), firmware or hardware
    /// alike; a running counter keeps its value.
    fn start_one(&mut self, i: usize, init: Option<u64>) -> Step {
        let bit = 1u64 << i;
        self.starts |= bit;
        if self.invalid & bit != 0 {
            Step::Invalid
        } else if self.running & bit != 0 {
            Step::Already
        } else {
            if let Some(value) = init {
                self.value[i] = value;
            }
            self.running |= bit;
            Step::Done
        }
    }

    /// Stops counter `i`, firmware or hardware alike; it counted 100.
    fn stop_one(&mut self, i: usize) -> Step {
        let bit = 1u64 << i;
        self.stops |= bit;
        if self.invalid & bit != 0 {
            Step::Invalid
        } else if self.running & bit != 0 {
            self.value[i] += 100;
            self.running &= !bit;
            Step::Done
        } else {
            Step::Already
        }
    }
}

impl CounterBank for FakeCtrs {
    fn num_counters(&self) -> usize {
        self.num
    }

    fn in_use(&self) -> u64 {
        self.in_use
    }

    fn overflowed(&self) -> u64 {
        self.overflown
    }

    fn clear_overflowed(&mut self, mask: u64) {
        self.overflown &= !mask;
    }

    fn hardware(&self) -> u64 {
        self.hardware
    }

    fn value(&self, counter: usize) -> u64 {
        self.value[counter]
    }

    fn start_firmware(&mut self, counter: usize, init: Option<u64>) -> Step {
        self.start_one(counter, init)
    }

    fn stop_firmware(&mut self, counter: usize) -> (Step, u64) {
        let step = self.stop_one(counter);
        (step, self.value[counter])
    }

    fn prepare_hardware(&mut self, counter: usize, init: Option<u64>) -> Step {
        let bit = 1u64 << counter;
        if self.invalid & bit != 0 {
            Step::Invalid
        } else if self.running & bit != 0 {
            self.starts |= bit;
            Step::Already
        } else {
            if let Some(value) = init {
                self.value[counter] = value;
            }
            Step::Done
        }
    }

    fn start_hardware(&mut self, counter: usize) -> Step {
        self.hardware_ops += 1;
        self.slept_in_access |= in_access();
        self.start_one(counter, None)
    }

    fn stop_hardware(&mut self, counter: usize) -> Step {
        self.hardware_ops += 1;
        self.slept_in_access |= in_access();
        self.stop_one(counter)
    }

    fn read_firmware(&mut self, counter: usize) -> Option<u64> {
        if self.in_use & (1 << counter) == 0 {
            return None;
        }
        Some(
            self.value[counter]
                + if self.running & (1 << counter) != 0 {
                    1
                } else {
                    0
                },
        )
    }

    fn release(&mut self, mask: u64) {
        self.in_use &= !mask;
        self.overflown &= !mask;
    }

    fn info(&self, i: usize) -> usize {
        0x1000 + i
    }
}

/// The first writable page, where most cases register the area.
const A: Gpa = RAM;
/// The second writable page, for cases that replace the area.
const B: Gpa = RAM + PAGE as u64;
/// Marks words that the code under test must not write.
const SENTINEL: u64 = 0x5e47_1e15_5e47_1e15;

/// Registers the area at `gpa` and fills every slot and the reserved area
/// with sentinels; returns the memory.
fn registered(scratch: &mut [u8], gpa: Gpa) -> Result<(FakeMem<'_>, Option<Gpa>), Failure> {
    let mut mem = FakeMem::new(scratch);
    let mut area = None;
    check_eq!(
        engine::set_shmem(&mut mem, &mut area, gpa as usize, 0, 0),
        Ok(())
    );
    check_eq!(area, Some(gpa));
    for off in (0..area::AREA_SIZE).step_by(8) {
        mem.set_word(gpa + off as u64, SENTINEL);
    }
    mem.reset_log();
    Ok((mem, area))
}

/// Every `SbiError` maps to its SBI error code and back; other codes map to no error.
fn error_codes(_: &mut [u8]) -> CaseResult {
    let all = [
        (SbiError::Failed, -1),
        (SbiError::NotSupported, -2),
        (SbiError::InvalidParam, -3),
        (SbiError::Denied, -4),
        (SbiError::InvalidAddress, -5),
        (SbiError::AlreadyAvailable, -6),
        (SbiError::AlreadyStarted, -7),
        (SbiError::AlreadyStopped, -8),
        (SbiError::NoShmem, -9),
    ];
    for (i, (e, code)) in all.iter().enumerate() {
        check_eq!(e.code(), *code);
        // The codes are distinct.
        check!(all[..i].iter().all(|(_, other)| other != code));
    }
    Ok(())
}

/// The area is one 4 KiB page, with value slot `i` at byte `8 + 8 * i`.
fn area_layout(_: &mut [u8]) -> CaseResult {
    check_eq!(core::mem::size_of::<area::SnapshotArea>(), 4096);
    check_eq!(area::slot_offset(0), 8);
    check_eq!(area::slot_offset(63), 0x200);
    check_eq!(area::slot_offset(64), 0x208);
    Ok(())
}

/// The `snapshot_set_shmem` arguments: flags, alignment, high half and disable, on RV64
/// and RV32.
fn shmem_validation_table(_: &mut [u8]) -> CaseResult {
    let m = usize::MAX;
    let table: [(usize, usize, usize, Result<ShmemRequest, SbiError>); 10] = [
        (0x8000_0000, 0, 0, Ok(ShmemRequest::Enable(0x8000_0000))),
        (0x8000_0000, 0, 1, Err(SbiError::InvalidParam)),
        (0x8000_0000, 0, m, Err(SbiError::InvalidParam)),
        (0x8000_0008, 0, 0, Err(SbiError::InvalidParam)),
        (0x8000_0800, 0, 0, Err(SbiError::InvalidParam)),
        (0x8000_0000, 1, 0, Err(SbiError::InvalidAddress)),
        (0, m, 0, Err(SbiError::InvalidAddress)),
        (m, m, 0, Ok(ShmemRequest::Disable)),
        (m, m, 1, Err(SbiError::InvalidParam)),
        (m, 0, 0, Err(SbiError::InvalidParam)),
    ];
    for (lo, hi, flags, want) in table {
        check_eq!(ShmemRequest::from_args(lo, hi, flags, 64), want);
    }
    // RV32: the high half carries address bits 32 and up.
    check_eq!(
        ShmemRequest::from_args(0x1000, 0x2, 0, 32),
        Ok(ShmemRequest::Enable(0x2_0000_1000))
    );
    Ok(())
}

/// Start and stop flags: reserved bits, and both start initialisation flags together, are
/// rejected.
fn flag_validation(_: &mut [u8]) -> CaseResult {
    check_eq!(StartInit::from_flags(0), Ok(StartInit::Keep));
    check_eq!(StartInit::from_flags(1), Ok(StartInit::Value));
    check_eq!(StartInit::from_flags(2), Ok(StartInit::Snapshot));
    check_eq!(StartInit::from_flags(3), Err(SbiError::InvalidParam));
    for bit in 2..usize::BITS {
        check_eq!(StartInit::from_flags(1 << bit), Err(SbiError::InvalidParam));
        check_eq!(StopFlags::from_flags(1 << bit), Err(SbiError::InvalidParam));
    }
    check_eq!(
        StopFlags::from_flags(3),
        Ok(StopFlags {
            reset: true,
            take_snapshot: true
        })
    );
    check_eq!(
        StopFlags::from_flags(0),
        Ok(StopFlags {
            reset: false,
            take_snapshot: false
        })
    );
    Ok(())
}

/// A counter set must be non-empty and within the counters, without wrapping around; its
/// counters are numbered relative to the base.
fn counter_set_bounds(_: &mut [u8]) -> CaseResult {
    check_eq!(CounterSet::new(0, 0, 19), Err(SbiError::InvalidParam));
    check!(CounterSet::new(0, 1 << 18, 19).is_ok());
    check_eq!(CounterSet::new(0, 1 << 19, 19), Err(SbiError::InvalidParam));
    check!(CounterSet::new(18, 1, 19).is_ok());
    check_eq!(CounterSet::new(19, 1, 19), Err(SbiError::InvalidParam));
    // A base that wraps around with the mask must not alias counter 0.
    check_eq!(
        CounterSet::new(usize::MAX, 2, 19),
        Err(SbiError::InvalidParam)
    );
    check_eq!(
        CounterSet::new(usize::MAX - 62, 1 << 63, 64),
        Err(SbiError::InvalidParam)
    );
    check_eq!(
        CounterSet::new(1, usize::MAX, 64),
        Err(SbiError::InvalidParam)
    );
    let set = check_ok!(CounterSet::new(3, 0b1011, 19));
    check_eq!(set.counter(0), 3);
    let mut it = Bits(set.relative(u64::MAX));
    check_eq!(it.next(), Some(0));
    check_eq!(it.next(), Some(1));
    check_eq!(it.next(), Some(3));
    check!(it.next().is_none());
    // Absolute counters 3, 4 and 6 are relative 0, 1 and 3.
    check_eq!(set.relative(1 << 3 | 1 << 6 | 1 << 2), 0b1001);
    Ok(())
}

/// `set_slots` writes the slots whose bit is set, one value per slot from
/// `first` on, and never a slot past the last one.
fn set_slots_follow_the_mask(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, _) = registered(scratch, A)?;
    for slot in 0..NUM_SLOTS {
        mem.set_slot(A, slot, 7);
    }
    {
        let mut mapped = check_ok!(mem.begin());
        mapped.set_slots(2, 0b1101, 100..);
        // Bits past the last slot are never reached.
        mapped.set_slots(61, u64::MAX, 200..);
        mapped.set_slots(40, 0, 300..);
    }
    let written = [
        (2, 100),
        (4, 102),
        (5, 103),
        (61, 200),
        (62, 201),
        (63, 202),
    ];
    for slot in 0..NUM_SLOTS {
        let want = written.iter().find(|w| w.0 == slot).map_or(7, |w| w.1);
        check_eq!(mem.slot(A, slot), want);
    }
    check_eq!(mem.stray, 0);
    Ok(())
}

/// Fake host perf events for `event_get_info`: cycles, instructions, the
/// L1D read access cache event and raw events (v1 and v2) whose data is
/// below 0x1000 can be counted. Like KVM's C event map, it takes
/// `SBI_PMU_HW_NO_EVENT` (0) for cycles.
#[derive(Default)]
struct FakeEvents {
    /// `host_counts` calls.
    asked: usize,
    /// `pause` calls.
    pauses: usize,
}

impl EventSupport for FakeEvents {
    fn host_counts(&mut self, event_idx: u32, event_data: u64) -> bool {
        self.asked += 1;
        matches!(event_idx, 0x0 | 0x1 | 0x2 | 0x1_0000)
            || (matches!(event_idx >> 16, 2 | 3) && event_data < 0x1000)
    }

    fn pause(&mut self) {
        self.pauses += 1;
    }
}

/// An output word the call must overwrite entirely.
const STALE_OUTPUT: u32 = 0xffff_fffe;

/// `event_get_info` checks its arguments before it touches memory:
/// `InvalidParam` for flags, alignment, no entries and a size that
/// overflows, `InvalidAddress` for a high half and a wrapping array.
fn event_info_arguments(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut ev = FakeEvents::default();
    let a = A as usize;
    let mut call = |mem: &mut FakeMem<'_>, lo: usize, hi: usize, n: usize, flags: usize| {
        event_info::event_info(mem, &mut ev, lo, hi, n, flags)
    };
    check_eq!(call(&mut mem, a, 0, 1, 1), Err(SbiError::InvalidParam));
    check_eq!(
        call(&mut mem, a, 0, 1, 1 << 63),
        Err(SbiError::InvalidParam)
    );
    check_eq!(call(&mut mem, a + 8, 0, 1, 0), Err(SbiError::InvalidParam));
    check_eq!(call(&mut mem, a + 4, 0, 1, 0), Err(SbiError::InvalidParam));
    check_eq!(call(&mut mem, a, 0, 0, 0), Err(SbiError::InvalidParam));
    check_eq!(
        call(&mut mem, a, 0, usize::MAX, 0),
        Err(SbiError::InvalidParam)
    );
    check_eq!(
        call(&mut mem, a, 0, 1 << 60, 0),
        Err(SbiError::InvalidParam)
    );
    // Flags come first: a bad address with bad flags is InvalidParam.
    check_eq!(call(&mut mem, a, 1, 1, 1), Err(SbiError::InvalidParam));
    check_eq!(call(&mut mem, a, 1, 1, 0), Err(SbiError::InvalidAddress));
    check_eq!(
        call(&mut mem, usize::MAX - 15, 0, 2, 0),
        Err(SbiError::InvalidAddress)
    );
    check_eq!(mem.copies.reads + mem.copies.writes, 0);
    check_eq!(mem.copies.writable_calls, 0);
    check_eq!(ev.asked, 0);
    // On RV32 the high half holds the address bits above 32 (the
    // 32-bit host fix of mainline 7.1, for this call too).
    let rv32 = check_ok!(EventInfoRequest::new(0x1000, 0x2, 3, 0, 32));
    check_eq!(Some(rv32.array), GuestRange::new(0x2_0000_1000, 48));
    check_eq!(
        EventInfoRequest::new(0x1000, 0x2, 3, 0, 64),
        Err(SbiError::InvalidAddress)
    );
    Ok(())
}

/// Each entry's whole output word says whether the event can be counted:
/// hardware, cache and raw events as the host answers, firmware events
/// when KVM counts them, nothing else; `event_idx` and `event_data` are
/// left alone and only the output words are written.
fn event_info_answers(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut ev = FakeEvents::default();
    let entries: [(u32, u64, u32); 13] = [
        (0x0_0001, 0, 1),      // cycles
        (0x0_0000, 0, 0),      // SBI_PMU_HW_NO_EVENT
        (0x0_0002, 0, 1),      // instructions
        (0x0_0009, 0, 0),      // a hardware event this host lacks
        (0x1_0000, 0, 1),      // L1D read access
        (0x2_0000, 0x10, 1),   // raw event
        (0x3_0000, 0x2000, 0), // raw event v2 the host cannot count
        (0x3_0000, 0x20, 1),   // raw event v2
        (0xf_0006, 0, 1),      // IPI_SENT, counted by KVM
        (0xf_0000, 0, 0),      // MISALIGNED_LOAD, not counted by KVM
        (0xf_0016, 0, 0),      // firmware code 22, past SBI_PMU_FW_MAX
        (0xf_ffff, 0x1234, 0), // SBI_PMU_FW_PLATFORM
        (0x5_0000, 0, 0),      // undefined type
    ];
    for (i, &(idx, data, _)) in entries.iter().enumerate() {
        mem.set_entry(A, i, idx, STALE_OUTPUT, data);
    }
    let n = entries.len();
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, A as usize, 0, n, 0),
        Ok(())
    );
    for (i, &(idx, data, want)) in entries.iter().enumerate() {
        check_eq!((i, mem.output(A, i)), (i, want));
        let at = A + (i * event_info::ENTRY_SIZE) as u64;
        check_eq!(mem.word32(at), idx);
        check_eq!(mem.word(at + event_info::DATA_OFFSET as u64), data);
    }
    check_eq!(mem.copies.writes, n);
    check_eq!(mem.copies.written, 4 * n);
    // The word after the array is untouched.
    check_eq!(
        mem.word32(A + (n * event_info::ENTRY_SIZE) as u64),
        0xa5a5_a5a5
    );
    Ok(())
}

/// A reserved `event_idx` bit (20 to 31) in any entry is `InvalidParam`,
/// and then no entry is answered.
fn event_info_reserved_bits(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut ev = FakeEvents::default();
    for bit in [20, 27, 31] {
        for i in 0..3 {
            let idx = if i == 2 {
                0x0_0001 | 1 << bit
            } else {
                0x0_0001
            };
            mem.set_entry(B, i, idx, STALE_OUTPUT, 0);
        }
        check_eq!(
            event_info::event_info(&mut mem, &mut ev, B as usize, 0, 3, 0),
            Err(SbiError::InvalidParam)
        );
        check_eq!(mem.copies.writes, 0);
        check_eq!(mem.output(B, 0), STALE_OUTPUT);
    }
    check_eq!(ev.asked, 0);
    Ok(())
}

/// The array must be writable guest memory from its first to its last
/// byte, and may cross page boundaries; a huge array over memory that is
/// not there fails before anything is read.
fn event_info_memory(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut ev = FakeEvents::default();
    // Read-only page; an array that runs from page 1 into it.
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, RO_PAGE as usize, 0, 1, 0),
        Err(SbiError::InvalidAddress)
    );
    let tail = (RO_PAGE - 32) as usize;
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, tail, 0, 3, 0),
        Err(SbiError::InvalidAddress)
    );
    // The last entry of the address space: no memory there, no wrap-around.
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, usize::MAX - 15, 0, 1, 0),
        Err(SbiError::InvalidAddress)
    );
    // A hole, and 2^40 entries from page 0 on.
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, HOLE as usize, 0, 1, 0),
        Err(SbiError::InvalidAddress)
    );
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, A as usize, 0, 1 << 40, 0),
        Err(SbiError::InvalidAddress)
    );
    check_eq!(mem.copies.reads + mem.copies.writes, 0);
    // Four entries across the boundary of pages 0 and 1.
    let cross = B - 32;
    for i in 0..4 {
        mem.set_entry(cross, i, 0x0_0002, STALE_OUTPUT, 0);
    }
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, cross as usize, 0, 4, 0),
        Ok(())
    );
    for i in 0..4 {
        check_eq!(mem.output(cross, i), 1);
    }
    Ok(())
}

/// A long array is read a bounded chunk at a time, with a pause between
/// chunks: no copy grows with the number of entries.
fn event_info_chunks(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut ev = FakeEvents::default();
    let n = 200;
    for i in 0..n {
        let idx = if i % 2 == 0 { 0x0_0001 } else { 0xf_0000 };
        mem.set_entry(A, i, idx, STALE_OUTPUT, 0);
    }
    check_eq!(
        event_info::event_info(&mut mem, &mut ev, A as usize, 0, n, 0),
        Ok(())
    );
    for i in 0..n {
        check_eq!(mem.output(A, i), u32::from(i % 2 == 0));
    }
    check!(mem.copies.largest <= 256);
    // Two passes over 13 chunks of 16 entries, a pause between chunks.
    check_eq!(mem.copies.reads, 26);
    check_eq!(ev.pauses, 24);
    Ok(())
}

/// `index_nospec` keeps indices below the size and clamps the others to 0.
fn nospec_clamps(_: &mut [u8]) -> CaseResult {
    check_eq!(index_nospec(0, 19), 0);
    check_eq!(index_nospec_pow2(5, 64), 5);
    check_eq!(index_nospec_pow2(63, 64), 63);
    check!(index_nospec_pow2(64, 64) < 64);
    check!(index_nospec_pow2(usize::MAX, 32) < 32);
    check_eq!(index_nospec(18, 19), 18);
    check_eq!(index_nospec(19, 19), 0);
    check_eq!(index_nospec(usize::MAX, 19), 0);
    check_eq!(index_nospec(63, 64), 63);
    check_eq!(index_nospec(1 << 62, 64), 0);
    Ok(())
}

/// Registering zeroes the new area only, a new registration leaves the old area alone, and
/// disabling detaches it.
fn set_shmem_zeroes_and_replaces(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut area = None;
    check_eq!(
        engine::set_shmem(&mut mem, &mut area, A as usize, 0, 0),
        Ok(())
    );
    check_eq!(area, Some(A));
    check_eq!(mem.attached, Some(A));
    check_eq!(mem.log[0], (Op::Clear, 0));
    check_eq!(mem.logged, 1);
    check_eq!(mem.word(A), 0);
    check_eq!(mem.word(A + 4088), 0);
    // Page B is untouched until it is registered; then A is left alone.
    check_eq!(mem.word(B), 0xa5a5_a5a5_a5a5_a5a5);
    mem.set_word(A, 7);
    check_eq!(
        engine::set_shmem(&mut mem, &mut area, B as usize, 0, 0),
        Ok(())
    );
    check_eq!(area, Some(B));
    check_eq!(mem.word(B), 0);
    check_eq!(mem.word(A), 7);
    // Disable.
    let m = usize::MAX;
    check_eq!(engine::set_shmem(&mut mem, &mut area, m, m, 0), Ok(()));
    check!(area.is_none());
    check!(mem.attached.is_none());
    check_eq!(mem.stray, 0);
    Ok(())
}

/// A rejected `snapshot_set_shmem` keeps the old registration and touches no memory.
fn set_shmem_bad_addresses(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut area = Some(A);
    check!(mem.attach(Some(A)).is_ok());
    for (lo, hi, flags, want) in [
        (RO_PAGE as usize, 0, 0, SbiError::InvalidAddress),
        (HOLE as usize, 0, 0, SbiError::InvalidAddress),
        (0, 0, 0, SbiError::InvalidAddress),
        (A as usize + 8, 0, 0, SbiError::InvalidParam),
        (A as usize, 1, 0, SbiError::InvalidAddress),
        (A as usize, 0, 4, SbiError::InvalidParam),
    ] {
        check_eq!(
            engine::set_shmem(&mut mem, &mut area, lo, hi, flags),
            Err(want)
        );
        // A rejected call leaves the old area registered and memory untouched.
        check_eq!(area, Some(A));
        check_eq!(mem.attached, Some(A));
    }
    check_eq!(mem.logged, 0);
    Ok(())
}

/// Snapshot flags without a registered area fail with `NoShmem` before any counter is
/// touched; calls without them need no area.
fn no_shmem_errors(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut ctrs = FakeCtrs::new(19, 0b101);
    check_eq!(
        engine::start(&mut mem, &mut ctrs, None, 0, 1, 2, 0),
        Err(SbiError::NoShmem)
    );
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, None, 0, 1, 2),
        Err(SbiError::NoShmem)
    );
    check_eq!(ctrs.starts, 0);
    check_eq!(ctrs.stops, 0);
    // Without the snapshot flags no area is needed.
    check_eq!(engine::start(&mut mem, &mut ctrs, None, 0, 1, 0, 0), Ok(()));
    check_eq!(engine::stop(&mut mem, &mut ctrs, None, 0, 1, 0), Ok(()));
    check_eq!(mem.logged, 0);
    Ok(())
}

/// A snapshot stop reads only the bitmap and writes only the bitmap and the slots of the
/// stopped counters.
fn stop_writes_only_stopped_slots(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    // Counters 4, 5, 6 and 9 are in use; base 4, so slots 0, 1, 2 and 5.
    let mut ctrs = FakeCtrs::new(19, 1 << 4 | 1 << 5 | 1 << 6 | 1 << 9);
    let mask = 0b10_0111;
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 4, mask, 0, 0),
        Ok(())
    );
    check_eq!(engine::stop(&mut mem, &mut ctrs, area, 4, mask, 2), Ok(()));
    check_eq!(mem.slot(A, 0), 100);
    check_eq!(mem.slot(A, 1), 100);
    check_eq!(mem.slot(A, 2), 100);
    check_eq!(mem.slot(A, 5), 100);
    for i in [3, 4, 6, 7, 63] {
        check_eq!(mem.slot(A, i), SENTINEL);
    }
    for off in (0x208..4096).step_by(8) {
        check_eq!(mem.word(A + off), SENTINEL);
    }
    // Bitmap bits of the stopped counters are cleared (no overflow), the rest kept.
    check_eq!(mem.word(A), SENTINEL & !0b10_0111);
    // Reads: the bitmap word only. Writes: slots 0, 1, 2, 5 as the
    // counters stop, then the bitmap.
    check!(mem.logged_ops(Op::Read).eq([0]));
    check!(mem
        .logged_ops(Op::Write)
        .eq([8, 16, 24, area::slot_offset(5), 0]));
    check_eq!(mem.stray, 0);
    check!(!mem.in_access);
    Ok(())
}

/// A snapshot stop writes no slot of an unconfigured counter, and nothing when no counter
/// of the set is configured.
fn stop_skips_unused_counters(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    let mut ctrs = FakeCtrs::new(19, 1 << 3);
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b1111, 0, 0),
        Ok(())
    );
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 0, 0b1111, 2),
        Ok(())
    );
    check_eq!(mem.slot(A, 3), 100);
    for i in 0..3 {
        check_eq!(mem.slot(A, i), SENTINEL);
    }
    // Nothing in use at all: nothing is written.
    let mut idle = FakeCtrs::new(19, 0);
    mem.reset_log();
    check_eq!(
        engine::stop(&mut mem, &mut idle, area, 0, 0b1111, 2),
        Ok(())
    );
    check_eq!(mem.logged, 0);
    Ok(())
}

/// A stop that finds a counter already stopped still stops the set and saves every
/// counter.
fn already_stopped_does_not_hide_others(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    let mut ctrs = FakeCtrs::new(19, 0b111);
    // Start counters 1 and 2 only; 0 stays stopped.
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 1, 0b11, 0, 0),
        Ok(())
    );
    ctrs.value[0] = 42;
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 0, 0b111, 2),
        Err(SbiError::AlreadyStopped)
    );
    // The already stopped counter keeps its value, the later ones are saved.
    check_eq!(mem.slot(A, 0), 42);
    check_eq!(mem.slot(A, 1), 100);
    check_eq!(mem.slot(A, 2), 100);
    check_eq!(ctrs.stops, 0b111);
    Ok(())
}

/// The bitmap gets the bits of the overflowed counters; a reset or a restart clears a
/// counter's bit.
fn overflow_bitmap_and_reset(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    mem.set_word(A, 0);
    let mut ctrs = FakeCtrs::new(19, 0b1_1100);
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 2, 0b111, 0, 0),
        Ok(())
    );
    ctrs.overflown = 0b1_0100;
    check_eq!(engine::stop(&mut mem, &mut ctrs, area, 2, 0b111, 2), Ok(()));
    // Counters 2 and 4 overflowed: relative bits 0 and 2.
    check_eq!(mem.word(A), 0b101);
    // A stop with RESET clears the counter's bit; the other bits stay.
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 2, 0b100, 3),
        Err(SbiError::AlreadyStopped)
    );
    check_eq!(mem.word(A), 0b001);
    check_eq!(ctrs.in_use, 0b0_1100);
    // Restarting clears the overflow state, and the next stop clears the bit.
    check_eq!(engine::start(&mut mem, &mut ctrs, area, 2, 1, 0, 0), Ok(()));
    check_eq!(engine::stop(&mut mem, &mut ctrs, area, 2, 1, 2), Ok(()));
    check_eq!(mem.word(A) & 1, 0);
    Ok(())
}

/// A start from the snapshot reads only the slots of configured counters, and writes
/// nothing.
fn start_reads_only_started_slots(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    let mut ctrs = FakeCtrs::new(19, 1 << 5 | 1 << 6 | 1 << 8);
    mem.set_slot(A, 0, 1000);
    mem.set_slot(A, 1, 2000);
    mem.set_slot(A, 3, 3000);
    // Base 5, mask 0b1111: counters 5, 6, 7 and 8; 7 is not configured.
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 5, 0b1111, 2, 0),
        Ok(())
    );
    check_eq!(ctrs.value[5], 1000);
    check_eq!(ctrs.value[6], 2000);
    check_eq!(ctrs.value[8], 3000);
    check_eq!(ctrs.value[7], 0);
    // Slots 0, 1 and 3 are read; slot 2 (counter 7) and nothing else.
    check!(mem.logged_ops(Op::Read).eq([8, 16, 32]));
    check_eq!(mem.logged_ops(Op::Write).count(), 0);
    check!(!mem.in_access);
    Ok(())
}

/// A start with an initial value touches no memory; bad flags, bad or invalid counters and
/// repeated starts get their errors, and valid counters are still saved.
fn start_init_value_and_errors(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    let mut ctrs = FakeCtrs::new(19, 0b11);
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b11, 1, 77),
        Ok(())
    );
    check_eq!(ctrs.value[0], 77);
    check_eq!(ctrs.value[1], 77);
    check_eq!(mem.logged, 0);
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b11, 0, 0),
        Err(SbiError::AlreadyStarted)
    );
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b11, 3, 0),
        Err(SbiError::InvalidParam)
    );
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b11, 4, 0),
        Err(SbiError::InvalidParam)
    );
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 0, 0b11, 4),
        Err(SbiError::InvalidParam)
    );
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 1 << 19, 0, 0),
        Err(SbiError::InvalidParam)
    );
    ctrs.invalid = 0b10;
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 0, 0b11, 2),
        Err(SbiError::InvalidParam)
    );
    // The valid counter was still saved; the invalid one was not.
    check_eq!(mem.slot(A, 0), 177);
    check_eq!(mem.slot(A, 1), SENTINEL);
    Ok(())
}

/// When the area's memory has gone, snapshot starts and stops fail with `Failed` and write
/// nothing.
fn area_gone_is_failure(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    let mut ctrs = FakeCtrs::new(19, 1);
    check_eq!(engine::start(&mut mem, &mut ctrs, area, 0, 1, 0, 0), Ok(()));
    // The memory slot under the area moved away: both calls fail, nothing
    // is written.
    mem.gone = true;
    mem.reset_log();
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 0, 1, 2),
        Err(SbiError::Failed)
    );
    ctrs.overflown = 1;
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 1, 2, 0),
        Err(SbiError::Failed)
    );
    check_eq!(mem.logged, 0);
    check_eq!(mem.slot(A, 0), SENTINEL);
    // The failed start changed nothing: the counter is stopped, its overflow kept.
    check_eq!(ctrs.running, 0);
    check_eq!(ctrs.overflown, 1);
    Ok(())
}

/// A start with `SET_INIT_VALUE` or `INIT_SNAPSHOT` of counters that are
/// already started is `AlreadyStarted` and leaves their values alone, for
/// hardware and firmware counters; the stopped counters of the same call
/// start from the new value.
fn start_keeps_started_counters(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    // Counters 0..=3 in use; 0 and 2 are hardware counters.
    let mut ctrs = FakeCtrs::new(19, 0b1111);
    ctrs.hardware = 0b0101;
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b0011, 1, 70),
        Ok(())
    );
    check_eq!(ctrs.value[0], 70);
    check_eq!(ctrs.value[1], 70);
    // Counters 0 and 1 run; 2 and 3 start from 900, 0 and 1 keep 70.
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b1111, 1, 900),
        Err(SbiError::AlreadyStarted)
    );
    check_eq!(ctrs.value[..4], [70, 70, 900, 900]);
    check_eq!(ctrs.running, 0b1111);
    // The same from the snapshot area.
    check_eq!(engine::stop(&mut mem, &mut ctrs, area, 2, 0b11, 0), Ok(()));
    for slot in 0..4 {
        mem.set_slot(A, slot, 5000 + slot as u64);
    }
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b1111, 2, 0),
        Err(SbiError::AlreadyStarted)
    );
    check_eq!(ctrs.value[0], 70);
    check_eq!(ctrs.value[1], 70);
    check_eq!(ctrs.value[2], 5002);
    check_eq!(ctrs.value[3], 5003);
    Ok(())
}

/// After a new registration only the new area is written; after a reset, snapshot calls
/// get `NoShmem` and touch nothing.
fn replaced_area_is_left_alone(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, mut area) = registered(scratch, A)?;
    let mut ctrs = FakeCtrs::new(19, 1);
    check_eq!(
        engine::set_shmem(&mut mem, &mut area, B as usize, 0, 0),
        Ok(())
    );
    ctrs.value[0] = 5000;
    check_eq!(engine::start(&mut mem, &mut ctrs, area, 0, 1, 0, 0), Ok(()));
    check_eq!(engine::stop(&mut mem, &mut ctrs, area, 0, 1, 2), Ok(()));
    check_eq!(mem.slot(B, 0), 5100);
    check_eq!(mem.slot(A, 0), SENTINEL);
    check_eq!(mem.word(A), SENTINEL);
    // Reset drops the registration; later snapshot calls are NO_SHMEM and
    // touch nothing.
    engine::clear(&mut mem, &mut area);
    mem.reset_log();
    check!(area.is_none());
    check!(mem.attached.is_none());
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 0, 1, 2),
        Err(SbiError::NoShmem)
    );
    check_eq!(mem.logged, 0);
    Ok(())
}

/// Hardware counters start from the snapshot and are saved to it like
/// firmware counters, but never start or stop during an access to the area.
fn hardware_counters_outside_access(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    // Counters 2..=5 in use; 3 and 5 are hardware counters.
    let mut ctrs = FakeCtrs::new(19, 0b11_1100);
    ctrs.hardware = 0b10_1000;
    ctrs.overflown = 0b1000;
    for (slot, v) in [(0, 1000), (1, 2000), (2, 3000), (3, 4000)] {
        mem.set_slot(A, slot, v);
    }
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 2, 0b1111, 2, 0),
        Ok(())
    );
    check_eq!(ctrs.value[2..6], [1000, 2000, 3000, 4000]);
    check_eq!(ctrs.running, 0b11_1100);
    check_eq!(ctrs.hardware_ops, 2);
    check_eq!(ctrs.overflown, 0);
    ctrs.overflown = 0b10_0000;
    mem.set_word(A, 0);
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 2, 0b1111, 2),
        Ok(())
    );
    check_eq!(ctrs.running, 0);
    check_eq!(ctrs.hardware_ops, 4);
    for (slot, v) in [(0, 1100), (1, 2100), (2, 3100), (3, 4100)] {
        check_eq!(mem.slot(A, slot), v);
    }
    // Counter 5 (slot 3), a hardware counter, overflowed.
    check_eq!(mem.word(A), 0b1000);
    check!(!ctrs.slept_in_access);
    check!(!mem.in_access);
    check_eq!(mem.stray, 0);
    // A stop with RESET saves them too, then releases them all.
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 2, 0b1111, 0, 0),
        Ok(())
    );
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 2, 0b1111, 3),
        Ok(())
    );
    check_eq!(mem.slot(A, 1), 2200);
    check_eq!(mem.word(A), 0);
    check_eq!(ctrs.in_use, 0);
    check!(!ctrs.slept_in_access);
    Ok(())
}

/// Hardware counters are saved in one walk from the lowest stopped counter
/// to the highest: a counter in a gap, or past the last one, keeps its slot.
fn hardware_runs_leave_gaps(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    // Counters 13..=18 are hardware counters; 15 is not configured.
    let mut ctrs = FakeCtrs::new(19, 0b111_0110 << 12);
    ctrs.hardware = 0b111_1110 << 12;
    for slot in 0..8 {
        mem.set_slot(A, slot, 7);
    }
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 13, 0b11_1011, 0, 0),
        Ok(())
    );
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 12, 0b111_1111, 2),
        Ok(())
    );
    // Slot 0 is counter 12 (not in use), slot 3 counter 15.
    check_eq!(mem.slot(A, 0), 7);
    check_eq!(mem.slot(A, 3), 7);
    check_eq!(mem.slot(A, 7), 7);
    for slot in [1, 2, 4, 5, 6] {
        check_eq!(mem.slot(A, slot), ctrs.value[12 + slot]);
        check!(ctrs.value[12 + slot] != 7);
    }
    check!(!ctrs.slept_in_access);
    check!(!mem.in_access);
    check_eq!(mem.stray, 0);
    Ok(())
}

/// When the area's memory goes away, a stop still stops every counter, and
/// the snapshot calls fail with `Failed`; hardware counters, too.
fn area_gone_still_stops(scratch: &mut [u8]) -> CaseResult {
    let (mut mem, area) = registered(scratch, A)?;
    let mut ctrs = FakeCtrs::new(19, 0b11);
    ctrs.hardware = 0b10;
    check_eq!(
        engine::start(&mut mem, &mut ctrs, area, 0, 0b11, 0, 0),
        Ok(())
    );
    mem.gone = true;
    mem.reset_log();
    check_eq!(
        engine::stop(&mut mem, &mut ctrs, area, 0, 0b11, 2),
        Err(SbiError::Failed)
    );
    check_eq!(ctrs.running, 0);
    check_eq!(mem.logged, 0);
    check!(!ctrs.slept_in_access);
    // Nothing configured in the set: nothing to save, so no failure.
    let mut idle = FakeCtrs::new(19, 0);
    check_eq!(engine::stop(&mut mem, &mut idle, area, 0, 0b11, 2), Ok(()));
    Ok(())
}

/// `counter_fw_read` reads firmware counters only: hardware counters,
/// counter 1 and indices past the counters are `InvalidParam`, and so is an
/// unconfigured firmware counter (as mainline Linux since 7.1).
fn fw_read_firmware_only(_: &mut [u8]) -> CaseResult {
    let mut ctrs = FakeCtrs::new(19, 0b1100_0001);
    ctrs.hardware = 0b0011_1111;
    ctrs.value[6] = 41;
    ctrs.value[7] = 70;
    ctrs.running = 1 << 6;
    // Firmware counters 6 (running) and 7 (stopped); 8 is not configured.
    check_eq!(engine::fw_read(&mut ctrs, 6), Ok(42));
    check_eq!(engine::fw_read(&mut ctrs, 7), Ok(70));
    check_eq!(engine::fw_read(&mut ctrs, 8), Err(SbiError::InvalidParam));
    // Hardware counters, configured or not, and `time`.
    for index in [0, 1, 2, 5] {
        check_eq!(
            engine::fw_read(&mut ctrs, index),
            Err(SbiError::InvalidParam)
        );
    }
    for index in [19, 64, usize::MAX] {
        check_eq!(
            engine::fw_read(&mut ctrs, index),
            Err(SbiError::InvalidParam)
        );
    }
    Ok(())
}

/// `ctr_info` answers for every counter but 1 (`time`) and rejects indices past the
/// counters.
fn ctr_info_bounds(_: &mut [u8]) -> CaseResult {
    let ctrs = FakeCtrs::new(19, 0);
    check_eq!(engine::ctr_info(&ctrs, 0), Ok(0x1000));
    check_eq!(engine::ctr_info(&ctrs, 1), Err(SbiError::InvalidParam));
    check_eq!(engine::ctr_info(&ctrs, 18), Ok(0x1012));
    check_eq!(engine::ctr_info(&ctrs, 19), Err(SbiError::InvalidParam));
    check_eq!(engine::ctr_info(&ctrs, 64), Err(SbiError::InvalidParam));
    check_eq!(
        engine::ctr_info(&ctrs, usize::MAX),
        Err(SbiError::InvalidParam)
    );
    Ok(())
}

/// The state registers' numbers, sizes and list order: every listed register
/// decodes to itself, a number past the vCPU's counters or firmware events is
/// no register, and a listed one with another size is invalid.
fn state_register_numbers(_: &mut [u8]) -> CaseResult {
    let (ctrs, fw) = (19, 22);
    let mut listed = 0;
    while let Some(reg) = Reg::nth(listed, ctrs, fw) {
        check_eq!(Reg::decode(reg.encode(), ctrs, fw), Ok(reg));
        for size in [state::SIZE_U64, state::SIZE_U128, state::SIZE_U256, 0] {
            if size != reg.size() {
                let other = (reg.encode() & !state::SIZE_MASK) | size;
                check_eq!(Reg::decode(other, ctrs, fw), Err(RegError::Invalid));
            }
        }
        listed += 1;
    }
    check_eq!(listed, 1 + ctrs + fw);
    check_eq!(Reg::nth(0, ctrs, fw), Some(Reg::Snapshot));
    check_eq!(Reg::nth(1, ctrs, fw), Some(Reg::Counter(0)));
    check_eq!(Reg::nth(ctrs + 1, ctrs, fw), Some(Reg::Firmware(0)));
    check_eq!(Reg::Counter(3).encode(), 0x103 | state::SIZE_U256);
    check_eq!(Reg::Firmware(21).encode(), 0x215 | state::SIZE_U128);
    check_eq!(Reg::Snapshot.encode(), state::SIZE_U64);
    for number in [
        0x100 + ctrs as u64,
        0x200 + fw as u64,
        1,
        0xff,
        0x300,
        0xffff,
        1 << 32,
    ] {
        for size in [state::SIZE_U64, state::SIZE_U128, state::SIZE_U256] {
            check_eq!(
                Reg::decode(number | size, ctrs, fw),
                Err(RegError::NoSuchRegister)
            );
        }
    }
    check_eq!(RegError::NoSuchRegister.errno(), -2);
    check_eq!(RegError::Invalid.errno(), -22);
    Ok(())
}

/// A counter register is restored only in a state the vCPU could have
/// reached: an event of the counter's kind, known flags, event data only for
/// raw events, a firmware counter without counting flags of its own.
fn state_counter_checks(_: &mut [u8]) -> CaseResult {
    use state::{CONFIGURED as C, OVERFLOWN as O, SINH, STARTED as S, UINH};
    let fw = 22;
    let reg = |event_idx, event_data, flags, value| CounterReg {
        event_idx,
        event_data,
        flags,
        value,
    };
    let hw = CounterKind::Hardware;
    let fwk = CounterKind::Firmware;
    // Accepted.
    check_eq!(
        state::check_counter(reg(0, 0, 0, 77), hw, fw),
        Ok(CounterState::Unconfigured { value: 77 })
    );
    check_eq!(
        state::check_counter(reg(0x1, 0, C | S | O | UINH, 5), hw, fw),
        Ok(CounterState::Hardware {
            event_idx: 1,
            event_data: 0,
            exclude_user: true,
            exclude_kernel: false,
            started: true,
            overflown: true,
            value: 5,
        })
    );
    check_eq!(
        state::check_counter(reg(0x20000, 0x1234, C | SINH, 0), hw, fw),
        Ok(CounterState::Hardware {
            event_idx: 0x20000,
            event_data: 0x1234,
            exclude_user: false,
            exclude_kernel: true,
            started: false,
            overflown: false,
            value: 0,
        })
    );
    check!(state::check_counter(reg(0x30000, 9, C, 0), hw, fw).is_ok());
    check!(state::check_counter(reg(0x10021, 0, C, 0), hw, fw).is_ok());
    check_eq!(
        state::check_counter(reg(0xf0015, 0, C, 9), fwk, fw),
        Ok(CounterState::Firmware {
            event_idx: 0xf0015,
            value: 9,
        })
    );
    // Refused.
    for (r, kind) in [
        (reg(0, 0, 1 << 5, 0), hw),
        (reg(0, 0, S, 0), hw),
        (reg(1, 0, 0, 0), hw),
        (reg(0, 1, 0, 0), hw),
        (reg(0x1, 0, C, 0), CounterKind::Time),
        (reg(0x1, 0, C, 0), fwk),
        (reg(0xf0000, 0, C, 0), hw),
        (reg(0xf0016, 0, C, 0), fwk),
        (reg(0xf0001, 0, C | S, 0), fwk),
        (reg(0xf0001, 0, C | UINH, 0), fwk),
        (reg(0xf0001, 3, C, 0), fwk),
        (reg(0x1, 3, C, 0), hw),
        (reg(0x10000, 3, C, 0), hw),
        (reg(0x40000, 0, C, 0), hw),
        (reg(0xe0000, 0, C, 0), hw),
        (reg(1 << 20, 0, C, 0), hw),
        (reg(u64::MAX, 0, C, 0), hw),
    ] {
        check_eq!(state::check_counter(r, kind, fw), Err(RegError::Invalid));
    }
    check_eq!(state::check_firmware([5, 1]), Ok((5, true)));
    check_eq!(state::check_firmware([5, 0]), Ok((5, false)));
    check_eq!(state::check_firmware([5, 2]), Err(RegError::Invalid));
    let words = reg(1, 2, 3, 4).to_words();
    check_eq!(words, [1, 2, 3, 4]);
    check_eq!(CounterReg::from_words(words), reg(1, 2, 3, 4));
    Ok(())
}

/// Restoring the snapshot register maps the area without touching it; a
/// misaligned, read-only or missing area is refused with the old
/// registration kept; all ones drops the registration.
fn state_snapshot_restore(scratch: &mut [u8]) -> CaseResult {
    let mut mem = FakeMem::new(scratch);
    let mut area = None;
    check_eq!(state::snapshot_value(area), state::NO_AREA);
    check_eq!(state::restore_snapshot(&mut mem, &mut area, A), Ok(()));
    check_eq!(area, Some(A));
    check_eq!(mem.attached, Some(A));
    check_eq!(state::snapshot_value(area), A);
    // The guest's area came along with its memory: nothing is written.
    check_eq!(mem.logged, 0);
    check_eq!(mem.word(A), 0xa5a5_a5a5_a5a5_a5a5);
    for bad in [A + 8, A + 2048, RO_PAGE, HOLE, 0, u64::MAX - 4095] {
        check_eq!(
            state::restore_snapshot(&mut mem, &mut area, bad),
            Err(RegError::Invalid)
        );
        check_eq!(area, Some(A));
        check_eq!(mem.attached, Some(A));
    }
    check_eq!(state::restore_snapshot(&mut mem, &mut area, B), Ok(()));
    check_eq!(mem.attached, Some(B));
    check_eq!(
        state::restore_snapshot(&mut mem, &mut area, state::NO_AREA),
        Ok(())
    );
    check!(area.is_none());
    check!(mem.attached.is_none());
    check_eq!(mem.logged, 0);
    check_eq!(mem.stray, 0);
    Ok(())
}

cases!(
    scratch SCRATCH_SIZE;
    state_register_numbers,
    state_counter_checks,
    state_snapshot_restore,
    error_codes,
    area_layout,
    shmem_validation_table,
    flag_validation,
    counter_set_bounds,
    set_slots_follow_the_mask,
    event_info_arguments,
    event_info_answers,
    event_info_reserved_bits,
    event_info_memory,
    event_info_chunks,
    nospec_clamps,
    set_shmem_zeroes_and_replaces,
    set_shmem_bad_addresses,
    no_shmem_errors,
    stop_writes_only_stopped_slots,
    stop_skips_unused_counters,
    already_stopped_does_not_hide_others,
    overflow_bitmap_and_reset,
    start_reads_only_started_slots,
    start_init_value_and_errors,
    area_gone_is_failure,
    replaced_area_is_left_alone,
    hardware_counters_outside_access,
    hardware_runs_leave_gaps,
    area_gone_still_stops,
    fw_read_firmware_only,
    ctr_info_bounds,
    start_keeps_started_counters,
);
