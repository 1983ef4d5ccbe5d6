//! A v1 scheduler written against the HTTP API alone: SUBSCRIBE on a streaming POST,
//! RecordIO-decoded JSON events into a channel, and every other call as its own POST carrying
//! `Mesos-Stream-Id`.
//!
//! Events are kept in arrival order. `wait_for`-style helpers take the first event matching
//! a predicate and leave the others queued, so a test can wait for things in any order;
//! `skip_to` also drops everything before the match, for "nothing of that kind after X".

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::http;
use crate::json::*;
use crate::recordio::RecordIoDecoder;
use crate::TIMEOUT;

/// An event and when it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub event: Value,
}

enum StreamItem {
    Event(Received),
    /// The stream ended; the text says how.
    Closed(String),
}

/// What a taker does with one queued event.
enum Take<T> {
    /// Not interested.
    Skip,
    /// Matched; the event is consumed.
    Whole(T),
    /// Matched part of it (one offer of several); the rest stays queued.
    Part(T),
}

/// Why a SUBSCRIBE did not produce a subscribed scheduler.
#[derive(Debug, Clone)]
pub struct SubscribeRefused {
    pub status: u16,
    pub body: String,
}

/// A subscribed framework. Dropping it closes the subscription connection.
pub struct Scheduler {
    client: reqwest::Client,
    url: String,
    pub framework_id: String,
    pub stream_id: String,
    /// The `subscribed` object of the SUBSCRIBED event.
    pub subscribed: Value,
    /// Status and headers of the SUBSCRIBE response.
    pub status: u16,
    pub headers: HeaderMap,
    rx: mpsc::UnboundedReceiver<StreamItem>,
    queue: VecDeque<Received>,
    closed: Option<String>,
    /// Types of every event seen, for failure messages.
    history: Vec<String>,
    /// The `Authorization` header SUBSCRIBE carried, sent with every call too.
    authorization: Option<String>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The scheduler endpoint of the master at `master` (`host:port`).
pub fn scheduler_url(master: &str) -> String {
    format!("http://{master}/api/v1/scheduler")
}

impl Scheduler {
    /// Subscribes a framework with `framework_info` (re-subscribing when it has an `id`);
    /// panics unless the master answers 200 and sends SUBSCRIBED.
    pub async fn subscribe(master: &str, framework_info: Value) -> Scheduler {
        let mut call = json!({
            "type": "SUBSCRIBE",
            "subscribe": { "framework_info": framework_info }
        });
        if let Some(id) = framework_info.get("id") {
            call["framework_id"] = id.clone();
        }
        match Self::try_subscribe(master, call, &[]).await {
            Ok(scheduler) => scheduler,
            Err(refused) => panic!(
                "SUBSCRIBE refused with {}: {}",
                refused.status, refused.body
            ),
        }
    }

    /// Sends the SUBSCRIBE `call` as given, with `extra_headers`. On 200 waits for the first
    /// event, which must be SUBSCRIBED.
    pub async fn try_subscribe(
        master: &str,
        call: Value,
        extra_headers: &[(&str, &str)],
    ) -> Result<Scheduler, SubscribeRefused> {
        let client = http::client();
        let url = scheduler_url(master);
        let mut request = client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(call.to_string());
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        let response = tokio::time::timeout(TIMEOUT, request.send())
            .await
            .unwrap_or_else(|_| panic!("no SUBSCRIBE response head within {TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("SUBSCRIBE to {url} failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            return Err(SubscribeRefused { status, body });
        }
        let stream_id = headers
            .get("Mesos-Stream-Id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("SUBSCRIBE response has no Mesos-Stream-Id: {headers:?}"))
            .to_string();

        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut decoder = RecordIoDecoder::new();
            let end = loop {
                match body.next().await {
                    None if decoder.is_empty() => break "stream ended".to_string(),
                    None => break "stream ended inside a record".to_string(),
                    Some(Err(e)) => break format!("stream error: {e}"),
                    Some(Ok(chunk)) => match decoder.feed(&chunk) {
                        Err(e) => break format!("RecordIO error: {e}"),
                        Ok(records) => {
                            for record in records {
                                let event = match serde_json::from_slice(&record) {
                                    Ok(event) => event,
                                    Err(e) => {
                                        let text = String::from_utf8_lossy(&record).into_owned();
                                        let _ = tx.send(StreamItem::Closed(format!(
                                            "event is not JSON ({e}): {text}"
                                        )));
                                        return;
                                    }
                                };
                                let received = Received {
                                    at: Instant::now(),
                                    event,
                                };
                                if tx.send(StreamItem::Event(received)).is_err() {
                                    return;
                                }
                            }
                        }
                    },
                }
            };
            let _ = tx.send(StreamItem::Closed(end));
        });

        let mut scheduler = Scheduler {
            client,
            url,
            framework_id: String::new(),
            stream_id,
            subscribed: Value::Null,
            status,
            headers,
            rx,
            queue: VecDeque::new(),
            closed: None,
            history: Vec::new(),
            authorization: extra_headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                .map(|(_, value)| value.to_string()),
            reader,
        };
        let first = scheduler
            .next_received(TIMEOUT)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "no event after SUBSCRIBE within {TIMEOUT:?} ({})",
                    scheduler.closed.as_deref().unwrap_or("stream open")
                )
            })
            .event;
        assert_eq!(
            event_type(&first),
            "SUBSCRIBED",
            "the first event must be SUBSCRIBED: {first}"
        );
        scheduler.framework_id = id_value(&first["subscribed"]["framework_id"]).to_string();
        scheduler.subscribed = first["subscribed"].clone();
        Ok(scheduler)
    }

    /// The `master_info` of the SUBSCRIBED event.
    pub fn master_info(&self) -> &Value {
        &self.subscribed["master_info"]
    }

    // ----- calls -----

    /// Sends a call with this framework's id (unless the call has one) and stream id.
    /// Returns the HTTP status and body.
    pub async fn call(&self, mut call: Value) -> (u16, String) {
        if call.get("framework_id").is_none() {
            call["framework_id"] = json!({ "value": self.framework_id });
        }
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("Mesos-Stream-Id", &self.stream_id)
            .body(call.to_string());
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let response = http::send(request)
            .await
            .unwrap_or_else(|e| panic!("call {call} failed: {e}"));
        (response.status, response.body)
    }

    /// Sends a call and asserts 202 Accepted.
    pub async fn call_accepted(&self, call: Value) {
        let kind = call["type"].as_str().unwrap_or("?").to_string();
        let (status, body) = self.call(call).await;
        assert_eq!(
            status, 202,
            "{kind} call: expected 202, got {status}: {body}"
        );
    }

    /// ACCEPT `offer_ids` with `operations` and a zero refuse filter (so whatever is left over
    /// comes back at the next allocation). Returns status and body.
    pub async fn accept(&self, offer_ids: &[&str], operations: Vec<Value>) -> (u16, String) {
        let offer_ids: Vec<Value> = offer_ids.iter().map(|id| json!({ "value": id })).collect();
        self.call(json!({
            "type": "ACCEPT",
            "accept": {
                "offer_ids": offer_ids,
                "operations": operations,
                "filters": { "refuse_seconds": 0.0 }
            }
        }))
        .await
    }

    /// LAUNCH `tasks` on `offer`; asserts 202.
    pub async fn launch(&self, offer: &Value, tasks: Vec<Value>) {
        self.launch_on(&[offer_id(offer)], tasks).await;
    }

    /// LAUNCH `tasks` on the given offer ids; asserts 202.
    pub async fn launch_on(&self, offer_ids: &[&str], tasks: Vec<Value>) {
        let (status, body) = self.accept(offer_ids, vec![launch_operation(tasks)]).await;
        assert_eq!(status, 202, "ACCEPT: expected 202, got {status}: {body}");
    }

    pub async fn decline(&self, offer_id: &str, refuse_seconds: f64) {
        self.call_accepted(json!({
            "type": "DECLINE",
            "decline": {
                "offer_ids": [{ "value": offer_id }],
                "filters": { "refuse_seconds": refuse_seconds }
            }
        }))
        .await;
    }

    pub async fn revive(&self) {
        self.call_accepted(json!({ "type": "REVIVE" })).await;
    }

    pub async fn suppress(&self) {
        self.call_accepted(json!({ "type": "SUPPRESS" })).await;
    }

    pub async fn kill(&self, task_id: &str, agent_id: &str) {
        self.call_accepted(json!({
            "type": "KILL",
            "kill": { "task_id": { "value": task_id }, "agent_id": { "value": agent_id } }
        }))
        .await;
    }

    /// RECONCILE the given `(task id, optional agent id)` pairs; an empty list is implicit
    /// reconciliation.
    pub async fn reconcile(&self, tasks: &[(&str, Option<&str>)]) {
        let tasks: Vec<Value> = tasks
            .iter()
            .map(|(task, agent)| {
                let mut entry = json!({ "task_id": { "value": task } });
                if let Some(agent) = agent {
                    entry["agent_id"] = json!({ "value": agent });
                }
                entry
            })
            .collect();
        self.call_accepted(json!({ "type": "RECONCILE", "reconcile": { "tasks": tasks } }))
            .await;
    }

    pub async fn teardown(&self) {
        self.call_accepted(json!({ "type": "TEARDOWN" })).await;
    }

    /// ACKNOWLEDGE a status update (it must carry a uuid); returns the HTTP status.
    pub async fn acknowledge(&self, status: &Value) -> u16 {
        status_uuid(status);
        let (code, _) = self
            .call(json!({
                "type": "ACKNOWLEDGE",
                "acknowledge": {
                    "agent_id": status["agent_id"],
                    "task_id": status["task_id"],
                    "uuid": status["uuid"]
                }
            }))
            .await;
        code
    }

    /// Closes the subscription connection, as a crashed scheduler would.
    pub fn disconnect(self) {}

    // ----- events -----

    async fn next_received(&mut self, timeout: Duration) -> Option<Received> {
        if self.closed.is_some() {
            return None;
        }
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(StreamItem::Event(received))) => {
                self.history.push(event_type(&received.event).to_string());
                Some(received)
            }
            Ok(Some(StreamItem::Closed(why))) => {
                self.closed = Some(why);
                None
            }
            Ok(None) => {
                self.closed = Some("reader stopped".to_string());
                None
            }
            Err(_) => None,
        }
    }

    fn describe(&self) -> String {
        let recent = &self.history[self.history.len().saturating_sub(40)..];
        format!(
            "events so far (latest {}): {:?}; queued: {}; stream: {}",
            recent.len(),
            recent,
            self.queue
                .iter()
                .map(|r| r.event.to_string())
                .collect::<Vec<_>>()
                .join("\n  "),
            self.closed.as_deref().unwrap_or("open")
        )
    }

    /// Offers one event to `taker`, returning the taken value and whether to keep the event.
    fn apply<T>(
        taker: &mut impl FnMut(&mut Value) -> Take<T>,
        received: &mut Received,
    ) -> Option<(T, bool)> {
        match taker(&mut received.event) {
            Take::Skip => None,
            Take::Whole(value) => Some((value, false)),
            Take::Part(value) => Some((value, true)),
        }
    }

    /// Core of every wait: first the queued events, then new ones, until `taker` takes one.
    /// With `drop_earlier`, events before the match are discarded.
    async fn take<T>(
        &mut self,
        timeout: Duration,
        drop_earlier: bool,
        mut taker: impl FnMut(&mut Value) -> Take<T>,
    ) -> Option<(Instant, T)> {
        for index in 0..self.queue.len() {
            if let Some((value, keep)) = Self::apply(&mut taker, &mut self.queue[index]) {
                let at = self.queue[index].at;
                if !keep {
                    self.queue.remove(index);
                }
                if drop_earlier {
                    self.queue.drain(..index);
                }
                return Some((at, value));
            }
        }
        if drop_earlier {
            self.queue.clear();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut received = self.next_received(left).await?;
            if let Some((value, keep)) = Self::apply(&mut taker, &mut received) {
                let at = received.at;
                if keep {
                    self.queue.push_back(received);
                }
                return Some((at, value));
            }
            if !drop_earlier {
                self.queue.push_back(received);
            }
        }
    }

    async fn take_or_panic<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        drop_earlier: bool,
        taker: impl FnMut(&mut Value) -> Take<T>,
    ) -> (Instant, T) {
        match self.take(timeout, drop_earlier, taker).await {
            Some(found) => found,
            None => panic!(
                "timed out after {timeout:?} waiting for {what}; {}",
                self.describe()
            ),
        }
    }

    /// The first event (queued or new) matching `pred`, and when it arrived; panics naming
    /// `what` after `timeout`.
    pub async fn wait_for_received(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Received {
        let (at, event) = self
            .take_or_panic(what, timeout, false, |e| {
                if pred(e) {
                    Take::Whole(e.clone())
                } else {
                    Take::Skip
                }
            })
            .await;
        Received { at, event }
    }

    /// The first event matching `pred`; other events stay queued.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for_received(what, timeout, pred).await.event
    }

    /// The first event matching `pred`; every event before it is discarded.
    pub async fn skip_to(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Received {
        let (at, event) = self
            .take_or_panic(what, timeout, true, |e| {
                if pred(e) {
                    Take::Whole(e.clone())
                } else {
                    Take::Skip
                }
            })
            .await;
        Received { at, event }
    }

    /// The next event of type `ty` (e.g. "HEARTBEAT").
    pub async fn wait_for_type(&mut self, ty: &str) -> Value {
        let ty = ty.to_string();
        self.wait_for(&format!("a {ty} event"), TIMEOUT, |e| event_type(e) == ty)
            .await
    }

    /// Panics if an event matching `pred` is queued or arrives within `window`. Other events
    /// stay queued.
    pub async fn expect_none(
        &mut self,
        what: &str,
        window: Duration,
        pred: impl Fn(&Value) -> bool,
    ) {
        let found = self
            .take(window, false, |e| {
                if pred(e) {
                    Take::Whole(e.clone())
                } else {
                    Take::Skip
                }
            })
            .await;
        if let Some((_, event)) = found {
            panic!("expected no {what} within {window:?}, got {event}");
        }
        // A dead stream would make "nothing arrived" meaningless.
        if let Some(why) = &self.closed {
            panic!("the event stream ended while checking for no {what}: {why}");
        }
    }

    /// The first offer (queued or new) matching `pred`, with its arrival time. Other offers of
    /// the same OFFERS event stay queued.
    pub async fn wait_for_offer_received(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> (Instant, Value) {
        self.take_or_panic(what, timeout, false, |e| {
            if event_type(e) != "OFFERS" {
                return Take::Skip;
            }
            let Some(offers) = e["offers"]["offers"].as_array_mut() else {
                return Take::Skip;
            };
            match offers.iter().position(&pred) {
                None => Take::Skip,
                Some(index) => {
                    let offer = offers.remove(index);
                    if offers.is_empty() {
                        Take::Whole(offer)
                    } else {
                        Take::Part(offer)
                    }
                }
            }
        })
        .await
    }

    /// The first offer matching `pred`.
    pub async fn wait_for_offer(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_offer_received(what, TIMEOUT, pred).await.1
    }

    /// The next offer, from any agent.
    pub async fn next_offer(&mut self) -> Value {
        self.wait_for_offer("an offer", |_| true).await
    }

    /// The next offer from agent `agent_id`.
    pub async fn next_offer_from(&mut self, agent_id: &str) -> Value {
        let agent = agent_id.to_string();
        self.wait_for_offer(&format!("an offer from agent {agent}"), |o| {
            offer_agent_id(o) == agent
        })
        .await
    }

    /// Follows `task_id` to its terminal update, acknowledging every update on the way;
    /// waits up to `each` for every update.
    pub async fn terminal_update(&mut self, task_id: &str, each: Duration) -> Value {
        loop {
            let status = self
                .wait_for_update(task_id, "an UPDATE", each, |_| true)
                .await;
            if status.get("uuid").is_some() {
                self.acknowledge(&status).await;
            }
            if is_terminal(state_of(&status)) {
                return status;
            }
        }
    }

    /// The next UPDATE for `task_id` whose status matches `pred`; returns the status.
    pub async fn wait_for_update(
        &mut self,
        task_id: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let task = task_id.to_string();
        let event = self
            .wait_for(&format!("{what} for task {task}"), timeout, |e| {
                event_type(e) == "UPDATE"
                    && task_id_of(&e["update"]["status"]) == task
                    && pred(&e["update"]["status"])
            })
            .await;
        event["update"]["status"].clone()
    }

    /// The next UPDATE for `task_id`, whatever its state.
    pub async fn next_update(&mut self, task_id: &str) -> Value {
        self.wait_for_update(task_id, "an UPDATE", TIMEOUT, |_| true)
            .await
    }

    /// Follows `task_id`'s updates until one has `state`, acknowledging every update that
    /// carries a uuid (asserting 202). Panics if the task reaches another terminal state.
    pub async fn await_state(&mut self, task_id: &str, state: &str) -> Value {
        self.await_state_within(task_id, state, TIMEOUT).await
    }

    /// [`Scheduler::await_state`] with an explicit timeout per update.
    pub async fn await_state_within(
        &mut self,
        task_id: &str,
        state: &str,
        timeout: Duration,
    ) -> Value {
        loop {
            let status = self
                .wait_for_update(
                    task_id,
                    &format!("an UPDATE on the way to {state}"),
                    timeout,
                    |_| true,
                )
                .await;
            if status.get("uuid").is_some() {
                let code = self.acknowledge(&status).await;
                assert_eq!(
                    code, 202,
                    "ACKNOWLEDGE of {status}: expected 202, got {code}"
                );
            }
            let current = state_of(&status);
            if current == state {
                return status;
            }
            assert!(
                !is_terminal(current),
                "task {task_id} reached {current} while waiting for {state}: {status}"
            );
        }
    }

    /// Waits until the subscription stream ends; returns how it ended, or `None` if it is
    /// still open after `timeout`. Events that arrive meanwhile stay queued.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Some(received) = self.next_received(left).await {
                self.queue.push_back(received);
            }
        }
        self.closed.clone()
    }

    /// True once the stream has been seen to end.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }
}

/// A LAUNCH operation for ACCEPT.
pub fn launch_operation(tasks: Vec<Value>) -> Value {
    json!({ "type": "LAUNCH", "launch": { "task_infos": tasks } })
}
