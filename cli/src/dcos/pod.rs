//! `dcos marathon pod add|list|show|update|remove|kill`, against `/v2/pods`: list reads
//! `/v2/pods/::status` and `/v2/queue` (a pod waiting for a launch is WAITING).

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::table::{pretty, python_bool, table, text};
use super::{absolute, fail, force_param, items, read_json, Client, DcosError};

#[derive(Debug, Subcommand)]
pub enum PodCommand {
    /// Add a pod from a JSON file (standard input without one).
    Add { pod_resource: Option<PathBuf> },
    /// List the pods: ID +TASKS INSTANCES VERSION STATUS STATUS SINCE WAITING.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a pod's definition.
    Show { pod_id: String },
    /// Replace a pod with the JSON definition on standard input.
    Update {
        #[arg(long)]
        force: bool,
        pod_id: String,
    },
    /// Remove a pod and stop its instances.
    Remove {
        #[arg(long)]
        force: bool,
        pod_id: String,
    },
    /// Kill instances of a pod (Marathon replaces them).
    Kill {
        pod_id: String,
        #[arg(required = true)]
        instance_ids: Vec<String>,
    },
}

/// `pod list`: one row per pod from its status; `waiting` the ids `/v2/queue` shows as
/// waiting for a launch.
pub fn pod_table(statuses: &[Value], waiting: &[String]) -> String {
    let rows = statuses
        .iter()
        .map(|s| {
            let id = text(&s["id"]);
            vec![
                id.clone(),
                items(&s["spec"]["containers"]).len().to_string(),
                items(&s["instances"]).len().to_string(),
                text(&s["spec"]["version"]),
                text(&s["status"]),
                text(&s["statusSince"]),
                python_bool(waiting.contains(&id)),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "+TASKS",
            "INSTANCES",
            "VERSION",
            "STATUS",
            "STATUS SINCE",
            "WAITING",
        ],
        rows,
    )
}

fn pod_path(id: &str) -> String {
    format!("/v2/pods{}", absolute(id))
}

pub async fn run(
    client: &Client,
    command: PodCommand,
    out: &mut dyn Write,
) -> Result<(), DcosError> {
    let printed = match command {
        PodCommand::Add { pod_resource } => {
            let pod = read_json(pod_resource.as_ref())?;
            if pod["id"].as_str().is_none() {
                return fail("the pod definition has no \"id\"");
            }
            client.call(Method::POST, "/v2/pods", Some(&pod)).await?;
            String::new()
        }
        PodCommand::List { json } => {
            let statuses = items(&client.get("/v2/pods/::status").await?);
            if json {
                pretty(&Value::Array(statuses))
            } else {
                let waiting: Vec<String> = items(&client.get("/v2/queue").await?["queue"])
                    .iter()
                    .filter(|q| q["delay"]["overdue"] == true)
                    .map(|q| text(&q["pod"]["id"]))
                    .collect();
                pod_table(&statuses, &waiting)
            }
        }
        PodCommand::Show { pod_id } => pretty(&client.get(&pod_path(&pod_id)).await?),
        PodCommand::Update { force, pod_id } => {
            client.get(&pod_path(&pod_id)).await?;
            let mut pod = read_json(None)?;
            pod["id"] = json!(absolute(&pod_id));
            client
                .send(
                    Method::PUT,
                    &pod_path(&pod_id),
                    &force_param(force),
                    Some(&pod),
                )
                .await?;
            String::new()
        }
        PodCommand::Remove { force, pod_id } => {
            client
                .send(
                    Method::DELETE,
                    &pod_path(&pod_id),
                    &force_param(force),
                    None,
                )
                .await?;
            String::new()
        }
        PodCommand::Kill {
            pod_id,
            instance_ids,
        } => {
            let path = format!("{}::instances", pod_path(&pod_id));
            let killed = client
                .call(Method::DELETE, &path, Some(&json!(instance_ids)))
                .await?;
            let ids: Vec<String> = items(&killed)
                .iter()
                .map(|i| text(&i["instanceId"]["idString"]))
                .collect();
            if ids.is_empty() {
                return fail(format!(
                    "No instance of pod {} was killed",
                    absolute(&pod_id)
                ));
            }
            format!("Killed instances: {}\n", ids.join(", "))
        }
    };
    super::emit(out, &printed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_table_has_the_dcos_columns() {
        let statuses = vec![json!({
            "id": "/shop/web", "status": "STABLE", "statusSince": "2026-01-01T00:00:00.000Z",
            "spec": {"version": "2026-01-01T00:00:00.000Z", "containers": [{}, {}]},
            "instances": [{}]
        })];
        let t = pod_table(&statuses, &[]);
        let mut lines = t.lines();
        let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            head,
            [
                "ID",
                "+TASKS",
                "INSTANCES",
                "VERSION",
                "STATUS",
                "STATUS",
                "SINCE",
                "WAITING"
            ]
        );
        let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(row[..3], ["/shop/web", "2", "1"]);
        assert_eq!(row[4], "STABLE");
        assert_eq!(row[6], "False");
    }
}
