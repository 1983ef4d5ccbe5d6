//! The background task: subscribe, read the event stream, watch heartbeats, resubscribe.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mesos_proto::v1::scheduler::{call, event, Call, Event};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use tokio::sync::mpsc;

use super::codec::ContentType;
use super::detector::Detector;
use super::error::SchedulerError;
use super::transport::{self, backoff, STREAM_ID_HEADER};
use super::{SchedulerConfig, SchedulerEvent, Session, Shared};

/// How one subscription ended.
enum End {
    /// The caller dropped the event stream.
    ReceiverGone,
    /// The master sent ERROR: the framework is gone (removed, or taken over by another
    /// scheduler), so subscribing again would not help.
    Fatal(String),
    /// The master refused the SUBSCRIBE with 401 (a wrong credential) or 403 (the
    /// framework was torn down or removed): it will refuse every retry the same way.
    Refused(SchedulerError),
    Failed(SchedulerError),
}

pub(super) async fn run(
    shared: Arc<Shared>,
    detector: Arc<dyn Detector>,
    config: SchedulerConfig,
    tx: mpsc::Sender<SchedulerEvent>,
) {
    let mut stop = shared.stop.subscribe();
    let mut failures: u32 = 0;
    loop {
        let mut connected = false;
        let end = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = tx.closed() => return,
            end = subscribe(&shared, detector.as_ref(), &config, &tx, &mut connected) => end,
        };
        shared.set_session(None);
        if shared.tearing_down.load(Ordering::SeqCst) {
            return;
        }
        let reason = match end {
            End::ReceiverGone => return,
            End::Fatal(message) => {
                let _ = tx
                    .send(SchedulerEvent::Disconnected {
                        reason: format!("master sent ERROR: {message}"),
                    })
                    .await;
                return;
            }
            End::Refused(error) => {
                tracing::warn!(%error, "master refused the subscription");
                let _ = tx
                    .send(SchedulerEvent::Disconnected {
                        reason: error.to_string(),
                    })
                    .await;
                return;
            }
            End::Failed(error) => error.to_string(),
        };
        tracing::warn!(%reason, "scheduler disconnected");
        if tx
            .send(SchedulerEvent::Disconnected { reason })
            .await
            .is_err()
        {
            return;
        }
        if connected {
            failures = 0;
        }
        let delay = backoff(config.backoff_min, config.backoff_max, failures);
        failures = failures.saturating_add(1);
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = tx.closed() => return,
            _ = tokio::time::sleep(delay) => {}
            // A new leader is worth trying at once.
            _ = detector.changed() => failures = 0,
        }
    }
}

async fn subscribe(
    shared: &Shared,
    detector: &dyn Detector,
    config: &SchedulerConfig,
    tx: &mpsc::Sender<SchedulerEvent>,
    connected: &mut bool,
) -> End {
    match stream_events(shared, detector, config, tx, connected).await {
        Ok(end) => end,
        Err(error) => End::Failed(error),
    }
}

fn subscribe_call(shared: &Shared, config: &SchedulerConfig) -> Call {
    let mut framework_info = config.framework_info.clone();
    if let Some(id) = shared.framework_id() {
        framework_info.id = Some(id);
    }
    Call {
        framework_id: framework_info.id.clone(),
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info,
            suppressed_roles: config.suppressed_roles.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn stream_events(
    shared: &Shared,
    detector: &dyn Detector,
    config: &SchedulerConfig,
    tx: &mpsc::Sender<SchedulerEvent>,
    connected: &mut bool,
) -> Result<End, SchedulerError> {
    let master = detector.detect().await?;
    let call = subscribe_call(shared, config);
    let client = transport::client(true);
    let (master, response) = transport::post(
        &client,
        master,
        transport::Request {
            path: transport::SCHEDULER_PATH,
            body: Bytes::from(config.content_type.encode(&call)),
            content_type: config.content_type,
            stream_id: None,
            timeout: config.request_timeout,
            max_redirects: config.max_redirects,
            credential: config.credential.as_ref(),
        },
    )
    .await?;
    // 403: the framework was torn down; 401: the master does not accept our credential.
    // Neither changes by asking again.
    if matches!(
        response.status(),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
    ) {
        return Ok(End::Refused(
            transport::status_error(master, response).await,
        ));
    }
    if response.status() != StatusCode::OK {
        return Err(transport::status_error(master, response).await);
    }
    let stream_id = response
        .headers()
        .get(STREAM_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| SchedulerError::MissingStreamId {
            master: master.clone(),
        })?;
    // Records are in the encoding the master says it used; we asked for ours.
    let encoding = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(ContentType::from_mime)
        .unwrap_or(config.content_type);
    tracing::debug!(%master, %stream_id, "subscription stream open");

    let mut stream =
        transport::EventStream::new(master.clone(), response, encoding, config.max_record_size);
    let mut heartbeat = config.default_heartbeat_interval;
    loop {
        let patience = heartbeat.saturating_mul(config.missed_heartbeats.max(1));
        let event: Event = stream.next(patience).await?;
        let outgoing = match event.r#type() {
            event::Type::Subscribed => {
                let subscribed = event.subscribed.unwrap_or_default();
                let framework_id = subscribed.framework_id;
                heartbeat = subscribed
                    .heartbeat_interval_seconds
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .unwrap_or(config.default_heartbeat_interval);
                shared.set_session(Some(Session {
                    master: master.clone(),
                    stream_id: stream_id.clone(),
                    framework_id: framework_id.clone(),
                }));
                *connected = true;
                tracing::info!(%master, framework_id = %framework_id.value, "subscribed");
                SchedulerEvent::Connected {
                    framework_id,
                    master_info: subscribed.master_info.map(Box::new),
                    master: master.clone(),
                    heartbeat_interval: heartbeat,
                }
            }
            event::Type::Error => {
                let message = event
                    .error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                if tx
                    .send(SchedulerEvent::Event(Box::new(event)))
                    .await
                    .is_err()
                {
                    return Ok(End::ReceiverGone);
                }
                return Ok(End::Fatal(message));
            }
            _ => SchedulerEvent::Event(Box::new(event)),
        };
        if tx.send(outgoing).await.is_err() {
            return Ok(End::ReceiverGone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for failures in 0..40 {
            let d = backoff(min, max, failures);
            let base = (min * 2u32.pow(failures.min(10))).min(max);
            assert!(d >= base / 2 && d <= base, "{failures}: {d:?}");
        }
    }
}
