//! The web dashboards: the master's on port 5050 and Marathon's on port 8080.
//!
//! Plain HTML, CSS, JavaScript modules and SVG from `assets/`, embedded in the binary at
//! build time (`build.rs` writes the table), so the dashboards work offline: no build
//! step, no CDN, no external font. The pages call only the public APIs any client uses
//! (the master's state endpoints and operator API, an agent's `/files`, Marathon's `/v2`).
//!
//! ```text
//!  assets/*.{html,css,js,svg} ──build.rs──▶ ASSETS (name, bytes, ETag)
//!                                                 │
//!  browser ──GET /, /ui/<name>──▶ router(Site) ──▶ serve: Content-Type, ETag / 304,
//!                                                        Cache-Control, CSP
//!  page (ES modules) ──fetch──▶ /master/*, /api/v1, agent /files/*, /v2/* (+ /v2/events)
//! ```
//!
//! Asset layout: `master.html` + `master.js` and `marathon.html` + `marathon.js` are the
//! two single-page apps (hash routes, `#/agents/<id>`); `lib.js` holds what both share
//! (DOM building with text nodes only, API calls and their errors, paging, charts,
//! dialogs, banners); `style.css` and `icons.svg` are shared too.
#![forbid(unsafe_code)]

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// `(file name, content, ETag)` of every file in `assets/`, sorted by name.
static ASSETS: &[(&str, &[u8], &str)] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Which dashboard a server mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// `mesos-master`: the page at `/`, the files under `/ui/`.
    Master,
    /// `marathon`: the page at `/ui/` (`/` redirects there, as Marathon does).
    Marathon,
}

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub name: &'static str,
    pub bytes: &'static [u8],
    /// A strong validator: a quoted hash of the content.
    pub etag: &'static str,
}

impl Asset {
    pub fn content_type(&self) -> &'static str {
        match self.name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html") => "text/html; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("json") => "application/json",
            _ => "application/octet-stream",
        }
    }
}

/// The embedded file called `name` (no directories: the assets are one flat folder).
pub fn asset(name: &str) -> Option<Asset> {
    ASSETS
        .binary_search_by(|(n, _, _)| n.cmp(&name))
        .ok()
        .map(|i| {
            let (name, bytes, etag) = ASSETS[i];
            Asset { name, bytes, etag }
        })
}

/// Every embedded file.
pub fn assets() -> impl Iterator<Item = Asset> {
    ASSETS
        .iter()
        .map(|&(name, bytes, etag)| Asset { name, bytes, etag })
}

/// Policy for the pages: scripts and styles only from this server (an injected
/// `<script>` or inline handler does not run), fetches anywhere over HTTP (the master's
/// pages read agents' files on their own ports), no framing (no clickjacking of the
/// destroy buttons).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' http: https:; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Answers a GET for the asset `name`: 200 with the content, 304 when the client's
/// `If-None-Match` names the current ETag, 404 for an unknown name. Browsers revalidate
/// every time (`no-cache`), so a new binary's assets are seen at once, while unchanged
/// ones cost a 304.
pub fn serve(name: &str, request_headers: &HeaderMap) -> Response {
    let Some(asset) = asset(name) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("No such file in the dashboard: {name}"),
        )
            .into_response();
    };
    let matches = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == asset.etag
        });
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type()),
    );
    if asset.name.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    (StatusCode::OK, headers, asset.bytes).into_response()
}

/// The routes of `site`'s dashboard, to merge into the server's router.
pub fn router<S: Clone + Send + Sync + 'static>(site: Site) -> Router<S> {
    let files = get(
        |axum::extract::Path(name): axum::extract::Path<String>, headers: HeaderMap| async move {
            serve(&name, &headers)
        },
    );
    let router = Router::new().route("/ui/{*name}", files);
    match site {
        Site::Master => router.route(
            "/",
            get(|h: HeaderMap| async move { serve("master.html", &h) }),
        ),
        Site::Marathon => router
            .route("/", get(|| async { Redirect::to("ui/") }))
            .route("/ui", get(|| async { Redirect::to("ui/") }))
            .route(
                "/ui/",
                get(|h: HeaderMap| async move { serve("marathon.html", &h) }),
            ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(site: Site, path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        router::<()>(site)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn pages_and_files_are_served_with_their_types() {
        let cases = [
            (Site::Master, "/", 200, Some("text/html; charset=utf-8")),
            (
                Site::Master,
                "/ui/master.js",
                200,
                Some("text/javascript; charset=utf-8"),
            ),
            (
                Site::Master,
                "/ui/style.css",
                200,
                Some("text/css; charset=utf-8"),
            ),
            (Site::Master, "/ui/icons.svg", 200, Some("image/svg+xml")),
            (
                Site::Master,
                "/ui/nothing.js",
                404,
                Some("text/plain; charset=utf-8"),
            ),
            (
                Site::Marathon,
                "/ui/",
                200,
                Some("text/html; charset=utf-8"),
            ),
            (
                Site::Marathon,
                "/ui/marathon.js",
                200,
                Some("text/javascript; charset=utf-8"),
            ),
            (Site::Marathon, "/", 303, None),
            (Site::Marathon, "/ui", 303, None),
        ];
        for (site, path, status, content_type) in cases {
            let r = get(site, path, None).await;
            assert_eq!(r.status(), status, "{site:?} {path}");
            let ct = r
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap());
            assert_eq!(ct, content_type, "{site:?} {path}");
        }
        let r = get(Site::Marathon, "/", None).await;
        assert_eq!(r.headers()[header::LOCATION], "ui/");
    }

    #[tokio::test]
    async fn unchanged_files_are_revalidated_with_their_etag() {
        let first = get(Site::Master, "/ui/lib.js", None).await;
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        let again = get(Site::Master, "/ui/lib.js", Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let weak = get(
            Site::Master,
            "/ui/lib.js",
            Some(&format!("\"x\", W/{etag}")),
        )
        .await;
        assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
        let other = get(Site::Master, "/ui/lib.js", Some("\"0\"")).await;
        assert_eq!(other.status(), StatusCode::OK);
        // Another file has another tag.
        let css = get(Site::Master, "/ui/style.css", None).await;
        assert_ne!(css.headers()[header::ETAG].to_str().unwrap(), etag);
    }

    #[tokio::test]
    async fn pages_forbid_inline_scripts_and_framing() {
        let r = get(Site::Master, "/", None).await;
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    /// The pages are plain files: every module a page or module imports is embedded, and
    /// nothing is loaded from another host.
    #[test]
    fn every_referenced_file_is_embedded_and_local() {
        for a in assets() {
            let text = std::str::from_utf8(a.bytes).expect("text asset");
            // Scripts build links to agents and task ports and SVG names its namespace,
            // but no page or style loads anything from another host.
            let markup = a.name.ends_with(".html") || a.name.ends_with(".css");
            assert!(
                !(markup && text.contains("://")),
                "{} links another host",
                a.name
            );
            assert!(!text.contains("https://"), "{} links another host", a.name);
            for quote in ['"', '\''] {
                for piece in text.split(quote).skip(1).step_by(2) {
                    let file = piece.split('#').next().unwrap_or("");
                    let file = file.strip_prefix("./").unwrap_or(file);
                    let file = file.strip_prefix("ui/").unwrap_or(file);
                    let local = !file.contains([':', ' ', '/', '$', '{']);
                    let asset_like = [".js", ".css", ".svg"].iter().any(|e| file.ends_with(e));
                    if local && asset_like {
                        assert!(asset(file).is_some(), "{} refers to missing {file}", a.name);
                    }
                }
            }
        }
    }

    /// Pages build their DOM from text nodes: no asset assigns markup from a string.
    #[test]
    fn no_asset_parses_strings_as_markup() {
        for a in assets().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.bytes).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!text.contains(sink), "{} uses {sink}", a.name);
            }
        }
    }
}
