//! The operators' dashboard (`GET /admin`): a static page whose script signs in and
//! reads and changes everything through the GraphQL API as the signed-in admin, so the
//! page itself holds no data and needs no access rule of its own. Its files, Chart.js
//! included, are embedded from assets/admin (no CDN).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Scripts only from this server: the page's own files, nothing inline.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                      img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                      base-uri 'none'; form-action 'none'";

pub async fn page() -> Response {
    let mut response = super::static_file(
        include_bytes!("../../assets/admin/index.html"),
        "text/html",
        "no-cache",
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match name.as_str() {
        "admin.js" => (
            include_bytes!("../../assets/admin/admin.js"),
            "text/javascript",
        ),
        "admin.css" => (include_bytes!("../../assets/admin/admin.css"), "text/css"),
        "chart.umd.min.js" => (
            include_bytes!("../../assets/admin/chart.umd.min.js"),
            "text/javascript",
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    };
    // The page's own script changes with storyxp: revalidate; Chart.js is versioned.
    let cache = if name == "chart.umd.min.js" {
        "public, max-age=86400"
    } else {
        "no-cache"
    };
    super::static_file(body, content_type, cache)
}
