//! A lossless fan-out: every subscriber gets every value published after it
//! subscribed, in order, through its own unbounded queue. Used for order
//! watchers (W-3, W-5) and health watchers (H-3).

use tokio::sync::mpsc;

/// Identifies one subscription, for [`Subscribers::unsubscribe`].
pub type SubscriberId = u64;

/// A list of subscribers, each with its own unbounded queue.
#[derive(Debug)]
pub struct Subscribers<T> {
    list: Vec<(SubscriberId, mpsc::UnboundedSender<T>)>,
}

impl<T> Default for Subscribers<T> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

/// Ids are unique in the process, so that an id kept after its list was
/// replaced (an order seeded again, or a store cleared) never names a
/// subscriber of the new list.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<T: Clone> Subscribers<T> {
    /// Adds a subscriber; it receives every value published from now on.
    pub fn subscribe(&mut self) -> (SubscriberId, mpsc::UnboundedReceiver<T>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.list.push((id, tx));
        (id, rx)
    }

    /// Sends `value` to every subscriber, dropping those whose receiver is
    /// gone. Returns how many were dropped.
    pub fn publish(&mut self, value: &T) -> usize {
        let before = self.list.len();
        self.list.retain(|(_, tx)| tx.send(value.clone()).is_ok());
        before - self.list.len()
    }

    /// Removes one subscriber; its receiver sees the end after what it holds.
    /// Returns whether it was there.
    pub fn unsubscribe(&mut self, id: SubscriberId) -> bool {
        let before = self.list.len();
        self.list.retain(|(sid, _)| *sid != id);
        before != self.list.len()
    }

    /// Removes every subscriber: each receiver ends after what it holds.
    /// Returns how many there were.
    pub fn close_all(&mut self) -> usize {
        std::mem::take(&mut self.list).len()
    }

    /// How many subscribers are registered.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no subscribers.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Subscribers;

    #[test]
    fn a_subscriber_gets_what_is_published_after_it_subscribed_until_it_leaves() {
        let mut subs = Subscribers::default();
        subs.publish(&1);
        let (id, mut rx) = subs.subscribe();
        subs.publish(&7);
        assert_eq!(rx.try_recv().unwrap(), 7);
        assert!(rx.try_recv().is_err(), "nothing from before it subscribed");
        subs.unsubscribe(id);
        assert!(subs.is_empty());
    }
}
