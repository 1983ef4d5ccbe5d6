//! A `marathon` process against a test cluster, and the REST calls tests make to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::cluster::{wait_ready, Cluster};
use crate::eventually;
use crate::http;
use crate::process::{binary, free_port, Proc};
use crate::zookeeper::HaCluster;

/// A running Marathon. Killed on drop (through [`Proc`]).
pub struct Marathon {
    pub proc: Proc,
    pub port: u16,
    pub store_path: PathBuf,
    /// `user:password` of `--http_credentials`, sent by [`Marathon::get`] and
    /// [`Marathon::send`] (not by [`Marathon::url`]'s plain URL).
    pub credentials: Option<String>,
}

/// The value of `--http_credentials` in `args` (either `--flag=value` or `--flag value`).
fn http_credentials(args: &[String]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--http_credentials=")
            .map(str::to_string)
            .or_else(|| {
                (a == "--http_credentials")
                    .then(|| args.get(i + 1).cloned())
                    .flatten()
            })
    })
}

impl Marathon {
    /// A single Marathon (no HA) with its embedded store in the cluster's temp dir.
    pub async fn start(cluster: &Cluster, extra: &[&str]) -> Marathon {
        let store_path = cluster.root().join(format!("marathon-{}.db", free_port()));
        let mut args = vec![
            "--disable_ha".to_string(),
            "--internal_store_backend".to_string(),
            "embedded".to_string(),
            "--store_path".to_string(),
            store_path.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::start_with(cluster.root(), &cluster.master_addr(), args, store_path).await
    }

    /// One of several Marathons of an HA cluster: state and leader election in its
    /// ZooKeeper, with `--zk_session_timeout` `session_ms`.
    pub async fn start_ha(cluster: &HaCluster, session_ms: u64) -> Marathon {
        Self::start_ha_with(cluster, session_ms, &[]).await
    }

    /// Like [`Marathon::start_ha`], with `extra` flags.
    pub async fn start_ha_with(cluster: &HaCluster, session_ms: u64, extra: &[&str]) -> Marathon {
        let servers = cluster.zk.servers();
        let mut args = vec![
            "--zk".to_string(),
            format!("zk://{servers}/marathon"),
            "--zk_session_timeout".to_string(),
            session_ms.to_string(),
            "--internal_store_backend".to_string(),
            "zk".to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let master = format!("zk://{servers}{}", cluster.path);
        Self::start_with(cluster.root(), &master, args, Default::default()).await
    }

    /// A Marathon with `args` (after `--master`, `--http_address`, `--http_port`,
    /// `--hostname`, each replaced when `args` gives it), its logs in `root`.
    pub async fn start_with(
        root: &Path,
        master: &str,
        args: Vec<String>,
        store_path: PathBuf,
    ) -> Marathon {
        for attempt in 1..=3 {
            let port = free_port();
            let standard = [
                ("--master", master.to_string()),
                ("--http_address", "127.0.0.1".to_string()),
                ("--http_port", port.to_string()),
                ("--hostname", "127.0.0.1".to_string()),
                ("--reconciliation_initial_delay", "1000".to_string()),
                ("--decline_offer_duration", "1000".to_string()),
            ];
            // A flag given in `args` replaces the standard one (Marathon refuses a flag
            // given twice).
            let mut all: Vec<String> = standard
                .into_iter()
                .filter(|(flag, _)| !args.iter().any(|a| a == flag))
                .flat_map(|(flag, value)| [flag.to_string(), value])
                .collect();
            all.extend(args.iter().cloned());
            let credentials = http_credentials(&args);
            let mut proc = Proc::spawn_with_env(
                &format!("marathon-{port}"),
                &binary("marathon"),
                all,
                crate::zookeeper::log_level(),
                root,
            );
            let userinfo = credentials
                .as_ref()
                .map(|c| format!("{c}@"))
                .unwrap_or_default();
            match wait_ready(
                &mut proc,
                &format!("http://{userinfo}127.0.0.1:{port}/ping"),
            )
            .await
            {
                Ok(()) => {
                    let marathon = Marathon {
                        proc,
                        port,
                        store_path,
                        credentials,
                    };
                    // /ping answers at once; the API once a leader is known (this one,
                    // or the one a standby proxies to).
                    eventually("a leading Marathon", Duration::from_secs(60), async || {
                        (marathon.get("/v2/leader").await.status == 200).then_some(())
                    })
                    .await;
                    return marathon;
                }
                Err(why) if attempt < 3 && proc.try_exit().is_some() => {
                    eprintln!("marathon on {port} did not start ({why}); retrying");
                }
                Err(why) => panic!("marathon did not start: {why}\n{}", proc.log_tail(60)),
            }
        }
        unreachable!()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// [`Marathon::url`] with the credentials as userinfo, when there are any.
    pub fn authed_url(&self, path: &str) -> String {
        match &self.credentials {
            Some(c) => format!("http://{c}@127.0.0.1:{}{path}", self.port),
            None => self.url(path),
        }
    }

    pub async fn get(&self, path: &str) -> http::Response {
        http::get(&self.authed_url(path)).await
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> http::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = http::client().request(method, self.authed_url(path));
        if let Some(b) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        http::send(request)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The app's tasks (`GET /v2/apps/{id}/tasks`).
    pub async fn tasks(&self, app: &str) -> Vec<Value> {
        let r = self.get(&format!("/v2/apps{app}/tasks")).await;
        if r.status != 200 {
            return vec![];
        }
        r.json()["tasks"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `app` has exactly `n` tasks, all TASK_RUNNING, and returns them.
    pub async fn wait_running(&self, app: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let what = format!("{n} running tasks of {app}");
        eventually(&what, timeout, async || {
            let tasks = self.tasks(app).await;
            let running = tasks
                .iter()
                .filter(|t| t["state"] == "TASK_RUNNING")
                .count();
            (tasks.len() == n && running == n).then_some(tasks)
        })
        .await
    }

    /// Waits until no deployment is left.
    pub async fn wait_deployments_done(&self, timeout: Duration) {
        eventually("no deployment left", timeout, async || {
            let r = self.get("/v2/deployments").await;
            (r.status == 200 && r.json().as_array().is_some_and(|a| a.is_empty())).then_some(())
        })
        .await
    }
}

/// Task ids of a task list.
pub fn task_ids(tasks: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = tasks
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}
