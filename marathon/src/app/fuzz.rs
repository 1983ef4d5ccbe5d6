//! Property tests of the path an app definition takes from a request body to a validated
//! app, on any input: the body is read as JSON (400 when it is not), the JSON as an app
//! (422 with a path when a value has the wrong type), defaults applied, then validated.
//! Nothing may panic, and every refusal is a client error.

use axum::body::Bytes;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::id::PathId;
use super::update::AppUpdate;
use super::validate::{validate, Violations};
use super::AppDefinition;
use crate::deployment::readiness;
use crate::placement::Constraint;

/// App field names, so that generated objects reach the typed fields and not only the
/// "unknown key" path.
const KEYS: &[&str] = &[
    "id",
    "cmd",
    "args",
    "cpus",
    "mem",
    "disk",
    "gpus",
    "instances",
    "constraints",
    "container",
    "docker",
    "image",
    "network",
    "portMappings",
    "portDefinitions",
    "port",
    "containerPort",
    "hostPort",
    "servicePort",
    "protocol",
    "labels",
    "env",
    "healthChecks",
    "readinessChecks",
    "upgradeStrategy",
    "minimumHealthCapacity",
    "maximumOverCapacity",
    "backoffSeconds",
    "backoffFactor",
    "maxLaunchDelaySeconds",
    "dependencies",
    "user",
    "volumes",
    "hostPath",
    "containerPath",
    "mode",
    "acceptedResourceRoles",
    "version",
    "killSelection",
    "fetch",
    "uris",
    "executor",
    "requirePorts",
    "type",
    "privileged",
    "parameters",
    "key",
    "value",
    "unreachableStrategy",
    "secrets",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        "[a-z0-9/._-]{0,12}".prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// An app-like object: an id most of the time, then anything.
fn app_body() -> impl Strategy<Value = Value> {
    (
        prop::option::of("/?[a-z0-9./_-]{0,20}"),
        prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..10),
    )
        .prop_map(|(id, pairs)| {
            let mut object: Map<String, Value> =
                pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if let Some(id) = id {
                object.insert("id".into(), Value::from(id));
            }
            Value::Object(object)
        })
}

/// The body's way to a validated app, as `POST /v2/apps` takes it. Returns the HTTP status
/// a refusal gets (none when the app is valid).
fn admit(value: Value) -> Option<u16> {
    let update = match AppUpdate::from_value(value) {
        Ok(u) => u,
        Err(e) => {
            assert!(
                e.path.starts_with('/'),
                "a schema error names a path: {}",
                e.path
            );
            return Some(422);
        }
    };
    let Some(id) = update.id.as_deref().map(PathId::parse) else {
        return Some(422);
    };
    let mut app: AppDefinition = update.apply(AppDefinition::with_defaults(id), true);
    app.readiness_checks = readiness::normalize(&app.readiness_checks);
    let mut found = validate(&app, |parts| {
        Constraint::parse(parts)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let mut more = Violations::default();
    readiness::validate(&app, &mut more);
    found.extend(more.into_vec());
    (!found.is_empty()).then_some(422)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_app_json_is_admitted_or_refused_as_a_client_error(body in app_body()) {
        if let Some(status) = admit(body) {
            prop_assert!((400..500).contains(&status));
        }
    }

    #[test]
    fn any_json_value_is_admitted_or_refused(body in json_value()) {
        let _ = admit(body);
    }

    #[test]
    fn any_bytes_are_json_or_a_400(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        match crate::http::read_json(Ok(Bytes::from(bytes))) {
            Ok(value) => { let _ = admit(value); }
            Err(response) => prop_assert_eq!(response.status().as_u16(), 400),
        }
    }

    #[test]
    fn any_authorization_header_parses_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = crate::http::auth::parse_basic(Some(&bytes));
    }

    #[test]
    fn basic_credentials_round_trip(user in "[^:\\r\\n]{1,20}", password in "[^\\r\\n]{0,20}") {
        use base64::Engine;
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        prop_assert_eq!(
            crate::http::auth::parse_basic(Some(header.as_bytes())),
            crate::http::auth::Presented::Basic(format!("{user}:{password}"))
        );
    }

    #[test]
    fn credential_flags_parse_or_fail_cleanly(text in ".{0,30}") {
        if let Ok(c) = crate::auth::HttpCredentials::parse(&text) {
            prop_assert_eq!(c.joined(), text);
            prop_assert!(!c.user.is_empty() && !c.password.is_empty());
        }
    }
}
