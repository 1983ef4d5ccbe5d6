//! The one rule every binary's log filter shares.

/// The `tracing` filter for a binary: the user's (from its log-level variable) or `info`,
/// always with the ZooKeeper client held at warnings. That client logs every reconnect
/// attempt and, at info and below, its `ConnectResponse` with the session password, a
/// secret that must never reach a log. Naming `zookeeper_async` yourself overrides this.
pub fn filter(user: Option<String>) -> String {
    let base = user
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "info".to_string());
    if base.contains("zookeeper_async") {
        base
    } else {
        format!("{base},zookeeper_async=warn")
    }
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn the_zookeeper_client_stays_at_warnings_unless_named() {
        assert_eq!(filter(None), "info,zookeeper_async=warn");
        assert_eq!(filter(Some(" ".into())), "info,zookeeper_async=warn");
        assert_eq!(filter(Some("debug".into())), "debug,zookeeper_async=warn");
        assert_eq!(
            filter(Some("debug,zookeeper_async=trace".into())),
            "debug,zookeeper_async=trace"
        );
    }
}
