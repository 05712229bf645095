//! Short-lived URLs for an attachment's bytes. Each attachment has a random
//! key of its own; a URL carries its expiry and an HMAC-SHA256 over what it
//! allows, so any node can check it with the attachment's row and nothing
//! is stored per URL.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ids::AttachmentId;

/// What a signed URL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Sending the bytes.
    Upload,
    /// Reading the file.
    Download,
    /// Reading its thumbnail.
    Thumbnail,
}

impl Grant {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Download => "download",
            Self::Thumbnail => "thumbnail",
        }
    }
}

/// A fresh random key for a new attachment (hex).
pub fn new_key() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &str, attachment: AttachmentId, grant: Grant, expires: Timestamp) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{}\n{attachment}\n{}", grant.as_str(), expires.millis()).as_bytes());
    mac
}

/// The signature a URL for `grant` until `expires` carries.
pub fn sign(key: &str, attachment: AttachmentId, grant: Grant, expires: Timestamp) -> String {
    let tag = mac(key, attachment, grant, expires).finalize().into_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
}

/// Checks a URL's signature and expiry: 401 when it is expired or was not
/// made for this attachment and grant.
pub fn verify(
    key: &str,
    attachment: AttachmentId,
    grant: Grant,
    expires: Timestamp,
    signature: &str,
    now: Timestamp,
) -> Result<()> {
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Error::unauthenticated("the link's signature is not valid"))?;
    mac(key, attachment, grant, expires)
        .verify_slice(&tag)
        .map_err(|_| Error::unauthenticated("the link's signature is not valid for this file"))?;
    if now > expires {
        return Err(Error::unauthenticated("the link has expired; ask for a new one"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_file_grant_and_time_only() {
        let (key, other_key) = (new_key(), new_key());
        let a = AttachmentId::new();
        let exp = Timestamp(10_000);
        let sig = sign(&key, a, Grant::Upload, exp);
        assert!(verify(&key, a, Grant::Upload, exp, &sig, Timestamp(9_999)).is_ok());
        assert!(verify(&key, a, Grant::Upload, exp, &sig, Timestamp(10_001)).is_err());
        assert!(verify(&key, a, Grant::Download, exp, &sig, Timestamp(1)).is_err());
        assert!(verify(&key, AttachmentId::new(), Grant::Upload, exp, &sig, Timestamp(1)).is_err());
        assert!(verify(&other_key, a, Grant::Upload, exp, &sig, Timestamp(1)).is_err());
        assert!(verify(&key, a, Grant::Upload, Timestamp(20_000), &sig, Timestamp(1)).is_err());
        assert!(verify(&key, a, Grant::Upload, exp, "not base64!", Timestamp(1)).is_err());
    }
}
