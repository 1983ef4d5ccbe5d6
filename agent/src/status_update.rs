//! Reliable delivery of task status updates.
//!
//! Each task has one ordered stream. An update is written to the stream's journal before
//! anything else happens to it; only the head of a stream is in flight, and it is re-sent
//! with a doubling backoff until the master acknowledges its uuid. A stream whose terminal
//! update is acknowledged is finished and forgotten.
//!
//! The manager is plain logic: time is an input (`now`), sending is the caller's job (the
//! methods return the updates to send), and the journal is a trait so that tests can use
//! [`MemoryJournal`] and the agent a file per task.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use mesos_proto::internal::StatusUpdate;
use mesos_proto::v1::TaskState;

/// Longest delay between two sends of the same update.
pub const RETRY_INTERVAL_MAX: Duration = Duration::from_secs(600);

/// Identifies a task's stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey {
    pub framework_id: String,
    pub task_id: String,
}

impl StreamKey {
    pub fn new(framework_id: impl Into<String>, task_id: impl Into<String>) -> Self {
        StreamKey {
            framework_id: framework_id.into(),
            task_id: task_id.into(),
        }
    }

    pub fn of(update: &StatusUpdate) -> Self {
        StreamKey::new(
            update.framework_id.value.clone(),
            update.status.task_id.value.clone(),
        )
    }
}

/// One entry of a stream's journal.
// Records live briefly (written or replayed, then dropped); boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Update(StatusUpdate),
    Ack(Vec<u8>),
}

/// Where the manager writes records before acting on them.
pub trait Journal {
    fn append(&mut self, key: &StreamKey, record: &Record) -> std::io::Result<()>;
}

/// A journal kept in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    pub records: Vec<(StreamKey, Record)>,
}

impl Journal for MemoryJournal {
    fn append(&mut self, key: &StreamKey, record: &Record) -> std::io::Result<()> {
        self.records.push((key.clone(), record.clone()));
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusUpdateError {
    #[error("status update {uuid} for task {task} is a duplicate")]
    Duplicate { task: String, uuid: String },
    #[error("task {task} already has a terminal update; dropping {state:?}")]
    AfterTerminal { task: String, state: TaskState },
    #[error("status update for task {task} has no uuid")]
    MissingUuid { task: String },
    #[error("cannot checkpoint status update for task {task}: {source}")]
    Journal {
        task: String,
        #[source]
        source: std::io::Error,
    },
}

/// What an acknowledgement did.
// Returned once per acknowledgement and consumed at once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum AckOutcome {
    /// The acknowledged update was removed; `next` is the new head, to send now.
    /// `finished` is set when the stream's terminal update was the one acknowledged.
    Accepted {
        next: Option<StatusUpdate>,
        finished: bool,
    },
    /// No stream, or the uuid is not the one in flight (a late duplicate): nothing changed.
    Ignored,
}

#[derive(Debug)]
struct Stream {
    pending: VecDeque<StatusUpdate>,
    latest_state: TaskState,
    terminal: bool,
    seen: HashSet<Vec<u8>>,
    backoff: Duration,
    next_retry: Option<Instant>,
}

impl Stream {
    fn new(state: TaskState) -> Self {
        Stream {
            pending: VecDeque::new(),
            latest_state: state,
            terminal: false,
            seen: HashSet::new(),
            backoff: Duration::ZERO,
            next_retry: None,
        }
    }

    fn push(&mut self, update: StatusUpdate) {
        let state = state_of(&update);
        self.latest_state = state;
        self.terminal |= state.is_terminal();
        if let Some(uuid) = update.status.uuid.clone() {
            self.seen.insert(uuid);
        }
        self.pending.push_back(update);
    }

    fn pop_if_head(&mut self, uuid: &[u8]) -> bool {
        let matches = self.pending.front().and_then(|u| u.status.uuid.as_deref()) == Some(uuid);
        if matches {
            self.pending.pop_front();
        }
        matches
    }

    fn finished(&self) -> bool {
        self.terminal && self.pending.is_empty()
    }

    /// The head as it goes on the wire, with the newest state the stream knows.
    fn head_for_send(&mut self, now: Instant, backoff: Duration) -> Option<StatusUpdate> {
        let mut head = self.pending.front()?.clone();
        head.latest_state = Some(self.latest_state as i32);
        self.backoff = backoff;
        self.next_retry = Some(now + backoff);
        Some(head)
    }
}

/// Per-task streams of status updates awaiting acknowledgement.
#[derive(Debug)]
pub struct StatusUpdateManager<J> {
    journal: J,
    streams: BTreeMap<StreamKey, Stream>,
    retry_min: Duration,
}

impl<J: Journal> StatusUpdateManager<J> {
    pub fn new(journal: J, retry_min: Duration) -> Self {
        StatusUpdateManager {
            journal,
            streams: BTreeMap::new(),
            retry_min: retry_min.min(RETRY_INTERVAL_MAX),
        }
    }

    pub fn journal(&self) -> &J {
        &self.journal
    }

    pub fn journal_mut(&mut self) -> &mut J {
        &mut self.journal
    }

    /// Takes a new update: journals it, queues it, and returns it when it became the head
    /// (the caller sends it at once).
    pub fn update(
        &mut self,
        update: StatusUpdate,
        now: Instant,
    ) -> Result<Option<StatusUpdate>, StatusUpdateError> {
        let key = StreamKey::of(&update);
        let state = state_of(&update);
        let uuid = update
            .status
            .uuid
            .clone()
            .ok_or_else(|| StatusUpdateError::MissingUuid {
                task: key.task_id.clone(),
            })?;
        if let Some(stream) = self.streams.get(&key) {
            if stream.seen.contains(&uuid) {
                return Err(StatusUpdateError::Duplicate {
                    task: key.task_id,
                    uuid: mesos_common::ids::uuid_to_string(&uuid),
                });
            }
            if stream.terminal {
                return Err(StatusUpdateError::AfterTerminal {
                    task: key.task_id,
                    state,
                });
            }
        }
        self.journal
            .append(&key, &Record::Update(update.clone()))
            .map_err(|source| StatusUpdateError::Journal {
                task: key.task_id.clone(),
                source,
            })?;
        let stream = self
            .streams
            .entry(key)
            .or_insert_with(|| Stream::new(state));
        stream.push(update);
        if stream.pending.len() == 1 {
            Ok(stream.head_for_send(now, self.retry_min))
        } else {
            Ok(None)
        }
    }

    /// Applies the master's acknowledgement of `uuid`.
    pub fn acknowledge(
        &mut self,
        key: &StreamKey,
        uuid: &[u8],
        now: Instant,
    ) -> Result<AckOutcome, StatusUpdateError> {
        let Some(stream) = self.streams.get_mut(key) else {
            return Ok(AckOutcome::Ignored);
        };
        let is_head = stream
            .pending
            .front()
            .and_then(|u| u.status.uuid.as_deref())
            == Some(uuid);
        if !is_head {
            return Ok(AckOutcome::Ignored);
        }
        self.journal
            .append(key, &Record::Ack(uuid.to_vec()))
            .map_err(|source| StatusUpdateError::Journal {
                task: key.task_id.clone(),
                source,
            })?;
        stream.pop_if_head(uuid);
        if stream.finished() {
            self.streams.remove(key);
            return Ok(AckOutcome::Accepted {
                next: None,
                finished: true,
            });
        }
        stream.next_retry = None;
        let next = stream.head_for_send(now, self.retry_min);
        Ok(AckOutcome::Accepted {
            next,
            finished: false,
        })
    }

    /// Heads whose retry time has come; each is rescheduled with a doubled backoff.
    pub fn due(&mut self, now: Instant) -> Vec<StatusUpdate> {
        let mut out = Vec::new();
        for stream in self.streams.values_mut() {
            if stream.next_retry.is_some_and(|at| at <= now) {
                let backoff = (stream.backoff * 2).clamp(self.retry_min, RETRY_INTERVAL_MAX);
                out.extend(stream.head_for_send(now, backoff));
            }
        }
        out
    }

    /// Every head, at once (after (re)registering with a master); backoffs start over.
    pub fn resend_all(&mut self, now: Instant) -> Vec<StatusUpdate> {
        let retry_min = self.retry_min;
        self.streams
            .values_mut()
            .filter_map(|stream| stream.head_for_send(now, retry_min))
            .collect()
    }

    /// When [`Self::due`] next has something to return.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.streams.values().filter_map(|s| s.next_retry).min()
    }

    /// Rebuilds a stream from its journal (agent restart). Nothing is journaled or sent;
    /// [`Self::resend_all`] sends the heads once the agent is registered again. Returns the
    /// task's latest state, or `None` when the stream had already finished (or is empty).
    pub fn recover(&mut self, key: StreamKey, records: Vec<Record>) -> Option<TaskState> {
        let mut stream: Option<Stream> = None;
        for record in records {
            match record {
                Record::Update(update) => {
                    let s = stream.get_or_insert_with(|| Stream::new(state_of(&update)));
                    let uuid = update.status.uuid.clone();
                    if uuid.is_some_and(|u| s.seen.contains(&u)) || s.terminal {
                        continue;
                    }
                    s.push(update);
                }
                Record::Ack(uuid) => {
                    if let Some(s) = stream.as_mut() {
                        s.pop_if_head(&uuid);
                    }
                }
            }
        }
        let stream = stream?;
        if stream.finished() {
            return None;
        }
        let state = stream.latest_state;
        self.streams.insert(key, stream);
        Some(state)
    }

    /// State of the newest update held for the task.
    pub fn latest_state(&self, key: &StreamKey) -> Option<TaskState> {
        self.streams.get(key).map(|s| s.latest_state)
    }

    /// The update in flight (unacknowledged head) of the task's stream.
    pub fn in_flight(&self, key: &StreamKey) -> Option<&StatusUpdate> {
        self.streams.get(key).and_then(|s| s.pending.front())
    }

    /// Whether the task's stream already holds the update with this uuid (an executor
    /// re-sending its unacknowledged updates after an agent restart).
    pub fn knows(&self, key: &StreamKey, uuid: &[u8]) -> bool {
        self.streams.get(key).is_some_and(|s| s.seen.contains(uuid))
    }

    /// Whether the task's stream already holds a terminal update.
    pub fn has_terminal(&self, key: &StreamKey) -> bool {
        self.streams.get(key).is_some_and(|s| s.terminal)
    }

    /// Drops every stream of a framework that is gone (its updates can no longer be
    /// acknowledged). Returns the keys dropped.
    pub fn cleanup_framework(&mut self, framework_id: &str) -> Vec<StreamKey> {
        let keys: Vec<StreamKey> = self
            .streams
            .keys()
            .filter(|k| k.framework_id == framework_id)
            .cloned()
            .collect();
        for key in &keys {
            self.streams.remove(key);
        }
        keys
    }

    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }
}

/// The state an update reports (`TASK_STAGING` when it carries none).
pub fn state_of(update: &StatusUpdate) -> TaskState {
    TaskState::try_from(update.status.state).unwrap_or(TaskState::TaskStaging)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::{FrameworkId, TaskId, TaskStatus};

    const MIN: Duration = Duration::from_secs(10);

    fn update(task: &str, state: TaskState, uuid: u8) -> StatusUpdate {
        StatusUpdate {
            framework_id: FrameworkId { value: "fw".into() },
            status: TaskStatus {
                task_id: TaskId { value: task.into() },
                state: state as i32,
                uuid: Some(vec![uuid; 16]),
                ..Default::default()
            },
            latest_state: None,
        }
    }

    fn manager() -> StatusUpdateManager<MemoryJournal> {
        StatusUpdateManager::new(MemoryJournal::default(), MIN)
    }

    fn uuid_of(u: &StatusUpdate) -> Vec<u8> {
        u.status.uuid.clone().unwrap()
    }

    #[test]
    fn only_the_head_is_in_flight_and_acks_advance_the_stream() {
        let mut m = manager();
        let t0 = Instant::now();
        let sent = m
            .update(update("t", TaskState::TaskStarting, 1), t0)
            .unwrap();
        assert_eq!(state_of(sent.as_ref().unwrap()), TaskState::TaskStarting);
        assert!(m
            .update(update("t", TaskState::TaskRunning, 2), t0)
            .unwrap()
            .is_none());
        assert!(m
            .update(update("t", TaskState::TaskFinished, 3), t0)
            .unwrap()
            .is_none());
        assert_eq!(
            m.latest_state(&StreamKey::new("fw", "t")),
            Some(TaskState::TaskFinished)
        );

        let key = StreamKey::new("fw", "t");
        assert!(m.knows(&key, &[2; 16]));
        assert!(!m.knows(&key, &[9; 16]));
        assert!(!m.knows(&StreamKey::new("fw", "other"), &[2; 16]));
        let outcome = m.acknowledge(&key, &[1; 16], t0).unwrap();
        let AckOutcome::Accepted {
            next: Some(next),
            finished: false,
        } = outcome
        else {
            panic!("unexpected {outcome:?}");
        };
        assert_eq!(state_of(&next), TaskState::TaskRunning);
        // The head carries the newest state the agent holds.
        assert_eq!(next.latest_state, Some(TaskState::TaskFinished as i32));

        // A stale ack changes nothing.
        assert_eq!(
            m.acknowledge(&key, &[1; 16], t0).unwrap(),
            AckOutcome::Ignored
        );
        m.acknowledge(&key, &[2; 16], t0).unwrap();
        let outcome = m.acknowledge(&key, &[3; 16], t0).unwrap();
        assert_eq!(
            outcome,
            AckOutcome::Accepted {
                next: None,
                finished: true
            }
        );
        assert_eq!(m.stream_count(), 0);
        assert_eq!(m.latest_state(&key), None);
    }

    #[test]
    fn every_update_and_ack_is_journaled_before_it_takes_effect() {
        let mut m = manager();
        let t0 = Instant::now();
        m.update(update("t", TaskState::TaskRunning, 1), t0)
            .unwrap();
        m.acknowledge(&StreamKey::new("fw", "t"), &[1; 16], t0)
            .unwrap();
        let records: Vec<&Record> = m.journal().records.iter().map(|(_, r)| r).collect();
        assert!(matches!(records[0], Record::Update(_)));
        assert_eq!(records[1], &Record::Ack(vec![1; 16]));
    }

    #[test]
    fn retries_double_up_to_the_maximum() {
        let mut m = manager();
        let t0 = Instant::now();
        m.update(update("t", TaskState::TaskRunning, 1), t0)
            .unwrap();
        assert_eq!(m.next_deadline(), Some(t0 + MIN));
        assert!(m.due(t0 + MIN - Duration::from_millis(1)).is_empty());

        let mut now = t0 + MIN;
        let mut gaps = Vec::new();
        for _ in 0..8 {
            let resent = m.due(now);
            assert_eq!(resent.len(), 1);
            let next = m.next_deadline().unwrap();
            gaps.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(gaps, [20, 40, 80, 160, 320, 600, 600, 600]);
    }

    #[test]
    fn resend_all_returns_every_head_and_resets_backoff() {
        let mut m = manager();
        let t0 = Instant::now();
        m.update(update("a", TaskState::TaskRunning, 1), t0)
            .unwrap();
        m.update(update("a", TaskState::TaskFailed, 2), t0).unwrap();
        m.update(update("b", TaskState::TaskRunning, 3), t0)
            .unwrap();
        m.due(t0 + MIN);
        let later = t0 + Duration::from_secs(100);
        let heads = m.resend_all(later);
        let uuids: Vec<Vec<u8>> = heads.iter().map(uuid_of).collect();
        assert_eq!(uuids, [vec![1; 16], vec![3; 16]]);
        assert_eq!(m.next_deadline(), Some(later + MIN));
    }

    #[test]
    fn duplicates_and_updates_after_terminal_are_rejected() {
        let mut m = manager();
        let t0 = Instant::now();
        m.update(update("t", TaskState::TaskRunning, 1), t0)
            .unwrap();
        assert!(matches!(
            m.update(update("t", TaskState::TaskRunning, 1), t0),
            Err(StatusUpdateError::Duplicate { .. })
        ));
        m.update(update("t", TaskState::TaskKilled, 2), t0).unwrap();
        assert!(matches!(
            m.update(update("t", TaskState::TaskFailed, 3), t0),
            Err(StatusUpdateError::AfterTerminal { .. })
        ));
        let mut no_uuid = update("t", TaskState::TaskRunning, 4);
        no_uuid.status.uuid = None;
        assert!(matches!(
            m.update(no_uuid, t0),
            Err(StatusUpdateError::MissingUuid { .. })
        ));
        assert_eq!(m.journal().records.len(), 2);
    }

    #[test]
    fn recovery_replays_the_journal() {
        let t0 = Instant::now();
        let mut first = manager();
        first
            .update(update("t", TaskState::TaskStarting, 1), t0)
            .unwrap();
        first
            .update(update("t", TaskState::TaskRunning, 2), t0)
            .unwrap();
        first
            .acknowledge(&StreamKey::new("fw", "t"), &[1; 16], t0)
            .unwrap();
        let records: Vec<Record> = first
            .journal()
            .records
            .iter()
            .map(|(_, r)| r.clone())
            .collect();

        let mut second = manager();
        let key = StreamKey::new("fw", "t");
        assert_eq!(
            second.recover(key.clone(), records.clone()),
            Some(TaskState::TaskRunning)
        );
        assert!(second.journal().records.is_empty());
        assert_eq!(second.next_deadline(), None);
        let heads = second.resend_all(t0);
        assert_eq!(heads.iter().map(uuid_of).collect::<Vec<_>>(), [vec![2; 16]]);

        // A stream whose terminal update was acknowledged is finished.
        let mut done = records;
        done.push(Record::Update(update("t", TaskState::TaskFinished, 3)));
        done.push(Record::Ack(vec![2; 16]));
        done.push(Record::Ack(vec![3; 16]));
        let mut third = manager();
        assert_eq!(third.recover(key, done), None);
        assert_eq!(third.stream_count(), 0);
    }

    #[test]
    fn framework_cleanup_drops_its_streams() {
        let mut m = manager();
        let t0 = Instant::now();
        m.update(update("a", TaskState::TaskRunning, 1), t0)
            .unwrap();
        let mut other = update("b", TaskState::TaskRunning, 2);
        other.framework_id = FrameworkId {
            value: "fw2".into(),
        };
        m.update(other, t0).unwrap();
        assert_eq!(m.cleanup_framework("fw"), vec![StreamKey::new("fw", "a")]);
        assert_eq!(m.stream_count(), 1);
    }
}
