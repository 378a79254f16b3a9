// SPDX-License-Identifier: GPL-2.0

//! `sbi_pmu_event_get_info(shmem_lo, shmem_hi, num_entries, flags)`, SBI
//! v3.0 PMU FID 8: which events of an array in guest memory the guest's
//! counters can count.
//!
//! The array is walked in place, a bounded chunk at a time: no buffer
//! grows with `num_entries`. Nothing is written until the whole array is
//! known to be writable guest memory whose entries have no reserved bit
//! set, and only each entry's output word is written.

use super::abi::{
    split_event_idx, SbiError, SbiResult, EVENT_IDX_RESERVED, FW_MAX, TYPE_CACHE, TYPE_FW, TYPE_HW,
    TYPE_RAW, TYPE_RAW_V2,
};
use super::memory::{GuestMemory, GuestRange};
use super::request::split_address;

/// Bytes of one entry: `{ u32 event_idx; u32 output; u64 event_data; }`.
pub(crate) const ENTRY_SIZE: usize = 16;
/// Offset of `output` in an entry.
pub(crate) const OUTPUT_OFFSET: usize = 4;
/// Offset of `event_data` in an entry.
pub(crate) const DATA_OFFSET: usize = 8;
/// `output` of a supported event; every other bit of the word is zero.
pub(crate) const OUTPUT_SUPPORTED: u32 = 1;
/// Entries read per copy from guest memory.
const CHUNK_ENTRIES: usize = 16;

/// The firmware events KVM counts, by code: SET_TIMER (5), IPI_SENT and
/// IPI_RCVD (6, 7), FENCE_I_SENT and FENCE_I_RCVD (8, 9), and the
/// HFENCE_VVMA and HFENCE_VVMA_ASID events (18 to 21), which count the
/// guest's remote SFENCE.VMA requests. `tests/scripts/test_fw_counted.py`
/// checks this list against the calls of `kvm_riscv_vcpu_pmu_incr_fw()`.
pub(crate) const KVM_COUNTED_FW: u32 =
    1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 18 | 1 << 19 | 1 << 20 | 1 << 21;

/// What the host can count for the guest.
pub(crate) trait EventSupport {
    /// Whether config matching would find a counter for the hardware,
    /// cache or raw event `event_idx` with `event_data` on this host.
    fn host_counts(&mut self, event_idx: u32, event_data: u64) -> bool;
    /// Called between the chunks of a long array: lets other tasks run.
    fn pause(&mut self);
}

/// The checked arguments of an `event_get_info` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventInfoRequest {
    /// The array, `16 * num_entries` bytes.
    pub(crate) array: GuestRange,
}

impl EventInfoRequest {
    /// Checks the call's arguments as the specification orders:
    /// `INVALID_PARAM` for non-zero `flags`, an address that is not 16-byte
    /// aligned, no entries or an array size that overflows;
    /// `INVALID_ADDRESS` for a high half on RV64 or an array that wraps
    /// around the address space. `xlen` is the guest's register width (on
    /// RV32 the high half holds the address bits above 32).
    pub(crate) fn new(
        lo: usize,
        hi: usize,
        num_entries: usize,
        flags: usize,
        xlen: u32,
    ) -> SbiResult<Self> {
        if flags != 0 || lo % ENTRY_SIZE != 0 || num_entries == 0 {
            return Err(SbiError::InvalidParam);
        }
        // CAST: `usize` is at most 64 bits wide.
        let len = (num_entries as u64)
            .checked_mul(ENTRY_SIZE as u64)
            .ok_or(SbiError::InvalidParam)?;
        let base = split_address(lo, hi, xlen)?;
        let array = GuestRange::new(base, len).ok_or(SbiError::InvalidAddress)?;
        Ok(EventInfoRequest { array })
    }
}

/// Whether the guest can count `event_idx` (reserved bits clear) with
/// `event_data`: hardware, cache and raw events as config matching accepts
/// them on this host, firmware events when KVM counts them.
pub(crate) fn supported<E: EventSupport>(events: &mut E, event_idx: u32, event_data: u64) -> bool {
    let (event_type, code) = split_event_idx(event_idx);
    match event_type {
        // Code 0 is SBI_PMU_HW_NO_EVENT.
        TYPE_HW => code != 0 && events.host_counts(event_idx, event_data),
        TYPE_CACHE | TYPE_RAW | TYPE_RAW_V2 => events.host_counts(event_idx, event_data),
        TYPE_FW => code < FW_MAX && KVM_COUNTED_FW & (1 << code) != 0,
        _ => false,
    }
}

/// The `event_idx` and `event_data` of an entry.
fn fields(entry: &[u8]) -> (u32, u64) {
    let mut idx = [0u8; 4];
    let mut data = [0u8; 8];
    idx.copy_from_slice(&entry[..4]);
    data.copy_from_slice(&entry[DATA_OFFSET..ENTRY_SIZE]);
    (u32::from_le_bytes(idx), u64::from_le_bytes(data))
}

/// Calls `f` with the offset, `event_idx` and `event_data` of every entry
/// of `array`, in order, reading a chunk of entries at a time; stops at
/// the first error.
fn walk<M, E, F>(mem: &mut M, events: &mut E, array: &GuestRange, mut f: F) -> SbiResult
where
    M: GuestMemory,
    E: EventSupport,
    F: FnMut(&mut M, &mut E, u64, u32, u64) -> SbiResult,
{
    let mut chunk = [0u8; CHUNK_ENTRIES * ENTRY_SIZE];
    let mut offset = 0;
    while offset < array.len() {
        // CAST: at most the chunk's size.
        let n = (array.len() - offset).min(chunk.len() as u64) as usize;
        array
            .read(mem, offset, &mut chunk[..n])
            .map_err(|_| SbiError::InvalidAddress)?;
        for (i, entry) in chunk[..n].chunks_exact(ENTRY_SIZE).enumerate() {
            let (idx, data) = fields(entry);
            // CAST: `i` is below `CHUNK_ENTRIES`.
            f(mem, events, offset + (i * ENTRY_SIZE) as u64, idx, data)?;
        }
        // CAST: as above.
        offset += n as u64;
        if offset < array.len() {
            events.pause();
        }
    }
    Ok(())
}

/// Handles `event_get_info` (FID 8).
pub(crate) fn event_info<M: GuestMemory, E: EventSupport>(
    mem: &mut M,
    events: &mut E,
    lo: usize,
    hi: usize,
    num_entries: usize,
    flags: usize,
) -> SbiResult {
    let array = EventInfoRequest::new(lo, hi, num_entries, flags, usize::BITS)?.array;
    if !array.writable(mem) {
        return Err(SbiError::InvalidAddress);
    }
    let reserved = |idx: u32| {
        if idx & EVENT_IDX_RESERVED != 0 {
            Err(SbiError::InvalidParam)
        } else {
            Ok(())
        }
    };
    // Every entry is checked before any is answered.
    walk(mem, events, &array, |_, _, _, idx, _| reserved(idx))?;
    walk(mem, events, &array, |mem, events, offset, idx, data| {
        // The guest may have changed the array meanwhile.
        reserved(idx)?;
        let output = if supported(events, idx, data) {
            OUTPUT_SUPPORTED
        } else {
            0
        };
        // CAST: the offset of a field within an entry.
        array
            .write(mem, offset + OUTPUT_OFFSET as u64, &output.to_le_bytes())
            .map_err(|_| SbiError::InvalidAddress)
    })
}
