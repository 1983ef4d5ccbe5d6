//! TLS on the listeners (LIBPROCESS_SSL_*) and the limits every listener has, with the
//! real binaries: a master, an agent and a framework (mesos-execute) over TLS with
//! certificates checked both ways; downgrade (plain and TLS on one port); plain-text and
//! wrongly certified clients refused and logged once; slow clients cut after the header
//! timeout, and slow bodies after the body timeout (408), without starving others.
//! Certificates come from `scripts/test-ca.sh`.

use std::time::Duration;

use mesos_tests::tls::{active_agents, https_client, make_certs, plain_client, tls_env, Processes};
use mesos_tests::{binary, eventually, free_port, run_command, Proc, TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn master_agent_and_framework_speak_tls_with_certificates_checked_both_ways() {
    let mut p = Processes::new();
    let certs = make_certs(p.root());
    let env = tls_env(&certs, &[("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true")]);
    let client = https_client(&certs, Some("client"));
    let master = p.master(env.clone(), &[], &client).await;
    p.agent(master, env.clone(), &[], &client).await;
    let state = format!("https://127.0.0.1:{master}/master/state");
    eventually("the agent registered over TLS", TIMEOUT, async || {
        (active_agents(&client, &state).await == 1).then_some(())
    })
    .await;

    // An unmodified v1 framework (mesos-execute) with the same settings runs a task.
    let args = vec![
        format!("--master=127.0.0.1:{master}"),
        "--name=over-tls".to_string(),
        "--command=true".to_string(),
    ];
    let output = run_command(&binary("mesos-execute"), &args, &env, TIMEOUT * 3).await;
    assert!(output.success(), "mesos-execute over TLS\n{output}");
    assert!(output.stdout.contains("TASK_FINISHED"), "{output}");

    // Refused: no client certificate, one from another CA, and plain text. A server
    // signed by another CA is refused by the client.
    let refused = [
        ("no client certificate", https_client(&certs, None)),
        (
            "a certificate of another CA",
            https_client(&certs, Some("rogue")),
        ),
    ];
    for (what, client) in refused {
        for _ in 0..3 {
            let answer = client.get(&state).send().await;
            assert!(answer.is_err(), "{what}: {answer:?}");
        }
    }
    for _ in 0..3 {
        let answer = plain_client()
            .get(format!("http://127.0.0.1:{master}/master/state"))
            .send()
            .await;
        assert!(answer.is_err(), "plain text on a TLS-only port: {answer:?}");
    }
    // Logged once per peer, not per attempt (the client's own handshake failures of the
    // three attempts above are not logged again).
    let log = p.log(0);
    assert_eq!(
        log.matches("plain-text connection on a TLS-only port")
            .count(),
        0,
        "the first refusal of this peer was a handshake: later ones are quiet\n{log}"
    );
    assert_eq!(
        log.matches("refused a connection").count(),
        1,
        "one line for this peer\n{log}"
    );

    // The framework refuses a master whose certificate another CA signed.
    let rogue = tls_env(
        &certs,
        &[
            (
                "LIBPROCESS_SSL_CERT_FILE",
                &certs.join("rogue.pem").display().to_string(),
            ),
            (
                "LIBPROCESS_SSL_KEY_FILE",
                &certs.join("rogue.key").display().to_string(),
            ),
            (
                "LIBPROCESS_SSL_CA_FILE",
                &certs.join("rogue-ca.pem").display().to_string(),
            ),
        ],
    );
    let output = run_command(
        &binary("mesos-execute"),
        &args,
        &rogue,
        Duration::from_secs(8),
    )
    .await;
    assert!(
        !output.success(),
        "a master of another CA is not trusted\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn downgrade_serves_plain_text_and_tls_on_one_port() {
    let mut p = Processes::new();
    let certs = make_certs(p.root());
    let env = tls_env(&certs, &[("LIBPROCESS_SSL_SUPPORT_DOWNGRADE", "true")]);
    let tls = https_client(&certs, None);
    let master = p.master(env, &[], &tls).await;
    // A plain agent (not yet upgraded) registers with the downgrading master.
    p.agent(master, Vec::new(), &[], &plain_client()).await;
    let plain = plain_client();
    for (client, scheme) in [(&plain, "http"), (&tls, "https")] {
        let url = format!("{scheme}://127.0.0.1:{master}/master/state");
        eventually(
            &format!("{scheme} sees the plain agent"),
            TIMEOUT,
            async || (active_agents(client, &url).await == 1).then_some(()),
        )
        .await;
    }
    let env_file = |name: &str| certs.join(name).display().to_string();
    let missing = [(
        "LIBPROCESS_SSL_CERT_FILE".to_string(),
        env_file("nonexistent.pem"),
    )];
    // A TLS setting that cannot be used stops the process at start, naming the variable.
    let mut env = tls_env(&certs, &[]);
    env.retain(|(k, _)| k != "LIBPROCESS_SSL_CERT_FILE");
    env.extend(missing);
    let args = vec![
        "--ip=127.0.0.1".to_string(),
        format!("--port={}", free_port()),
        format!("--work_dir={}", p.root().join("m2").display()),
    ];
    let output = run_command(&binary("mesos-master"), &args, &env, TIMEOUT).await;
    assert!(!output.success(), "{output}");
    assert!(
        output.stderr.contains("LIBPROCESS_SSL_CERT_FILE"),
        "the error names the variable\n{output}"
    );
}

/// Sends `request` one byte a second; returns how many bytes went out before the server
/// closed the connection (all of them if it never did).
async fn trickle(port: u16, request: &'static [u8]) -> usize {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return 0;
    };
    let mut sent = 0;
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            return sent;
        }
        sent += 1;
        // A closed connection shows as EOF (or a reset) on read.
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return sent,
            Ok(Ok(_)) => return sent,
            Err(_) => {}
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_after_the_header_timeout_and_do_not_starve_others() {
    let mut p = Processes::new();
    let env = vec![
        (
            "LIBPROCESS_HTTP_HEADER_TIMEOUT".to_string(),
            "3secs".to_string(),
        ),
        (
            "LIBPROCESS_HTTP_MAX_PENDING_PER_PEER".to_string(),
            "16".to_string(),
        ),
    ];
    let plain = plain_client();
    let master = p.master(env, &[], &plain).await;
    // 40 bytes at one a second would take 40 s: far more than the 3 s header timeout.
    const REQUEST: &[u8] = b"GET /master/state HTTP/1.1\r\nHost: x\r\n\r\n\0\0";
    let slow: Vec<_> = (0..64)
        .map(|_| tokio::spawn(trickle(master, REQUEST)))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Meanwhile normal requests are answered.
    for _ in 0..5 {
        let r = plain
            .get(format!("http://127.0.0.1:{master}/master/state"))
            .send()
            .await
            .expect("a normal client is served while slow ones trickle");
        assert_eq!(r.status(), 200);
    }
    for handle in slow {
        let sent = handle.await.expect("trickle task");
        assert!(
            sent < REQUEST.len(),
            "a slow client was cut before it finished its request (sent {sent})"
        );
    }
    // A connection that never sends anything is closed too.
    let mut idle = TcpStream::connect(("127.0.0.1", master))
        .await
        .expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(TIMEOUT, idle.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection is closed: {read:?}"
    );
}

/// Sends `head` at once, then a body of `BODY_BYTES` one byte a second; returns how many
/// body bytes went out and what the server answered before it closed the connection.
async fn trickle_body(port: u16, head: String) -> (usize, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("headers");
    let mut answer = Vec::new();
    let mut sent = 0;
    let mut buf = [0u8; 1024];
    while sent < BODY_BYTES {
        if stream.write_all(b"x").await.is_err() {
            break;
        }
        sent += 1;
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    // The rest of the answer, up to the close.
    while let Ok(Ok(n)) = tokio::time::timeout(TIMEOUT, stream.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    (sent, String::from_utf8_lossy(&answer).into_owned())
}

/// 600 bytes at one a second would take 10 minutes.
const BODY_BYTES: usize = 600;

fn post_head(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {BODY_BYTES}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_bodies_are_cut_after_the_body_timeout_with_408_and_do_not_starve_others() {
    let mut p = Processes::new();
    let env = vec![(
        "LIBPROCESS_HTTP_BODY_TIMEOUT".to_string(),
        "3secs".to_string(),
    )];
    let plain = plain_client();
    let master = p.master(env.clone(), &[], &plain).await;
    let agent = p.agent(master, env.clone(), &[], &plain).await;
    let marathon = free_port();
    let args = vec![
        format!("--master=127.0.0.1:{master}"),
        "--disable_ha".to_string(),
        "--internal_store_backend=mem".to_string(),
        "--http_address=127.0.0.1".to_string(),
        format!("--http_port={marathon}"),
        "--hostname=127.0.0.1".to_string(),
    ];
    let proc = Proc::spawn_with_env("marathon", &binary("marathon"), args, env, p.root());
    p.procs.push(proc);
    p.ready(&format!("http://127.0.0.1:{marathon}/ping"), &plain)
        .await;
    // Every listener: the master's operator API, the agent's, Marathon's apps.
    let targets = [
        (master, "/api/v1"),
        (agent, "/api/v1"),
        (marathon, "/v2/apps"),
    ];
    let slow: Vec<_> = targets
        .iter()
        .flat_map(|&(port, path)| (0..8).map(move |_| (port, path)))
        .map(|(port, path)| tokio::spawn(trickle_body(port, post_head(path))))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Meanwhile normal requests are answered.
    for (port, path) in ["/master/state", "/state", "/v2/apps"]
        .iter()
        .enumerate()
        .map(|(i, path)| (targets[i].0, *path))
    {
        let r = plain
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .expect("a normal client is served while slow bodies trickle");
        assert_eq!(r.status(), 200, "{path} on {port}");
    }
    for handle in slow {
        let (sent, answer) = handle.await.expect("trickle task");
        assert!(
            sent < BODY_BYTES,
            "a slow body was cut before it was all sent (sent {sent})"
        );
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "a slow body is answered 408 while an answer is still possible: {answer:?}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "and the connection closes: {answer:?}"
        );
    }
    // A prompt body on a new connection is served as ever.
    let r = plain
        .post(format!("http://127.0.0.1:{master}/api/v1"))
        .header("Accept", "application/json")
        .json(&serde_json::json!({"type": "GET_HEALTH"}))
        .send()
        .await
        .expect("GET_HEALTH");
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn marathon_serves_https_only_and_reaches_a_tls_master() {
    let mut p = Processes::new();
    let certs = make_certs(p.root());
    let env = tls_env(&certs, &[]);
    let client = https_client(&certs, Some("client"));
    let master = p.master(env.clone(), &[], &client).await;
    p.agent(master, env.clone(), &[], &client).await;
    let (http_port, https_port) = (free_port(), free_port());
    let file = |name: &str| certs.join(name).display().to_string();
    let args = vec![
        format!("--master=127.0.0.1:{master}"),
        "--disable_ha".to_string(),
        "--internal_store_backend=mem".to_string(),
        "--http_address=127.0.0.1".to_string(),
        format!("--http_port={http_port}"),
        format!("--https_port={https_port}"),
        "--hostname=127.0.0.1".to_string(),
        "--disable_http".to_string(),
        format!("--ssl_cert_file={}", file("server.pem")),
        format!("--ssl_key_file={}", file("server.key")),
    ];
    // LIBPROCESS_SSL_* makes Marathon reach the master over TLS, as libmesos would.
    let proc = Proc::spawn_with_env("marathon", &binary("marathon"), args.clone(), env, p.root());
    p.procs.push(proc);
    p.ready(&format!("https://127.0.0.1:{https_port}/ping"), &client)
        .await;
    let app = serde_json::json!({"id": "/tls", "cmd": "sleep 600", "cpus": 0.1, "mem": 16});
    let created = client
        .post(format!("https://127.0.0.1:{https_port}/v2/apps"))
        .json(&app)
        .send()
        .await
        .expect("POST /v2/apps over HTTPS");
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let tasks = format!("https://127.0.0.1:{https_port}/v2/apps/tls/tasks");
    eventually(
        "the app's task runs (Marathon -> TLS master -> TLS agent)",
        TIMEOUT * 2,
        async || {
            let r = client.get(&tasks).send().await.ok()?;
            let body: serde_json::Value = r.json().await.ok()?;
            (body["tasks"][0]["state"] == "TASK_RUNNING").then_some(())
        },
    )
    .await;
    // --disable_http: nothing listens on the HTTP port.
    assert!(
        TcpStream::connect(("127.0.0.1", http_port)).await.is_err(),
        "the HTTP port is closed"
    );
    // Neither HTTP nor HTTPS: Marathon stops at start naming the flag.
    let mut none = args;
    none.retain(|a| !a.starts_with("--ssl_"));
    let output = run_command(&binary("marathon"), &none, &[], TIMEOUT).await;
    assert!(!output.success(), "{output}");
    assert!(output.stderr.contains("disable_http"), "{output}");
}
