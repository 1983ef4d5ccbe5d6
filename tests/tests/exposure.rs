//! Safe defaults: a master, an agent or Marathon that listens beyond loopback (0.0.0.0 here; the
//! tests still connect through 127.0.0.1) with authentication off logs one WARN at start
//! naming the flags to turn on, and its API says so (`exposure_warning` in the master's
//! and the agent's `/flags`, Marathon's `/v2/info/exposure`) for the dashboards' banner. On loopback, or with
//! authentication on, neither.

use mesos_tests::marathon::Marathon;
use mesos_tests::*;
use serde_json::{json, Value};

/// The lines of a process's log that carry the warning.
fn warning_lines(proc: &Proc) -> Vec<String> {
    proc.stderr()
        .lines()
        .chain(proc.stdout().lines())
        .filter(|l| l.contains("beyond loopback"))
        .map(str::to_string)
        .collect()
}

async fn flags(cluster: &Cluster, auth: Option<(&str, &str)>) -> Value {
    let mut request = http::client().get(cluster.master_url("/master/flags"));
    if let Some((user, secret)) = auth {
        request = request.basic_auth(user, Some(secret));
    }
    let response = http::send(request).await.expect("GET /master/flags");
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_open_beyond_loopback_warns_once_and_says_so_in_its_flags() {
    let cluster = Cluster::start_with(ClusterOptions {
        agents: 0,
        master_flags: vec!["--ip=0.0.0.0".into()],
        ..Default::default()
    })
    .await;
    let lines = warning_lines(&cluster.master);
    assert_eq!(lines.len(), 1, "one warning at start: {lines:#?}");
    let line = &lines[0];
    assert!(line.contains("WARN"), "{line}");
    for flag in [
        "--authenticate_frameworks",
        "--authenticate_http_readwrite",
        "--authenticate_agents",
        "--authenticate_http_readonly",
        "--ip=127.0.0.1",
    ] {
        assert!(line.contains(flag), "the warning names {flag}: {line}");
    }
    let body = flags(&cluster, None).await;
    assert_eq!(body["flags"]["ip"], "0.0.0.0", "Mesos's key is unchanged");
    let warning = &body["exposure_warning"];
    assert_eq!(
        warning["address"],
        json!(format!("0.0.0.0:{}", cluster.master_port))
    );
    assert_eq!(
        warning["flags"].as_array().map(Vec::len),
        Some(4),
        "{warning}"
    );
    assert!(
        warning["message"]
            .as_str()
            .is_some_and(|m| m.contains("without authentication")),
        "{warning}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_on_loopback_or_with_authentication_on_does_not_warn() {
    let loopback = Cluster::master_only().await;
    assert_eq!(warning_lines(&loopback.master), Vec::<String>::new());
    let body = flags(&loopback, None).await;
    assert!(body.get("exposure_warning").is_none(), "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "Mesos's shape");

    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        json!({"credentials": [{"principal": "ops", "secret": "s3cret"}]}).to_string(),
    )
    .unwrap();
    let guarded = Cluster::start_with(ClusterOptions {
        agents: 0,
        master_flags: vec![
            "--ip=0.0.0.0".into(),
            format!("--credentials={}", credentials.display()),
            "--authenticate_frameworks".into(),
            "--authenticate_agents".into(),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
        ],
        ..Default::default()
    })
    .await;
    assert_eq!(warning_lines(&guarded.master), Vec::<String>::new());
    let body = flags(&guarded, Some(("ops", "s3cret"))).await;
    assert!(body.get("exposure_warning").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marathon_open_beyond_loopback_warns_and_says_so_apart_from_v2_info() {
    let cluster = Cluster::master_only().await;
    let open = Marathon::start(&cluster, &["--http_address", "0.0.0.0"]).await;
    let lines = warning_lines(&open.proc);
    assert_eq!(lines.len(), 1, "one warning at start: {lines:#?}");
    assert!(lines[0].contains("--http_credentials"), "{}", lines[0]);
    let answer = open.get("/v2/info/exposure").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let warning = &answer.json()["exposure_warning"];
    assert_eq!(warning["address"], json!(format!("0.0.0.0:{}", open.port)));
    assert_eq!(warning["flags"], json!(["--http_credentials"]));
    // /v2/info keeps Marathon's keys only: marathon-python refuses any other.
    let info = open.get("/v2/info").await.json();
    assert!(info.get("exposure_warning").is_none(), "{info}");

    let loopback = Marathon::start(&cluster, &[]).await;
    assert_eq!(warning_lines(&loopback.proc), Vec::<String>::new());
    let answer = loopback.get("/v2/info/exposure").await.json();
    assert_eq!(answer, json!({"exposure_warning": null}));

    let guarded = Marathon::start(
        &cluster,
        &[
            "--http_address",
            "0.0.0.0",
            "--http_credentials",
            "ops:s3cret",
        ],
    )
    .await;
    assert_eq!(warning_lines(&guarded.proc), Vec::<String>::new());
    let answer = guarded.get("/v2/info/exposure").await.json();
    assert_eq!(answer, json!({"exposure_warning": null}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_open_beyond_loopback_warns_and_says_so_in_its_flags() {
    let mut cluster = Cluster::master_only().await;
    let open = cluster.add_agent_with(&["--ip=0.0.0.0"]).await;
    let loopback = cluster.add_agent().await;
    let lines = warning_lines(&cluster.agents[open].proc);
    assert_eq!(lines.len(), 1, "one warning at start: {lines:#?}");
    assert!(
        lines[0].contains("--authenticate_http_readwrite"),
        "{}",
        lines[0]
    );
    let body = http::get_json(&cluster.agent_url(open, "/flags")).await;
    assert_eq!(
        body["exposure_warning"]["address"],
        json!(format!("0.0.0.0:{}", cluster.agents[open].port))
    );
    assert_eq!(
        warning_lines(&cluster.agents[loopback].proc),
        Vec::<String>::new()
    );
    let body = http::get_json(&cluster.agent_url(loopback, "/flags")).await;
    assert!(body.get("exposure_warning").is_none(), "{body}");
}
