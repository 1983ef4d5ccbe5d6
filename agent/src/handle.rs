//! What every HTTP handler holds to reach the core: its query queue, the flags, the
//! tree `/files` serves and the nested containers. Below the endpoint modules (`http`, `operator`, `executor_api`),
//! so that they share it without naming each other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::agent::views::Inspect;
use crate::agent::{Core, Query};
use crate::docker::DockerRuntime;
use crate::nested::NestedContainers;

#[derive(Clone)]
pub struct HttpState {
    pub queries: mpsc::Sender<Query>,
    pub flags: Arc<BTreeMap<String, String>>,
    /// `<work_dir>/slaves`: the only tree `/files` serves.
    pub sandboxes_root: PathBuf,
    /// Containers nested in tasks (`task exec`).
    pub nested: NestedContainers,
    /// The Docker daemon, when `--containerizers` lists docker (exec into Docker tasks).
    pub docker: Option<DockerRuntime>,
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
