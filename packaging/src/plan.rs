//! The rules: from the configuration files and the command line to the program's flags and
//! environment, each flag remembering where it came from so that an error can name the file.
//!
//! Sources, weakest first (a stronger source's value for a flag replaces a weaker one's):
//! 1. single-host defaults: without `/etc/mesos/zk` the agent and Marathon find the master at
//!    `<ip>:<port>` of `/etc/mesos-master/{ip,port}` (127.0.0.1:5050), and an otherwise
//!    unconfigured Marathon keeps its state in a local file (no ZooKeeper needed);
//! 2. `/etc/mesos/zk`: `--zk` for the master, `--master` for the agent, `--master` and
//!    `--zk=zk://<same servers>/marathon` for Marathon (as Mesosphere's marathon package did);
//! 3. the environment: `/etc/default/*` files (which replace inherited variables) with
//!    `MESOS_*` / `MARATHON_*` variables, and Mesosphere's short ones (`ZK`, `MASTER`, `IP`,
//!    `PORT`, `CLUSTER`, `LOGS`, `ISOLATION`);
//! 4. files in the flag directory: `<dir>/<flag>` holds the value, `?<flag>` is a bare
//!    boolean, `no-<flag>` / `?no-<flag>` its negation; for the agent, the files of
//!    `attributes/` and `resources/` are joined into `--attributes` / `--resources`;
//! 5. the wrapper's own command line.
//!
//! Files package managers and editors leave behind (`.rpmsave`, `.rpmnew`, `.dpkg-old`,
//! `name~`, hidden files) are skipped; any other file whose name is not a flag name is an
//! error, as is a flag the program does not know (checked later against its parser).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use mesos_common::zk::ZkUrl;

use crate::envfile::{self, Value};
use crate::files::{ConfigFiles, EntryKind};
use crate::service::{Service, MARATHON_LOCAL_STORE, MASTER_FLAG_DIR, ZK_FILE};

/// Where a flag or variable came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A flag file, `/etc/mesos/zk`, or a directory of attributes or resources.
    File(PathBuf),
    /// A variable set in an environment file.
    Variable {
        file: PathBuf,
        name: String,
    },
    CommandLine,
    /// A single-host default the wrapper chose.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Variable { file, name } => write!(f, "{}: {name}", file.display()),
            Origin::CommandLine => f.write_str("command line"),
            Origin::Default => f.write_str("single-host default"),
        }
    }
}

/// A configuration problem: where it is and what is wrong. Shown as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    pub origin: Origin,
    pub message: String,
}

fn error(origin: Origin, message: impl Into<String>) -> ConfigError {
    ConfigError {
        origin,
        message: message.into(),
    }
}

/// One flag for the program: `--name=value`, or `--name` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
    pub origin: Origin,
}

impl Flag {
    pub fn arg(&self) -> String {
        match &self.value {
            Some(value) => format!("--{}={value}", self.name),
            None => format!("--{}", self.name),
        }
    }
}

/// What to run: the program, its flags, and the variables to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub service: Service,
    pub flags: Vec<Flag>,
    /// Variables of the environment files, in file and line order.
    pub env: Vec<(String, String, Origin)>,
}

impl Plan {
    pub fn args(&self) -> Vec<String> {
        self.flags.iter().map(Flag::arg).collect()
    }

    /// Where `--<flag>` came from: a flag source, or the variable the program reads it from.
    pub fn origin_of(&self, flag: &str) -> Option<&Origin> {
        if let Some(f) = self.flags.iter().find(|f| f.name == flag) {
            return Some(&f.origin);
        }
        let variable = variable_of(self.service, flag);
        self.env
            .iter()
            .rev()
            .find(|(name, _, _)| *name == variable)
            .map(|(_, _, origin)| origin)
    }

    fn set(&mut self, name: &str, value: Option<String>, origin: Origin) {
        self.flags.retain(|f| f.name != name);
        self.flags.push(Flag {
            name: name.to_string(),
            value,
            origin,
        });
    }
}

/// `MESOS_WORK_DIR` for `work_dir`.
fn variable_of(service: Service, flag: &str) -> String {
    format!("{}{}", service.env_prefix(), flag.to_ascii_uppercase())
}

/// Works out what to run. `inherited` is the wrapper's own environment.
pub fn plan(
    service: Service,
    files: &dyn ConfigFiles,
    inherited: &BTreeMap<String, String>,
    command_line: &[String],
) -> Result<Plan, ConfigError> {
    let mut plan = Plan {
        service,
        flags: Vec::new(),
        env: environment_files(service, files)?,
    };
    let mut environment = inherited.clone();
    for (name, value, _) in &plan.env {
        environment.insert(name.clone(), value.clone());
    }
    for (variable, flag) in service.short_variables() {
        let set = plan.env.iter().rev().find(|(name, _, _)| name == variable);
        if let Some((_, value, origin)) = set.filter(|(_, value, _)| !value.is_empty()) {
            let (value, origin) = (value.clone(), origin.clone());
            plan.set(flag, Some(value), origin);
        }
    }
    flag_files(&mut plan, files)?;
    if service == Service::Agent {
        for (dir, flag) in [("attributes", "attributes"), ("resources", "resources")] {
            joined_directory(&mut plan, files, dir, flag)?;
        }
    }
    for (name, value) in parse_command_line(command_line)? {
        plan.set(&name, value, Origin::CommandLine);
    }
    single_host_and_zk(&mut plan, files, &environment)?;
    Ok(plan)
}

fn environment_files(
    service: Service,
    files: &dyn ConfigFiles,
) -> Result<Vec<(String, String, Origin)>, ConfigError> {
    let mut env = Vec::new();
    for file in service.env_files() {
        let path = Path::new(file);
        let origin = || Origin::File(path.to_path_buf());
        let Some(text) = files
            .read(path)
            .map_err(|e| error(origin(), format!("cannot read: {e}")))?
        else {
            continue;
        };
        let assignments = envfile::parse(&text).map_err(|e| error(origin(), e.to_string()))?;
        for assignment in assignments {
            let origin = Origin::Variable {
                file: path.to_path_buf(),
                name: assignment.name.clone(),
            };
            let value = match assignment.value {
                Value::Text(text) => text,
                Value::ContentsOf(source) => match files.read(&source) {
                    Ok(Some(text)) => trim_newlines(&text).to_string(),
                    Ok(None) => {
                        return Err(error(
                            origin,
                            format!("{} does not exist", source.display()),
                        ))
                    }
                    Err(e) => {
                        return Err(error(
                            origin,
                            format!("cannot read {}: {e}", source.display()),
                        ))
                    }
                },
            };
            env.push((assignment.name, value, origin));
        }
    }
    Ok(env)
}

/// Leftovers of package managers and editors, never flags.
fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".rpmsave", ".rpmnew", ".rpmorig"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || name.contains(".dpkg-")
}

fn is_flag_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with('-')
}

/// `$(cat file)` drops trailing newlines; so does the wrapper.
fn trim_newlines(text: &str) -> &str {
    text.trim_end_matches(['\n', '\r'])
}

fn read_file(files: &dyn ConfigFiles, path: &Path, gives: &str) -> Result<String, ConfigError> {
    match files.read(path) {
        Ok(Some(text)) => Ok(text),
        // Removed between listing and reading: as if it had never been there.
        Ok(None) => Ok(String::new()),
        Err(e) => Err(error(
            Origin::File(path.to_path_buf()),
            format!("cannot read ({e}); it gives --{gives}"),
        )),
    }
}

fn flag_files(plan: &mut Plan, files: &dyn ConfigFiles) -> Result<(), ConfigError> {
    let dir = Path::new(plan.service.flag_dir());
    let entries = files
        .list(dir)
        .map_err(|e| error(Origin::File(dir.to_path_buf()), format!("cannot list: {e}")))?;
    for (file_name, kind) in entries {
        if kind != EntryKind::File || ignored(&file_name) {
            continue;
        }
        let path = dir.join(&file_name);
        let bare = file_name.strip_prefix('?');
        let name = bare.unwrap_or(&file_name);
        let (flag, value) = match name.strip_prefix("no-") {
            Some(negated) => (negated, Some("false".to_string())),
            None if bare.is_some() => (name, None),
            None => {
                let text = read_file(files, &path, name)?;
                (name, Some(trim_newlines(&text).to_string()))
            }
        };
        if !is_flag_name(flag) {
            return Err(error(
                Origin::File(path),
                format!(
                    "'{file_name}' is not a flag name (each file in {} is one flag of {})",
                    dir.display(),
                    plan.service
                ),
            ));
        }
        plan.set(flag, value, Origin::File(path));
    }
    Ok(())
}

/// `attributes/rack` holding `a` and `attributes/zone` holding `b` give
/// `--attributes=rack:a;zone:b`; empty files are skipped.
fn joined_directory(
    plan: &mut Plan,
    files: &dyn ConfigFiles,
    dir_name: &str,
    flag: &str,
) -> Result<(), ConfigError> {
    let dir = Path::new(plan.service.flag_dir()).join(dir_name);
    let entries = files
        .list(&dir)
        .map_err(|e| error(Origin::File(dir.clone()), format!("cannot list: {e}")))?;
    let mut parts = Vec::new();
    for (name, kind) in entries {
        if kind != EntryKind::File || ignored(&name) {
            continue;
        }
        let text = read_file(files, &dir.join(&name), flag)?;
        let value = trim_newlines(&text);
        if !value.is_empty() {
            parts.push(format!("{name}:{value}"));
        }
    }
    if !parts.is_empty() {
        plan.set(flag, Some(parts.join(";")), Origin::File(dir));
    }
    Ok(())
}

/// `--name=value`, `--name value`, `--name` and `--no-name`.
fn parse_command_line(args: &[String]) -> Result<Vec<(String, Option<String>)>, ConfigError> {
    let mut out = Vec::new();
    let mut args = args.iter().peekable();
    while let Some(arg) = args.next() {
        let Some(body) = arg.strip_prefix("--").filter(|b| !b.is_empty()) else {
            return Err(error(
                Origin::CommandLine,
                format!("unexpected argument '{arg}' (flags are --name=value)"),
            ));
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => match body.strip_prefix("no-") {
                Some(negated) => (negated, Some("false".to_string())),
                None => (body, args.next_if(|a| !a.starts_with("--")).cloned()),
            },
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// `/etc/mesos/zk` when it is there and not empty: a URL with servers and a path.
fn zk_url(files: &dyn ConfigFiles, gives: &str) -> Result<Option<String>, ConfigError> {
    let path = Path::new(ZK_FILE);
    let origin = || Origin::File(path.to_path_buf());
    let text = match files.read(path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(error(
                origin(),
                format!("cannot read ({e}); it gives {gives}"),
            ))
        }
    };
    let url = text.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let parsed =
        ZkUrl::parse(url).map_err(|e| error(origin(), format!("{e}; it gives {gives}")))?;
    if parsed.path == "/" || !url.starts_with("zk://") {
        return Err(error(
            origin(),
            format!(
                "'{url}' names no znode path (expected zk://host:2181/mesos); it gives {gives}"
            ),
        ));
    }
    Ok(Some(url.to_string()))
}

/// `zk://user:pass@h1:2181,h2:2181/mesos` -> `zk://user:pass@h1:2181,h2:2181/marathon`.
fn marathon_zk(url: &str) -> String {
    let rest = url.strip_prefix("zk://").unwrap_or(url);
    let servers = rest.split('/').next().unwrap_or(rest);
    format!("zk://{servers}/marathon")
}

/// The master of this host: `/etc/mesos-master/ip` (unless it is the wildcard) and `port`.
fn local_master(files: &dyn ConfigFiles) -> String {
    let read = |name: &str| {
        files
            .read(&Path::new(MASTER_FLAG_DIR).join(name))
            .ok()
            .flatten()
            .map(|t| t.trim().to_string())
    };
    let ip = read("ip")
        .and_then(|t| t.parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_unspecified())
        .map_or_else(|| "127.0.0.1".to_string(), |ip| ip.to_string());
    let port = read("port")
        .and_then(|t| t.parse::<u16>().ok())
        .unwrap_or(5050);
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn single_host_and_zk(
    plan: &mut Plan,
    files: &dyn ConfigFiles,
    environment: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let service = plan.service;
    let is_set = |plan: &Plan, flag: &str| {
        plan.flags.iter().any(|f| f.name == flag)
            || environment
                .get(&variable_of(service, flag))
                .is_some_and(|v| !v.is_empty())
    };
    let zk_origin = || Origin::File(ZK_FILE.into());
    match service {
        Service::Master => {
            if !is_set(plan, "zk") {
                if let Some(url) = zk_url(files, "mesos-master --zk")? {
                    plan.set("zk", Some(url), zk_origin());
                }
            }
        }
        Service::Agent => {
            if !is_set(plan, "master") {
                match zk_url(files, "mesos-agent --master")? {
                    Some(url) => plan.set("master", Some(url), zk_origin()),
                    None => plan.set("master", Some(local_master(files)), Origin::Default),
                }
            }
        }
        Service::Marathon => {
            let needs_master = !is_set(plan, "master");
            let needs_zk = !is_set(plan, "zk");
            if !needs_master && !needs_zk {
                return Ok(());
            }
            let zk = zk_url(files, "marathon --master and --zk")?;
            if needs_master {
                match &zk {
                    Some(url) => plan.set("master", Some(url.clone()), zk_origin()),
                    None => plan.set("master", Some(local_master(files)), Origin::Default),
                }
            }
            if needs_zk {
                match &zk {
                    Some(url) => plan.set("zk", Some(marathon_zk(url)), zk_origin()),
                    // No ZooKeeper anywhere: a single host keeps Marathon's state in a file.
                    None if needs_master && !is_set(plan, "internal_store_backend") => {
                        plan.set(
                            "internal_store_backend",
                            Some("embedded".into()),
                            Origin::Default,
                        );
                        if !is_set(plan, "store_path") {
                            plan.set(
                                "store_path",
                                Some(MARATHON_LOCAL_STORE.into()),
                                Origin::Default,
                            );
                        }
                        if !is_set(plan, "ha") && !is_set(plan, "disable_ha") {
                            plan.set("disable_ha", None, Origin::Default);
                        }
                    }
                    None => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::Memory;

    fn run(service: Service, files: &Memory, args: &[&str]) -> Result<Plan, ConfigError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        plan(service, files, &BTreeMap::new(), &args)
    }

    fn args(service: Service, files: &Memory, cmd: &[&str]) -> Vec<String> {
        run(service, files, cmd).unwrap().args()
    }

    fn file(path: &str) -> Origin {
        Origin::File(path.into())
    }

    #[test]
    fn zk_file_gives_each_service_its_flag() {
        let files = Memory::default().with("/etc/mesos/zk", "zk://u:p@h1:2181,h2:2181/mesos\n");
        assert_eq!(
            args(Service::Master, &files, &[]),
            ["--zk=zk://u:p@h1:2181,h2:2181/mesos"]
        );
        assert_eq!(
            args(Service::Agent, &files, &[]),
            ["--master=zk://u:p@h1:2181,h2:2181/mesos"]
        );
        assert_eq!(
            args(Service::Marathon, &files, &[]),
            [
                "--master=zk://u:p@h1:2181,h2:2181/mesos",
                "--zk=zk://u:p@h1:2181,h2:2181/marathon"
            ]
        );
    }

    #[test]
    fn flag_files_booleans_and_negations() {
        let files = Memory::default()
            .with("/etc/mesos-master/port", "5055\n")
            .with("/etc/mesos-master/cluster", "prod cluster\n\n")
            .with("/etc/mesos-master/?authenticate_agents", "")
            .with("/etc/mesos-master/?no-hostname_lookup", "")
            .with("/etc/mesos-master/no-log_auto_initialize", "anything")
            .with("/etc/mesos-master/port.rpmsave", "1")
            .with("/etc/mesos-master/port.rpmnew", "1")
            .with("/etc/mesos-master/cluster.dpkg-old", "1")
            .with("/etc/mesos-master/.port.swp", "1")
            .with("/etc/mesos-master/port~", "1");
        let plan = run(Service::Master, &files, &[]).unwrap();
        assert_eq!(
            plan.args(),
            [
                "--authenticate_agents",
                "--hostname_lookup=false",
                "--cluster=prod cluster",
                "--log_auto_initialize=false",
                "--port=5055",
            ]
        );
        assert_eq!(
            plan.origin_of("port"),
            Some(&file("/etc/mesos-master/port"))
        );
    }

    #[test]
    fn agent_joins_attribute_and_resource_directories() {
        let files = Memory::default()
            .with("/etc/mesos/zk", "zk://h:2181/mesos")
            .with("/etc/mesos-slave/containerizers", "docker,mesos\n")
            .with("/etc/mesos-slave/attributes/rack", "r1\n")
            .with("/etc/mesos-slave/attributes/zone", "z2")
            .with("/etc/mesos-slave/attributes/empty", "")
            .with("/etc/mesos-slave/resources/cpus", "4")
            .with("/etc/mesos-slave/resources/ports", "[31000-31099]");
        assert_eq!(
            args(Service::Agent, &files, &[]),
            [
                "--containerizers=docker,mesos",
                "--attributes=rack:r1;zone:z2",
                "--resources=cpus:4;ports:[31000-31099]",
                "--master=zk://h:2181/mesos",
            ]
        );
    }

    #[test]
    fn stronger_sources_replace_weaker_ones() {
        let files = Memory::default()
            .with("/etc/mesos/zk", "zk://zkfile:2181/mesos")
            .with("/etc/default/mesos", "IP=10.0.0.1\nMESOS_CLUSTER=env\n")
            .with(
                "/etc/default/mesos-master",
                "ZK=zk://envfile:2181/mesos\nIP=10.0.0.2\nPORT=5000\n",
            )
            .with("/etc/mesos-master/port", "5001");
        let plan = run(Service::Master, &files, &["--port", "5002", "--no-quiet"]).unwrap();
        assert_eq!(
            plan.args(),
            [
                "--zk=zk://envfile:2181/mesos",
                "--ip=10.0.0.2",
                "--port=5002",
                "--quiet=false"
            ]
        );
        assert_eq!(
            plan.origin_of("zk"),
            Some(&Origin::Variable {
                file: "/etc/default/mesos-master".into(),
                name: "ZK".into()
            })
        );
        assert_eq!(plan.origin_of("port"), Some(&Origin::CommandLine));
        // A flag the program reads from its variable: named by the variable's file.
        assert_eq!(
            plan.origin_of("cluster"),
            Some(&Origin::Variable {
                file: "/etc/default/mesos".into(),
                name: "MESOS_CLUSTER".into()
            })
        );
        assert!(plan
            .env
            .iter()
            .any(|(name, value, _)| name == "MESOS_CLUSTER" && value == "env"));
    }

    #[test]
    fn a_variable_for_the_flag_beats_the_zk_file() {
        let files = Memory::default()
            .with("/etc/mesos/zk", "zk://zkfile:2181/mesos")
            .with("/etc/default/mesos-slave", "MESOS_MASTER=10.0.0.9:5050\n");
        assert!(args(Service::Agent, &files, &[]).is_empty());
        let inherited = BTreeMap::from([("MARATHON_MASTER".to_string(), "m:5050".to_string())]);
        let plan = plan(Service::Marathon, &files, &inherited, &[]).unwrap();
        assert_eq!(plan.args(), ["--zk=zk://zkfile:2181/marathon"]);
    }

    #[test]
    fn mesosphere_default_files_still_work() {
        let files = Memory::default()
            .with("/etc/mesos/zk", "zk://h:2181/mesos\n")
            .with(
                "/etc/default/mesos-master",
                "PORT=5050\nZK=`cat /etc/mesos/zk`\n",
            );
        assert_eq!(
            args(Service::Master, &files, &[]),
            ["--zk=zk://h:2181/mesos", "--port=5050"]
        );
    }

    #[test]
    fn single_host_without_zookeeper() {
        let files = Memory::default()
            .with("/etc/mesos-master/ip", "127.0.0.5\n")
            .with("/etc/mesos-master/port", "5055\n");
        assert!(args(Service::Master, &files, &[])
            .iter()
            .all(|a| !a.starts_with("--zk")));
        assert_eq!(
            args(Service::Agent, &files, &[]),
            ["--master=127.0.0.5:5055"]
        );
        assert_eq!(
            args(Service::Marathon, &Memory::default(), &[]),
            [
                "--master=127.0.0.1:5050",
                "--internal_store_backend=embedded",
                "--store_path=/var/lib/marathon/state.redb",
                "--disable_ha"
            ]
        );
        // Marathon told where the master is keeps Marathon's own default store.
        let told = Memory::default().with("/etc/marathon/conf/master", "zk://h:2181/mesos");
        assert_eq!(
            args(Service::Marathon, &told, &[]),
            ["--master=zk://h:2181/mesos"]
        );
    }

    #[test]
    fn bad_input_names_the_file_and_the_flag() {
        let cases: Vec<(Service, Memory, &str, &str)> = vec![
            (
                Service::Master,
                Memory::default().unreadable("/etc/mesos/zk"),
                "/etc/mesos/zk",
                "cannot read (permission denied); it gives mesos-master --zk",
            ),
            (
                Service::Agent,
                Memory::default().with("/etc/mesos/zk", "zk://h:2181\n"),
                "/etc/mesos/zk",
                "'zk://h:2181' names no znode path (expected zk://host:2181/mesos); it gives mesos-agent --master",
            ),
            (
                Service::Marathon,
                Memory::default().with("/etc/mesos/zk", "http://h:2181/mesos"),
                "/etc/mesos/zk",
                "invalid ZooKeeper URL 'http://h:2181/mesos': expected zk://host:port[,host:port...]/path; it gives marathon --master and --zk",
            ),
            (
                Service::Master,
                Memory::default().unreadable("/etc/mesos-master/work_dir"),
                "/etc/mesos-master/work_dir",
                "cannot read (permission denied); it gives --work_dir",
            ),
            (
                Service::Master,
                Memory::default().with("/etc/mesos-master/port.old", "5050"),
                "/etc/mesos-master/port.old",
                "'port.old' is not a flag name (each file in /etc/mesos-master is one flag of mesos-master)",
            ),
            (
                Service::Agent,
                Memory::default().with("/etc/default/mesos", "\nLOGS=$HOME\n"),
                "/etc/default/mesos",
                "line 2: '$HOME': shell expansion is not supported (only `cat FILE` and $(cat FILE) are)",
            ),
            (
                Service::Master,
                Memory::default().with("/etc/default/mesos-master", "ZK=`cat /etc/mesos/zk`"),
                "/etc/default/mesos-master: ZK",
                "/etc/mesos/zk does not exist",
            ),
        ];
        for (service, files, origin, message) in cases {
            let err = run(service, &files, &[]).unwrap_err();
            assert_eq!(err.origin.to_string(), origin);
            assert_eq!(err.message, message);
        }
        let err = run(Service::Master, &Memory::default(), &["port=5050"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "command line: unexpected argument 'port=5050' (flags are --name=value)"
        );
    }
}
