//! Which files a workspace accepts: the largest size and the types, each
//! type checked three ways — the declared type, the name's extension and
//! the bytes' own signature (magic numbers).

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};

/// A type the server knows how to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType {
    pub mime: &'static str,
    /// The extensions a file of this type may have (lower case, no dot).
    pub extensions: &'static [&'static str],
    /// Text has no signature: its bytes must be UTF-8 without NULs.
    pub text: bool,
    /// A thumbnail can be made of it.
    pub image: bool,
}

const fn binary(mime: &'static str, extensions: &'static [&'static str]) -> FileType {
    FileType { mime, extensions, text: false, image: false }
}

const fn image(mime: &'static str, extensions: &'static [&'static str]) -> FileType {
    FileType { mime, extensions, text: false, image: true }
}

const fn text(mime: &'static str, extensions: &'static [&'static str]) -> FileType {
    FileType { mime, extensions, text: true, image: false }
}

/// Every type an attachment may have: common images, PDF, plain text, CSV
/// and office documents. A workspace allows these or a subset of them.
pub const KNOWN: &[FileType] = &[
    image("image/png", &["png"]),
    image("image/jpeg", &["jpg", "jpeg"]),
    image("image/gif", &["gif"]),
    image("image/webp", &["webp"]),
    binary("application/pdf", &["pdf"]),
    text("text/plain", &["txt", "text", "log"]),
    text("text/csv", &["csv"]),
    binary("application/msword", &["doc"]),
    binary("application/vnd.openxmlformats-officedocument.wordprocessingml.document", &["docx"]),
    binary("application/vnd.ms-excel", &["xls"]),
    binary("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &["xlsx"]),
    binary("application/vnd.ms-powerpoint", &["ppt"]),
    binary("application/vnd.openxmlformats-officedocument.presentationml.presentation", &["pptx"]),
    binary("application/vnd.oasis.opendocument.text", &["odt"]),
    binary("application/vnd.oasis.opendocument.spreadsheet", &["ods"]),
    binary("application/vnd.oasis.opendocument.presentation", &["odp"]),
];

/// How many leading bytes are read before any byte is stored: enough for
/// every signature above (office formats name their parts near the start).
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The largest file any workspace may allow (5 GiB).
pub const MAX_BYTES_CEILING: u64 = 5 << 30;

/// The longest file name, in characters.
pub const NAME_MAX_CHARS: usize = 255;

/// A workspace's rules for files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePolicy {
    /// The largest attachment, in bytes (default 20 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// The media types accepted (default: every type the server knows).
    #[serde(default = "default_types")]
    pub allowed_types: Vec<String>,
}

fn default_max_bytes() -> u64 {
    20 << 20
}

fn default_types() -> Vec<String> {
    KNOWN.iter().map(|t| t.mime.to_owned()).collect()
}

impl Default for FilePolicy {
    fn default() -> Self {
        Self { max_bytes: default_max_bytes(), allowed_types: default_types() }
    }
}

/// A media type without parameters, lower case.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

pub fn known(content_type: &str) -> Option<&'static FileType> {
    let e = essence(content_type);
    KNOWN.iter().find(|t| t.mime == e)
}

impl FilePolicy {
    /// Checks a policy before it is stored.
    pub fn validate(&self) -> Result<()> {
        if self.max_bytes == 0 || self.max_bytes > MAX_BYTES_CEILING {
            return Err(Error::invalid("files.max_bytes", format!("must be 1 to {MAX_BYTES_CEILING}")));
        }
        for (i, t) in self.allowed_types.iter().enumerate() {
            if known(t).is_none() {
                let all: Vec<_> = KNOWN.iter().map(|t| t.mime).collect();
                return Err(Error::invalid(
                    format!("files.allowed_types[{i}]"),
                    format!("`{t}` is not a type the server can check; known: {}", all.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Checks what an uploader announces, before any byte is sent: the name,
    /// the type against the allowed ones and the name's extension, the size
    /// against the limit.
    pub fn check_declared(&self, name: &str, content_type: &str, size: u64) -> Result<&'static FileType> {
        check_name(name)?;
        let unsupported = |m: String| Error::new(ErrorCode::UnsupportedMediaType, m).with_field("content_type");
        let ft = known(content_type).filter(|t| self.allowed_types.iter().any(|a| essence(a) == t.mime));
        let Some(ft) = ft else {
            return Err(unsupported(format!(
                "files of type `{}` are not accepted here; accepted: {}",
                essence(content_type),
                self.allowed_types.join(", ")
            )));
        };
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        if !ft.extensions.contains(&ext.as_str()) {
            return Err(unsupported(format!(
                "the name `{name}` does not end like a file of type {} (.{})",
                ft.mime,
                ft.extensions.join(", .")
            )));
        }
        if size == 0 {
            return Err(Error::invalid("size", "an attachment has at least one byte"));
        }
        if size > self.max_bytes {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!("the file is {size} bytes; the largest accepted is {} bytes", self.max_bytes),
            )
            .with_field("size"));
        }
        Ok(ft)
    }
}

fn check_name(name: &str) -> Result<()> {
    let bad = name.trim().is_empty()
        || name.chars().count() > NAME_MAX_CHARS
        || name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
        || name == "."
        || name == "..";
    if bad {
        return Err(Error::invalid(
            "name",
            format!("a file name is 1 to {NAME_MAX_CHARS} characters, without slashes or control characters"),
        ));
    }
    Ok(())
}

/// Checks the first bytes of an upload against its type. `whole`: these
/// are all the bytes (a short file), so text may not end mid-character.
pub fn check_bytes(ft: &FileType, head: &[u8], whole: bool) -> Result<()> {
    let refuse = |m: String| Err(Error::new(ErrorCode::UnsupportedMediaType, m));
    let found = infer::get(head).map(|t| t.mime_type());
    if ft.text {
        if let Some(found) = found.filter(|m| !m.starts_with("text/")) {
            return refuse(format!("the bytes are {found}, not {}", ft.mime));
        }
        let utf8 = match std::str::from_utf8(head) {
            Ok(_) => true,
            // Cut mid-character at the end of the sniffed head.
            Err(e) => !whole && e.error_len().is_none(),
        };
        if !utf8 || head.contains(&0) {
            return refuse(format!("the bytes are not {} (UTF-8 text without NUL bytes)", ft.mime));
        }
        return Ok(());
    }
    match found {
        Some(m) if m == ft.mime => Ok(()),
        Some(m) => refuse(format!("the bytes are {m}, not {}", ft.mime)),
        None => refuse(format!("the bytes are not a {} file", ft.mime)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn declared_name_type_and_size() {
        let p = FilePolicy::default();
        assert_eq!(p.check_declared("a.png", "image/png", 10).unwrap().mime, "image/png");
        assert_eq!(p.check_declared("A.JPEG", "Image/JPEG; q=1", 10).unwrap().mime, "image/jpeg");
        let code = |r: Result<&FileType>| r.unwrap_err().code;
        assert_eq!(code(p.check_declared("a.exe", "application/x-msdownload", 10)), ErrorCode::UnsupportedMediaType);
        assert_eq!(code(p.check_declared("a.exe", "image/png", 10)), ErrorCode::UnsupportedMediaType);
        assert_eq!(code(p.check_declared("png", "image/png", 10)), ErrorCode::UnsupportedMediaType);
        assert_eq!(code(p.check_declared("a.png", "image/png", p.max_bytes + 1)), ErrorCode::PayloadTooLarge);
        assert_eq!(code(p.check_declared("a.png", "image/png", 0)), ErrorCode::InvalidField);
        assert_eq!(code(p.check_declared("../a.png", "image/png", 1)), ErrorCode::InvalidField);
        assert_eq!(code(p.check_declared("a\n.png", "image/png", 1)), ErrorCode::InvalidField);
        let only_pdf = FilePolicy { allowed_types: vec!["application/pdf".into()], ..FilePolicy::default() };
        assert_eq!(code(only_pdf.check_declared("a.png", "image/png", 1)), ErrorCode::UnsupportedMediaType);
    }

    #[test]
    fn bytes_must_match_the_type() {
        let png = known("image/png").unwrap();
        let pdf = known("application/pdf").unwrap();
        let txt = known("text/plain").unwrap();
        assert!(check_bytes(png, PNG, true).is_ok());
        assert!(check_bytes(pdf, b"%PDF-1.7\n", true).is_ok());
        assert_eq!(check_bytes(png, b"%PDF-1.7\n", true).unwrap_err().code, ErrorCode::UnsupportedMediaType);
        assert_eq!(check_bytes(pdf, b"MZ\x90\0", true).unwrap_err().code, ErrorCode::UnsupportedMediaType);
        assert!(check_bytes(txt, "héllo, wörld\n".as_bytes(), true).is_ok());
        assert!(check_bytes(txt, PNG, true).is_err());
        assert!(check_bytes(txt, b"a\0b", true).is_err());
        // A head cut in the middle of a character is fine; a whole file is not.
        let cut = &"é".as_bytes()[..1];
        assert!(check_bytes(txt, cut, false).is_ok());
        assert!(check_bytes(txt, cut, true).is_err());
    }

    #[test]
    fn policies_are_checked() {
        assert!(FilePolicy::default().validate().is_ok());
        let bad = FilePolicy { allowed_types: vec!["application/x-sh".into()], ..FilePolicy::default() };
        assert_eq!(bad.validate().unwrap_err().field.as_deref(), Some("files.allowed_types[0]"));
        assert!(FilePolicy { max_bytes: 0, ..FilePolicy::default() }.validate().is_err());
    }
}
