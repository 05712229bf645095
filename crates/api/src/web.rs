//! The web pages and their static files: the agent console, the supervisor
//! and admin pages, the customer widget (its loader script and the chat
//! frame), and the JavaScript SDK they are built on.
//!
//! The files live in `web/` and `sdk/js/src/` and are embedded into the
//! binary (a debug build reads them from disk, so an edit shows on reload).
//! Every page carries a strict Content-Security-Policy: scripts and styles
//! from this server only, no inline script, no plugins; the chat frame may
//! be embedded only by the entry point's allowed origins.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rust_embed::RustEmbed;
use serde::Deserialize;
use switchboard_core::ids::EntryPointId;

use crate::AppState;

#[derive(RustEmbed)]
#[folder = "../../web/"]
#[exclude = "tests/*"]
#[exclude = "*/node_modules/*"]
struct Web;

#[derive(RustEmbed)]
#[folder = "../../sdk/js/src/"]
struct Sdk;

/// The policy of every page, before its `frame-ancestors`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; \
                   media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// The pages served at a folder of their own (`/console/`, …): `web/NAME/index.html`.
pub const PAGES: [&str; 4] = ["console", "supervisor", "admin", "demo"];

pub fn routes() -> axum::Router<AppState> {
    let mut router = axum::Router::new()
        .route("/", axum::routing::get(|| async { Redirect::to("/console/") }))
        .route("/widget.js", axum::routing::get(widget_loader))
        .route("/widget/frame", axum::routing::get(widget_frame))
        .route("/assets/sdk/{*path}", axum::routing::get(sdk_file))
        .route("/assets/{*path}", axum::routing::get(web_file));
    for name in PAGES {
        let slashed = format!("/{name}/");
        router = router
            .route(&format!("/{name}"), axum::routing::get(move || async move { Redirect::permanent(&slashed) }))
            .route(&format!("/{name}/"), axum::routing::get(move |headers: HeaderMap| page(name, headers)));
    }
    // Pages and scripts travel gzipped to browsers that take it (the widget's
    // script loads on every page of a customer's site).
    router.layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

async fn page(name: &'static str, headers: HeaderMap) -> Response {
    html_page(&format!("{name}/index.html"), "'none'", &headers)
}

/// `/widget.js`: the script a site adds to show the chat launcher.
async fn widget_loader(headers: HeaderMap) -> Response {
    match Web::get("widget/loader.js") {
        Some(file) => {
            let mut res = file_response(file, "text/javascript; charset=utf-8", &headers);
            // Sites load it from their own pages: short caching, revalidated by ETag.
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            res
        }
        None => not_found(),
    }
}

#[derive(Deserialize)]
struct FrameQuery {
    entry_point: Option<String>,
}

/// `/widget/frame?entry_point=ept_…`: the chat panel, framed by the loader.
/// Only the entry point's allowed origins may frame it.
async fn widget_frame(State(s): State<AppState>, Query(q): Query<FrameQuery>, headers: HeaderMap) -> Response {
    let entry = match q.entry_point.as_deref().map(EntryPointId::parse) {
        Some(Ok(id)) => s.engine.public_entry_point(id).await.ok(),
        _ => None,
    };
    let Some(entry) = entry else {
        return message_page(StatusCode::NOT_FOUND, "This chat is not available.");
    };
    html_page("widget/frame.html", &frame_ancestors(&entry.allowed_origins), &headers)
}

/// The CSP `frame-ancestors` sources for an entry point's allowed origins.
fn frame_ancestors(origins: &[String]) -> String {
    if origins.iter().any(|o| o == "*") {
        return "*".into();
    }
    // Origins are checked when they are set (scheme, host, port; no spaces
    // or semicolons), so they can be listed as they are.
    let listed: Vec<&str> = origins.iter().map(String::as_str).collect();
    if listed.is_empty() { "'self'".into() } else { format!("'self' {}", listed.join(" ")) }
}

async fn web_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    static_file(Web::get(&path), &path, &headers)
}

async fn sdk_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    static_file(Sdk::get(&path), &path, &headers)
}

fn static_file(file: Option<rust_embed::EmbeddedFile>, path: &str, headers: &HeaderMap) -> Response {
    let (Some(file), Some(kind)) = (file, content_type(path)) else {
        return not_found();
    };
    let mut res = file_response(file, kind, headers);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// Only the kinds of file the pages use are served; anything else is a 404.
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" => "application/json",
        _ => return None,
    })
}

fn html_page(path: &str, frame_ancestors: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Web::get(path) else {
        return not_found();
    };
    let mut res = file_response(file, "text/html; charset=utf-8", headers);
    page_headers(&mut res, frame_ancestors);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

fn page_headers(res: &mut Response, frame_ancestors: &str) {
    let csp = format!("{CSP}; frame-ancestors {frame_ancestors}");
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// The file with its ETag; `304` when the client already has it.
fn file_response(file: rust_embed::EmbeddedFile, kind: &'static str, headers: &HeaderMap) -> Response {
    let hash = file.metadata.sha256_hash();
    // Weak: the same file goes out gzipped or not, byte-for-byte different.
    let etag = format!("W/\"{}\"", hex(&hash[..16]));
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, file.data.into_owned()).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn not_found() -> Response {
    message_page(StatusCode::NOT_FOUND, "Not found.")
}

/// A plain page with one sentence, under the same policy as the others.
fn message_page(status: StatusCode, text: &'static str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchboard</title></head>\
         <body><main><p>{text}</p></main></body></html>"
    );
    let mut res = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    page_headers(&mut res, "'none'");
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_follow_the_allowed_origins() {
        assert_eq!(frame_ancestors(&["*".into()]), "*");
        assert_eq!(frame_ancestors(&[]), "'self'");
        assert_eq!(
            frame_ancestors(&["https://shop.example".into(), "http://localhost:3000".into()]),
            "'self' https://shop.example http://localhost:3000"
        );
    }

    #[test]
    fn only_known_kinds_are_served() {
        assert_eq!(content_type("console/app.js"), Some("text/javascript; charset=utf-8"));
        assert_eq!(content_type("console/index.html"), None);
        assert_eq!(content_type("README"), None);
    }
}
