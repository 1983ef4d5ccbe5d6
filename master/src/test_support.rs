//! Builders and probes shared by the unit tests that drive an [`Engine`] without sockets
//! (`engine_tests.rs`, `operator/tests.rs`): an engine from flags, a subscribed framework
//! whose events can be read back, an agent whose messages can be read back, and the
//! messages an agent sends.

use std::time::Duration;

use clap::Parser;
use mesos_common::{recordio, wire};
use mesos_proto::internal::{self, agent_message, master_message};
use mesos_proto::v1::scheduler::{self, event};
use mesos_proto::v1::{self, TaskState};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::engine::{Encoding, Engine, SubscribeRequest, Subscriber};
use crate::event_queue::{event_queue, EventReceiver};

/// An engine started with `flags` (as on the command line), master id "M".
pub(crate) fn engine(flags: &[&str]) -> Engine {
    let mut args = vec!["mesos-master"];
    args.extend_from_slice(flags);
    let config = Config::try_parse_from(args).expect("flags parse");
    let info = v1::MasterInfo {
        id: "M".to_string(),
        ..Default::default()
    };
    Engine::new(config, info).expect("valid config")
}

/// A subscribed framework: its id and the events queued to it.
pub(crate) struct FrameworkProbe {
    pub(crate) id: String,
    pub(crate) rx: EventReceiver,
}

impl FrameworkProbe {
    /// Every event queued so far.
    pub(crate) fn events(&mut self) -> Vec<scheduler::Event> {
        let mut out = Vec::new();
        while let Ok(chunk) = self.rx.try_recv() {
            let mut decoder = recordio::Decoder::default();
            for record in decoder.feed(&chunk).expect("framed") {
                out.push(mesos_proto::json::from_json_slice(&record).expect("event json"));
            }
        }
        out
    }

    pub(crate) fn offers(&mut self) -> Vec<v1::Offer> {
        self.events()
            .into_iter()
            .filter(|e| e.r#type() == event::Type::Offers)
            .flat_map(|e| e.offers.unwrap().offers)
            .collect()
    }

    pub(crate) fn updates(&mut self) -> Vec<v1::TaskStatus> {
        self.events()
            .into_iter()
            .filter(|e| e.r#type() == event::Type::Update)
            .map(|e| e.update.unwrap().status)
            .collect()
    }
}

/// Subscribes a framework (JSON events) at time zero.
pub(crate) fn subscribe(engine: &mut Engine, info: v1::FrameworkInfo) -> FrameworkProbe {
    let (tx, rx) = event_queue();
    let id = engine
        .subscribe(
            SubscribeRequest {
                info,
                suppressed_roles: Vec::new(),
                subscriber: Subscriber::new("stream-1".to_string(), Encoding::Json, tx),
            },
            Duration::ZERO,
        )
        .expect("subscribed");
    FrameworkProbe { id, rx }
}

/// A FrameworkInfo with a user and a name, nothing else.
pub(crate) fn framework(name: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        user: "root".to_string(),
        name: name.to_string(),
        ..Default::default()
    }
}

/// Registers an agent with `resources` (`cpus:1;mem:64`); returns its id and its queue,
/// with the Registered message already taken off.
pub(crate) fn add_agent(
    engine: &mut Engine,
    resources: &str,
) -> (String, mpsc::Receiver<Box<internal::MasterMessage>>) {
    add_agent_at(engine, resources, Duration::ZERO)
}

/// [`add_agent`] at time `now`.
pub(crate) fn add_agent_at(
    engine: &mut Engine,
    resources: &str,
    now: Duration,
) -> (String, mpsc::Receiver<Box<internal::MasterMessage>>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let r = mesos_common::resources::Resources::parse(resources).unwrap();
    let register = internal::Register {
        agent_info: v1::AgentInfo {
            hostname: "agent-host".to_string(),
            resources: wire::resources_to_proto(&r, None),
            ..Default::default()
        },
        ..Default::default()
    };
    let id = engine
        .agent_connected(1, register, tx, now)
        .expect("registered");
    match rx.try_recv().expect("Registered sent").message {
        Some(master_message::Message::Registered(r)) => assert_eq!(r.agent_id.value, id),
        other => panic!("expected Registered, got {other:?}"),
    }
    (id, rx)
}

/// Every message queued to an agent so far.
pub(crate) fn agent_messages(
    rx: &mut mpsc::Receiver<Box<internal::MasterMessage>>,
) -> Vec<master_message::Message> {
    let mut out = Vec::new();
    while let Ok(m) = rx.try_recv() {
        out.extend(m.message);
    }
    out
}

pub(crate) fn scalar(name: &str, value: f64) -> v1::Resource {
    let mut r = v1::Resource {
        name: name.to_string(),
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    };
    r.set_type(v1::value::Type::Scalar);
    r
}

/// A command task (`true`) named and identified `id`, on `agent_id`, using `resources`.
pub(crate) fn command_task(
    id: &str,
    agent_id: &v1::AgentId,
    resources: Vec<v1::Resource>,
) -> v1::TaskInfo {
    v1::TaskInfo {
        name: id.to_string(),
        task_id: v1::TaskId {
            value: id.to_string(),
        },
        agent_id: agent_id.clone(),
        command: Some(v1::CommandInfo {
            value: Some("true".to_string()),
            ..Default::default()
        }),
        resources,
        ..Default::default()
    }
}

/// An ACCEPT of `offer` that launches `tasks`, with a filter of `refuse_seconds` if given.
pub(crate) fn accept_launching(
    offer: &v1::Offer,
    tasks: Vec<v1::TaskInfo>,
    refuse_seconds: Option<f64>,
) -> scheduler::call::Accept {
    let mut op = v1::offer::Operation {
        launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
        ..Default::default()
    };
    op.set_type(v1::offer::operation::Type::Launch);
    scheduler::call::Accept {
        offer_ids: vec![offer.id.clone()],
        operations: vec![op],
        filters: refuse_seconds.map(|secs| v1::Filters {
            refuse_seconds: Some(secs),
        }),
    }
}

/// A status update from an agent, with a uuid of sixteen `uuid` bytes.
pub(crate) fn status_update(
    framework_id: &str,
    task_id: &str,
    state: TaskState,
    uuid: u8,
) -> internal::AgentMessage {
    let mut status = v1::TaskStatus {
        task_id: v1::TaskId {
            value: task_id.to_string(),
        },
        uuid: Some(vec![uuid; 16]),
        ..Default::default()
    };
    status.set_state(state);
    internal::AgentMessage {
        message: Some(agent_message::Message::StatusUpdate(
            internal::StatusUpdate {
                framework_id: v1::FrameworkId {
                    value: framework_id.to_string(),
                },
                status,
                latest_state: None,
            },
        )),
    }
}

/// A framework in `role`, partition-aware or not.
pub(crate) fn framework_in_role(
    name: &str,
    role: &str,
    partition_aware: bool,
) -> v1::FrameworkInfo {
    let mut info = framework(name);
    #[allow(deprecated)] // the single-role field is what plain frameworks set
    {
        info.role = Some(role.to_string());
    }
    if partition_aware {
        let mut cap = v1::framework_info::Capability::default();
        cap.set_type(v1::framework_info::capability::Type::PartitionAware);
        info.capabilities.push(cap);
    }
    info
}

/// Launches one small command task on `offer`, with a kill grace period if given.
pub(crate) fn launch(
    e: &mut Engine,
    f: &str,
    offer: &v1::Offer,
    task_id: &str,
    grace_secs: Option<i64>,
) {
    let mut task = command_task(
        task_id,
        &offer.agent_id,
        vec![scalar("cpus", 0.5), scalar("mem", 32.0)],
    );
    task.kill_policy = grace_secs.map(|s| v1::KillPolicy {
        grace_period: Some(v1::DurationInfo {
            nanoseconds: s * 1_000_000_000,
        }),
    });
    let accept = accept_launching(offer, vec![task], Some(0.0));
    e.accept(f, accept, Duration::ZERO);
}
