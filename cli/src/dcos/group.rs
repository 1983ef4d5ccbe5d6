//! `dcos marathon group add|list|show|update|remove|scale`, against `/v2/groups` as
//! Marathon documents it: `GET /v2/groups` is the root group with nested `groups`; writes
//! answer `{version, deploymentId}`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::table::{pretty, table, text};
use super::{
    absolute, deployment_created, emit, fail, force_param, items, read_json, update_from, Client,
    DcosError,
};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a group from a JSON file (standard input without one).
    Add { group_resource: Option<PathBuf> },
    /// List the groups with the number of apps in each (nested groups' apps included).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a group, of its current version or of an ISO 8601 `--group-version`.
    Show {
        #[arg(long = "group-version", allow_hyphen_values = true)]
        group_version: Option<String>,
        group_id: String,
    },
    /// Update a group: `key=value` properties, or a JSON object on standard input.
    Update {
        #[arg(long)]
        force: bool,
        group_id: String,
        properties: Vec<String>,
    },
    /// Remove a group and everything in it.
    Remove {
        #[arg(long)]
        force: bool,
        group_id: String,
    },
    /// Scale every app in a group by a factor.
    Scale {
        #[arg(long)]
        force: bool,
        group_id: String,
        scale_factor: f64,
    },
}

/// `group list`: ID APPS, one row for every group below the listed ones, each counting
/// the apps of its whole subtree.
pub fn group_table(groups: &[Value]) -> String {
    fn count(group: &Value, rows: &mut Vec<Vec<String>>) -> usize {
        let nested: usize = items(&group["groups"])
            .iter()
            .map(|child| count(child, rows))
            .sum();
        let apps = items(&group["apps"]).len() + nested;
        rows.push(vec![text(&group["id"]), apps.to_string()]);
        apps
    }
    let mut rows = vec![];
    for group in groups {
        count(group, &mut rows);
    }
    table(&["ID", "APPS"], rows)
}

fn group_path(id: &str) -> String {
    format!("/v2/groups{}", absolute(id))
}

/// The request `group scale` sends.
pub fn scale_body(factor: f64) -> Value {
    json!({ "scaleBy": factor })
}

pub async fn run(
    client: &Client,
    command: GroupCommand,
    out: &mut dyn Write,
) -> Result<(), DcosError> {
    let printed = match command {
        GroupCommand::Add { group_resource } => {
            let group = read_json(group_resource.as_ref())?;
            let Some(id) = group["id"].as_str() else {
                return fail("the group definition has no \"id\"");
            };
            if client.get(&group_path(id)).await.is_ok() {
                return fail(format!("Group '{}' already exists", absolute(id)));
            }
            let answer = client
                .call(Method::POST, "/v2/groups", Some(&group))
                .await?;
            deployment_created(&answer)
        }
        GroupCommand::List { json } => {
            let groups = items(&client.get("/v2/groups").await?["groups"]);
            if json {
                pretty(&Value::Array(groups))
            } else {
                group_table(&groups)
            }
        }
        GroupCommand::Show {
            group_version,
            group_id,
        } => {
            let path = match group_version {
                None => group_path(&group_id),
                Some(v) => format!("{}/versions/{v}", group_path(&group_id)),
            };
            pretty(&client.get(&path).await?)
        }
        GroupCommand::Update {
            force,
            group_id,
            properties,
        } => {
            client.get(&group_path(&group_id)).await?;
            let update = update_from(&properties)?;
            let answer = client
                .send(
                    Method::PUT,
                    &group_path(&group_id),
                    &force_param(force),
                    Some(&update),
                )
                .await?;
            deployment_created(&answer)
        }
        GroupCommand::Remove { force, group_id } => {
            client
                .send(
                    Method::DELETE,
                    &group_path(&group_id),
                    &force_param(force),
                    None,
                )
                .await?;
            String::new()
        }
        GroupCommand::Scale {
            force,
            group_id,
            scale_factor,
        } => {
            let answer = client
                .send(
                    Method::PUT,
                    &group_path(&group_id),
                    &force_param(force),
                    Some(&scale_body(scale_factor)),
                )
                .await?;
            deployment_created(&answer)
        }
    };
    emit(out, &printed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_table_counts_the_apps_of_each_subtree() {
        let groups = [
            json!({"id": "/prod", "apps": [{"id": "/prod/lb"}], "groups": [
                {"id": "/prod/web", "apps": [{"id": "/prod/web/a"}, {"id": "/prod/web/b"}],
                 "groups": []},
                {"id": "/prod/empty", "apps": [], "groups": []}]}),
            json!({"id": "/dev", "apps": [], "groups": []}),
        ];
        assert_eq!(
            group_table(&groups),
            "ID           APPS\n\
             /dev         0\n\
             /prod        3\n\
             /prod/empty  0\n\
             /prod/web    2\n"
        );
    }

    #[test]
    fn paths_and_bodies() {
        assert_eq!(group_path("prod/web/"), "/v2/groups/prod/web");
        assert_eq!(scale_body(1.5), json!({"scaleBy": 1.5}));
    }
}
