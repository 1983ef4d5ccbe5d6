//! Roles: static reservations go only to their role, offers carry allocation_info, and
//! weights from --weights show in /master/roles.

use mesos_tests::*;
use serde_json::json;

fn reserved_cpus(offer: &serde_json::Value, role: &str) -> f64 {
    offer["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "cpus")
        .filter(|r| {
            r["reservations"]
                .as_array()
                .and_then(|s| s.last())
                .map(|last| last["role"] == role)
                .unwrap_or(false)
        })
        .map(|r| r["scalar"]["value"].as_f64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_reservations_are_offered_only_to_their_role() {
    let cluster = Cluster::start_with(ClusterOptions {
        agent_resources: "cpus:2;cpus(web):1;mem:1024;disk:1024;ports:[31000-31100]".to_string(),
        master_flags: vec!["--weights=web=2.0".to_string()],
        ..Default::default()
    })
    .await;

    let mut info = framework_info("web-framework");
    info["role"] = json!("web");
    let mut web = cluster.subscribe_with(info).await;
    let offer = web.next_offer().await;
    assert_eq!(offer["allocation_info"]["role"], "web", "{offer}");
    for r in offer["resources"].as_array().unwrap() {
        assert_eq!(r["allocation_info"]["role"], "web", "{r}");
    }
    assert_eq!(reserved_cpus(&offer, "web"), 1.0, "{offer}");
    // Hold the offer: everything unreserved is now with `web`; a `*` framework gets
    // nothing, and in particular never the reservation.
    let mut other = cluster.subscribe("star-framework").await;
    other
        .expect_none(
            "an offer to the * framework",
            std::time::Duration::from_secs(2),
            |e| e["type"] == "OFFERS",
        )
        .await;
    // Declined by web, the unreserved part may go to `*`, the reservation may not.
    web.decline(offer_id(&offer), 3600.0).await;
    let star_offer = other.next_offer().await;
    assert_eq!(star_offer["allocation_info"]["role"], "*");
    assert_eq!(reserved_cpus(&star_offer, "web"), 0.0, "{star_offer}");
    assert_eq!(
        scalar_of(&star_offer["resources"], "cpus"),
        2.0,
        "{star_offer}"
    );

    let roles = mesos_tests::http::get_json(&cluster.master_url("/master/roles")).await;
    let web_role = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web")
        .expect("role web listed");
    assert_eq!(web_role["weight"], 2.0);
}
