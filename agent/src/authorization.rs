//! What a principal may see and read on this agent under `--acls`, decided as Mesos's
//! agent decides it (`src/slave/http.cpp`, the local authorizer's objects):
//!
//! - `view_frameworks` on the framework's user, `view_executors` on the executor's
//!   command user (else the framework's), `view_tasks` on the task's command user (else
//!   the framework's): what `/state` lists;
//! - `view_flags` (no object): `/flags`, and the flags and log directory in `/state`;
//! - `access_sandboxes` on the executor's command user, else the framework's user, else
//!   anything (a framework the agent no longer knows): `/files/*`, LIST_FILES, READ_FILE.
//!
//! Pure: the callers look up whose sandbox a path is in ([`sandbox_of`] names it; the
//! core knows the users).

use std::path::{Component, Path};
use std::sync::Arc;

use mesos_common::auth::{Acls, Action, Object};

/// Who asks (None: not authenticated, which ACLs treat as ANY), and the rules.
#[derive(Clone, Debug)]
pub struct Viewer {
    acls: Arc<Acls>,
    principal: Option<String>,
}

/// The users a sandbox belongs to, as the core knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxOwner {
    /// None: the agent does not know the framework (any more).
    pub framework_user: Option<String>,
    /// The executor's (a command task's) own `CommandInfo.user`.
    pub executor_user: Option<String>,
}

/// Where a path under the sandboxes root (`<work_dir>/slaves`) lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxPath {
    /// In the sandbox of this executor (`<agent>/frameworks/<F>/executors/<E>/...`).
    Executor {
        framework_id: String,
        executor_id: String,
    },
    /// Above any executor's sandbox (the agents, frameworks and executors directories):
    /// it names sandboxes without being one.
    Above,
}

/// Where `path` (resolved, inside `root`, both canonical) lies.
pub fn sandbox_of(root: &Path, path: &Path) -> SandboxPath {
    let parts: Vec<String> = path
        .strip_prefix(root)
        .map(|rest| {
            rest.components()
                .filter_map(|c| match c {
                    Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    match parts.as_slice() {
        [_agent, frameworks, framework_id, executors, executor_id, ..]
            if frameworks == "frameworks" && executors == "executors" =>
        {
            SandboxPath::Executor {
                framework_id: framework_id.clone(),
                executor_id: executor_id.clone(),
            }
        }
        _ => SandboxPath::Above,
    }
}

impl Viewer {
    pub fn new(acls: Arc<Acls>, principal: Option<String>) -> Viewer {
        Viewer { acls, principal }
    }

    fn approved(&self, action: Action, object: Object<'_>) -> bool {
        self.acls
            .approved(action, self.principal.as_deref(), object)
    }

    pub fn may_view_framework(&self, framework_user: &str) -> bool {
        self.approved(Action::ViewFrameworks, Object::Value(framework_user))
    }

    pub fn may_view_executor(&self, executor_user: Option<&str>, framework_user: &str) -> bool {
        self.approved(
            Action::ViewExecutors,
            Object::Value(executor_user.unwrap_or(framework_user)),
        )
    }

    pub fn may_view_task(&self, task_user: Option<&str>, framework_user: &str) -> bool {
        self.approved(
            Action::ViewTasks,
            Object::Value(task_user.unwrap_or(framework_user)),
        )
    }

    pub fn may_view_flags(&self) -> bool {
        self.approved(Action::ViewFlags, Object::Any)
    }

    /// Whether every sandbox may be read, whoever asks (no lookups needed).
    pub fn reads_every_sandbox(&self) -> bool {
        self.acls.allows_all(Action::AccessSandboxes)
    }

    /// `access_sandboxes` on a sandbox of `owner`.
    pub fn may_access_sandbox(&self, owner: &SandboxOwner) -> bool {
        let user = owner
            .executor_user
            .as_deref()
            .or(owner.framework_user.as_deref());
        self.approved(
            Action::AccessSandboxes,
            user.map_or(Object::Any, Object::Value),
        )
    }

    /// The directories above the sandboxes name every framework and executor: readable
    /// by whoever may read any sandbox (a rule on ANY users), not by those limited to
    /// some users' sandboxes. (Mesos serves only the sandboxes themselves.)
    pub fn may_browse_above_sandboxes(&self) -> bool {
        self.approved(Action::AccessSandboxes, Object::Any)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn viewer(acls: &str, principal: Option<&str>) -> Viewer {
        Viewer::new(
            Arc::new(Acls::parse(acls).unwrap()),
            principal.map(str::to_string),
        )
    }

    const ALICE_OWN_SANDBOXES: &str = r#"{"permissive": false,
        "access_sandboxes": [{"principals": {"values": ["alice"]}, "users": {"values": ["alice"]}},
                             {"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}]}"#;

    fn owner(framework: Option<&str>, executor: Option<&str>) -> SandboxOwner {
        SandboxOwner {
            framework_user: framework.map(str::to_string),
            executor_user: executor.map(str::to_string),
        }
    }

    #[test]
    fn sandboxes_are_read_by_their_users_principals() {
        // (principal, owner, may read)
        let cases = [
            (Some("alice"), owner(Some("alice"), None), true),
            (Some("alice"), owner(Some("bob"), None), false),
            // The executor's own user decides over the framework's.
            (Some("alice"), owner(Some("bob"), Some("alice")), true),
            (Some("alice"), owner(Some("alice"), Some("bob")), false),
            // A framework the agent no longer knows: only ANY-user rules match.
            (Some("alice"), owner(None, None), false),
            (Some("ops"), owner(None, None), true),
            (Some("ops"), owner(Some("bob"), None), true),
            (None, owner(Some("alice"), None), false),
            (Some("mallory"), owner(Some("alice"), None), false),
        ];
        let v = |p| viewer(ALICE_OWN_SANDBOXES, p);
        for (principal, owner, want) in cases {
            assert_eq!(
                v(principal).may_access_sandbox(&owner),
                want,
                "{principal:?} {owner:?}"
            );
        }
        assert!(!v(Some("alice")).reads_every_sandbox());
        assert!(!v(Some("alice")).may_browse_above_sandboxes());
        assert!(v(Some("ops")).may_browse_above_sandboxes());
        let open = viewer("{}", None);
        assert!(open.reads_every_sandbox());
        assert!(open.may_access_sandbox(&owner(Some("x"), None)));
    }

    #[test]
    fn views_follow_their_objects() {
        let v = viewer(
            r#"{"view_frameworks": [{"principals": {"type": "ANY"}, "users": {"values": ["alice"]}},
                                    {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}],
                "view_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["root"]}},
                               {"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
                "view_flags": [{"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}},
                               {"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}]}"#,
            Some("alice"),
        );
        assert!(v.may_view_framework("alice"));
        assert!(!v.may_view_framework("bob"));
        assert!(v.may_view_task(None, "alice"));
        assert!(v.may_view_task(Some("root"), "alice"));
        assert!(
            v.may_view_executor(Some("bob"), "alice"),
            "no rule: permissive"
        );
        assert!(!v.may_view_flags());
        assert!(viewer(r#"{"view_flags": [{"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}},
                                          {"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}]}"#,
                       Some("ops")).may_view_flags());
    }

    #[test]
    fn paths_name_their_executor() {
        let root = PathBuf::from("/w/slaves");
        let executor = |f: &str, e: &str| SandboxPath::Executor {
            framework_id: f.into(),
            executor_id: e.into(),
        };
        for (path, want) in [
            (
                "/w/slaves/A/frameworks/F/executors/E/runs/C/stdout",
                executor("F", "E"),
            ),
            ("/w/slaves/A/frameworks/F/executors/E", executor("F", "E")),
            (
                "/w/slaves/A/frameworks/F/executors/E/runs/C/containers/D",
                executor("F", "E"),
            ),
            ("/w/slaves/A/frameworks/F/executors", SandboxPath::Above),
            ("/w/slaves/A/frameworks", SandboxPath::Above),
            ("/w/slaves", SandboxPath::Above),
            ("/w/slaves/A/other/F/executors/E", SandboxPath::Above),
            ("/elsewhere/A/frameworks/F/executors/E", SandboxPath::Above),
        ] {
            assert_eq!(sandbox_of(&root, Path::new(path)), want, "{path}");
        }
    }
}
