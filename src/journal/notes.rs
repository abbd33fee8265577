//! What a service behind the journal says about a call, attached to the
//! call's record: the journal keeps notes without knowing what they mean
//! (the mock's say who answered and which stub a miss came closest to).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::Journal;

/// Something a layer or service records about a call (see
/// [`Call::notes_of`](super::Call::notes_of)). The call's one-line
/// rendering shows each run of notes under one heading:
/// `answered by stub A, model`.
///
/// ```
/// use orders_testkit::journal::Note;
///
/// #[derive(Debug, PartialEq)]
/// struct Region(&'static str);
///
/// impl std::fmt::Display for Region {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str(self.0)
///     }
/// }
///
/// impl Note for Region {
///     fn heading(&self) -> &'static str {
///         "served in"
///     }
/// }
/// assert_eq!(Region("eu").heading(), "served in");
/// ```
pub trait Note: Any + fmt::Display + fmt::Debug + Send + Sync {
    /// The words before a run of notes of this kind in a call's rendering.
    fn heading(&self) -> &'static str;
}

/// The handle to one call's record, which the [`JournalLayer`](super::JournalLayer)
/// puts in each request's extensions, so the service behind it can attach
/// notes.
#[derive(Debug, Clone)]
pub(crate) struct Notes {
    pub(super) journal: Journal,
    pub(super) seq: u64,
}

impl Notes {
    /// The handle of the call behind `extensions`, if it is journaled.
    pub(crate) fn of(extensions: &http::Extensions) -> Option<&Notes> {
        extensions.get::<Notes>()
    }

    /// Attaches `note` unless the call's last note of its type is equal
    /// (a run of one answerer is one note).
    pub(crate) fn add_unless_repeated<T: Note + PartialEq>(&self, note: T) {
        self.journal.update(self.seq, |call| {
            if call.notes_of::<T>().last() != Some(&note) {
                call.notes.push(Arc::new(note));
            }
        });
    }

    /// Attaches `note` unless the call has a note of its type already.
    pub(crate) fn add_first<T: Note>(&self, note: T) {
        self.journal.update(self.seq, |call| {
            if call.notes_of::<T>().next().is_none() {
                call.notes.push(Arc::new(note));
            }
        });
    }
}
