//! Unit tests of the operator API: decoding and validation, and the admin actions on an
//! engine without sockets (what lands in the framework's and agent's channels).

use std::time::Duration;

use mesos_common::wire;
use mesos_proto::internal::{self, master_message};
use mesos_proto::v1::master::call;
use mesos_proto::v1::scheduler::{self, event};
use mesos_proto::v1::{self, quota, TaskState};
use prost::Message;
use tokio::sync::mpsc;

use super::*;
use crate::engine::EngineEvent;
use crate::test_support::{
    self, add_agent, agent_messages, framework_in_role as framework, launch, scalar, status_update,
    subscribe,
};

// ------------------------------------------------------------------------ decoding

fn json_call(text: &str) -> Result<master::Call, String> {
    decode_call(Encoding::Json, text.as_bytes())
}

#[test]
fn durations_are_read_the_way_mesos_writes_them() {
    for (json, nanos) in [
        (r#"{"seconds": 600}"#, 600_000_000_000_i64),
        (r#"{"seconds": "2", "nanos": 500000000}"#, 2_500_000_000),
        (r#""1.5s""#, 1_500_000_000),
        (r#"{}"#, 0),
    ] {
        let text = format!(
            r#"{{"type":"DRAIN_AGENT","drain_agent":{{"agent_id":{{"value":"a"}},"max_grace_period":{json}}}}}"#
        );
        let call = json_call(&text).unwrap_or_else(|e| panic!("{json}: {e}"));
        let d = call.drain_agent.unwrap().max_grace_period.unwrap();
        assert_eq!(
            d.seconds * 1_000_000_000 + i64::from(d.nanos),
            nanos,
            "{json}"
        );
    }
    assert_eq!(
        duration_text(&serde_json::json!({"seconds": -1, "nanos": -5})).as_deref(),
        Some("-1.000000005s")
    );
    assert!(duration_text(&serde_json::json!({"seconds": 1, "extra": 2})).is_none());
    assert!(json_call(
        r#"{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"a"},"max_grace_period":{"seconds":"x"}}}"#
    )
    .is_err());
}

#[test]
fn validation_names_what_is_missing() {
    let err = |text: &str| validate_call(&json_call(text).expect("decodes")).unwrap_err();
    assert_eq!(
        err(r#"{"type":"TEARDOWN"}"#),
        "Expecting 'teardown' to be present"
    );
    assert_eq!(err("{}"), "Expecting 'type' to be present");
    assert!(err(r#"{"type":"UNKNOWN"}"#).contains("known call type"));
    assert!(json_call(r#"{"type":"NO_SUCH_CALL"}"#).is_err());
    assert!(json_call(r#"{"type":"TEARDOWN","teardown":{}}"#).is_err());
    assert!(json_call("{not json").is_err());

    // An enum number from a newer client decodes, then is refused by validation.
    let unknown = master::Call {
        r#type: Some(999),
        ..Default::default()
    };
    let call = decode_call(Encoding::Protobuf, &unknown.encode_to_vec()).expect("decodes");
    assert!(validate_call(&call).unwrap_err().contains("999"));
    assert!(decode_call(Encoding::Protobuf, &[0xff, 0xff, 0xff]).is_err());

    let ok = json_call(r#"{"type":"GET_METRICS","get_metrics":{"timeout":{"nanoseconds":5}}}"#);
    assert_eq!(validate_call(&ok.unwrap()), Ok(call::Type::GetMetrics));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    /// Fuzz target: any bytes decode to a Call (then validate) or fail cleanly.
    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        for encoding in [Encoding::Json, Encoding::Protobuf] {
            if let Ok(call) = decode_call(encoding, &bytes) {
                let _ = validate_call(&call);
            }
        }
    }
}

// --------------------------------------------------------------------- engine setup

/// Engines get distinct master ids: the operator's records are kept per master id.
fn engine() -> Engine {
    test_support::engine(&[])
}

// ---------------------------------------------------------------------- admin actions

#[test]
fn mark_agent_gone_ends_tasks_by_partition_awareness_and_refuses_the_agent() {
    let mut e = engine();
    let mut aware = subscribe(&mut e, framework("aware", "*", true));
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:1;mem:64");
    e.allocate(Duration::ZERO, false);
    let offer = aware.offers().remove(0);
    launch(&mut e, &aware.id, &offer, "t-aware", None);
    // What the task leaves goes to the framework with the lower share.
    let mut plain = subscribe(&mut e, framework("plain", "*", false));
    e.allocate(Duration::from_millis(1), true);
    let offers = plain.offers();
    launch(&mut e, &plain.id, &offers[0], "t-plain", None);
    agent_messages(&mut agent);
    let mut changes = e.events.subscribe();

    mark_agent_gone_ok(&mut e, &agent_id);

    let aware_updates = aware.updates();
    assert_eq!(aware_updates.len(), 1, "{aware_updates:?}");
    assert_eq!(aware_updates[0].state(), TaskState::TaskGoneByOperator);
    assert_eq!(
        aware_updates[0].reason(),
        v1::task_status::Reason::AgentRemovedByOperator
    );
    let plain_updates = plain.updates();
    assert_eq!(plain_updates.len(), 1, "{plain_updates:?}");
    assert_eq!(plain_updates[0].state(), TaskState::TaskLost);
    assert!(!e.agents.contains_key(&agent_id));
    assert!(matches!(
        agent_messages(&mut agent).as_slice(),
        [master_message::Message::Refused(_)]
    ));
    assert!(matches!(
        changes.try_recv(),
        Ok(EngineEvent::AgentRemoved { .. })
    ));
    assert!(admin::refusal(&e, &agent_id).is_some());
    // Idempotent; an unknown agent is 404.
    mark_agent_gone_ok(&mut e, &agent_id);
    assert!(matches!(
        admin::mark_agent_gone(&mut e, "nope", Duration::ZERO),
        Err(OperatorError::NotFound(_))
    ));
    let tasks = views::tasks(&e);
    assert_eq!(tasks.tasks.len(), 0);
    assert_eq!(tasks.completed_tasks.len(), 2);
}

fn mark_agent_gone_ok(e: &mut Engine, agent_id: &str) {
    admin::mark_agent_gone(e, agent_id, Duration::ZERO).expect("marked gone");
}

#[test]
fn deactivated_agents_get_no_offers_until_reactivated() {
    let mut e = engine();
    let mut f = subscribe(&mut e, framework("f", "*", false));
    let (agent_id, _agent) = add_agent(&mut e, "cpus:1;mem:64");
    e.allocate(Duration::ZERO, false);
    assert_eq!(f.offers().len(), 1);

    admin::deactivate_agent(&mut e, &agent_id, Duration::ZERO).unwrap();
    let rescinded = f
        .events()
        .into_iter()
        .filter(|ev| ev.r#type() == event::Type::Rescind)
        .count();
    assert_eq!(rescinded, 1, "the outstanding offer is rescinded");
    e.allocate(Duration::from_secs(1), true);
    assert!(f.offers().is_empty());
    assert!(admin::agent_status(&e, &agent_id).0);
    assert_eq!(views::agents(&e).agents[0].deactivated, Some(true));

    admin::reactivate_agent(&mut e, &agent_id).unwrap();
    e.allocate(Duration::from_secs(2), true);
    assert_eq!(f.offers().len(), 1);
    assert!(matches!(
        admin::deactivate_agent(&mut e, "nope", Duration::ZERO),
        Err(OperatorError::NotFound(_))
    ));
}

#[test]
fn draining_kills_tasks_with_capped_grace_and_ends_drained_then_gone() {
    let mut e = engine();
    let mut f = subscribe(&mut e, framework("f", "*", true));
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:1;mem:64");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    launch(&mut e, &f.id, &offer, "t1", Some(30));
    agent_messages(&mut agent);

    let drain = json_call(&format!(
        r#"{{"type":"DRAIN_AGENT","drain_agent":{{"agent_id":{{"value":"{agent_id}"}},
            "max_grace_period":{{"seconds":2}},"mark_gone":true}}}}"#
    ))
    .unwrap()
    .drain_agent
    .unwrap();
    assert!(admin::drain_agent(&mut e, drain, Duration::ZERO).unwrap());
    match agent_messages(&mut agent).as_slice() {
        [master_message::Message::KillTask(kill)] => {
            assert_eq!(kill.task_id.value, "t1");
            let grace = kill.kill_policy.unwrap().grace_period.unwrap();
            assert_eq!(grace.nanoseconds, 2_000_000_000);
        }
        other => panic!("expected one KillTask, got {other:?}"),
    }
    let (deactivated, info) = admin::agent_status(&e, &agent_id);
    assert!(deactivated);
    assert_eq!(info.unwrap().state(), v1::DrainState::Draining);

    e.agent_message(
        &agent_id,
        status_update(&f.id, "t1", TaskState::TaskKilled, 7),
        Duration::ZERO,
    );
    assert!(
        admin::check_drain(&mut e, &agent_id, Duration::ZERO),
        "not acknowledged yet"
    );
    e.acknowledge(
        &f.id,
        scheduler::call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent_id.clone(),
            },
            task_id: v1::TaskId {
                value: "t1".to_string(),
            },
            uuid: vec![7; 16],
        },
    );
    assert!(!admin::check_drain(&mut e, &agent_id, Duration::ZERO));
    // Drained with mark_gone: the agent is gone now.
    assert!(!e.agents.contains_key(&agent_id));
    assert!(admin::refusal(&e, &agent_id).is_some());
}

/// A draining agent that comes back (after a change of leader, or a lost connection) is
/// told again to kill what it still runs, and the engine's tick finishes the drain.
#[test]
fn a_reregistered_draining_agent_is_told_again_and_the_tick_finishes_the_drain() {
    let mut e = engine();
    let mut f = subscribe(&mut e, framework("f", "*", false));
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:1;mem:64");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    launch(&mut e, &f.id, &offer, "t1", None);
    let drain = json_call(&format!(
        r#"{{"type":"DRAIN_AGENT","drain_agent":{{"agent_id":{{"value":"{agent_id}"}}}}}}"#
    ))
    .unwrap()
    .drain_agent
    .unwrap();
    assert!(admin::drain_agent(&mut e, drain, Duration::ZERO).unwrap());
    agent_messages(&mut agent);

    // The agent re-registers, still running the task.
    let (tx, mut again) = mpsc::channel(1024);
    let mut task = v1::Task {
        name: "t1".to_string(),
        task_id: v1::TaskId {
            value: "t1".to_string(),
        },
        framework_id: v1::FrameworkId {
            value: f.id.clone(),
        },
        agent_id: v1::AgentId {
            value: agent_id.clone(),
        },
        resources: vec![scalar("cpus", 0.5), scalar("mem", 32.0)],
        ..Default::default()
    };
    task.set_state(TaskState::TaskRunning);
    let register = internal::Register {
        agent_info: v1::AgentInfo {
            id: Some(v1::AgentId {
                value: agent_id.clone(),
            }),
            hostname: "agent-host".to_string(),
            resources: wire::resources_to_proto(
                &mesos_common::resources::Resources::parse("cpus:1;mem:64").unwrap(),
                None,
            ),
            ..Default::default()
        },
        tasks: vec![task],
        ..Default::default()
    };
    e.agent_connected(2, register, tx, Duration::from_secs(1))
        .expect("re-registered");
    match agent_messages(&mut again).as_slice() {
        [master_message::Message::Registered(_)] => {}
        other => panic!("expected only Registered before the tick, got {other:?}"),
    }
    e.tick(Duration::from_secs(1));
    match agent_messages(&mut again).as_slice() {
        [master_message::Message::KillTask(kill)] => assert_eq!(kill.task_id.value, "t1"),
        other => panic!("expected one KillTask after the tick, got {other:?}"),
    }
    e.tick(Duration::from_secs(2));
    assert!(
        agent_messages(&mut again).is_empty(),
        "told once per registration"
    );

    e.agent_message(
        &agent_id,
        status_update(&f.id, "t1", TaskState::TaskKilled, 9),
        Duration::from_secs(2),
    );
    e.acknowledge(
        &f.id,
        scheduler::call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent_id.clone(),
            },
            task_id: v1::TaskId {
                value: "t1".to_string(),
            },
            uuid: vec![9; 16],
        },
    );
    e.tick(Duration::from_secs(3));
    let (deactivated, info) = admin::agent_status(&e, &agent_id);
    assert!(deactivated);
    assert_eq!(info.unwrap().state(), v1::DrainState::Drained);
}

#[test]
fn quota_limits_cut_offers_and_are_reported() {
    let mut e = engine();
    let mut f = subscribe(&mut e, framework("f", "dev", false));
    add_agent(&mut e, "cpus:4;mem:1024");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);

    let limits = |cpus: f64| quota::QuotaConfig {
        role: "dev".to_string(),
        limits: [("cpus".to_string(), v1::value::Scalar { value: cpus })].into(),
        ..Default::default()
    };
    // The role holds 4 cpus in its offer: a 1 cpu limit needs force.
    let update = |cpus, force| call::UpdateQuota {
        force: Some(force),
        quota_configs: vec![limits(cpus)],
    };
    assert!(matches!(
        admin::update_quota(&mut e, update(1.0, false), Duration::ZERO),
        Err(OperatorError::BadRequest(_))
    ));
    admin::update_quota(&mut e, update(1.0, true), Duration::ZERO).unwrap();
    let events = f.events();
    assert!(
        events.iter().any(|ev| ev.r#type() == event::Type::Rescind
            && ev.rescind.as_ref().unwrap().offer_id == offer.id),
        "the offer above the limit is rescinded: {events:?}"
    );
    e.allocate(Duration::from_secs(1), true);
    let offers = f.offers();
    let cpus: f64 = offers
        .iter()
        .map(|o| {
            wire::resources_from_proto(&o.resources)
                .unwrap()
                .cpus()
                .unwrap_or(0.0)
        })
        .sum();
    assert_eq!(cpus, 1.0, "{offers:?}");

    let status = admin::quota_status(&e).status;
    assert_eq!(status.configs, vec![limits(1.0)]);
    // Resetting to no limits removes the quota.
    admin::update_quota(
        &mut e,
        call::UpdateQuota {
            force: None,
            quota_configs: vec![quota::QuotaConfig {
                role: "dev".to_string(),
                ..Default::default()
            }],
        },
        Duration::ZERO,
    )
    .unwrap();
    assert!(admin::quota_status(&e).status.configs.is_empty());
}

#[test]
fn quota_and_weight_inputs_are_checked() {
    let mut e = engine();
    let bad = |role: &str, guarantee: f64, limit: f64| call::UpdateQuota {
        force: Some(true),
        quota_configs: vec![quota::QuotaConfig {
            role: role.to_string(),
            guarantees: [("cpus".to_string(), v1::value::Scalar { value: guarantee })].into(),
            limits: [("cpus".to_string(), v1::value::Scalar { value: limit })].into(),
        }],
    };
    for update in [
        bad("*", 1.0, 1.0),
        bad("a b", 1.0, 1.0),
        bad("r", 2.0, 1.0),
        bad("r", -1.0, 1.0),
    ] {
        assert!(
            admin::update_quota(&mut e, update.clone(), Duration::ZERO).is_err(),
            "{update:?}"
        );
    }
    assert!(admin::quota_status(&e).status.configs.is_empty());

    let weight = |role: Option<&str>, weight: f64| v1::WeightInfo {
        weight,
        role: role.map(str::to_string),
    };
    assert!(admin::update_weights(&mut e, vec![weight(None, 2.0)]).is_err());
    assert!(admin::update_weights(&mut e, vec![weight(Some("r"), 0.0)]).is_err());
    admin::update_weights(&mut e, vec![weight(Some("r"), 2.5)]).unwrap();
    assert_eq!(
        views::weights(&e).weight_infos,
        vec![weight(Some("r"), 2.5)]
    );
    let roles = views::roles(&e).roles;
    assert!(
        roles.iter().any(|r| r.name == "r" && r.weight == 2.5),
        "{roles:?}"
    );
}

#[test]
#[allow(deprecated)] // the legacy quota calls are what is tested
fn legacy_set_and_remove_quota() {
    let mut e = engine();
    let request = quota::QuotaRequest {
        force: Some(true),
        role: Some("legacy".to_string()),
        guarantee: vec![scalar("cpus", 2.0)],
    };
    admin::set_quota(&mut e, request.clone(), Duration::ZERO).unwrap();
    let status = admin::quota_status(&e).status;
    assert_eq!(status.configs[0].limits["cpus"].value, 2.0);
    assert_eq!(status.configs[0].guarantees["cpus"].value, 2.0);
    assert_eq!(status.infos[0].guarantee, vec![scalar("cpus", 2.0)]);
    assert!(admin::set_quota(&mut e, request, Duration::ZERO).is_err());
    admin::remove_quota(&mut e, "legacy", Duration::ZERO).unwrap();
    assert!(admin::remove_quota(&mut e, "legacy", Duration::ZERO).is_err());
}

#[test]
fn wire_numbers_match_mesos() {
    use call::Type as T;
    use mesos_proto::v1::master::{event as ev, response::Type as R};
    for (kind, number) in [
        (T::GetState, 9),
        (T::Subscribe, 18),
        (T::GetQuota, 28),
        (T::Teardown, 31),
        (T::MarkAgentGone, 32),
        (T::GetOperations, 33),
        (T::UpdateQuota, 36),
        (T::DrainAgent, 37),
        (T::DeactivateAgent, 38),
        (T::ReactivateAgent, 39),
    ] {
        assert_eq!(kind as i32, number, "{kind:?}");
    }
    assert_eq!(R::GetOperations as i32, 19);
    assert_eq!(R::GetQuota as i32, 18);
    assert_eq!(ev::Type::Heartbeat as i32, 9);
    // Field tags as varints: drain_agent is (21 << 3) | 2 = 170, update_quota (20 << 3) | 2
    // = 162 (both length-delimited).
    let call = master::Call {
        drain_agent: Some(call::DrainAgent::default()),
        ..Default::default()
    };
    assert_eq!(&call.encode_to_vec()[..2], &[0xaa, 0x01]);
    let call = master::Call {
        update_quota: Some(call::UpdateQuota::default()),
        ..Default::default()
    };
    assert_eq!(&call.encode_to_vec()[..2], &[0xa2, 0x01]);
}
