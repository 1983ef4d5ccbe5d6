//! Which user a task's processes run as (`--switch_user`), decided as Mesos's agent does:
//! the command's own user (`CommandInfo.user`), else the framework's
//! (`FrameworkInfo.user`). The sandbox is handed to that user, and the supervisor starts
//! the process as that user (uid, primary gid and the user's groups). An agent that does
//! not run as root cannot switch: its tasks run as the agent's user.
//!
//! The decision is pure ([`task_user`], [`resolve`] over a [`UserDb`]); [`SystemUsers`]
//! reads the system's user database and [`chown_tree`] changes owners on disk.

use std::path::Path;

/// A user a task runs as, as the system knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Why a task cannot run as its user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// Mesos's launcher's words (`mesos-containerizer launch`), which it writes to the
    /// sandbox's stderr before the executor fails.
    #[error("Failed to get the uid of user '{0}': not found")]
    NotFound(String),
}

/// Where users are looked up.
pub trait UserDb {
    /// The uid and primary gid of `name`.
    fn lookup(&self, name: &str) -> Option<(u32, u32)>;
}

/// The system's user database (`/etc/passwd`, NSS).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemUsers;

impl UserDb for SystemUsers {
    fn lookup(&self, name: &str) -> Option<(u32, u32)> {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
    }
}

/// Whether this agent switches users: `--switch_user` and running as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSwitch {
    pub enabled: bool,
}

impl UserSwitch {
    /// `--switch_user`, effective only when the agent's effective uid is root.
    pub fn new(switch_user: bool, agent_uid: u32) -> UserSwitch {
        UserSwitch {
            enabled: switch_user && agent_uid == 0,
        }
    }

    /// The switch of this process.
    pub fn of_this_process(switch_user: bool) -> UserSwitch {
        let uid = nix::unistd::geteuid().as_raw();
        if switch_user && uid != 0 {
            tracing::warn!(
                uid,
                "the agent does not run as root: --switch_user has no effect, tasks run as the agent's user"
            );
        }
        UserSwitch::new(switch_user, uid)
    }

    /// The user a command (a task's, an executor's) runs as; None: as the agent.
    pub fn user_of<'a>(
        &self,
        command_user: Option<&'a str>,
        framework_user: &'a str,
    ) -> Option<&'a str> {
        task_user(self.enabled, command_user, framework_user)
    }
}

/// Mesos's choice (`Framework::addExecutor`): with switching on, the command's user if it
/// names one, else the framework's; with switching off, none (the agent's own user).
pub fn task_user<'a>(
    switch: bool,
    command_user: Option<&'a str>,
    framework_user: &'a str,
) -> Option<&'a str> {
    switch.then(|| command_user.unwrap_or(framework_user))
}

/// The system's record of `name`.
pub fn resolve(name: &str, db: &dyn UserDb) -> Result<RunAs, UserError> {
    let (uid, gid) = db
        .lookup(name)
        .ok_or_else(|| UserError::NotFound(name.to_string()))?;
    Ok(RunAs {
        name: name.to_string(),
        uid,
        gid,
    })
}

/// Whether `name` is the user this process runs as: no switch needed (Mesos's launcher
/// skips it too).
pub fn is_this_process(name: &str) -> bool {
    SystemUsers
        .lookup(name)
        .is_some_and(|(uid, _)| uid == nix::unistd::geteuid().as_raw())
}

/// The user a process beside a task (an exec session, a health check) switches to: the
/// task's user, unless that is this process's own or unknown here.
pub fn switch_to(name: Option<&str>) -> Option<RunAs> {
    name.filter(|name| !is_this_process(name))
        .and_then(|name| resolve(name, &SystemUsers).ok())
}

/// Gives `path` and everything below it to `user` (links themselves, never what they
/// point to), as Mesos chowns an executor's directory to the user it runs as.
pub fn chown_tree(path: &Path, user: &RunAs) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

/// Hands a new sandbox to the user its processes run as. A user unknown here is only
/// logged, as Mesos does (the launch itself then fails, or, for a Docker task, the
/// container runs as its image's user anyway).
pub fn hand_over(sandbox: &Path, user: Option<&str>) {
    let Some(name) = user else { return };
    let result = resolve(name, &SystemUsers)
        .map_err(|e| e.to_string())
        .and_then(|run_as| chown_tree(sandbox, &run_as).map_err(|e| e.to_string()));
    if let Err(error) = result {
        tracing::warn!(
            sandbox = %sandbox.display(),
            user = name,
            error,
            "failed to chown the sandbox; see --switch_user"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct Users(BTreeMap<&'static str, (u32, u32)>);

    impl UserDb for Users {
        fn lookup(&self, name: &str) -> Option<(u32, u32)> {
            self.0.get(name).copied()
        }
    }

    #[test]
    fn the_command_user_wins_over_the_framework_user() {
        // (switch, command user, framework user, chosen)
        let cases = [
            (true, Some("nobody"), "alice", Some("nobody")),
            (true, None, "alice", Some("alice")),
            (false, Some("nobody"), "alice", None),
            (false, None, "alice", None),
            // An empty framework user is still a user name (it will not be found).
            (true, None, "", Some("")),
        ];
        for (switch, command, framework, want) in cases {
            assert_eq!(
                task_user(switch, command, framework),
                want,
                "{switch} {command:?} {framework}"
            );
        }
    }

    #[test]
    fn only_a_root_agent_switches() {
        assert!(UserSwitch::new(true, 0).enabled);
        assert!(!UserSwitch::new(true, 1000).enabled);
        assert!(!UserSwitch::new(false, 0).enabled);
        assert_eq!(
            UserSwitch::new(true, 1000).user_of(Some("nobody"), "alice"),
            None
        );
        assert_eq!(
            UserSwitch::new(true, 0).user_of(None, "alice"),
            Some("alice")
        );
    }

    #[test]
    fn unknown_users_are_errors_with_mesos_words() {
        let db = Users([("nobody", (65534, 65534))].into_iter().collect());
        assert_eq!(
            resolve("nobody", &db),
            Ok(RunAs {
                name: "nobody".into(),
                uid: 65534,
                gid: 65534
            })
        );
        let error = resolve("no-such-user", &db).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Failed to get the uid of user 'no-such-user': not found"
        );
    }

    #[test]
    fn the_system_database_knows_root() {
        assert_eq!(SystemUsers.lookup("root"), Some((0, 0)));
        assert_eq!(SystemUsers.lookup("no-such-user-here"), None);
    }
}
