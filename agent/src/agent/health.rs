//! Health checks of the tasks the agent runs as their executor: started when a task
//! runs, stopped when it ends or is killed; each report becomes a TASK_RUNNING update with
//! `healthy` (reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED), and a report that asks for
//! it kills the task, whose terminal update then says `healthy: false` (as Mesos's
//! command and Docker executors do).

use mesos_proto::v1::{container_info, task_status, TaskState};
use tracing::{error, info, info_span, warn};

use super::{kill_grace, Core};
use crate::health_check::runner::{self, Site};
use crate::health_check::{HealthReport, Probe, Timing};
use crate::launcher::{task_environment, EnvContext};
use crate::status_update::StreamKey;

impl Core {
    /// Starts the task's health check, if it has one (the task runs now).
    pub(super) fn start_health_check(&mut self, key: &StreamKey) {
        let endpoint = self.identity.endpoint();
        let hostname = self.identity.hostname.clone();
        let docker = self.docker.clone();
        let reports = self.health_tx.clone();
        // A command check runs as its task does (Mesos's executor, which runs it, runs as
        // the task's user).
        let user = self
            .frameworks
            .get(&key.framework_id)
            .and_then(|f| f.tasks.get(&key.task_id))
            .and_then(|t| crate::users::switch_to(self.user_of_task(t)));
        let Some(task) = self.task_mut(key) else {
            return;
        };
        let Some(check) = task.info.health_check.clone() else {
            return;
        };
        if task.exited || task.killing || task.health.is_some() {
            return;
        }
        let site = match (&task.docker, docker) {
            (Some(_), Some(runtime)) => {
                let host_network = task
                    .info
                    .container
                    .as_ref()
                    .and_then(|c| c.docker.as_ref())
                    .is_some_and(|d| d.network() == container_info::docker_info::Network::Host);
                let ip = task
                    .network_infos
                    .iter()
                    .flat_map(|n| n.ip_addresses.iter())
                    .find_map(|a| a.ip_address.clone())
                    .filter(|_| !host_network);
                Site::Docker {
                    runtime,
                    container: crate::docker::container_name(&task.container_id),
                    ip,
                }
            }
            _ => Site::Plain {
                env: task_environment(
                    std::env::vars(),
                    &task.info,
                    &EnvContext {
                        framework_id: &key.framework_id,
                        executor_id: task.executor_id(),
                        sandbox: &task.run.sandbox,
                        agent_endpoint: &endpoint,
                        hostname: &hostname,
                    },
                ),
                cwd: task.run.sandbox.clone(),
                user,
            },
        };
        match Probe::of(&check, site) {
            Ok(probe) => {
                info!(task_id = %key.task_id, kind = ?check.r#type(), "starting the task's health check");
                task.health = Some(runner::start(
                    key.clone(),
                    task.container_id.clone(),
                    Timing::of(&check),
                    probe,
                    reports,
                ));
            }
            Err(e) => {
                error!(task_id = %key.task_id, error = %e, "cannot create the health checker")
            }
        }
    }

    pub fn on_health_report(&mut self, r: HealthReport) {
        let key = r.key;
        let span = info_span!("task", framework_id = %key.framework_id, task_id = %key.task_id);
        let _enter = span.enter();
        let removed = self
            .frameworks
            .get(&key.framework_id)
            .is_none_or(|f| f.removed);
        let Some(task) = self.task_mut(&key) else {
            return;
        };
        // No health update after the task ended or while it is being killed.
        if removed || task.container_id != r.container_id || task.exited || task.killing {
            return;
        }
        info!(
            healthy = r.report.healthy,
            consecutive_failures = r.report.consecutive_failures,
            "task health changed"
        );
        self.update_status(
            &key,
            TaskState::TaskRunning,
            None,
            Some(task_status::Reason::TaskHealthCheckStatusUpdated),
            task_status::Source::Executor,
            Some(r.report.healthy),
        );
        if r.report.kill {
            warn!("killing the task: its health check failed too many times");
            let Some(task) = self.task_mut(&key) else {
                return;
            };
            task.killed_by_health_check = true;
            let grace = kill_grace(&task.info, None);
            self.kill_and_report(&key, grace);
        }
    }
}
