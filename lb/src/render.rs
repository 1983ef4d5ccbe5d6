//! The HAProxy configuration text of a [`Plan`], in marathon-lb's layout: a global and
//! defaults head, the virtual-host frontend (`marathon_http_in`), the app-id frontend
//! (`marathon_http_appid_in`, routing on `X-Marathon-App-Id`), then one frontend and one
//! backend per service. Same plan, same text: the driver reloads only when it differs.

use std::fmt::Write;

use crate::labels::Mode;
use crate::services::{clean_name, Plan, Service};

/// Where the configuration puts what is not per app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The runtime API socket (also hands the listeners to the next process on reload).
    pub stats_socket: String,
    /// The servers' states saved before a reload and loaded by the new process, so a server
    /// a check or a connection error marked down, or one set to drain, stays so (marathon-lb's
    /// `server-state-file`).
    pub server_state_file: String,
    /// Port of the virtual-host frontend (marathon-lb: 80); `None`: not bound.
    pub vhost_port: Option<u16>,
    /// Port of the app-id frontend (marathon-lb: 9091); `None`: not bound.
    pub appid_port: Option<u16>,
    /// Address the shared frontends bind to (`*` for all).
    pub bind_addr: String,
}

/// marathon-lb's global and default settings, less what needs files this program does not
/// write (syslog, Lua, TLS) and less a global `maxconn`: HAProxy derives that from the
/// open-file limit, where a fixed 50000 needs 100k descriptors and fails to start below.
///
/// Retries as marathon-lb's: `retries 3` on connection failures, then another server.
/// One difference: `option redispatch 1` sends every retry to another server, where
/// marathon-lb's `option redispatch` waits for the last one; a server that refused a
/// connection (a task gone, or not listening yet) is not worth three more tries. No
/// `retry-on` past connection failures (marathon-lb sets none): replaying a request a
/// server took but did not answer is not safe for every method, so the leaving tasks are
/// drained before they stop instead (see `drain`).
fn head(layout: &Layout) -> String {
    format!(
        "global
  stats socket {socket} mode 600 level admin expose-fd listeners
  stats timeout 2m
  server-state-file {state}
defaults
  load-server-state-from-file global
  retries 3
  backlog 10000
  maxconn 10000
  timeout connect 3s
  timeout client 30s
  timeout server 30s
  timeout tunnel 3600s
  timeout http-keep-alive 1s
  timeout http-request 15s
  timeout queue 30s
  timeout tarpit 60s
  option dontlognull
  option http-server-close
  option redispatch 1
  option tcp-smart-accept
  option tcp-smart-connect
",
        socket = layout.stats_socket,
        state = layout.server_state_file
    )
}

/// The configuration for `plan`.
pub fn render(plan: &Plan, layout: &Layout) -> String {
    let mut out = head(layout);
    let vhosted: Vec<&Service> = plan
        .services
        .iter()
        .filter(|s| !s.vhosts.is_empty())
        .collect();
    if let (Some(port), false) = (layout.vhost_port, vhosted.is_empty()) {
        let _ = write!(
            out,
            "\nfrontend marathon_http_in\n  bind {}:{port}\n  mode http\n",
            layout.bind_addr
        );
        for s in &vhosted {
            // One ACL name per app; several host lines under one name match any of them.
            let acl = format!(
                "host_{}_{}",
                clean_name(&s.vhosts[0]),
                s.app_id.trim_start_matches('/').replace('/', "_")
            );
            for host in &s.vhosts {
                let _ = writeln!(out, "  acl {acl} hdr(host) -i {host}");
            }
            let _ = writeln!(out, "  use_backend {} if {acl}", s.name);
        }
    }
    let http: Vec<&Service> = first_http_service_per_app(plan);
    if let (Some(port), false) = (layout.appid_port, http.is_empty()) {
        let _ = write!(
            out,
            "\nfrontend marathon_http_appid_in\n  bind {}:{port}\n  mode http\n",
            layout.bind_addr
        );
        for s in http {
            let acl = format!("app_{}", clean_name(&s.app_id));
            let _ = writeln!(out, "  acl {acl} hdr(x-marathon-app-id) -i {}", s.app_id);
            let _ = writeln!(out, "  use_backend {} if {acl}", s.name);
        }
    }
    for s in &plan.services {
        let _ = write!(
            out,
            "\nfrontend {name}\n  bind {addr}:{port}\n  mode {mode}\n  use_backend {name}\n",
            name = s.name,
            addr = s.bind_addr,
            port = s.port,
            mode = s.mode.as_str()
        );
    }
    for s in &plan.services {
        backend(&mut out, s);
    }
    out
}

/// Only an app's first HTTP port is reachable by app id (marathon-lb's rule).
fn first_http_service_per_app(plan: &Plan) -> Vec<&Service> {
    let mut seen = std::collections::BTreeSet::new();
    plan.services
        .iter()
        .filter(|s| s.mode == Mode::Http && seen.insert(s.app_id.as_str()))
        .collect()
}

fn backend(out: &mut String, s: &Service) {
    let _ = write!(
        out,
        "\nbackend {}\n  balance {}\n  mode {}\n",
        s.name,
        s.balance,
        s.mode.as_str()
    );
    if s.mode == Mode::Http {
        out.push_str(
            "  option forwardfor\n  http-request set-header X-Forwarded-Port %[dst_port]\n  http-request add-header X-Forwarded-Proto https if { ssl_fc }\n",
        );
    }
    // HAProxy's own checks follow the app's Marathon health check, as marathon-lb's do;
    // without one, a TCP connect check. Either way a server that refuses a connection (a
    // task not listening yet though RUNNING, or one just gone) is marked down at once and
    // the connection is redispatched (`option redispatch 1`); checks every second while it
    // is down bring it back.
    let check = s.health_check.as_ref().and_then(|hc| {
        let tcp = s.mode == Mode::Tcp || hc.is_tcp();
        if !tcp && !hc.is_http() {
            return None;
        }
        if !tcp {
            let _ = write!(
                out,
                "  option  httpchk GET {}\n  timeout check {}s\n",
                check_path(&hc.path),
                hc.timeout_seconds
            );
        }
        let port = hc.port.map(|p| format!(" port {p}")).unwrap_or_default();
        Some(format!(
            " check inter {}s fall {}{port}",
            hc.interval_seconds.max(1),
            hc.max_consecutive_failures + 1
        ))
    });
    let check = format!(
        "{} rise 1 downinter 1s observe layer4 error-limit 1 on-error mark-down",
        check.as_deref().unwrap_or(" check inter 1s fall 1")
    );
    for server in &s.servers {
        let addr = match server.ip {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            v4 => v4.to_string(),
        };
        let _ = writeln!(
            out,
            "  server {} {addr}:{}{}{}",
            server.name,
            server.port,
            check,
            if server.backup { " backup" } else { "" }
        );
    }
}

/// A health check path as one configuration word (Marathon validates paths loosely).
fn check_path(path: &str) -> String {
    let clean: String = path
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '#')
        .collect();
    if clean.starts_with('/') {
        clean
    } else {
        format!("/{clean}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::plan;
    use crate::services::tests::{app, http_check, settings, task};

    fn layout() -> Layout {
        Layout {
            stats_socket: "/run/lb/haproxy.sock".into(),
            server_state_file: "/run/lb/haproxy.state".into(),
            vhost_port: Some(80),
            appid_port: Some(9091),
            bind_addr: "*".into(),
        }
    }

    /// The text after the global/defaults head.
    fn body(text: &str) -> &str {
        let at = text.find("\nfrontend").unwrap_or(text.len());
        &text[at..]
    }

    #[test]
    fn a_tcp_app_gets_a_frontend_and_a_backend() {
        let apps = [app("/prod/db", &[10000])
            .task(task("b", &[31001]))
            .task(task("a", &[31000]))
            .build()];
        let text = render(&plan(&apps, &settings(&["*"])), &layout());
        assert!(text.starts_with("global\n"));
        assert!(text.contains(
            "stats socket /run/lb/haproxy.sock mode 600 level admin expose-fd listeners"
        ));
        assert!(text.contains("server-state-file /run/lb/haproxy.state\n"));
        assert!(text.contains("defaults\n  load-server-state-from-file global\n"));
        assert_eq!(
            body(&text),
            "
frontend prod_db_10000
  bind *:10000
  mode tcp
  use_backend prod_db_10000

backend prod_db_10000
  balance roundrobin
  mode tcp
  server 127_0_0_1_31000 127.0.0.1:31000 check inter 1s fall 1 rise 1 downinter 1s observe layer4 error-limit 1 on-error mark-down
  server 127_0_0_1_31001 127.0.0.1:31001 check inter 1s fall 1 rise 1 downinter 1s observe layer4 error-limit 1 on-error mark-down
"
        );
    }

    #[test]
    fn vhosts_route_on_the_shared_http_frontends() {
        let mut t = task("w", &[31000]);
        t.alive = vec![true];
        let apps = [
            app("/web", &[10000])
                .label("HAPROXY_0_VHOST", "Web.Example.com,www.example.com")
                .label("HAPROXY_0_BALANCE", "leastconn")
                .check(http_check())
                .task(t)
                .build(),
            app("/raw", &[10001])
                .label("HAPROXY_0_BIND_ADDR", "127.0.0.2")
                .task(task("r", &[31001]))
                .build(),
        ];
        let text = render(&plan(&apps, &settings(&["*"])), &layout());
        assert_eq!(
            body(&text),
            "
frontend marathon_http_in
  bind *:80
  mode http
  acl host_web_example_com_web hdr(host) -i web.example.com
  acl host_web_example_com_web hdr(host) -i www.example.com
  use_backend web_10000 if host_web_example_com_web

frontend marathon_http_appid_in
  bind *:9091
  mode http
  acl app__web hdr(x-marathon-app-id) -i /web
  use_backend web_10000 if app__web

frontend raw_10001
  bind 127.0.0.2:10001
  mode tcp
  use_backend raw_10001

frontend web_10000
  bind *:10000
  mode http
  use_backend web_10000

backend raw_10001
  balance roundrobin
  mode tcp
  server 127_0_0_1_31001 127.0.0.1:31001 check inter 1s fall 1 rise 1 downinter 1s observe layer4 error-limit 1 on-error mark-down

backend web_10000
  balance leastconn
  mode http
  option forwardfor
  http-request set-header X-Forwarded-Port %[dst_port]
  http-request add-header X-Forwarded-Proto https if { ssl_fc }
  option  httpchk GET /health
  timeout check 5s
  server 127_0_0_1_31000 127.0.0.1:31000 check inter 10s fall 4 rise 1 downinter 1s observe layer4 error-limit 1 on-error mark-down
"
        );
        // Without the shared frontends' ports, only the service ports are bound.
        let mut bare = layout();
        bare.vhost_port = None;
        bare.appid_port = None;
        let text = render(&plan(&apps, &settings(&["*"])), &bare);
        assert!(!text.contains("marathon_http"));
    }

    #[test]
    fn the_same_apps_give_the_same_text() {
        let a = [
            app("/b", &[10001]).task(task("1", &[31001])).build(),
            app("/a", &[10000]).task(task("2", &[31000])).build(),
        ];
        let mut reversed = a.clone();
        reversed.reverse();
        let s = settings(&["*"]);
        assert_eq!(
            render(&plan(&a, &s), &layout()),
            render(&plan(&reversed, &s), &layout())
        );
    }

    #[test]
    fn a_bad_label_leaves_the_other_apps_text_alone() {
        let good = app("/good", &[10000]).task(task("g", &[31000])).build();
        let bad = app("/bad", &[10001])
            .label("HAPROXY_0_VHOST", "bad host")
            .task(task("b", &[31001]))
            .build();
        let s = settings(&["*"]);
        let alone = render(&plan(std::slice::from_ref(&good), &s), &layout());
        let p = plan(&[good, bad], &s);
        assert_eq!(render(&p, &layout()), alone);
        assert_eq!(p.skipped.len(), 1);
    }

    #[test]
    fn check_paths_stay_one_word() {
        assert_eq!(check_path("health"), "/health");
        assert_eq!(check_path("/a b#c"), "/abc");
    }
}
