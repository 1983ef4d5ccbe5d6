//! What a Docker task may ask of the host, decided by the agent's operator: privileged
//! containers only with `--docker_allow_privileged`, absolute host paths only under
//! `--allowed_host_path_prefixes`. A task that asks for more is refused before its container
//! exists (TASK_ERROR with the reason), so an open scheduler API cannot mount the host's `/`
//! into a container, the best-known way from Marathon to root on every agent.

use std::path::{Component, Path, PathBuf};

use mesos_proto::v1::ContainerInfo;

use super::SpecError;

/// The agent's limits on Docker tasks. The default allows neither privileged containers nor
/// absolute host paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guards {
    pub allow_privileged: bool,
    /// Absolute, without `..`; a host path must be one of them or lie below one.
    pub host_path_prefixes: Vec<PathBuf>,
}

impl Guards {
    /// These guards, with `dir` (a directory the agent made, such as a sandbox) allowed too.
    pub fn also_under(&self, dir: &Path) -> Guards {
        let mut guards = self.clone();
        guards.host_path_prefixes.push(dir.to_path_buf());
        guards
    }

    /// Refuses what the task's container asks beyond the limits.
    pub fn check(&self, container: &ContainerInfo) -> Result<(), SpecError> {
        let privileged = container.docker.as_ref().is_some_and(|d| d.privileged());
        if privileged && !self.allow_privileged {
            return Err(SpecError::Forbidden(
                "privileged containers are not allowed on this agent (--docker_allow_privileged)"
                    .into(),
            ));
        }
        for volume in &container.volumes {
            let Some(host_path) = volume.host_path.as_deref().filter(|p| !p.is_empty()) else {
                continue;
            };
            let path = Path::new(host_path);
            let bad = |reason: String| SpecError::Volume {
                path: volume.container_path.clone(),
                reason,
            };
            if has_parent(path) {
                return Err(bad(format!(
                    "host path '{host_path}' must not contain '..'"
                )));
            }
            // A relative host path lies in the sandbox.
            if path.is_absolute() && !self.host_path_prefixes.iter().any(|p| path.starts_with(p)) {
                let allowed = if self.host_path_prefixes.is_empty() {
                    "none are allowed".to_string()
                } else {
                    let list: Vec<String> = self
                        .host_path_prefixes
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    format!("allowed: {}", list.join(", "))
                };
                return Err(bad(format!(
                    "host path '{host_path}' is outside the agent's --allowed_host_path_prefixes ({allowed})"
                )));
            }
        }
        Ok(())
    }
}

fn has_parent(path: &Path) -> bool {
    path.components().any(|c| c == Component::ParentDir)
}

#[cfg(test)]
mod tests {
    use mesos_proto::v1::container_info::DockerInfo;
    use mesos_proto::v1::{volume, Volume};

    use super::*;

    fn container(privileged: bool, host_paths: &[&str]) -> ContainerInfo {
        ContainerInfo {
            docker: Some(DockerInfo {
                image: "busybox".into(),
                privileged: Some(privileged),
                ..Default::default()
            }),
            volumes: host_paths
                .iter()
                .map(|p| Volume {
                    container_path: "/mnt".into(),
                    host_path: Some(p.to_string()),
                    mode: volume::Mode::Rw as i32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_refuse_privileged_and_absolute_host_paths() {
        let g = Guards::default();
        assert!(matches!(
            g.check(&container(true, &[])),
            Err(SpecError::Forbidden(_))
        ));
        let e = g.check(&container(false, &["/"])).unwrap_err().to_string();
        assert!(e.contains("none are allowed"), "{e}");
        assert_eq!(g.check(&container(false, &["data", ""])), Ok(()));
        assert!(g.check(&container(false, &["../../etc"])).is_err());
    }

    #[test]
    fn prefixes_allow_their_subtrees_only() {
        let g = Guards {
            allow_privileged: true,
            host_path_prefixes: vec!["/data".into(), "/srv/shared".into()],
        };
        assert_eq!(
            g.check(&container(true, &["/data", "/data/x", "/srv/shared/y"])),
            Ok(())
        );
        for bad in ["/", "/etc", "/database", "/srv", "/data/../etc"] {
            let e = g.check(&container(false, &[bad])).unwrap_err().to_string();
            assert!(e.contains(bad) || e.contains(".."), "{bad}: {e}");
        }
    }
}
