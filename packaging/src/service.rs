//! The three services the packages run, and where each one's configuration lives.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Master,
    Agent,
    Marathon,
}

/// `/etc/mesos/zk`: one ZooKeeper URL for the whole host, as in Mesosphere's packages.
pub const ZK_FILE: &str = "/etc/mesos/zk";
/// The master's flag directory; the agent and Marathon read its `ip` and `port` to find a
/// master on this host when no ZooKeeper is configured.
pub const MASTER_FLAG_DIR: &str = "/etc/mesos-master";
/// Marathon's state on a single host without ZooKeeper.
pub const MARATHON_LOCAL_STORE: &str = "/var/lib/marathon/state.redb";

impl Service {
    /// `master`, `slave` (Mesosphere's word), `agent` or `marathon`.
    pub fn from_word(word: &str) -> Option<Service> {
        match word {
            "master" => Some(Service::Master),
            "slave" | "agent" => Some(Service::Agent),
            "marathon" => Some(Service::Marathon),
            _ => None,
        }
    }

    /// The program's name, as its own messages and `--help` give it.
    pub fn name(self) -> &'static str {
        match self {
            Service::Master => "mesos-master",
            Service::Agent => "mesos-agent",
            Service::Marathon => "marathon",
        }
    }

    /// Where the packages install the program.
    pub fn program(self) -> &'static str {
        match self {
            Service::Master => "/usr/sbin/mesos-master",
            Service::Agent => "/usr/sbin/mesos-agent",
            Service::Marathon => "/usr/bin/marathon",
        }
    }

    /// The directory whose files are flags: `<dir>/port` holds `--port`'s value.
    pub fn flag_dir(self) -> &'static str {
        match self {
            Service::Master => MASTER_FLAG_DIR,
            Service::Agent => "/etc/mesos-slave",
            Service::Marathon => "/etc/marathon/conf",
        }
    }

    /// Environment files, read in this order (a later file's variable wins).
    pub fn env_files(self) -> &'static [&'static str] {
        match self {
            Service::Master => &["/etc/default/mesos", "/etc/default/mesos-master"],
            Service::Agent => &["/etc/default/mesos", "/etc/default/mesos-slave"],
            Service::Marathon => &["/etc/default/marathon"],
        }
    }

    /// The prefix of the variables the program reads its flags from (`MESOS_PORT`).
    pub fn env_prefix(self) -> &'static str {
        match self {
            Service::Master | Service::Agent => "MESOS_",
            Service::Marathon => "MARATHON_",
        }
    }

    /// The short variables of Mesosphere's `/etc/default/mesos*` files and the flags they
    /// set (`ZK=...` in `/etc/default/mesos-master` gives `--zk`).
    pub fn short_variables(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Service::Master => &[
                ("ZK", "zk"),
                ("IP", "ip"),
                ("PORT", "port"),
                ("CLUSTER", "cluster"),
                ("LOGS", "log_dir"),
            ],
            Service::Agent => &[
                ("MASTER", "master"),
                ("IP", "ip"),
                ("LOGS", "log_dir"),
                ("ISOLATION", "isolation"),
            ],
            Service::Marathon => &[],
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
