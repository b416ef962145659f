//! Media types of the GraphQL endpoint: which request bodies are JSON, and which type a
//! response is written in, chosen from the `Accept` list by its q-values (GraphQL over
//! HTTP: `application/graphql-response+json` when asked for, else `application/json`).

use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, HeaderValue};
use mime::{Mime, MimeIter};

/// The media type a GraphQL response is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/json`: the default (no Accept, `*/*`, `application/*`). Every
    /// request that reaches GraphQL answers 200, errors or not.
    Json,
    /// `application/graphql-response+json`: a request error (unparsable, invalid, bad
    /// variables) answers 4xx, without `data`.
    GraphQLResponseJson,
}

impl ResponseType {
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            ResponseType::Json => "application/json; charset=utf-8",
            ResponseType::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
        })
    }
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Whether a request body of this Content-Type is JSON: `application/json` or any
/// `application/*+json`, in UTF-8 (the default when no charset is given).
pub fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    // What nearly every client sends, decided without parsing.
    if content_type.as_bytes() == b"application/json" {
        return true;
    }
    let Some(mime) = content_type
        .to_str()
        .ok()
        .and_then(|value| value.trim().parse::<Mime>().ok())
    else {
        return false;
    };
    let json = mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    json && in_utf8(&mime)
}

/// No charset parameter, or UTF-8: the only encoding GraphQL over HTTP uses.
fn in_utf8(mime: &Mime) -> bool {
    mime.get_param(mime::CHARSET).is_none_or(|charset| {
        charset.as_str().eq_ignore_ascii_case("utf-8")
            || charset.as_str().eq_ignore_ascii_case("utf8")
    })
}

/// What a request's `Accept` headers allow, for the types this endpoint can answer in.
#[derive(Clone, Copy, Debug)]
pub struct Accept {
    json: Preference,
    graphql_response_json: Preference,
    html: Preference,
}

/// How much a media type is wanted: the q-value of the most specific range of the
/// Accept list that matches it (RFC 9110, 12.5.1), and where that range stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Preference {
    /// 0 to 1000 (q in thousandths); 0 is "not acceptable", as is no matching range.
    quality: u16,
    /// 0 for `*/*`, 1 for `type/*`, 2 for the type itself; None when no range matched.
    specificity: Option<u8>,
    /// The matching range's index in the list.
    position: usize,
}

impl Preference {
    fn consider(&mut self, specificity: u8, quality: u16, position: usize) {
        if self.specificity.is_none_or(|current| specificity > current) {
            *self = Preference {
                quality,
                specificity: Some(specificity),
                position,
            };
        }
    }

    /// Higher quality first, then a range naming the type over a wildcard, then the
    /// range listed first.
    fn beats(&self, other: &Preference) -> bool {
        let key = |preference: &Preference| {
            (
                preference.quality,
                preference.specificity,
                std::cmp::Reverse(preference.position),
            )
        };
        key(self) > key(other)
    }
}

impl Accept {
    /// Reads every `Accept` header; none (or only empty ones) is `*/*`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut accept = Accept {
            json: Preference::default(),
            graphql_response_json: Preference::default(),
            html: Preference::default(),
        };
        let mut position = 0;
        for value in headers.get_all(ACCEPT) {
            let Ok(value) = value.to_str() else {
                continue;
            };
            for range in MimeIter::new(value).filter_map(Result::ok) {
                accept.consider(&range, position);
                position += 1;
            }
        }
        if position == 0 {
            accept.consider(&mime::STAR_STAR, 0);
        }
        accept
    }

    fn consider(&mut self, range: &Mime, position: usize) {
        let Some(quality) = quality(range) else {
            return;
        };
        if !in_utf8(range) {
            return;
        }
        let any_type = range.type_() == mime::STAR;
        let any_subtype = range.subtype() == mime::STAR;
        let specificity = |type_: mime::Name, essence: &str| -> Option<u8> {
            if any_type && any_subtype {
                Some(0)
            } else if range.type_() == type_ && any_subtype {
                Some(1)
            } else if range.essence_str() == essence {
                Some(2)
            } else {
                None
            }
        };
        if let Some(specificity) = specificity(mime::APPLICATION, "application/json") {
            self.json.consider(specificity, quality, position);
        }
        if let Some(specificity) = specificity(mime::APPLICATION, GRAPHQL_RESPONSE_JSON) {
            self.graphql_response_json
                .consider(specificity, quality, position);
        }
        if let Some(specificity) = specificity(mime::TEXT, "text/html") {
            self.html.consider(specificity, quality, position);
        }
    }

    /// The type to answer in, or None when the list allows neither (406). On a tie,
    /// `application/json`, the default.
    pub fn response_type(&self) -> Option<ResponseType> {
        let best = if self.graphql_response_json.beats(&self.json) {
            (
                self.graphql_response_json,
                ResponseType::GraphQLResponseJson,
            )
        } else {
            (self.json, ResponseType::Json)
        };
        (best.0.quality > 0).then_some(best.1)
    }

    /// Whether a page is wanted rather than JSON: `text/html` (or `text/*`) named in
    /// the list, as browsers do, and liked at least as much as either JSON type.
    pub fn prefers_html(&self) -> bool {
        self.html
            .specificity
            .is_some_and(|specificity| specificity > 0)
            && self.html.quality > 0
            && self.html.quality >= self.json.quality
            && self.html.quality >= self.graphql_response_json.quality
    }
}

/// The range's q-value in thousandths (1000 when absent), or None when it is malformed
/// (RFC 9110, 12.4.2: `0` to `1` with at most three decimals); such a range is ignored.
fn quality(range: &Mime) -> Option<u16> {
    let Some(value) = range.get_param("q") else {
        return Some(1000);
    };
    let (whole, fraction) = value
        .as_str()
        .split_once('.')
        .unwrap_or((value.as_str(), ""));
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |sum, digit| sum * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> Accept {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        Accept::from_headers(&headers)
    }

    fn response_type(value: &str) -> Option<ResponseType> {
        accept(&[value]).response_type()
    }

    #[test]
    fn json_answers_no_accept_wildcards_and_json_itself() {
        use ResponseType::Json;
        assert_eq!(accept(&[]).response_type(), Some(Json));
        for value in [
            "*/*",
            "application/*",
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/html, */*;q=0.1",
            "application/json, multipart/mixed",
            "",
        ] {
            assert_eq!(response_type(value), Some(Json), "{value}");
        }
    }

    #[test]
    fn graphql_response_json_answers_when_it_is_preferred() {
        use ResponseType::{GraphQLResponseJson, Json};
        for (value, expected) in [
            ("application/graphql-response+json", GraphQLResponseJson),
            (
                "application/graphql-response+json, application/json;q=0.9",
                GraphQLResponseJson,
            ),
            (
                "application/json;q=0.9, application/graphql-response+json",
                GraphQLResponseJson,
            ),
            (
                "application/graphql-response+json, application/json",
                GraphQLResponseJson,
            ),
            ("application/json, application/graphql-response+json", Json),
            (
                "application/graphql-response+json, */*",
                GraphQLResponseJson,
            ),
            ("*/*, application/graphql-response+json;q=0.5", Json),
            (
                "application/*;q=0.5, application/graphql-response+json;q=0.6",
                GraphQLResponseJson,
            ),
            // The exact type overrides the wildcard's q for it.
            ("application/*, application/json;q=0", GraphQLResponseJson),
        ] {
            assert_eq!(response_type(value), Some(expected), "{value}");
        }
        assert_eq!(
            accept(&["text/html", "application/graphql-response+json"]).response_type(),
            Some(GraphQLResponseJson),
            "several Accept headers make one list"
        );
    }

    #[test]
    fn a_list_allowing_neither_json_type_is_not_acceptable() {
        for value in [
            "text/html",
            "application/xml, text/plain",
            "application/json;q=0, application/graphql-response+json;q=0",
            "*/*;q=0",
            "application/json; charset=iso-8859-1",
            "application/json;q=2",
            "application/json;q=0.1234",
        ] {
            assert_eq!(response_type(value), None, "{value}");
        }
    }

    #[test]
    fn browsers_get_a_page_and_json_clients_do_not() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
        assert!(accept(&[chromium]).prefers_html());
        assert!(accept(&["text/*"]).prefers_html());
        for value in [
            "*/*",
            "application/json",
            "application/json, text/html;q=0.5",
        ] {
            assert!(!accept(&[value]).prefers_html(), "{value}");
        }
        assert!(!accept(&[]).prefers_html());
    }

    #[test]
    fn json_bodies_are_application_json_or_a_json_suffix_in_utf8() {
        let is = |value: &str| is_json(Some(&HeaderValue::from_str(value).unwrap()));
        for value in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON; charset=UTF-8",
            "application/graphql-response+json",
            "application/json;charset=utf8",
        ] {
            assert!(is(value), "{value}");
        }
        for value in [
            "text/plain",
            "application/jsonx",
            "text/json",
            "application/json; charset=latin1",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            assert!(!is(value), "{value}");
        }
        assert!(!is_json(None));
    }
}
