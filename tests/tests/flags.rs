//! Every binary refuses an invalid flag at start, naming it, with a non-zero exit.

use std::time::Duration;

use mesos_tests::*;

const BOGUS: &str = "this_flag_does_not_exist";

/// Runs `bin` with `args`; it must exit non-zero within 15 s and name `flag` on stderr.
async fn assert_refused(bin: &str, args: Vec<String>, flag: &str) {
    let output = run_command(&binary(bin), &args, &[], Duration::from_secs(15)).await;
    let status = output
        .status
        .unwrap_or_else(|| panic!("{bin} {args:?} kept running instead of refusing `{flag}`"));
    assert!(
        !status.success(),
        "{bin} {args:?} exited successfully\n{output}"
    );
    assert!(
        output.stderr.contains(flag),
        "{bin} {args:?}: stderr should name `{flag}`\n{output}"
    );
}

fn work_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mesos-tests-flags-")
        .tempdir()
        .expect("temp dir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_refuses_unknown_and_invalid_flags() {
    let dir = work_dir();
    let base = vec![
        "--ip=127.0.0.1".to_string(),
        format!("--port={}", free_port()),
        format!("--work_dir={}", dir.path().display()),
    ];
    let mut args = base.clone();
    args.push(format!("--{BOGUS}=1"));
    assert_refused("mesos-master", args, BOGUS).await;

    let mut args = vec!["--ip=127.0.0.1".to_string(), "--port=notaport".to_string()];
    args.push(format!("--work_dir={}", dir.path().display()));
    assert_refused("mesos-master", args, "port").await;

    let mut args = base.clone();
    args.push("--allocation_interval=soon".to_string());
    assert_refused("mesos-master", args, "allocation_interval").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_refuses_unknown_and_invalid_flags() {
    let dir = work_dir();
    for bin in ["mesos-agent", "mesos-slave"] {
        let base = vec![
            format!("--master=127.0.0.1:{}", free_port()),
            "--ip=127.0.0.1".to_string(),
            format!("--port={}", free_port()),
            format!("--work_dir={}", dir.path().display()),
        ];
        let mut args = base.clone();
        args.push(format!("--{BOGUS}=1"));
        assert_refused(bin, args, BOGUS).await;

        let mut args = base.clone();
        args.push("--resources=cpus:abc".to_string());
        assert_refused(bin, args, "resources").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tools_refuse_unknown_flags() {
    let dir = work_dir();
    let master = format!("--master=127.0.0.1:{}", free_port());
    assert_refused(
        "mesos-execute",
        vec![
            master.clone(),
            "--name=x".to_string(),
            "--command=true".to_string(),
            format!("--{BOGUS}=1"),
        ],
        BOGUS,
    )
    .await;
    assert_refused(
        "mesos-ps",
        vec![master.clone(), format!("--{BOGUS}=1")],
        BOGUS,
    )
    .await;
    assert_refused(
        "mesos-local",
        vec![
            format!("--port={}", free_port()),
            format!("--work_dir={}", dir.path().display()),
            format!("--{BOGUS}=1"),
        ],
        BOGUS,
    )
    .await;
    // The dispatcher passes the flag on to mesos-ps, which refuses it.
    let path = format!(
        "{}:{}",
        mesos_tests::process::bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let args = vec!["ps".to_string(), master, format!("--{BOGUS}=1")];
    let output = run_command(
        &binary("mesos"),
        &args,
        &[("PATH".to_string(), path)],
        Duration::from_secs(15),
    )
    .await;
    assert!(
        output.status.is_some_and(|s| !s.success()) && output.stderr.contains(BOGUS),
        "`mesos ps --{BOGUS}=1` should fail naming the flag\n{output}"
    );
}
