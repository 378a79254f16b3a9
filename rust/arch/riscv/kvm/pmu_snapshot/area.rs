// SPDX-License-Identifier: GPL-2.0

//! The 4 KiB snapshot area shared with the guest, and the byte ranges of it
//! that a start or a stop touches.
//!
//! Counter slots and overflow bits are numbered relative to the
//! `counter_idx_base` of the call, so slot `i` belongs to counter
//! `counter_idx_base + i`.

/// Size of the snapshot area in bytes; its guest address must be aligned to it.
pub(crate) const AREA_SIZE: usize = 4096;
/// Number of counter value slots in the area.
pub(crate) const NUM_SLOTS: usize = 64;
/// Offset of `counter_overflow_bitmap`.
pub(crate) const BITMAP_OFFSET: usize = 0;
/// Offset of `counter_values[0]`.
pub(crate) const VALUES_OFFSET: usize = 8;
/// Size of one slot and of the bitmap word.
pub(crate) const WORD: usize = 8;

/// The layout of the area as the SBI specification defines it (little-endian).
#[repr(C)]
pub(crate) struct SnapshotArea {
    /// Overflow bits of the stopped counters, relative to the base.
    pub(crate) counter_overflow_bitmap: u64,
    /// Counter values, relative to the base.
    pub(crate) counter_values: [u64; NUM_SLOTS],
    /// Reserved: never read or written by the implementation.
    pub(crate) reserved: [u64; 447],
}

const _: () = assert!(core::mem::size_of::<SnapshotArea>() == AREA_SIZE);
const _: () =
    assert!(core::mem::offset_of!(SnapshotArea, counter_overflow_bitmap) == BITMAP_OFFSET);
const _: () = assert!(core::mem::offset_of!(SnapshotArea, counter_values) == VALUES_OFFSET);

/// Returns the byte offset of value slot `slot` within the area.
pub(crate) const fn slot_offset(slot: usize) -> usize {
    VALUES_OFFSET + slot * WORD
}
