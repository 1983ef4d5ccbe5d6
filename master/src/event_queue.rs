//! The queue between the engine and one framework's event stream, bounded by bytes.
//!
//! A framework that launches 100,000 tasks at once gets 200,000 UPDATE events faster than
//! it reads them. Status updates are reliable (the agent re-sends each one until the
//! framework acknowledges it), so above [`SOFT_LIMIT`] the engine stops forwarding them and
//! lets the agents' retries deliver them later, instead of disconnecting a framework that is
//! merely slow. Every other event is still queued. A subscriber is dropped only when it is
//! gone (the stream was closed), when even that does not hold the queue under
//! [`HARD_LIMIT`], or when it has read nothing for [`STALL_TIMEOUT`] while over the soft
//! limit.
//!
//! ```text
//!  engine ──push(record)──▶ [ queued bytes ] ──recv──▶ HTTP response body ──▶ framework
//!            │ UPDATE and queued > SOFT_LIMIT: not forwarded (the agent re-sends it)
//!            │ queued > HARD_LIMIT, or stalled for STALL_TIMEOUT: subscriber dropped
//! ```

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

/// Above this many queued bytes, status updates are left to the agents' retries.
pub(crate) const SOFT_LIMIT: usize = 64 << 20;
/// Above this many queued bytes the subscriber counts as unable to keep up and is dropped.
pub(crate) const HARD_LIMIT: usize = 256 << 20;
/// A subscriber over [`SOFT_LIMIT`] that has read nothing for this long is dropped.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Shared {
    /// Bytes pushed and not yet taken by the receiver.
    queued: AtomicUsize,
    /// Records taken by the receiver so far (progress, for stall detection).
    taken: AtomicU64,
}

/// Creates a queue: the engine keeps the sender, the event stream owns the receiver.
pub fn event_queue() -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    (
        EventSender {
            tx,
            shared: shared.clone(),
        },
        EventReceiver { rx, shared },
    )
}

/// The engine's end. Dropping every (strong) sender ends the stream.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: mpsc::UnboundedSender<Bytes>,
    shared: Arc<Shared>,
}

/// The receiver is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl EventSender {
    /// Queues one record, whatever the queue holds; the caller applies the limits.
    pub fn push(&self, record: Bytes) -> Result<(), Closed> {
        let len = record.len();
        self.shared.queued.fetch_add(len, Ordering::Relaxed);
        self.tx.send(record).map_err(|_| {
            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
            Closed
        })
    }

    /// Bytes queued and not yet read.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Records read so far.
    pub fn taken(&self) -> u64 {
        self.shared.taken.load(Ordering::Relaxed)
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// A sender that does not keep the stream open (for heartbeats).
    pub fn downgrade(&self) -> WeakEventSender {
        WeakEventSender {
            tx: self.tx.downgrade(),
            shared: self.shared.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WeakEventSender {
    tx: mpsc::WeakUnboundedSender<Bytes>,
    shared: Arc<Shared>,
}

impl WeakEventSender {
    pub fn upgrade(&self) -> Option<EventSender> {
        Some(EventSender {
            tx: self.tx.upgrade()?,
            shared: self.shared.clone(),
        })
    }
}

/// The stream's end: yields records until every sender is gone.
#[derive(Debug)]
pub struct EventReceiver {
    rx: mpsc::UnboundedReceiver<Bytes>,
    shared: Arc<Shared>,
}

impl EventReceiver {
    fn taken(&self, record: &Bytes) {
        self.shared
            .queued
            .fetch_sub(record.len(), Ordering::Relaxed);
        self.shared.taken.fetch_add(1, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub fn try_recv(&mut self) -> Result<Bytes, mpsc::error::TryRecvError> {
        let record = self.rx.try_recv()?;
        self.taken(&record);
        Ok(record)
    }
}

impl futures::Stream for EventReceiver {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(record)) = &polled {
            self.taken(record);
        }
        polled
    }
}

/// Watches one subscriber for a stall: over the soft limit with no record read.
#[derive(Debug, Clone, Default)]
pub struct StallWatch {
    since: Option<(Duration, u64)>,
}

impl StallWatch {
    /// True when `queue` has been over [`SOFT_LIMIT`] without progress for
    /// [`STALL_TIMEOUT`] as of `now`.
    pub fn stalled(&mut self, queue: &EventSender, now: Duration) -> bool {
        if queue.queued_bytes() <= SOFT_LIMIT {
            self.since = None;
            return false;
        }
        let taken = queue.taken();
        match self.since {
            Some((since, seen)) if seen == taken => now.saturating_sub(since) >= STALL_TIMEOUT,
            _ => {
                self.since = Some((now, taken));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn counts_queued_bytes_until_read() {
        let (tx, mut rx) = event_queue();
        tx.push(Bytes::from_static(b"abc")).unwrap();
        tx.push(Bytes::from_static(b"de")).unwrap();
        assert_eq!(tx.queued_bytes(), 5);
        assert_eq!(rx.try_recv().unwrap(), "abc");
        assert_eq!(tx.queued_bytes(), 2);
        assert_eq!(tx.taken(), 1);
        drop(rx);
        assert_eq!(tx.push(Bytes::from_static(b"f")), Err(Closed));
        assert!(tx.is_closed());
        assert_eq!(tx.queued_bytes(), 2);
    }

    #[tokio::test]
    async fn stream_ends_when_strong_senders_are_gone() {
        let (tx, mut rx) = event_queue();
        let weak = tx.downgrade();
        weak.upgrade()
            .unwrap()
            .push(Bytes::from_static(b"x"))
            .unwrap();
        drop(tx);
        assert!(weak.upgrade().is_none());
        assert_eq!(rx.next().await.unwrap(), "x");
        assert!(rx.next().await.is_none());
    }

    #[test]
    fn stall_needs_a_full_queue_and_no_progress() {
        let (tx, mut rx) = event_queue();
        let mut watch = StallWatch::default();
        let s = Duration::from_secs;
        assert!(!watch.stalled(&tx, s(0)));
        let chunk = Bytes::from(vec![0u8; 1 << 20]);
        for _ in 0..=(SOFT_LIMIT >> 20) {
            tx.push(chunk.clone()).unwrap();
        }
        assert!(!watch.stalled(&tx, s(1)));
        assert!(!watch.stalled(&tx, s(30)));
        // Reading one record is progress: the clock starts again.
        rx.try_recv().unwrap();
        tx.push(chunk.clone()).unwrap();
        assert!(!watch.stalled(&tx, s(61)));
        assert!(!watch.stalled(&tx, s(100)));
        assert!(watch.stalled(&tx, s(121)));
        // Below the soft limit nothing is a stall.
        while rx.try_recv().is_ok() {}
        assert!(!watch.stalled(&tx, s(500)));
    }
}
