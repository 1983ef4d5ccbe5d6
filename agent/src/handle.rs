//! What every HTTP handler holds to reach the core: its query queue, the flags, the
//! tree `/files` serves and the nested containers. Below the endpoint modules (`http`, `operator`, `executor_api`),
//! so that they share it without naming each other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use mesos_common::auth::{Acls, Principal};
use tokio::sync::{mpsc, oneshot};

use crate::agent::views::Inspect;
use crate::agent::{Core, Query};
use crate::authorization::{sandbox_of, SandboxPath, Viewer};
use crate::docker::DockerRuntime;
use crate::nested::NestedContainers;

#[derive(Clone)]
pub struct HttpState {
    pub queries: mpsc::Sender<Query>,
    pub flags: Arc<BTreeMap<String, String>>,
    /// Listening beyond loopback with authentication off (`/flags` says so).
    pub exposure: Option<Arc<mesos_common::exposure::ExposureWarning>>,
    /// `<work_dir>/slaves`: the only tree `/files` serves.
    pub sandboxes_root: PathBuf,
    /// Containers nested in tasks (`task exec`).
    pub nested: NestedContainers,
    /// The Docker daemon, when `--containerizers` lists docker (exec into Docker tasks).
    pub docker: Option<DockerRuntime>,
    /// `--acls`.
    pub acls: Arc<Acls>,
}

impl HttpState {
    /// Who asks, as the ACLs see them.
    pub fn viewer(&self, principal: Option<&Principal>) -> Viewer {
        Viewer::new(
            self.acls.clone(),
            principal.and_then(|p| p.name()).map(str::to_string),
        )
    }

    /// Whether the viewer may read the `/files` path `requested`: `access_sandboxes` on
    /// the users of the sandbox it resolves to (looked up in the core). A path that does
    /// not resolve inside the sandboxes passes: the endpoint answers 400 or 404 for it.
    pub async fn may_read(&self, viewer: &Viewer, requested: &str) -> bool {
        if viewer.reads_every_sandbox() {
            return true;
        }
        let Ok(path) = crate::files::confine(&self.sandboxes_root, requested) else {
            return true;
        };
        let root = self
            .sandboxes_root
            .canonicalize()
            .unwrap_or_else(|_| self.sandboxes_root.clone());
        match sandbox_of(&root, &path) {
            SandboxPath::Above => viewer.may_browse_above_sandboxes(),
            SandboxPath::Executor {
                framework_id,
                executor_id,
            } => inspect(self, move |core| {
                core.sandbox_owner(&framework_id, &executor_id)
            })
            .await
            .is_some_and(|owner| viewer.may_access_sandbox(&owner)),
        }
    }
}

/// Runs `read` on the core's actor; None when the agent is shutting down.
pub(crate) async fn inspect<T: Send + 'static>(
    state: &HttpState,
    read: impl FnOnce(&Core) -> T + Send + 'static,
) -> Option<T> {
    let (reply, answer) = oneshot::channel();
    let query = Query::Inspect(Inspect(Box::new(move |core| {
        let _ = reply.send(read(core));
    })));
    state.queries.send(query).await.ok()?;
    answer.await.ok()
}
