//! What every HTTP handler holds to reach the core: its query queue, the flags and the
//! tree `/files` serves. Below the endpoint modules (`http`, `operator`, `executor_api`),
//! so that they share it without naming each other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::agent::Query;

#[derive(Clone)]
pub struct HttpState {
    pub queries: mpsc::Sender<Query>,
    pub flags: Arc<BTreeMap<String, String>>,
    /// `<work_dir>/slaves`: the only tree `/files` serves.
    pub sandboxes_root: PathBuf,
}
