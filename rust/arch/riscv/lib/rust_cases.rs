// SPDX-License-Identifier: GPL-2.0

//! The harness of the Rust test cases under `arch/riscv`.
//!
//! A case is a function returning [`CaseResult`]. [`check!`] and
//! [`check_eq!`] end it with a [`Failure`] that names the line, the failed
//! expression and, for a comparison, both values. [`cases!`] lists the
//! cases as `CASES`, which a crate's KUnit glue runs and reports, and in a
//! host build (`cfg(test)`) makes one cargo test of each.
//!
//! It is not built on its own: each crate with cases includes it as its
//! `harness` module (the SBI PMU snapshot in `arch/riscv/kvm`, the perf
//! attribution in `arch/riscv/kernel`, and the host test crate).

use core::fmt::{self, Write};

/// Bytes of a failure message with its terminating NUL; a longer message
/// is cut.
pub(crate) const MESSAGE_LEN: usize = 192;

/// Why a case failed.
pub(crate) struct Failure {
    /// Line of the failed check in the file of the cases.
    pub(crate) line: u32,
    /// The message, UTF-8, `len` bytes long.
    text: [u8; MESSAGE_LEN],
    /// Bytes used in `text`; always below `MESSAGE_LEN`.
    len: usize,
}

impl Failure {
    /// A failure at `line` with the given message.
    pub(crate) fn new(line: u32, message: fmt::Arguments<'_>) -> Self {
        let mut failure = Failure {
            line,
            text: [0; MESSAGE_LEN],
            len: 0,
        };
        // `write_str` never fails: it cuts what does not fit.
        let _ = failure.write_fmt(message);
        failure
    }

    /// The message: the failed expression, and the values of a comparison.
    pub(crate) fn message(&self) -> &str {
        // `write_str` only copies whole characters.
        core::str::from_utf8(&self.text[..self.len]).unwrap_or("(message not UTF-8)")
    }

    /// Copies the message into `out` as a NUL-terminated string, cut to
    /// fit; nothing when `out` is empty.
    pub(crate) fn copy_to(&self, out: &mut [u8]) {
        let Some(room) = out.len().checked_sub(1) else {
            return;
        };
        let text = self.message().as_bytes();
        let n = text.len().min(room);
        out[..n].copy_from_slice(&text[..n]);
        out[n] = 0;
    }
}

impl fmt::Write for Failure {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut buf = [0u8; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let end = self.len + bytes.len();
            // Keep a byte for the NUL a C caller gets.
            if end >= MESSAGE_LEN {
                break;
            }
            self.text[self.len..end].copy_from_slice(bytes);
            self.len = end;
        }
        Ok(())
    }
}

/// The result of a case.
pub(crate) type CaseResult = Result<(), Failure>;

/// Reports `result` to a C KUnit driver: returns 0 for a pass, else the
/// line of the failed check, and leaves the failure's message (or an empty
/// string) in `msg`, cut to `msg_len` bytes with its NUL.
///
/// # Safety
///
/// `msg` must be null or valid for writes of `msg_len` bytes.
pub(crate) unsafe fn report(result: CaseResult, msg: *mut u8, msg_len: usize) -> u32 {
    if msg.is_null() || msg_len == 0 {
        return result.map_or_else(|f| f.line.max(1), |()| 0);
    }
    // SAFETY: `msg` is valid for writes of `msg_len` bytes (guaranteed by
    // the caller).
    let out = unsafe { core::slice::from_raw_parts_mut(msg, msg_len) };
    match result {
        Ok(()) => {
            out[0] = 0;
            0
        }
        Err(f) => {
            f.copy_to(out);
            // A failure always names a line; 0 would read as a pass.
            f.line.max(1)
        }
    }
}

/// A named case; `F` is the type of its function.
pub(crate) struct Case<F> {
    /// The case's name, NUL-terminated for C.
    pub(crate) name: &'static str,
    /// The case.
    pub(crate) run: F,
}

/// Fails the enclosing case when `$cond` is false.
#[allow(unused_macros)]
macro_rules! check {
    ($cond:expr $(,)?) => {
        if !$cond {
            return Err($crate::harness::Failure::new(
                line!(),
                format_args!("check!({}) failed", stringify!($cond)),
            ));
        }
    };
}

/// Fails the enclosing case when `$left != $right`, with both values.
#[allow(unused_macros)]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (left, right) => {
                if !(*left == *right) {
                    return Err($crate::harness::Failure::new(
                        line!(),
                        format_args!(
                            "{} == {} failed: left {:?}, right {:?}",
                            stringify!($left),
                            stringify!($right),
                            left,
                            right
                        ),
                    ));
                }
            }
        }
    };
}

/// The value of `Ok` `$result`; an `Err` fails the enclosing case with its
/// value.
#[allow(unused_macros)]
macro_rules! check_ok {
    ($result:expr $(,)?) => {
        match $result {
            Ok(value) => value,
            Err(e) => {
                return Err($crate::harness::Failure::new(
                    line!(),
                    format_args!("{} failed: Err({:?})", stringify!($result), e),
                ))
            }
        }
    };
}

/// Defines `CASES`, each case named after its function, and in a host build
/// (`cfg(test)`) one cargo test per case.
///
/// `cases!(a, b)` lists cases of type `fn() -> CaseResult`;
/// `cases!(scratch SIZE; a, b)` lists cases of type
/// `fn(&mut [u8]) -> CaseResult`, which get `SIZE` bytes of zeroed scratch
/// memory.
#[allow(unused_macros)]
macro_rules! cases {
    (scratch $size:expr; $($name:ident),* $(,)?) => {
        /// Every case, in the order they run.
        pub(crate) static CASES: &[$crate::harness::Case<
            fn(&mut [u8]) -> $crate::harness::CaseResult,
        >] = &[$($crate::harness::Case { name: concat!(stringify!($name), "\0"), run: $name }),*];

        /// One cargo test per case, each with its own scratch memory.
        #[cfg(test)]
        mod host {
            // For `$size`, a name of the cases' module.
            use super::*;

            $(
                #[test]
                fn $name() {
                    let mut scratch = ::std::vec![0u8; $size];
                    if let Err(f) = super::$name(&mut scratch) {
                        panic!("{}:{}: {}", file!(), f.line, f.message());
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        /// Every case, in the order they run.
        pub(crate) static CASES: &[$crate::harness::Case<fn() -> $crate::harness::CaseResult>] =
            &[$($crate::harness::Case { name: concat!(stringify!($name), "\0"), run: $name }),*];

        /// One cargo test per case.
        #[cfg(test)]
        mod host {
            $(
                #[test]
                fn $name() {
                    if let Err(f) = super::$name() {
                        panic!("{}:{}: {}", file!(), f.line, f.message());
                    }
                }
            )*
        }
    };
}

// Each crate that includes the harness uses some of the macros.
#[allow(unused_imports)]
pub(crate) use {cases, check, check_eq, check_ok};
