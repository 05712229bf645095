//! SigV4 against the published AWS test-suite values, and properties: no
//! input makes the parser or the verifier panic, and any change to what
//! was signed fails verification.

use proptest::prelude::*;

use super::*;

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20150830T123600Z";

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

fn suite_now() -> i64 {
    parse_amz_date(AMZ_DATE).unwrap()
}

fn authz(signed: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={signed}, Signature={signature}"
    )
}

#[test]
fn get_vanilla() {
    let h = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", AMZ_DATE)]);
    let req = Request { method: "GET", path: "/", query: "", headers: &h, body: b"" };
    let expected = authz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    assert_eq!(sign(&req, KEY_ID, SECRET, "us-east-1", "service").unwrap(), expected);
    let auth = Authorization::parse(&expected).unwrap();
    let ok = verify(&req, &auth, SECRET, suite_now()).unwrap();
    assert_eq!(
        ok,
        Verified { key_id: KEY_ID.into(), region: "us-east-1".into(), service: "service".into() },
        "the scope is reported"
    );
    assert_eq!(verify(&req, &auth, "another secret", suite_now()), Err(SigError::Mismatch));
}

#[test]
fn post_x_www_form_urlencoded() {
    let h = headers(&[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", AMZ_DATE),
    ]);
    let req = Request { method: "POST", path: "/", query: "", headers: &h, body: b"Param1=value1" };
    let expected =
        authz("content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    assert_eq!(sign(&req, KEY_ID, SECRET, "us-east-1", "service").unwrap(), expected);
    let auth = Authorization::parse(&expected).unwrap();
    assert!(verify(&req, &auth, SECRET, suite_now()).is_ok());
    let other = Request { body: b"Param1=value2", ..req };
    assert_eq!(verify(&other, &auth, SECRET, suite_now()), Err(SigError::Mismatch));
}

#[test]
fn unsigned_headers_may_be_added_but_a_signed_one_may_not_go() {
    let h = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", AMZ_DATE)]);
    let req = Request { method: "GET", path: "/", query: "", headers: &h, body: b"" };
    let auth = Authorization::parse(&sign(&req, KEY_ID, SECRET, "us-east-1", "service").unwrap()).unwrap();
    let more = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", AMZ_DATE), ("User-Agent", "x")]);
    assert!(verify(&Request { headers: &more, ..req }, &auth, SECRET, suite_now()).is_ok());
    let less = headers(&[("X-Amz-Date", AMZ_DATE)]);
    assert!(matches!(verify(&Request { headers: &less, ..req }, &auth, SECRET, suite_now()), Err(SigError::Header(_))));
}

#[test]
fn the_date_must_be_recent_signed_and_the_scopes() {
    let h = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", AMZ_DATE)]);
    let req = Request { method: "GET", path: "/", query: "", headers: &h, body: b"" };
    let header = sign(&req, KEY_ID, SECRET, "us-east-1", "service").unwrap();
    let auth = Authorization::parse(&header).unwrap();
    // Five minutes either way is fine; a second more is not.
    assert!(verify(&req, &auth, SECRET, suite_now() + MAX_SKEW_SECS).is_ok());
    assert!(verify(&req, &auth, SECRET, suite_now() - MAX_SKEW_SECS).is_ok());
    let late = verify(&req, &auth, SECRET, suite_now() + MAX_SKEW_SECS + 1).unwrap_err();
    assert!(matches!(late, SigError::Expired { .. }));
    assert!(late.to_string().contains("Signature expired: x-amz-date 20150830T123600Z"), "{late}");
    assert!(matches!(verify(&req, &auth, SECRET, suite_now() - 3600), Err(SigError::Expired { .. })));

    // Host and the date must be among the signed headers.
    let only_date = Authorization { signed_headers: vec!["x-amz-date".into()], ..auth.clone() };
    assert!(matches!(verify(&req, &only_date, SECRET, suite_now()), Err(SigError::Header(m)) if m.contains("host")));
    let only_host = Authorization { signed_headers: vec!["host".into()], ..auth.clone() };
    assert!(matches!(verify(&req, &only_host, SECRET, suite_now()), Err(SigError::Header(_))));
    // The scope's date is the request's.
    let other_day = Authorization { date: "20150831".into(), ..auth.clone() };
    assert!(matches!(verify(&req, &other_day, SECRET, suite_now()), Err(SigError::BadDate(_))));
    let bad = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", "2015-08-30T12:36:00Z")]);
    assert!(matches!(verify(&Request { headers: &bad, ..req }, &auth, SECRET, suite_now()), Err(SigError::BadDate(_))));
}

#[test]
fn a_content_digest_must_be_the_bodys() {
    let digest = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"; // SHA-256 of Param1=value1
    let h = headers(&[("Host", "h"), ("X-Amz-Date", AMZ_DATE), ("X-Amz-Content-Sha256", digest)]);
    let req = Request { method: "POST", path: "/", query: "", headers: &h, body: b"Param1=value1" };
    let auth = Authorization::parse(&sign(&req, KEY_ID, SECRET, "r", "s").unwrap()).unwrap();
    assert!(verify(&req, &auth, SECRET, suite_now()).is_ok());
    let unsigned = headers(&[("Host", "h"), ("X-Amz-Date", AMZ_DATE), ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")]);
    let req = Request { headers: &unsigned, ..req };
    let auth = Authorization::parse(&sign(&req, KEY_ID, SECRET, "r", "s").unwrap()).unwrap();
    assert!(matches!(verify(&req, &auth, SECRET, suite_now()), Err(SigError::Header(_))));
}

#[test]
fn dates_read_and_write_as_aws_writes_them() {
    assert_eq!(parse_amz_date(AMZ_DATE), Some(1_440_938_160));
    assert_eq!(format_amz_date(1_440_938_160), AMZ_DATE);
    assert_eq!(format_amz_date(0), "19700101T000000Z");
    assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199), "a leap day");
    for bad in ["20230229T000000Z", "20150431T000000Z", "20151301T000000Z", "20150830T240000Z", "2015083OT123600Z"] {
        assert_eq!(parse_amz_date(bad), None, "{bad}");
    }
}

#[test]
fn paths_and_queries_are_canonical() {
    assert_eq!(canonical_path(""), "/");
    assert_eq!(canonical_path("/contact/chat"), "/contact/chat");
    assert_eq!(canonical_path("/a/./b/../c//d/"), "/a/c/d/");
    // The SDKs encode a path once to send it and once more to sign it.
    assert_eq!(canonical_path("/participant/views/view%20tok%2F1"), "/participant/views/view%2520tok%252F1");
    assert_eq!(canonical_query(""), "");
    assert_eq!(canonical_query("b=2&a=z&a=y&c"), "a=y&a=z&b=2&c=");
    assert_eq!(canonical_query("k=a%20b&s=%2a&t=~"), "k=a%20b&s=%2A&t=~");
}

#[test]
fn malformed_headers_say_what_is_wrong() {
    let ok = authz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    assert!(Authorization::parse(&ok).is_ok());
    assert_eq!(Authorization::parse("Bearer x"), Err(SigError::Missing));
    assert_eq!(Authorization::parse("AWS4-HMAC-SHA256x"), Err(SigError::Missing));
    for bad in [
        ok.replace("aws4_request", "aws5_request"),
        ok.replace("/20150830/", "/2015083/"),
        ok.replace("Signature=5fa0", "Signature=5fa"),
        ok.replace("Signature=5fa0", "Signature=zzzz"),
        ok.replace("host;", "Host;"),
        ok.replace("host;", ";"),
        ok.replace("Credential=AKIDEXAMPLE", "Credential="),
        ok.replace(", Signature=", ", Other=1, Signature="),
        format!("{ok}, Signature=00"),
        "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request".to_owned(),
    ] {
        assert!(matches!(Authorization::parse(&bad), Err(SigError::Malformed(_))), "{bad}");
    }
}

fn methods() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "PUT", "POST", "DELETE"])
}

prop_compose! {
    fn requests()(
        method in methods(),
        segments in prop::collection::vec("[a-zA-Z0-9 %._~-]{1,8}", 0..4),
        query in prop::collection::vec(("[a-z]{1,5}", "[a-z0-9 %+]{0,5}"), 0..4),
        extra in prop::collection::vec(("x-[a-z]{1,6}", "[ -~]{0,12}"), 0..3),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) -> (&'static str, String, String, Vec<(String, String)>, Vec<u8>) {
        let path = format!("/{}", segments.join("/"));
        let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let mut headers = vec![("Host".to_owned(), "127.0.0.1:8080".to_owned()), ("X-Amz-Date".to_owned(), AMZ_DATE.to_owned())];
        headers.extend(extra);
        (method, path, query, headers, body)
    }
}

proptest! {
    #[test]
    fn dates_go_there_and_back(unix in -62_135_596_800i64..253_402_300_799) {
        prop_assert_eq!(parse_amz_date(&format_amz_date(unix)), Some(unix));
    }

    #[test]
    fn the_parser_never_panics(s in "\\PC{0,200}") {
        let _ = Authorization::parse(&s);
        let _ = Authorization::parse(&format!("AWS4-HMAC-SHA256 {s}"));
    }

    #[test]
    fn the_parser_never_panics_on_near_misses(
        cred in "[A-Za-z0-9/_]{0,40}",
        signed in "[a-z;-]{0,20}",
        sig in "[0-9a-fA-Fg]{0,70}",
        sep in prop::sample::select(vec![",", ", ", ",,", " "]),
    ) {
        let _ = Authorization::parse(&format!("AWS4-HMAC-SHA256 Credential={cred}{sep}SignedHeaders={signed}{sep}Signature={sig}"));
    }

    #[test]
    fn the_verifier_never_panics(
        (method, path, query, headers, body) in requests(),
        raw_path in "\\PC{0,30}",
        raw_query in "\\PC{0,30}",
        date in "\\PC{0,20}",
        signed in prop::collection::vec("[a-z-]{1,8}", 0..4),
        now in any::<i64>(),
    ) {
        let mut h = headers.clone();
        h.push(("x-amz-date".into(), date));
        let mut signed_headers = signed;
        signed_headers.extend(["host".to_owned(), "x-amz-date".to_owned()]);
        let auth = Authorization {
            key_id: KEY_ID.into(), date: "20150830".into(), region: "r".into(), service: "s".into(),
            signed_headers, signature: [7; 32],
        };
        for (p, q) in [(path.as_str(), query.as_str()), (raw_path.as_str(), raw_query.as_str())] {
            let req = Request { method, path: p, query: q, headers: &h, body: &body };
            let _ = verify(&req, &auth, SECRET, now);
            let _ = sign(&req, KEY_ID, SECRET, "r", "s");
        }
    }

    #[test]
    fn any_change_to_what_was_signed_fails(
        (method, path, query, headers, body) in requests(),
        change in 0usize..6,
        byte in any::<u8>(),
    ) {
        let req = Request { method, path: &path, query: &query, headers: &headers, body: &body };
        let auth = Authorization::parse(&sign(&req, KEY_ID, SECRET, "us-east-1", "connect").unwrap()).unwrap();
        prop_assert!(verify(&req, &auth, SECRET, suite_now()).is_ok());

        let (mut m, mut p, mut q, mut h, mut b) = (method, path.clone(), query.clone(), headers.clone(), body.clone());
        match change {
            0 => m = if method == "GET" { "HEAD" } else { "GET" },
            1 => p.push_str(if p.ends_with('/') { "z" } else { "/z" }),
            2 => q.push_str(if q.is_empty() { "zz=1" } else { "&zz=1" }),
            3 => h[0].1.push('9'),
            4 => b.push(byte),
            _ => match b.first_mut() {
                Some(first) => *first ^= byte | 1,
                None => b.push(byte),
            },
        }
        let changed = Request { method: m, path: &p, query: &q, headers: &h, body: &b };
        prop_assert_eq!(verify(&changed, &auth, SECRET, suite_now()), Err(SigError::Mismatch));
        prop_assert_eq!(verify(&req, &auth, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEx", suite_now()), Err(SigError::Mismatch));
    }
}
