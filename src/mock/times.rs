//! How many times a stub is expected to match, from a number or a range.
//!
//! ```
//! use orders_testkit::mock::Times;
//!
//! assert!(Times::from(2).contains(2));
//! assert!(Times::from(1..=3).contains(3));
//! assert!(!Times::from(1..3).contains(3));
//! assert!(Times::from(2..).contains(100));
//! assert_eq!(Times::from(..=1).to_string(), "at most 1");
//! ```

use std::fmt;
use std::ops::{Range, RangeFrom, RangeInclusive, RangeToInclusive};

/// An expected number of matches: at least `min`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
///
/// ```
/// use orders_testkit::mock::Times;
/// let t: Times = (1..=2).into();
/// assert_eq!(t.to_string(), "between 1 and 2");
/// ```
pub struct Times {
    min: usize,
    max: Option<usize>,
}

impl Times {
    /// Whether `n` matches satisfy the expectation.
    ///
    /// ```
    /// assert!(orders_testkit::mock::Times::from(3..).contains(3));
    /// ```
    pub fn contains(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

impl From<usize> for Times {
    fn from(n: usize) -> Self {
        Self {
            min: n,
            max: Some(n),
        }
    }
}

impl From<Range<usize>> for Times {
    fn from(r: Range<usize>) -> Self {
        Self {
            min: r.start,
            max: Some(r.end.saturating_sub(1)),
        }
    }
}

impl From<RangeInclusive<usize>> for Times {
    fn from(r: RangeInclusive<usize>) -> Self {
        Self {
            min: *r.start(),
            max: Some(*r.end()),
        }
    }
}

impl From<RangeFrom<usize>> for Times {
    fn from(r: RangeFrom<usize>) -> Self {
        Self {
            min: r.start,
            max: None,
        }
    }
}

impl From<RangeToInclusive<usize>> for Times {
    fn from(r: RangeToInclusive<usize>) -> Self {
        Self {
            min: 0,
            max: Some(r.end),
        }
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (min, Some(max)) if min == max => write!(f, "exactly {min}"),
            (0, Some(max)) => write!(f, "at most {max}"),
            (min, None) => write!(f, "at least {min}"),
            (min, Some(max)) => write!(f, "between {min} and {max}"),
        }
    }
}
