//! `dcos marathon task list|show|stop`, against `/v2/tasks`.

use std::io::Write;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::table::{pretty, python_bool, table, text};
use super::{absolute, emit, fail, items, Client, DcosError};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List the tasks, of one app or all.
    List {
        #[arg(long)]
        json: bool,
        app_id: Option<String>,
    },
    /// Show one task.
    Show { task_id: String },
    /// Stop (kill) one task; Marathon replaces it. `--wipe` also drops its reservations
    /// and persistent volumes.
    Stop {
        #[arg(long)]
        wipe: bool,
        task_id: String,
    },
}

/// `task list`: APP HEALTHY STARTED HOST ID.
pub fn task_table(tasks: &[Value]) -> String {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let healthy = items(&t["healthCheckResults"])
                .iter()
                .all(|c| c["alive"] == true);
            let started = match &t["startedAt"] {
                Value::String(s) => s.clone(),
                _ => "N/A".to_string(),
            };
            vec![
                text(&t["appId"]),
                python_bool(healthy),
                started,
                text(&t["host"]),
                text(&t["id"]),
            ]
        })
        .collect();
    table(&["APP", "HEALTHY", "STARTED", "HOST", "ID"], rows)
}

fn no_such_task<T>(id: &str) -> Result<T, DcosError> {
    fail(format!("Task '{id}' does not exist"))
}

pub async fn run(
    client: &Client,
    command: TaskCommand,
    out: &mut dyn Write,
) -> Result<(), DcosError> {
    let printed = match command {
        TaskCommand::List { json, app_id } => {
            let tasks: Vec<Value> = items(&client.get("/v2/tasks").await?["tasks"])
                .into_iter()
                .filter(|t| app_id.as_ref().is_none_or(|id| t["appId"] == absolute(id)))
                .collect();
            if json {
                pretty(&Value::Array(tasks))
            } else {
                task_table(&tasks)
            }
        }
        TaskCommand::Show { task_id } => {
            let tasks = items(&client.get("/v2/tasks").await?["tasks"]);
            match tasks.iter().find(|t| t["id"] == task_id.as_str()) {
                Some(task) => pretty(task),
                None => return no_such_task(&task_id),
            }
        }
        TaskCommand::Stop { wipe, task_id } => {
            let query = if wipe {
                vec![("wipe", "true".to_string())]
            } else {
                vec![]
            };
            let body = json!({ "ids": [task_id] });
            let answer = client
                .send(Method::POST, "/v2/tasks/delete", &query, Some(&body))
                .await?;
            match items(&answer["tasks"])
                .iter()
                .find(|t| t["id"] == task_id.as_str())
            {
                Some(task) => pretty(task),
                None => return no_such_task(&task_id),
            }
        }
    };
    emit(out, &printed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_table_is_healthy_unless_a_check_is_not_alive() {
        let tasks = [
            json!({"appId": "/b", "id": "b.1", "host": "h", "startedAt": null,
                "healthCheckResults": [{"alive": false}]}),
            json!({"appId": "/a", "id": "a.1", "host": "h",
                "startedAt": "2026-01-01T00:00:00.000Z"}),
        ];
        assert_eq!(
            task_table(&tasks),
            "APP  HEALTHY  STARTED                   HOST  ID\n\
             /a   True     2026-01-01T00:00:00.000Z  h     a.1\n\
             /b   False    N/A                       h     b.1\n"
        );
    }
}
