//! The event bus: every [`Event`] published once, fanned out to every `/v2/events`
//! subscriber, without a subscriber ever slowing the publisher down.
//!
//! ```text
//!   publish(event) ──serialize once──▶ broadcast ring (max_outstanding frames)
//!        (O(1), never waits)              │        │         │
//!                                   Subscription Subscription ...  (filter by event_type)
//!   watchdog (every 100 ms): a subscriber more than max_outstanding frames behind is cut
//! ```
//! A subscriber whose socket does not drain stops receiving; it falls behind, and once it
//! is more than `--event_stream_max_outstanding_messages` (Marathon's flag, default 1024)
//! frames behind, its `on_overflow` disconnects it, as Marathon drops slow consumers.
//! Nothing is serialized when nobody listens.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::events::{Event, EventKind};

/// Marathon's default `--event_stream_max_outstanding_messages`.
pub const DEFAULT_MAX_OUTSTANDING: usize = 1024;

/// One event as sent on the wire: `event: <type>\r\ndata: <json>\r\n\r\n` (Jetty's SSE
/// framing, which Marathon uses).
#[derive(Debug)]
pub struct Frame {
    pub event_type: &'static str,
    pub bytes: Bytes,
}

impl Frame {
    pub fn of(event: &Event) -> Frame {
        let event_type = event.event_type();
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(b"event: ");
        bytes.extend_from_slice(event_type.as_bytes());
        bytes.extend_from_slice(b"\r\ndata: ");
        serde_json::to_writer(&mut bytes, event).expect("events serialize");
        bytes.extend_from_slice(b"\r\n\r\n");
        Frame {
            event_type,
            bytes: Bytes::from(bytes),
        }
    }
}

/// How far one subscriber got, for the watchdog.
struct Progress {
    /// Frames published before it subscribed.
    start: u64,
    /// Frames it has taken off the ring (filtered ones included).
    taken: AtomicU64,
    cut: AtomicBool,
    on_overflow: Box<dyn Fn() + Send + Sync>,
}

impl Progress {
    fn overflow(&self) {
        if !self.cut.swap(true, Ordering::SeqCst) {
            (self.on_overflow)();
        }
    }
}

pub struct EventBus {
    tx: broadcast::Sender<Arc<Frame>>,
    published: AtomicU64,
    max_outstanding: usize,
    subscribers: Mutex<Vec<Weak<Progress>>>,
}

impl EventBus {
    /// A bus that cuts subscribers more than `max_outstanding` frames behind; its
    /// watchdog runs on the current tokio runtime while the bus lives.
    pub fn new(max_outstanding: usize) -> Arc<EventBus> {
        let max_outstanding = max_outstanding.max(1);
        let (tx, _) = broadcast::channel(max_outstanding);
        let bus = Arc::new(EventBus {
            tx,
            published: AtomicU64::new(0),
            max_outstanding,
            subscribers: Mutex::new(vec![]),
        });
        let weak = Arc::downgrade(&bus);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(bus) => {
                        bus.cut_laggards();
                    }
                    None => return,
                }
            }
        });
        bus
    }

    /// Whether anybody subscribes (an event nobody would receive is not built).
    pub fn is_listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// THE way to emit an event: serialized once, handed to every subscriber. Never
    /// waits; a no-op when nobody listens.
    pub fn publish(&self, kind: EventKind) {
        if !self.is_listened() {
            return;
        }
        let frame = Frame::of(&Event::new(kind, crate::service::now_ms()));
        self.published.fetch_add(1, Ordering::SeqCst);
        let _ = self.tx.send(Arc::new(frame));
    }

    /// A new subscriber receiving the events whose type is in `event_types` (all when
    /// empty). `on_overflow` runs once if it falls too far behind. Publishes
    /// `event_stream_attached` (which the new subscriber receives first).
    pub fn subscribe(
        self: &Arc<Self>,
        event_types: Vec<String>,
        remote_address: String,
        on_overflow: impl Fn() + Send + Sync + 'static,
    ) -> Subscription {
        let rx = self.tx.subscribe();
        let progress = Arc::new(Progress {
            start: self.published.load(Ordering::SeqCst),
            taken: AtomicU64::new(0),
            cut: AtomicBool::new(false),
            on_overflow: Box::new(on_overflow),
        });
        {
            let mut subs = self.subscribers.lock().expect("subscribers lock");
            subs.retain(|w| w.strong_count() > 0);
            subs.push(Arc::downgrade(&progress));
        }
        self.publish(EventKind::EventStreamAttached {
            remote_address: remote_address.clone(),
        });
        Subscription {
            rx,
            event_types,
            progress,
            bus: self.clone(),
            remote_address,
        }
    }

    /// Cuts every subscriber more than `max_outstanding` frames behind; how many it cut.
    pub fn cut_laggards(&self) -> usize {
        let published = self.published.load(Ordering::SeqCst);
        let subs: Vec<Arc<Progress>> = self
            .subscribers
            .lock()
            .expect("subscribers lock")
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let mut cut = 0;
        for p in subs {
            let behind = published
                .saturating_sub(p.start)
                .saturating_sub(p.taken.load(Ordering::SeqCst));
            if behind > self.max_outstanding as u64 && !p.cut.load(Ordering::SeqCst) {
                p.overflow();
                cut += 1;
            }
        }
        cut
    }

    /// Current subscribers.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// What a subscriber receives next.
#[derive(Debug)]
pub enum Received {
    Frame(Arc<Frame>),
    /// It fell too far behind: the stream must end (the connection is being cut).
    Overflow,
}

/// One subscriber. Dropping it publishes `event_stream_detached`.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<Frame>>,
    event_types: Vec<String>,
    progress: Arc<Progress>,
    bus: Arc<EventBus>,
    remote_address: String,
}

impl Subscription {
    fn wanted(&self, frame: &Frame) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == frame.event_type)
    }

    fn take(&mut self, r: Result<Arc<Frame>, broadcast::error::RecvError>) -> Option<Received> {
        match r {
            Ok(frame) => {
                self.progress.taken.fetch_add(1, Ordering::SeqCst);
                self.wanted(&frame).then_some(Received::Frame(frame))
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.progress.overflow();
                Some(Received::Overflow)
            }
            // The bus itself holds the sender: it cannot close while a subscription lives.
            Err(broadcast::error::RecvError::Closed) => Some(Received::Overflow),
        }
    }

    /// The next wanted frame.
    pub async fn recv(&mut self) -> Received {
        loop {
            if self.progress.cut.load(Ordering::SeqCst) {
                return Received::Overflow;
            }
            let r = self.rx.recv().await;
            if let Some(received) = self.take(r) {
                return received;
            }
        }
    }

    /// The next wanted frame if one is already there.
    pub fn try_recv(&mut self) -> Option<Received> {
        loop {
            let r = match self.rx.try_recv() {
                Ok(f) => Ok(f),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    Err(broadcast::error::RecvError::Lagged(n))
                }
                Err(_) => return None,
            };
            if let Some(received) = self.take(r) {
                return Some(received);
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.bus.publish(EventKind::EventStreamDetached {
            remote_address: self.remote_address.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::PathId;

    fn terminated(app: &str) -> EventKind {
        EventKind::AppTerminatedEvent {
            app_id: PathId::parse(app),
        }
    }

    fn data(r: Received) -> serde_json::Value {
        let Received::Frame(f) = r else {
            panic!("expected a frame")
        };
        let text = std::str::from_utf8(&f.bytes).unwrap();
        let (head, rest) = text.split_once("\r\ndata: ").unwrap();
        assert_eq!(head, format!("event: {}", f.event_type));
        serde_json::from_str(rest.strip_suffix("\r\n\r\n").unwrap()).unwrap()
    }

    #[tokio::test]
    async fn subscribers_see_attach_then_their_event_types_in_order() {
        let bus = EventBus::new(16);
        bus.publish(terminated("/before")); // nobody listens: dropped
        let mut all = bus.subscribe(vec![], "1.1.1.1".into(), || {});
        let mut some = bus.subscribe(vec!["app_terminated_event".into()], "2.2.2.2".into(), || {});
        bus.publish(terminated("/a"));
        bus.publish(terminated("/b"));
        let first = data(all.recv().await);
        assert_eq!(first["eventType"], "event_stream_attached");
        assert_eq!(first["remoteAddress"], "1.1.1.1");
        assert_eq!(data(all.recv().await)["remoteAddress"], "2.2.2.2");
        assert_eq!(data(all.recv().await)["appId"], "/a");
        assert_eq!(
            data(some.recv().await)["appId"],
            "/a",
            "filtered: no attach"
        );
        assert_eq!(data(some.recv().await)["appId"], "/b");
        assert!(some.try_recv().is_none());
        drop(some);
        assert_eq!(data(all.recv().await)["appId"], "/b");
        let detached = data(all.recv().await);
        assert_eq!(detached["eventType"], "event_stream_detached");
        assert_eq!(detached["remoteAddress"], "2.2.2.2");
    }

    #[tokio::test]
    async fn a_subscriber_too_far_behind_is_cut_and_the_others_are_not() {
        let bus = EventBus::new(8);
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        let mut slow = bus.subscribe(vec![], "slow".into(), move || {
            flag.store(true, Ordering::SeqCst)
        });
        let mut fast = bus.subscribe(vec!["app_terminated_event".into()], "fast".into(), || {});
        // Both attach events count: the slow one is 2 + 6 = 8 behind, within bounds.
        for n in 0..6 {
            bus.publish(terminated(&format!("/a{n}")));
            assert!(matches!(fast.recv().await, Received::Frame(_)));
        }
        assert_eq!(bus.cut_laggards(), 0, "8 behind is within bounds");
        assert!(!cut.load(Ordering::SeqCst));
        for n in 8..20 {
            bus.publish(terminated(&format!("/a{n}")));
            assert!(matches!(fast.recv().await, Received::Frame(_)));
        }
        assert_eq!(bus.cut_laggards(), 1);
        assert!(cut.load(Ordering::SeqCst), "the slow one is cut");
        assert!(matches!(slow.recv().await, Received::Overflow));
        assert_eq!(bus.cut_laggards(), 0, "cut once");
    }
}
