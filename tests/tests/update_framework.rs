//! UPDATE_FRAMEWORK: a subscribed framework changes its FrameworkInfo in place.

use mesos_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_framework_changes_info_and_refuses_fixed_fields() {
    let cluster = Cluster::master_only().await;
    let sched = cluster.subscribe("before-update").await;
    let mut info = framework_info("after-update");
    info["id"] = json!({ "value": sched.framework_id });
    info["failover_timeout"] = json!(120.0);
    let (status, body) = sched
        .call(json!({
            "type": "UPDATE_FRAMEWORK",
            "update_framework": { "framework_info": info }
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    let state = cluster.master_state().await;
    let framework = &state["frameworks"][0];
    assert_eq!(framework["name"], "after-update");
    assert_eq!(framework["failover_timeout"], 120.0);

    let mut other_user = info.clone();
    other_user["user"] = json!("somebody-else");
    let (status, body) = sched
        .call(json!({
            "type": "UPDATE_FRAMEWORK",
            "update_framework": { "framework_info": other_user }
        }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_readable(status, &body);

    let mut wrong_id = info.clone();
    wrong_id["id"] = json!({ "value": "not-this-framework" });
    let (status, body) = sched
        .call(json!({
            "type": "UPDATE_FRAMEWORK",
            "update_framework": { "framework_info": wrong_id }
        }))
        .await;
    assert_eq!(status, 400, "{body}");
}
