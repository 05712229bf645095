//! AWS Signature Version 4, checked on requests signed by a workspace
//! access key (the Connect control plane).
//!
//! Only the `Authorization` header form is taken (no presigned URLs). The
//! steps are AWS's: the canonical request (method, the path with each
//! segment percent-encoded again, the query sorted and re-encoded, the
//! signed headers lower-cased with their values trimmed, the body's
//! SHA-256), the string to sign over its digest and the credential scope,
//! the key derived from the secret through the date, region and service,
//! and the HMAC compared in constant time. What this adds of its own:
//! `x-amz-date` must be within [`MAX_SKEW_SECS`] of now and match the
//! scope's date, `host` must be signed, and an `x-amz-content-sha256` that
//! is sent must be the body's digest (no `UNSIGNED-PAYLOAD`). Any region
//! and service are accepted and reported, as a self-hosted endpoint has
//! neither of its own.
//!
//! [`sign`] makes such a header; tests and other back ends use it.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The one algorithm spoken.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `x-amz-date` may be from the server's clock, either way.
pub const MAX_SKEW_SECS: i64 = 5 * 60;
/// Longest `Authorization` header looked at.
const MAX_HEADER_LEN: usize = 4096;

/// Why a request's signature was not accepted. The text is safe to show
/// the caller: it never includes the secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigError {
    /// No `Authorization` header, or not one of ours.
    Missing,
    /// The header could not be read; says what was wrong with it.
    Malformed(String),
    /// `x-amz-date` is missing or unreadable.
    BadDate(String),
    /// `x-amz-date` is too far from now.
    Expired { amz_date: String, now: String },
    /// A header the signature needs is absent or not signed.
    Header(String),
    /// The signature does not match the request.
    Mismatch,
}

impl fmt::Display for SigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "the request must be signed with AWS Signature Version 4 ({ALGORITHM})"),
            Self::Malformed(why) => write!(f, "malformed Authorization header: {why}"),
            Self::BadDate(why) => write!(f, "{why}"),
            Self::Expired { amz_date, now } => write!(
                f,
                "Signature expired: x-amz-date {amz_date} is more than {} minutes from the server's time {now}",
                MAX_SKEW_SECS / 60
            ),
            Self::Header(why) => write!(f, "{why}"),
            Self::Mismatch => write!(
                f,
                "The request signature we calculated does not match the signature you provided. \
                 Check your secret access key and signing method."
            ),
        }
    }
}

impl std::error::Error for SigError {}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub key_id: String,
    /// The scope's date, `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, in the order signed.
    pub signed_headers: Vec<String>,
    pub signature: [u8; 32],
}

impl Authorization {
    /// Reads the header's value.
    pub fn parse(value: &str) -> Result<Self, SigError> {
        let bad = |why: &str| SigError::Malformed(why.to_owned());
        if value.len() > MAX_HEADER_LEN {
            return Err(bad("too long"));
        }
        let value = value.trim();
        let Some(rest) = value.strip_prefix(ALGORITHM) else {
            return Err(SigError::Missing);
        };
        if !rest.starts_with(' ') {
            return Err(SigError::Missing);
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (name, v) = part.trim().split_once('=').ok_or_else(|| bad("each part must be Name=value"))?;
            let slot = match name.trim() {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return Err(bad("only Credential, SignedHeaders and Signature may be given")),
            };
            if slot.replace(v.trim()).is_some() {
                return Err(bad("a part is given twice"));
            }
        }
        let credential = credential.ok_or_else(|| bad("Credential is missing"))?;
        let signed = signed.ok_or_else(|| bad("SignedHeaders is missing"))?;
        let signature = signature.ok_or_else(|| bad("Signature is missing"))?;

        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, date, region, service, terminator] = scope[..] else {
            return Err(bad("Credential must be KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"));
        };
        if terminator != "aws4_request" {
            return Err(bad("the credential scope must end with aws4_request"));
        }
        if key_id.is_empty() || region.is_empty() || service.is_empty() {
            return Err(bad("the credential's key id, region and service must not be empty"));
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the credential's date must be YYYYMMDD"));
        }
        let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
        if signed_headers.iter().any(|h| h.is_empty() || h.bytes().any(|b| !is_header_name_byte(b))) {
            return Err(bad("SignedHeaders must be lower-case header names separated by ';'"));
        }
        let signature = decode_hex32(signature).ok_or_else(|| bad("Signature must be 64 hexadecimal digits"))?;
        Ok(Self {
            key_id: key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature,
        })
    }
}

fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A request as it arrived (or is about to be sent).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (already percent-encoded once).
    pub path: &'a str,
    /// The query string as sent, without `?` (empty if none).
    pub query: &'a str,
    /// Every header, names in any case; a name may repeat.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The values of a header, in order.
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a good signature established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: String,
    pub region: String,
    pub service: String,
}

/// Checks what can be checked before the secret is looked up: `host` and
/// `x-amz-date` are signed, and the date is readable, is the scope's, and is
/// within [`MAX_SKEW_SECS`] of `now_unix` (seconds). [`verify`] does it too.
pub fn precheck(req: &Request<'_>, auth: &Authorization, now_unix: i64) -> Result<(), SigError> {
    for needed in ["host", "x-amz-date"] {
        if !auth.signed_headers.iter().any(|h| h == needed) {
            return Err(SigError::Header(format!("the {needed} header must be signed")));
        }
    }
    let amz_date = req.header("x-amz-date").ok_or_else(|| SigError::BadDate("x-amz-date is missing".into()))?;
    let at = parse_amz_date(amz_date)
        .ok_or_else(|| SigError::BadDate(format!("x-amz-date must be YYYYMMDDTHHMMSSZ, not {amz_date:?}")))?;
    if !amz_date.starts_with(&auth.date) {
        return Err(SigError::BadDate(format!(
            "the credential's date {} is not the date of x-amz-date {amz_date}",
            auth.date
        )));
    }
    if at.abs_diff(now_unix) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SigError::Expired { amz_date: amz_date.to_owned(), now: format_amz_date(now_unix) });
    }
    Ok(())
}

/// Verifies `req` against its parsed `Authorization` and the key's secret,
/// at `now_unix` (seconds).
pub fn verify(req: &Request<'_>, auth: &Authorization, secret: &str, now_unix: i64) -> Result<Verified, SigError> {
    precheck(req, auth, now_unix)?;
    let body_hash = hex(&Sha256::digest(req.body));
    if let Some(claimed) = req.header("x-amz-content-sha256")
        && !claimed.trim().eq_ignore_ascii_case(&body_hash)
    {
        return Err(SigError::Header("x-amz-content-sha256 must be the SHA-256 of the body".into()));
    }
    let amz_date = req.header("x-amz-date").unwrap_or_default();
    let canonical = canonical_request(req, &auth.signed_headers, &body_hash)?;
    let expected = signature(secret, amz_date, &auth.date, &auth.region, &auth.service, &canonical);
    if bool::from(expected.ct_eq(&auth.signature)) {
        Ok(Verified { key_id: auth.key_id.clone(), region: auth.region.clone(), service: auth.service.clone() })
    } else {
        Err(SigError::Mismatch)
    }
}

/// Signs `req`: every header in it is signed (it must hold `host` and
/// `x-amz-date`, whose date is the scope's). Returns the value of the
/// `Authorization` header to add. A missing `host` or `x-amz-date` gives an
/// error rather than a header that would never verify.
pub fn sign(req: &Request<'_>, key_id: &str, secret: &str, region: &str, service: &str) -> Result<String, SigError> {
    let amz_date = req.header("x-amz-date").ok_or_else(|| SigError::BadDate("x-amz-date is missing".into()))?;
    if parse_amz_date(amz_date).is_none() {
        return Err(SigError::BadDate(format!("x-amz-date must be YYYYMMDDTHHMMSSZ, not {amz_date:?}")));
    }
    if req.header("host").is_none() {
        return Err(SigError::Header("the host header must be signed".into()));
    }
    let mut names: Vec<String> = req.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let date = &amz_date[..8];
    let canonical = canonical_request(req, &names, &hex(&Sha256::digest(req.body)))?;
    let sig = signature(secret, amz_date, date, region, service, &canonical);
    Ok(format!(
        "{ALGORITHM} Credential={key_id}/{date}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={}",
        names.join(";"),
        hex(&sig)
    ))
}

/// `x-amz-date`'s form, `YYYYMMDDTHHMMSSZ`.
const AMZ_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// `YYYYMMDDTHHMMSSZ` for a Unix time in seconds.
pub fn format_amz_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(AMZ_DATE).ok()).unwrap_or_default()
}

/// The Unix time (seconds) of a `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.bytes().enumerate().all(|(i, b)| matches!(i, 8 | 15) || b.is_ascii_digit()) {
        return None;
    }
    time::PrimitiveDateTime::parse(s, AMZ_DATE).ok().map(|t| t.assume_utc().unix_timestamp())
}

/// The canonical request over `signed` headers, with the body's digest.
fn canonical_request(req: &Request<'_>, signed: &[String], body_hash: &str) -> Result<String, SigError> {
    let mut out = String::new();
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_path(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed {
        let mut values = req.values(name).peekable();
        if values.peek().is_none() {
            return Err(SigError::Header(format!("the signed header {name} is not in the request")));
        }
        out.push_str(name);
        out.push(':');
        let joined: Vec<String> = values.map(trim_value).collect();
        out.push_str(&joined.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    out.push_str(body_hash);
    Ok(out)
}

/// A header value with its ends trimmed and inner runs of spaces made one.
fn trim_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path with `.` and `..` segments resolved and empty ones dropped, and
/// each segment percent-encoded (again: the path arrives encoded once, and
/// the SDKs sign it encoded twice).
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&segments.iter().map(|s| encode(s.as_bytes())).collect::<Vec<_>>().join("/"));
    if !segments.is_empty() && path.ends_with('/') {
        out.push('/');
    }
    out
}

/// The query's parameters decoded, encoded the one strict way, sorted by
/// name then value, and joined with `&`.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Percent-encodes every byte but the unreserved ones (A–Z a–z 0–9 - _ . ~).
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; anything else, a stray `%` included, is kept.
fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).and_then(|c| hex_val(*c)), b.get(i + 2).and_then(|c| hex_val(*c)))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = hex_val(pair[0])? << 4 | hex_val(pair[1])?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signature of a canonical request.
fn signature(secret: &str, amz_date: &str, date: &str, region: &str, service: &str, canonical: &str) -> [u8; 32] {
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hmac(&key, to_sign.as_bytes())
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
