//! Offer flow control: DECLINE filters, REVIVE, SUPPRESS.

use std::time::{Duration, Instant};

use mesos_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_resources_come_back_after_refuse_seconds() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("decline-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();

    let declined_at = Instant::now();
    sched.decline(offer_id(&offer), 1.0).await;
    let (at, again) = sched
        .wait_for_offer_received("the declined resources offered again", TIMEOUT, |o| {
            offer_agent_id(o) == agent_id
        })
        .await;
    let waited = at.duration_since(declined_at);
    assert!(
        waited >= Duration::from_millis(950),
        "declined resources were re-offered {waited:?} after a 1 s refusal"
    );
    assert_ne!(offer_id(&again), offer_id(&offer));
    assert_eq!(scalar_of(&again["resources"], "cpus"), 2.0, "{again}");
    assert_eq!(scalar_of(&again["resources"], "mem"), 1024.0, "{again}");
    assert_eq!(
        ranges_of(&again["resources"], "ports"),
        vec![(31000, 31100)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revive_brings_back_resources_declined_for_long() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("revive-test").await;
    let offer = sched.next_offer().await;
    sched.decline(offer_id(&offer), 3600.0).await;
    sched
        .expect_none(
            "an offer during a one-hour refusal",
            Duration::from_secs(2),
            |e| event_type(e) == "OFFERS",
        )
        .await;

    sched.revive().await;
    let again = sched.next_offer().await;
    assert_eq!(offer_agent_id(&again), offer_agent_id(&offer));
    assert_eq!(scalar_of(&again["resources"], "cpus"), 2.0, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppress_stops_offers_until_revive() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("suppress-test").await;
    let offer = sched.next_offer().await;

    sched.suppress().await;
    // The resources go back to the pool with no filter; only SUPPRESS keeps them away.
    sched.decline(offer_id(&offer), 0.0).await;
    sched
        .expect_none("an offer while suppressed", Duration::from_secs(3), |e| {
            event_type(e) == "OFFERS"
        })
        .await;

    sched.revive().await;
    let again = sched.next_offer().await;
    assert_eq!(offer_agent_id(&again), offer_agent_id(&offer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frameworks_never_get_the_same_resources() {
    let cluster = Cluster::start().await;
    let mut first = cluster.subscribe("share-test-1").await;
    let offer = first.next_offer().await;
    let mut second = cluster.subscribe("share-test-2").await;
    // While the first framework holds the whole agent, the second gets nothing of it.
    second
        .expect_none(
            "an offer of resources already offered",
            Duration::from_secs(2),
            |e| event_type(e) == "OFFERS",
        )
        .await;
    first.decline(offer_id(&offer), 3600.0).await;
    let offered = second.next_offer().await;
    assert_eq!(offer_agent_id(&offered), offer_agent_id(&offer));
    assert_eq!(scalar_of(&offered["resources"], "cpus"), 2.0, "{offered}");
}
