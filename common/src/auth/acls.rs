//! The local authorizer's ACLs (`--acls`), a pure core: a request is a subject (the
//! authenticated principal, or ANY when there is none), an action and an object; the
//! first rule of the action whose subject and object both *match* decides, and it
//! approves only if both also *allow*; when no rule matches, `permissive` decides
//! (default true). Entities are `{"values": [..]}`, `{"type": "ANY"}` or
//! `{"type": "NONE"}`, with Mesos's match and allow matrices.

use std::collections::BTreeMap;

use serde_json::Value;

/// The actions this project authorizes, with Mesos's ACL keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    RegisterFrameworks,
    RunTasks,
    TeardownFrameworks,
    GetEndpoints,
    UpdateWeights,
    UpdateQuotas,
    GetQuotas,
    ViewRoles,
    ViewFrameworks,
    ViewTasks,
    ViewExecutors,
    AccessSandboxes,
    ViewFlags,
    RegisterAgents,
    MarkAgentsGone,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::RegisterFrameworks,
        Action::RunTasks,
        Action::TeardownFrameworks,
        Action::GetEndpoints,
        Action::UpdateWeights,
        Action::UpdateQuotas,
        Action::GetQuotas,
        Action::ViewRoles,
        Action::ViewFrameworks,
        Action::ViewTasks,
        Action::ViewExecutors,
        Action::AccessSandboxes,
        Action::ViewFlags,
        Action::RegisterAgents,
        Action::MarkAgentsGone,
    ];

    /// The key of its rules in the ACL JSON.
    pub fn key(self) -> &'static str {
        match self {
            Action::RegisterFrameworks => "register_frameworks",
            Action::RunTasks => "run_tasks",
            Action::TeardownFrameworks => "teardown_frameworks",
            Action::GetEndpoints => "get_endpoints",
            Action::UpdateWeights => "update_weights",
            Action::UpdateQuotas => "update_quotas",
            Action::GetQuotas => "get_quotas",
            Action::ViewRoles => "view_roles",
            Action::ViewFrameworks => "view_frameworks",
            Action::ViewTasks => "view_tasks",
            Action::ViewExecutors => "view_executors",
            Action::AccessSandboxes => "access_sandboxes",
            Action::ViewFlags => "view_flags",
            Action::RegisterAgents => "register_agents",
            Action::MarkAgentsGone => "mark_agents_gone",
        }
    }

    /// The name of a rule's object entity.
    pub fn object_key(self) -> &'static str {
        match self {
            Action::RegisterFrameworks
            | Action::UpdateWeights
            | Action::UpdateQuotas
            | Action::GetQuotas
            | Action::ViewRoles => "roles",
            Action::RunTasks
            | Action::ViewFrameworks
            | Action::ViewTasks
            | Action::ViewExecutors
            | Action::AccessSandboxes => "users",
            Action::TeardownFrameworks => "framework_principals",
            Action::GetEndpoints => "paths",
            Action::ViewFlags => "flags",
            Action::RegisterAgents | Action::MarkAgentsGone => "agents",
        }
    }
}

/// A rule's subject or object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    Some(Vec<String>),
    Any,
    None,
}

/// What a request is about: one value (a role, a user, a path), or anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object<'a> {
    Any,
    Value(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    subjects: Entity,
    objects: Entity,
}

/// Parsed `--acls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acls {
    permissive: bool,
    rules: BTreeMap<Action, Vec<Rule>>,
}

impl Default for Acls {
    /// No ACLs: everything is allowed.
    fn default() -> Acls {
        Acls {
            permissive: true,
            rules: BTreeMap::new(),
        }
    }
}

/// Why `--acls` cannot be used; names the rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AclError {
    #[error("cannot read ACLs file '{path}': {reason}")]
    Read { path: String, reason: String },
    #[error("ACLs are not valid JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Invalid(String),
}

impl Acls {
    /// `--acls`: JSON text, or a path (`/x` or `file:///x`) to a file holding it.
    pub fn load(flag_value: &str) -> Result<Acls, AclError> {
        let trimmed = flag_value.trim_start();
        if trimmed.starts_with('{') {
            return Acls::parse(trimmed);
        }
        let path = super::credentials::flag_path(flag_value.trim());
        let text = std::fs::read_to_string(path).map_err(|e| AclError::Read {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
        Acls::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Acls, AclError> {
        let value: Value = serde_json::from_str(text).map_err(|e| AclError::Json(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(AclError::Invalid("ACLs must be a JSON object".into()));
        };
        let mut acls = Acls::default();
        for (key, value) in map {
            if key == "permissive" {
                acls.permissive = value.as_bool().ok_or_else(|| {
                    AclError::Invalid("'permissive' must be true or false".into())
                })?;
                continue;
            }
            let action = Action::ALL
                .into_iter()
                .find(|a| a.key() == key)
                .ok_or_else(|| AclError::Invalid(format!("unknown ACL action '{key}'")))?;
            let Value::Array(list) = value else {
                return Err(AclError::Invalid(format!(
                    "'{key}' must be a list of rules"
                )));
            };
            let mut rules = Vec::new();
            for (index, rule) in list.iter().enumerate() {
                rules.push(parse_rule(action, rule).map_err(|reason| {
                    AclError::Invalid(format!("ACL rule {key}[{index}] {rule}: {reason}"))
                })?);
            }
            acls.rules.insert(action, rules);
        }
        Ok(acls)
    }

    /// Whether every request for `action` is approved, whoever asks: no rule and
    /// permissive. Lets callers skip per-object work.
    pub fn allows_all(&self, action: Action) -> bool {
        self.permissive && self.rules.get(&action).is_none_or(|r| r.is_empty())
    }

    /// Whether `principal` (None: unauthenticated, which counts as ANY) may do `action`
    /// on `object`.
    pub fn approved(&self, action: Action, principal: Option<&str>, object: Object<'_>) -> bool {
        let subject = match principal {
            Some(p) => Entity::Some(vec![p.to_string()]),
            None => Entity::Any,
        };
        let object = match object {
            Object::Value(v) => Entity::Some(vec![v.to_string()]),
            Object::Any => Entity::Any,
        };
        for rule in self.rules.get(&action).map(Vec::as_slice).unwrap_or(&[]) {
            if matches(&subject, &rule.subjects) && matches(&object, &rule.objects) {
                return allows(&subject, &rule.subjects) && allows(&object, &rule.objects);
            }
        }
        self.permissive
    }
}

fn parse_rule(action: Action, rule: &Value) -> Result<Rule, String> {
    let Value::Object(map) = rule else {
        return Err("a rule must be a JSON object".into());
    };
    let object_key = action.object_key();
    for key in map.keys() {
        if key != "principals" && key != object_key {
            return Err(format!(
                "unknown field '{key}' (expected 'principals' and '{object_key}')"
            ));
        }
    }
    let entity = |name: &str| -> Result<Entity, String> {
        let value = map
            .get(name)
            .ok_or_else(|| format!("missing required field '{name}'"))?;
        parse_entity(value).map_err(|e| format!("'{name}': {e}"))
    };
    Ok(Rule {
        subjects: entity("principals")?,
        objects: entity(object_key)?,
    })
}

fn parse_entity(value: &Value) -> Result<Entity, String> {
    let Value::Object(map) = value else {
        return Err("an entity must be a JSON object".into());
    };
    for key in map.keys() {
        if key != "type" && key != "values" {
            return Err(format!(
                "unknown field '{key}' (expected 'type' or 'values')"
            ));
        }
    }
    let values = match map.get("values") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "'values' must be strings".to_string())
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("'values' must be a list of strings".into()),
    };
    match map.get("type").map(|t| t.as_str()) {
        None | Some(Some("SOME")) => Ok(Entity::Some(values)),
        Some(Some("ANY")) => Ok(Entity::Any),
        Some(Some("NONE")) => Ok(Entity::None),
        Some(other) => Err(format!(
            "type must be SOME, ANY or NONE, not {}",
            other.unwrap_or("a non-string")
        )),
    }
}

fn subset(request: &[String], acl: &[String]) -> bool {
    request.iter().all(|v| acl.contains(v))
}

/// Mesos's `matches`: does the rule speak about this request?
fn matches(request: &Entity, acl: &Entity) -> bool {
    match (request, acl) {
        (Entity::None, acl) => *acl == Entity::None,
        (Entity::Any, acl) => matches!(acl, Entity::Any | Entity::None),
        (Entity::Some(_), Entity::Any | Entity::None) => true,
        (Entity::Some(r), Entity::Some(a)) => subset(r, a),
    }
}

/// Mesos's `allows`: does the rule it matched let the request through?
fn allows(request: &Entity, acl: &Entity) -> bool {
    match (request, acl) {
        (Entity::None, acl) => *acl == Entity::None,
        (Entity::Any, acl) => *acl == Entity::Any,
        (Entity::Some(_), Entity::Any) => true,
        (Entity::Some(_), Entity::None) => false,
        (Entity::Some(r), Entity::Some(a)) => subset(r, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Action = Action::RegisterFrameworks;

    #[test]
    fn rules_decide_in_order_and_permissive_decides_the_rest() {
        // (acls, principal, object, approved)
        let cases: &[(&str, Option<&str>, Object, bool)] = &[
            ("{}", Some("p"), Object::Value("r"), true),
            (
                r#"{"permissive":false}"#,
                Some("p"),
                Object::Value("r"),
                false,
            ),
            // The first matching rule wins, even when a later one would allow.
            (
                r#"{"register_frameworks":[
                    {"principals":{"values":["p"]},"roles":{"type":"NONE"}},
                    {"principals":{"values":["p"]},"roles":{"type":"ANY"}}]}"#,
                Some("p"),
                Object::Value("r"),
                false,
            ),
            // A rule about another principal does not match: permissive.
            (
                r#"{"register_frameworks":[{"principals":{"values":["q"]},"roles":{"type":"NONE"}}]}"#,
                Some("p"),
                Object::Value("r"),
                true,
            ),
            (
                r#"{"permissive":false,"register_frameworks":[{"principals":{"values":["p"]},"roles":{"values":["r","s"]}}]}"#,
                Some("p"),
                Object::Value("s"),
                true,
            ),
            (
                r#"{"permissive":false,"register_frameworks":[{"principals":{"values":["p"]},"roles":{"values":["r"]}}]}"#,
                Some("p"),
                Object::Value("x"),
                false,
            ),
            // Unauthenticated is ANY: matched by ANY and NONE rules only, allowed by ANY.
            (
                r#"{"register_frameworks":[{"principals":{"values":["p"]},"roles":{"type":"NONE"}}]}"#,
                None,
                Object::Value("r"),
                true,
            ),
            (
                r#"{"register_frameworks":[{"principals":{"type":"ANY"},"roles":{"type":"NONE"}}]}"#,
                None,
                Object::Value("r"),
                false,
            ),
            (
                r#"{"permissive":false,"register_frameworks":[{"principals":{"type":"ANY"},"roles":{"type":"ANY"}}]}"#,
                None,
                Object::Value("r"),
                true,
            ),
            // A NONE subject matches everyone and allows no one named.
            (
                r#"{"register_frameworks":[{"principals":{"type":"NONE"},"roles":{"type":"ANY"}}]}"#,
                Some("p"),
                Object::Value("r"),
                false,
            ),
            // An object of ANY (e.g. view_flags) is matched by ANY/NONE rules only.
            (
                r#"{"permissive":false,"register_frameworks":[{"principals":{"values":["p"]},"roles":{"values":["r"]}}]}"#,
                Some("p"),
                Object::Any,
                false,
            ),
        ];
        for (i, (text, principal, object, expected)) in cases.iter().enumerate() {
            let acls = Acls::parse(text).unwrap_or_else(|e| panic!("case {i}: {e}"));
            assert_eq!(
                acls.approved(A, *principal, *object),
                *expected,
                "case {i}: {text}"
            );
        }
    }

    #[test]
    fn actions_are_kept_apart() {
        let acls = Acls::parse(
            r#"{"run_tasks":[{"principals":{"type":"ANY"},"users":{"values":["root"]}},
                             {"principals":{"type":"ANY"},"users":{"type":"ANY"}}]}"#,
        )
        .unwrap();
        // ANY principals, 'root' listed: matched and allowed.
        assert!(acls.approved(Action::RunTasks, Some("p"), Object::Value("root")));
        assert!(acls.allows_all(Action::ViewTasks));
        assert!(!acls.allows_all(Action::RunTasks));
        let deny_root = Acls::parse(
            r#"{"run_tasks":[{"principals":{"type":"ANY"},"users":{"values":["root"]}}],
                "permissive":true}"#,
        )
        .unwrap();
        assert!(deny_root.approved(Action::RunTasks, Some("p"), Object::Value("nobody")));
    }

    #[test]
    fn bad_rules_are_named() {
        for (text, needle) in [
            (
                r#"{"register_framework":[]}"#,
                "unknown ACL action 'register_framework'",
            ),
            (
                r#"{"run_tasks":[{"principals":{"type":"ANY"}}]}"#,
                "run_tasks[0]",
            ),
            (
                r#"{"run_tasks":[{"principals":{"type":"ALL"},"users":{"type":"ANY"}}]}"#,
                "type must be",
            ),
            (
                r#"{"run_tasks":[{"principals":{"type":"ANY"},"roles":{"type":"ANY"}}]}"#,
                "unknown field 'roles'",
            ),
            (r#"{"permissive":"yes"}"#, "permissive"),
            ("[1]", "JSON object"),
        ] {
            let e = Acls::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(matches!(Acls::parse("{"), Err(AclError::Json(_))));
    }

    #[test]
    fn acls_come_from_text_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acls.json");
        std::fs::write(&path, r#"{"permissive":false}"#).unwrap();
        let denied = |a: Acls| !a.approved(A, None, Object::Any);
        assert!(denied(Acls::load(&path.display().to_string()).unwrap()));
        assert!(denied(
            Acls::load(&format!("file://{}", path.display())).unwrap()
        ));
        assert!(denied(Acls::load(r#" {"permissive":false}"#).unwrap()));
        assert!(matches!(
            Acls::load("/no/such/file"),
            Err(AclError::Read { .. })
        ));
    }
}
