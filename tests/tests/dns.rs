//! `mesos-dns` against a real master and agent: Marathon apps become resolvable by name
//! and SRV (with a real DNS client) at addresses that answer HTTP, leave DNS when they
//! stop, and show in Mesos-DNS's HTTP API; malformed queries get FORMERR; a bad
//! configuration stops the program with a message naming the key.

use std::net::UdpSocket;
use std::time::Duration;

use hickory_resolver::proto::rr::RecordType;
use mesos_tests::marathon::Marathon;
use mesos_tests::mesos_dns::{Answer, MesosDns};
use mesos_tests::{binary, eventually, Cluster, Proc};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

fn config(cluster: &Cluster) -> Value {
    json!({
        "masters": [cluster.master_addr()],
        "externalon": false,
        "ttl": 5,
        "refreshSeconds": 60,
        "IPSources": ["netinfo", "mesos", "host"]
    })
}

/// The addresses of `name` once it has any.
async fn resolved(dns: &MesosDns, name: &str) -> Vec<String> {
    eventually(&format!("{name} to resolve"), LONG, async || {
        match dns.ask(name, RecordType::A).await {
            Answer::Records(r) if !r.is_empty() => Some(r),
            _ => None,
        }
    })
    .await
}

async fn http_body(address: &str) -> Option<String> {
    let r = reqwest::Client::new()
        .get(format!("http://{address}/"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    r.status().is_success().then_some(())?;
    r.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marathon_app_resolves_by_name_and_srv_and_leaves_dns_when_killed() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let dns = MesosDns::start(cluster.root(), config(&cluster)).await;

    // Masters and agents are named at once.
    assert_eq!(
        dns.ask("leader.mesos.", RecordType::A).await,
        Answer::Records(vec!["127.0.0.1".into()])
    );
    assert_eq!(
        dns.ask("master.mesos.", RecordType::A).await,
        Answer::Records(vec!["127.0.0.1".into()])
    );
    assert_eq!(
        dns.ask("slave.mesos.", RecordType::A).await,
        Answer::Records(vec!["127.0.0.1".into()])
    );
    let leader_srv = dns.ask("_leader._tcp.mesos.", RecordType::SRV).await;
    assert_eq!(
        leader_srv,
        Answer::Records(vec![format!("0 1 {} leader.mesos.", cluster.master_port)])
    );

    let app = json!({
        "id": "/prod/web", "cpus": 0.1, "mem": 32, "instances": 1,
        "cmd": "cd \"$MESOS_SANDBOX\" && echo dns-ok > index.html && exec /usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1",
        "portDefinitions": [{"port": 0, "name": "http"}]
    });
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tasks = marathon.wait_running("/prod/web", 1, LONG).await;
    let host_port = tasks[0]["ports"][0].as_u64().unwrap();

    // Group /prod, app web: web-prod.marathon.mesos, on the agent's address.
    let a = resolved(&dns, "web-prod.marathon.mesos.").await;
    assert_eq!(a, ["127.0.0.1"]);
    // Case does not matter.
    assert_eq!(
        dns.ask("WEB-PROD.Marathon.MESOS.", RecordType::A).await,
        Answer::Records(vec!["127.0.0.1".into()])
    );

    let Answer::Records(srv) = dns
        .ask("_web-prod._tcp.marathon.mesos.", RecordType::SRV)
        .await
    else {
        panic!("no SRV answer");
    };
    assert_eq!(srv.len(), 1, "{srv:?}");
    let fields: Vec<&str> = srv[0].split(' ').collect();
    assert_eq!(fields[2], host_port.to_string(), "{srv:?}");
    let target = fields[3];
    assert!(
        target.starts_with("web-prod-") && target.ends_with("-s0.marathon.mesos."),
        "{target}"
    );
    // The SRV target resolves, and address plus port answer HTTP.
    let Answer::Records(target_a) = dns.ask(target, RecordType::A).await else {
        panic!("SRV target {target} does not resolve");
    };
    let address = format!("{}:{}", target_a[0], fields[2]);
    let body = eventually("the app over HTTP at its DNS address", LONG, async || {
        http_body(&address).await
    })
    .await;
    assert!(body.contains("dns-ok"), "{body}");
    // The named port and the .slave form too.
    assert!(matches!(
        dns.ask("_http._web-prod._tcp.marathon.mesos.", RecordType::SRV).await,
        Answer::Records(r) if r.len() == 1
    ));
    assert!(matches!(
        dns.ask("_web-prod._tcp.marathon.slave.mesos.", RecordType::SRV).await,
        Answer::Records(r) if r.len() == 1
    ));

    // Mesos-DNS's HTTP API.
    let version = dns.get("/v1/version").await.json();
    assert_eq!(version["Service"], "Mesos-DNS");
    assert_eq!(version["URL"], "https://github.com/mesosphere/mesos-dns");
    let config = dns.get("/v1/config").await.json();
    assert_eq!(config["Domain"], "mesos");
    assert_eq!(config["TTL"], 5);
    assert_eq!(config["HttpPort"], dns.http_port);
    assert_eq!(config["Masters"], json!([cluster.master_addr()]));
    let hosts = dns.get("/v1/hosts/web-prod.marathon.mesos").await.json();
    assert_eq!(
        hosts,
        json!([{"host": "web-prod.marathon.mesos.", "ip": "127.0.0.1"}])
    );
    let services = dns
        .get("/v1/services/_web-prod._tcp.marathon.mesos.")
        .await
        .json();
    assert_eq!(
        services,
        json!([{"service": "_web-prod._tcp.marathon.mesos.", "host": target,
                "ip": "127.0.0.1", "port": host_port.to_string()}])
    );
    let none = dns.get("/v1/hosts/nothing.marathon.mesos").await.json();
    assert_eq!(none, json!([{"host": "", "ip": ""}]));
    let none = dns
        .get("/v1/services/_nothing._tcp.marathon.mesos")
        .await
        .json();
    assert_eq!(
        none,
        json!([{"service": "", "host": "", "ip": "", "port": ""}])
    );
    let enumerate = dns.get("/v1/enumerate").await.json();
    let frameworks = enumerate["frameworks"].as_array().unwrap();
    assert!(
        frameworks.iter().any(|f| f["name"] == "marathon"
            && f["tasks"][0]["records"]
                .as_array()
                .is_some_and(|r| !r.is_empty())),
        "{enumerate}"
    );
    let r = dns.get("/v1/nothing").await;
    assert_eq!(r.status, 404);
    assert!(r.json()["message"].is_string());
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/v1/version", dns.http_port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    // A name outside the domain with forwarding off is refused, not made up.
    assert!(matches!(
        dns.ask("example.com.", RecordType::A).await,
        Answer::Error(_)
    ));

    // Killed: gone from DNS.
    let r = marathon.send("DELETE", "/v2/apps/prod/web", None).await;
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    eventually("web-prod.marathon.mesos to disappear", LONG, async || {
        (dns.ask("web-prod.marathon.mesos.", RecordType::A).await == Answer::Nothing).then_some(())
    })
    .await;
    assert_eq!(
        dns.ask("_web-prod._tcp.marathon.mesos.", RecordType::SRV)
            .await,
        Answer::Nothing
    );
}

/// A question with a readable header but a body that is not a DNS message.
fn garbage_after_header(id: u16) -> Vec<u8> {
    let mut packet = id.to_be_bytes().to_vec();
    // RD set, one question, then a label that runs past the end of the message.
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63, b'x', b'y']);
    packet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_get_formerr_and_the_server_keeps_answering() {
    let cluster = Cluster::master_only().await;
    let dns = MesosDns::start(cluster.root(), config(&cluster)).await;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let server = format!("127.0.0.1:{}", dns.dns_port);
    let mut buffer = [0u8; 4096];

    socket
        .send_to(&garbage_after_header(0x1234), &server)
        .unwrap();
    let (n, _) = socket
        .recv_from(&mut buffer)
        .expect("an answer to a malformed query");
    assert!(n >= 12);
    assert_eq!(&buffer[..2], &[0x12, 0x34], "same id");
    assert_eq!(buffer[2] & 0x80, 0x80, "a response");
    assert_eq!(buffer[3] & 0x0f, 1, "FORMERR");

    // Two questions in one message: FORMERR too.
    let mut two = vec![0x00, 0x07, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0];
    for _ in 0..2 {
        two.extend_from_slice(&[5, b'm', b'e', b's', b'o', b's', 0, 0, 1, 0, 1]);
    }
    socket.send_to(&two, &server).unwrap();
    let (n, _) = socket
        .recv_from(&mut buffer)
        .expect("an answer to two questions");
    assert!(n >= 12 && buffer[3] & 0x0f == 1, "{:?}", &buffer[..n]);

    // Shorter than a header, and random bytes: no crash.
    socket.send_to(&[1, 2, 3], &server).unwrap();
    for seed in 0..200u32 {
        let junk: Vec<u8> = (0..(seed % 60))
            .map(|i| (seed.wrapping_mul(2_654_435_761).wrapping_add(i * 40_503) >> 7) as u8)
            .collect();
        socket.send_to(&junk, &server).unwrap();
    }
    eventually("answers after the junk", Duration::from_secs(10), async || {
        matches!(dns.ask("leader.mesos.", RecordType::A).await, Answer::Records(r) if !r.is_empty())
            .then_some(())
    })
    .await;
    assert!(dns.get("/v1/version").await.status == 200);
}

#[tokio::test]
async fn a_bad_configuration_stops_mesos_dns_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (r#"{"masters": ["127.0.0.1:5050"], "ttl": "sixty"}"#, "TTL"),
        (r#"{"masters": ["127.0.0.1"]}"#, "illegal host:port"),
        (
            r#"{"zk": "", "masters": []}"#,
            "specify Mesos masters or Zookeeper",
        ),
        (
            r#"{"masters": ["127.0.0.1:5050"], "IPSources": ["cni"]}"#,
            "invalid ip source",
        ),
        ("not json", "failed to unmarshal"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.json"));
        std::fs::write(&path, text).unwrap();
        let mut proc = Proc::spawn(
            &format!("mesos-dns-bad-{i}"),
            &binary("mesos-dns"),
            vec![format!("-config={}", path.display())],
            dir.path(),
        );
        let status = proc
            .wait_exit(Duration::from_secs(10))
            .await
            .expect("mesos-dns exits on a bad configuration");
        assert!(!status.success(), "{text}");
        assert!(proc.stderr().contains(want), "{text}: {}", proc.stderr());
    }
    let mut proc = Proc::spawn(
        "mesos-dns-missing",
        &binary("mesos-dns"),
        vec!["-config=/nonexistent/config.json".into()],
        dir.path(),
    );
    let status = proc.wait_exit(Duration::from_secs(10)).await.unwrap();
    assert!(!status.success());
    assert!(proc.stderr().contains("-config"), "{}", proc.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_on_a_docker_user_network_resolves_to_its_container_address() {
    use mesos_tests::docker::{docker, docker_cluster, ContainerCleanup, IMAGE};
    let cluster = docker_cluster().await;
    let _cleanup = ContainerCleanup::new(&cluster.agent_id(0).await);
    let network = format!("mesos-dns-test-{}", cluster.master_port);
    let (created, _, err) = docker(&["network", "create", &network]);
    assert!(created, "docker network create: {err}");
    struct RemoveNetwork(String);
    impl Drop for RemoveNetwork {
        /// Runs before the container cleanup (dropped first): the app's container still
        /// holds the network, so it goes first.
        fn drop(&mut self) {
            let filter = format!("network={}", self.0);
            let (_, ids, _) = docker(&["ps", "-aq", "--filter", &filter]);
            for id in ids.split_whitespace() {
                docker(&["rm", "-f", id]);
            }
            docker(&["network", "rm", &self.0]);
        }
    }
    let _network = RemoveNetwork(network.clone());
    let marathon = Marathon::start(&cluster, &[]).await;
    let dns = MesosDns::start(cluster.root(), config(&cluster)).await;

    let app = json!({
        "id": "/overlay/api", "cpus": 0.1, "mem": 32, "instances": 1,
        "cmd": "mkdir -p /www && echo user-net > /www/index.html && exec busybox httpd -f -p 8080 -h /www",
        "networks": [{"mode": "container", "name": network}],
        "container": {"type": "DOCKER", "docker": {"image": IMAGE},
            "portMappings": [{"containerPort": 8080, "name": "http"}]}
    });
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    marathon.wait_running("/overlay/api", 1, LONG).await;

    let a = resolved(&dns, "api-overlay.marathon.mesos.").await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_ne!(
        a[0], "127.0.0.1",
        "the container's address, not the agent's"
    );
    let (_, inspected, _) = docker(&["network", "inspect", &network]);
    assert!(
        inspected.contains(&format!("\"{}/", a[0])),
        "{} not in {network}: {inspected}",
        a[0]
    );
    let body = eventually("the app at its container address", LONG, async || {
        http_body(&format!("{}:8080", a[0])).await
    })
    .await;
    assert!(body.contains("user-net"), "{body}");
    // Marathon shows the same address in the task's ipAddresses; the mapping without a
    // hostPort took no host port, and PORT0 is the container port.
    let tasks = marathon.tasks("/overlay/api").await;
    let ips: Vec<&str> = tasks[0]["ipAddresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["ipAddress"].as_str())
        .collect();
    assert_eq!(ips, [a[0].as_str()], "{tasks:?}");
    assert_eq!(tasks[0]["ports"], json!([]), "{tasks:?}");

    // A network Docker does not know: the launch fails with a message saying so.
    let lost = json!({
        "id": "/overlay/lost", "cpus": 0.1, "mem": 32, "instances": 1, "cmd": "sleep 100",
        "networks": [{"mode": "container", "name": format!("{network}-missing")}],
        "container": {"type": "DOCKER", "docker": {"image": IMAGE}}
    });
    let r = marathon.send("POST", "/v2/apps", Some(&lost)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let failure = eventually("the failed launch", LONG, async || {
        let app = marathon.get("/v2/apps/overlay/lost").await.json();
        let failure = app["app"]["lastTaskFailure"].clone();
        failure.is_object().then_some(failure)
    })
    .await;
    assert_eq!(failure["state"], "TASK_FAILED", "{failure}");
    let message = failure["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&format!(
            "Docker network '{network}-missing' does not exist"
        )),
        "{failure}"
    );
    let r = marathon
        .send("DELETE", "/v2/apps/overlay/lost?force=true", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The agent's address stays under .slave.
    assert_eq!(
        dns.ask("api-overlay.marathon.slave.mesos.", RecordType::A)
            .await,
        Answer::Records(vec!["127.0.0.1".into()])
    );
}
