// SPDX-License-Identifier: GPL-2.0

//! Safe kernel shell: a vCPU's guest memory, counters and snapshot
//! registration, over the KVM bindings and the per-counter helpers of
//! `arch/riscv/kvm/vcpu_pmu.c`.

use core::marker::PhantomData;
use core::ptr::{addr_of, addr_of_mut, NonNull};

use kernel::bindings;

use super::engine::{CounterBank, CounterStatus, GuestMemory, Gpa, MemFault, Stopped};

/// `INVALID_GPA`: the value of `kvm_pmu::snapshot_addr` when no area is set.
const INVALID_GPA: u64 = u64::MAX;

// Return codes of the per-counter helpers, besides the SBI error codes.
const CTR_DONE: i32 = 0;
const CTR_UNUSED: i32 = 1;
// CAST: the SBI error codes are small negative numbers that fit an `i32`.
const ERR_ALREADY_STARTED: i32 = bindings::SBI_ERR_ALREADY_STARTED as i32;
const ERR_ALREADY_STOPPED: i32 = bindings::SBI_ERR_ALREADY_STOPPED as i32;

/// A vCPU that is handling one of its own SBI calls.
///
/// # Invariants
///
/// `ptr` points to a valid, initialised `struct kvm_vcpu` whose PMU context
/// is only used by the current thread for `'a`, and the VM's SRCU read lock
/// is held for `'a` (both hold while KVM handles the vCPU's SBI calls).
pub(crate) struct Vcpu<'a> {
    ptr: NonNull<bindings::kvm_vcpu>,
    _lifetime: PhantomData<&'a mut bindings::kvm_vcpu>,
}

impl<'a> Vcpu<'a> {
    /// Wraps the vCPU of an SBI call.
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

    fn raw(&self) -> *mut bindings::kvm_vcpu {
        self.ptr.as_ptr()
    }

    fn pmu(&self) -> *mut bindings::kvm_pmu {
        // SAFETY: `ptr` is valid by the type invariants; this only computes
        // the address of a field.
        unsafe { addr_of_mut!((*self.raw()).arch.pmu_context) }
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

    /// Splits the vCPU into its guest memory and its counters, which the
    /// snapshot calls use side by side.
    pub(crate) fn parts(&mut self) -> (Memory<'_>, Counters<'_>) {
        // INVARIANT: both parts borrow `self` mutably, so they are used by
        // this thread only while the vCPU invariants hold; neither touches
        // the state of the other (guest memory vs. the PMU context).
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

/// The guest physical memory of a [`Vcpu`].
///
/// # Invariants
///
/// As for [`Vcpu`].
pub(crate) struct Memory<'a> {
    ptr: NonNull<bindings::kvm_vcpu>,
    _lifetime: PhantomData<&'a mut ()>,
}

impl Memory<'_> {
    fn raw(&self) -> *mut bindings::kvm_vcpu {
        self.ptr.as_ptr()
    }
}

/// The virtual counters of a [`Vcpu`].
///
/// # Invariants
///
/// As for [`Vcpu`].
pub(crate) struct Counters<'a> {
    ptr: NonNull<bindings::kvm_vcpu>,
    _lifetime: PhantomData<&'a mut ()>,
}

impl Counters<'_> {
    fn raw(&self) -> *mut bindings::kvm_vcpu {
        self.ptr.as_ptr()
    }

    fn pmu(&self) -> *mut bindings::kvm_pmu {
        // SAFETY: `ptr` is valid by the type invariants; this only computes
        // the address of a field.
        unsafe { addr_of_mut!((*self.raw()).arch.pmu_context) }
    }
}

impl GuestMemory for Memory<'_> {
    fn is_writable(&mut self, gpa: Gpa) -> bool {
        // SAFETY: the vCPU is valid and the SRCU read lock is held (type
        // invariants).
        unsafe { bindings::kvm_riscv_vcpu_pmu_gpa_writable(self.raw(), gpa) }
    }

    fn read(&mut self, gpa: Gpa, buf: &mut [u8]) -> Result<(), MemFault> {
        // SAFETY: the vCPU is valid and the SRCU read lock is held (type
        // invariants); `buf` is valid for writes of `buf.len()` bytes.
        let ret = unsafe {
            bindings::kvm_vcpu_read_guest(self.raw(), gpa, buf.as_mut_ptr().cast(), buf.len() as _)
        };
        if ret == 0 { Ok(()) } else { Err(MemFault) }
    }

    fn write(&mut self, gpa: Gpa, buf: &[u8]) -> Result<(), MemFault> {
        // SAFETY: the vCPU is valid and the SRCU read lock is held (type
        // invariants); `buf` is valid for reads of `buf.len()` bytes.
        let ret = unsafe {
            bindings::kvm_vcpu_write_guest(self.raw(), gpa, buf.as_ptr().cast(), buf.len() as _)
        };
        if ret == 0 { Ok(()) } else { Err(MemFault) }
    }

    fn clear(&mut self, gpa: Gpa, len: usize) -> Result<(), MemFault> {
        // SAFETY: the vCPU, and so its VM, are valid and the SRCU read lock is
        // held (type invariants).
        let ret = unsafe { bindings::kvm_clear_guest((*self.raw()).kvm, gpa, len as _) };
        if ret == 0 { Ok(()) } else { Err(MemFault) }
    }
}

fn status(code: i32, already: i32) -> CounterStatus {
    match code {
        CTR_DONE => CounterStatus::Done,
        CTR_UNUSED => CounterStatus::Unused,
        c if c == already => CounterStatus::Already,
        _ => CounterStatus::Invalid,
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
        n.min(64)
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

    fn start(&mut self, index: usize, init: Option<u64>) -> CounterStatus {
        // SAFETY: the vCPU is valid and only used by this thread (type
        // invariants); `index` is below the number of counters.
        let code = unsafe {
            bindings::kvm_riscv_vcpu_pmu_ctr_start_one(
                self.raw(),
                index as _,
                init.is_some(),
                init.unwrap_or(0),
            )
        };
        status(code, ERR_ALREADY_STARTED)
    }

    fn info(&self, index: usize) -> usize {
        let pmu = self.pmu();
        let index = index.min(bindings::RISCV_KVM_MAX_COUNTERS as usize - 1);
        // SAFETY: the PMU context is valid and only used by this thread (type
        // invariants), `index` is within `pmc`, and every bit pattern of the
        // union is a valid `value`.
        let info = unsafe { addr_of!((*pmu).pmc[index].cinfo.value).read() };
        // CAST: `unsigned long` is `usize` on every kernel target.
        info as usize
    }

    fn stop(&mut self, index: usize, reset: bool) -> Stopped {
        let mut value = 0u64;
        let mut overflowed = false;
        // SAFETY: as in `start`; `value` and `overflowed` are valid for writes.
        let code = unsafe {
            bindings::kvm_riscv_vcpu_pmu_ctr_stop_one(
                self.raw(),
                index as _,
                reset,
                &mut value,
                &mut overflowed,
            )
        };
        Stopped {
            status: status(code, ERR_ALREADY_STOPPED),
            value,
            overflowed,
        }
    }
}
