//! `dcos marathon ...`: the DC/OS CLI's Marathon commands against Marathon's REST API v2,
//! with its tables (the columns of dcos-cli's `tables.py`), `--json`, and exit status 1
//! with one `Error: ...` line on any failure.
//!
//! Where Marathon is: `DCOS_MARATHON_URL`, else `marathon.url` in the DC/OS CLI's config
//! file (`DCOS_CONFIG`, default `~/.dcos/dcos.toml`, section `[marathon]`, key `url`), else
//! `http://127.0.0.1:8080`.
//!
//! ```text
//!  argv ─clap─▶ Command ─run()─▶ GET/POST/PUT/DELETE /v2/... ─▶ table | JSON | message
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::{Map, Value};

/// Shown for an empty cell, as the DC/OS CLI does.
const EMPTY: &str = "---";

#[derive(Debug, Parser)]
#[command(name = "dcos", version, about = "The DC/OS CLI's Marathon commands")]
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
}

#[derive(Debug, Subcommand)]
pub enum Marathon {
    /// Manage apps.
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Manage deployments.
    Deployment {
        #[command(subcommand)]
        command: DeploymentCommand,
    },
    /// Manage tasks.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Add an application from a JSON file (standard input without one).
    Add { app_resource: Option<PathBuf> },
    /// List the installed applications.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show the definition of an application.
    Show {
        #[arg(long = "app-version")]
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
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// List the deployments, of one app or all.
    List {
        #[arg(long)]
        json: bool,
        app_id: Option<String>,
    },
    /// Stop a deployment and roll its apps back.
    Rollback { deployment_id: String },
    /// Stop a deployment where it is.
    Stop { deployment_id: String },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List the tasks, of one app or all.
    List {
        #[arg(long)]
        json: bool,
        app_id: Option<String>,
    },
}

/// A failure, shown as `Error: <message>`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DcosError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, DcosError> {
    Err(DcosError(message.into()))
}

/// Marathon's base URL from the environment and the DC/OS CLI's config file text.
pub fn marathon_url(env: &BTreeMap<String, String>, config_file: Option<&str>) -> String {
    if let Some(url) = env.get("DCOS_MARATHON_URL").filter(|u| !u.is_empty()) {
        return url.trim_end_matches('/').to_string();
    }
    let mut section = String::new();
    for line in config_file.unwrap_or_default().lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
        } else if let Some((key, value)) = line.split_once('=') {
            if section == "marathon" && key.trim() == "url" {
                return value
                    .trim()
                    .trim_matches('"')
                    .trim_end_matches('/')
                    .to_string();
            }
        }
    }
    "http://127.0.0.1:8080".to_string()
}

/// `/demo` for `demo`: Marathon's ids are absolute.
fn absolute(id: &str) -> String {
    format!("/{}", id.trim_start_matches('/'))
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
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

/// Rows under upper-case titles, columns left-aligned and two spaces apart.
fn table(titles: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = titles.iter().map(|t| t.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(titles.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => EMPTY.to_string(),
        other => other.to_string(),
    }
}

/// Python's rendering of a boolean, as the DC/OS CLI prints it.
fn python_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

/// The DC/OS CLI's word for a deployment step's action.
fn action_word(action: &str) -> &str {
    match action {
        "StartApplication" => "start",
        "StopApplication" => "stop",
        "RestartApplication" => "restart",
        "ScaleApplication" => "scale",
        "ResolveArtifacts" => "artifacts",
        "KillAllOldTasksOf" => "kill-tasks",
        other => other,
    }
}

/// `app list`: ID MEM CPUS TASKS HEALTH DEPLOYMENT WAITING CONTAINER CMD.
pub fn app_table(apps: &[Value], deployments: &[Value], queue: &[Value]) -> String {
    let mut rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            let id = text(&app["id"]);
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
                .flat_map(|d| d["currentActions"].as_array().cloned().unwrap_or_default())
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
                id,
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
    rows.sort();
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

/// `deployment list`: APP POD ACTION PROGRESS ID.
pub fn deployment_table(deployments: &[Value]) -> String {
    let join = |d: &Value, key: &str| {
        let ids: Vec<String> = d[key]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        if ids.is_empty() {
            "-".to_string()
        } else {
            ids.join(",")
        }
    };
    let mut rows: Vec<Vec<String>> = deployments
        .iter()
        .map(|d| {
            let actions: Vec<String> = d["currentActions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|a| action_word(a["action"].as_str().unwrap_or_default()).to_string())
                        .collect()
                })
                .unwrap_or_default();
            let step = d["currentStep"].as_i64().unwrap_or(0);
            vec![
                join(d, "affectedApps"),
                join(d, "affectedPods"),
                actions.join(","),
                format!("{}/{}", step - 1, d["totalSteps"]),
                text(&d["id"]),
            ]
        })
        .collect();
    rows.sort();
    table(&["APP", "POD", "ACTION", "PROGRESS", "ID"], rows)
}

/// `task list`: APP HEALTHY STARTED HOST ID.
pub fn task_table(tasks: &[Value]) -> String {
    let mut rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let healthy = t["healthCheckResults"]
                .as_array()
                .is_none_or(|r| r.iter().all(|c| c["alive"] == true));
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
    rows.sort();
    table(&["APP", "HEALTHY", "STARTED", "HOST", "ID"], rows)
}

/// Marathon over HTTP.
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base: String) -> Client {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client without TLS builds");
        Client { http, base }
    }

    /// One call; Marathon's error `message` (and its details) on a non-2xx answer.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DcosError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| DcosError(format!("Marathon at {} does not answer: {e}", self.base)))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| DcosError(format!("reading the answer of {url}: {e}")))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let mut message = match &value["message"] {
            Value::String(m) => m.clone(),
            _ => format!("{status}"),
        };
        if let Some(details) = value["details"].as_array().filter(|d| !d.is_empty()) {
            message += &format!(" {}", Value::Array(details.clone()));
        }
        fail(message)
    }

    async fn get(&self, path: &str) -> Result<Value, DcosError> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// `GET /v2/apps/<id>`, with the DC/OS CLI's message for an unknown app.
    async fn app(&self, id: &str) -> Result<Value, DcosError> {
        let path = format!("/v2/apps{}", absolute(id));
        match self.get(&path).await {
            Ok(answer) => Ok(answer["app"].clone()),
            Err(e) if e.0.contains("does not exist") => {
                fail(format!("App '{}' does not exist", absolute(id)))
            }
            Err(e) => Err(e),
        }
    }
}

fn force_query(force: bool) -> &'static str {
    if force {
        "?force=true"
    } else {
        ""
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn deployment_created(answer: &Value) -> String {
    format!("Created deployment {}\n", text(&answer["deploymentId"]))
}

/// Reads JSON from a file, or from standard input when there is none.
fn read_json(resource: Option<&PathBuf>) -> Result<Value, DcosError> {
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

/// Runs a command; returns what to print.
pub async fn run(client: &Client, command: Top) -> Result<String, DcosError> {
    let Top::Marathon { command } = command;
    match command {
        Marathon::App { command } => app(client, command).await,
        Marathon::Deployment { command } => deployment(client, command).await,
        Marathon::Task { command } => task(client, command).await,
    }
}

async fn app(client: &Client, command: AppCommand) -> Result<String, DcosError> {
    use reqwest::Method;
    match command {
        AppCommand::Add { app_resource } => {
            let app = read_json(app_resource.as_ref())?;
            let Some(id) = app["id"].as_str() else {
                return fail("the app definition has no \"id\"");
            };
            if client.app(id).await.is_ok() {
                return fail(format!("Application '{}' already exists", absolute(id)));
            }
            let created = client.call(Method::POST, "/v2/apps", Some(&app)).await?;
            let deployment = created["deployments"][0]["id"].clone();
            Ok(format!("Created deployment {}\n", text(&deployment)))
        }
        AppCommand::List { json } => {
            let apps = client.get("/v2/apps").await?["apps"].clone();
            let apps = apps.as_array().cloned().unwrap_or_default();
            if json {
                return Ok(pretty(&Value::Array(apps)));
            }
            if apps.is_empty() {
                return Ok("No apps to list.\n".to_string());
            }
            let deployments = client.get("/v2/deployments").await?;
            let queue = client.get("/v2/queue").await?["queue"].clone();
            Ok(app_table(
                &apps,
                deployments
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                queue.as_array().map(Vec::as_slice).unwrap_or_default(),
            ))
        }
        AppCommand::Show {
            app_version,
            app_id,
        } => match app_version {
            None => Ok(pretty(&client.app(&app_id).await?)),
            Some(version) => {
                client.app(&app_id).await?;
                let path = format!("/v2/apps{}/versions/{version}", absolute(&app_id));
                Ok(pretty(&client.get(&path).await?))
            }
        },
        AppCommand::Update {
            force,
            app_id,
            properties,
        } => {
            // As the DC/OS CLI: the app must exist; only the named properties are sent.
            client.app(&app_id).await?;
            let update = if properties.is_empty() {
                read_json(None)?
            } else {
                Value::Object(parse_properties(&properties)?)
            };
            let path = format!("/v2/apps{}{}", absolute(&app_id), force_query(force));
            let answer = client.call(Method::PUT, &path, Some(&update)).await?;
            Ok(deployment_created(&answer))
        }
        AppCommand::Remove { force, app_id } => {
            client.app(&app_id).await?;
            let path = format!("/v2/apps{}{}", absolute(&app_id), force_query(force));
            client.call(Method::DELETE, &path, None).await?;
            Ok(String::new())
        }
        AppCommand::Restart { force, app_id } => {
            let app = client.app(&app_id).await?;
            if app["instances"] == 0 {
                return fail(format!(
                    "Unable to perform rolling restart of application '{}' because it has no running tasks",
                    absolute(&app_id)
                ));
            }
            let path = format!(
                "/v2/apps{}/restart{}",
                absolute(&app_id),
                force_query(force)
            );
            let answer = client.call(Method::POST, &path, None).await?;
            Ok(deployment_created(&answer))
        }
    }
}

async fn deployment(client: &Client, command: DeploymentCommand) -> Result<String, DcosError> {
    match command {
        DeploymentCommand::List { json, app_id } => {
            let all = client.get("/v2/deployments").await?;
            let deployments: Vec<Value> = all
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|d| {
                    app_id.as_ref().is_none_or(|id| {
                        d["affectedApps"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|x| *x == absolute(id)))
                    })
                })
                .collect();
            if json {
                return Ok(pretty(&Value::Array(deployments)));
            }
            if deployments.is_empty() {
                return fail(match app_id {
                    Some(id) => format!("There are no deployments for '{}'", absolute(&id)),
                    None => "There are no deployments".to_string(),
                });
            }
            Ok(deployment_table(&deployments))
        }
        DeploymentCommand::Rollback { deployment_id } => {
            let path = format!("/v2/deployments/{deployment_id}");
            let answer = client.call(reqwest::Method::DELETE, &path, None).await?;
            Ok(pretty(&answer))
        }
        DeploymentCommand::Stop { deployment_id } => {
            let path = format!("/v2/deployments/{deployment_id}?force=true");
            client.call(reqwest::Method::DELETE, &path, None).await?;
            Ok(String::new())
        }
    }
}

async fn task(client: &Client, command: TaskCommand) -> Result<String, DcosError> {
    let TaskCommand::List { json, app_id } = command;
    let tasks = client.get("/v2/tasks").await?["tasks"].clone();
    let tasks: Vec<Value> = tasks
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|t| app_id.as_ref().is_none_or(|id| t["appId"] == absolute(id)))
        .collect();
    if json {
        return Ok(pretty(&Value::Array(tasks)));
    }
    Ok(task_table(&tasks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marathon_url_from_env_then_config_then_default() {
        let config = "[core]\ndcos_url = \"http://x\"\n[marathon]\nurl = \"http://m:8080/\"\n";
        let env = BTreeMap::from([("DCOS_MARATHON_URL".to_string(), "http://e:1".to_string())]);
        assert_eq!(marathon_url(&env, Some(config)), "http://e:1");
        assert_eq!(
            marathon_url(&BTreeMap::new(), Some(config)),
            "http://m:8080"
        );
        assert_eq!(
            marathon_url(&BTreeMap::new(), None),
            "http://127.0.0.1:8080"
        );
    }

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
    }

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
}
