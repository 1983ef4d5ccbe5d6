//! Frameworks on this agent: made when a first task arrives, shut down by the master,
//! retired when nothing of theirs is left.

use mesos_proto::internal::ShutdownFramework;
use mesos_proto::v1::FrameworkInfo;
use tracing::{debug, info, info_span, warn};

use super::{policy_grace, Core, Framework, FRAMEWORK_REMOVED, MAX_COMPLETED_FRAMEWORKS};
use crate::paths::write_atomic;
use crate::status_update::StreamKey;

impl Core {
    pub(super) fn framework_entry(&mut self, info: FrameworkInfo) -> &mut Framework {
        let id = info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        if !self.frameworks.contains_key(&id) {
            let revived = self
                .completed_frameworks
                .iter()
                .position(|f| f.id() == id)
                .and_then(|i| self.completed_frameworks.remove(i));
            let framework = revived.unwrap_or_else(|| Framework::new(info.clone()));
            self.frameworks.insert(id.clone(), framework);
        }
        let framework = self.frameworks.get_mut(&id).expect("inserted above");
        framework.info = info;
        framework
    }

    pub(super) fn on_shutdown_framework(&mut self, shutdown: ShutdownFramework) {
        let framework_id = shutdown.framework_id.value;
        let span = info_span!("framework", framework_id = %framework_id);
        let _enter = span.enter();
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            debug!("shutdown of a framework with no tasks here");
            return;
        };
        info!("shutting down framework: killing its tasks");
        framework.removed = true;
        if let Some(agent_id) = &self.agent_id {
            let marker = self
                .layout
                .framework_meta(agent_id, &framework_id)
                .join(FRAMEWORK_REMOVED);
            if let Err(e) = write_atomic(&marker, b"") {
                warn!(error = %e, "cannot checkpoint the framework's shutdown");
            }
        }
        let ids = |exited: bool| -> Vec<String> {
            framework
                .tasks
                .iter()
                .filter(|(_, t)| t.exited == exited)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let (ended, running) = (ids(true), ids(false));
        for task_id in ended {
            if let Some(task) = framework.tasks.remove(&task_id) {
                framework.complete(task);
            }
        }
        for key in self.sum.cleanup_framework(&framework_id) {
            self.sum.journal_mut().forget(&key);
        }
        // As Mesos gives executors of a framework being shut down.
        let default_grace = self.config.executor_shutdown_grace_period;
        for task_id in running {
            let key = StreamKey::new(framework_id.clone(), task_id);
            let grace = self
                .task_mut(&key)
                .and_then(|t| policy_grace(&t.info, None))
                .unwrap_or(default_grace);
            if self.task_mut(&key).is_some_and(|t| !t.killing) {
                self.start_kill(&key, grace);
            }
        }
        self.retire_framework_if_idle(&framework_id);
    }

    pub(super) fn retire_framework_if_idle(&mut self, framework_id: &str) {
        if self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.tasks.is_empty())
        {
            self.retire_framework(framework_id);
        }
    }

    pub(super) fn retire_framework(&mut self, framework_id: &str) {
        if let Some(framework) = self.frameworks.remove(framework_id) {
            self.completed_frameworks.push_back(framework);
            while self.completed_frameworks.len() > MAX_COMPLETED_FRAMEWORKS {
                self.completed_frameworks.pop_front();
            }
        }
    }
}
