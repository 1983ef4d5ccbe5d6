//! Reading and writing the agent's checkpoints (see [`crate::paths`] for the layout): the
//! agent id, AgentInfo, FrameworkInfos, TaskInfos and the status update journals, and the
//! scan of all of them when an agent starts on an existing work directory.
//!
//! Protobufs are stored in Mesos's JSON mapping, so the files can be read by eye.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use mesos_proto::internal::StatusUpdate;
use mesos_proto::json::{from_json_slice, from_json_value, to_json_string, to_json_value};
use mesos_proto::v1::{AgentInfo, FrameworkInfo, TaskInfo};
use prost_reflect::ReflectMessage;
use serde_json::json;

use crate::paths::{replace_symlink, subdirectories, write_atomic, Layout, RunPaths, NESTED};
use crate::status_update::{Journal, Record, StreamKey};

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Writes a protobuf as JSON, atomically.
pub fn write_message<M: ReflectMessage>(path: &Path, message: &M) -> std::io::Result<()> {
    write_atomic(path, to_json_string(message).as_bytes())
}

/// Reads a protobuf written by [`write_message`].
pub fn read_message<M: ReflectMessage + Default>(path: &Path) -> std::io::Result<M> {
    let bytes = std::fs::read(path)?;
    from_json_slice(&bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Records the id the master gave this agent, with the AgentInfo it registered with.
pub fn write_agent(layout: &Layout, info: &AgentInfo) -> std::io::Result<()> {
    let id = info
        .id
        .as_ref()
        .map(|i| i.value.as_str())
        .unwrap_or_default();
    write_message(&layout.agent_info(id), info)?;
    replace_symlink(Path::new(id), &layout.latest_agent_link())
}

/// The checkpointed agent id and AgentInfo, if a previous run registered.
pub fn read_agent(layout: &Layout) -> Option<(String, AgentInfo)> {
    let target = std::fs::read_link(layout.latest_agent_link()).ok()?;
    let id = target.file_name()?.to_str()?.to_string();
    let info = read_message(&layout.agent_info(&id)).ok()?;
    Some((id, info))
}

fn encode_record(record: &Record) -> String {
    let value = match record {
        Record::Update(update) => json!({ "update": to_json_value(update) }),
        Record::Ack(uuid) => json!({ "ack": b64().encode(uuid) }),
    };
    value.to_string()
}

fn decode_record(line: &str) -> Option<Record> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if let Some(update) = value.get("update") {
        return from_json_value::<StatusUpdate>(update)
            .ok()
            .map(Record::Update);
    }
    let ack = value.get("ack")?.as_str()?;
    b64().decode(ack).ok().map(Record::Ack)
}

/// Reads a journal. A torn last line (the agent died while writing it) is skipped.
pub fn read_journal(path: &Path) -> Vec<Record> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| {
            let record = decode_record(&line);
            if record.is_none() {
                tracing::warn!(journal = %path.display(), "skipping unreadable status update record");
            }
            record
        })
        .collect()
}

/// The status update journal of each task in its run's checkpoint directory, one JSON
/// record per line, synced before the manager acts on it.
#[derive(Debug, Default)]
pub struct FileJournal {
    paths: HashMap<StreamKey, PathBuf>,
}

impl FileJournal {
    /// Tells the journal where a task's records go (before its first update).
    pub fn register(&mut self, key: StreamKey, path: PathBuf) {
        self.paths.insert(key, path);
    }

    pub fn forget(&mut self, key: &StreamKey) {
        self.paths.remove(key);
    }
}

impl Journal for FileJournal {
    fn append(&mut self, key: &StreamKey, record: &Record) -> std::io::Result<()> {
        let path = self.paths.get(key).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no journal for task {}", key.task_id),
            )
        })?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let mut line = encode_record(record);
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }
}

/// One task run found in the checkpoints.
#[derive(Debug)]
pub struct RecoveredRun {
    pub framework_id: String,
    pub container_id: String,
    pub task: TaskInfo,
    pub paths: RunPaths,
    pub records: Vec<Record>,
    /// Set for a task of a task group: the executor's run its container is nested in.
    pub parent: Option<ParentRun>,
}

/// The default executor's run that a task group's task container is nested in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRun {
    pub container_id: String,
    pub paths: RunPaths,
    /// The task ids of the task's group.
    pub group: Vec<String>,
}

/// Everything checkpointed under an agent id.
#[derive(Debug, Default)]
pub struct RecoveredState {
    pub frameworks: Vec<FrameworkInfo>,
    pub runs: Vec<RecoveredRun>,
}

/// Scans `meta/slaves/<agent_id>` for frameworks and task runs.
pub fn recover_runs(layout: &Layout, agent_id: &str) -> RecoveredState {
    let mut state = RecoveredState::default();
    for framework_id in subdirectories(&layout.frameworks_meta(agent_id)) {
        match read_message::<FrameworkInfo>(&layout.framework_info(agent_id, &framework_id)) {
            Ok(info) => state.frameworks.push(info),
            Err(e) => {
                tracing::warn!(framework_id, error = %e, "skipping framework without a readable framework.info");
                continue;
            }
        }
        let executors = layout
            .framework_meta(agent_id, &framework_id)
            .join("executors");
        for executor_id in subdirectories(&executors) {
            let runs = executors.join(&executor_id).join("runs");
            for container_id in subdirectories(&runs) {
                let paths = layout.run(agent_id, &framework_id, &executor_id, &container_id);
                let mut found = vec![(container_id.clone(), paths.clone(), None)];
                for nested in subdirectories(&paths.meta.join(NESTED)) {
                    let child = paths.nested(&nested);
                    let group = std::fs::read(child.task_group())
                        .ok()
                        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                        .unwrap_or_default();
                    let parent = ParentRun {
                        container_id: container_id.clone(),
                        paths: paths.clone(),
                        group,
                    };
                    found.push((nested, child, Some(parent)));
                }
                for (container_id, paths, parent) in found {
                    for task_id in subdirectories(&paths.meta.join("tasks")) {
                        match read_message::<TaskInfo>(&paths.task_info(&task_id)) {
                            Ok(task) => state.runs.push(RecoveredRun {
                                framework_id: framework_id.clone(),
                                container_id: container_id.clone(),
                                records: read_journal(&paths.task_updates(&task_id)),
                                task,
                                paths: paths.clone(),
                                parent: parent.clone(),
                            }),
                            Err(e) => tracing::warn!(
                                framework_id, task_id, error = %e,
                                "skipping task without a readable task.info"
                            ),
                        }
                    }
                }
            }
        }
    }
    // Oldest first, so that a task id reused in a later run ends up with the later run.
    state
        .runs
        .sort_by_key(|run| modified(&run.paths.task_info(&run.task.task_id.value)));
    state
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::{AgentId, FrameworkId, TaskId, TaskStatus};

    fn update(uuid: u8) -> StatusUpdate {
        StatusUpdate {
            framework_id: FrameworkId { value: "f".into() },
            status: TaskStatus {
                task_id: TaskId { value: "t".into() },
                state: mesos_proto::v1::TaskState::TaskRunning as i32,
                uuid: Some(vec![uuid; 16]),
                ..Default::default()
            },
            latest_state: None,
        }
    }

    #[test]
    fn journal_round_trips_and_tolerates_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks/t/task.updates");
        let key = StreamKey::new("f", "t");
        let mut journal = FileJournal::default();
        assert!(journal.append(&key, &Record::Ack(vec![1])).is_err());
        journal.register(key.clone(), path.clone());
        journal.append(&key, &Record::Update(update(1))).unwrap();
        journal.append(&key, &Record::Ack(vec![1; 16])).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"{\"upda").unwrap();
        let records = read_journal(&path);
        assert_eq!(
            records,
            vec![Record::Update(update(1)), Record::Ack(vec![1; 16])]
        );
    }

    #[test]
    fn agent_and_runs_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        assert!(read_agent(&layout).is_none());
        let info = AgentInfo {
            hostname: "h".into(),
            id: Some(AgentId {
                value: "A-S0".into(),
            }),
            ..Default::default()
        };
        write_agent(&layout, &info).unwrap();
        assert_eq!(read_agent(&layout), Some(("A-S0".to_string(), info)));

        let framework = FrameworkInfo {
            user: "u".into(),
            name: "fw".into(),
            id: Some(FrameworkId { value: "f".into() }),
            ..Default::default()
        };
        write_message(&layout.framework_info("A-S0", "f"), &framework).unwrap();
        let run = layout.run("A-S0", "f", "t", "c1");
        let task = TaskInfo {
            name: "t".into(),
            task_id: TaskId { value: "t".into() },
            ..Default::default()
        };
        write_message(&run.task_info("t"), &task).unwrap();
        let mut journal = FileJournal::default();
        journal.register(StreamKey::new("f", "t"), run.task_updates("t"));
        journal
            .append(&StreamKey::new("f", "t"), &Record::Update(update(2)))
            .unwrap();
        // The `latest` link beside the run is not a run of its own.
        replace_symlink(Path::new("c1"), &run.meta.parent().unwrap().join("latest")).unwrap();

        let state = recover_runs(&layout, "A-S0");
        assert_eq!(state.frameworks, vec![framework]);
        assert_eq!(state.runs.len(), 1);
        assert_eq!(state.runs[0].container_id, "c1");
        assert_eq!(state.runs[0].task, task);
        assert_eq!(state.runs[0].records, vec![Record::Update(update(2))]);
        assert_eq!(state.runs[0].parent, None);

        // A task of a task group, in a container nested in its executor's run.
        let executor = layout.run("A-S0", "f", "e", "c2");
        let child = executor.nested("k1");
        let grouped = TaskInfo {
            name: "g".into(),
            task_id: TaskId { value: "g1".into() },
            ..Default::default()
        };
        write_message(&child.task_info("g1"), &grouped).unwrap();
        write_atomic(&child.task_group(), br#"["g1","g2"]"#).unwrap();
        let state = recover_runs(&layout, "A-S0");
        let run = state
            .runs
            .iter()
            .find(|r| r.task.task_id.value == "g1")
            .unwrap();
        assert_eq!(run.container_id, "k1");
        assert_eq!(run.paths, child);
        let parent = run.parent.as_ref().unwrap();
        assert_eq!(parent.container_id, "c2");
        assert_eq!(parent.paths, executor);
        assert_eq!(parent.group, ["g1", "g2"]);
    }
}
