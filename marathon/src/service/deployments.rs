//! Deployments as this step of Marathon runs them: every change is one deployment that
//! locks its apps until they match their definitions, then it is done. (Rolling restarts
//! with upgrade strategies plan finer steps; see the deployment planner issue.)

use serde::{Deserialize, Serialize};

use super::persist::{deployment_key, put_app};
use super::{now_ms, ChangeResult, Service, ServiceError};
use crate::app::{AppDefinition, PathId};
use crate::instance::Condition;
use crate::storage::Op;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub version: String,
    /// Steps run one after another; each is a list of `(action, app)`.
    pub steps: Vec<Vec<(String, PathId)>>,
    /// Each affected app as it was before (None: it did not exist), for rollback.
    pub original: Vec<(PathId, Option<AppDefinition>)>,
}

impl Deployment {
    pub fn affects(&self, app: &PathId) -> bool {
        self.original.iter().any(|(id, _)| id == app)
    }

    pub fn affected_apps(&self) -> Vec<&PathId> {
        self.original.iter().map(|(id, _)| id).collect()
    }
}

impl Service {
    /// An app matches its definition: as many current, running instances as wanted and
    /// nothing else alive; a removed app has nothing alive.
    pub(super) fn converged(&self, id: &PathId) -> bool {
        let alive = self
            .tracker
            .instances_of(id)
            .filter(|i| !i.condition.is_terminal());
        match self.tracker.app(id) {
            None => alive.count() == 0,
            Some(app) => {
                let mut current = 0;
                for i in alive {
                    let ok = i.is_active()
                        && i.config_version == app.version_info.last_config_change_at
                        && i.condition == Condition::Running;
                    if !ok {
                        return false;
                    }
                    current += 1;
                }
                current == app.instances as usize
            }
        }
    }

    pub(super) async fn finish_deployments(&mut self) -> Result<(), ServiceError> {
        let done: Vec<String> = self
            .deployments
            .values()
            .filter(|d| d.affected_apps().into_iter().all(|a| self.converged(a)))
            .map(|d| d.id.clone())
            .collect();
        if done.is_empty() {
            return Ok(());
        }
        self.store
            .apply(
                done.iter()
                    .map(|id| Op::delete(deployment_key(id)))
                    .collect(),
            )
            .await?;
        for id in done {
            tracing::info!(deployment = %id, "deployment finished");
            self.deployments.remove(&id);
        }
        Ok(())
    }

    /// `DELETE /v2/deployments/{id}`: with `force` the deployment is only forgotten;
    /// without, a new deployment takes its apps back to how they were.
    pub(super) async fn cancel_deployment(
        &mut self,
        id: &str,
        force: bool,
    ) -> Result<Option<ChangeResult>, ServiceError> {
        let Some(deployment) = self.deployments.get(id).cloned() else {
            return Err(ServiceError::UnknownDeployment(id.to_string()));
        };
        if force {
            self.store.delete(&deployment_key(id)).await?;
            self.deployments.remove(id);
            return Ok(None);
        }
        let now = now_ms();
        let version = crate::views::iso(now);
        let mut ops = vec![Op::delete(deployment_key(id))];
        let mut steps = vec![];
        let mut original = vec![];
        let mut restored = vec![];
        for (app_id, before) in &deployment.original {
            original.push((app_id.clone(), self.tracker.app(app_id).cloned()));
            match before {
                Some(app) => {
                    let mut app = app.clone();
                    app.version = version.clone();
                    app.version_info.last_config_change_at = version.clone();
                    app.version_info.last_scaling_at = version.clone();
                    ops.extend(put_app(&app));
                    steps.push(vec![("RestartApplication".to_string(), app_id.clone())]);
                    restored.push(Some(app));
                }
                None => {
                    ops.push(Op::delete(super::persist::app_key(app_id)));
                    steps.push(vec![("StopApplication".to_string(), app_id.clone())]);
                    restored.push(None);
                }
            }
        }
        let rollback = Deployment {
            id: uuid::Uuid::new_v4().to_string(),
            version: version.clone(),
            steps,
            original,
        };
        ops.push(Op::put(
            deployment_key(&rollback.id),
            serde_json::to_vec(&rollback).expect("deployments serialize"),
        ));
        self.store.apply(ops).await?;
        self.deployments.remove(id);
        let mut effects = vec![];
        for ((app_id, _), app) in deployment.original.iter().zip(restored) {
            effects.extend(match app {
                Some(app) => self.tracker.put_app(app, now),
                None => self.tracker.remove_app(app_id, now),
            });
        }
        self.execute(effects).await?;
        let result = ChangeResult {
            deployment_id: rollback.id.clone(),
            version,
            apps: vec![],
            created: false,
        };
        self.deployments.insert(rollback.id.clone(), rollback);
        Ok(Some(result))
    }
}
