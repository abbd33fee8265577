//! What a stub's matchers become: conditions on a call's messages and
//! metadata that say how a call differs from them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tonic::metadata::MetadataMap;

use crate::mock::matching::{Matcher, Metadata, Mismatch};
use crate::rpc::{Method, Rpc};

type Pred<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;
type SlicePred<T> = Arc<dyn Fn(&[T]) -> bool + Send + Sync>;

/// One condition of a stub.
pub(crate) enum Cond<R: Rpc> {
    /// A closure on each message (the request; each action; each item).
    Each(Pred<R::Request>),
    /// A closure on all the messages of a client stream.
    All(SlicePred<R::Request>),
    /// A matcher on each message.
    EachMatches(Arc<dyn Matcher<R::Request>>),
    /// A condition on the metadata.
    Metadata(Metadata),
}

impl<R: Rpc> Clone for Cond<R> {
    fn clone(&self) -> Self {
        match self {
            Self::Each(p) => Self::Each(Arc::clone(p)),
            Self::All(p) => Self::All(Arc::clone(p)),
            Self::EachMatches(m) => Self::EachMatches(Arc::clone(m)),
            Self::Metadata(m) => Self::Metadata(m.clone()),
        }
    }
}

/// The path prefix of message `i`: the stream's index for client
/// streaming, nothing where a call has one message.
fn prefix<R: Rpc>(i: usize) -> String {
    if R::METHOD == Method::SubmitLineItems {
        format!("[{i}].")
    } else {
        String::new()
    }
}

/// A condition that panicked: it does not match, and says so.
fn panicked(what: &str) -> Mismatch {
    Mismatch::new(what, "to match", "a panic in the matcher")
}

impl<R: Rpc> Cond<R> {
    /// How the call differs from this condition; empty when it holds.
    pub(crate) fn mismatches(
        &self,
        metadata: &MetadataMap,
        requests: &[R::Request],
    ) -> Vec<Mismatch> {
        let run = |what: &str, f: &dyn Fn() -> Vec<Mismatch>| {
            catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| vec![panicked(what)])
        };
        match self {
            Self::Each(p) => run("when(..)", &|| {
                requests
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| !p(r))
                    .map(|(i, _)| Mismatch::new("when(..)", "true", "false").under(&prefix::<R>(i)))
                    .collect()
            }),
            Self::All(p) => run("when_all(..)", &|| {
                if p(requests) {
                    Vec::new()
                } else {
                    vec![Mismatch::new("when_all(..)", "true", "false")]
                }
            }),
            Self::EachMatches(m) => run("matcher", &|| {
                requests
                    .iter()
                    .enumerate()
                    .flat_map(|(i, r)| {
                        m.mismatches(r, metadata)
                            .into_iter()
                            .map(move |d| d.under(&prefix::<R>(i)))
                    })
                    .collect()
            }),
            Self::Metadata(m) => m.check(metadata),
        }
    }
}
