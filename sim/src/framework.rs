//! The benchmark framework: a scheduler built on the project's scheduler library
//! (`mesos_scheduler`), speaking the real v1 API in JSON or protobuf.
//!
//! A [`Workload`] subscribes, turns every offer into as many tasks as fit (up to its
//! total), declines what it cannot use with a filter, and acknowledges every status
//! update. Task `n` is named `<prefix>-<n>` and runs `sleep <seconds>` with a run time
//! drawn from the seed, so a simulated agent and a real one run it alike.
//!
//! ```text
//!  SchedulerEvent ──▶ event loop ──OFFERS──▶ tasks that fit ──ACCEPT / DECLINE (spawned)──▶ master
//!                        └──UPDATE──▶ WorkloadStats ──ACKNOWLEDGE (spawned, bounded)──▶ master
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mesos_common::resources::{Resources, Value};
use mesos_proto::v1::scheduler::event;
use mesos_proto::v1::scheduler::Call;
use mesos_proto::v1::{self, Offer, TaskState};
use mesos_scheduler::{
    calls, ContentType, MasterAddress, Scheduler, SchedulerConfig, SchedulerError, SchedulerEvent,
    StaticDetector,
};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tracing::warn;

use crate::seed;

const FAILOVER_TIMEOUT_SECS: f64 = 300.0;

/// How long the tasks of a workload run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TaskDuration {
    /// `sleep infinity`: until killed.
    Forever,
    /// Drawn uniformly from `[min, max]` per task.
    Uniform { min: Duration, max: Duration },
}

#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    pub name: String,
    pub master: MasterAddress,
    pub content_type: ContentType,
    pub role: String,
    /// Tasks to launch in total; `None`: keep launching on every offer.
    pub tasks: Option<u64>,
    /// Mesos resource text of one task.
    pub task_resources: String,
    pub duration: TaskDuration,
    pub max_tasks_per_offer: usize,
    /// Filter on declined and unused resources.
    pub refuse_seconds: f64,
    pub seed: u64,
    /// Calls (accepts, declines, acknowledgements) in flight at once.
    pub concurrency: usize,
    /// Tasks launched but not yet acknowledged RUNNING, at most; offers wait meanwhile.
    /// A master drops a framework whose event stream falls too far behind, and launching
    /// everything at once makes every agent answer at once.
    pub max_in_flight: Option<u64>,
}

impl WorkloadConfig {
    pub fn new(name: &str, master: MasterAddress) -> Self {
        WorkloadConfig {
            name: name.to_string(),
            master,
            content_type: ContentType::Protobuf,
            role: "*".to_string(),
            tasks: None,
            task_resources: "cpus:1;mem:128".to_string(),
            duration: TaskDuration::Forever,
            max_tasks_per_offer: usize::MAX,
            refuse_seconds: 5.0,
            seed: 1,
            concurrency: 64,
            max_in_flight: None,
        }
    }
}

/// What a workload has done so far. Instants are taken when things happen.
#[derive(Debug, Default)]
pub struct WorkloadStats {
    pub subscribed_at: OnceLock<Instant>,
    pub first_accept_at: OnceLock<Instant>,
    pub first_running_at: OnceLock<Instant>,
    /// When the TASK_RUNNING acknowledgement of the last of `tasks` returned.
    pub all_running_acked_at: OnceLock<Instant>,
    pub offers: AtomicU64,
    pub declined: AtomicU64,
    pub accepts: AtomicU64,
    pub launched: AtomicU64,
    pub running: AtomicU64,
    pub running_acked: AtomicU64,
    pub finished: AtomicU64,
    /// Terminal states other than FINISHED (lost, failed, error, killed, dropped...).
    pub other_terminal: AtomicU64,
    pub acknowledged: AtomicU64,
    pub call_errors: AtomicU64,
    /// Subscriptions lost (the library subscribes again as a failover).
    pub disconnections: AtomicU64,
    /// Set once TEARDOWN is on its way: calls failing after it are expected.
    pub tearing_down: AtomicBool,
    /// Seconds from a task's ACCEPT being sent to its TASK_RUNNING arriving.
    pub launch_latencies: Mutex<Vec<f64>>,
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// A running benchmark framework.
pub struct Workload {
    pub stats: Arc<WorkloadStats>,
    /// When [`Workload::start`] was called: the SUBSCRIBE goes out right after.
    pub started_at: Instant,
    scheduler: Scheduler,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Workload {
    /// Subscribes and starts launching (needs a tokio runtime).
    pub fn start(config: WorkloadConfig) -> Workload {
        let started_at = Instant::now();
        let mut info = v1::FrameworkInfo {
            user: "root".to_string(),
            name: config.name.clone(),
            // A framework that falls behind its event stream is disconnected by the master;
            // with a failover timeout it comes back instead of losing its tasks.
            failover_timeout: Some(FAILOVER_TIMEOUT_SECS),
            ..Default::default()
        };
        #[allow(deprecated)] // the single-role field is what a non-MULTI_ROLE framework sets
        {
            info.role = Some(config.role.clone());
        }
        let mut scheduler_config = SchedulerConfig::new(info);
        scheduler_config.content_type = config.content_type;
        let detector = Arc::new(StaticDetector::new(config.master.clone()));
        let (scheduler, events) = Scheduler::start(detector, scheduler_config);
        let stats = Arc::new(WorkloadStats::default());
        let (stop, stop_rx) = watch::channel(false);
        let driver = Driver::new(config, scheduler.clone(), stats.clone());
        let task = tokio::spawn(driver.run(events, stop_rx));
        Workload {
            stats,
            started_at,
            scheduler,
            stop,
            task,
        }
    }

    pub fn stats(&self) -> &WorkloadStats {
        &self.stats
    }

    /// Waits until the last task's TASK_RUNNING was acknowledged.
    pub async fn wait_all_running(&self, timeout: Duration) -> Result<Instant, String> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.stats.all_running_acked_at.get() {
                return Ok(*at);
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "{} of the tasks acknowledged RUNNING within {timeout:?} ({} launched, {} lost or failed, {} call errors)",
                    get(&self.stats.running_acked),
                    get(&self.stats.launched),
                    get(&self.stats.other_terminal),
                    get(&self.stats.call_errors),
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until the framework is subscribed.
    pub async fn wait_subscribed(&self, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        while self.stats.subscribed_at.get().is_none() {
            if started.elapsed() > timeout {
                return Err(format!("not subscribed within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Stops launching and removes the framework (and its tasks) from the master.
    pub async fn teardown(self) {
        self.stats.tearing_down.store(true, Ordering::Relaxed);
        // TEARDOWN first: stopping the driver drops the event stream, and a framework
        // whose stream closes is removed by the master before TEARDOWN could reach it.
        if let Err(e) = self.scheduler.teardown().await {
            warn!(error = %e, "TEARDOWN failed");
        }
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

struct Driver {
    config: WorkloadConfig,
    stats: Arc<WorkloadStats>,
    task_resources: Resources,
    task_resources_proto: Vec<v1::Resource>,
    /// Per scalar of one task: (name, amount).
    task_scalars: Vec<(String, f64)>,
    next_task: u64,
    stream: u64,
    /// ACCEPT time of each task not yet seen RUNNING.
    accepted_at: HashMap<u64, Instant>,
    calls: mpsc::UnboundedSender<Job>,
    /// Offers waiting for room in the launch window, with their resources.
    held: VecDeque<(Offer, Resources)>,
    /// Signalled when a task leaves the launch window.
    freed: Arc<Notify>,
}

/// A call waiting for one of the workload's call workers.
struct Job {
    call: Box<Call>,
    /// The first acknowledgement of a task's TASK_RUNNING: counts towards the total.
    first_running_ack: bool,
}

impl Driver {
    fn new(config: WorkloadConfig, scheduler: Scheduler, stats: Arc<WorkloadStats>) -> Self {
        let freed = Arc::new(Notify::new());
        let task_resources = Resources::parse(&config.task_resources)
            .unwrap_or_else(|e| panic!("invalid task resources '{}': {e}", config.task_resources));
        let task_scalars = task_resources
            .iter()
            .filter_map(|r| match &r.value {
                Value::Scalar(s) if s.value() > 0.0 => Some((r.name.to_string(), s.value())),
                _ => None,
            })
            .collect();
        let task_resources_proto =
            mesos_common::wire::resources_to_proto(&task_resources, Some(&config.role));
        Driver {
            stream: seed::stream_of(&config.name),
            held: VecDeque::new(),
            freed: freed.clone(),
            calls: start_call_workers(
                freed,
                config.concurrency,
                scheduler.clone(),
                stats.clone(),
                config.tasks,
            ),
            config,
            stats,
            task_resources,
            task_resources_proto,
            task_scalars,
            next_task: 0,
            accepted_at: HashMap::new(),
        }
    }

    async fn run(mut self, mut events: mesos_scheduler::Events, mut stop: watch::Receiver<bool>) {
        let freed = self.freed.clone();
        loop {
            let event = tokio::select! {
                e = events.next() => e,
                _ = freed.notified(), if !self.held.is_empty() => {
                    self.launch_held();
                    continue;
                }
                _ = stop.changed() => return,
            };
            match event {
                None => return,
                Some(SchedulerEvent::Connected { .. }) => {
                    let _ = self.stats.subscribed_at.set(Instant::now());
                }
                Some(SchedulerEvent::Disconnected { reason }) => {
                    // The master rescinds the offers of a disconnected framework.
                    self.held.clear();
                    self.stats.disconnections.fetch_add(1, Ordering::Relaxed);
                    if !*stop.borrow() {
                        warn!(framework = %self.config.name, %reason, "benchmark framework disconnected");
                    }
                }
                Some(SchedulerEvent::Event(event)) => match event.r#type() {
                    event::Type::Offers => {
                        let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                        self.offers(offers);
                    }
                    event::Type::Update => {
                        if let Some(update) = event.update {
                            self.update(update.status);
                        }
                    }
                    event::Type::Rescind => {
                        if let Some(rescind) = event.rescind {
                            self.held.retain(|(o, _)| o.id != rescind.offer_id);
                        }
                    }
                    _ => {}
                },
            }
        }
    }

    fn remaining(&self) -> u64 {
        match self.config.tasks {
            Some(total) => total.saturating_sub(self.next_task),
            None => u64::MAX,
        }
    }

    /// How many tasks fit in `offered`.
    fn fit(&self, offered: &Resources) -> u64 {
        let mut fit = self.config.max_tasks_per_offer as u64;
        for (name, amount) in &self.task_scalars {
            let have = offered.scalar(name).unwrap_or(0.0);
            fit = fit.min((have / amount + 1e-9).floor() as u64);
        }
        if self.task_scalars.is_empty() && !offered.contains(&self.task_resources) {
            fit = 0;
        }
        fit.min(self.remaining())
    }

    fn task_info(&self, n: u64, agent_id: &v1::AgentId) -> v1::TaskInfo {
        let command = match self.config.duration {
            TaskDuration::Forever => "sleep infinity".to_string(),
            TaskDuration::Uniform { min, max } => {
                let u = seed::unit(self.config.seed, self.stream, n);
                let secs = min.as_secs_f64() + u * (max.as_secs_f64() - min.as_secs_f64());
                format!("sleep {secs:.3}")
            }
        };
        let name = format!("{}-{n}", self.config.name);
        v1::TaskInfo {
            task_id: v1::TaskId {
                value: name.clone(),
            },
            name,
            agent_id: agent_id.clone(),
            resources: self.task_resources_proto.clone(),
            command: Some(v1::CommandInfo {
                shell: Some(true),
                value: Some(command),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn offers(&mut self, offers: Vec<Offer>) {
        self.stats
            .offers
            .fetch_add(offers.len() as u64, Ordering::Relaxed);
        let mut declined = Vec::new();
        for offer in offers {
            let offered =
                mesos_common::wire::resources_from_proto(&offer.resources).unwrap_or_default();
            if self.fit(&offered) == 0 {
                declined.push(offer.id);
            } else {
                self.held.push_back((offer, offered));
            }
        }
        self.decline(declined);
        self.launch_held();
    }

    /// Tasks launched and neither acknowledged RUNNING nor ended otherwise.
    fn in_flight(&self) -> u64 {
        let stats = &self.stats;
        let done = stats.running_acked.load(Ordering::Relaxed)
            + stats.other_terminal.load(Ordering::Relaxed);
        stats.launched.load(Ordering::Relaxed).saturating_sub(done)
    }

    /// Launches on held offers as far as the window allows; declines those no longer needed.
    fn launch_held(&mut self) {
        let filters = Some(calls::refuse_for(self.config.refuse_seconds));
        let window = self.config.max_in_flight.unwrap_or(u64::MAX);
        let mut declined = Vec::new();
        while let Some((_, offered)) = self.held.front() {
            let count = self.fit(offered);
            if count > 0 && self.in_flight().saturating_add(count) > window {
                break;
            }
            let (offer, _) = self.held.pop_front().expect("peeked");
            if count == 0 {
                declined.push(offer.id);
                continue;
            }
            let first = self.next_task;
            self.next_task += count;
            let tasks: Vec<v1::TaskInfo> = (first..first + count)
                .map(|n| self.task_info(n, &offer.agent_id))
                .collect();
            let now = Instant::now();
            let _ = self.stats.first_accept_at.set(now);
            self.accepted_at
                .extend((first..first + count).map(|n| (n, now)));
            self.stats.accepts.fetch_add(1, Ordering::Relaxed);
            self.stats.launched.fetch_add(count, Ordering::Relaxed);
            self.spawn_call(calls::launch(offer.id, tasks, filters));
        }
        self.decline(declined);
    }

    fn decline(&self, offers: Vec<v1::OfferId>) {
        if offers.is_empty() {
            return;
        }
        self.stats
            .declined
            .fetch_add(offers.len() as u64, Ordering::Relaxed);
        let filters = Some(calls::refuse_for(self.config.refuse_seconds));
        self.spawn_call(calls::decline(offers, filters));
    }

    fn spawn_call(&self, call: Call) {
        let _ = self.calls.send(Job {
            call: Box::new(call),
            first_running_ack: false,
        });
    }

    fn update(&mut self, status: v1::TaskStatus) {
        let state = status.state();
        let number = status
            .task_id
            .value
            .rsplit('-')
            .next()
            .and_then(|n| n.parse::<u64>().ok());
        let mut first_running = false;
        match state {
            TaskState::TaskRunning => {
                let _ = self.stats.first_running_at.set(Instant::now());
                self.stats.running.fetch_add(1, Ordering::Relaxed);
                let accepted = number.and_then(|n| self.accepted_at.remove(&n));
                if let Some(at) = accepted {
                    first_running = true;
                    self.stats
                        .launch_latencies
                        .lock()
                        .expect("latency lock")
                        .push(at.elapsed().as_secs_f64());
                }
            }
            TaskState::TaskFinished => {
                self.stats.finished.fetch_add(1, Ordering::Relaxed);
            }
            s if s.is_terminal() => {
                self.stats.other_terminal.fetch_add(1, Ordering::Relaxed);
                self.freed.notify_one();
                if !self.stats.tearing_down.load(Ordering::Relaxed) {
                    warn!(task = %status.task_id.value, state = ?s, message = ?status.message, "task did not finish");
                }
            }
            _ => {}
        }
        let Some(ack) = calls::acknowledge_update(&status) else {
            return;
        };
        let _ = self.calls.send(Job {
            call: Box::new(ack),
            first_running_ack: first_running,
        });
    }
}

/// Starts `workers` tasks making the queued calls, each one call at a time (so at most
/// `workers` connections to the master); returns the queue.
fn start_call_workers(
    freed: Arc<Notify>,
    workers: usize,
    scheduler: Scheduler,
    stats: Arc<WorkloadStats>,
    target: Option<u64>,
) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel::<Job>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..workers.max(1) {
        let (rx, scheduler, stats) = (rx.clone(), scheduler.clone(), stats.clone());
        let freed = freed.clone();
        tokio::spawn(async move {
            loop {
                let Some(job) = rx.lock().await.recv().await else {
                    return;
                };
                let is_ack =
                    job.call.r#type() == mesos_proto::v1::scheduler::call::Type::Acknowledge;
                let mut result = scheduler.call((*job.call).clone()).await;
                // While the library subscribes again (the master dropped a stream that fell
                // behind), calls wait for it rather than being lost.
                while matches!(result, Err(SchedulerError::NotSubscribed))
                    && !stats.tearing_down.load(Ordering::Relaxed)
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    result = scheduler.call((*job.call).clone()).await;
                }
                match result {
                    Ok(()) if is_ack => {
                        stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                        if job.first_running_ack {
                            let acked = stats.running_acked.fetch_add(1, Ordering::Relaxed) + 1;
                            freed.notify_one();
                            if Some(acked) == target {
                                let _ = stats.all_running_acked_at.set(Instant::now());
                            }
                        }
                    }
                    Ok(()) => {}
                    Err(e) => {
                        if !stats.tearing_down.load(Ordering::Relaxed) {
                            stats.call_errors.fetch_add(1, Ordering::Relaxed);
                            warn!(error = %e, "call failed");
                        }
                    }
                }
            }
        });
    }
    tx
}
