//! Tables of clusters and the names Mesos-DNS gives them.

use std::net::IpAddr;

use super::*;
use crate::core::cluster::{
    Agent, Change, Discovery, DiscoveryPort, MasterAddr, RunningStatus, Task, TaskUpdate,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn naming() -> Naming {
    Naming {
        domain: "mesos".into(),
        ns_name: "ns1.mesos.".into(),
        ns_ips: vec![ip("127.0.0.1")],
        ip_sources: vec![IpSource::Netinfo, IpSource::Mesos, IpSource::Host],
        spec: LabelSpec::Rfc1123,
    }
}

fn agent(id: &str, address: &str) -> Agent {
    Agent {
        id: id.into(),
        ips: vec![ip(address)],
        hostname: address.into(),
        port: 5051,
    }
}

fn framework(id: &str, name: &str) -> Framework {
    Framework {
        id: id.into(),
        name: name.into(),
        ips: vec![ip("10.0.0.9")],
        port: None,
    }
}

fn task(id: &str, name: &str, framework_id: &str, agent_id: &str) -> Task {
    Task {
        id: id.into(),
        name: name.into(),
        framework_id: framework_id.into(),
        agent_id: agent_id.into(),
        running: true,
        running_status: None,
        ports: Vec::new(),
        discovery: None,
        networking: Networking::Plain,
    }
}

fn cluster(frameworks: Vec<Framework>, tasks: Vec<Task>) -> Cluster {
    let mut c = Cluster::default();
    c.apply(Change::Snapshot {
        agents: vec![agent("M-S0", "10.0.0.1"), agent("M-S1", "10.0.0.2")],
        frameworks,
        tasks,
    });
    c
}

fn a(rs: &Records, name: &str) -> Vec<String> {
    rs.addresses(name).map(ToString::to_string).collect()
}

fn srv(rs: &Records, name: &str) -> Vec<String> {
    rs.srv
        .get(name)
        .into_iter()
        .flatten()
        .map(|(host, port)| format!("{host}:{port}"))
        .collect()
}

#[test]
fn hash_matches_mesos_dns() {
    assert_eq!(hash_string("test"), "iffe9");
}

#[test]
fn task_names_framework_names_and_lowercasing() {
    // (task name, framework name, expected A name)
    let cases = [
        ("web", "marathon", "web.marathon.mesos."),
        ("Web", "Marathon", "web.marathon.mesos."),
        (
            "apiserver.myservice",
            "marathon.prod",
            "apiserver-myservice.marathon.prod.mesos.",
        ),
        ("my_task", "my_framework", "my-task.my-framework.mesos."),
        ("sp ace", "frame work", "space.framework.mesos."),
        ("-edge-", "fw.", "edge.fw.mesos."),
    ];
    for (task_name, framework_name, want) in cases {
        let c = cluster(
            vec![framework("F", framework_name)],
            vec![task("t1", task_name, "F", "M-S0")],
        );
        let rs = build(&c, &naming());
        assert_eq!(
            a(&rs, want),
            ["10.0.0.1"],
            "{task_name} / {framework_name}: {:?}",
            rs.a.keys()
        );
        let slave = want.replacen(".mesos.", ".slave.mesos.", 1);
        assert_eq!(a(&rs, &slave), ["10.0.0.1"], "{slave}");
    }
}

#[test]
fn unnamed_tasks_and_frameworks_get_no_task_records() {
    let c = cluster(
        vec![framework("F", "..."), framework("G", "ok")],
        vec![
            task("t1", "web", "F", "M-S0"),
            task("t2", "!!!", "G", "M-S0"),
        ],
    );
    let rs = build(&c, &naming());
    let task_names: Vec<&String> =
        rs.a.keys()
            .filter(|n| n.contains("web") || n.starts_with('.'))
            .collect();
    assert!(task_names.is_empty(), "{task_names:?}");
    assert!(
        !rs.a.keys().any(|n| n.starts_with('-') || n.contains("..")),
        "{:?}",
        rs.a.keys()
    );
}

#[test]
fn canonical_names_and_srv_from_host_ports() {
    let mut t = task("web.abc", "web", "F", "M-S1");
    t.ports = vec![31000, 31001];
    let c = cluster(vec![framework("F", "marathon")], vec![t]);
    let rs = build(&c, &naming());
    let canonical = format!("web-{}-s1.marathon.mesos.", hash_string("web.abc"));
    assert_eq!(a(&rs, &canonical), ["10.0.0.2"]);
    let target = format!("web-{}-s1.marathon.slave.mesos.", hash_string("web.abc"));
    for name in [
        "_web._tcp.marathon.mesos.",
        "_web._udp.marathon.mesos.",
        "_web._tcp.marathon.slave.mesos.",
        "_web._udp.marathon.slave.mesos.",
    ] {
        assert_eq!(
            srv(&rs, name),
            [format!("{target}:31000"), format!("{target}:31001")],
            "{name}"
        );
    }
    assert_eq!(a(&rs, &target), ["10.0.0.2"]);
}

#[test]
fn marathon_group_paths_with_discovery_info() {
    // Marathon names the task of app /prod/web "web.prod" and sets discovery info with
    // the same name and the host ports.
    let mut t = task("prod_web.1", "web.prod", "F", "M-S0");
    t.ports = vec![31005];
    t.discovery = Some(Discovery {
        name: "web.prod".into(),
        ports: vec![
            DiscoveryPort {
                number: 31005,
                protocol: "tcp".into(),
                name: "http".into(),
            },
            DiscoveryPort {
                number: 31006,
                protocol: String::new(),
                name: String::new(),
            },
        ],
    });
    let c = cluster(vec![framework("F", "marathon")], vec![t]);
    let rs = build(&c, &naming());
    let hash = hash_string("prod_web.1");
    assert_eq!(a(&rs, "web-prod.marathon.mesos."), ["10.0.0.1"]);
    // The given (legacy) form too, as Mesos-DNS publishes it.
    assert_eq!(a(&rs, "web.prod.marathon.mesos."), ["10.0.0.1"]);
    let target = format!("web-prod-{hash}-s0.marathon.mesos.");
    assert_eq!(
        srv(&rs, "_web-prod._tcp.marathon.mesos."),
        [format!("{target}:31005"), format!("{target}:31006")]
    );
    assert_eq!(
        srv(&rs, "_web-prod._udp.marathon.mesos."),
        [format!("{target}:31006")]
    );
    assert_eq!(
        srv(&rs, "_http._web-prod._tcp.marathon.mesos."),
        [format!("{target}:31005")]
    );
    // Host ports only under .slave when discovery info exists.
    assert_eq!(
        srv(&rs, "_web-prod._tcp.marathon.slave.mesos."),
        [format!("web-prod-{hash}-s0.marathon.slave.mesos.:31005")]
    );
}

#[test]
fn instances_of_one_name_collide_into_one_name() {
    let mut t1 = task("a", "web", "F", "M-S0");
    t1.ports = vec![31000];
    let mut t2 = task("b", "web", "F", "M-S1");
    t2.ports = vec![31000];
    let t3 = task("c", "web", "F", "M-S1");
    let c = cluster(vec![framework("F", "marathon")], vec![t1, t2, t3]);
    let rs = build(&c, &naming());
    // Two agents: two addresses, each once, though two tasks run on 10.0.0.2.
    assert_eq!(a(&rs, "web.marathon.mesos."), ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(srv(&rs, "_web._tcp.marathon.mesos.").len(), 2);
    // Each instance keeps a name of its own.
    for id in ["a", "b", "c"] {
        let agent = if id == "a" { "s0" } else { "s1" };
        let name = format!("web-{}-{agent}.marathon.mesos.", hash_string(id));
        assert_eq!(a(&rs, &name).len(), 1, "{name}");
    }
    // The same task name under two frameworks does not collide.
    let c = cluster(
        vec![framework("F", "marathon"), framework("G", "chronos")],
        vec![task("a", "web", "F", "M-S0"), task("a", "web", "G", "M-S1")],
    );
    let rs = build(&c, &naming());
    assert_eq!(a(&rs, "web.marathon.mesos."), ["10.0.0.1"]);
    assert_eq!(a(&rs, "web.chronos.mesos."), ["10.0.0.2"]);
}

#[test]
fn only_running_tasks_on_known_agents() {
    let mut staging = task("s", "staging", "F", "M-S0");
    staging.running = false;
    let lost_agent = task("l", "orphan", "F", "M-S9");
    let c = cluster(
        vec![framework("F", "marathon")],
        vec![staging, lost_agent, task("r", "running", "F", "M-S0")],
    );
    let rs = build(&c, &naming());
    assert!(rs.has_name("running.marathon.mesos."));
    assert!(!rs.has_name("staging.marathon.mesos."));
    assert!(!rs.has_name("orphan.marathon.mesos."));
}

#[test]
fn updates_add_and_remove_task_records() {
    let mut t = task("t", "web", "F", "M-S0");
    t.running = false;
    let mut c = cluster(vec![framework("F", "marathon")], vec![t]);
    let update = |running, terminal| {
        Change::TaskUpdated(TaskUpdate {
            framework_id: "F".into(),
            task_id: "t".into(),
            running,
            terminal,
            running_status: None,
        })
    };
    assert!(!c.apply(update(false, false)), "STARTING changes nothing");
    assert!(c.apply(update(true, false)));
    assert!(build(&c, &naming()).has_name("web.marathon.mesos."));
    assert!(c.apply(update(false, false)), "KILLING hides the task");
    assert!(!build(&c, &naming()).has_name("web.marathon.mesos."));
    assert!(c.apply(update(true, false)));
    assert!(c.apply(update(false, true)), "a terminal state forgets it");
    assert!(c.tasks.is_empty());
    assert!(!c.apply(update(true, false)), "an unknown task is ignored");
    // Removing the framework takes its tasks along.
    c.apply(Change::TaskAdded(task("u", "api", "F", "M-S0")));
    assert!(build(&c, &naming()).has_name("api.marathon.mesos."));
    c.apply(Change::FrameworkRemoved("F".into()));
    assert!(c.tasks.is_empty());
    // Removing the agent hides its tasks.
    c.apply(Change::FrameworkAdded(framework("F", "marathon")));
    c.apply(Change::TaskAdded(task("v", "db", "F", "M-S1")));
    c.apply(Change::AgentRemoved("M-S1".into()));
    assert!(!build(&c, &naming()).has_name("db.marathon.mesos."));
}

fn with_status(networking: Networking) -> Task {
    let mut t = task("t", "web", "F", "M-S0");
    t.networking = networking;
    t.running_status = Some(RunningStatus {
        timestamp: 1.0,
        netinfo: vec![ip("172.18.0.5")],
        mesos: vec![ip("192.168.0.7")],
        docker: vec![ip("172.17.0.3")],
    });
    t
}

#[test]
fn ip_sources_in_order() {
    let cases: [(Networking, &[IpSource], &str); 6] = [
        (
            Networking::DockerUser,
            &[IpSource::Netinfo, IpSource::Mesos, IpSource::Host],
            "172.18.0.5",
        ),
        (
            Networking::Plain,
            &[IpSource::Netinfo, IpSource::Host],
            "172.18.0.5",
        ),
        // A bridge address is private to the agent: the agent's address is published.
        (
            Networking::DockerHostOrBridge,
            &[IpSource::Netinfo, IpSource::Host],
            "10.0.0.1",
        ),
        (
            Networking::DockerHostOrBridge,
            &[IpSource::Netinfo, IpSource::Mesos, IpSource::Host],
            "192.168.0.7",
        ),
        (
            Networking::DockerUser,
            &[IpSource::Docker, IpSource::Host],
            "172.17.0.3",
        ),
        (
            Networking::DockerUser,
            &[IpSource::Host, IpSource::Netinfo],
            "10.0.0.1",
        ),
    ];
    for (networking, sources, want) in cases {
        let c = cluster(
            vec![framework("F", "marathon")],
            vec![with_status(networking)],
        );
        let mut n = naming();
        n.ip_sources = sources.to_vec();
        let rs = build(&c, &n);
        assert_eq!(
            a(&rs, "web.marathon.mesos."),
            [want],
            "{networking:?} {sources:?}"
        );
        // `.slave` names always give the agent.
        assert_eq!(a(&rs, "web.marathon.slave.mesos."), ["10.0.0.1"]);
    }
    // No source has an address: no plain A record, the .slave one stays.
    let mut n = naming();
    n.ip_sources = vec![IpSource::Netinfo];
    let c = cluster(
        vec![framework("F", "marathon")],
        vec![task("t", "web", "F", "M-S0")],
    );
    let rs = build(&c, &n);
    assert!(!rs.a.contains_key("web.marathon.mesos."));
    assert_eq!(a(&rs, "web.marathon.slave.mesos."), ["10.0.0.1"]);
}

#[test]
fn infrastructure_records() {
    let mut c = cluster(
        vec![Framework {
            port: Some(8080),
            ..framework("F", "marathon")
        }],
        vec![],
    );
    c.apply(Change::Masters {
        leader: Some(MasterAddr {
            ip: ip("10.0.0.5"),
            port: 5050,
        }),
        masters: vec!["10.0.0.5:5050".into()],
    });
    let rs = build(&c, &naming());
    assert_eq!(a(&rs, "leader.mesos."), ["10.0.0.5"]);
    assert_eq!(a(&rs, "master.mesos."), ["10.0.0.5"]);
    assert_eq!(a(&rs, "master0.mesos."), ["10.0.0.5"]);
    assert_eq!(srv(&rs, "_leader._tcp.mesos."), ["leader.mesos.:5050"]);
    assert_eq!(srv(&rs, "_leader._udp.mesos."), ["leader.mesos.:5050"]);
    assert_eq!(a(&rs, "slave.mesos."), ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(srv(&rs, "_slave._tcp.mesos."), ["slave.mesos.:5051"]);
    assert_eq!(a(&rs, "marathon.mesos."), ["10.0.0.9"]);
    assert_eq!(
        srv(&rs, "_framework._tcp.marathon.mesos."),
        ["marathon.mesos.:8080"]
    );
    assert_eq!(a(&rs, "ns1.mesos."), ["127.0.0.1"]);
}

#[test]
fn master_lists_as_mesos_dns_indexes_them() {
    // (configured masters, leader, master<N> names in order)
    let cases: [(&[&str], &str, &[&str]); 5] = [
        (&[], "0.0.0.6:7", &["0.0.0.6"]),
        (&["0.0.0.8:9"], "0.0.0.6:7", &["0.0.0.8", "0.0.0.6"]),
        (
            &["0.0.0.8:9", "0.0.0.8:9"],
            "0.0.0.6:7",
            &["0.0.0.8", "0.0.0.6"],
        ),
        (
            &["0.0.0.8:9", "0.0.0.6:7", "0.0.0.6:7"],
            "0.0.0.6:7",
            &["0.0.0.8", "0.0.0.6"],
        ),
        (
            &["0.0.0.8:9", "0.0.0.6:7", "[2001:db8::1]:0"],
            "0.0.0.6:7",
            &["0.0.0.8", "0.0.0.6", "2001:db8::1"],
        ),
    ];
    for (masters, leader, want) in cases {
        let mut c = Cluster::default();
        let (host, port) = leader.rsplit_once(':').unwrap();
        c.apply(Change::Masters {
            leader: Some(MasterAddr {
                ip: ip(host),
                port: port.parse().unwrap(),
            }),
            masters: masters.iter().map(|m| m.to_string()).collect(),
        });
        let rs = build(&c, &naming());
        for (i, want) in want.iter().enumerate() {
            assert_eq!(
                a(&rs, &format!("master{i}.mesos.")),
                [*want],
                "{masters:?} #{i}"
            );
        }
        assert!(
            !rs.has_name(&format!("master{}.mesos.", want.len())),
            "{masters:?}"
        );
        let all: BTreeSet<&str> = want.iter().copied().collect();
        let got: Vec<String> = a(&rs, "master.mesos.");
        assert_eq!(got.iter().map(String::as_str).collect::<BTreeSet<_>>(), all);
    }
    // No leader: no master records at all.
    let rs = build(&Cluster::default(), &naming());
    assert!(!rs.has_name("leader.mesos.") && !rs.has_name("master.mesos."));
}

#[test]
fn enumeration_lists_each_task_record_once() {
    let mut t = task("a", "web", "F", "M-S0");
    t.ports = vec![31000];
    let c = cluster(vec![framework("F", "marathon")], vec![t]);
    let rs = build(&c, &naming());
    let fw = &rs.enumeration.frameworks[0];
    assert_eq!(fw.name, "marathon");
    assert_eq!(fw.tasks[0].id, "a");
    // 2 A + 2 slave A + 4 SRV.
    assert_eq!(fw.tasks[0].records.len(), 8, "{:?}", fw.tasks[0].records);
    assert!(fw.tasks[0]
        .records
        .iter()
        .any(|r| r.name == "web.marathon.mesos." && r.rtype == "A" && r.host == "10.0.0.1"));
}
