//! From apps to load-balanced services: which service ports this load balancer serves
//! (group, strict mode), how (mode, balance, virtual hosts), and over which tasks (running,
//! healthy, ready, with an address). Every service port that cannot be served for a reason
//! an operator should hear about comes back as a [`Skip`] naming it; the others are unaffected.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::labels::{self, Mode};
use crate::model::{is_excluded_state, App, HealthCheck, Task};

/// The flags that decide what is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--group`: apps whose groups meet these are served; `*` serves every app.
    pub groups: Vec<String>,
    /// `--strict-mode`: only ports with `HAPROXY_{n}_ENABLED=true` are served.
    pub strict_mode: bool,
    /// `--health-check`: tasks of apps with health checks are served once alive.
    pub health_check: bool,
    /// Address the service ports bind to unless `HAPROXY_{n}_BIND_ADDR` says otherwise.
    pub bind_addr: String,
}

/// One task behind a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// HAProxy's server name: host, address and port with other characters as `_`.
    pub name: String,
    /// The task behind it (runtime API commands find a task's servers by it).
    pub task_id: String,
    pub ip: IpAddr,
    pub port: u32,
    /// A task being killed: used only when no other server is left.
    pub backup: bool,
}

/// One service port served: a frontend on `port` and a backend over `servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub app_id: String,
    /// The port bound: `HAPROXY_{n}_PORT`, else the service port.
    pub port: u32,
    /// The frontend's and backend's name: `<app id without the first slash, / as _>_<port>`.
    pub name: String,
    pub mode: Mode,
    pub balance: String,
    pub bind_addr: String,
    pub vhosts: Vec<String>,
    pub health_check: Option<HealthCheck>,
    /// Sorted by address and port, each once.
    pub servers: Vec<Server>,
}

/// A service port left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skip {
    pub app_id: String,
    pub port_index: usize,
    pub reason: String,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "app {} service port index {}: {}",
            self.app_id, self.port_index, self.reason
        )
    }
}

/// What the configuration serves, and what it leaves out with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Ordered by app id, then port index.
    pub services: Vec<Service>,
    pub skipped: Vec<Skip>,
}

/// marathon-lb's group rule: `*` takes every app, otherwise the groups must meet.
pub fn has_group(wanted: &[String], app_groups: &[String]) -> bool {
    wanted.iter().any(|g| g == "*") || app_groups.iter().any(|g| wanted.contains(g))
}

/// HAProxy names: letters, digits and `-` stay, everything else becomes `_`.
pub fn clean_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The frontend and backend name of an app's service port.
pub fn service_name(app_id: &str, port: u32) -> String {
    format!(
        "{}_{port}",
        app_id.strip_prefix('/').unwrap_or(app_id).replace('/', "_")
    )
}

/// How a task is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Active,
    /// Being killed: a backup server, sent traffic only while no active server is left
    /// (it serves through its kill grace period; better than refusing connections).
    Backup,
    Out,
}

/// Whether and how `task` gets traffic: running (or as good as), alive when the app has
/// health checks and `--health-check` is on, not reported unready, and with an address.
fn role(app: &App, task: &Task, settings: &Settings) -> Role {
    let killing = task.state.as_deref() == Some("TASK_KILLING");
    if (!killing && task.state.as_deref().is_some_and(is_excluded_state)) || task.ip.is_none() {
        return Role::Out;
    }
    if settings.health_check && !app.health_checks.is_empty() && !task.alive.iter().any(|a| *a) {
        return Role::Out;
    }
    if app.readiness.get(&task.id) == Some(&false) {
        return Role::Out;
    }
    if killing {
        Role::Backup
    } else {
        Role::Active
    }
}

/// Builds the plan for `apps` (any order).
pub fn plan(apps: &[App], settings: &Settings) -> Plan {
    let mut sorted: Vec<&App> = apps.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Plan::default();
    // Bound port -> the service that took it first.
    let mut bound: BTreeMap<u32, String> = BTreeMap::new();
    for app in sorted {
        let app_groups = labels::app_groups(&app.labels);
        for (index, &service_port) in app.service_ports.iter().enumerate() {
            let skip = |reason: String| Skip {
                app_id: app.id.clone(),
                port_index: index,
                reason,
            };
            let port_labels = match labels::port_labels(&app.labels, index) {
                Ok(l) => l,
                Err(e) => {
                    out.skipped.push(skip(e.to_string()));
                    continue;
                }
            };
            let groups = port_labels.groups.as_deref().unwrap_or(&app_groups);
            if !has_group(&settings.groups, groups)
                || !port_labels.enabled.unwrap_or(!settings.strict_mode)
            {
                continue;
            }
            let port = port_labels.port.unwrap_or(service_port);
            if port == 0 {
                out.skipped
                    .push(skip("the app has no service port here".to_string()));
                continue;
            }
            let name = service_name(&app.id, port);
            if let Some(owner) = bound.get(&port) {
                out.skipped
                    .push(skip(format!("port {port} is already served by {owner}")));
                continue;
            }
            bound.insert(port, name.clone());
            let health_check = app.health_check(index).cloned();
            let mode = port_labels.mode.unwrap_or_else(|| {
                if health_check.as_ref().is_some_and(HealthCheck::is_http)
                    || !port_labels.vhosts.is_empty()
                {
                    Mode::Http
                } else {
                    Mode::Tcp
                }
            });
            let mut servers: Vec<Server> = app
                .tasks
                .iter()
                .filter_map(|t| {
                    let backup = match role(app, t, settings) {
                        Role::Out => return None,
                        r => r == Role::Backup,
                    };
                    let ip = t.ip?;
                    let port = *t.ports.get(index)?;
                    let ip_text = ip.to_string();
                    let name = if t.host == ip_text {
                        clean_name(&format!("{ip_text}_{port}"))
                    } else {
                        clean_name(&format!("{}_{ip_text}_{port}", t.host))
                    };
                    Some(Server {
                        name,
                        task_id: t.id.clone(),
                        ip,
                        port,
                        backup,
                    })
                })
                .collect();
            servers.sort_by_key(|a| (a.ip, a.port));
            servers.dedup_by(|a, b| (a.ip, a.port) == (b.ip, b.port));
            if servers.is_empty() {
                // Nothing to balance over (yet): like marathon-lb, no frontend either.
                continue;
            }
            out.services.push(Service {
                app_id: app.id.clone(),
                port,
                name,
                mode,
                balance: port_labels
                    .balance
                    .unwrap_or_else(|| "roundrobin".to_string()),
                bind_addr: port_labels
                    .bind_addr
                    .unwrap_or_else(|| settings.bind_addr.clone()),
                vhosts: port_labels.vhosts,
                health_check,
                servers,
            });
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Networking;

    /// A small builder for apps in tests.
    pub struct AppBuilder(pub App);

    pub fn app(id: &str, service_ports: &[u32]) -> AppBuilder {
        AppBuilder(App {
            id: id.to_string(),
            labels: BTreeMap::new(),
            networking: Networking::Host,
            service_ports: service_ports.to_vec(),
            health_checks: vec![],
            tasks: vec![],
            readiness: BTreeMap::new(),
        })
    }

    pub fn task(id: &str, host_ports: &[u32]) -> Task {
        Task {
            id: id.to_string(),
            host: "127.0.0.1".to_string(),
            ip: Some("127.0.0.1".parse().unwrap()),
            ports: host_ports.to_vec(),
            state: Some("TASK_RUNNING".to_string()),
            alive: vec![],
        }
    }

    pub fn http_check() -> HealthCheck {
        HealthCheck {
            protocol: "HTTP".into(),
            port_index: Some(0),
            port: None,
            path: "/health".into(),
            interval_seconds: 10,
            timeout_seconds: 5,
            max_consecutive_failures: 3,
        }
    }

    impl AppBuilder {
        pub fn label(mut self, k: &str, v: &str) -> Self {
            self.0.labels.insert(k.to_string(), v.to_string());
            self
        }
        pub fn task(mut self, t: Task) -> Self {
            self.0.tasks.push(t);
            self
        }
        pub fn check(mut self, c: HealthCheck) -> Self {
            self.0.health_checks.push(c);
            self
        }
        pub fn build(self) -> App {
            self.0
        }
    }

    pub fn settings(groups: &[&str]) -> Settings {
        Settings {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            strict_mode: false,
            health_check: true,
            bind_addr: "*".to_string(),
        }
    }

    fn served(p: &Plan) -> Vec<(String, u32, Vec<u32>)> {
        p.services
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.port,
                    s.servers.iter().map(|x| x.port).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn groups_select_apps() {
        let apps = vec![
            app("/ext", &[10000])
                .label("HAPROXY_GROUP", "external")
                .task(task("e", &[31000]))
                .build(),
            app("/int", &[10001])
                .label("HAPROXY_GROUP", "internal")
                .task(task("i", &[31001]))
                .build(),
            app("/both", &[10002, 10003])
                .label("HAPROXY_GROUP", "internal")
                .label("HAPROXY_1_GROUP", "external")
                .task(task("b", &[31002, 31003]))
                .build(),
            app("/none", &[10004]).task(task("n", &[31004])).build(),
        ];
        let names = |groups: &[&str]| -> Vec<String> {
            plan(&apps, &settings(groups))
                .services
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(names(&["external"]), vec!["both_10003", "ext_10000"]);
        assert_eq!(names(&["internal"]), vec!["both_10002", "int_10001"]);
        assert_eq!(
            names(&["*"]),
            vec![
                "both_10002",
                "both_10003",
                "ext_10000",
                "int_10001",
                "none_10004"
            ]
        );
        assert!(names(&["other"]).is_empty());
    }

    #[test]
    fn only_running_healthy_ready_tasks_with_an_address_serve() {
        let mut killing = task("killing", &[31002]);
        killing.state = Some("TASK_KILLING".into());
        let mut staging = task("staging", &[31003]);
        staging.state = Some("TASK_STAGING".into());
        let mut unhealthy = task("unhealthy", &[31004]);
        unhealthy.alive = vec![false];
        let mut no_result = task("no-result", &[31005]);
        no_result.alive = vec![];
        let mut healthy = task("healthy", &[31001]);
        healthy.alive = vec![false, true];
        let mut unready = task("unready", &[31006]);
        unready.alive = vec![true];
        let mut no_ip = task("no-ip", &[31007]);
        no_ip.alive = vec![true];
        no_ip.ip = None;
        let mut lost = task("lost", &[31008]);
        lost.state = Some("TASK_UNREACHABLE".into());
        lost.alive = vec![true];
        let mut a = app("/web", &[10000]).check(http_check());
        for t in [
            killing, staging, unhealthy, no_result, healthy, unready, no_ip, lost,
        ] {
            a = a.task(t);
        }
        let mut a = a.build();
        a.readiness.insert("unready".into(), false);
        a.readiness.insert("healthy".into(), true);
        let p = plan(&[a.clone()], &settings(&["*"]));
        assert_eq!(
            served(&p),
            vec![("web_10000".to_string(), 10000, vec![31001, 31008])]
        );
        // A task being killed that is still healthy is a backup server.
        let mut a2 = a.clone();
        a2.tasks[0].alive = vec![true];
        let p = plan(&[a2], &settings(&["*"]));
        let backups: Vec<u32> = p.services[0]
            .servers
            .iter()
            .filter(|s| s.backup)
            .map(|s| s.port)
            .collect();
        assert_eq!(backups, vec![31002]);
        assert_eq!(p.services[0].servers.len(), 3);
        // Without --health-check, health results do not matter (marathon-lb's default);
        // the killing task is a backup.
        let mut s = settings(&["*"]);
        s.health_check = false;
        assert_eq!(
            served(&plan(&[a], &s))[0].2,
            vec![31001, 31002, 31004, 31005, 31008]
        );
    }

    #[test]
    fn an_app_without_health_checks_serves_its_running_tasks() {
        let a = app("/web", &[10000])
            .task(task("a", &[31001]))
            .task(task("b", &[31000]))
            .task(task("dup", &[31000]))
            .build();
        assert_eq!(
            served(&plan(&[a], &settings(&["*"]))),
            vec![("web_10000".to_string(), 10000, vec![31000, 31001])]
        );
    }

    #[test]
    fn bad_labels_skip_only_their_port() {
        let apps = vec![
            app("/bad", &[10000, 10001])
                .label("HAPROXY_0_VHOST", "my app.example.com")
                .task(task("b", &[31000, 31001]))
                .build(),
            app("/worse", &[10002])
                .label("HAPROXY_0_MODE", "udp")
                .task(task("w", &[31002]))
                .build(),
            app("/good", &[10003]).task(task("g", &[31003])).build(),
        ];
        let p = plan(&apps, &settings(&["*"]));
        assert_eq!(
            p.services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            vec!["bad_10001", "good_10003"]
        );
        assert_eq!(p.skipped.len(), 2);
        assert_eq!(
            (p.skipped[0].app_id.as_str(), p.skipped[0].port_index),
            ("/bad", 0)
        );
        assert!(
            p.skipped[0].reason.contains("HAPROXY_0_VHOST"),
            "{}",
            p.skipped[0]
        );
        assert!(
            p.skipped[1].reason.contains("tcp or http"),
            "{}",
            p.skipped[1]
        );
    }

    #[test]
    fn a_port_taken_twice_goes_to_the_first_app() {
        let apps = vec![
            app("/b", &[10000]).task(task("b", &[31001])).build(),
            app("/a", &[10001])
                .label("HAPROXY_0_PORT", "10000")
                .task(task("a", &[31000]))
                .build(),
        ];
        let p = plan(&apps, &settings(&["*"]));
        assert_eq!(
            served(&p),
            vec![("a_10000".to_string(), 10000, vec![31000])]
        );
        assert_eq!(p.skipped[0].app_id, "/b");
        assert!(p.skipped[0].reason.contains("a_10000"));
    }

    #[test]
    fn strict_mode_needs_enabled() {
        let apps = vec![
            app("/on", &[10000])
                .label("HAPROXY_0_ENABLED", "true")
                .task(task("a", &[31000]))
                .build(),
            app("/off", &[10001]).task(task("b", &[31001])).build(),
        ];
        let mut s = settings(&["*"]);
        s.strict_mode = true;
        assert_eq!(plan(&apps, &s).services.len(), 1);
        s.strict_mode = false;
        assert_eq!(plan(&apps, &s).services.len(), 2);
    }

    #[test]
    fn mode_comes_from_the_label_then_http_checks_then_vhosts() {
        let one = |a: App| plan(&[a], &settings(&["*"])).services[0].mode;
        let base = || app("/m", &[10000]).task(task("t", &[31000]));
        assert_eq!(one(base().build()), Mode::Tcp);
        assert_eq!(
            one(base().label("HAPROXY_0_VHOST", "a.b").build()),
            Mode::Http
        );
        let mut t = task("h", &[31000]);
        t.alive = vec![true];
        assert_eq!(
            one(app("/m", &[10000])
                .task(t.clone())
                .check(http_check())
                .build()),
            Mode::Http
        );
        assert_eq!(
            one(app("/m", &[10000])
                .task(t)
                .check(http_check())
                .label("HAPROXY_0_MODE", "tcp")
                .build()),
            Mode::Tcp
        );
    }

    #[test]
    fn names_follow_marathon_lb() {
        assert_eq!(service_name("/prod/web", 10000), "prod_web_10000");
        assert_eq!(
            clean_name("agent-1.example.com_10.0.0.1_31000"),
            "agent-1_example_com_10_0_0_1_31000"
        );
        let mut t = task("t", &[31000]);
        t.host = "agent-1".into();
        let p = plan(&[app("/w", &[10000]).task(t).build()], &settings(&["*"]));
        assert_eq!(p.services[0].servers[0].name, "agent-1_127_0_0_1_31000");
    }
}
