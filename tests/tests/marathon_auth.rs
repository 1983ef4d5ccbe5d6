//! Marathon's HTTP Basic (`--http_credentials`, `--http_realm`) with the real binary: every
//! path refuses a request without the right credentials, the right ones run apps, a standby
//! passes them on to the leader, marathon-python sends them, and a malformed credential
//! flag stops Marathon at start instead of leaving the API open.

use std::time::Duration;

use mesos_tests::cluster::Cluster;
use mesos_tests::eventually;
use mesos_tests::http;
use mesos_tests::marathon::Marathon;
use mesos_tests::process::{binary, free_port, run_command};
use mesos_tests::python_clients::client_python;
use mesos_tests::zookeeper::{HaCluster, HaOptions};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);
const CREDENTIALS: &str = "ops:s3cret";

async fn call(
    marathon: &Marathon,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&Value>,
) -> http::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http::client().request(method, marathon.url(path));
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    http::send(request).await.expect("request")
}

fn assert_challenged(r: &http::Response, realm: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.body);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(format!("Basic realm=\"{realm}\"").as_str()),
        "{what}"
    );
    let body: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(body["message"].is_string(), "{what}: {}", r.body);
}

#[tokio::test]
async fn every_path_needs_the_credentials() {
    let cluster = Cluster::start().await;
    let m = Marathon::start(&cluster, &["--http_credentials", CREDENTIALS]).await;
    let app = json!({"id": "guarded", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1});

    // Without credentials, with wrong ones and with another scheme: 401 everywhere, the
    // dashboard, /ping, the event stream and unknown paths included.
    let r = call(&m, "POST", "/v2/apps", None, Some(&app)).await;
    assert_challenged(&r, "Mesosphere", "POST /v2/apps without credentials");
    for auth in [("ops", "wrong"), ("Ops", "s3cret"), ("ops", "s3cret ")] {
        let r = call(&m, "POST", "/v2/apps", Some(auth), Some(&app)).await;
        assert_challenged(&r, "Mesosphere", &format!("POST /v2/apps as {auth:?}"));
    }
    for path in [
        "/ping",
        "/v2/apps",
        "/v2/info",
        "/v2/events",
        "/ui/",
        "/",
        "/metrics",
        "/nope",
    ] {
        let r = call(&m, "GET", path, None, None).await;
        assert_challenged(&r, "Mesosphere", &format!("GET {path}"));
    }
    let r = http::send(
        http::client()
            .get(m.url("/v2/apps"))
            .header("Authorization", "token=abc"),
    )
    .await
    .unwrap();
    assert_challenged(&r, "Mesosphere", "a DC/OS token");
    // Nothing was created by the refused requests.
    let r = call(&m, "GET", "/v2/apps", Some(("ops", "s3cret")), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["apps"], json!([]));

    // With them: the app is created and runs.
    let r = call(&m, "POST", "/v2/apps", Some(("ops", "s3cret")), Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    m.wait_running("/guarded", 1, LONG).await;
    for path in ["/ping", "/ui/", "/v2/info"] {
        let r = call(&m, "GET", path, Some(("ops", "s3cret")), None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    }
}

#[tokio::test]
async fn the_realm_is_configurable() {
    let cluster = Cluster::master_only().await;
    let m = Marathon::start(
        &cluster,
        &["--http_credentials=a:b:c", "--http_realm", "Operations"],
    )
    .await;
    let r = call(&m, "GET", "/v2/info", None, None).await;
    assert_challenged(&r, "Operations", "GET /v2/info");
    // The user is as long as Marathon's greedy (.+):(.+) makes it.
    let r = call(&m, "GET", "/v2/info", Some(("a:b", "c")), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_passes_the_credentials_to_the_leader() {
    let cluster = HaCluster::start(HaOptions {
        zookeepers: 1,
        masters: 1,
        agents: 0,
        ..HaOptions::default()
    })
    .await;
    let flags = ["--http_credentials", CREDENTIALS];
    let a = Marathon::start_ha_with(&cluster, 4000, &flags).await;
    let b = Marathon::start_ha_with(&cluster, 4000, &flags).await;
    let (lead, standby) = eventually("a leader named by both", LONG, async || {
        let la = a.get("/v2/leader").await;
        let lb = b.get("/v2/leader").await;
        if la.status != 200 || lb.status != 200 || la.json() != lb.json() {
            return None;
        }
        let leader = la.json()["leader"].as_str()?.to_string();
        Some(if leader == format!("127.0.0.1:{}", a.port) {
            (&a, &b)
        } else {
            (&b, &a)
        })
    })
    .await;

    let app = json!({"id": "proxied", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 0});
    let r = call(standby, "POST", "/v2/apps", None, Some(&app)).await;
    assert_challenged(&r, "Mesosphere", "a standby without credentials");
    let r = call(
        standby,
        "POST",
        "/v2/apps",
        Some(("ops", "s3cret")),
        Some(&app),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("X-Marathon-Leader"),
        Some(format!("http://127.0.0.1:{}", lead.port).as_str()),
        "answered by the leader"
    );
    let r = call(
        lead,
        "GET",
        "/v2/apps/proxied",
        Some(("ops", "s3cret")),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Runs `marathon` with `args` (and `envs`) and expects it to stop at once, non-zero, with
/// a message naming `flag`.
async fn refuses_to_start(args: &[&str], envs: &[(&str, &str)], flag: &str) {
    let port = free_port().to_string();
    let mut all: Vec<String> = [
        "--master",
        "127.0.0.1:1",
        "--disable_ha",
        "--internal_store_backend",
        "mem",
        "--http_address",
        "127.0.0.1",
        "--http_port",
        &port,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(args.iter().map(|s| s.to_string()));
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = run_command(&binary("marathon"), &all, &envs, Duration::from_secs(20)).await;
    assert!(
        out.status.is_some_and(|s| !s.success()),
        "{args:?} {envs:?}: marathon must not start\n{out}"
    );
    assert!(
        out.stderr.contains(flag),
        "{args:?}: the message names {flag}\n{out}"
    );
}

#[tokio::test]
async fn a_malformed_credential_flag_stops_marathon() {
    for bad in ["nocolon", ":pass", "user:", ""] {
        refuses_to_start(&["--http_credentials", bad], &[], "--http_credentials").await;
    }
    // Marathon's own variable, checked the same way.
    refuses_to_start(
        &[],
        &[("MESOSPHERE_HTTP_CREDENTIALS", "nocolon")],
        "--http_credentials",
    )
    .await;
    refuses_to_start(
        &["--http_credentials", CREDENTIALS, "--http_realm", "a\"b"],
        &[],
        "--http_realm",
    )
    .await;
    refuses_to_start(
        &[
            "--mesos_authentication",
            "--mesos_authentication_secret",
            "x",
        ],
        &[],
        "--mesos_authentication_principal",
    )
    .await;
    refuses_to_start(
        &[
            "--mesos_authentication",
            "--mesos_authentication_principal",
            "marathon",
            "--mesos_authentication_secret_file",
            "/no/such/secret",
        ],
        &[],
        "--mesos_authentication_secret_file",
    )
    .await;
}

const PYTHON_CHECK: &str = r#"
import sys
from marathon import MarathonClient, MarathonApp
from marathon.exceptions import MarathonHttpError
url = sys.argv[1]
good = MarathonClient(url, username="ops", password="s3cret")
good.create_app("py-auth", MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16, instances=0))
print("apps:", [a.id for a in good.list_apps()])
for who, client in [("no credentials", MarathonClient(url)),
                    ("a wrong password", MarathonClient(url, username="ops", password="nope"))]:
    try:
        client.list_apps()
    except MarathonHttpError as e:
        assert e.status_code == 401, (who, e.status_code)
        print(who, "->", e.status_code)
    else:
        raise SystemExit("listed the apps with " + who)
"#;

#[tokio::test]
async fn marathon_python_sends_username_and_password() {
    let Some(python) = client_python() else {
        return;
    };
    let cluster = Cluster::master_only().await;
    let m = Marathon::start(&cluster, &["--http_credentials", CREDENTIALS]).await;
    let out = run_command(
        &python,
        &["-c".into(), PYTHON_CHECK.into(), m.url("")],
        &[],
        Duration::from_secs(60),
    )
    .await;
    assert!(out.success(), "{out}\n{}", m.proc.log_tail(30));
    assert!(out.stdout.contains("/py-auth"), "{out}");
    assert!(out.stdout.contains("a wrong password -> 401"), "{out}");
    let r = m.get("/v2/apps/py-auth").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Marathon and mesos-execute against a master that requires HTTP Basic from frameworks:
/// the right secret (from a file with a trailing newline) runs tasks, a wrong one is
/// refused.
#[tokio::test]
async fn frameworks_authenticate_to_the_master() {
    use mesos_tests::cluster::ClusterOptions;
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "marathon", "secret": "m-secret"},
                            {"principal": "ops", "secret": "o-secret"}]}"#,
    )
    .unwrap();
    let secret_file = dir.path().join("marathon.secret");
    std::fs::write(&secret_file, "m-secret\n").unwrap();
    let cluster = Cluster::start_with(ClusterOptions {
        master_flags: vec![
            "--authenticate_http_frameworks".into(),
            "--http_framework_authenticators=basic".into(),
            format!("--credentials={}", credentials.display()),
        ],
        ..ClusterOptions::default()
    })
    .await;
    let secret = secret_file.display().to_string();
    let m = Marathon::start(
        &cluster,
        &[
            "--mesos_authentication",
            "--mesos_authentication_principal",
            "marathon",
            "--mesos_authentication_secret_file",
            &secret,
        ],
    )
    .await;
    let app =
        json!({"id": "authenticated", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1});
    let r = m.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    m.wait_running("/authenticated", 1, LONG).await;
    let frameworks = http::get_json(&cluster.master_url("/master/frameworks")).await;
    assert!(
        frameworks["frameworks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["principal"] == "marathon"),
        "{frameworks}"
    );

    let execute = |secret: &str| {
        vec![
            format!("--master={}", cluster.master_addr()),
            "--name=authenticated-task".to_string(),
            "--command=true".to_string(),
            "--resources=cpus:0.1;mem:16".to_string(),
            "--principal=ops".to_string(),
            format!("--secret={secret}"),
        ]
    };
    let ok = run_command(&binary("mesos-execute"), &execute("o-secret"), &[], LONG).await;
    assert!(ok.success(), "{ok}");
    assert!(ok.stdout.contains("TASK_FINISHED"), "{ok}");
    let refused = run_command(&binary("mesos-execute"), &execute("wrong"), &[], LONG).await;
    assert!(!refused.success(), "{refused}");
    assert!(refused.combined().contains("401"), "{refused}");
}
