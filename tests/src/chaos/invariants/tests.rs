use std::time::Duration;

use serde_json::json;

use super::*;

fn task(id: &str, agent: &str, state: &str) -> MasterTask {
    MasterTask {
        id: id.to_string(),
        app: app_of_task(id).to_string(),
        agent: agent.to_string(),
        host: format!("host-{agent}"),
        state: state.to_string(),
    }
}

const T: Duration = Duration::from_secs(1);

#[test]
fn bounds_follow_marathon_arithmetic() {
    assert_eq!(upper_bound(3, (0.5, 0.34)), 4);
    assert_eq!(upper_bound(2, (0.5, 0.5)), 3);
    assert_eq!(upper_bound(2, (0.5, 0.0)), 2);
    assert_eq!(upper_bound(3, (1.0, 1.0)), 6);
    // minHealthy 1 = floor(1 x 1.5): one over is allowed, or the roll could not move.
    assert_eq!(upper_bound(1, (0.5, 0.5)), 2);
    assert_eq!(upper_bound(3, (1.0, 0.0)), 4);
    assert_eq!(upper_bound(2, (0.0, 0.0)), 2);
}

#[test]
fn task_ids_name_their_app() {
    assert_eq!(app_of_task("chaos_web.instance-1234._app.1"), "chaos_web");
    assert_eq!(app_of_task("chaos_web.1234"), "chaos_web");
}

#[test]
fn master_state_is_read_with_hostnames_and_unreachable_tasks() {
    let state = json!({
        "slaves": [{"id": "a1", "hostname": "127.0.0.2"}],
        "frameworks": [
            {"name": "marathon", "tasks": [{"id": "x.instance-1._app.1", "slave_id": "a1", "state": "TASK_RUNNING"}],
             "unreachable_tasks": [{"id": "x.instance-2._app.1", "slave_id": "a9", "state": "TASK_UNREACHABLE"}]},
            {"name": "other", "tasks": [{"id": "y", "slave_id": "a1", "state": "TASK_RUNNING"}]}
        ]
    });
    let tasks = master_tasks(&state);
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].host, "127.0.0.2");
    assert_eq!(tasks[0].app, "x");
    assert_eq!(tasks[1].state, "TASK_UNREACHABLE");
}

#[test]
fn more_live_tasks_than_the_bound_is_a_violation_and_killing_ones_count() {
    let mut c = Checker::new([]);
    c.settle("a", 2, (0.0, 0.0));
    c.observe(
        T,
        &[
            task("a.1", "s1", "TASK_RUNNING"),
            task("a.2", "s1", "TASK_RUNNING"),
        ],
    );
    assert!(c.violations.is_empty());
    c.observe(
        T,
        &[
            task("a.1", "s1", "TASK_KILLING"),
            task("a.2", "s1", "TASK_RUNNING"),
            task("a.3", "s2", "TASK_STAGING"),
        ],
    );
    assert_eq!(c.violations.len(), 1, "{:?}", c.violations);
    assert_eq!(c.violations[0].invariant, "upgrade bound exceeded");
    // Terminal tasks do not count.
    let mut c = Checker::new([]);
    c.settle("a", 2, (0.0, 0.0));
    c.observe(
        T,
        &[
            task("a.1", "s1", "TASK_KILLED"),
            task("a.2", "s1", "TASK_RUNNING"),
            task("a.3", "s2", "TASK_RUNNING"),
        ],
    );
    assert!(c.violations.is_empty());
}

#[test]
fn a_change_keeps_the_larger_bound_until_it_settles() {
    let mut c = Checker::new([]);
    c.settle("a", 3, (0.0, 0.0));
    c.change("a", 1, (0.0, 0.0));
    assert_eq!(c.bound("a"), Some(3));
    c.settle("a", 1, (0.0, 0.0));
    assert_eq!(c.bound("a"), Some(1));
    c.change("a", 3, (0.0, 0.5));
    assert_eq!(c.bound("a"), Some(4));
}

#[test]
fn tasks_back_from_unreachable_do_not_count_against_the_bound() {
    let mut c = Checker::new([]);
    c.settle("a", 1, (0.0, 0.0));
    c.observe(
        T,
        &[
            task("a.1", "s1", "TASK_UNREACHABLE"),
            task("a.2", "s2", "TASK_RUNNING"),
        ],
    );
    c.observe(
        T,
        &[
            task("a.1", "s1", "TASK_RUNNING"),
            task("a.2", "s2", "TASK_RUNNING"),
        ],
    );
    assert!(c.violations.is_empty(), "{:?}", c.violations);
}

#[test]
fn one_task_id_on_two_agents_is_a_violation_reported_once() {
    let mut c = Checker::new([]);
    c.observe(
        T,
        &[
            task("a.1", "s1", "TASK_RUNNING"),
            task("a.1", "s2", "TASK_RUNNING"),
        ],
    );
    c.observe(
        T,
        &[
            task("a.1", "s1", "TASK_RUNNING"),
            task("a.1", "s2", "TASK_RUNNING"),
        ],
    );
    assert_eq!(c.violations.len(), 1, "{:?}", c.violations);
    assert_eq!(c.violations[0].invariant, "task id running twice");
    // Or one after the other.
    let mut c = Checker::new([]);
    c.observe(T, &[task("a.1", "s1", "TASK_RUNNING")]);
    c.observe(T, &[task("a.1", "s2", "TASK_STAGING")]);
    assert_eq!(c.violations.len(), 1, "{:?}", c.violations);
}

#[test]
fn unique_apps_never_share_a_host() {
    let mut c = Checker::new(["u".to_string()]);
    c.settle("u", 3, (0.0, 0.0));
    c.observe(
        T,
        &[
            task("u.1", "s1", "TASK_RUNNING"),
            task("u.2", "s2", "TASK_RUNNING"),
        ],
    );
    assert!(c.violations.is_empty());
    c.observe(
        T,
        &[
            task("u.1", "s1", "TASK_RUNNING"),
            task("u.3", "s1", "TASK_STAGING"),
        ],
    );
    assert_eq!(c.violations[0].invariant, "hostname:UNIQUE broken");
}

fn intent() -> Intent {
    Intent {
        id: "/chaos/web".to_string(),
        instances: 2,
        round: 3,
        health_checked: true,
        unique: true,
    }
}

fn healthy(id: &str, host: &str, version: &str) -> serde_json::Value {
    json!({"id": id, "state": "TASK_RUNNING", "host": host, "version": version,
           "healthCheckResults": [{"alive": true}]})
}

fn app(tasks: serde_json::Value) -> serde_json::Value {
    json!({"id": "/chaos/web", "instances": 2, "env": {"ROUND": "3"},
           "versionInfo": {"lastConfigChangeAt": "2026-01-01T00:00:02.000Z"}, "tasks": tasks})
}

#[test]
fn convergence_needs_target_health_latest_config_and_the_masters_agreement() {
    let t1 = "chaos_web.instance-1._app.1";
    let t2 = "chaos_web.instance-2._app.1";
    let master = [
        task(t1, "s1", "TASK_RUNNING"),
        task(t2, "s2", "TASK_RUNNING"),
    ];
    let good = app(json!([
        healthy(t1, "h1", "2026-01-01T00:00:02.000Z"),
        healthy(t2, "h2", "2026-01-01T00:00:05.000Z")
    ]));
    assert_eq!(converged(&intent(), &good, &json!([]), &master), Ok(()));

    let busy = json!([{"affectedApps": ["/chaos/web"]}]);
    assert!(converged(&intent(), &good, &busy, &master)
        .unwrap_err()
        .contains("deployment"));
    let mut scaled = good.clone();
    scaled["instances"] = json!(3);
    assert!(converged(&intent(), &scaled, &json!([]), &master).is_err());
    let mut old_round = good.clone();
    old_round["env"]["ROUND"] = json!("2");
    assert!(converged(&intent(), &old_round, &json!([]), &master).is_err());
    let outdated = app(json!([
        healthy(t1, "h1", "2026-01-01T00:00:01.000Z"),
        healthy(t2, "h2", "2026-01-01T00:00:05.000Z")
    ]));
    assert!(converged(&intent(), &outdated, &json!([]), &master)
        .unwrap_err()
        .contains("older"));
    let mut sick = good.clone();
    sick["tasks"][1]["healthCheckResults"] = json!([]);
    assert!(converged(&intent(), &sick, &json!([]), &master)
        .unwrap_err()
        .contains("healthy"));
    let same_host = app(json!([
        healthy(t1, "h1", "2026-01-01T00:00:02.000Z"),
        healthy(t2, "h1", "2026-01-01T00:00:05.000Z")
    ]));
    assert!(converged(&intent(), &same_host, &json!([]), &master).is_err());
    // A status update Marathon missed: the master killed one, Marathon still shows it.
    let lost = [
        task(t1, "s1", "TASK_RUNNING"),
        task(t2, "s2", "TASK_KILLED"),
    ];
    assert!(converged(&intent(), &good, &json!([]), &lost)
        .unwrap_err()
        .contains("master"));
}

#[test]
fn acknowledged_versions_must_be_listed() {
    let versions = json!({"versions": ["v3", "v2", "v1"]});
    assert!(acknowledged_versions_kept(&["v1".into(), "v3".into()], &versions).is_empty());
    assert_eq!(
        acknowledged_versions_kept(&["v1".into(), "v4".into()], &versions),
        vec!["v4".to_string()]
    );
}
