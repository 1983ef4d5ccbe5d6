//! `dcos marathon deployment list|rollback|stop|watch`, against `/v2/deployments`.

use std::io::Write;
use std::time::Duration;

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::app::action_word;
use super::table::{pretty, table, text};
use super::{absolute, emit, fail, items, Client, DcosError};

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
    /// Print a deployment every `--interval` seconds until it is over (or `--max-count`
    /// times).
    Watch {
        #[arg(long = "max-count", allow_hyphen_values = true)]
        max_count: Option<u64>,
        #[arg(long, default_value_t = 1)]
        interval: u64,
        deployment_id: String,
    },
}

/// `deployment list`: APP POD ACTION PROGRESS ID.
pub fn deployment_table(deployments: &[Value]) -> String {
    let join = |d: &Value, key: &str| {
        let ids: Vec<String> = items(&d[key]).iter().map(text).collect();
        if ids.is_empty() {
            "-".to_string()
        } else {
            ids.join(",")
        }
    };
    let rows: Vec<Vec<String>> = deployments
        .iter()
        .map(|d| {
            let actions = items(&d["currentActions"]);
            let resource = |a: &Value| {
                a["app"]
                    .as_str()
                    .or(a["pod"].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let several = actions
                .iter()
                .map(resource)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1;
            let words: Vec<String> = actions
                .iter()
                .map(|a| {
                    let word = action_word(a["action"].as_str().unwrap_or_default());
                    if several {
                        format!("{word} {}", resource(a))
                    } else {
                        word.to_string()
                    }
                })
                .collect();
            let step = d["currentStep"].as_i64().unwrap_or(0);
            vec![
                join(d, "affectedApps"),
                join(d, "affectedPods"),
                words.join(","),
                format!("{}/{}", step - 1, d["totalSteps"]),
                text(&d["id"]),
            ]
        })
        .collect();
    table(&["APP", "POD", "ACTION", "PROGRESS", "ID"], rows)
}

/// The deployment `id` if Marathon still lists it.
async fn find(client: &Client, id: &str) -> Result<Option<Value>, DcosError> {
    let all = items(&client.get("/v2/deployments").await?);
    Ok(all.into_iter().find(|d| d["id"] == id))
}

pub async fn run(
    client: &Client,
    command: DeploymentCommand,
    out: &mut dyn Write,
) -> Result<(), DcosError> {
    match command {
        DeploymentCommand::List { json, app_id } => {
            let deployments: Vec<Value> = items(&client.get("/v2/deployments").await?)
                .into_iter()
                .filter(|d| {
                    app_id.as_ref().is_none_or(|id| {
                        let id = Value::String(absolute(id));
                        items(&d["affectedApps"]).contains(&id)
                            || items(&d["affectedPods"]).contains(&id)
                    })
                })
                .collect();
            if json {
                return emit(out, &pretty(&Value::Array(deployments)));
            }
            if deployments.is_empty() {
                return fail(match app_id {
                    Some(id) => format!("There are no deployments for '{}'", absolute(&id)),
                    None => "There are no deployments".to_string(),
                });
            }
            emit(out, &deployment_table(&deployments))
        }
        DeploymentCommand::Rollback { deployment_id } => {
            let path = format!("/v2/deployments/{deployment_id}");
            let answer = client.call(Method::DELETE, &path, None).await?;
            emit(out, &pretty(&answer))
        }
        DeploymentCommand::Stop { deployment_id } => {
            let path = format!("/v2/deployments/{deployment_id}");
            let force = [("force", "true".to_string())];
            client.send(Method::DELETE, &path, &force, None).await?;
            Ok(())
        }
        DeploymentCommand::Watch {
            max_count,
            interval,
            deployment_id,
        } => {
            if max_count == Some(0) {
                return fail("Maximum count must be a positive number: 0");
            }
            let mut shown = 0;
            // As the DC/OS CLI: a deployment that is not (or no longer) listed ends the
            // watch successfully.
            while max_count.is_none_or(|max| shown < max) {
                let Some(deployment) = find(client, &deployment_id).await? else {
                    break;
                };
                let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
                emit(
                    out,
                    &format!("Deployment update time: {now} \n\n{}", pretty(&deployment)),
                )?;
                shown += 1;
                tokio::time::sleep(Duration::from_secs(interval)).await;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_table_names_the_resource_when_actions_touch_several() {
        let deployments = [
            json!({"id": "d2", "affectedApps": ["/g/a", "/g/b"], "affectedPods": [],
                "currentActions": [{"action": "StartApplication", "app": "/g/a"},
                                   {"action": "ScaleApplication", "app": "/g/b"}],
                "currentStep": 1, "totalSteps": 2}),
            json!({"id": "d1", "affectedApps": ["/demo"], "affectedPods": [],
                "currentActions": [{"action": "RestartApplication", "app": "/demo"}],
                "currentStep": 2, "totalSteps": 2}),
        ];
        assert_eq!(
            deployment_table(&deployments),
            "APP        POD  ACTION                 PROGRESS  ID\n\
             /demo      -    restart                1/2       d1\n\
             /g/a,/g/b  -    start /g/a,scale /g/b  0/2       d2\n"
        );
    }
}
