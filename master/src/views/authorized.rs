//! What a principal may see (`view_frameworks`, `view_tasks`, `view_executors`,
//! `view_roles`): the views' answers with what the ACLs hide taken out. A framework that
//! may not be seen is left out with its tasks and executors; a seen framework keeps only
//! the tasks and executors that may be seen. Nothing is filtered while the ACLs allow
//! every view, the default.

use std::sync::Arc;

use mesos_common::auth::{Acls, Action, Object};
use mesos_proto::v1;
use mesos_proto::v1::master::response;
use serde_json::Value;

/// Who is looking, and the rules that apply.
#[derive(Clone)]
pub(crate) struct Viewer {
    pub(crate) acls: Arc<Acls>,
    pub(crate) principal: Option<String>,
}

impl Viewer {
    /// Whether nothing needs filtering.
    pub(crate) fn sees_everything(&self) -> bool {
        [
            Action::ViewFrameworks,
            Action::ViewTasks,
            Action::ViewExecutors,
        ]
        .into_iter()
        .all(|a| self.acls.allows_all(a))
    }

    fn may(&self, action: Action, user: &str) -> bool {
        self.acls
            .approved(action, self.principal.as_deref(), Object::Value(user))
    }

    pub(crate) fn may_see_role(&self, role: &str) -> bool {
        self.acls.approved(
            Action::ViewRoles,
            self.principal.as_deref(),
            Object::Value(role),
        )
    }

    pub(crate) fn frameworks(&self, r: &mut response::GetFrameworks) {
        let keep = |f: &response::get_frameworks::Framework| {
            self.may(Action::ViewFrameworks, &f.framework_info.user)
        };
        r.frameworks.retain(keep);
        r.completed_frameworks.retain(keep);
    }

    /// Tasks are seen through their framework and by their own user.
    pub(crate) fn tasks(&self, r: &mut response::GetTasks, users: &dyn Fn(&str) -> Option<String>) {
        let keep = |t: &v1::Task| {
            let Some(framework_user) = users(&t.framework_id.value) else {
                return false;
            };
            self.may(Action::ViewFrameworks, &framework_user)
                && self.may(
                    Action::ViewTasks,
                    t.user.as_deref().unwrap_or(&framework_user),
                )
        };
        r.tasks.retain(keep);
        r.completed_tasks.retain(keep);
        r.unreachable_tasks.retain(keep);
    }

    pub(crate) fn executors(
        &self,
        r: &mut response::GetExecutors,
        users: &dyn Fn(&str) -> Option<String>,
    ) {
        r.executors.retain(|e| {
            let framework = e
                .executor_info
                .framework_id
                .as_ref()
                .map(|f| f.value.as_str())
                .unwrap_or("");
            let Some(framework_user) = users(framework) else {
                return false;
            };
            self.may(Action::ViewFrameworks, &framework_user)
                && self.may(
                    Action::ViewExecutors,
                    e.executor_info
                        .command
                        .as_ref()
                        .and_then(|c| c.user.as_deref())
                        .unwrap_or(&framework_user),
                )
        });
    }

    /// `/state`, `/state-summary`, `/frameworks` and `/tasks` in their JSON shapes.
    pub(crate) fn state_json(&self, state: &mut Value) {
        for key in ["frameworks", "completed_frameworks"] {
            if let Some(Value::Array(list)) = state.get_mut(key) {
                list.retain(|f| self.may(Action::ViewFrameworks, str_of(f, "user")));
                for f in list.iter_mut() {
                    let user = str_of(f, "user").to_string();
                    self.tasks_json(f, &user);
                    if let Some(Value::Array(executors)) = f.get_mut("executors") {
                        executors.retain(|e| {
                            let own = e.pointer("/command/user").and_then(Value::as_str);
                            self.may(Action::ViewExecutors, own.unwrap_or(&user))
                        });
                    }
                }
            }
        }
        // `/tasks` lists tasks at the top, each with its user.
        if let Some(Value::Array(list)) = state.get_mut("tasks") {
            list.retain(|t| {
                self.may(Action::ViewFrameworks, str_of(t, "user"))
                    && self.may(Action::ViewTasks, str_of(t, "user"))
            });
        }
        if let Some(Value::Array(list)) = state.get_mut("orphan_tasks") {
            list.retain(|t| self.may(Action::ViewTasks, str_of(t, "user")));
        }
    }

    fn tasks_json(&self, framework: &mut Value, framework_user: &str) {
        for key in ["tasks", "completed_tasks", "unreachable_tasks"] {
            if let Some(Value::Array(list)) = framework.get_mut(key) {
                list.retain(|t| {
                    let user = t.get("user").and_then(Value::as_str);
                    self.may(Action::ViewTasks, user.unwrap_or(framework_user))
                });
            }
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn viewer(acls: &str, principal: Option<&str>) -> Viewer {
        Viewer {
            acls: Arc::new(Acls::parse(acls).unwrap()),
            principal: principal.map(str::to_string),
        }
    }

    #[test]
    fn state_shows_only_what_may_be_seen() {
        let acls = r#"{"view_frameworks":[{"principals":{"values":["alice"]},"users":{"values":["alice"]}},
                                           {"principals":{"type":"ANY"},"users":{"type":"NONE"}}],
                        "view_tasks":[{"principals":{"values":["alice"]},"users":{"values":["alice"]}},
                                      {"principals":{"type":"ANY"},"users":{"type":"NONE"}}]}"#;
        let state = json!({
            "frameworks": [
                {"id": "a", "user": "alice", "tasks": [{"id": "t1", "user": "alice"}, {"id": "t2", "user": "root"}]},
                {"id": "b", "user": "bob", "tasks": [{"id": "t3", "user": "bob"}]}
            ],
            "completed_frameworks": [{"id": "c", "user": "bob", "tasks": []}],
            "tasks": [{"id": "t1", "user": "alice"}, {"id": "t3", "user": "bob"}]
        });
        let mut seen = state.clone();
        viewer(acls, Some("alice")).state_json(&mut seen);
        assert_eq!(seen["frameworks"].as_array().unwrap().len(), 1);
        assert_eq!(
            seen["frameworks"][0]["tasks"],
            json!([{"id": "t1", "user": "alice"}])
        );
        assert_eq!(seen["completed_frameworks"], json!([]));
        assert_eq!(seen["tasks"], json!([{"id": "t1", "user": "alice"}]));

        let mut seen = state.clone();
        viewer(acls, None).state_json(&mut seen);
        assert_eq!(seen["frameworks"], json!([]));

        let open = viewer("{}", None);
        assert!(open.sees_everything());
        assert!(!viewer(acls, None).sees_everything());
    }
}
