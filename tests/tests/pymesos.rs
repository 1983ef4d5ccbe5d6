//! pymesos (PyPI 0.3.15, unmodified; `scripts/client-venv.sh` installs it) as a
//! third-party framework against a master that authenticates frameworks: its
//! `MesosSchedulerDriver(principal=, secret=)` sends HTTP Basic on SUBSCRIBE and on every
//! call, so the right secret runs a task to TASK_FINISHED and a wrong one gets the
//! master's 401, which pymesos raises as `Failed with HTTP 401: b'401 Unauthorized.'`.

use mesos_tests::credentials::credentials_file;
use mesos_tests::python_clients::{client_python, run_pymesos};
use mesos_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymesos_runs_a_task_with_its_secret_and_is_refused_with_a_wrong_one() {
    let Some(python) = client_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials_file(
        dir.path(),
        "credentials",
        &[("pymesos", "py-secret"), ("ops", "ops-secret")],
    );
    let cluster = Cluster::start_with(ClusterOptions {
        master_flags: vec![
            format!("--credentials={creds}"),
            "--authenticate_frameworks".into(),
        ],
        ..Default::default()
    })
    .await;

    let ok = run_pymesos(&python, &cluster.master_addr(), "pymesos", "py-secret").await;
    assert!(ok.success(), "pymesos with its secret\n{ok}");
    assert!(ok.stdout.contains("outcome: TASK_FINISHED"), "{ok}");
    // The framework ran as its principal, and pymesos's TEARDOWN (also authenticated)
    // ended it.
    let frameworks = http::get_json(&cluster.master_url("/master/frameworks")).await;
    let completed = frameworks["completed_frameworks"].as_array().unwrap();
    assert_eq!(completed.len(), 1, "{frameworks}");
    assert_eq!(completed[0]["principal"], "pymesos", "{frameworks}");
    assert_eq!(completed[0]["name"], "pymesos-one-task", "{frameworks}");

    // A wrong secret, and a principal the master does not know: the master answers
    // SUBSCRIBE with 401, pymesos raises it and never registers.
    for (principal, secret) in [("pymesos", "guessed"), ("nobody", "py-secret")] {
        let refused = run_pymesos(&python, &cluster.master_addr(), principal, secret).await;
        assert_eq!(refused.status.and_then(|s| s.code()), Some(1), "{refused}");
        assert!(
            refused.stdout.contains(
                "pymesos raised RuntimeError: Failed with HTTP 401: b'401 Unauthorized.'"
            ),
            "{principal}:{secret}\n{refused}"
        );
        assert!(!refused.stdout.contains("registered as"), "{refused}");
    }
    let frameworks = http::get_json(&cluster.master_url("/master/frameworks")).await;
    assert_eq!(
        frameworks["frameworks"],
        serde_json::json!([]),
        "{frameworks}"
    );
    assert_eq!(
        frameworks["completed_frameworks"].as_array().map(Vec::len),
        Some(1),
        "{frameworks}"
    );
}
