//! Small previews of images, made once when the bytes are in.

use std::io::Cursor;

/// The longest edge of a thumbnail, in pixels.
pub const EDGE: u32 = 256;

/// Images larger than this (in bytes) get no thumbnail.
pub const SOURCE_MAX_BYTES: u64 = 16 << 20;

/// Images wider or taller than this get no thumbnail (decompression bombs).
const SOURCE_MAX_PIXELS_EDGE: u32 = 12_000;

/// A thumbnail of `bytes` (an image of type `mime`) and its type; `None`
/// when the image cannot be read within the limits. JPEG photos stay JPEG,
/// the rest (which may be transparent) become PNG.
pub fn make(bytes: &[u8], mime: &str) -> Option<(Vec<u8>, &'static str)> {
    let format = match mime {
        "image/png" => image::ImageFormat::Png,
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/gif" => image::ImageFormat::Gif,
        "image/webp" => image::ImageFormat::WebP,
        _ => return None,
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(SOURCE_MAX_PIXELS_EDGE);
    limits.max_image_height = Some(SOURCE_MAX_PIXELS_EDGE);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    let small = reader.decode().ok()?.thumbnail(EDGE, EDGE);
    let mut out = Cursor::new(Vec::new());
    if format == image::ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
        small.to_rgb8().write_with_encoder(encoder).ok()?;
        Some((out.into_inner(), "image/jpeg"))
    } else {
        small.write_to(&mut out, image::ImageFormat::Png).ok()?;
        Some((out.into_inner(), "image/png"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 10, 10, 255]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn thumbnails_fit_the_edge_and_keep_the_aspect() {
        let (bytes, mime) = make(&png(1024, 512), "image/png").unwrap();
        assert_eq!(mime, "image/png");
        let t = image::load_from_memory(&bytes).unwrap();
        assert_eq!((t.width(), t.height()), (256, 128));
    }

    #[test]
    fn unreadable_images_get_none() {
        assert!(make(b"\x89PNG\r\n\x1a\nnot really", "image/png").is_none());
        assert!(make(&png(4, 4), "application/pdf").is_none());
    }
}
