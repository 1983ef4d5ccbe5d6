//! `dcos ...`: the DC/OS CLI's commands for a Mesos + Marathon cluster, with its tables
//! (the columns of dcos-cli's `tables.py`), `--json`, and exit status 1 with one
//! `Error: ...` line on any failure.
//!
//! - `dcos marathon app|deployment|task|group|pod ...` against Marathon's REST API v2
//!   ([`app`], [`deployment`], [`marathon_task`], [`group`], [`pod`]);
//! - `dcos node`, `dcos service`, `dcos task [log]` against the master's `/master/state`
//!   and the agents' `/state` and `/files/read` ([`mesos`], [`task_log`]).
//!
//! Where Marathon and the master are: see [`config`].
//!
//! ```text
//!  argv ─clap─▶ Top ─run()─▶ Client (Marathon | master | agent) ─▶ table | JSON | lines ─▶ out
//! ```

pub mod app;
pub mod client;
pub mod config;
pub mod deployment;
pub mod group;
pub mod marathon_task;
pub mod mesos;
pub mod pod;
pub mod table;
pub mod task_log;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

pub use client::Client;
use config::{Env, MasterLocation};

#[derive(Debug, Parser)]
#[command(
    name = "dcos",
    version,
    about = "The DC/OS CLI's commands for Marathon and Mesos"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Top,
}

#[derive(Debug, Subcommand)]
pub enum Top {
    /// Deploy and manage applications.
    Marathon {
        #[command(subcommand)]
        command: Marathon,
    },
    /// List the cluster's nodes: the leading master and the agents.
    Node {
        #[arg(long)]
        json: bool,
    },
    /// List the services (Mesos frameworks).
    Service {
        /// Also list inactive services.
        #[arg(long)]
        inactive: bool,
        /// Also list completed services.
        #[arg(long)]
        completed: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the tasks, or print a task's sandbox file with `log`.
    #[command(args_conflicts_with_subcommands = true)]
    Task {
        #[command(subcommand)]
        command: Option<mesos::TaskCommand>,
        #[command(flatten)]
        filter: mesos::TaskFilter,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Marathon {
    /// Manage apps.
    App {
        #[command(subcommand)]
        command: app::AppCommand,
    },
    /// Manage deployments.
    Deployment {
        #[command(subcommand)]
        command: deployment::DeploymentCommand,
    },
    /// Manage tasks.
    Task {
        #[command(subcommand)]
        command: marathon_task::TaskCommand,
    },
    /// Manage groups.
    Group {
        #[command(subcommand)]
        command: group::GroupCommand,
    },
    /// Manage pods.
    Pod {
        #[command(subcommand)]
        command: pod::PodCommand,
    },
}

/// A failure, shown as `Error: <message>`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DcosError(pub String);

pub fn fail<T>(message: impl Into<String>) -> Result<T, DcosError> {
    Err(DcosError(message.into()))
}

/// What the commands talk to.
pub struct Context {
    pub marathon: Client,
    master: MasterLocation,
    token: Option<String>,
    resolved_master: OnceCell<Client>,
}

impl Context {
    /// From the environment and the config file's text.
    pub fn new(env: &Env, config_file: Option<&str>) -> Context {
        let token = config::acs_token(env, config_file);
        Context {
            marathon: Client::new("Marathon", config::marathon_url(env, config_file))
                .with_token(token.clone()),
            master: config::master_location(env, config_file),
            token,
            resolved_master: OnceCell::new(),
        }
    }

    /// The leading master, resolving a ZooKeeper election the first time.
    pub async fn master(&self) -> Result<&Client, DcosError> {
        self.resolved_master
            .get_or_try_init(|| async {
                let base = match &self.master {
                    MasterLocation::Url(url) => url.clone(),
                    MasterLocation::Address(address) => {
                        crate::master::Master::connect(address)
                            .await
                            .map_err(|e| DcosError(e.0))?
                            .url
                    }
                };
                Ok(Client::new("the Mesos master", base).with_token(self.token.clone()))
            })
            .await
    }
}

/// Writes `text` now (a follower's reader sees each line as it comes).
pub fn emit(out: &mut dyn Write, text: &str) -> Result<(), DcosError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| DcosError(format!("writing the output: {e}")))
}

/// Runs a command, writing what it prints to `out`.
pub async fn run(ctx: &Context, command: Top, out: &mut dyn Write) -> Result<(), DcosError> {
    match command {
        Top::Marathon { command } => match command {
            Marathon::App { command } => app::run(&ctx.marathon, command, out).await,
            Marathon::Deployment { command } => deployment::run(&ctx.marathon, command, out).await,
            Marathon::Task { command } => marathon_task::run(&ctx.marathon, command, out).await,
            Marathon::Group { command } => group::run(&ctx.marathon, command, out).await,
            Marathon::Pod { command } => pod::run(&ctx.marathon, command, out).await,
        },
        Top::Node { json } => mesos::node(ctx.master().await?, json, out).await,
        Top::Service {
            inactive,
            completed,
            json,
        } => mesos::service(ctx.master().await?, inactive, completed, json, out).await,
        Top::Task {
            command: None,
            filter,
            json,
        } => mesos::task(ctx.master().await?, &filter, json, out).await,
        Top::Task {
            command: Some(mesos::TaskCommand::Log(log)),
            ..
        } => task_log::run(ctx.master().await?, log, out).await,
    }
}

/// `/demo` for `demo`: Marathon's ids are absolute.
pub fn absolute(id: &str) -> String {
    format!("/{}", id.trim_matches('/'))
}

/// `?force=true` when asked for.
fn force_param(force: bool) -> Vec<(&'static str, String)> {
    if force {
        vec![("force", "true".to_string())]
    } else {
        vec![]
    }
}

/// `instances=3 cmd="sleep 9" labels={"a":"b"}` as a JSON object.
pub fn parse_properties(properties: &[String]) -> Result<Map<String, Value>, DcosError> {
    let mut out = Map::new();
    for property in properties {
        let Some((key, value)) = property.split_once('=') else {
            return fail(format!(
                "'{property}' is not a property: expected <name>=<value>"
            ));
        };
        let value =
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
        if out.insert(key.to_string(), value).is_some() {
            return fail(format!("Key '{key}' was specified more than once"));
        }
    }
    Ok(out)
}

/// `key=value` properties, or a JSON object on standard input when there are none (as
/// `app update` and `group update` take them).
fn update_from(properties: &[String]) -> Result<Value, DcosError> {
    if properties.is_empty() {
        read_json(None)
    } else {
        parse_properties(properties).map(Value::Object)
    }
}

fn deployment_created(answer: &Value) -> String {
    format!(
        "Created deployment {}\n",
        table::text(&answer["deploymentId"])
    )
}

/// Reads JSON from a file, or from standard input when there is none.
pub fn read_json(resource: Option<&PathBuf>) -> Result<Value, DcosError> {
    let (name, text) = match resource {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                DcosError(format!(
                    "Can't read from resource: {} ({e})",
                    path.display()
                ))
            })?;
            (path.display().to_string(), text)
        }
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| DcosError(format!("Can't read standard input: {e}")))?;
            ("standard input".to_string(), text)
        }
    };
    serde_json::from_str(&text)
        .map_err(|e| DcosError(format!("Error loading JSON from {name}: {e}")))
}

/// A JSON array's items (none for anything else).
fn items(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_are_json_or_strings() {
        let props: Vec<String> = ["instances=3", "cmd=sleep 9", "labels={\"a\":\"b\"}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            Value::Object(parse_properties(&props).unwrap()),
            json!({"instances": 3, "cmd": "sleep 9", "labels": {"a": "b"}})
        );
        assert!(parse_properties(&["instances".to_string()]).is_err());
        let twice = ["a=1".to_string(), "a=2".to_string()];
        assert_eq!(
            parse_properties(&twice).unwrap_err().0,
            "Key 'a' was specified more than once"
        );
    }

    #[test]
    fn the_dcos_argument_forms_parse() {
        for line in [
            "dcos marathon app update --force demo instances=3",
            "dcos marathon app show --app-version=-1 demo",
            "dcos marathon app kill --scale --host=h demo",
            "dcos marathon app version list --max-count=2 demo",
            "dcos marathon deployment watch --max-count=3 --interval=1 d",
            "dcos marathon task stop --wipe t",
            "dcos marathon group scale --force g 2.5",
            "dcos marathon group show --group-version=-1 g",
            "dcos marathon pod kill p i1 i2",
            "dcos marathon pod update --force p",
            "dcos task --completed --json demo",
            "dcos task log --follow --lines=5 demo stderr",
            "dcos task",
            "dcos service --inactive --completed",
            "dcos node --json",
        ] {
            Cli::try_parse_from(line.split(' ')).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
        let Top::Task {
            command: None,
            filter,
            ..
        } = Cli::try_parse_from(["dcos", "task", "web*"])
            .unwrap()
            .command
        else {
            panic!("`dcos task web*` lists tasks")
        };
        assert_eq!(filter.task.as_deref(), Some("web*"));
    }
}
