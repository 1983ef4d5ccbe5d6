//! The real binaries the benchmarks run against: finding them, starting them on loopback,
//! reading their memory from `/proc`, timing their HTTP endpoints, stopping them.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Finds a workspace binary: in `dir` when given, else next to the running executable
/// (or one level up, where cargo puts binaries relative to test executables).
pub fn find_binary(name: &str, dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = match dir {
        Some(dir) => vec![dir.join(name)],
        None => {
            let exe = std::env::current_exe().context("cannot locate the running executable")?;
            let here = exe.parent().map(Path::to_path_buf).unwrap_or_default();
            vec![here.join(name), here.join("..").join(name)]
        }
    };
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "binary `{name}` not found (looked at {}); build it first, e.g. \
                 `cargo build --release -p mesos-master -p mesos-agent -p mesos-sim`",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// A loopback port free right now (the kernel's choice).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Raises this process's open-file limit to its hard limit; children inherit it.
/// Returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    }
}

/// Memory of a process from `/proc/<pid>/status`: (VmRSS, VmHWM) in bytes.
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    stat_cpu_time(&format!("/proc/{pid}/stat"))
}

/// CPU time used so far by the threads of process `pid` named `name`.
pub fn thread_cpu_time(pid: u32, name: &str) -> Duration {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    threads
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| stat_cpu_time(&t.path().join("stat").to_string_lossy()))
        .sum()
}

fn stat_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Some(Duration::from_secs_f64(ticks as f64 / hz as f64))
}

/// A child process that is killed when dropped.
pub struct ChildProcess {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
    pub log: PathBuf,
}

impl ChildProcess {
    /// Starts `program` with `args`, logging to `<log_dir>/<name>.log`, and waits until
    /// `GET <health_path>` answers 200.
    pub async fn start(
        name: &str,
        program: &Path,
        args: Vec<String>,
        envs: &[(&str, &str)],
        addr: SocketAddr,
        health_path: &str,
        log_dir: &Path,
    ) -> anyhow::Result<ChildProcess> {
        let log = log_dir.join(format!("{name}.log"));
        let file =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(program)
            .args(&args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut proc = ChildProcess {
            name: name.to_string(),
            addr,
            child,
            log,
        };
        let client = mesos_common::tls::http_client().build()?;
        let url = format!("{}://{addr}{health_path}", mesos_common::tls::scheme());
        let started = Instant::now();
        loop {
            if let Some(status) = proc.child.try_wait()? {
                bail!(
                    "{name} exited with {status} at start; see {}",
                    proc.log.display()
                );
            }
            if let Ok(r) = client.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(proc);
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "{name} did not answer {url} within 30s; see {}",
                    proc.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in bytes.
    pub fn memory(&self) -> Option<(u64, u64)> {
        memory(self.pid())
    }

    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.pid())
    }

    /// Times a full GET of `path`: (seconds, body bytes).
    pub async fn timed_get(&self, path: &str) -> anyhow::Result<(f64, usize)> {
        let client = mesos_common::tls::http_client().build()?;
        let started = Instant::now();
        let response = client
            .get(format!(
                "{}://{}{path}",
                mesos_common::tls::scheme(),
                self.addr
            ))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET {path}: {}", response.status());
        }
        let body = response.bytes().await?;
        Ok((started.elapsed().as_secs_f64(), body.len()))
    }

    /// Times `GET path` `n` times: (milliseconds of each, body bytes, this process's CPU
    /// time per GET). CPU time is what the request costs the server, whatever else the
    /// machine runs; the wall times are what a client waits.
    pub async fn timed_gets(
        &self,
        path: &str,
        n: usize,
    ) -> anyhow::Result<(Vec<f64>, usize, Duration)> {
        let cpu = self.cpu_time().unwrap_or_default();
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..n {
            let (secs, bytes) = self.timed_get(path).await?;
            times.push(secs * 1000.0);
            size = bytes;
        }
        let spent = self.cpu_time().unwrap_or_default().saturating_sub(cpu);
        Ok((times, size, spent / n.max(1) as u32))
    }

    /// GET of a JSON document.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let client = mesos_common::tls::http_client().build()?;
        let url = format!("{}://{}{path}", mesos_common::tls::scheme(), self.addr);
        let response = client.get(url).send().await?;
        Ok(response.error_for_status()?.json().await?)
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub async fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
