//! Property tests of mesos-init-wrapper's readers on any file contents: environment files
//! and the per-flag files either give a plan or an error naming the line or file, never a
//! panic.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::envfile;
use crate::files::Memory;
use crate::plan::plan;
use crate::service::Service;

/// Shell-ish lines: assignments with every quoting form, comments and noise.
fn env_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "(export )?[A-Z_]{1,10}=[a-z0-9:/._ -]{0,12}",
        "[A-Z_]{1,8}='[^']{0,10}'?",
        "[A-Z_]{1,8}=\"([^\"\\\\]|\\\\.){0,10}\"?( # c)?",
        "[A-Z_]{1,8}=(`cat /etc/mesos/zk`|\\$\\(cat /x\\)|\\$HOME|\\$\\(id\\))",
        "#.{0,10}",
        ".{0,24}",
    ];
    prop::collection::vec(line, 0..8).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn environment_files_parse_or_name_the_line(text in env_text()) {
        match envfile::parse(&text) {
            Ok(assignments) => prop_assert!(assignments.iter().all(|a| !a.name.is_empty())),
            Err(e) => prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1)),
        }
    }

    #[test]
    fn any_configuration_gives_a_plan_or_an_error(
        defaults in env_text(),
        zk in ".{0,40}",
        flag in "[a-z_]{1,12}",
        value in ".{0,20}",
        service in prop::sample::select(vec![Service::Master, Service::Agent, Service::Marathon]),
    ) {
        let dir = match service {
            Service::Master => "/etc/mesos-master",
            Service::Agent => "/etc/mesos-slave",
            Service::Marathon => "/etc/marathon/conf",
        };
        let files = Memory::default()
            .with("/etc/default/mesos", &defaults)
            .with("/etc/mesos/zk", &zk)
            .with(&format!("{dir}/{flag}"), &value);
        let _ = plan(service, &files, &BTreeMap::new(), &[]);
    }
}
