// SPDX-License-Identifier: GPL-2.0

//! Safe kernel shell: a vCPU's snapshot area, counters and registration,
//! over the KVM bindings and the helpers in `arch/riscv/kvm/vcpu_pmu.c`.

use core::marker::PhantomData;
use core::ptr::{addr_of, addr_of_mut, NonNull};

use kernel::bindings;

use super::area::{AREA_SIZE, NUM_SLOTS, WORD};
use super::engine::{CounterBank, Gpa, Init, MemFault, Outcome, SnapshotMemory};
use super::request::CounterSet;

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
                khva: None,
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
/// As for [`Vcpu`]. When `khva` is `Some`, it is the kernel address of the
/// mapped 4 KiB area and the cache's read lock is held.
pub(crate) struct Memory<'a> {
    /// The vCPU whose snapshot area this is.
    ptr: NonNull<bindings::kvm_vcpu>,
    /// The kernel address of the mapped area while an access (`begin` to `end`) is in
    /// progress.
    khva: Option<NonNull<u64>>,
    /// Ties the part to the mutable borrow of the [`Vcpu`] it was split from.
    _lifetime: PhantomData<&'a mut ()>,
}

impl Memory<'_> {
    /// The word at byte `offset` of the mapped area, if the area is mapped
    /// and `offset` is a word inside it.
    fn word(&self, offset: usize) -> Option<*mut u64> {
        let khva = self.khva?;
        if offset % WORD != 0 || offset >= AREA_SIZE {
            return None;
        }
        // SAFETY: `khva` maps `AREA_SIZE` bytes (type invariants) and the
        // word lies inside them.
        Some(unsafe { khva.as_ptr().add(offset / WORD) })
    }
}

impl SnapshotMemory for Memory<'_> {
    fn is_writable(&mut self, gpa: Gpa) -> bool {
        // SAFETY: the vCPU is valid and the SRCU read lock is held (type
        // invariants).
        unsafe { bindings::kvm_riscv_vcpu_pmu_gpa_writable(self.ptr.as_ptr(), gpa) }
    }

    fn attach(&mut self, gpa: Option<Gpa>) -> Result<(), MemFault> {
        let vcpu = self.ptr.as_ptr();
        match gpa {
            // SAFETY: the vCPU is valid and used by this thread only, in
            // process context (type invariants); no access is in progress.
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

    fn begin(&mut self) -> Result<(), MemFault> {
        if self.khva.is_some() {
            return Ok(());
        }
        // SAFETY: the vCPU is valid and used by this thread only (type
        // invariants).
        let khva = unsafe { bindings::kvm_riscv_vcpu_pmu_snapshot_begin(self.ptr.as_ptr()) };
        // INVARIANT: a non-null return is the mapped area, with the read
        // lock held until `end`.
        self.khva = Some(NonNull::new(khva.cast::<u64>()).ok_or(MemFault)?);
        Ok(())
    }

    fn read_word(&mut self, offset: usize) -> u64 {
        match self.word(offset) {
            // SAFETY: the word is mapped and aligned; the guest may change
            // it at any time, hence the volatile read.
            Some(p) => u64::from_le(unsafe { p.read_volatile() }),
            None => 0,
        }
    }

    fn write_word(&mut self, offset: usize, value: u64) {
        if let Some(p) = self.word(offset) {
            // SAFETY: the word is mapped and aligned; volatile because the
            // guest shares it.
            unsafe { p.write_volatile(value.to_le()) };
        }
    }

    fn clear(&mut self) {
        for offset in (0..AREA_SIZE).step_by(WORD) {
            self.write_word(offset, 0);
        }
    }

    fn end(&mut self, dirty: bool) {
        if self.khva.take().is_some() {
            // SAFETY: `begin` succeeded, so the read lock is held (type
            // invariants); this drops it.
            unsafe { bindings::kvm_riscv_vcpu_pmu_snapshot_end(self.ptr.as_ptr(), dirty) };
        }
    }
}

impl Drop for Memory<'_> {
    fn drop(&mut self) {
        // Never leave the cache's lock held.
        self.end(false);
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

impl Counters<'_> {
    /// The address of the vCPU's PMU context (`arch.pmu_context`).
    fn pmu(&self) -> *mut bindings::kvm_pmu {
        // SAFETY: `ptr` is valid by the type invariants; this only computes
        // the address of a field.
        unsafe { addr_of_mut!((*self.ptr.as_ptr()).arch.pmu_context) }
    }
}

/// Converts the result of the C start and stop helpers into an [`Outcome`].
fn outcome(r: &bindings::kvm_pmu_ctrs_result) -> Outcome {
    Outcome {
        done: r.done,
        already: r.already,
        invalid: r.invalid,
        overflowed: r.overflowed,
    }
}

impl CounterBank for Counters<'_> {
    fn num_counters(&self) -> usize {
        let pmu = self.pmu();
        // SAFETY: the PMU context is valid and only used by this thread (type
        // invariants).
        let (hw, fw) = unsafe { ((*pmu).num_hw_ctrs, (*pmu).num_fw_ctrs) };
        // CAST: both counts are small and non-negative once the PMU is
        // initialised; a bad value only ever shrinks the result.
        let n = (hw.max(0) as usize).saturating_add(fw.max(0) as usize);
        n.min(NUM_SLOTS)
    }

    fn in_use(&self) -> u64 {
        // SAFETY: as in `num_counters`.
        let words = unsafe { addr_of!((*self.pmu()).pmc_in_use).read() };
        let bits = core::mem::size_of_val(&words[0]) * 8;
        words
            .iter()
            .enumerate()
            .fold(0u64, |acc, (i, w)| acc | ((*w as u64) << (i * bits)))
    }

    fn start(&mut self, set: &CounterSet, init: Init<'_>) -> Outcome {
        if matches!(init, Init::PerSlot(v) if !set.fits(v.len())) {
            // The helper would read past the buffer: refuse the whole set.
            return Outcome {
                invalid: set.mask(),
                ..Outcome::default()
            };
        }
        let single;
        let (mode, values) = match init {
            Init::Keep => (bindings::KVM_PMU_INIT_KEEP, core::ptr::null()),
            Init::Value(v) => {
                single = v;
                (bindings::KVM_PMU_INIT_VALUE, &single as *const u64)
            }
            Init::PerSlot(values) => (bindings::KVM_PMU_INIT_SLOTS, values.as_ptr()),
        };
        let mut res = bindings::kvm_pmu_ctrs_result::default();
        // SAFETY: the vCPU is valid and used by this thread only (type
        // invariants); `set` is validated against the number of counters;
        // `values` is null or valid for the reads `mode` implies (up to the
        // highest counter of the set); `res` is valid for writes.
        unsafe {
            bindings::kvm_riscv_vcpu_pmu_ctrs_start(
                self.ptr.as_ptr(),
                set.base() as _,
                set.mask(),
                mode as _,
                values,
                &mut res,
            )
        };
        outcome(&res)
    }

    fn stop(&mut self, set: &CounterSet, reset: bool, values: Option<&mut [u64]>) -> Outcome {
        if values.as_ref().is_some_and(|v| !set.fits(v.len())) {
            // The helper would write past the buffer: refuse the whole set.
            return Outcome {
                invalid: set.mask(),
                ..Outcome::default()
            };
        }
        let values = values.map_or(core::ptr::null_mut(), |v| v.as_mut_ptr());
        let mut res = bindings::kvm_pmu_ctrs_result::default();
        // SAFETY: as in `start`; `values` is null or valid for writes up to
        // the highest counter of the set, the only ones the helper writes.
        unsafe {
            bindings::kvm_riscv_vcpu_pmu_ctrs_stop(
                self.ptr.as_ptr(),
                set.base() as _,
                set.mask(),
                reset,
                values,
                &mut res,
            )
        };
        outcome(&res)
    }

    fn info(&self, index: usize) -> usize {
        let pmu = self.pmu();
        let index = index.min(NUM_SLOTS - 1);
        // SAFETY: the PMU context is valid and only used by this thread (type
        // invariants), `index` is within `pmc` (64 entries), and every bit
        // pattern of the union is a valid `value` (an `unsigned long`).
        unsafe { addr_of!((*pmu).pmc[index].cinfo.value).read() }
    }
}
