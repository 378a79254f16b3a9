// SPDX-License-Identifier: GPL-2.0

//! The vCPU's SBI PMU state as `KVM_REG_RISCV_SBI_PMU` registers of
//! `KVM_GET_ONE_REG`, `KVM_SET_ONE_REG` and `KVM_GET_REG_LIST`: the register
//! numbers, their sizes and list order, and the checks a restored value
//! passes before anything of the vCPU changes.
//!
//! A register is named here by its number together with its `KVM_REG_SIZE`
//! bits, the part of the id that `arch/riscv/kvm/vcpu_pmu.c` passes on.

use super::abi::{
    split_event_idx, EVENT_IDX_RESERVED, TYPE_CACHE, TYPE_FW, TYPE_HW, TYPE_RAW, TYPE_RAW_V2,
};
use super::area::AREA_SIZE;
use super::engine::{Gpa, GuestRange, SnapshotMemory};

/// Why a register cannot be read or restored, as the KVM UAPI reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegError {
    /// No such register (`-ENOENT`).
    NoSuchRegister,
    /// The register exists with another size, or the value is not one the
    /// vCPU could have reached (`-EINVAL`).
    Invalid,
}

impl RegError {
    /// The negative errno of the ioctl.
    pub(crate) const fn errno(self) -> i32 {
        match self {
            // The values of `ENOENT` and `EINVAL`, checked against the
            // kernel's in `vcpu.rs`.
            RegError::NoSuchRegister => -2,
            RegError::Invalid => -22,
        }
    }
}

/// `KVM_REG_SIZE_MASK`.
pub(crate) const SIZE_MASK: u64 = 0x00f0_0000_0000_0000;
/// `KVM_REG_SIZE_U64`: the snapshot register.
pub(crate) const SIZE_U64: u64 = 0x0030_0000_0000_0000;
/// `KVM_REG_SIZE_U128`: a firmware event register.
pub(crate) const SIZE_U128: u64 = 0x0040_0000_0000_0000;
/// `KVM_REG_SIZE_U256`: a counter register.
pub(crate) const SIZE_U256: u64 = 0x0050_0000_0000_0000;

/// `KVM_REG_RISCV_SBI_PMU_SNAPSHOT`.
pub(crate) const SNAPSHOT: u64 = 0x0;
/// `KVM_REG_RISCV_SBI_PMU_CTR(0)`.
pub(crate) const CTR_BASE: u64 = 0x100;
/// `KVM_REG_RISCV_SBI_PMU_FW(0)`.
pub(crate) const FW_BASE: u64 = 0x200;

/// `KVM_RISCV_SBI_PMU_CTR_CONFIGURED`: the counter has an event.
pub(crate) const CONFIGURED: u64 = 1 << 0;
/// `KVM_RISCV_SBI_PMU_CTR_STARTED`: a hardware counter counts.
pub(crate) const STARTED: u64 = 1 << 1;
/// `KVM_RISCV_SBI_PMU_CTR_OVERFLOWN`: a hardware counter overflowed since
/// its last start.
pub(crate) const OVERFLOWN: u64 = 1 << 2;
/// `KVM_RISCV_SBI_PMU_CTR_UINH`: configured with `SET_UINH`.
pub(crate) const UINH: u64 = 1 << 3;
/// `KVM_RISCV_SBI_PMU_CTR_SINH`: configured with `SET_SINH`.
pub(crate) const SINH: u64 = 1 << 4;
/// Every counter flag.
const CTR_FLAGS: u64 = CONFIGURED | STARTED | OVERFLOWN | UINH | SINH;
/// `KVM_RISCV_SBI_PMU_FW_STARTED`: the firmware event counts.
pub(crate) const FW_STARTED: u64 = 1 << 0;

/// The snapshot register's value when no area is registered.
pub(crate) const NO_AREA: u64 = u64::MAX;

/// One of the vCPU's PMU state registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reg {
    /// The snapshot area's guest physical address.
    Snapshot,
    /// A counter, by its number.
    Counter(usize),
    /// A firmware event, by its code.
    Firmware(usize),
}

impl Reg {
    /// The register `reg` (number and size bits) of a vCPU with `counters`
    /// counters and `fw_events` firmware events.
    pub(crate) fn decode(reg: u64, counters: usize, fw_events: usize) -> Result<Reg, RegError> {
        let number = reg & !SIZE_MASK;
        // CAST: `usize` holds a `u64` on the 64-bit hosts this runs on, and
        // a larger number is out of every range below anyway.
        let index = |base: u64| number.wrapping_sub(base) as usize;
        let found = if number == SNAPSHOT {
            Reg::Snapshot
        } else if number >= CTR_BASE && index(CTR_BASE) < counters {
            Reg::Counter(index(CTR_BASE))
        } else if number >= FW_BASE && index(FW_BASE) < fw_events {
            Reg::Firmware(index(FW_BASE))
        } else {
            return Err(RegError::NoSuchRegister);
        };
        if reg & SIZE_MASK == found.size() {
            Ok(found)
        } else {
            Err(RegError::Invalid)
        }
    }

    /// The register's `KVM_REG_SIZE` bits.
    pub(crate) fn size(self) -> u64 {
        match self {
            Reg::Snapshot => SIZE_U64,
            Reg::Counter(_) => SIZE_U256,
            Reg::Firmware(_) => SIZE_U128,
        }
    }

    /// The register's number and size bits.
    pub(crate) fn encode(self) -> u64 {
        // CAST: indices are below 64 and `SBI_PMU_FW_MAX`.
        let number = match self {
            Reg::Snapshot => SNAPSHOT,
            Reg::Counter(i) => CTR_BASE + i as u64,
            Reg::Firmware(i) => FW_BASE + i as u64,
        };
        number | self.size()
    }

    /// The `index`th register of `KVM_GET_REG_LIST`: the snapshot area, the
    /// counters, then the firmware events; `None` past the last.
    pub(crate) fn nth(index: usize, counters: usize, fw_events: usize) -> Option<Reg> {
        match index.checked_sub(1) {
            None => Some(Reg::Snapshot),
            Some(i) if i < counters => Some(Reg::Counter(i)),
            Some(i) => {
                let i = i - counters;
                (i < fw_events).then_some(Reg::Firmware(i))
            }
        }
    }
}

/// What a counter is, which decides the events it may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CounterKind {
    /// A hardware counter, counted by a host perf event.
    Hardware,
    /// A firmware counter, counted by KVM.
    Firmware,
    /// Counter 1, the time CSR: no event is ever configured on it.
    Time,
}

/// A counter register, `struct kvm_riscv_sbi_pmu_ctr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CounterReg {
    /// The SBI event index.
    pub(crate) event_idx: u64,
    /// The event data of a raw event.
    pub(crate) event_data: u64,
    /// `KVM_RISCV_SBI_PMU_CTR_*` flags.
    pub(crate) flags: u64,
    /// The counter's value.
    pub(crate) value: u64,
}

impl CounterReg {
    /// The register as its four 64-bit words.
    pub(crate) fn to_words(self) -> [u64; 4] {
        [self.event_idx, self.event_data, self.flags, self.value]
    }

    /// The register from its four 64-bit words.
    pub(crate) fn from_words(w: [u64; 4]) -> Self {
        CounterReg {
            event_idx: w[0],
            event_data: w[1],
            flags: w[2],
            value: w[3],
        }
    }
}

/// A counter's restored state, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CounterState {
    /// No event; the value stays for a later configuration without
    /// `CLEAR_VALUE`.
    Unconfigured {
        /// The counter's value.
        value: u64,
    },
    /// A hardware counter with a perf event to create.
    Hardware {
        /// The SBI event index.
        event_idx: u32,
        /// The event data (raw events only, else 0).
        event_data: u64,
        /// Whether guest user mode is not counted.
        exclude_user: bool,
        /// Whether guest supervisor mode is not counted.
        exclude_kernel: bool,
        /// Whether it counts.
        started: bool,
        /// Whether it overflowed since its last start.
        overflown: bool,
        /// The counter's value.
        value: u64,
    },
    /// A firmware counter: its counting state is its event's.
    Firmware {
        /// The SBI event index.
        event_idx: u32,
        /// The counter's value, which a start without an initial value
        /// gives its event.
        value: u64,
    },
}

/// Checks a counter register for a counter of kind `kind` on a vCPU with
/// `fw_events` firmware events. Whether the host can count a hardware event
/// is left to the creation of its perf event.
pub(crate) fn check_counter(
    reg: CounterReg,
    kind: CounterKind,
    fw_events: usize,
) -> Result<CounterState, RegError> {
    let CounterReg {
        event_idx,
        event_data,
        flags,
        value,
    } = reg;
    if flags & !CTR_FLAGS != 0 {
        return Err(RegError::Invalid);
    }
    if flags & CONFIGURED == 0 {
        // A released counter has no event, and KVM keeps nothing else.
        return if flags == 0 && event_idx == 0 && event_data == 0 {
            Ok(CounterState::Unconfigured { value })
        } else {
            Err(RegError::Invalid)
        };
    }
    let idx = match u32::try_from(event_idx) {
        Ok(idx) if idx & EVENT_IDX_RESERVED == 0 => idx,
        _ => return Err(RegError::Invalid),
    };
    let (event_type, code) = split_event_idx(idx);
    match (event_type, kind) {
        (TYPE_FW, CounterKind::Firmware) => {
            // CAST: `usize` holds a `u32`.
            if code as usize >= fw_events || flags != CONFIGURED || event_data != 0 {
                return Err(RegError::Invalid);
            }
            Ok(CounterState::Firmware {
                event_idx: idx,
                value,
            })
        }
        (TYPE_HW | TYPE_CACHE | TYPE_RAW | TYPE_RAW_V2, CounterKind::Hardware) => {
            // Only a raw event has event data (what a save reads back).
            let raw = matches!(event_type, TYPE_RAW | TYPE_RAW_V2);
            if !raw && event_data != 0 {
                return Err(RegError::Invalid);
            }
            Ok(CounterState::Hardware {
                event_idx: idx,
                event_data,
                exclude_user: flags & UINH != 0,
                exclude_kernel: flags & SINH != 0,
                started: flags & STARTED != 0,
                overflown: flags & OVERFLOWN != 0,
                value,
            })
        }
        _ => Err(RegError::Invalid),
    }
}

/// A firmware event register, `struct kvm_riscv_sbi_pmu_fw`, checked: its
/// value and whether it counts.
pub(crate) fn check_firmware(words: [u64; 2]) -> Result<(u64, bool), RegError> {
    let [value, flags] = words;
    if flags & !FW_STARTED != 0 {
        return Err(RegError::Invalid);
    }
    Ok((value, flags & FW_STARTED != 0))
}

/// The snapshot register of a vCPU whose registration is `area`.
pub(crate) fn snapshot_value(area: Option<Gpa>) -> u64 {
    area.unwrap_or(NO_AREA)
}

/// Restores the snapshot registration `area` to `value`: maps the area,
/// which must be a 4 KiB aligned page the guest can write, or drops the
/// registration for [`NO_AREA`]. Unlike `snapshot_set_shmem`, the area is
/// not zeroed: the guest's memory came along with the migration. On
/// failure the registration and the mapping stay as they were.
pub(crate) fn restore_snapshot<M: SnapshotMemory>(
    mem: &mut M,
    area: &mut Option<Gpa>,
    value: u64,
) -> Result<(), RegError> {
    if value == NO_AREA {
        *area = None;
        // Detaching cannot fail.
        let _ = mem.attach(None);
        return Ok(());
    }
    // CAST: the area's size.
    let size = AREA_SIZE as u64;
    if value % size != 0 || !GuestRange::new(value, size).is_some_and(|r| r.writable(mem)) {
        return Err(RegError::Invalid);
    }
    if Some(value) == *area {
        return Ok(());
    }
    mem.attach(Some(value)).map_err(|_| {
        // A failed attach leaves no mapping: map the old area again, which
        // worked before.
        if let Some(old) = *area {
            if mem.attach(Some(old)).is_err() {
                *area = None;
            }
        }
        RegError::Invalid
    })?;
    *area = Some(value);
    Ok(())
}
