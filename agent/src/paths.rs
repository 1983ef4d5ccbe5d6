//! The agent's work directory, laid out like Mesos's:
//!
//! ```text
//! <work_dir>/meta/slaves/latest -> <agentId>          checkpointed agent id
//! <work_dir>/meta/slaves/<agentId>/slave.info         AgentInfo (resources, attributes)
//!   .../frameworks/<fwId>/framework.info              FrameworkInfo
//!   .../frameworks/<fwId>/executors/<execId>/runs/<containerId>/
//!        pids/forked.pid     supervisor pid (written by the agent)
//!        pids/task.pid       task pid (written by the supervisor)
//!        exit_status         how the task ended (written by the supervisor)
//!        killed              present once the agent started killing the task
//!        tasks/<taskId>/task.info      TaskInfo
//!        tasks/<taskId>/task.updates   status update journal (JSON lines)
//!        containers/<containerId>/     a task of a task group, in a container nested in
//!                                      the default executor's: pids/, exit_status, killed,
//!                                      task_group (its group's task ids) and tasks/<taskId>/
//! <work_dir>/slaves/<agentId>/frameworks/<fwId>/executors/<execId>/runs/<containerId>/
//!        stdout, stderr      the sandbox; `runs/latest` links to the newest run
//!        containers/<containerId>/     sandbox of a task of a task group (its MESOS_SANDBOX)
//!        tasks/<taskId> -> containers/<containerId>   (made by the default executor)
//! ```
//!
//! Ids come from the network and become path components, so [`valid_id`] guards them.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether `id` can be used as a single path component.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && !id.contains('/')
        && !id.chars().any(|c| c.is_control())
}

/// Paths of one task run (command tasks: executor id = task id, one container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// Checkpoint directory of the run.
    pub meta: PathBuf,
    /// Sandbox directory of the run.
    pub sandbox: PathBuf,
}

impl RunPaths {
    pub fn forked_pid(&self) -> PathBuf {
        self.meta.join("pids").join("forked.pid")
    }

    pub fn task_pid(&self) -> PathBuf {
        self.meta.join("pids").join("task.pid")
    }

    pub fn exit_status(&self) -> PathBuf {
        self.meta.join("exit_status")
    }

    /// Why the process could not be started as its user (written by the process itself
    /// between switching user and exec; empty when the exec succeeded).
    pub fn launch_error(&self) -> PathBuf {
        self.meta.join("launch_error")
    }

    pub fn killed(&self) -> PathBuf {
        self.meta.join("killed")
    }

    pub fn task_dir(&self, task_id: &str) -> PathBuf {
        self.meta.join("tasks").join(task_id)
    }

    pub fn task_info(&self, task_id: &str) -> PathBuf {
        self.task_dir(task_id).join("task.info")
    }

    pub fn task_updates(&self, task_id: &str) -> PathBuf {
        self.task_dir(task_id).join("task.updates")
    }

    /// The run of a container nested in this one (a task of a task group under the
    /// default executor): `containers/<container id>` in both the checkpoint directory and
    /// the sandbox, as Mesos lays out child containers.
    pub fn nested(&self, container_id: &str) -> RunPaths {
        RunPaths {
            meta: self.meta.join(NESTED).join(container_id),
            sandbox: self.sandbox.join(NESTED).join(container_id),
        }
    }

    /// The task ids of the task group a nested run belongs to (JSON array).
    pub fn task_group(&self) -> PathBuf {
        self.meta.join("task_group")
    }
}

/// Directory of nested containers inside a run.
pub const NESTED: &str = "containers";

/// The layout rooted at `--work_dir`.
#[derive(Debug, Clone)]
pub struct Layout {
    work_dir: PathBuf,
}

impl Layout {
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        Layout {
            work_dir: work_dir.into(),
        }
    }

    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// Root of every sandbox; `/files` serves nothing outside it.
    pub fn sandboxes_root(&self) -> PathBuf {
        self.work_dir.join("slaves")
    }

    pub fn meta_agents(&self) -> PathBuf {
        self.work_dir.join("meta").join("slaves")
    }

    pub fn latest_agent_link(&self) -> PathBuf {
        self.meta_agents().join("latest")
    }

    pub fn agent_meta(&self, agent_id: &str) -> PathBuf {
        self.meta_agents().join(agent_id)
    }

    pub fn agent_info(&self, agent_id: &str) -> PathBuf {
        self.agent_meta(agent_id).join("slave.info")
    }

    pub fn frameworks_meta(&self, agent_id: &str) -> PathBuf {
        self.agent_meta(agent_id).join("frameworks")
    }

    pub fn framework_meta(&self, agent_id: &str, framework_id: &str) -> PathBuf {
        self.frameworks_meta(agent_id).join(framework_id)
    }

    pub fn framework_info(&self, agent_id: &str, framework_id: &str) -> PathBuf {
        self.framework_meta(agent_id, framework_id)
            .join("framework.info")
    }

    pub fn run(
        &self,
        agent_id: &str,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
    ) -> RunPaths {
        let tail = |root: PathBuf| {
            root.join("frameworks")
                .join(framework_id)
                .join("executors")
                .join(executor_id)
                .join("runs")
                .join(container_id)
        };
        RunPaths {
            meta: tail(self.agent_meta(agent_id)),
            sandbox: tail(self.sandboxes_root().join(agent_id)),
        }
    }
}

/// Writes `contents` so that readers see either the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Points the symlink `link` at `target` (relative), replacing an older link atomically.
pub fn replace_symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    let tmp = link.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// Lists the names of the subdirectories of `dir` (empty when it does not exist).
pub fn subdirectories(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_are_not_one_path_component_are_invalid() {
        for good in ["t1", "my-task.1", "a b", "5b1f-S0"] {
            assert!(valid_id(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a\nb", "a\0b"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn layout_matches_mesos() {
        let layout = Layout::new("/w");
        let run = layout.run("A", "F", "E", "C");
        assert_eq!(
            run.sandbox,
            PathBuf::from("/w/slaves/A/frameworks/F/executors/E/runs/C")
        );
        assert_eq!(
            run.meta,
            PathBuf::from("/w/meta/slaves/A/frameworks/F/executors/E/runs/C")
        );
        assert_eq!(
            run.task_updates("T"),
            PathBuf::from("/w/meta/slaves/A/frameworks/F/executors/E/runs/C/tasks/T/task.updates")
        );
        assert_eq!(
            run.nested("K").sandbox,
            PathBuf::from("/w/slaves/A/frameworks/F/executors/E/runs/C/containers/K")
        );
        assert_eq!(
            run.nested("K").task_info("T"),
            PathBuf::from(
                "/w/meta/slaves/A/frameworks/F/executors/E/runs/C/containers/K/tasks/T/task.info"
            )
        );
        assert_eq!(
            layout.latest_agent_link(),
            PathBuf::from("/w/meta/slaves/latest")
        );
    }

    #[test]
    fn atomic_writes_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/c.json");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        std::fs::create_dir(dir.path().join("x")).unwrap();
        std::fs::create_dir(dir.path().join("y")).unwrap();
        let link = dir.path().join("latest");
        replace_symlink(Path::new("x"), &link).unwrap();
        replace_symlink(Path::new("y"), &link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from("y"));
        assert_eq!(
            subdirectories(dir.path()),
            ["a", "x", "y"],
            "links are not followed"
        );
    }
}
