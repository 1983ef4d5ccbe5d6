use super::*;
use crate::instance::new_task_id;

fn app(id: &str, instances: u32) -> AppDefinition {
    let mut a = AppDefinition::with_defaults(PathId::parse(id));
    a.cmd = Some("sleep 100".into());
    a.instances = instances;
    a.version = "v1".into();
    a.version_info.last_config_change_at = "v1".into();
    a
}

fn instance(app: &AppDefinition, n: u128, staged_at: u64) -> Instance {
    Instance::provisioned(
        app,
        new_task_id(&app.id, uuid::Uuid::from_u128(n)),
        "a1",
        "h1",
        vec![],
        staged_at,
    )
}

fn status(task: &str, state: &str, at: u64) -> StatusUpdate {
    StatusUpdate {
        task_id: task.into(),
        agent_id: Some("a1".into()),
        state: state.into(),
        message: Some("m".into()),
        healthy: None,
        ip_addresses: vec![],
        timestamp_ms: at,
    }
}

fn kills(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Kill { task_id, .. } => Some(task_id.clone()),
            _ => None,
        })
        .collect()
}

fn tracker() -> Tracker {
    Tracker::new(TrackerConfig {
        task_launch_timeout_ms: 300_000,
    })
}

#[test]
fn a_new_app_waits_and_revives_then_suppresses_when_launched() {
    let mut t = tracker();
    let a = app("/web", 2);
    let effects = t.put_app(a.clone(), 0);
    assert!(effects.contains(&Effect::Revive));
    assert_eq!(t.launch_demand(&a.id, 0), 2);
    assert_eq!(t.waiting_since(&a.id), Some(0));
    let effects = t.provisioned(vec![instance(&a, 1, 1), instance(&a, 2, 1)]);
    assert_eq!(effects.len(), 2);
    assert_eq!(t.launch_demand(&a.id, 1), 0);
    assert!(t.converge(2).contains(&Effect::Suppress));
}

#[test]
fn a_failed_task_is_replaced_after_a_growing_backoff() {
    let mut t = tracker();
    let mut a = app("/web", 1);
    a.backoff_seconds = 2.0;
    a.backoff_factor = 2.0;
    a.max_launch_delay_seconds = 5.0;
    t.put_app(a.clone(), 0);
    let i = instance(&a, 1, 0);
    t.provisioned(vec![i.clone()]);
    t.on_status(&status(&i.task_id, "TASK_RUNNING", 10), 10);
    let effects = t.on_status(&status(&i.task_id, "TASK_FAILED", 20), 20);
    assert!(effects.contains(&Effect::Expunge {
        task_id: i.task_id.clone()
    }));
    assert_eq!(t.launch_demand(&a.id, 21), 0, "backed off");
    assert!(
        !t.tick(1000).contains(&Effect::Revive),
        "no offers while backed off"
    );
    assert_eq!(t.launch_demand(&a.id, 2020), 1);
    assert!(
        t.tick(2020).contains(&Effect::Revive),
        "the end of the backoff revives"
    );
    assert_eq!(t.last_failure(&a.id).unwrap().state, "TASK_FAILED");
    // Second failure: 4 s; third: capped at 5 s.
    let j = instance(&a, 2, 2020);
    t.provisioned(vec![j.clone()]);
    t.on_status(&status(&j.task_id, "TASK_FAILED", 3000), 3000);
    assert_eq!(t.backoff(&a.id).unwrap().delay_seconds, 4.0);
    let k = instance(&a, 3, 7000);
    t.provisioned(vec![k.clone()]);
    t.on_status(&status(&k.task_id, "TASK_FAILED", 8000), 8000);
    assert_eq!(t.backoff(&a.id).unwrap().delay_seconds, 5.0);
    // A new version resets it.
    let mut b = a.clone();
    b.cmd = Some("other".into());
    b.version_info.last_config_change_at = "v2".into();
    t.put_app(b, 8001);
    assert_eq!(t.launch_demand(&a.id, 8001), 1);
}

#[test]
fn killed_tasks_do_not_back_off() {
    let mut t = tracker();
    let a = app("/web", 1);
    t.put_app(a.clone(), 0);
    let i = instance(&a, 1, 0);
    t.provisioned(vec![i.clone()]);
    t.on_status(&status(&i.task_id, "TASK_KILLED", 5), 5);
    assert_eq!(t.launch_demand(&a.id, 6), 1);
}

#[test]
fn scaling_down_kills_the_youngest_or_oldest() {
    for (selection, expected) in [
        (KillSelection::YoungestFirst, vec![3u128, 2]),
        (KillSelection::OldestFirst, vec![1, 2]),
    ] {
        let mut t = tracker();
        let mut a = app("/web", 3);
        a.kill_selection = selection;
        t.put_app(a.clone(), 0);
        let all: Vec<Instance> = (1..=3).map(|n| instance(&a, n, n as u64 * 10)).collect();
        t.provisioned(all.clone());
        for i in &all {
            t.on_status(&status(&i.task_id, "TASK_RUNNING", 50), 50);
        }
        a.instances = 1;
        let killed = kills(&t.put_app(a.clone(), 60));
        let want: Vec<String> = expected
            .iter()
            .map(|&n| all[n as usize - 1].task_id.clone())
            .collect();
        assert_eq!(killed, want, "{selection:?}");
    }
}

/// A tracker with two instances of `/web` and the app's next config (not yet put).
fn two_instances_and_a_new_config() -> (Tracker, AppDefinition) {
    let mut t = tracker();
    let a = app("/web", 2);
    t.put_app(a.clone(), 0);
    t.provisioned(vec![instance(&a, 1, 0), instance(&a, 2, 0)]);
    let mut b = a;
    b.mem = 64.0;
    b.version_info.last_config_change_at = "v2".into();
    (t, b)
}

#[test]
fn a_config_change_replaces_every_instance_and_removal_kills_all() {
    let (mut t, b) = two_instances_and_a_new_config();
    let effects = t.put_app(b.clone(), 10);
    assert_eq!(kills(&effects).len(), 2);
    assert_eq!(t.launch_demand(&b.id, 10), 2);
    let effects = t.remove_app(&b.id, 20);
    assert!(kills(&effects).is_empty(), "already being killed");
    assert!(effects.contains(&Effect::Suppress));
}

#[test]
fn a_deployment_s_hold_freezes_or_rolls_an_app() {
    let (mut t, b) = two_instances_and_a_new_config();
    // Frozen: the new config neither kills the old instances nor launches.
    t.set_hold(&b.id, Some(Hold::Frozen), 5);
    assert!(kills(&t.put_app(b.clone(), 10)).is_empty());
    assert_eq!(t.launch_demand(&b.id, 10), 0);
    assert_eq!(t.waiting_since(&b.id), None);
    // Rolling: the old ones stay, new ones up to the cap.
    let effects = t.set_hold(&b.id, Some(Hold::Rolling { new_cap: 1 }), 20);
    assert!(kills(&effects).is_empty());
    assert!(effects.contains(&Effect::Revive));
    assert_eq!(t.launch_demand(&b.id, 20), 1);
    // Released: plain convergence replaces what is outdated.
    let effects = t.set_hold(&b.id, None, 30);
    assert_eq!(kills(&effects).len(), 2);
    assert_eq!(t.launch_demand(&b.id, 30), 2);
    assert!(t.set_hold(&b.id, None, 31).is_empty(), "no change, no work");
}

#[test]
fn launch_timeout_kills_a_task_that_never_ran() {
    let mut t = tracker();
    let a = app("/web", 1);
    t.put_app(a.clone(), 0);
    let i = instance(&a, 1, 0);
    t.provisioned(vec![i.clone()]);
    assert!(kills(&t.tick(300_000)).is_empty());
    let effects = t.tick(300_001);
    assert_eq!(kills(&effects), vec![i.task_id.clone()]);
    // It no longer counts: a replacement is wanted at once.
    assert_eq!(t.launch_demand(&a.id, 300_001), 1);
}

/// An app of one instance under (inactiveAfterSeconds, expungeAfterSeconds), whose
/// instance ran at 1 ms and became unreachable at 1,000 ms.
fn one_instance_unreachable_at_1000(
    inactive_after_seconds: f64,
    expunge_after_seconds: f64,
) -> (Tracker, AppDefinition, Instance) {
    let mut t = tracker();
    let mut a = app("/web", 1);
    a.unreachable_strategy = UnreachableStrategy::Enabled {
        inactive_after_seconds,
        expunge_after_seconds,
    };
    t.put_app(a.clone(), 0);
    let i = instance(&a, 1, 0);
    t.provisioned(vec![i.clone()]);
    t.on_status(&status(&i.task_id, "TASK_RUNNING", 1), 1);
    t.on_status(&status(&i.task_id, "TASK_UNREACHABLE", 1000), 1000);
    (t, a, i)
}

#[test]
fn unreachable_instances_are_replaced_after_inactive_after_seconds() {
    let (mut t, a, i) = one_instance_unreachable_at_1000(10.0, 20.0);
    t.tick(5000);
    assert_eq!(t.launch_demand(&a.id, 5000), 0, "still counts");
    t.tick(11_000);
    assert_eq!(t.launch_demand(&a.id, 11_000), 1, "replaced");
    t.tick(20_000);
    assert!(
        t.instance(&i.task_id).is_some(),
        "kept until expungeAfterSeconds"
    );
    let effects = t.tick(21_000);
    assert!(kills(&effects).is_empty(), "nobody to kill it");
    assert!(effects.contains(&Effect::Expunge {
        task_id: i.task_id.clone()
    }));
    assert!(t.instance(&i.task_id).is_none(), "expunged");
}

#[test]
fn disabled_unreachable_strategy_waits_forever() {
    let mut t = tracker();
    let mut a = app("/web", 1);
    a.unreachable_strategy =
        UnreachableStrategy::Disabled(crate::app::UnreachableDisabled::Disabled);
    t.put_app(a.clone(), 0);
    let i = instance(&a, 1, 0);
    t.provisioned(vec![i.clone()]);
    t.on_status(&status(&i.task_id, "TASK_UNREACHABLE", 1), 1);
    t.tick(10_000_000);
    assert_eq!(t.launch_demand(&a.id, 10_000_000), 0);
}

#[test]
fn unknown_tasks_are_killed_unless_ended() {
    let mut t = tracker();
    let effects = t.on_status(&status("ghost.instance-x._app.1", "TASK_RUNNING", 1), 1);
    assert_eq!(kills(&effects), vec!["ghost.instance-x._app.1".to_string()]);
    assert!(t
        .on_status(&status("ghost.instance-x._app.1", "TASK_KILLED", 2), 2)
        .is_empty());
}

#[test]
fn a_pod_instance_follows_its_tasks_and_is_killed_task_by_task() {
    use crate::instance::PodTask;
    let mut t = tracker();
    let a = app("/pod", 1);
    t.put_app(a.clone(), 0);
    let id = crate::pod::new_instance_id(&a.id, uuid::Uuid::from_u128(1));
    let mut i = Instance::provisioned(&a, id.clone(), "a1", "h1", vec![], 0);
    let task = |c: &str| crate::pod::container_task_id(&id, c);
    for c in ["web", "client"] {
        let pod_task = PodTask {
            container: c.into(),
            condition: Condition::Provisioned,
            checked: c == "web",
            healthy: None,
            since: 0,
            message: None,
        };
        i.pod_tasks.insert(task(c), pod_task);
    }
    t.provisioned(vec![i]);
    let mut web = status(&task("web"), "TASK_RUNNING", 5);
    web.healthy = Some(true);
    let up = t.instance_update(&web);
    assert_eq!(up.task_id, id);
    assert_eq!(up.state, "TASK_STAGING", "the client has not started");
    assert_eq!(up.healthy, Some(true));
    t.on_status(&up, 5);
    let up = t.instance_update(&status(&task("client"), "TASK_RUNNING", 6));
    assert_eq!(up.state, "TASK_RUNNING");
    t.on_status(&up, 6);
    assert_eq!(t.instance(&id).unwrap().condition, Condition::Running);
    // A kill is one per container task; reconciliation asks for each task too.
    let mut killed = kills(&t.kill(std::slice::from_ref(&id), 7));
    killed.sort();
    assert_eq!(killed, vec![task("client"), task("web")]);
    assert_eq!(t.reconcile_list(7, 10_000).len(), 2);
    // An app's update passes through as it is.
    let other = status("web.instance-x._app.1", "TASK_RUNNING", 8);
    assert_eq!(t.instance_update(&other), other);
}

/// A tracker with `/web` at `instances`, whose first instance ran on agent `a1` and
/// became unreachable at 1000 (Marathon's default strategy: inactive and expunged at
/// once), and was replaced by a second, running instance.
fn replaced_while_unreachable(instances: u32) -> (Tracker, AppDefinition, Instance, Instance) {
    let mut t = tracker();
    let a = app("/web", instances);
    t.put_app(a.clone(), 0);
    let old = instance(&a, 1, 0);
    t.provisioned(vec![old.clone()]);
    t.on_status(&status(&old.task_id, "TASK_RUNNING", 1), 1);
    t.on_status(&status(&old.task_id, "TASK_UNREACHABLE", 1000), 1000);
    t.tick(1250);
    assert_eq!(t.launch_demand(&a.id, 1250), 1, "replaced");
    let new = instance(&a, 2, 1300);
    t.provisioned(vec![new.clone()]);
    t.on_status(&status(&new.task_id, "TASK_RUNNING", 1400), 1400);
    (t, a, old, new)
}

#[test]
fn an_instance_expunged_while_unreachable_is_killed_when_it_comes_back() {
    let (mut t, a, old, new) = replaced_while_unreachable(1);
    // Expunged, as Marathon does past expungeAfterSeconds: no kill is sent to an agent
    // nobody reaches, and the API no longer lists it.
    assert!(t.instance(&old.task_id).is_none(), "expunged");
    // The master answers a reconciliation with TASK_UNREACHABLE meanwhile: no kill
    // (it would only be answered with TASK_UNREACHABLE again).
    assert!(kills(&t.on_status(&status(&old.task_id, "TASK_UNREACHABLE", 2000), 2000)).is_empty());
    // Back: reconciliation says it runs. It is killed, the replacement stays.
    let effects = t.on_status(&status(&old.task_id, "TASK_RUNNING", 9000), 9000);
    assert_eq!(kills(&effects), vec![old.task_id.clone()]);
    assert_eq!(t.launch_demand(&a.id, 9000), 0);
    assert!(t.instance(&new.task_id).unwrap().is_active());
}

#[test]
fn an_instance_that_comes_back_before_it_is_expunged_makes_the_app_kill_its_surplus() {
    let (mut t, a, old) = one_instance_unreachable_at_1000(0.0, 600.0);
    t.tick(1250);
    let new = instance(&a, 2, 1300);
    t.provisioned(vec![new.clone()]);
    t.on_status(&status(&new.task_id, "TASK_RUNNING", 1400), 1400);
    // Back and active again: two for one; killSelection (youngest first) picks the
    // replacement.
    let effects = t.on_status(&status(&old.task_id, "TASK_RUNNING", 9000), 9000);
    assert_eq!(kills(&effects), vec![new.task_id.clone()]);
    assert!(t.instance(&old.task_id).unwrap().is_active());
}

#[test]
fn a_kill_lost_while_the_agent_was_away_is_sent_again_when_it_comes_back() {
    let mut t = tracker();
    let mut a = app("/web", 2);
    a.unreachable_strategy = UnreachableStrategy::Enabled {
        inactive_after_seconds: 300.0,
        expunge_after_seconds: 600.0,
    };
    t.put_app(a.clone(), 0);
    let (i, j) = (instance(&a, 1, 0), instance(&a, 2, 10));
    t.provisioned(vec![i.clone(), j.clone()]);
    t.on_status(&status(&i.task_id, "TASK_RUNNING", 20), 20);
    t.on_status(&status(&j.task_id, "TASK_RUNNING", 20), 20);
    t.on_status(&status(&j.task_id, "TASK_UNREACHABLE", 1000), 1000);
    // Scaled down while its agent is away: the kill reaches nobody, and the master
    // answers it with TASK_UNREACHABLE.
    a.instances = 1;
    assert_eq!(kills(&t.put_app(a.clone(), 2000)), vec![j.task_id.clone()]);
    assert!(kills(&t.on_status(&status(&j.task_id, "TASK_UNREACHABLE", 2001), 2001)).is_empty());
    // The agent is back and the task runs: the kill goes again.
    let effects = t.on_status(&status(&j.task_id, "TASK_RUNNING", 9000), 9000);
    assert_eq!(kills(&effects), vec![j.task_id.clone()]);
    // Once it says it is being killed, no more kills.
    assert!(kills(&t.on_status(&status(&j.task_id, "TASK_KILLING", 9001), 9001)).is_empty());
}

#[test]
fn a_task_launched_but_not_yet_confirmed_is_not_reconciled() {
    let mut t = tracker();
    let a = app("/web", 2);
    t.put_app(a.clone(), 0);
    let (i, j) = (instance(&a, 1, 0), instance(&a, 2, 0));
    t.provisioned(vec![i.clone(), j.clone()]);
    t.on_status(&status(&i.task_id, "TASK_STAGING", 5), 5);
    // The master may not have the launch yet and would answer TASK_GONE for `j`,
    // and Marathon would forget a task that is about to start.
    let listed = |now| -> Vec<String> {
        t.reconcile_list(now, 10_000)
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    };
    assert_eq!(listed(100), vec![i.task_id.clone()]);
    // Once its launch call has had time to end, it is asked for: a launch lost with a
    // failing master is found before the launch timeout.
    assert_eq!(listed(10_000), vec![i.task_id.clone(), j.task_id.clone()]);
}
