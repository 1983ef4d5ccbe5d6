//! Two Marathons and two Mesos masters electing leaders through a real ZooKeeper: the
//! standby proxies to the leader, and kill -9 of either leader loses no app and restarts
//! no task.

use std::time::{Duration, Instant};

use mesos_tests::eventually;
use mesos_tests::marathon::{task_ids, Marathon};
use mesos_tests::zookeeper::{HaCluster, HaOptions};
use serde_json::json;

const LONG: Duration = Duration::from_secs(60);
/// Marathon's `--zk_session_timeout` here, in milliseconds.
const SESSION_MS: u64 = 4000;

async fn marathon(cluster: &HaCluster) -> Marathon {
    Marathon::start_ha(cluster, SESSION_MS).await
}

/// Index of the Marathon that says it leads, once both agree on it.
async fn leader_of(marathons: &[&Marathon]) -> usize {
    eventually("one leading Marathon, named by all", LONG, async || {
        let mut named = vec![];
        for m in marathons {
            let r = m.get("/v2/leader").await;
            if r.status != 200 {
                return None;
            }
            named.push(r.json()["leader"].as_str()?.to_string());
        }
        if named.windows(2).any(|w| w[0] != w[1]) {
            return None;
        }
        marathons
            .iter()
            .position(|m| named[0] == format!("127.0.0.1:{}", m.port))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_proxies_and_a_killed_leader_hands_over_without_restarting_tasks() {
    let mut cluster = HaCluster::start(HaOptions {
        zookeepers: 1,
        masters: 2,
        agents: 1,
        ..HaOptions::default()
    })
    .await;
    let mut a = marathon(&cluster).await;
    let mut b = marathon(&cluster).await;
    let leader = leader_of(&[&a, &b]).await;
    let (lead, standby) = if leader == 0 {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    // Through the standby: proxied, with the leader named.
    let app = json!({"id": "ha", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2});
    let r = standby.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("X-Marathon-Leader"),
        Some(format!("http://127.0.0.1:{}", lead.port).as_str())
    );
    let before = task_ids(&standby.wait_running("/ha", 2, LONG).await);
    // The event stream is the leader's: a standby redirects its clients there.
    let r = mesos_tests::http::raw_request(
        &format!("127.0.0.1:{}", standby.port),
        "GET /v2/events?event_type=api_post_event HTTP/1.1\r\nHost: x\r\n\
         Accept: text/event-stream\r\nConnection: close\r\n\r\n"
            .to_string(),
        vec![],
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(r.status, 302, "{}", r.head);
    assert_eq!(
        r.header("location"),
        Some(format!(
            "http://127.0.0.1:{}/v2/events?event_type=api_post_event",
            lead.port
        ))
    );
    let info = standby.get("/v2/info").await.json();
    assert_eq!(info["elected"], false);
    assert_eq!(info["leader"], format!("127.0.0.1:{}", lead.port));

    // Abdication (asked of the standby, passed on to the leader) hands leadership over.
    let r = standby.send("DELETE", "/v2/leader", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"], "Leadership abdicated");
    let (lead, standby) = (standby, lead);
    eventually("leadership moved by the abdication", LONG, async || {
        let r = lead.get("/v2/leader").await;
        (r.status == 200 && r.json()["leader"] == format!("127.0.0.1:{}", lead.port)).then_some(())
    })
    .await;
    let stable = task_ids(&standby.wait_running("/ha", 2, LONG).await);
    assert_eq!(stable, before, "no task restarted by the abdication");

    // kill -9 of the leading Marathon: the standby serves within the session timeout.
    lead.proc.kill9();
    let killed = Instant::now();
    eventually("the standby leads", LONG, async || {
        let r = standby.get("/v2/leader").await;
        (r.status == 200 && r.json()["leader"] == format!("127.0.0.1:{}", standby.port))
            .then_some(())
    })
    .await;
    let apps = eventually("the apps served by the new leader", LONG, async || {
        let r = standby.get("/v2/apps").await;
        (r.status == 200).then(|| r.json())
    })
    .await;
    let took = killed.elapsed();
    eprintln!("Marathon failover: /v2/apps served {took:?} after kill -9 of the leader");
    assert_eq!(apps["apps"][0]["id"], "/ha");
    let after = task_ids(&standby.wait_running("/ha", 2, LONG).await);
    assert_eq!(before, after, "no task restarted by the Marathon failover");

    // kill -9 of the leading Mesos master: the other takes over, the tasks stay.
    let mesos_leader = cluster.wait_for_leader().await;
    cluster.masters[mesos_leader].proc.kill9();
    eventually("another Mesos master leads", LONG, async || {
        let leaders = cluster.leaders().await;
        (leaders.len() == 1 && leaders[0] != mesos_leader).then_some(())
    })
    .await;
    // Marathon re-subscribes to the new master and still knows the same two tasks.
    eventually("Marathon subscribed to the new master", LONG, async || {
        let state = cluster
            .master_state(cluster.leaders().await.first().copied()?)
            .await?;
        let marathon = state["frameworks"]
            .as_array()?
            .iter()
            .find(|f| f["name"] == "marathon" && f["active"] == true)?
            .clone();
        (marathon["tasks"].as_array()?.len() == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = standby.get("/v2/apps/ha").await;
    assert_eq!(r.status, 200, "the app survives the Mesos failover");
    assert_eq!(task_ids(&standby.tasks("/ha").await), before);
    let _ = &mut cluster;
}
