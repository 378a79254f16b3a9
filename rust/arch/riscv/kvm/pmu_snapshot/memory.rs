// SPDX-License-Identifier: GPL-2.0

//! Guest memory as the SBI PMU calls see it: the one seam through which
//! the pure core reaches it.
//!
//! [`GuestMemory`] copies bytes in and out and says which addresses are
//! backed by memory the guest can write; [`GuestRange`] is a range that a
//! guest named in a call, and every access made through it stays inside
//! it. The snapshot area adds a mapping on top (`SnapshotMemory` in
//! `engine.rs`), whose accesses end when they are dropped.

/// A guest physical address.
pub(crate) type Gpa = u64;

/// A guest memory access that failed (no memory slot, or a fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemFault;

/// Guest memory, as the vCPU sees it.
pub(crate) trait GuestMemory {
    /// Returns true when every byte of the `len` bytes at `gpa` is backed
    /// by a memory slot the guest can write; false for `len` 0 or a range
    /// that wraps around. The range may end at the last byte of the
    /// address space.
    fn writable(&mut self, gpa: Gpa, len: u64) -> bool;
    /// Copies the `buf.len()` bytes at `gpa` into `buf`.
    fn read(&mut self, gpa: Gpa, buf: &mut [u8]) -> Result<(), MemFault>;
    /// Copies `data` to `gpa`, marking the pages dirty for dirty logging.
    fn write(&mut self, gpa: Gpa, data: &[u8]) -> Result<(), MemFault>;
}

/// A range of guest memory named by a guest in an SBI call.
///
/// # Invariants
///
/// `len > 0` and `base + len` does not wrap around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GuestRange {
    /// First byte.
    base: Gpa,
    /// Length in bytes.
    len: u64,
}

impl GuestRange {
    /// The `len` bytes at `base`; `None` when `len` is 0 or the range
    /// wraps around the end of the address space.
    pub(crate) fn new(base: Gpa, len: u64) -> Option<Self> {
        if len == 0 {
            return None;
        }
        base.checked_add(len - 1)?;
        Some(GuestRange { base, len })
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The guest address of `len` bytes at `offset`, if they lie inside.
    fn at(&self, offset: u64, len: usize) -> Result<Gpa, MemFault> {
        // CAST: a buffer is far smaller than 2^64 bytes.
        let end = offset.checked_add(len as u64).ok_or(MemFault)?;
        if end > self.len {
            return Err(MemFault);
        }
        // `offset < self.len` for a non-empty access, so this cannot wrap
        // (invariant); an empty one at the very end is refused here.
        self.base.checked_add(offset).ok_or(MemFault)
    }

    /// Returns true when the whole range is backed by writable memory.
    pub(crate) fn writable<M: GuestMemory>(&self, mem: &mut M) -> bool {
        mem.writable(self.base, self.len)
    }

    /// Reads `buf.len()` bytes at `offset` into the range.
    pub(crate) fn read<M: GuestMemory>(
        &self,
        mem: &mut M,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), MemFault> {
        mem.read(self.at(offset, buf.len())?, buf)
    }

    /// Writes `data` at `offset` into the range.
    pub(crate) fn write<M: GuestMemory>(
        &self,
        mem: &mut M,
        offset: u64,
        data: &[u8],
    ) -> Result<(), MemFault> {
        mem.write(self.at(offset, data.len())?, data)
    }
}
