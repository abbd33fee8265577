//! A metadata condition, shared by stubs and faults: a header that must be
//! present, with a given value or any.

use http::HeaderMap;

/// `name` present, and equal to `value` when one is given (any of its
/// values, for a repeated header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderMatch {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

impl HeaderMatch {
    /// Whether `headers` satisfy the condition.
    pub(crate) fn matches(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(self.name.as_str()).iter();
        match &self.value {
            None => values.next().is_some(),
            Some(v) => values.any(|x| x.as_bytes() == v.as_bytes()),
        }
    }
}
