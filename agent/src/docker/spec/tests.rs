//! Unit tests of the spec: image references, networks, ports, parameters, volumes,
//! commands and limits, each from a TaskInfo as a framework would send it.

use mesos_proto::v1::container_info::docker_info::PortMapping;
use mesos_proto::v1::container_info::Type;
use mesos_proto::v1::{value, Parameter, Resource, TaskId, Volume};

use super::*;

fn scalar(name: &str, value: f64) -> Resource {
    Resource {
        name: name.into(),
        r#type: value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value }),
        ..Default::default()
    }
}

fn ports(begin: u64, end: u64) -> Resource {
    Resource {
        name: "ports".into(),
        r#type: value::Type::Ranges as i32,
        ranges: Some(value::Ranges {
            range: vec![value::Range { begin, end }],
        }),
        ..Default::default()
    }
}

fn docker_task(docker: DockerInfo, command: Option<CommandInfo>) -> TaskInfo {
    let mut container = ContainerInfo {
        docker: Some(docker),
        ..Default::default()
    };
    container.set_type(Type::Docker);
    TaskInfo {
        name: "t".into(),
        task_id: TaskId { value: "t1".into() },
        resources: vec![
            scalar("cpus", 0.5),
            scalar("mem", 64.0),
            ports(31000, 31002),
        ],
        command,
        container: Some(container),
        ..Default::default()
    }
}

fn docker(image: &str) -> DockerInfo {
    DockerInfo {
        image: image.into(),
        ..Default::default()
    }
}

fn shell(value: &str) -> Option<CommandInfo> {
    Some(CommandInfo {
        value: Some(value.into()),
        ..Default::default()
    })
}

fn ctx(sandbox: &Path) -> SpecContext<'_> {
    SpecContext {
        agent_id: "A-S0",
        framework_id: "F",
        container_id: "C",
        sandbox,
        agent_endpoint: "127.0.0.1:5051",
        hostname: "h",
        // These tests are about the request's shape; the guards have their own.
        guards: Box::leak(Box::new(Guards {
            allow_privileged: true,
            host_path_prefixes: vec!["/".into()],
        })),
    }
}

fn build_ok(task: &TaskInfo) -> ContainerSpec {
    build(task, &ctx(Path::new("/sb"))).unwrap()
}

#[test]
fn image_references() {
    let ok = [
        ("busybox", "busybox", None, "latest"),
        (
            "mesos-test/busybox:latest",
            "mesos-test/busybox",
            Some("latest"),
            "latest",
        ),
        (
            "localhost:5000/a/b:v1.2",
            "localhost:5000/a/b",
            Some("v1.2"),
            "v1.2",
        ),
        (
            "Registry.Example.com/x_y__z",
            "Registry.Example.com/x_y__z",
            None,
            "latest",
        ),
        ("a--b.c/d", "a--b.c/d", None, "latest"),
    ];
    for (text, repository, tag, pull_tag) in ok {
        let r = ImageReference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(r.repository, repository, "{text}");
        assert_eq!(r.tag.as_deref(), tag, "{text}");
        assert_eq!(r.pull_arguments().1, pull_tag, "{text}");
    }
    let digest = format!("busybox@sha256:{}", "a".repeat(64));
    assert_eq!(
        ImageReference::parse(&digest).unwrap().pull_arguments(),
        ("busybox".to_string(), format!("sha256:{}", "a".repeat(64)))
    );
    for bad in [
        "",
        "UPPER/Case:bad tag!",
        "Busybox",
        "busybox:",
        "busybox:-x",
        "a//b",
        "-a/b",
        "a_/b",
        "a/b@sha256:short",
        "bad host:1/x",
        "a/b:c:d",
    ] {
        let err = ImageReference::parse(bad).unwrap_err();
        assert!(matches!(err, SpecError::Image { .. }), "{bad}: {err}");
    }
}

#[test]
fn bridge_task_with_port_mappings_and_limits() {
    let mut info = docker("mesos-test/busybox");
    info.set_network(Network::Bridge);
    info.port_mappings = vec![
        PortMapping {
            host_port: 31001,
            container_port: 8080,
            protocol: None,
        },
        PortMapping {
            host_port: 31002,
            container_port: 0,
            protocol: Some("tcp,udp".into()),
        },
    ];
    info.privileged = Some(true);
    let spec = build_ok(&docker_task(info, shell("httpd -f")));
    assert_eq!(spec.name, "mesos-C");
    assert_eq!(spec.image.pull_arguments().1, "latest");
    let host = spec.body.host_config.clone().unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("bridge"));
    assert_eq!(host.privileged, Some(true));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.cpu_period, Some(100_000));
    assert_eq!(host.cpu_quota, Some(50_000));
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(host.memory_swap, Some(64 << 20));
    let bindings = host.port_bindings.unwrap();
    assert_eq!(
        bindings["8080/tcp"].as_ref().unwrap()[0]
            .host_port
            .as_deref(),
        Some("31001")
    );
    assert!(bindings.contains_key("31002/tcp") && bindings.contains_key("31002/udp"));
    assert_eq!(
        spec.body.exposed_ports.unwrap(),
        ["31002/tcp", "31002/udp", "8080/tcp"]
    );
    assert_eq!(host.binds.unwrap(), ["/sb:/mnt/mesos/sandbox:rw"]);
    assert_eq!(spec.body.entrypoint.unwrap(), ["/bin/sh"]);
    assert_eq!(spec.body.cmd.unwrap(), ["-c", "httpd -f"]);
    let env = spec.body.env.unwrap();
    for want in [
        "MESOS_TASK_ID=t1",
        "MESOS_SANDBOX=/mnt/mesos/sandbox",
        "MESOS_CONTAINER_NAME=mesos-C",
        "PORT0=31000",
        "PORTS=31000,31001,31002",
    ] {
        assert!(env.iter().any(|e| e == want), "{want} missing from {env:?}");
    }
    assert!(!env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    let labels = spec.body.labels.unwrap();
    assert_eq!(labels["mesos.agent_id"], "A-S0");
    assert_eq!(labels["mesos.framework_id"], "F");
    assert_eq!(labels["mesos.task_id"], "t1");
    assert_eq!(labels["mesos.container_id"], "C");
}

#[test]
fn small_tasks_get_the_minimum_limits() {
    let mut task = docker_task(docker("busybox"), shell("true"));
    task.resources = vec![scalar("cpus", 0.001), scalar("mem", 16.0)];
    let host = build_ok(&task).body.host_config.unwrap();
    assert_eq!(host.memory, Some(MIN_MEMORY_BYTES));
    assert_eq!(host.cpu_quota, Some(1000));
    assert_eq!(host.cpu_shares, Some(10));
}

#[test]
fn networks() {
    let cases = [
        (Network::Host, vec![], Ok("host")),
        (Network::None, vec![], Ok("none")),
        (Network::User, vec!["net1"], Ok("net1")),
        (Network::User, vec![], Err(())),
        (Network::User, vec!["a", "b"], Err(())),
    ];
    for (network, names, want) in cases {
        let mut info = docker("busybox");
        info.set_network(network);
        let mut task = docker_task(info, shell("true"));
        let container = task.container.as_mut().unwrap();
        container.network_infos = names
            .iter()
            .map(|n| mesos_proto::v1::NetworkInfo {
                name: Some(n.to_string()),
                ..Default::default()
            })
            .collect();
        let got = build(&task, &ctx(Path::new("/sb")));
        match want {
            Ok(mode) => assert_eq!(
                got.unwrap()
                    .body
                    .host_config
                    .unwrap()
                    .network_mode
                    .as_deref(),
                Some(mode)
            ),
            Err(()) => assert!(matches!(got, Err(SpecError::Network(_))), "{got:?}"),
        }
    }
}

#[test]
fn invalid_port_mappings() {
    let mapping = |host_port, protocol: Option<&str>| PortMapping {
        host_port,
        container_port: 80,
        protocol: protocol.map(String::from),
    };
    let cases = [
        (
            Network::Bridge,
            mapping(30999, None),
            "not in the task's ports",
        ),
        (Network::Bridge, mapping(0, None), "not in the task's ports"),
        (
            Network::Bridge,
            mapping(31000, Some("sctp")),
            "not tcp or udp",
        ),
        (Network::Host, mapping(31000, None), "BRIDGE or USER"),
    ];
    for (network, mapping, needle) in cases {
        let mut info = docker("busybox");
        info.set_network(network);
        info.port_mappings = vec![mapping];
        let err = build(&docker_task(info, shell("true")), &ctx(Path::new("/sb")))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn parameters() {
    let param = |key: &str, value: &str| Parameter {
        key: key.into(),
        value: value.into(),
    };
    let mut info = docker("busybox");
    info.parameters = vec![
        param("env", "A=1"),
        param("env", "MESOS_TASK_ID=override"),
        param("label", "team=web"),
        param("hostname", "box"),
        param("user", "nobody"),
        param("workdir", "/tmp"),
        param("cap-add", "NET_ADMIN"),
        param("add-host", "db:10.0.0.1"),
    ];
    let spec = build_ok(&docker_task(info, shell("true")));
    let env = spec.body.env.unwrap();
    assert!(env.contains(&"A=1".to_string()));
    assert!(env.contains(&"MESOS_TASK_ID=override".to_string()));
    assert_eq!(spec.body.labels.unwrap()["team"], "web");
    assert_eq!(spec.body.hostname.as_deref(), Some("box"));
    assert_eq!(spec.body.user.as_deref(), Some("nobody"));
    assert_eq!(spec.body.working_dir.as_deref(), Some("/tmp"));
    let host = spec.body.host_config.unwrap();
    assert_eq!(host.cap_add.unwrap(), ["NET_ADMIN"]);
    assert_eq!(host.extra_hosts.unwrap(), ["db:10.0.0.1"]);

    for (key, value, want) in [
        (
            "log-driver",
            "none",
            "Unsupported Docker parameter 'log-driver'",
        ),
        ("env", "NOVALUE", "expected NAME=VALUE"),
        ("label", "mesos.task_id=x", "reserved"),
        ("workdir", "relative", "absolute"),
    ] {
        let mut info = docker("busybox");
        info.parameters = vec![param(key, value)];
        let err = build(&docker_task(info, shell("true")), &ctx(Path::new("/sb")))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{key}={value}: {err}");
    }
}

#[test]
fn volumes() {
    let mut task = docker_task(docker("busybox"), shell("true"));
    let volume = |container_path: &str, host_path: Option<&str>, mode: volume::Mode| {
        let mut v = Volume {
            container_path: container_path.into(),
            host_path: host_path.map(String::from),
            ..Default::default()
        };
        v.set_mode(mode);
        v
    };
    task.container.as_mut().unwrap().volumes = vec![
        volume("/data", Some("/srv/data"), volume::Mode::Ro),
        volume("cache", Some("cache"), volume::Mode::Rw),
        volume("/scratch", None, volume::Mode::Rw),
    ];
    let spec = build_ok(&task);
    assert_eq!(
        spec.body.host_config.unwrap().binds.unwrap(),
        [
            "/sb:/mnt/mesos/sandbox:rw",
            "/srv/data:/data:ro",
            "/sb/cache:/mnt/mesos/sandbox/cache:rw"
        ]
    );
    assert_eq!(spec.body.volumes.unwrap(), ["/scratch"]);
}

type CommandCase = (
    Option<CommandInfo>,
    Option<Vec<&'static str>>,
    Option<Vec<&'static str>>,
);

#[test]
fn commands() {
    let argv = |value: Option<&str>, args: &[&str]| {
        Some(CommandInfo {
            shell: Some(false),
            value: value.map(String::from),
            arguments: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        })
    };
    let cases: [CommandCase; 5] = [
        (None, None, None),
        (
            shell("echo hi"),
            Some(vec!["/bin/sh"]),
            Some(vec!["-c", "echo hi"]),
        ),
        (argv(None, &[]), None, None),
        (argv(None, &["a", "b"]), None, Some(vec!["a", "b"])),
        (
            argv(Some("sleep"), &["10"]),
            None,
            Some(vec!["sleep", "10"]),
        ),
    ];
    for (cmd, entrypoint, args) in cases {
        let spec = build_ok(&docker_task(docker("busybox"), cmd.clone()));
        let own = |v: Option<Vec<&str>>| v.map(|v| v.iter().map(|s| s.to_string()).collect());
        assert_eq!(spec.body.entrypoint, own(entrypoint), "{cmd:?}");
        assert_eq!(spec.body.cmd, own(args), "{cmd:?}");
    }
    assert!(matches!(
        build(
            &docker_task(docker("busybox"), shell(" ")),
            &ctx(Path::new("/s"))
        ),
        Err(SpecError::Command(_))
    ));
}
