// SPDX-License-Identifier: GPL-2.0

//! Safe kernel shell: a vCPU's snapshot area, counters and registration,
//! over the KVM bindings and the helpers in `arch/riscv/kvm/vcpu_pmu.c`.
//!
//! The counter work of a start or a stop (the in-use and overflow bitmaps,
//! firmware events, the started flags) is done here; only the perf-event
//! calls of hardware counters and the release of a counter go through C.

use core::marker::PhantomData;
use core::ptr::{addr_of, addr_of_mut, NonNull};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use kernel::bindings;

use super::abi::FW_MAX;
use super::area::{slot_offset, AREA_SIZE, BITMAP_OFFSET, NUM_SLOTS, WORD};
use super::engine::{CounterBank, Gpa, GuestMemory, MappedArea, MemFault, SnapshotMemory, Step};
use super::event_info::{EventSupport, DATA_OFFSET, ENTRY_SIZE, OUTPUT_OFFSET, OUTPUT_SUPPORTED};
use super::request::{index_nospec_pow2, Bits};
use super::state::{
    CounterKind, CounterReg, CounterState, RegError, CONFIGURED, FW_STARTED, OVERFLOWN, SINH,
    STARTED, UINH,
};

/// `INVALID_GPA`: the value of `kvm_pmu::snapshot_addr` when no area is set.
const INVALID_GPA: u64 = u64::MAX;

/// A vCPU that is handling one of its own SBI calls, or being reset or torn
/// down.
///
/// # Invariants
///
/// `ptr` points to a valid, initialised `struct kvm_vcpu` whose PMU context
/// is only used by the current thread for `'a`, in process context; when
/// guest memory is accessed, the VM's SRCU read lock is held.
pub(crate) struct Vcpu<'a> {
    /// The wrapped vCPU.
    ptr: NonNull<bindings::kvm_vcpu>,
    /// Ties the wrapper to its exclusive use of the vCPU for `'a`.
    _lifetime: PhantomData<&'a mut bindings::kvm_vcpu>,
}

impl<'a> Vcpu<'a> {
    /// Wraps a vCPU.
    ///
    /// # Safety
    ///
    /// `ptr` must satisfy the type invariants for `'a`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<bindings::kvm_vcpu>) -> Self {
        // INVARIANT: guaranteed by the caller.
        Vcpu {
            ptr,
            _lifetime: PhantomData,
        }
    }

    /// The address of the vCPU's PMU context (`arch.pmu_context`).
    fn pmu(&self) -> *mut bindings::kvm_pmu {
        // SAFETY: `ptr` is valid by the type invariants; this only computes
        // the address of a field.
        unsafe { addr_of_mut!((*self.ptr.as_ptr()).arch.pmu_context) }
    }

    /// The registered snapshot area, if any.
    pub(crate) fn snapshot_area(&self) -> Option<Gpa> {
        // SAFETY: the PMU context is valid and only used by this thread (type
        // invariants).
        let addr = unsafe { addr_of!((*self.pmu()).snapshot_addr).read() };
        (addr != INVALID_GPA).then_some(addr)
    }

    /// Registers `area`, or drops the registration with `None`.
    pub(crate) fn set_snapshot_area(&mut self, area: Option<Gpa>) {
        // SAFETY: as in `snapshot_area`.
        unsafe { addr_of_mut!((*self.pmu()).snapshot_addr).write(area.unwrap_or(INVALID_GPA)) };
    }

    /// Splits the vCPU into its snapshot memory and its counters, which the
    /// snapshot calls use side by side.
    pub(crate) fn parts(&mut self) -> (Memory<'_>, Counters<'_>) {
        // INVARIANT: both parts borrow `self` mutably, so the vCPU invariants
        // hold while they live; neither touches the state of the other (the
        // area mapping vs. the counters).
        (
            Memory {
                ptr: self.ptr,
                _lifetime: PhantomData,
            },
            Counters {
                ptr: self.ptr,
                _lifetime: PhantomData,
            },
        )
    }
}

/// The snapshot area of a [`Vcpu`], mapped through its gfn-to-pfn cache.
///
/// # Invariants
///
/// As for [`Vcpu`].
pub(crate) struct Memory<'a> {
    /// The vCPU whose snapshot area this is.
    ptr: NonNull<bindings::kvm_vcpu>,
    /// Ties the part to the mutable borrow of the [`Vcpu`] it was split from.
    _lifetime: PhantomData<&'a mut ()>,
}

impl GuestMemory for Memory<'_> {
    fn writable(&mut self, gpa: Gpa, len: u64) -> bool {
        // The range may end at the last byte of the address space, so it
        // is walked by its last byte, never by the address after it.
        let Some(last) = len.checked_sub(1).and_then(|l| gpa.checked_add(l)) else {
            return false;
        };
        let mut at = gpa;
        // One step per memory slot: a large range over missing memory
        // fails at its first byte without more.
        loop {
            // SAFETY: the vCPU is valid and the SRCU read lock is held (type
            // invariants).
            let n = unsafe { bindings::kvm_riscv_vcpu_pmu_writable_bytes(self.ptr.as_ptr(), at) };
            if n == 0 {
                return false;
            }
            match at.checked_add(n) {
                Some(next) if next <= last => at = next,
                // The slot reaches past the last byte.
                _ => return true,
            }
        }
    }

    fn read(&mut self, gpa: Gpa, buf: &mut [u8]) -> Result<(), MemFault> {
        // SAFETY: the vCPU is valid and the SRCU read lock is held (type
        // invariants); `buf` is valid for writes of its length.
        let ret = unsafe {
            bindings::kvm_vcpu_read_guest(
                self.ptr.as_ptr(),
                gpa,
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(MemFault)
        }
    }

    fn write(&mut self, gpa: Gpa, data: &[u8]) -> Result<(), MemFault> {
        // SAFETY: as in `read`; `data` is valid for reads of its length, and
        // the write marks the pages dirty.
        let ret = unsafe {
            bindings::kvm_vcpu_write_guest(self.ptr.as_ptr(), gpa, data.as_ptr().cast(), data.len())
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(MemFault)
        }
    }
}

impl SnapshotMemory for Memory<'_> {
    type Mapped<'m>
        = Mapped<'m>
    where
        Self: 'm;

    fn attach(&mut self, gpa: Option<Gpa>) -> Result<(), MemFault> {
        let vcpu = self.ptr.as_ptr();
        match gpa {
            // SAFETY: the vCPU is valid and used by this thread only, in
            // process context (type invariants); no access is in progress
            // (an access borrows `self`).
            Some(gpa) => match unsafe { bindings::kvm_riscv_vcpu_pmu_snapshot_map(vcpu, gpa) } {
                0 => Ok(()),
                _ => Err(MemFault),
            },
            None => {
                // SAFETY: as above.
                unsafe { bindings::kvm_riscv_vcpu_pmu_snapshot_unmap(vcpu) };
                Ok(())
            }
        }
    }

    fn begin(&mut self) -> Result<Mapped<'_>, MemFault> {
        // SAFETY: the vCPU is valid (type invariants), so the address of
        // one of its fields is not null.
        let gpc = unsafe {
            NonNull::new_unchecked(addr_of_mut!(
                (*self.ptr.as_ptr()).arch.pmu_context.snapshot_gpc
            ))
        };
        // SAFETY: the vCPU is valid and used by this thread only (type
        // invariants), so its cache and the cache's lock are initialised;
        // this is `read_lock()` (the option excludes PREEMPT_RT, whose rwlock
        // is another type), and the C helper below drops the lock or hands
        // it to the `Mapped`.
        unsafe { bindings::_raw_read_lock(addr_of_mut!((*gpc.as_ptr()).lock)) };
        // SAFETY: as above; the read lock is held, as the helper requires.
        let khva = unsafe { bindings::kvm_riscv_vcpu_pmu_snapshot_khva(gpc.as_ptr()) };
        // INVARIANT: a non-null return is the mapped area, with the read
        // lock held until the `Mapped` is dropped.
        Ok(Mapped {
            // INVARIANT: `gpc` is the cache of a vCPU that outlives the
            // borrow of `self`.
            gpc,
            words: NonNull::new(khva.cast::<u64>()).ok_or(MemFault)?,
            dirty: false,
            _memory: PhantomData,
        })
    }
}

/// The snapshot area during one access.
///
/// # Invariants
///
/// `words` is the kernel address of the mapped 4 KiB area, and the
/// gfn-to-pfn cache's read lock is held, until the value is dropped.
pub(crate) struct Mapped<'m> {
    /// The gfn-to-pfn cache of the vCPU whose area this is.
    gpc: NonNull<bindings::gfn_to_pfn_cache>,
    /// The area, as 512 little-endian words.
    words: NonNull<u64>,
    /// Whether anything was written.
    dirty: bool,
    /// Ties the access to the borrow of the [`Memory`] it came from.
    _memory: PhantomData<&'m mut ()>,
}

impl Mapped<'_> {
    /// The word at index `index`, masked into the area: an index outside
    /// it cannot reach past the area, also under speculation.
    fn word(&self, index: usize) -> *mut u64 {
        // SAFETY: `words` maps `AREA_SIZE` bytes (type invariants) and the
        // masked index is below `AREA_SIZE / WORD`.
        unsafe { self.words.as_ptr().add(index & (AREA_SIZE / WORD - 1)) }
    }

    /// Reads word `index`; the guest may change it at any time, hence the
    /// volatile access.
    fn read(&self, index: usize) -> u64 {
        // SAFETY: the word is mapped and aligned (see `word`).
        u64::from_le(unsafe { self.word(index).read_volatile() })
    }

    /// Writes word `index`, which the guest shares.
    fn write(&mut self, index: usize, value: u64) {
        self.dirty = true;
        // SAFETY: the word is mapped and aligned (see `word`).
        unsafe { self.word(index).write_volatile(value.to_le()) };
    }
}

/// The word index of the overflow bitmap.
const BITMAP_WORD: usize = BITMAP_OFFSET / WORD;

impl MappedArea for Mapped<'_> {
    fn bitmap(&mut self) -> u64 {
        self.read(BITMAP_WORD)
    }

    fn set_bitmap(&mut self, value: u64) {
        self.write(BITMAP_WORD, value);
    }

    fn slot(&mut self, slot: usize) -> u64 {
        self.read(slot_offset(slot & (NUM_SLOTS - 1)) / WORD)
    }

    fn set_slot(&mut self, slot: usize, value: u64) {
        self.write(slot_offset(slot & (NUM_SLOTS - 1)) / WORD, value);
    }

    fn set_slots(&mut self, first: usize, mask: u64, mut values: impl Iterator<Item = u64>) {
        let first = first & (NUM_SLOTS - 1);
        let mut word = self.word(slot_offset(first) / WORD);
        self.dirty = true;
        // No bit for a slot past the last one: each step shifts one bit out,
        // so at most `NUM_SLOTS - first` steps are taken.
        let mut mask = mask & (u64::MAX >> first);
        while mask != 0 {
            let Some(value) = values.next() else {
                break;
            };
            if mask & 1 != 0 {
                // SAFETY: `word` is slot `first + i` after `i` steps, and
                // `i < NUM_SLOTS - first` (above): a word of the mapped area
                // (see `word`).
                unsafe { word.write_volatile(value.to_le()) };
            }
            mask >>= 1;
            // SAFETY: one word further, at most the word after the last
            // slot, which is still inside the 4 KiB area.
            word = unsafe { word.add(1) };
        }
    }

    fn clear(&mut self) {
        for index in 0..AREA_SIZE / WORD {
            self.write(index, 0);
        }
    }
}

impl Drop for Mapped<'_> {
    fn drop(&mut self) {
        // SAFETY: the read lock is held (type invariants); this marks the
        // page dirty if asked and drops the lock.
        unsafe { bindings::kvm_riscv_vcpu_pmu_snapshot_end(self.gpc.as_ptr(), self.dirty) };
    }
}

/// The virtual counters of a [`Vcpu`].
///
/// # Invariants
///
/// As for [`Vcpu`].
pub(crate) struct Counters<'a> {
    /// The vCPU whose counters these are.
    ptr: NonNull<bindings::kvm_vcpu>,
    /// Ties the part to the mutable borrow of the [`Vcpu`] it was split from.
    _lifetime: PhantomData<&'a mut ()>,
}

/// The event code part of an SBI event index.
const EVENT_CODE_MASK: usize = bindings::SBI_PMU_EVENT_IDX_CODE_MASK as usize;
/// The number of firmware events KVM keeps state for (`SBI_PMU_FW_MAX`).
const NUM_FW_EVENTS: usize = bindings::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MAX as usize;
/// `SBI_PMU_EVENT_IDX_INVALID`: the event index of a released counter.
const EVENT_IDX_INVALID: usize = bindings::SBI_PMU_EVENT_IDX_INVALID as usize;

/// Firmware event codes below `NUM_FW_EVENTS` are masked into the first
/// `FW_EVENT_SLOTS` entries of `fw_event`.
const FW_EVENT_SLOTS: usize = NUM_FW_EVENTS.next_power_of_two();

// Counter numbers are masked below `NUM_SLOTS` and firmware event codes
// below `FW_EVENT_SLOTS`: both must be powers of two within their arrays.
const _: () = assert!(NUM_SLOTS.is_power_of_two());
const _: () = assert!(NUM_SLOTS <= bindings::RISCV_KVM_MAX_COUNTERS as usize);
const _: () = assert!(FW_EVENT_SLOTS <= bindings::RISCV_KVM_MAX_FW_CTRS as usize);
// The in-use and overflow bitmaps are one 64-bit word each.
const _: () = assert!(bindings::RISCV_KVM_MAX_COUNTERS as usize == u64::BITS as usize);
const _: () = assert!(core::mem::size_of::<core::ffi::c_ulong>() == 8);

// The pure core's SBI values and area layout are its own (it builds without
// the kernel); here they are checked against the kernel's, at compile time.
const _: () = {
    use super::abi::{SbiError, SHMEM_DISABLE};
    use super::area::SnapshotArea;
    use core::mem::{offset_of, size_of};
    /// Whether the core's code for `e` is the kernel's `SBI_ERR_*` value.
    const fn same(e: SbiError, kernel: i32) -> bool {
        e.code() == kernel as i64
    }
    assert!(same(SbiError::Failed, bindings::SBI_ERR_FAILURE));
    assert!(same(
        SbiError::NotSupported,
        bindings::SBI_ERR_NOT_SUPPORTED
    ));
    assert!(same(
        SbiError::InvalidParam,
        bindings::SBI_ERR_INVALID_PARAM
    ));
    assert!(same(SbiError::Denied, bindings::SBI_ERR_DENIED));
    assert!(same(
        SbiError::InvalidAddress,
        bindings::SBI_ERR_INVALID_ADDRESS
    ));
    assert!(same(
        SbiError::AlreadyAvailable,
        bindings::SBI_ERR_ALREADY_AVAILABLE
    ));
    assert!(same(
        SbiError::AlreadyStarted,
        bindings::SBI_ERR_ALREADY_STARTED
    ));
    assert!(same(
        SbiError::AlreadyStopped,
        bindings::SBI_ERR_ALREADY_STOPPED
    ));
    assert!(same(SbiError::NoShmem, bindings::SBI_ERR_NO_SHMEM));
    // CAST: `SBI_SHMEM_DISABLE` is -1, all ones as an `unsigned long`.
    assert!(SHMEM_DISABLE == bindings::SBI_SHMEM_DISABLE as isize as usize);
    // The area: the kernel's `struct riscv_pmu_snapshot_data`.
    type Kernel = bindings::riscv_pmu_snapshot_data;
    assert!(size_of::<SnapshotArea>() == size_of::<Kernel>());
    assert!(
        offset_of!(SnapshotArea, counter_overflow_bitmap) == offset_of!(Kernel, ctr_overflow_mask)
    );
    assert!(offset_of!(SnapshotArea, counter_values) == offset_of!(Kernel, ctr_values));
    assert!(offset_of!(SnapshotArea, reserved) == offset_of!(Kernel, reserved));
    assert!(offset_of!(Kernel, reserved) - offset_of!(Kernel, ctr_values) == NUM_SLOTS * WORD);
    // An event_get_info entry: the kernel's `struct riscv_pmu_event_info`.
    type Entry = bindings::riscv_pmu_event_info;
    assert!(size_of::<Entry>() == ENTRY_SIZE);
    assert!(offset_of!(Entry, output) == OUTPUT_OFFSET);
    assert!(offset_of!(Entry, event_data) == DATA_OFFSET);
    assert!(OUTPUT_SUPPORTED as u64 == bindings::RISCV_PMU_EVENT_INFO_OUTPUT_MASK as u64);
    assert!(FW_MAX as u64 == bindings::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MAX as u64);
};

impl Counters<'_> {
    /// The address of the vCPU's PMU context (`arch.pmu_context`).
    fn pmu(&self) -> *mut bindings::kvm_pmu {
        // SAFETY: `ptr` is valid by the type invariants; this only computes
        // the address of a field.
        unsafe { addr_of_mut!((*self.ptr.as_ptr()).arch.pmu_context) }
    }

    /// The address of counter `counter`. The index, a guest value checked
    /// against the number of counters by the caller, goes through
    /// [`index_nospec_pow2`], so it stays inside `pmc` also under
    /// speculation.
    fn pmc(&self, counter: usize) -> *mut bindings::kvm_pmc {
        let idx = index_nospec_pow2(counter, NUM_SLOTS);
        // SAFETY: the PMU context is valid (type invariants) and `idx` is
        // below the length of `pmc`; this only computes an address.
        unsafe { addr_of_mut!((*self.pmu()).pmc[idx]) }
    }

    /// The overflow bitmap, which the perf overflow handler sets bits of
    /// from interrupt context: every update is atomic.
    fn overflown(&self) -> &AtomicU64 {
        // SAFETY: the PMU context is valid for the lifetime of `self` (type
        // invariants); the bitmap is one aligned 64-bit word that the C side
        // only changes with atomic bit operations.
        unsafe { AtomicU64::from_ptr(addr_of_mut!((*self.pmu()).pmc_overflown).cast()) }
    }

    /// The in-use bitmap, updated atomically like the C side does.
    fn in_use_word(&self) -> &AtomicU64 {
        // SAFETY: as in `overflown`.
        unsafe { AtomicU64::from_ptr(addr_of_mut!((*self.pmu()).pmc_in_use).cast()) }
    }

    /// The state of the firmware event a firmware counter counts, or `None`
    /// when the counter's event is not a known firmware event.
    ///
    /// # Safety
    ///
    /// `pmc` must be a counter of this vCPU.
    unsafe fn fw_event(&self, pmc: *mut bindings::kvm_pmc) -> Option<*mut bindings::kvm_fw_event> {
        // SAFETY: `pmc` is a valid counter (guaranteed by the caller) that
        // only this thread uses (type invariants).
        let code = unsafe { (*pmc).event_idx } & EVENT_CODE_MASK;
        if code >= NUM_FW_EVENTS {
            return None;
        }
        // The guest picks the counter, and so an unconfigured one's code:
        // keep a mispredicted bound check inside `fw_event`.
        let code = index_nospec_pow2(code, FW_EVENT_SLOTS);
        // SAFETY: the PMU context is valid and `code` is below the length of
        // `fw_event`; this only computes an address.
        Some(unsafe { addr_of_mut!((*self.pmu()).fw_event[code]) })
    }
}

/// The value of a firmware event, which the threads of other vCPUs
/// increment (IPIs and remote fences received) with atomic operations.
///
/// # Safety
///
/// `fw` must point to a firmware event of a vCPU that is valid for `'a`.
unsafe fn fw_value<'a>(fw: *mut bindings::kvm_fw_event) -> &'a AtomicI64 {
    // SAFETY: `value` is an aligned `atomic64_t` (guaranteed by the caller)
    // that C only changes with atomic operations.
    unsafe { AtomicI64::from_ptr(addr_of_mut!((*fw).value.counter)) }
}

/// Whether a firmware event counts: other vCPUs' threads read it (with
/// acquire semantics) before they increment the value.
///
/// # Safety
///
/// As for [`fw_value`].
unsafe fn fw_started<'a>(fw: *mut bindings::kvm_fw_event) -> &'a AtomicBool {
    // SAFETY: `started` is a `bool` of a valid event (guaranteed by the
    // caller) that C reads and writes with single-copy-atomic accesses.
    unsafe { AtomicBool::from_ptr(addr_of_mut!((*fw).started)) }
}

impl CounterBank for Counters<'_> {
    fn num_counters(&self) -> usize {
        let pmu = self.pmu();
        // SAFETY: the PMU context is valid and only used by this thread (type
        // invariants).
        let (hw, fw) = unsafe { ((*pmu).num_hw_ctrs, (*pmu).num_fw_ctrs) };
        // CAST: the sum, as `kvm_pmu_num_counters()` computes it, at most 64;
        // a negative sum (never the case once the PMU is initialised) also
        // becomes 64, and every counter index is masked into `pmc` anyway.
        (hw.wrapping_add(fw) as u32 as usize).min(NUM_SLOTS)
    }

    fn in_use(&self) -> u64 {
        self.in_use_word().load(Ordering::Relaxed)
    }

    fn overflowed(&self) -> u64 {
        self.overflown().load(Ordering::Relaxed)
    }

    fn clear_overflowed(&mut self, mask: u64) {
        self.overflown().fetch_and(!mask, Ordering::Relaxed);
    }

    fn hardware(&self) -> u64 {
        // SAFETY: the PMU context is valid and only used by this thread (type
        // invariants).
        let hw = unsafe { (*self.pmu()).num_hw_ctrs };
        // KVM numbers its hardware counters first (`kvm_riscv_vcpu_pmu_init()`
        // gives the counters below `num_hw_ctrs` the hardware type and the
        // others the firmware type), at most `RISCV_KVM_MAX_HW_CTRS` of them.
        // CAST: clamped to `0..=32` first.
        let hw = hw.clamp(0, bindings::RISCV_KVM_MAX_HW_CTRS as i32) as u32;
        (1u64 << hw) - 1
    }

    fn value(&self, counter: usize) -> u64 {
        // SAFETY: the counter is valid and used by this thread only (type
        // invariants).
        unsafe { (*self.pmc(counter)).counter_val }
    }

    fn values(&self, counter: usize, count: usize) -> impl Iterator<Item = u64> + '_ {
        // One masked index, then a walk that cannot leave `pmc` either.
        let first = index_nospec_pow2(counter, NUM_SLOTS);
        let pmcs = self.pmc(first);
        (0..count.min(NUM_SLOTS - first)).map(move |i| {
            // SAFETY: `first + i < NUM_SLOTS`, so this is a counter of `pmc`,
            // valid and used by this thread only (type invariants).
            unsafe { (*pmcs.add(i)).counter_val }
        })
    }

    fn start_firmware(&mut self, counter: usize, init: Option<u64>) -> Step {
        let pmc = self.pmc(counter);
        // SAFETY: `pmc` is a counter of this vCPU, used by this thread only
        // (type invariants); its firmware event is only changed by this
        // thread, except for atomic increments of its value.
        unsafe {
            let Some(fw) = self.fw_event(pmc) else {
                return Step::Invalid;
            };
            let started = fw_started(fw);
            if started.load(Ordering::Relaxed) {
                return Step::Already;
            }
            if let Some(value) = init {
                (*pmc).counter_val = value;
            }
            // CAST: the event counts in the bits of a `u64`.
            fw_value(fw).store((*pmc).counter_val as i64, Ordering::Relaxed);
            // Other vCPUs count only once the start value is in place.
            started.store(true, Ordering::Release);
            Step::Done
        }
    }

    fn stop_firmware(&mut self, counter: usize) -> (Step, u64) {
        let pmc = self.pmc(counter);
        // SAFETY: as in `start_firmware`.
        unsafe {
            let Some(fw) = self.fw_event(pmc) else {
                return (Step::Invalid, 0);
            };
            let started = fw_started(fw);
            if !started.load(Ordering::Relaxed) {
                return (Step::Already, (*pmc).counter_val);
            }
            started.store(false, Ordering::Relaxed);
            // CAST: the event counts in the bits of a `u64`.
            let value = fw_value(fw).load(Ordering::Relaxed) as u64;
            (*pmc).counter_val = value;
            (Step::Done, value)
        }
    }

    fn prepare_hardware(&mut self, counter: usize, init: Option<u64>) -> Step {
        let pmc = self.pmc(counter);
        // SAFETY: as in `start_firmware`.
        unsafe {
            if (*pmc).perf_event.is_null() {
                Step::Invalid
            } else if (*pmc).started {
                Step::Already
            } else {
                if let Some(value) = init {
                    (*pmc).counter_val = value;
                }
                Step::Done
            }
        }
    }

    fn start_hardware(&mut self, counter: usize) -> Step {
        let pmc = self.pmc(counter);
        // SAFETY: as in `start_firmware`; the perf event, when set, is the
        // counter's own, and the C helper programs it from `counter_val`.
        unsafe {
            if (*pmc).perf_event.is_null() {
                Step::Invalid
            } else if (*pmc).started {
                Step::Already
            } else {
                bindings::kvm_riscv_vcpu_pmu_hw_start(pmc);
                (*pmc).started = true;
                Step::Done
            }
        }
    }

    fn stop_hardware(&mut self, counter: usize) -> Step {
        let pmc = self.pmc(counter);
        // SAFETY: as in `start_hardware`; the C helper folds the event's
        // count into `counter_val`.
        unsafe {
            if (*pmc).perf_event.is_null() {
                Step::Invalid
            } else if (*pmc).started {
                bindings::kvm_riscv_vcpu_pmu_hw_stop(pmc);
                (*pmc).started = false;
                Step::Done
            } else {
                Step::Already
            }
        }
    }

    fn read_firmware(&mut self, counter: usize) -> Option<u64> {
        let pmc = self.pmc(counter);
        // SAFETY: as in `start_firmware`.
        unsafe {
            // `counter_val` is left alone: a stop brings it up to date.
            // CAST: the event counts in the bits of a `u64`.
            self.fw_event(pmc)
                .map(|fw| fw_value(fw).load(Ordering::Relaxed) as u64)
        }
    }

    fn release(&mut self, mask: u64) {
        for counter in Bits(mask) {
            let pmc = self.pmc(counter);
            // SAFETY: as in `start_firmware`; the C helper releases the
            // counter's perf event, if any, and clears the pointer.
            unsafe {
                if !(*pmc).perf_event.is_null() {
                    bindings::kvm_riscv_vcpu_pmu_release(pmc);
                }
                (*pmc).event_idx = EVENT_IDX_INVALID as _;
            }
        }
        self.in_use_word().fetch_and(!mask, Ordering::Relaxed);
        self.overflown().fetch_and(!mask, Ordering::Relaxed);
    }

    fn info(&self, index: usize) -> usize {
        // SAFETY: the counter is valid and used by this thread only (type
        // invariants).
        unsafe { (*self.pmc(index)).cinfo.value }
    }
}

/// The host's perf events, as config matching uses them.
pub(crate) struct HostEvents;

impl EventSupport for HostEvents {
    fn host_counts(&mut self, event_idx: u32, event_data: u64) -> bool {
        // SAFETY: the helper only creates and releases a disabled perf
        // event for the current task, in process context.
        // CAST: `unsigned long` holds a `u32`.
        unsafe { bindings::kvm_riscv_vcpu_pmu_event_supported(event_idx as usize, event_data) }
    }

    fn pause(&mut self) {
        // SAFETY: called from the vCPU's thread in process context, with no
        // lock held but the VM's SRCU read lock, under which sleeping is
        // allowed.
        unsafe { bindings::kvm_riscv_vcpu_pmu_resched() };
    }
}

// The state registers' numbers, sizes, flags and errnos are the pure core's
// own; here they are checked against the kernel's UAPI.
const _: () = {
    use super::state::*;
    use core::mem::size_of;
    assert!(SIZE_MASK == bindings::KVM_REG_SIZE_MASK);
    assert!(SIZE_U64 == bindings::KVM_REG_SIZE_U64);
    assert!(SIZE_U128 == bindings::KVM_REG_SIZE_U128);
    assert!(SIZE_U256 == bindings::KVM_REG_SIZE_U256);
    assert!(size_of::<bindings::kvm_riscv_sbi_pmu_ctr>() == 32);
    assert!(size_of::<bindings::kvm_riscv_sbi_pmu_fw>() == 16);
    assert!(SNAPSHOT == bindings::KVM_REG_RISCV_SBI_PMU_SNAPSHOT as u64);
    assert!(CONFIGURED == bindings::KVM_RISCV_SBI_PMU_CTR_CONFIGURED as u64);
    assert!(STARTED == bindings::KVM_RISCV_SBI_PMU_CTR_STARTED as u64);
    assert!(OVERFLOWN == bindings::KVM_RISCV_SBI_PMU_CTR_OVERFLOWN as u64);
    assert!(UINH == bindings::KVM_RISCV_SBI_PMU_CTR_UINH as u64);
    assert!(SINH == bindings::KVM_RISCV_SBI_PMU_CTR_SINH as u64);
    assert!(FW_STARTED == bindings::KVM_RISCV_SBI_PMU_FW_STARTED as u64);
    assert!(NO_AREA == INVALID_GPA);
    assert!(RegError::NoSuchRegister.errno() == -(bindings::ENOENT as i32));
    assert!(RegError::Invalid.errno() == -(bindings::EINVAL as i32));
};

/// Saving and restoring the counters and firmware events (the
/// `KVM_REG_RISCV_SBI_PMU` registers), from the vCPU's ioctl: the vCPU is
/// not running, and its thread is the caller's.
impl Counters<'_> {
    /// How many firmware events the registers cover (`SBI_PMU_FW_MAX`).
    pub(crate) fn fw_events(&self) -> usize {
        NUM_FW_EVENTS
    }

    /// What counter `counter` (below [`CounterBank::num_counters`]) is.
    pub(crate) fn kind(&self, counter: usize) -> CounterKind {
        if self.hardware() & (1 << counter) == 0 {
            CounterKind::Firmware
        } else if counter == 1 {
            CounterKind::Time
        } else {
            CounterKind::Hardware
        }
    }

    /// The register of counter `counter` (below the number of counters).
    pub(crate) fn save_counter(&self, counter: usize) -> CounterReg {
        let pmc = self.pmc(counter);
        let configured = self.in_use() & (1 << counter) != 0;
        // SAFETY: `pmc` is a counter of this vCPU, used by this thread only
        // (type invariants).
        let (event_idx, counter_val, started) =
            unsafe { ((*pmc).event_idx, (*pmc).counter_val, (*pmc).started) };
        if !configured {
            return CounterReg {
                value: counter_val,
                ..CounterReg::default()
            };
        }
        // CAST: an event index has 20 bits.
        let event_idx = event_idx as u64;
        if self.kind(counter) != CounterKind::Hardware {
            return CounterReg {
                event_idx,
                flags: CONFIGURED,
                value: counter_val,
                ..CounterReg::default()
            };
        }
        let (mut value, mut event_data) = (0, 0);
        // SAFETY: as above; the helper reads the counter and its perf
        // event, if any, in process context.
        let filters =
            unsafe { bindings::kvm_riscv_vcpu_pmu_hw_save(pmc, &mut value, &mut event_data) };
        let mut flags = CONFIGURED | (filters & (UINH | SINH));
        for (on, flag) in [
            (started, STARTED),
            (self.overflowed() & (1 << counter) != 0, OVERFLOWN),
        ] {
            if on {
                flags |= flag;
            }
        }
        CounterReg {
            event_idx,
            event_data,
            flags,
            value,
        }
    }

    /// Restores counter `counter` (below the number of counters, of the
    /// kind `state` was checked for). Fails, with nothing changed, when the
    /// host cannot count a hardware event.
    pub(crate) fn restore_counter(
        &mut self,
        counter: usize,
        state: CounterState,
    ) -> Result<(), RegError> {
        let pmc = self.pmc(counter);
        let bit = 1u64 << counter;
        let (event, event_idx, value) = match state {
            CounterState::Unconfigured { value } => {
                self.release(bit);
                // SAFETY: `pmc` is a counter of this vCPU, used by this
                // thread only (type invariants).
                unsafe { (*pmc).counter_val = value };
                return Ok(());
            }
            CounterState::Firmware { event_idx, value } => (None, event_idx, value),
            CounterState::Hardware {
                event_idx,
                event_data,
                exclude_user,
                exclude_kernel,
                value,
                ..
            } => {
                let mut filters = 0;
                if exclude_user {
                    filters |= UINH;
                }
                if exclude_kernel {
                    filters |= SINH;
                }
                // SAFETY: as above; the helper creates a disabled perf event
                // for the current task, in process context, and touches no
                // state of the counter.
                // CAST: `unsigned long` holds a `u32`.
                let event = unsafe {
                    bindings::kvm_riscv_vcpu_pmu_hw_create(
                        pmc,
                        event_idx as usize,
                        event_data,
                        filters,
                    )
                };
                // SAFETY: `IS_ERR()` only looks at the pointer's value.
                if unsafe { bindings::IS_ERR(event.cast()) } {
                    return Err(RegError::Invalid);
                }
                (Some(event), event_idx, value)
            }
        };
        // Nothing can fail from here on: the old state goes.
        self.release(bit);
        // SAFETY: as above; the new perf event, if any, belongs to this
        // counter from now on, and the C helper programs and enables it.
        unsafe {
            (*pmc).counter_val = value;
            // CAST: `unsigned long` holds a `u32`.
            (*pmc).event_idx = event_idx as _;
            if let Some(event) = event {
                (*pmc).perf_event = event;
            }
        }
        self.in_use_word().fetch_or(bit, Ordering::Relaxed);
        if let CounterState::Hardware {
            started, overflown, ..
        } = state
        {
            if overflown {
                self.overflown().fetch_or(bit, Ordering::Relaxed);
            }
            if started {
                // SAFETY: as above: the counter has its perf event.
                unsafe {
                    bindings::kvm_riscv_vcpu_pmu_hw_start(pmc);
                    (*pmc).started = true;
                }
            }
        }
        Ok(())
    }

    /// The address of firmware event `code` (below [`Self::fw_events`]).
    fn fw_event_at(&self, code: usize) -> *mut bindings::kvm_fw_event {
        let code = index_nospec_pow2(code, FW_EVENT_SLOTS);
        // SAFETY: the PMU context is valid and `code` is below the length of
        // `fw_event`; this only computes an address.
        unsafe { addr_of_mut!((*self.pmu()).fw_event[code]) }
    }

    /// The register of firmware event `code`: its value and flags.
    pub(crate) fn save_firmware(&self, code: usize) -> [u64; 2] {
        let fw = self.fw_event_at(code);
        // SAFETY: `fw` is a firmware event of this vCPU, valid while `self`
        // is (type invariants).
        let (value, started) = unsafe { (fw_value(fw), fw_started(fw)) };
        // CAST: the event counts in the bits of a `u64`.
        let value = value.load(Ordering::Relaxed) as u64;
        let flags = if started.load(Ordering::Relaxed) {
            FW_STARTED
        } else {
            0
        };
        [value, flags]
    }

    /// Restores firmware event `code` (below [`Self::fw_events`]).
    pub(crate) fn restore_firmware(&mut self, code: usize, value: u64, started: bool) {
        let fw = self.fw_event_at(code);
        // SAFETY: as in `save_firmware`.
        let (count, on) = unsafe { (fw_value(fw), fw_started(fw)) };
        // Other vCPUs count into a started event: stop it before its value
        // changes, and start it only once the value is in place.
        on.store(false, Ordering::Relaxed);
        // CAST: the event counts in the bits of a `u64`.
        count.store(value as i64, Ordering::Relaxed);
        if started {
            on.store(true, Ordering::Release);
        }
    }
}
