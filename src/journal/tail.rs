//! Following a journal: every call once, as it ends.

use std::collections::HashSet;

use tokio::sync::watch;

use super::{Call, Journal};

/// Every call a [`Journal`] records from now on, each once, as it ends
/// (in the order they end; calls dropped to keep the journal's bound
/// before they were seen are skipped). From [`Journal::tail`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use orders_testkit::prelude::*;
/// let mock = OrderMock::start().await;
/// let mut tail = mock.journal().tail();
/// let _ = mock.client().get_order(GetOrderRequest { order_id: "ord-1".into() }).await;
/// let call = tail.next().await.unwrap();
/// println!("{call}"); // #0 GetOrder … -> NotFound "…"
/// # assert_eq!(call.outcome.code(), Some(tonic::Code::NotFound));
/// # }
/// ```
#[derive(Debug)]
pub struct Tail {
    journal: Journal,
    changes: watch::Receiver<u64>,
    /// Calls before this one were all given or skipped.
    cursor: u64,
    /// Calls at or after the cursor already given (they ended out of order).
    given: HashSet<u64>,
}

impl Tail {
    pub(super) fn new(journal: Journal, cursor: u64) -> Self {
        Self {
            changes: journal.shared.changed.subscribe(),
            journal,
            cursor,
            given: HashSet::new(),
        }
    }

    /// The next call to end (with its messages decoded). Waits for one;
    /// `None` never comes while the journal lives, as every clone of the
    /// journal keeps it alive.
    pub async fn next(&mut self) -> Option<Call> {
        loop {
            // Marked seen before looking, so that a change made while we
            // look wakes the wait below.
            self.changes.borrow_and_update();
            if let Some(call) = self.take_ended() {
                return Some(call);
            }
            if self.changes.changed().await.is_err() {
                return None;
            }
        }
    }

    /// The earliest ended call not given yet, if any; moves the cursor
    /// past the calls that are done.
    fn take_ended(&mut self) -> Option<Call> {
        let state = self.journal.lock_raw();
        // Calls dropped from the front (or cleared) are past.
        let first_kept = state.calls.front().map_or(state.next_seq, |c| c.seq);
        self.cursor = self.cursor.max(first_kept);
        let mut found: Option<Call> = None;
        let from = self.cursor;
        for call in state.calls.iter().filter(|c| c.seq >= from) {
            let mut done = self.given.contains(&call.seq);
            if !done && found.is_none() && call.ended.is_some() {
                let mut taken = call.clone();
                taken.settle();
                found = Some(taken);
                self.given.insert(call.seq);
                done = true;
            }
            if done && call.seq == self.cursor {
                self.cursor += 1;
            } else if found.is_some() {
                break;
            }
        }
        drop(state);
        let cursor = self.cursor;
        self.given.retain(|seq| *seq >= cursor);
        found
    }
}
