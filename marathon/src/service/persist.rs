//! What the service keeps in the store, under which keys, and carrying out the tracker's
//! effects (writes awaited, Mesos calls spawned).

use mesos_proto::v1;

use super::{Service, ServiceError};
use crate::app::{AppDefinition, PathId};
use crate::instance::Instance;
use crate::storage::Op;
use crate::tracker::Effect;

pub const FRAMEWORK_ID_KEY: &str = "framework-id";

pub fn app_key(id: &PathId) -> String {
    format!("apps/{}", id.segments().join("/"))
}

pub fn version_prefix(id: &PathId) -> String {
    format!("versions/{}", id.segments().join("/"))
}

pub fn version_key(id: &PathId, version: &str) -> String {
    format!("{}/{}", version_prefix(id), version)
}

pub fn instance_key(task_id: &str) -> String {
    format!("instances/{task_id}")
}

pub fn deployment_key(id: &str) -> String {
    format!("deployments/{id}")
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("state serializes")
}

pub fn put_app(app: &AppDefinition) -> Vec<Op> {
    vec![
        Op::put(app_key(&app.id), json(app)),
        Op::put(version_key(&app.id, &app.version), json(app)),
    ]
}

pub fn put_instance(instance: &Instance) -> Op {
    Op::put(instance_key(&instance.task_id), json(instance))
}

impl Service {
    /// The versions stored one level under `prefix` (`versions/prod/web` holds
    /// `versions/prod/web/<version>`), oldest first.
    pub(super) async fn versions_under(&self, prefix: &str) -> Result<Vec<String>, ServiceError> {
        let depth = prefix.split('/').count() + 1;
        let mut versions: Vec<String> = self
            .store
            .list(prefix)
            .await?
            .into_iter()
            .filter(|k| k.split('/').count() == depth)
            .filter_map(|k| k.rsplit('/').next().map(str::to_string))
            .collect();
        versions.sort();
        Ok(versions)
    }

    /// Reads apps, instances, deployments and the framework id from the store.
    pub(super) async fn load(&mut self) -> Result<(), ServiceError> {
        let store = self.store.clone();
        let mut apps = vec![];
        for key in store.list("apps").await? {
            if let Some(bytes) = store.get(&key).await? {
                match serde_json::from_slice::<AppDefinition>(&bytes) {
                    Ok(app) => apps.push(app),
                    Err(e) => tracing::error!(%key, "cannot read a stored app: {e}"),
                }
            }
        }
        let mut instances = vec![];
        for key in store.list("instances").await? {
            if let Some(bytes) = store.get(&key).await? {
                match serde_json::from_slice::<Instance>(&bytes) {
                    Ok(i) => instances.push(i),
                    Err(e) => tracing::error!(%key, "cannot read a stored instance: {e}"),
                }
            }
        }
        for key in store.list("deployments").await? {
            if let Some(bytes) = store.get(&key).await? {
                match serde_json::from_slice::<super::Deployment>(&bytes) {
                    Ok(d) => {
                        self.deployments.insert(d.id.clone(), d);
                    }
                    Err(e) => tracing::error!(%key, "cannot read a stored deployment: {e}"),
                }
            }
        }
        self.framework_id = store
            .get(FRAMEWORK_ID_KEY)
            .await?
            .and_then(|b| String::from_utf8(b).ok());
        tracing::info!(
            apps = apps.len(),
            instances = instances.len(),
            deployments = self.deployments.len(),
            framework_id = ?self.framework_id,
            "state loaded"
        );
        self.tracker.load(apps, instances);
        self.replay_mesos_health();
        // The plans hold their apps before anything converges (see `deployments`).
        self.run_deployments().await?;
        let effects = self.tracker.converge(super::now_ms());
        self.execute(effects).await
    }

    /// Carries out the tracker's effects: every write in one batch first, then the calls.
    pub(super) async fn execute(&mut self, effects: Vec<Effect>) -> Result<(), ServiceError> {
        let mut ops = vec![];
        let mut calls = vec![];
        for e in effects {
            match e {
                Effect::Persist(i) => ops.push(put_instance(&i)),
                Effect::Expunge { task_id } => ops.push(Op::delete(instance_key(&task_id))),
                other => calls.push(other),
            }
        }
        if !ops.is_empty() {
            self.store.apply(ops).await?;
        }
        let Some(scheduler) = self.scheduler.clone() else {
            return Ok(());
        };
        let role = self.config.mesos_role.clone();
        for call in calls {
            let s = scheduler.clone();
            let role = role.clone();
            match call {
                Effect::Kill { task_id, agent_id } => {
                    tokio::spawn(async move {
                        let agent = agent_id.map(|value| v1::AgentId { value });
                        if let Err(e) = s
                            .kill(
                                v1::TaskId {
                                    value: task_id.clone(),
                                },
                                agent,
                            )
                            .await
                        {
                            tracing::warn!(task = %task_id, "kill call failed: {e}");
                        }
                    });
                }
                Effect::Revive => {
                    tracing::debug!("reviving offers");
                    tokio::spawn(async move {
                        if let Err(e) = s.revive(vec![role]).await {
                            tracing::debug!("revive call failed: {e}");
                        }
                    });
                }
                Effect::Suppress => {
                    tracing::debug!("suppressing offers");
                    tokio::spawn(async move {
                        if let Err(e) = s.suppress(vec![role]).await {
                            tracing::debug!("suppress call failed: {e}");
                        }
                    });
                }
                Effect::Persist(_) | Effect::Expunge { .. } => unreachable!("handled above"),
            }
        }
        Ok(())
    }
}
