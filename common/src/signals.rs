//! How the binaries learn to stop: SIGINT from a terminal or SIGTERM from systemd both
//! end a process gracefully (deleting its election znode at once, flushing state), where a
//! SIGKILL would leave that to timeouts.

/// Completes at the first SIGINT or SIGTERM.
pub async fn stop_requested() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
