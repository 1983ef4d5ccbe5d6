//! The service's side of health checks: runs the probes [`crate::health`] says are due
//! (spawned, their outcomes come back as internal messages), feeds it the `healthy` of
//! Mesos status updates, keeps `Instance.healthy` current, and acts on health events.

use std::time::Duration;

use super::{now_ms, Internal, Service, ServiceError};
use crate::app::health_check::Protocol;
use crate::health::{HealthEvent, Outcome, Probe};

impl Service {
    /// Starts the probes due now and forgets the health of ended instances.
    pub(super) fn run_due_probes(&mut self, now: u64) {
        self.health.purge(&self.tracker);
        for probe in self.health.due(&self.tracker, now) {
            let internal = self.internal_tx.clone();
            let client = self.probe_client.clone();
            tokio::spawn(async move {
                let outcome = run_probe(&client, &probe).await;
                let _ = internal.send(Internal::HealthResult {
                    task_id: probe.task_id,
                    check: probe.check,
                    outcome,
                });
            });
        }
    }

    /// A probe's outcome.
    pub(super) async fn on_probe_result(
        &mut self,
        task_id: &str,
        check: usize,
        outcome: Outcome,
    ) -> Result<(), ServiceError> {
        let now = now_ms();
        let events = self
            .health
            .on_result(&self.tracker, task_id, check, outcome, now, true);
        self.sync_health(task_id);
        self.on_health_events(events, now).await
    }

    /// The `healthy` of a Mesos status update (`publish` false: replayed at load).
    pub(super) fn mesos_health(
        &mut self,
        task_id: &str,
        healthy: bool,
        now: u64,
        publish: bool,
    ) -> Vec<HealthEvent> {
        let events = self
            .health
            .on_mesos_health(&self.tracker, task_id, healthy, now, publish);
        self.sync_health(task_id);
        events
    }

    /// After a load: the Mesos health the store remembers, without events or kills.
    pub(super) fn replay_mesos_health(&mut self) {
        let now = now_ms();
        let known: Vec<(String, bool)> = self
            .tracker
            .instances()
            .filter_map(|i| i.mesos_healthy.map(|h| (i.task_id.clone(), h)))
            .collect();
        let all: Vec<String> = self
            .tracker
            .instances()
            .map(|i| i.task_id.clone())
            .collect();
        for (task_id, healthy) in known {
            self.mesos_health(&task_id, healthy, now, false);
        }
        for task_id in all {
            self.sync_health(&task_id);
        }
    }

    fn sync_health(&mut self, task_id: &str) {
        let healthy = self.health.healthy(task_id);
        self.tracker.set_healthy(task_id, healthy);
    }

    /// Where every health event happens: logged here, published by the event stream, and
    /// an unhealthy instance killed through the tracker (which replaces it).
    pub(super) async fn on_health_events(
        &mut self,
        events: Vec<HealthEvent>,
        now: u64,
    ) -> Result<(), ServiceError> {
        for event in events {
            self.publish_health(&event);
            match event {
                HealthEvent::StatusChanged { task_id, alive, .. } => {
                    tracing::info!(task = %task_id, alive, "health status changed")
                }
                HealthEvent::FailedCheck { task_id, .. } => {
                    tracing::info!(task = %task_id, "health check failed")
                }
                HealthEvent::KillUnhealthy {
                    task_id, reason, ..
                } => {
                    tracing::info!(task = %task_id, %reason, "killing an unhealthy instance");
                    let effects = self.tracker.kill(std::slice::from_ref(&task_id), now);
                    self.execute(effects).await?;
                }
            }
        }
        Ok(())
    }
}

/// The HTTP client of the probes: no redirects followed (a 3xx is healthy, as in
/// Marathon) and, as Marathon does for HTTPS checks, no certificate verification.
pub(super) fn probe_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .expect("an HTTP(S) client builds")
}

/// Runs one probe with its timeout: HTTP(S) answers 200-399 are healthy (1xx ignored when
/// the check says so), a TCP connection that opens is healthy.
pub async fn run_probe(client: &reqwest::Client, probe: &Probe) -> Outcome {
    let timeout = Duration::from_millis(probe.timeout_ms.max(1));
    match probe.protocol {
        Protocol::Tcp => {
            let connect = tokio::net::TcpStream::connect((probe.host.as_str(), probe.port as u16));
            match tokio::time::timeout(timeout, connect).await {
                Ok(Ok(_)) => Outcome::Healthy,
                Ok(Err(e)) => Outcome::Unhealthy(e.to_string()),
                Err(_) => Outcome::Unhealthy(format!("connect timed out after {timeout:?}")),
            }
        }
        Protocol::Http | Protocol::Https => {
            let scheme = if probe.protocol == Protocol::Https {
                "https"
            } else {
                "http"
            };
            let url = format!("{scheme}://{}:{}{}", probe.host, probe.port, probe.path);
            match client.get(&url).timeout(timeout).send().await {
                Ok(response) => {
                    let status = response.status();
                    let code = status.as_u16();
                    if (200..400).contains(&code) {
                        Outcome::Healthy
                    } else if probe.ignore_http1xx && (100..200).contains(&code) {
                        Outcome::Ignored
                    } else {
                        Outcome::Unhealthy(status.to_string())
                    }
                }
                Err(e) if e.is_timeout() => {
                    Outcome::Unhealthy(format!("no answer within {timeout:?}"))
                }
                Err(e) => Outcome::Unhealthy(e.to_string()),
            }
        }
        // The agent runs the others; they never become probes.
        other => Outcome::Unhealthy(format!("{} checks are run by the agent", other.name())),
    }
}
