//! Readiness checks at the edge: the HTTP requests, one per check and due instance,
//! spawned so a slow task never stalls the service; their results come back as
//! [`Internal::Readiness`] and gate the deployment (see `deployment::readiness`).
//!
//! Checked: the instances of the current config of each app in a deployment's running
//! step that run (and passed their health checks, if any) and are not ready yet. Once
//! every check of an instance said ready it is not checked again (as in Marathon);
//! results live only in memory, so a new leader checks again.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Internal, Service};
use crate::app::AppDefinition;
use crate::deployment::readiness::{self, LastResponse, ReadinessResult};
use crate::instance::{Condition, Instance};
use crate::tracker::Tracker;

/// What is known of one task's checks.
#[derive(Debug, Default)]
struct TaskChecks {
    /// The latest result of each check, by the check's index.
    results: BTreeMap<usize, ReadinessResult>,
    /// No request before this time.
    next_ms: u64,
    in_flight: bool,
}

#[derive(Debug, Default)]
pub struct Readiness {
    tasks: BTreeMap<String, TaskChecks>,
}

impl Readiness {
    /// Every check of the app answered ready for this instance (true for an app without
    /// readiness checks).
    pub fn is_ready(&self, instance: &Instance, app: &AppDefinition) -> bool {
        if app.readiness_checks.is_empty() {
            return true;
        }
        self.tasks.get(&instance.task_id).is_some_and(|t| {
            (0..app.readiness_checks.len()).all(|i| t.results.get(&i).is_some_and(|r| r.ready))
        })
    }

    /// The latest results for the instances of `app` (`readinessCheckResults`).
    pub fn results<'a>(
        &'a self,
        tracker: &'a Tracker,
        app: &'a crate::app::PathId,
    ) -> impl Iterator<Item = &'a ReadinessResult> {
        tracker
            .instances_of(app)
            .filter_map(|i| self.tasks.get(&i.task_id))
            .flat_map(|t| t.results.values())
    }

    /// Forgets the tasks that ended.
    pub fn forget_gone(&mut self, tracker: &Tracker) {
        self.tasks.retain(|t, _| tracker.instance(t).is_some());
    }
}

impl Service {
    /// Starts the checks that are due.
    pub(super) fn run_readiness_checks(&mut self, now: u64) {
        let mut due: Vec<(String, usize, readiness::ReadinessCheck, String)> = vec![];
        for d in self.deployments.values() {
            for action in d.current().into_iter().flatten() {
                let Some(app) = self.tracker.app(&action.app) else {
                    continue;
                };
                if app.readiness_checks.is_empty() {
                    continue;
                }
                let Some(checks) = readiness::checks(app) else {
                    continue;
                };
                let config = &app.version_info.last_config_change_at;
                let checked = !app.health_checks.is_empty();
                for i in self.tracker.instances_of(&action.app) {
                    let eligible = &i.config_version == config
                        && i.is_active()
                        && i.condition == Condition::Running
                        && (!checked || i.healthy == Some(true));
                    if !eligible || self.readiness.is_ready(i, app) {
                        continue;
                    }
                    let state = self.readiness.tasks.entry(i.task_id.clone()).or_default();
                    if state.in_flight || state.next_ms > now {
                        continue;
                    }
                    for (index, check) in checks.iter().enumerate() {
                        if let Some(url) = readiness::url(check, app, i) {
                            due.push((i.task_id.clone(), index, check.clone(), url));
                        }
                    }
                    state.in_flight = true;
                    let interval = checks
                        .iter()
                        .map(|c| c.interval_seconds)
                        .min()
                        .unwrap_or(30);
                    state.next_ms = now + interval * 1000;
                }
            }
        }
        for (task_id, index, check, url) in due {
            let client = self.http.clone();
            let internal = self.internal_tx.clone();
            tokio::spawn(async move {
                let response = get(&client, &url, Duration::from_secs(check.timeout_seconds)).await;
                let result = readiness::judge(&check, &task_id, response);
                let _ = internal.send(Internal::Readiness { index, result });
            });
        }
    }

    pub(super) async fn on_readiness(
        &mut self,
        index: usize,
        result: ReadinessResult,
    ) -> Result<(), super::ServiceError> {
        let Some(state) = self.readiness.tasks.get_mut(&result.task_id) else {
            return Ok(());
        };
        state.in_flight = false;
        tracing::debug!(task = %result.task_id, check = %result.name, ready = result.ready, "readiness check");
        state.results.insert(index, result);
        self.run_deployments().await
    }
}

/// The client of the readiness checks: HTTPS checks accept any certificate, as the
/// health checks do (tasks serve self-signed ones).
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("an HTTP(S) client builds")
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<LastResponse, String> {
    let response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.text().await.unwrap_or_default();
    Ok(LastResponse {
        status,
        content_type,
        body,
    })
}
