//! Issue 16's "Done when", checked in one test with the real binaries: with
//! `--authenticate_frameworks --authenticate_http_readwrite --credentials=...` and TLS on,
//! an unmodified framework (pymesos from PyPI) with the right principal and secret runs a
//! task, a wrong one gets 401, and `POST /v2/apps` without credentials gets 401.
//!
//! The cluster: a master with those flags (plus `--authenticate_agents`) serving TLS with
//! downgrade, since pymesos speaks plain HTTP only; an agent that authenticates and speaks
//! TLS only; Marathon serving HTTPS only, with `--http_credentials`, and authenticating to
//! the master as a framework over TLS. TLS clients (reqwest with the test CA, and
//! mesos-execute) use the master's port too.
//!
//! The rest of the "Done when", the chaos harness's long form with zero violations, is a
//! benchmark (`tests/src/chaos`), not part of this test.

use std::time::Duration;

use mesos_tests::credentials::{basic, credential_file, credentials_file};
use mesos_tests::python_clients::{client_python, run_pymesos};
use mesos_tests::tls::{active_agents, https_client, make_certs, plain_client, tls_env, Processes};
use mesos_tests::{binary, eventually, free_port, http, run_command, Proc, TIMEOUT};
use serde_json::{json, Value};

const MARATHON_USER: (&str, &str) = ("ops", "s3cret");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_done_when_with_authentication_and_tls_on_only_the_right_credentials_get_in() {
    let Some(python) = client_python() else {
        return;
    };
    let mut p = Processes::new();
    let certs = make_certs(p.root());
    let root = p.root().to_path_buf();
    let creds = credentials_file(
        &root,
        "credentials",
        &[
            ("pymesos", "py-secret"),
            ("marathon", "m-secret"),
            ("agent", "agent-secret"),
            ("ops", "ops-secret"),
        ],
    );
    let tls = https_client(&certs, None);

    // The master: the issue's flags, TLS with downgrade on one port.
    let master_env = tls_env(&certs, &[("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", "true")]);
    let master_flags = [
        format!("--credentials={creds}"),
        "--authenticate_frameworks".into(),
        "--authenticate_http_readwrite".into(),
        "--authenticate_agents".into(),
    ];
    let master = p.master(master_env, &master_flags, &tls).await;
    // The agent: TLS only, authenticating with its --credential.
    let env = tls_env(&certs, &[]);
    let credential = credential_file(&root, "agent-credential", "agent", "agent-secret");
    p.agent(
        master,
        env.clone(),
        &[format!("--credential={credential}")],
        &tls,
    )
    .await;
    let https = |path: &str| format!("https://127.0.0.1:{master}{path}");
    eventually("the agent authenticated over TLS", TIMEOUT, async || {
        (active_agents(&tls, &https("/master/state")).await == 1).then_some(())
    })
    .await;

    // A TLS client on the master's port: read-write endpoints need the credentials.
    let health = json!({"type": "GET_HEALTH"}).to_string();
    let operator = |auth: Option<String>| {
        let mut request = tls
            .post(https("/api/v1"))
            .header("Content-Type", "application/json")
            .body(health.clone());
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        http::send(request)
    };
    let refused = operator(None).await.expect("POST /api/v1 over TLS");
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Basic realm=\"mesos-master-readwrite\"")
    );
    let wrong = operator(Some(basic("ops", "guessed"))).await.unwrap();
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let ok = operator(Some(basic("ops", "ops-secret"))).await.unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);

    // pymesos (plain HTTP, served on the same port by downgrade) with the right principal
    // and secret runs a task; with a wrong secret it gets 401.
    let address = format!("127.0.0.1:{master}");
    let ran = run_pymesos(&python, &address, "pymesos", "py-secret").await;
    assert!(ran.success(), "pymesos with its secret\n{ran}");
    assert!(ran.stdout.contains("outcome: TASK_FINISHED"), "{ran}");
    let refused = run_pymesos(&python, &address, "pymesos", "guessed").await;
    assert!(!refused.success(), "{refused}");
    assert!(
        refused
            .stdout
            .contains("Failed with HTTP 401: b'401 Unauthorized.'"),
        "{refused}"
    );
    // A framework over TLS (mesos-execute, certificates checked) likewise.
    let execute = |secret: &str| {
        vec![
            format!("--master={address}"),
            "--name=done-when-tls".to_string(),
            "--command=true".to_string(),
            "--resources=cpus:0.1;mem:16".to_string(),
            "--principal=ops".to_string(),
            format!("--secret={secret}"),
        ]
    };
    let long = TIMEOUT * 3;
    let ran = run_command(&binary("mesos-execute"), &execute("ops-secret"), &env, long).await;
    assert!(ran.success(), "mesos-execute over TLS\n{ran}");
    assert!(ran.stdout.contains("TASK_FINISHED"), "{ran}");
    let refused = run_command(&binary("mesos-execute"), &execute("guessed"), &env, long).await;
    assert!(!refused.success(), "{refused}");
    assert!(refused.combined().contains("401"), "{refused}");

    // Marathon: HTTPS only with --http_credentials, a framework with its own principal.
    let secret_file = root.join("marathon.secret");
    std::fs::write(&secret_file, "m-secret\n").unwrap();
    let port = free_port();
    let file = |name: &str| certs.join(name).display().to_string();
    let args = vec![
        format!("--master={address}"),
        "--disable_ha".to_string(),
        "--internal_store_backend=mem".to_string(),
        "--http_address=127.0.0.1".to_string(),
        format!("--http_port={}", free_port()),
        format!("--https_port={port}"),
        "--disable_http".to_string(),
        format!("--ssl_cert_file={}", file("server.pem")),
        format!("--ssl_key_file={}", file("server.key")),
        "--hostname=127.0.0.1".to_string(),
        format!("--http_credentials={}:{}", MARATHON_USER.0, MARATHON_USER.1),
        "--mesos_authentication".to_string(),
        "--mesos_authentication_principal=marathon".to_string(),
        format!(
            "--mesos_authentication_secret_file={}",
            secret_file.display()
        ),
    ];
    let proc = Proc::spawn_with_env("marathon", &binary("marathon"), args, env, &root);
    p.procs.push(proc);
    let (user, password) = MARATHON_USER;
    p.ready(
        &format!("https://{user}:{password}@127.0.0.1:{port}/ping"),
        &tls,
    )
    .await;
    let marathon = |path: &str| format!("https://127.0.0.1:{port}{path}");
    let app = json!({"id": "/done-when", "cmd": "sleep 600", "cpus": 0.1, "mem": 16});
    let post_app = |auth: Option<(&str, &str)>| {
        let mut request = tls.post(marathon("/v2/apps")).json(&app);
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        http::send(request)
    };
    for auth in [None, Some((user, "guessed"))] {
        let refused = post_app(auth).await.expect("POST /v2/apps over HTTPS");
        assert_eq!(refused.status, 401, "{auth:?}: {}", refused.body);
        assert_eq!(
            refused.header("www-authenticate"),
            Some("Basic realm=\"Mesosphere\""),
            "{auth:?}"
        );
    }
    let created = post_app(Some(MARATHON_USER)).await.unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    eventually(
        "the app's task runs (Marathon authenticated to the master over TLS)",
        TIMEOUT * 3,
        async || {
            let request = tls
                .get(marathon("/v2/apps/done-when/tasks"))
                .basic_auth(user, Some(password));
            let response = http::send(request).await.ok()?;
            let tasks: Value = serde_json::from_str(&response.body).ok()?;
            (tasks["tasks"][0]["state"] == "TASK_RUNNING").then_some(())
        },
    )
    .await;
    let frameworks: Value = tls
        .get(https("/master/frameworks"))
        .send()
        .await
        .expect("/master/frameworks over TLS")
        .json()
        .await
        .expect("JSON");
    let principals: Vec<&Value> = frameworks["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["principal"])
        .collect();
    assert_eq!(principals, [&json!("marathon")], "{frameworks}");

    // Plain HTTP reaches the master only because of downgrade; Marathon has no HTTP port.
    let plain = plain_client()
        .get(format!("http://127.0.0.1:{master}/version"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("plain HTTP on the downgrading port");
    assert_eq!(plain.status(), 200);
}
