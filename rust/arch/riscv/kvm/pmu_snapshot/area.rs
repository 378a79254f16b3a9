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
const _: () = assert!(core::mem::offset_of!(SnapshotArea, counter_overflow_bitmap) == BITMAP_OFFSET);
const _: () = assert!(core::mem::offset_of!(SnapshotArea, counter_values) == VALUES_OFFSET);

/// Returns the byte offset of value slot `slot` within the area.
pub(crate) const fn slot_offset(slot: usize) -> usize {
    VALUES_OFFSET + slot * WORD
}

/// A run of neighbouring words of the area: `len` words from word `first`,
/// where word 0 is the bitmap and word `1 + i` is slot `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WordRun {
    /// Index of the first word.
    pub(crate) first: usize,
    /// Number of words.
    pub(crate) len: usize,
}

impl WordRun {
    /// Byte offset of the run within the area.
    pub(crate) const fn offset(&self) -> usize {
        self.first * WORD
    }

    /// Length of the run in bytes.
    pub(crate) const fn bytes(&self) -> usize {
        self.len * WORD
    }
}

/// Iterates over the runs of set bits of a 65-bit word set, lowest first.
///
/// Bit 0 of `bitmap_word` stands for the bitmap word and bit `i` of `slots`
/// for slot `i`, so a stop that writes the bitmap and slots 0..3 is one run.
pub(crate) struct WordRuns {
    // Bit 0: the bitmap word; bits 1..=64: slots 0..=63.
    words: u128,
}

impl WordRuns {
    /// Creates the runs for the given slots, with or without the bitmap word.
    pub(crate) const fn new(bitmap_word: bool, slots: u64) -> Self {
        Self {
            words: ((slots as u128) << 1) | (bitmap_word as u128),
        }
    }
}

impl Iterator for WordRuns {
    type Item = WordRun;

    fn next(&mut self) -> Option<WordRun> {
        if self.words == 0 {
            return None;
        }
        let first = self.words.trailing_zeros() as usize;
        let len = (!(self.words >> first)).trailing_zeros() as usize;
        // `len < 128` because at most 65 bits are ever set.
        self.words &= !(((1u128 << len) - 1) << first);
        Some(WordRun { first, len })
    }
}
