//! Cross-site request forgery: a page on another site can make a visitor's browser POST a
//! form here (answer a task, sign out, call the API), with the visitor's cookie, or with no
//! sign-in at all when no users are configured. Browsers say where such a request comes from
//! (`Origin`, else `Referer`); a state-changing request from another site is refused. A
//! request naming neither is not a browser's cross-site form (AWS SDKs, the aws CLI, curl)
//! and passes. Owns nothing else: who may do what is `access.rs`'s.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::html::error_page;

/// Refuse a state-changing request that a browser says comes from another site.
pub async fn refuse_cross_site(req: Request, next: Next) -> Response {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && cross_site(req.headers()) {
        tracing::info!(path = %req.uri().path(), "refused a request from another site");
        if req.uri().path() == "/" {
            let body = crate::api::ApiError::new(
                "AccessDeniedException",
                "Requests from web pages of other sites are refused (Origin or Referer names another site).",
            )
            .status(403)
            .body();
            return (StatusCode::FORBIDDEN, [("content-type", crate::JSON_CONTENT_TYPE)], body.to_string())
                .into_response();
        }
        return error_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was sent from a page of another site. Open the page on this site and send it from there.",
        );
    }
    next.run(req).await
}

/// Whether the browser says the request comes from a page of another site: its `Origin`
/// (or, without one, its `Referer`) names a host and port other than the `Host` it was sent
/// to. `Origin: null` (sandboxed frames, `data:` pages) is another site.
pub fn cross_site(headers: &HeaderMap) -> bool {
    let source = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER));
    let Some(source) = source else { return false };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (source.to_str().ok().and_then(authority), host) {
        (Some(from), Some(host)) => !from.eq_ignore_ascii_case(host),
        _ => true,
    }
}

/// `host[:port]` of an `http(s)://` URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // user:password@host is not an origin a browser sends: treat it as foreign.
    (!authority.is_empty() && !authority.contains('@')).then_some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn only_the_same_host_and_port_is_this_site() {
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8083")])));
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:8083"), ("origin", "http://127.0.0.1:8083")])));
        assert!(!cross_site(&headers(&[("host", "b.example"), ("referer", "https://B.example/inbox?x")])));
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8083"), ("origin", "http://127.0.0.1:9000")])));
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8083"), ("origin", "null")])));
        assert!(cross_site(&headers(&[("host", "a.example"), ("referer", "http://a.example@evil.example/")])));
        assert!(cross_site(&headers(&[("origin", "http://a.example")])));
        // Origin wins over Referer.
        assert!(cross_site(&headers(&[
            ("host", "a.example"),
            ("origin", "http://evil.example"),
            ("referer", "http://a.example/")
        ])));
    }
}
