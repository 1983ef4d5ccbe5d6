//! The configuration and the driver against the real HAProxy (Debian's `haproxy`,
//! installed by scripts/test.sh): what `render` writes passes `haproxy -c`, a reload under
//! a steady stream of connections loses none, a refused configuration leaves the
//! running one serving, and a server drained through the runtime API gets no new
//! connection, reloads or not.

use std::collections::BTreeMap;
use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use marathon_lb::drain::{AdminState, Command, ServerRef};
use marathon_lb::driver::{runtime_api, set_states, Applied, DriverError, Haproxy};
use marathon_lb::model::{App, HealthCheck, Networking, Task};
use marathon_lb::render::{render, Layout};
use marathon_lb::services::{plan, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn app(id: &str, service_port: u32, host_ports: &[u16], labels: &[(&str, &str)]) -> App {
    App {
        id: id.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        networking: Networking::Host,
        service_ports: vec![service_port],
        health_checks: vec![],
        tasks: host_ports
            .iter()
            .enumerate()
            .map(|(i, p)| Task {
                id: format!("{id}.{i}"),
                host: "127.0.0.1".into(),
                ip: Some("127.0.0.1".parse().unwrap()),
                ports: vec![u32::from(*p)],
                state: Some("TASK_RUNNING".into()),
                alive: vec![true],
            })
            .collect(),
        readiness: BTreeMap::new(),
    }
}

fn settings() -> Settings {
    Settings {
        groups: vec!["*".into()],
        strict_mode: false,
        health_check: true,
        bind_addr: "127.0.0.1".into(),
    }
}

fn layout(dir: &Path, vhost_port: Option<u16>) -> Layout {
    Layout {
        stats_socket: dir.join("haproxy.sock").display().to_string(),
        server_state_file: dir.join("haproxy.state").display().to_string(),
        vhost_port,
        appid_port: vhost_port.map(|_| free_port()),
        bind_addr: "127.0.0.1".into(),
    }
}

fn driver(dir: &Path) -> Haproxy {
    Haproxy::new(
        "haproxy".into(),
        dir.join("haproxy.cfg"),
        dir.join("haproxy.pid"),
        dir.join("haproxy.sock"),
        dir.join("haproxy.state"),
        None,
        false,
    )
}

/// Kills the HAProxy processes a test started (they are daemons).
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill")
                .arg("-9")
                .arg(pid.to_string())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

#[tokio::test]
async fn every_kind_of_service_passes_haproxy_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = app(
        "/prod/web",
        10000,
        &[31000, 31001],
        &[
            ("HAPROXY_0_VHOST", "web.example.com,www.example.com"),
            ("HAPROXY_0_BALANCE", "hdr(host)"),
        ],
    );
    checked.health_checks.push(HealthCheck {
        protocol: "HTTP".into(),
        port_index: Some(0),
        port: None,
        path: "/health?x=1".into(),
        interval_seconds: 10,
        timeout_seconds: 5,
        max_consecutive_failures: 3,
    });
    let mut tcp_checked = app(
        "/db",
        10001,
        &[31002],
        &[("HAPROXY_0_BALANCE", "leastconn")],
    );
    tcp_checked.health_checks.push(HealthCheck {
        protocol: "TCP".into(),
        port_index: None,
        port: Some(31003),
        path: "/".into(),
        interval_seconds: 60,
        timeout_seconds: 20,
        max_consecutive_failures: 0,
    });
    let mut v6 = app("/v6", 10002, &[31004], &[("HAPROXY_0_MODE", "HTTP")]);
    v6.tasks[0].ip = Some("::1".parse::<IpAddr>().unwrap());
    let apps = vec![
        checked,
        tcp_checked,
        v6,
        app(
            "/a.b/c-d",
            10003,
            &[31005],
            &[("HAPROXY_0_BALANCE", "url_param id")],
        ),
        app("/bad", 10004, &[31006], &[("HAPROXY_0_VHOST", "a b")]),
    ];
    let p = plan(&apps, &settings());
    assert_eq!(p.services.len(), 4);
    let text = render(&p, &layout(dir.path(), Some(free_port())));
    let file = dir.path().join("all.cfg");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new("haproxy")
        .args(["-c", "-f"])
        .arg(&file)
        .output()
        .expect("haproxy is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A backend that answers every connection with `name` and closes.
async fn backend(name: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = s.write_all(name.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

/// Connects to `port` again and again until `stop`, counting answers and failures.
fn client(
    port: u16,
    stop: Arc<AtomicBool>,
) -> (
    Arc<AtomicU64>,
    Arc<AtomicU64>,
    tokio::task::JoinHandle<Vec<String>>,
) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let (o, f) = (ok.clone(), failed.clone());
    let handle = tokio::spawn(async move {
        let mut errors = vec![];
        while !stop.load(Ordering::Relaxed) {
            let result = async {
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                let mut buf = String::new();
                s.read_to_string(&mut buf).await?;
                Ok::<String, std::io::Error>(buf)
            }
            .await;
            match result {
                Ok(text) if !text.is_empty() => {
                    o.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {
                    f.fetch_add(1, Ordering::Relaxed);
                    errors.push("empty answer".to_string());
                }
                Err(e) => {
                    f.fetch_add(1, Ordering::Relaxed);
                    errors.push(e.to_string());
                }
            }
        }
        errors
    });
    (ok, failed, handle)
}

#[tokio::test]
async fn reloads_lose_no_connection_and_a_refused_config_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (backend("a").await, backend("b").await);
    let service = free_port();
    let layout = layout(dir.path(), None);
    let one = render(
        &plan(&[app("/web", u32::from(service), &[a], &[])], &settings()),
        &layout,
    );
    let two = render(
        &plan(
            &[app("/web", u32::from(service), &[a, b], &[])],
            &settings(),
        ),
        &layout,
    );
    let mut h = driver(dir.path());
    let mut reaper = Reaper(vec![]);
    assert!(matches!(h.apply(&one).await, Ok(Applied::Reloaded(_))));
    reaper.0.extend(h.pids());
    let first_pid = h.pids();
    assert_eq!(first_pid.len(), 1);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, handle) = client(service, stop.clone());
    for i in 0..6 {
        let text = if i % 2 == 0 { &two } else { &one };
        assert!(matches!(h.apply(text).await, Ok(Applied::Reloaded(_))));
        reaper.0.extend(h.pids());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.apply(&one).await.unwrap(), Applied::Unchanged);
    stop.store(true, Ordering::Relaxed);
    let errors = handle.await.unwrap();
    eprintln!(
        "{} connections through 7 reloads",
        ok.load(Ordering::Relaxed)
    );
    assert!(ok.load(Ordering::Relaxed) > 10, "the client got through");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "{errors:?}");
    assert_ne!(h.pids(), first_pid, "a reload starts a new process");

    // Text HAProxy refuses: not loaded, the running process serves on.
    let running = h.pids();
    let broken = one.replace("balance roundrobin", "balance nonsense");
    let e = h.apply(&broken).await.unwrap_err();
    assert!(matches!(e, DriverError::Refused(_)), "{e}");
    assert_eq!(h.pids(), running);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("haproxy.cfg")).unwrap(),
        one
    );
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", service))
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    assert_eq!(buf, "a");
}

/// `show servers state` lines of a backend: (server name, operational state; 0 = down,
/// 2 = up).
async fn server_states(dir: &Path, backend: &str) -> Vec<(String, u32)> {
    let text = runtime_api(&dir.join("haproxy.sock"), "show servers state")
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&backend)).then(|| (f[3].to_string(), f[5].parse().unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn a_server_found_down_stays_down_across_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let up = backend("up").await;
    let down = free_port(); // nothing listens: the check marks it down
    let (service, other) = (free_port(), free_port());
    let layout = layout(dir.path(), None);
    let web = app("/web", u32::from(service), &[up, down], &[]);
    let one = render(&plan(std::slice::from_ref(&web), &settings()), &layout);
    let mut h = driver(dir.path());
    let mut reaper = Reaper(vec![]);
    h.apply(&one).await.unwrap();
    reaper.0.extend(h.pids());
    let backend = format!("web_{service}");
    let mut states = vec![];
    for _ in 0..100 {
        states = server_states(dir.path(), &backend).await;
        if states.iter().any(|(_, s)| *s == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let down_name = format!("127_0_0_1_{down}");
    assert!(states.contains(&(down_name.clone(), 0)), "{states:?}");

    // Another app changes the text: HAProxy reloads, and the new process starts the
    // server that was down as down (without the state file it would start it up).
    let two = render(
        &plan(
            &[web, app("/other", u32::from(other), &[up], &[])],
            &settings(),
        ),
        &layout,
    );
    assert!(matches!(h.apply(&two).await, Ok(Applied::Reloaded(_))));
    reaper.0.extend(h.pids());
    let after = server_states(dir.path(), &backend).await;
    assert!(after.contains(&(down_name, 0)), "{after:?}");
    assert!(after.contains(&(format!("127_0_0_1_{up}"), 2)), "{after:?}");
}

/// What one new connection to `port` answers (empty when refused or closed at once).
async fn answer(port: u16) -> String {
    let mut buf = String::new();
    if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        let _ = s.read_to_string(&mut buf).await;
    }
    buf
}

#[tokio::test]
async fn a_drained_server_gets_no_new_connection_at_once_and_after_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (backend("a").await, backend("b").await);
    let (service, other) = (free_port(), free_port());
    let layout = layout(dir.path(), None);
    let web = app("/web", u32::from(service), &[a, b], &[]);
    let mut h = driver(dir.path());
    let mut reaper = Reaper(vec![]);
    h.apply(&render(
        &plan(std::slice::from_ref(&web), &settings()),
        &layout,
    ))
    .await
    .unwrap();
    reaper.0.extend(h.pids());
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        seen.insert(answer(service).await);
    }
    assert_eq!(seen, ["a", "b"].map(String::from).into(), "both serve");

    // Drain a: no reload, and from the next connection on only b answers.
    let socket = dir.path().join("haproxy.sock");
    let server = |port: u16, state| Command {
        server: ServerRef {
            backend: format!("web_{service}"),
            server: format!("127_0_0_1_{port}"),
        },
        state,
    };
    let pids = h.pids();
    set_states(&socket, &[server(a, AdminState::Drain)])
        .await
        .unwrap();
    for _ in 0..20 {
        assert_eq!(answer(service).await, "b");
    }
    // A reload (another app) keeps a drained: the state file carries it.
    let two = render(
        &plan(
            &[web.clone(), app("/other", u32::from(other), &[a], &[])],
            &settings(),
        ),
        &layout,
    );
    assert!(matches!(h.apply(&two).await, Ok(Applied::Reloaded(_))));
    reaper.0.extend(h.pids());
    assert_ne!(h.pids(), pids);
    for _ in 0..20 {
        assert_eq!(answer(service).await, "b");
    }
    // Ready: a serves again. A server HAProxy does not have is an error, named.
    set_states(&socket, &[server(a, AdminState::Ready)])
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        seen.insert(answer(service).await);
    }
    assert!(seen.contains("a"), "{seen:?}");
    let e = set_states(&socket, &[server(1, AdminState::Maint)])
        .await
        .unwrap_err();
    assert!(e.contains("No such server"), "{e}");
}
