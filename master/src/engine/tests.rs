//! Unit tests of the engine without sockets: events in (calls, agent messages, time),
//! effects out (what lands in the framework's and agent's channels).

use std::time::Duration;

use mesos_common::wire;
use mesos_proto::internal::{self, agent_message, master_message};
use mesos_proto::v1::scheduler::{call, event};
use mesos_proto::v1::{self, TaskState};

use super::*;
use crate::test_support::{
    accept_launching, add_agent, add_agent_at, agent_messages, command_task, engine, framework,
    scalar, status_update, subscribe,
};

fn task(id: &str, agent_id: &str, cpus: f64) -> v1::TaskInfo {
    let agent_id = v1::AgentId {
        value: agent_id.to_string(),
    };
    command_task(
        id,
        &agent_id,
        vec![scalar("cpus", cpus), scalar("mem", 32.0)],
    )
}

#[test]
fn subscribe_then_offers_in_mesos_id_formats() {
    let mut e = engine(&[]);
    let mut f = subscribe(&mut e, framework("f"));
    assert_eq!(f.id, "M-0000");
    let subscribed = f.events();
    assert_eq!(subscribed[0].r#type(), event::Type::Subscribed);
    let (agent_id, _agent) = add_agent(&mut e, "cpus:2;mem:1024;ports:[31000-31010]");
    assert_eq!(agent_id, "M-S0");
    e.allocate(Duration::ZERO, false);
    let offers = f.offers();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].id.value, "M-O0");
    let offered = wire::resources_from_proto(&offers[0].resources).unwrap();
    assert_eq!(offered.cpus(), Some(2.0));
    assert_eq!(offered.ports().unwrap().count(), 11);
}

#[test]
fn launch_beyond_the_offer_is_task_error_and_the_rest_comes_back() {
    let mut e = engine(&[]);
    let mut f = subscribe(&mut e, framework("f"));
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:2;mem:1024");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    let accept = accept_launching(
        &offer,
        vec![task("big", &agent_id, 3.0), task("ok", &agent_id, 1.0)],
        Some(0.0),
    );
    e.accept(&f.id, accept, Duration::ZERO);
    let updates = f.updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].state(), TaskState::TaskError);
    assert_eq!(updates[0].reason(), v1::task_status::Reason::TaskInvalid);
    assert!(
        updates[0].message().contains("more resources"),
        "{:?}",
        updates[0].message
    );
    match agent.try_recv().unwrap().message {
        Some(master_message::Message::RunTask(run)) => assert_eq!(run.task.task_id.value, "ok"),
        other => panic!("expected RunTask, got {other:?}"),
    }
    // The unused cpu comes straight back (refuse_seconds 0).
    e.allocate(Duration::from_millis(1), true);
    let again = f.offers();
    let r = wire::resources_from_proto(&again[0].resources).unwrap();
    assert_eq!(r.cpus(), Some(1.0));
}

#[test]
fn declined_offers_stay_filtered_until_refuse_seconds_pass() {
    let mut e = engine(&[]);
    let mut f = subscribe(&mut e, framework("f"));
    add_agent(&mut e, "cpus:2;mem:1024");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    let filters = v1::Filters {
        refuse_seconds: Some(5.0),
    };
    e.decline(
        &f.id,
        std::slice::from_ref(&offer.id),
        Some(&filters),
        Duration::ZERO,
    );
    e.allocate(Duration::from_secs(4), true);
    assert!(f.offers().is_empty(), "filtered for 5 s");
    e.allocate(Duration::from_secs(6), true);
    assert_eq!(
        f.offers().len(),
        1,
        "offered again after the filter expired"
    );
}

#[test]
fn terminal_update_recovers_resources_and_its_ack_completes_the_task() {
    let mut e = engine(&[]);
    let mut f = subscribe(&mut e, framework("f"));
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:1;mem:32");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    e.accept(
        &f.id,
        accept_launching(&offer, vec![task("t", &agent_id, 1.0)], Some(0.0)),
        Duration::ZERO,
    );
    let _run = agent.try_recv().unwrap();
    e.allocate(Duration::ZERO, true);
    assert!(f.offers().is_empty(), "everything is in use");

    e.agent_message(
        &agent_id,
        status_update(&f.id, "t", TaskState::TaskFinished, 7),
        Duration::ZERO,
    );
    let updates = f.updates();
    assert_eq!(updates[0].state(), TaskState::TaskFinished);
    e.allocate(Duration::ZERO, true);
    assert_eq!(
        f.offers().len(),
        1,
        "the finished task's resources are offered again"
    );

    e.acknowledge(
        &f.id,
        call::Acknowledge {
            agent_id: v1::AgentId {
                value: agent_id.clone(),
            },
            task_id: v1::TaskId {
                value: "t".to_string(),
            },
            uuid: vec![7; 16],
        },
    );
    match agent.try_recv().unwrap().message {
        Some(master_message::Message::Acknowledgement(a)) => assert_eq!(a.uuid, vec![7; 16]),
        other => panic!("expected the ack forwarded, got {other:?}"),
    }
    let fw = &e.frameworks[&f.id];
    assert!(fw.tasks.is_empty());
    assert_eq!(fw.completed_tasks.len(), 1);
}

#[test]
fn silent_agent_is_removed_and_its_tasks_lost() {
    let mut e = engine(&["--max_agent_ping_timeouts=2"]);
    let mut f = subscribe(&mut e, framework("f"));
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:1;mem:64");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    e.accept(
        &f.id,
        accept_launching(&offer, vec![task("t", &agent_id, 1.0)], Some(0.0)),
        Duration::ZERO,
    );
    let _run = agent.try_recv().unwrap();
    e.ping_agents(Duration::from_secs(15));
    assert!(
        e.agents.contains_key(&agent_id),
        "one missed ping is not enough"
    );
    e.ping_agents(Duration::from_secs(30));
    e.ping_agents(Duration::from_secs(45));
    assert!(!e.agents.contains_key(&agent_id));
    let updates = f.updates();
    assert_eq!(updates[0].state(), TaskState::TaskLost);
    assert_eq!(updates[0].reason(), v1::task_status::Reason::AgentRemoved);
}

#[test]
fn pongs_keep_an_agent() {
    let mut e = engine(&["--max_agent_ping_timeouts=2"]);
    let (agent_id, _agent) = add_agent(&mut e, "cpus:1;mem:64");
    for i in 1..10 {
        e.ping_agents(Duration::from_secs(15 * i));
        let pong = internal::AgentMessage {
            message: Some(agent_message::Message::Pong(internal::Pong { seq: 0 })),
        };
        e.agent_message(&agent_id, pong, Duration::from_secs(15 * i));
    }
    assert!(e.agents.contains_key(&agent_id));
}

#[test]
fn disconnect_with_failover_timeout_keeps_tasks_until_it_runs_out() {
    let mut e = engine(&[]);
    let mut info = framework("f");
    info.failover_timeout = Some(10.0);
    let mut f = subscribe(&mut e, info);
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:1;mem:64");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    e.accept(
        &f.id,
        accept_launching(&offer, vec![task("t", &agent_id, 1.0)], Some(0.0)),
        Duration::ZERO,
    );
    let _run = agent.try_recv().unwrap();

    e.framework_stream_closed(&f.id, "stream-1", Duration::from_secs(1));
    e.tick(Duration::from_secs(10));
    assert!(
        e.frameworks.contains_key(&f.id),
        "still within the failover timeout"
    );
    e.tick(Duration::from_secs(12));
    assert!(!e.frameworks.contains_key(&f.id), "torn down after it");
    match agent.try_recv().unwrap().message {
        Some(master_message::Message::ShutdownFramework(s)) => {
            assert_eq!(s.framework_id.value, f.id)
        }
        other => panic!("expected ShutdownFramework, got {other:?}"),
    }
}

#[test]
fn explicit_reconciliation_of_unknown_tasks() {
    let mut e = engine(&[]);
    let mut f = subscribe(&mut e, framework("f"));
    f.events();
    e.reconcile(
        &f.id,
        vec![call::reconcile::Task {
            task_id: v1::TaskId {
                value: "ghost".to_string(),
            },
            agent_id: None,
        }],
    );
    let updates = f.updates();
    assert_eq!(updates[0].state(), TaskState::TaskLost);
    assert_eq!(updates[0].reason(), v1::task_status::Reason::Reconciliation);
    assert!(updates[0].uuid.is_none());
}

#[test]
fn a_full_queue_defers_updates_and_a_stalled_or_closed_one_is_dropped() {
    let mut e = engine(&[]);
    let mut f = subscribe(&mut e, framework("f"));
    let (agent_id, mut agent) = add_agent(&mut e, "cpus:2;mem:64");
    e.allocate(Duration::ZERO, false);
    let offer = f.offers().remove(0);
    e.accept(
        &f.id,
        accept_launching(
            &offer,
            vec![task("t1", &agent_id, 1.0), task("t2", &agent_id, 1.0)],
            Some(0.0),
        ),
        Duration::ZERO,
    );
    while agent.try_recv().is_ok() {}

    // A burst the framework has not read yet fills its queue past the soft limit.
    let tx = e.frameworks[&f.id].subscriber.as_ref().unwrap().tx.clone();
    tx.push(bytes::Bytes::from(vec![b' '; event_queue::SOFT_LIMIT + 1]))
        .unwrap();
    e.agent_message(
        &agent_id,
        status_update(&f.id, "t1", TaskState::TaskRunning, 1),
        Duration::ZERO,
    );
    assert!(
        e.frameworks[&f.id].subscriber.is_some(),
        "a slow reader stays subscribed"
    );
    assert_eq!(e.counters.deferred_updates, 1);
    // The master took the state; the agent's retry delivers the update later.
    assert_eq!(
        e.frameworks[&f.id].tasks["t1"].task.state(),
        TaskState::TaskRunning
    );

    // Reading drains the queue; the re-sent update then goes through.
    let _burst = f.rx.try_recv().unwrap();
    e.agent_message(
        &agent_id,
        status_update(&f.id, "t1", TaskState::TaskRunning, 1),
        Duration::ZERO,
    );
    assert_eq!(f.updates()[0].state(), TaskState::TaskRunning);

    // Full again and nothing read for the stall timeout: the subscriber is dropped.
    tx.push(bytes::Bytes::from(vec![b' '; event_queue::SOFT_LIMIT + 1]))
        .unwrap();
    e.tick(Duration::from_secs(1));
    e.tick(Duration::from_secs(30));
    assert!(e.frameworks[&f.id].subscriber.is_some());
    e.tick(Duration::from_secs(1) + event_queue::STALL_TIMEOUT);
    assert!(e.frameworks[&f.id].subscriber.is_none());
    drop(tx);

    // A closed stream is noticed at the next event.
    let mut g = subscribe(&mut e, framework("g"));
    let _ = g.events();
    let g_id = g.id.clone();
    drop(g);
    e.send_to_framework(&g_id, &heartbeat_event());
    assert!(e.frameworks[&g_id].subscriber.is_none());
}

#[test]
fn each_agent_is_pinged_on_its_own_time() {
    let mut e = engine(&[]);
    let (first, mut first_rx) = add_agent(&mut e, "cpus:1;mem:64");
    let (_, mut second_rx) = add_agent_at(&mut e, "cpus:1;mem:64", Duration::from_secs(5));
    let pinged = |rx: &mut _| {
        agent_messages(rx)
            .iter()
            .filter(|m| matches!(m, master_message::Message::Ping(_)))
            .count()
    };
    e.ping_agents(Duration::from_secs(14));
    assert_eq!((pinged(&mut first_rx), pinged(&mut second_rx)), (0, 0));
    e.ping_agents(Duration::from_secs(15));
    assert_eq!((pinged(&mut first_rx), pinged(&mut second_rx)), (1, 0));
    e.ping_agents(Duration::from_secs(20));
    assert_eq!((pinged(&mut first_rx), pinged(&mut second_rx)), (0, 1));
    e.ping_agents(Duration::from_secs(30));
    assert_eq!((pinged(&mut first_rx), pinged(&mut second_rx)), (1, 0));
    assert_eq!(e.agents[&first].missed_pings, 1, "no pong came");
}
