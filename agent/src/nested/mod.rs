//! Nested containers: commands an operator runs next to a running task through the
//! operator API (LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_INPUT/OUTPUT,
//! WAIT/KILL_(NESTED_)CONTAINER), which is how `mesos task exec` and `dcos task exec` get a
//! shell beside a task.
//!
//! The nested container of a command task is a process on the host, in the task's sandbox
//! with the task's environment (as Mesos's DEBUG containers inherit both from their
//! parent); that of a Docker task is an exec in the task's Docker container. With a TTY
//! the process gets a pseudo-terminal whose window can be resized; without one, pipes.
//!
//! Each nested container has one supervising tokio task that owns the process. It copies
//! the process's output to every attached output stream (reading nothing before the first
//! one attaches, so nothing is lost), writes what the one attached input stream sends,
//! passes signals, and when the process ends kills what it left behind and records its
//! wait status. Ended containers keep that record (a bounded number of them) so that
//! WAIT_CONTAINER still answers after the session is over, as Mesos keeps a nested
//! container's termination.
//!
//! ```text
//!  operator API ──launch──▶ NestedContainers ──spawn──▶ supervisor ──▶ host process | docker exec
//!               ◀──Output── subscribers ◀────────────────────┤
//!               ──Input───▶ (one input stream) ──────────────┤
//!               ──signal──▶ ──────────────────────────────────┘──▶ Termination (wait status)
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mesos_proto::v1::ContainerId;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, Instrument};

use crate::docker::exec::ExecOutput;
use crate::docker::DockerRuntime;

/// Ended containers whose termination is kept for WAIT_CONTAINER.
const MAX_ENDED: usize = 1024;
/// Output chunks queued per output stream before the process waits for its reader.
const OUTPUT_QUEUE: usize = 64;
/// Input records queued before the input stream waits for the process.
const INPUT_QUEUE: usize = 64;
/// How long output may go on after the process ended.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);
/// How much is read from the process's output at once.
const READ_SIZE: usize = 16 * 1024;

/// Which of the process's streams a chunk of output came from (with a TTY, all of it is
/// stdout, as in Mesos).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

pub type Output = (Stream, Bytes);

/// What an input stream sends to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Data(Bytes),
    /// End of input: the process's stdin is closed (without a TTY only; with one, the
    /// client sends EOT as a terminal would).
    Eof,
    Resize {
        rows: u16,
        columns: u16,
    },
}

/// How a nested container ended: its raw wait(2) status, as WAIT_CONTAINER reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    pub status: i32,
}

/// `parent.child` as Mesos prints a ContainerID.
pub fn dotted(id: &ContainerId) -> String {
    match &id.parent {
        Some(parent) => format!("{}.{}", dotted(parent), id.value),
        None => id.value.clone(),
    }
}

/// Where and how the command runs.
#[derive(Debug)]
pub enum Runtime {
    /// A process on the agent's host.
    Host {
        program: String,
        /// The full argument vector, `argv[0]` first.
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: PathBuf,
        /// The user it runs as (its parent task's); None: as the agent.
        user: Option<crate::users::RunAs>,
    },
    /// An exec in a running Docker container.
    Docker {
        docker: DockerRuntime,
        container: String,
        /// The command, its program first.
        cmd: Vec<String>,
        /// Variables added to the container's own environment.
        env: Vec<String>,
    },
}

/// A nested container to start.
#[derive(Debug)]
pub struct Launch {
    pub id: ContainerId,
    pub runtime: Runtime,
    /// A pseudo-terminal, with its first window size when one was given.
    pub tty: Option<Option<(u16, u16)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NestedError {
    #[error("Container {0} cannot be found")]
    NotFound(String),
    #[error("Container {0} already exists")]
    Exists(String),
    #[error("Multiple input connections are not allowed")]
    InputBusy,
    #[error("{0}")]
    Launch(String),
}

/// Ends a session's container when dropped: the client's connection is gone.
#[derive(Debug)]
pub struct SessionGuard {
    signals: mpsc::UnboundedSender<Signal>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let _ = self.signals.send(Signal::SIGKILL);
    }
}

/// The attached input stream of a container; another may attach once it is dropped.
#[derive(Debug)]
pub struct InputStream {
    pub tty: bool,
    sender: mpsc::Sender<Input>,
    attached: Arc<AtomicBool>,
}

impl InputStream {
    /// Passes one input record on; false once the container has ended.
    pub async fn send(&self, input: Input) -> bool {
        self.sender.send(input).await.is_ok()
    }

    /// Resolves when the container has ended.
    pub async fn closed(&self) {
        self.sender.closed().await
    }
}

impl Drop for InputStream {
    fn drop(&mut self) {
        self.attached.store(false, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Live {
    parent: String,
    tty: bool,
    input: mpsc::Sender<Input>,
    input_attached: Arc<AtomicBool>,
    subscribe: mpsc::UnboundedSender<mpsc::Sender<Output>>,
    signals: mpsc::UnboundedSender<Signal>,
    ended: watch::Receiver<Option<Termination>>,
}

#[derive(Debug, Default)]
struct Registry {
    live: HashMap<String, Live>,
    ended: HashMap<String, Termination>,
    ended_order: VecDeque<String>,
}

impl Registry {
    fn record_end(&mut self, key: &str, termination: Termination) {
        self.live.remove(key);
        if self.ended.insert(key.to_string(), termination).is_none() {
            self.ended_order.push_back(key.to_string());
        }
        while self.ended_order.len() > MAX_ENDED {
            if let Some(oldest) = self.ended_order.pop_front() {
                self.ended.remove(&oldest);
            }
        }
    }
}

/// The agent's nested containers (cheap to clone: one shared registry).
#[derive(Debug, Clone, Default)]
pub struct NestedContainers {
    registry: Arc<Mutex<Registry>>,
}

impl NestedContainers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain maps behind; they stay usable.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session's container and attaches the first output stream to it. The
    /// container is killed when the returned guard is dropped.
    pub async fn launch_session(
        &self,
        launch: Launch,
    ) -> Result<(mpsc::Receiver<Output>, SessionGuard), NestedError> {
        let (output_tx, output_rx) = mpsc::channel(OUTPUT_QUEUE);
        let signals = self.launch(launch, FirstOutput::Stream(output_tx)).await?;
        Ok((output_rx, SessionGuard { signals }))
    }

    /// Starts a container that runs on its own, its output appended to `stdout` and
    /// `stderr` in `sandbox` (created here).
    pub async fn launch_detached(
        &self,
        launch: Launch,
        sandbox: PathBuf,
    ) -> Result<(), NestedError> {
        let failed = |e: std::io::Error| {
            NestedError::Launch(format!(
                "Failed to create sandbox {}: {e}",
                sandbox.display()
            ))
        };
        std::fs::create_dir_all(&sandbox).map_err(failed)?;
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(sandbox.join(name))
                .map(tokio::fs::File::from_std)
        };
        let files = OutputFiles {
            stdout: open("stdout").map_err(failed)?,
            stderr: open("stderr").map_err(failed)?,
        };
        if let Runtime::Host {
            user: Some(user), ..
        } = &launch.runtime
        {
            crate::users::chown_tree(&sandbox, user).map_err(failed)?;
        }
        self.launch(launch, FirstOutput::Files(files)).await?;
        Ok(())
    }

    async fn launch(
        &self,
        launch: Launch,
        first_output: FirstOutput,
    ) -> Result<mpsc::UnboundedSender<Signal>, NestedError> {
        let key = dotted(&launch.id);
        let parent = launch.id.parent.as_deref().map(dotted).unwrap_or_default();
        {
            let registry = self.lock();
            if registry.live.contains_key(&key) {
                return Err(NestedError::Exists(key));
            }
        }
        let tty = launch.tty.is_some();
        let process = start(launch.runtime, launch.tty).await?;
        let (input_tx, input_rx) = mpsc::channel(INPUT_QUEUE);
        let (subscribe_tx, subscribe_rx) = mpsc::unbounded_channel();
        let (signals_tx, signals_rx) = mpsc::unbounded_channel();
        let (ended_tx, ended_rx) = watch::channel(None);
        let files = match first_output {
            FirstOutput::Stream(first) => {
                let _ = subscribe_tx.send(first);
                None
            }
            FirstOutput::Files(files) => Some(files),
        };
        let live = Live {
            parent,
            tty,
            input: input_tx,
            input_attached: Arc::new(AtomicBool::new(false)),
            subscribe: subscribe_tx,
            signals: signals_tx.clone(),
            ended: ended_rx,
        };
        {
            let mut registry = self.lock();
            // A new container of an ended one's id is a new container.
            if registry.ended.remove(&key).is_some() {
                registry.ended_order.retain(|k| *k != key);
            }
            registry.live.insert(key.clone(), live);
        }
        info!(container = %key, tty, "nested container started");
        let supervisor = Supervisor {
            key: key.clone(),
            registry: self.clone(),
            process,
            inputs: input_rx,
            subscribe: subscribe_rx,
            signals: signals_rx,
            ended: ended_tx,
            files,
        };
        tokio::spawn(
            supervisor
                .run()
                .instrument(tracing::info_span!("nested", container = %key)),
        );
        Ok(signals_tx)
    }

    /// A new output stream of a running container.
    pub fn attach_output(&self, id: &ContainerId) -> Result<mpsc::Receiver<Output>, NestedError> {
        let key = dotted(id);
        let registry = self.lock();
        let live = registry.live.get(&key).ok_or(NestedError::NotFound(key))?;
        let (tx, rx) = mpsc::channel(OUTPUT_QUEUE);
        let _ = live.subscribe.send(tx);
        Ok(rx)
    }

    /// The input stream of a running container; one at a time.
    pub fn attach_input(&self, id: &ContainerId) -> Result<InputStream, NestedError> {
        let key = dotted(id);
        let registry = self.lock();
        let live = registry.live.get(&key).ok_or(NestedError::NotFound(key))?;
        if live.input_attached.swap(true, Ordering::SeqCst) {
            return Err(NestedError::InputBusy);
        }
        Ok(InputStream {
            tty: live.tty,
            sender: live.input.clone(),
            attached: live.input_attached.clone(),
        })
    }

    /// Waits for the container's end (at once for one that already ended).
    pub async fn wait(&self, id: &ContainerId) -> Result<Termination, NestedError> {
        let key = dotted(id);
        let mut ended = {
            let registry = self.lock();
            if let Some(termination) = registry.ended.get(&key) {
                return Ok(*termination);
            }
            match registry.live.get(&key) {
                Some(live) => live.ended.clone(),
                None => return Err(NestedError::NotFound(key)),
            }
        };
        let termination = ended
            .wait_for(Option::is_some)
            .await
            .map_err(|_| NestedError::NotFound(key.clone()))?;
        termination.ok_or(NestedError::NotFound(key))
    }

    /// Sends `signal` to the container's process; false when it is not running.
    pub fn kill(&self, id: &ContainerId, signal: Signal) -> bool {
        let key = dotted(id);
        let registry = self.lock();
        registry
            .live
            .get(&key)
            .is_some_and(|live| live.signals.send(signal).is_ok())
    }

    /// The containers running under `parent` (its dotted id).
    pub fn running_under(&self, parent: &str) -> Vec<String> {
        self.lock()
            .live
            .iter()
            .filter(|(_, live)| live.parent == parent)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The parents that have running nested containers.
    pub fn parents(&self) -> HashSet<String> {
        self.lock()
            .live
            .values()
            .map(|live| live.parent.clone())
            .collect()
    }

    /// Kills every container nested in `parent` (whose container is gone).
    pub fn destroy_under(&self, parent: &str) {
        let registry = self.lock();
        for (key, live) in registry.live.iter().filter(|(_, l)| l.parent == parent) {
            info!(container = %key, "the parent container ended; killing the nested container");
            let _ = live.signals.send(Signal::SIGKILL);
        }
    }
}

/// A started process: its output, its input, and how to signal and reap it.
struct Process {
    output: mpsc::Receiver<Output>,
    stdin: Option<Stdin>,
    control: Control,
}

/// Where input goes.
enum Stdin {
    Pipe(tokio::process::ChildStdin),
    Pty(pty_process::OwnedWritePty),
    Docker {
        input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
        docker: DockerRuntime,
        exec_id: String,
    },
}

impl Stdin {
    /// Handles one input record; Err(text) ends the input (the process cannot take more).
    /// At the end of input the caller drops the stdin: a pipe closes only then.
    async fn take(&mut self, input: Input) -> Result<(), String> {
        match (self, input) {
            (Stdin::Pipe(pipe), Input::Data(data)) => pipe.write_all(&data).await,
            (Stdin::Pty(pty), Input::Data(data)) => pty.write_all(&data).await,
            (Stdin::Docker { input, .. }, Input::Data(data)) => {
                match input.write_all(&data).await {
                    Ok(()) => input.flush().await,
                    Err(e) => Err(e),
                }
            }
            (Stdin::Pipe(pipe), Input::Eof) => pipe.shutdown().await,
            (Stdin::Docker { input, .. }, Input::Eof) => input.shutdown().await,
            (Stdin::Pty(_), Input::Eof) => Ok(()),
            (Stdin::Pty(pty), Input::Resize { rows, columns }) => {
                return pty
                    .resize(pty_process::Size::new(rows, columns))
                    .map_err(|e| format!("Unable to set the window size: {e}"));
            }
            (
                Stdin::Docker {
                    docker, exec_id, ..
                },
                Input::Resize { rows, columns },
            ) => {
                return docker.resize_exec(exec_id, rows, columns).await;
            }
            // Without a TTY there is no window to size.
            (Stdin::Pipe(_), Input::Resize { .. }) => Ok(()),
        }
        .map_err(|e| format!("Failed writing to stdin: {e}"))
    }
}

/// How the supervisor signals and reaps the process.
enum Control {
    Host {
        child: tokio::process::Child,
        /// The process group the process leads (its own, or its session's with a TTY).
        pgid: Pid,
        reaped: bool,
    },
    Docker {
        docker: DockerRuntime,
        exec_id: String,
        /// Fires when the exec's output has ended, which is when Docker has reaped it.
        output_ended: Option<oneshot::Receiver<()>>,
    },
}

impl Control {
    async fn exited(&mut self) -> Termination {
        match self {
            Control::Host { child, reaped, .. } => {
                let status = child.wait().await;
                *reaped = true;
                Termination {
                    status: status.map(|s| s.into_raw()).unwrap_or(-1),
                }
            }
            Control::Docker {
                docker,
                exec_id,
                output_ended,
            } => {
                if let Some(ended) = output_ended.as_mut() {
                    let _ = ended.await;
                    *output_ended = None;
                }
                let code = docker.exec_exit_code(exec_id).await.unwrap_or(-1);
                // Docker reports a signal's end as 128 + signal, as a shell does.
                Termination {
                    status: (code.clamp(0, 255) as i32) << 8,
                }
            }
        }
    }

    /// Sends `signal` to the process (Mesos signals a container's main process).
    async fn signal(&self, signal: Signal) {
        match self {
            Control::Host { child, reaped, .. } => {
                if let (false, Some(pid)) = (*reaped, child.id()) {
                    let _ = kill(Pid::from_raw(pid as i32), signal);
                }
            }
            Control::Docker {
                docker, exec_id, ..
            } => {
                if let Some(pid) = docker.exec_pid(exec_id).await {
                    let _ = kill(Pid::from_raw(pid), signal);
                }
            }
        }
    }

    /// Kills the process and everything it started (the container is destroyed).
    async fn destroy(&self) {
        match self {
            Control::Host {
                child,
                pgid,
                reaped,
            } => {
                if let (false, Some(pid)) = (*reaped, child.id()) {
                    kill_tree(pid as i32);
                }
                // The group outlives its leader while members are left; a reused id is
                // impossible while a member holds it.
                let _ = killpg(*pgid, Signal::SIGKILL);
            }
            Control::Docker {
                docker, exec_id, ..
            } => {
                if let Some(pid) = docker.exec_pid(exec_id).await {
                    kill_tree(pid);
                }
            }
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        // A supervisor dropped mid-way (the agent is stopping) leaves no process behind.
        if let Control::Host {
            pgid,
            reaped: false,
            ..
        } = self
        {
            let _ = killpg(*pgid, Signal::SIGKILL);
        }
    }
}

/// SIGKILL to `pid` and every process below it, children first found, so that none is
/// reparented out of reach before it is killed.
fn kill_tree(pid: i32) {
    let mut parents: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(parent) = parent_pid(child) {
                parents.entry(parent).or_default().push(child);
            }
        }
    }
    let mut tree = vec![pid];
    let mut next = 0;
    while next < tree.len() {
        if let Some(children) = parents.get(&tree[next]) {
            tree.extend(children);
        }
        next += 1;
    }
    for pid in tree {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// The parent of `pid` from `/proc/<pid>/stat` (`pid (comm) state ppid ...`; comm may
/// hold spaces and parentheses, so the fields are counted after the last `)`).
fn parent_pid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

async fn start(runtime: Runtime, tty: Option<Option<(u16, u16)>>) -> Result<Process, NestedError> {
    match runtime {
        Runtime::Host {
            program,
            argv,
            env,
            cwd,
            user,
        } => match tty {
            Some(size) => start_pty(program, argv, env, cwd, user, size),
            None => start_pipes(program, argv, env, cwd, user),
        },
        Runtime::Docker {
            docker,
            container,
            cmd,
            env,
        } => start_docker(docker, container, cmd, env, tty).await,
    }
}

fn launch_error(program: &str) -> impl FnOnce(std::io::Error) -> NestedError + '_ {
    move |e| NestedError::Launch(format!("Failed to launch '{program}': {e}"))
}

fn start_pipes(
    program: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    user: Option<crate::users::RunAs>,
) -> Result<Process, NestedError> {
    use std::process::Stdio;
    let mut command = tokio::process::Command::new(&program);
    if let Some((argv0, rest)) = argv.split_first() {
        command.arg0(argv0).args(rest);
    }
    if let Some(user) = user {
        command.uid(user.uid).gid(user.gid);
    }
    let mut child = command
        .env_clear()
        .envs(&env)
        .current_dir(&cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(launch_error(&program))?;
    let pid = child.id().unwrap_or_default() as i32;
    let (tx, output) = mpsc::channel(OUTPUT_QUEUE);
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(copy_output(stdout, Stream::Stdout, tx.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(copy_output(stderr, Stream::Stderr, tx));
    }
    Ok(Process {
        output,
        stdin: child.stdin.take().map(Stdin::Pipe),
        control: Control::Host {
            child,
            pgid: Pid::from_raw(pid),
            reaped: false,
        },
    })
}

fn start_pty(
    program: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    user: Option<crate::users::RunAs>,
    size: Option<(u16, u16)>,
) -> Result<Process, NestedError> {
    let pty_error =
        |e: pty_process::Error| NestedError::Launch(format!("Failed to open a TTY: {e}"));
    let (pty, pts) = pty_process::open().map_err(pty_error)?;
    if let Some((rows, columns)) = size {
        pty.resize(pty_process::Size::new(rows, columns))
            .map_err(pty_error)?;
    }
    let mut command = pty_process::Command::new(&program);
    if let Some((argv0, rest)) = argv.split_first() {
        command = command.arg0(argv0).args(rest);
    }
    if let Some(user) = user {
        command = command.uid(user.uid).gid(user.gid);
    }
    // The process leads a new session whose controlling terminal is the pty.
    let child = command
        .env_clear()
        .envs(&env)
        .current_dir(&cwd)
        .kill_on_drop(true)
        .spawn(pts)
        .map_err(|e| NestedError::Launch(format!("Failed to launch '{program}': {e}")))?;
    let pid = child.id().unwrap_or_default() as i32;
    let (reader, writer) = pty.into_split();
    let (tx, output) = mpsc::channel(OUTPUT_QUEUE);
    tokio::spawn(copy_output(reader, Stream::Stdout, tx));
    Ok(Process {
        output,
        stdin: Some(Stdin::Pty(writer)),
        control: Control::Host {
            child,
            pgid: Pid::from_raw(pid),
            reaped: false,
        },
    })
}

async fn start_docker(
    docker: DockerRuntime,
    container: String,
    cmd: Vec<String>,
    env: Vec<String>,
    tty: Option<Option<(u16, u16)>>,
) -> Result<Process, NestedError> {
    let started = docker
        .attach_exec(&container, cmd, env, tty.is_some())
        .await
        .map_err(NestedError::Launch)?;
    if let Some(Some((rows, columns))) = tty {
        if let Err(e) = docker.resize_exec(&started.exec_id, rows, columns).await {
            debug!(error = %e, "cannot size the exec's TTY");
        }
    }
    let (tx, output) = mpsc::channel(OUTPUT_QUEUE);
    let (ended_tx, ended_rx) = oneshot::channel();
    let mut stream = started.output;
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => {
                    let chunk = match chunk {
                        ExecOutput::Stdout(data) => (Stream::Stdout, data),
                        ExecOutput::Stderr(data) => (Stream::Stderr, data),
                    };
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    debug!(error = %e, "the exec's output stream failed");
                    break;
                }
            }
        }
        let _ = ended_tx.send(());
    });
    Ok(Process {
        output,
        stdin: Some(Stdin::Docker {
            input: started.input,
            docker: docker.clone(),
            exec_id: started.exec_id.clone(),
        }),
        control: Control::Docker {
            docker,
            exec_id: started.exec_id,
            output_ended: Some(ended_rx),
        },
    })
}

/// Copies a process's output into the channel until its end. A pty's master reads EIO
/// once the last process holding the terminal is gone: that is its end of file.
async fn copy_output(mut from: impl AsyncRead + Unpin, stream: Stream, to: mpsc::Sender<Output>) {
    let mut buffer = vec![0u8; READ_SIZE];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) => return,
            Ok(n) => {
                if to
                    .send((stream, Bytes::copy_from_slice(&buffer[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                if e.raw_os_error() != Some(libc::EIO) {
                    debug!(error = %e, "reading the process's output failed");
                }
                return;
            }
        }
    }
}

struct Supervisor {
    key: String,
    registry: NestedContainers,
    process: Process,
    inputs: mpsc::Receiver<Input>,
    subscribe: mpsc::UnboundedReceiver<mpsc::Sender<Output>>,
    signals: mpsc::UnboundedReceiver<Signal>,
    ended: watch::Sender<Option<Termination>>,
    /// A detached container's sandbox files: written before its end is recorded, so that
    /// they are complete when WAIT_CONTAINER answers.
    files: Option<OutputFiles>,
}

/// Where a nested container's output goes first.
enum FirstOutput {
    /// A session's response.
    Stream(mpsc::Sender<Output>),
    /// A detached container's sandbox.
    Files(OutputFiles),
}

struct OutputFiles {
    stdout: tokio::fs::File,
    stderr: tokio::fs::File,
}

impl OutputFiles {
    async fn write(&mut self, (stream, data): &Output) {
        let file = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        // A tokio file has written only once flushed.
        let written = match file.write_all(data).await {
            Ok(()) => file.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            debug!(error = %e, "cannot write the nested container's output");
        }
    }
}

impl Supervisor {
    async fn run(mut self) {
        let mut subscribers: Vec<mpsc::Sender<Output>> = Vec::new();
        let mut output_done = false;
        let mut termination: Option<Termination> = None;
        let mut stdin = self.process.stdin.take();
        // Once the process has ended, its output gets a moment to drain: a leftover that
        // could not be killed must not keep the container alive.
        let drain = tokio::time::sleep(Duration::MAX);
        tokio::pin!(drain);
        // Output waits for its first reader (Mesos's switchboard does the same).
        // A signal before then goes to the process, whose output is then let go.
        while subscribers.is_empty() && self.files.is_none() {
            tokio::select! {
                Some(subscriber) = self.subscribe.recv() => subscribers.push(subscriber),
                Some(signal) = self.signals.recv() => {
                    self.process.control.signal(signal).await;
                    break;
                }
                else => break,
            }
        }
        while !(output_done && termination.is_some()) {
            tokio::select! {
                chunk = self.process.output.recv(), if !output_done => match chunk {
                    Some(chunk) => {
                        if let Some(files) = self.files.as_mut() {
                            files.write(&chunk).await;
                        }
                        fan_out(&mut subscribers, chunk).await
                    }
                    None => output_done = true,
                },
                Some(subscriber) = self.subscribe.recv() => subscribers.push(subscriber),
                // Input that comes after the end of input is dropped, not left to block.
                Some(input) = self.inputs.recv() => {
                    let taken = match (input, stdin.as_mut()) {
                        (Input::Eof, Some(to)) => to.take(Input::Eof).await.and(Err("end of input".into())),
                        (input, Some(to)) => to.take(input).await,
                        (_, None) => Ok(()),
                    };
                    if let Err(e) = taken {
                        debug!(error = %e, "no more input for the process");
                        stdin = None;
                    }
                }
                Some(signal) = self.signals.recv() => {
                    if signal == Signal::SIGKILL {
                        self.process.control.destroy().await;
                    } else {
                        self.process.control.signal(signal).await;
                    }
                }
                status = self.process.control.exited(), if termination.is_none() => {
                    termination = Some(status);
                    // Whatever the process left behind ends with it, as a container's
                    // processes do; its output then reaches its end.
                    self.process.control.destroy().await;
                    drain.as_mut().reset(tokio::time::Instant::now() + OUTPUT_DRAIN);
                }
                _ = &mut drain => {
                    debug!("the output did not end after the process; closing it");
                    output_done = true;
                }
            }
        }
        let termination = termination.unwrap_or(Termination { status: -1 });
        info!(status = termination.status, "nested container ended");
        self.registry.lock().record_end(&self.key, termination);
        let _ = self.ended.send(Some(termination));
    }
}

async fn fan_out(subscribers: &mut Vec<mpsc::Sender<Output>>, chunk: Output) {
    let mut open = Vec::with_capacity(subscribers.len());
    for subscriber in subscribers.drain(..) {
        if subscriber.send(chunk.clone()).await.is_ok() {
            open.push(subscriber);
        }
    }
    *subscribers = open;
}

#[cfg(test)]
mod tests;
