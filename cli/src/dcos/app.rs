//! `dcos marathon app ...`: add, list, show (any version), update, remove, restart, kill
//! and version list, against `/v2/apps`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::table::{pretty, python_bool, table, text, EMPTY};
use super::{
    absolute, deployment_created, emit, fail, force_param, items, read_json, update_from, Client,
    DcosError,
};

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Add an application from a JSON file (standard input without one).
    Add { app_resource: Option<PathBuf> },
    /// List the installed applications.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show the definition of an application, of its current version or another: an
    /// ISO 8601 version, or a negative number counting back from the current one.
    Show {
        #[arg(long = "app-version", allow_hyphen_values = true)]
        app_version: Option<String>,
        app_id: String,
    },
    /// Update an application: `key=value` properties (values are JSON, else strings), or
    /// a JSON object on standard input.
    Update {
        #[arg(long)]
        force: bool,
        app_id: String,
        properties: Vec<String>,
    },
    /// Remove an application.
    Remove {
        #[arg(long)]
        force: bool,
        app_id: String,
    },
    /// Restart an application.
    Restart {
        #[arg(long)]
        force: bool,
        app_id: String,
    },
    /// Kill an application's tasks (on one host with `--host`); `--scale` lowers its
    /// instance count by as many.
    Kill {
        #[arg(long)]
        scale: bool,
        #[arg(long)]
        host: Option<String>,
        app_id: String,
    },
    /// An application's version history.
    Version {
        #[command(subcommand)]
        command: VersionCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// List the versions of an application, newest first.
    List {
        #[arg(long = "max-count", allow_hyphen_values = true)]
        max_count: Option<i64>,
        app_id: String,
    },
}

/// The DC/OS CLI's word for a deployment step's action.
pub fn action_word(action: &str) -> &str {
    match action {
        "StartApplication" | "StartPod" => "start",
        "StopApplication" | "StopPod" => "stop",
        "RestartApplication" | "RestartPod" => "restart",
        "ScaleApplication" | "ScalePod" => "scale",
        "ResolveArtifacts" => "artifacts",
        "KillAllOldTasksOf" => "kill-tasks",
        other => other,
    }
}

/// `app list`: ID MEM CPUS TASKS HEALTH DEPLOYMENT WAITING CONTAINER CMD.
pub fn app_table(apps: &[Value], deployments: &[Value], queue: &[Value]) -> String {
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            let health = if app["healthChecks"]
                .as_array()
                .is_some_and(|h| !h.is_empty())
            {
                format!("{}/{}", app["tasksHealthy"], app["tasksRunning"])
            } else {
                EMPTY.to_string()
            };
            let actions: Vec<String> = deployments
                .iter()
                .flat_map(|d| items(&d["currentActions"]))
                .filter(|a| a["app"] == app["id"])
                .map(|a| action_word(a["action"].as_str().unwrap_or_default()).to_string())
                .collect();
            let deployment = match actions.len() {
                0 => EMPTY.to_string(),
                1 => actions[0].clone(),
                _ => format!("({})", actions.join(", ")),
            };
            let waiting = queue
                .iter()
                .any(|q| q["app"]["id"] == app["id"] && q["delay"]["overdue"] == true);
            let container = match &app["container"]["type"] {
                Value::String(t) => t.clone(),
                _ => "mesos".to_string(),
            };
            let cmd = match &app["cmd"] {
                Value::String(c) => c.clone(),
                _ => text(&app["args"]),
            };
            let cmd = if cmd.chars().count() > 35 {
                cmd.chars().take(32).collect::<String>() + "..."
            } else {
                cmd
            };
            vec![
                text(&app["id"]),
                text(&app["mem"]),
                text(&app["cpus"]),
                format!("{}/{}", app["tasksRunning"], app["instances"]),
                health,
                deployment,
                python_bool(waiting),
                container,
                cmd,
            ]
        })
        .collect();
    let titles = [
        "ID",
        "MEM",
        "CPUS",
        "TASKS",
        "HEALTH",
        "DEPLOYMENT",
        "WAITING",
        "CONTAINER",
        "CMD",
    ];
    table(&titles, rows)
}

/// `/v2/apps/<id>` (and what follows it).
fn app_path(id: &str, rest: &str) -> String {
    format!("/v2/apps{}{rest}", absolute(id))
}

/// `GET /v2/apps/<id>`, with the DC/OS CLI's message for an unknown app.
pub async fn get_app(client: &Client, id: &str) -> Result<Value, DcosError> {
    match client.get(&app_path(id, "")).await {
        Ok(answer) => Ok(answer["app"].clone()),
        Err(e) if e.0.contains("does not exist") => {
            fail(format!("App '{}' does not exist", absolute(id)))
        }
        Err(e) => Err(e),
    }
}

/// The app's versions, newest first, at most `max_count`.
async fn versions(
    client: &Client,
    id: &str,
    max_count: Option<i64>,
) -> Result<Vec<Value>, DcosError> {
    if let Some(n) = max_count.filter(|n| *n <= 0) {
        return fail(format!("Maximum count must be a positive number: {n}"));
    }
    get_app(client, id).await?;
    let all = items(&client.get(&app_path(id, "/versions")).await?["versions"]);
    let keep = max_count.map_or(all.len(), |n| n as usize);
    Ok(all.into_iter().take(keep).collect())
}

/// An `--app-version` as Marathon names it: ISO 8601 as given, `-N` the N-th before the
/// current version.
async fn absolute_version(client: &Client, id: &str, version: &str) -> Result<String, DcosError> {
    let Ok(n) = version.parse::<i64>() else {
        return Ok(version.to_string());
    };
    if n >= 0 {
        return fail(format!("Relative versions must be negative: {version}"));
    }
    let back = n.unsigned_abs() as usize;
    let versions = versions(client, id, Some(n.abs() + 1)).await?;
    match versions.get(back) {
        Some(v) => Ok(text(v)),
        None => fail(format!(
            "Application '{}' only has {} version(s).",
            absolute(id),
            versions.len()
        )),
    }
}

pub async fn run(
    client: &Client,
    command: AppCommand,
    out: &mut dyn Write,
) -> Result<(), DcosError> {
    let printed = match command {
        AppCommand::Add { app_resource } => {
            let app = read_json(app_resource.as_ref())?;
            let Some(id) = app["id"].as_str() else {
                return fail("the app definition has no \"id\"");
            };
            if get_app(client, id).await.is_ok() {
                return fail(format!("Application '{}' already exists", absolute(id)));
            }
            let created = client.call(Method::POST, "/v2/apps", Some(&app)).await?;
            format!(
                "Created deployment {}\n",
                text(&created["deployments"][0]["id"])
            )
        }
        AppCommand::List { json } => {
            let apps = items(&client.get("/v2/apps").await?["apps"]);
            if json {
                pretty(&Value::Array(apps))
            } else if apps.is_empty() {
                "No apps to list.\n".to_string()
            } else {
                let deployments = items(&client.get("/v2/deployments").await?);
                let queue = items(&client.get("/v2/queue").await?["queue"]);
                app_table(&apps, &deployments, &queue)
            }
        }
        AppCommand::Show {
            app_version: None,
            app_id,
        } => pretty(&get_app(client, &app_id).await?),
        AppCommand::Show {
            app_version: Some(version),
            app_id,
        } => {
            get_app(client, &app_id).await?;
            let version = absolute_version(client, &app_id, &version).await?;
            let path = app_path(&app_id, &format!("/versions/{version}"));
            pretty(&client.get(&path).await?)
        }
        AppCommand::Update {
            force,
            app_id,
            properties,
        } => {
            // As the DC/OS CLI: the app must exist; only the named properties are sent.
            get_app(client, &app_id).await?;
            let update = update_from(&properties)?;
            let path = app_path(&app_id, "");
            let answer = client
                .send(Method::PUT, &path, &force_param(force), Some(&update))
                .await?;
            deployment_created(&answer)
        }
        AppCommand::Remove { force, app_id } => {
            get_app(client, &app_id).await?;
            let path = app_path(&app_id, "");
            client
                .send(Method::DELETE, &path, &force_param(force), None)
                .await?;
            String::new()
        }
        AppCommand::Restart { force, app_id } => {
            let app = get_app(client, &app_id).await?;
            if app["instances"] == 0 {
                return fail(format!(
                    "Unable to perform rolling restart of application '{}' because it has no running tasks",
                    absolute(&app_id)
                ));
            }
            let path = app_path(&app_id, "/restart");
            let answer = client
                .send(Method::POST, &path, &force_param(force), None)
                .await?;
            deployment_created(&answer)
        }
        AppCommand::Kill {
            scale,
            host,
            app_id,
        } => kill(client, scale, host, &app_id).await?,
        AppCommand::Version {
            command: VersionCommand::List { max_count, app_id },
        } => pretty(&Value::Array(versions(client, &app_id, max_count).await?)),
    };
    emit(out, &printed)
}

/// `DELETE /v2/apps/<id>/tasks[?host=..][&scale=true]`: the deployment with `--scale`,
/// else the tasks killed (none killed is a failure, as the DC/OS CLI's exit status says).
async fn kill(
    client: &Client,
    scale: bool,
    host: Option<String>,
    app_id: &str,
) -> Result<String, DcosError> {
    get_app(client, app_id).await?;
    let mut query = vec![];
    if let Some(host) = &host {
        query.push(("host", host.clone()));
    }
    if scale {
        query.push(("scale", "true".to_string()));
    }
    let answer = client
        .send(Method::DELETE, &app_path(app_id, "/tasks"), &query, None)
        .await?;
    if scale {
        return Ok(format!(
            "Started deployment: {}\n",
            text(&answer["deploymentId"])
        ));
    }
    let killed: Vec<String> = items(&answer["tasks"])
        .iter()
        .map(|t| text(&t["id"]))
        .collect();
    if killed.is_empty() {
        let on = host.map(|h| format!(" on host {h}")).unwrap_or_default();
        return fail(format!(
            "App '{}' has no tasks{on} to kill",
            absolute(app_id)
        ));
    }
    Ok(format!("Killed tasks: {}\n", killed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn app_table_has_the_dcos_columns() {
        let apps = [
            json!({"id": "/demo", "mem": 16.0, "cpus": 0.1, "tasksRunning": 1,
            "instances": 3, "healthChecks": [], "container": null, "cmd": "sleep 1000"}),
        ];
        let deployments = [json!({"id": "d1", "currentActions": [
            {"action": "ScaleApplication", "app": "/demo"}]})];
        let got = app_table(&apps, &deployments, &[]);
        assert_eq!(
            got,
            "ID     MEM   CPUS  TASKS  HEALTH  DEPLOYMENT  WAITING  CONTAINER  CMD\n\
             /demo  16.0  0.1   1/3    ---     scale       False    mesos      sleep 1000\n"
        );
    }

    #[test]
    fn app_table_health_waiting_container_and_long_commands() {
        let apps = [
            json!({"id": "/web", "mem": 32, "cpus": 1, "tasksRunning": 2,
            "tasksHealthy": 1, "instances": 2, "healthChecks": [{"protocol": "HTTP"}],
            "container": {"type": "DOCKER"}, "cmd": null,
            "args": ["python3", "-m", "http.server", "8080", "--bind", "127.0.0.1"]}),
        ];
        let queue = [json!({"app": {"id": "/web"}, "delay": {"overdue": true}})];
        let got = app_table(&apps, &[], &queue);
        let row: Vec<&str> = got.lines().nth(1).unwrap().split_whitespace().collect();
        assert!(got.lines().nth(1).unwrap().contains(" 1/2 "), "{got}");
        assert!(row.contains(&"True"), "{got}");
        assert!(row.contains(&"DOCKER"), "{got}");
        assert!(got.trim_end().ends_with("..."), "{got}");
    }
}
