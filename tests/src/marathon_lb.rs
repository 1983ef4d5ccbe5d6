//! A `marathon-lb` process following a test Marathon, with its HAProxy files in a private
//! directory, and a client that sends HTTP requests through a port at a steady rate and
//! records every answer (the load balancer tests and benchmark).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::marathon::{task_ids, Marathon};
use crate::process::{binary, free_port, Proc};

/// A running marathon-lb; on drop it and the HAProxy daemons it started are killed.
pub struct MarathonLb {
    pub proc: Proc,
    pub dir: PathBuf,
    /// The loopback address its frontends bind: one of its own, since every test's
    /// Marathon hands out the same service ports (10000 up).
    pub addr: String,
    /// The virtual-host frontend's port (marathon-lb's 80).
    pub vhost_port: u16,
}

impl MarathonLb {
    /// Starts `marathon-lb --sse --health-check` against `marathon` with `extra` flags
    /// (`--group` among them, or the default `external` applies), binding [`MarathonLb::addr`].
    pub async fn start(root: &Path, marathon: &Marathon, extra: &[&str]) -> MarathonLb {
        let dir = root.join(format!("lb-{}", free_port()));
        std::fs::create_dir_all(&dir).expect("lb dir");
        let vhost_port = free_port();
        let addr = own_loopback_address();
        let mut args: Vec<String> = [
            "--marathon",
            &format!("http://127.0.0.1:{}", marathon.port),
            "--sse",
            "--health-check",
            "--haproxy-config",
            &dir.join("haproxy.cfg").display().to_string(),
            "--bind-addr",
            &addr,
            "--vhost-port",
            &vhost_port.to_string(),
            "--appid-port",
            &free_port().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        // HAProxy runs as a daemon: the variable marks it as this test's for
        // `kill_processes_under`, should this process die before its drop runs.
        let proc = Proc::spawn_with_env(
            "marathon-lb",
            &binary("marathon-lb"),
            args,
            vec![("MARATHON_LB_TEST_DIR".into(), dir.display().to_string())],
            root,
        );
        let lb = MarathonLb {
            proc,
            dir,
            addr,
            vhost_port,
        };
        crate::eventually(
            "marathon-lb's first configuration",
            crate::TIMEOUT,
            async || lb.dir.join("haproxy.pid").exists().then_some(()),
        )
        .await;
        lb
    }

    /// The configuration HAProxy runs.
    pub fn config(&self) -> String {
        std::fs::read_to_string(self.dir.join("haproxy.cfg")).unwrap_or_default()
    }

    /// The HAProxy processes of the pid file.
    pub fn haproxy_pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("haproxy.pid"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Waits until the configuration holds `n` active servers in `backend`.
    pub async fn wait_servers(&self, backend: &str, n: usize, timeout: Duration) -> String {
        crate::eventually(&format!("{n} servers in {backend}"), timeout, async || {
            let config = self.config();
            (servers_of(&config, backend).len() == n).then_some(config)
        })
        .await
    }
}

/// An HTTP app that answers `GET /` with its task id and, on SIGTERM, serves on until the
/// kill grace period ends (SIGKILL), as a service that wants to be drained does (like a
/// container whose PID 1 has no SIGTERM handler). Run as `python3 <file>`.
pub const DRAINED_SERVER_PY: &str = r#"
import http.server, os, signal
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["MESOS_TASK_ID"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True
server = Server(("127.0.0.1", int(os.environ["PORT0"])), Handler)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
server.serve_forever()
"#;

/// A Marathon app of `instances` [`DRAINED_SERVER_PY`] servers (written under `root`) on
/// one service port, killed with a `grace` s grace period, with an HTTP health check
/// every second so that a rolling restart kills old tasks only as new ones answer
/// (marathon-lb's advice for zero-downtime deployments).
pub fn drained_web_app(root: &Path, id: &str, instances: usize, grace: u32) -> serde_json::Value {
    let script = root.join("drained-server.py");
    std::fs::write(&script, DRAINED_SERVER_PY).expect("write drained-server.py");
    serde_json::json!({
        "id": id, "cmd": format!("exec python3 {}", script.display()),
        "cpus": 0.05, "mem": 32, "instances": instances,
        "portDefinitions": [{"port": 0}], "taskKillGracePeriodSeconds": grace,
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
            "gracePeriodSeconds": 60, "intervalSeconds": 1, "timeoutSeconds": 2,
            "maxConsecutiveFailures": 3}]
    })
}

impl MarathonLb {
    /// Waits until every one of `app`'s `n` tasks is new (none of `old`), running, and
    /// served through `backend`.
    pub async fn wait_replaced(
        &self,
        marathon: &Marathon,
        app: &str,
        backend: &str,
        old: &[String],
        n: usize,
        timeout: Duration,
    ) {
        crate::eventually("every instance replaced and served", timeout, async || {
            let tasks = marathon.tasks(app).await;
            let fresh = tasks
                .iter()
                .filter(|t| t["state"] == "TASK_RUNNING")
                .filter(|t| !old.contains(&t["id"].as_str().unwrap_or_default().to_string()))
                .count();
            let served = servers_of(&self.config(), backend);
            (fresh == n && task_ids(&tasks).len() == n && served.len() == n).then_some(())
        })
        .await
    }
}

/// A random address in 127.0.0.0/8 other than 127.0.0.1 (Linux routes all of it to lo).
fn own_loopback_address() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    format!(
        "127.{}.{}.{}",
        rng.gen_range(1..255),
        rng.gen_range(0..255),
        rng.gen_range(1..255)
    )
}

/// The active servers' addresses of `backend` in a configuration (a task being killed stays
/// as a `backup` server, used only when no other is left).
pub fn servers_of(config: &str, backend: &str) -> Vec<String> {
    let head = format!("\nbackend {backend}\n");
    let Some(start) = config.find(&head) else {
        return vec![];
    };
    config[start + head.len()..]
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.ends_with(" backup"))
        .filter_map(|l| l.strip_prefix("  server "))
        .filter_map(|l| l.split(' ').nth(1).map(str::to_string))
        .collect()
}

impl Drop for MarathonLb {
    fn drop(&mut self) {
        self.proc.kill9();
        for pid in self.haproxy_pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // Old processes still finishing connections are not in the pid file any more.
        crate::process::kill_processes_under(&self.dir);
    }
}

/// One request's outcome: when it was sent (since the client started) and the body, or
/// why it failed.
#[derive(Debug, Clone)]
pub struct Sample {
    pub sent: Duration,
    pub answered: Duration,
    pub result: Result<String, String>,
}

/// Sends `GET /` to a port at a steady rate, one new connection per request, so every
/// request goes through the load balancer's current configuration.
pub struct LoadClient {
    pub started: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: tokio::sync::watch::Sender<bool>,
    ticker: tokio::task::JoinHandle<()>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Most requests in flight at once; more wait their turn (and count late, not lost).
const MAX_IN_FLIGHT: u32 = 256;

impl LoadClient {
    pub fn start(addr: &str, port: u16, per_second: u32) -> LoadClient {
        let addr = addr.to_string();
        let started = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT as usize));
        let (s, f) = (samples.clone(), in_flight.clone());
        let ticker = tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = tick.tick() => {}
                }
                let Ok(permit) = f.clone().acquire_owned().await else {
                    return;
                };
                let (s, addr) = (s.clone(), addr.clone());
                tokio::spawn(async move {
                    let sent = started.elapsed();
                    let result = get(&addr, port).await;
                    let answered = started.elapsed();
                    s.lock().unwrap().push(Sample {
                        sent,
                        answered,
                        result,
                    });
                    drop(permit);
                });
            }
        });
        LoadClient {
            started,
            samples,
            stop,
            ticker,
            in_flight,
        }
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Stops sending, waits for the requests in flight, and returns every sample.
    pub async fn finish(self) -> Vec<Sample> {
        let _ = self.stop.send(true);
        let _ = self.ticker.await;
        let _ = self.in_flight.acquire_many(MAX_IN_FLIGHT).await;
        let mut samples = self.samples.lock().unwrap().clone();
        samples.sort_by_key(|s| s.sent);
        samples
    }
}

/// `GET /` to `addr:port` over a new HTTP/1.0 connection; the body of a 200, else the reason.
pub async fn get(addr: &str, port: u16) -> Result<String, String> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect((addr, port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.write_all(b"GET / HTTP/1.0\r\nHost: lb-test\r\n\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no HTTP answer: {text:?}"))?;
        let status = head.split(' ').nth(1).unwrap_or_default();
        if status != "200" {
            return Err(format!("status {status}"));
        }
        Ok(body.trim().to_string())
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or_else(|_| Err("no answer within 10 s".into()))
}
