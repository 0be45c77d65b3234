//! Thumbnails of uploaded photos, for lists: JPEG or PNG in, a JPEG of at
//! most [`MAX_SIDE`] pixels a side out. Decoding is bounded so a crafted
//! image cannot exhaust memory.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, ImageReader, Limits};

/// Longest side of a thumbnail, pixels.
pub const MAX_SIDE: u32 = 256;

/// JPEG quality of thumbnails.
const QUALITY: u8 = 80;

/// What the bytes are, from their first bytes (never from what the client
/// said): an image type we serve as such, else `application/octet-stream`.
pub fn content_type(data: &[u8]) -> &'static str {
    match image::guess_format(data) {
        Ok(ImageFormat::Jpeg) => "image/jpeg",
        Ok(ImageFormat::Png) => "image/png",
        Ok(ImageFormat::Gif) => "image/gif",
        Ok(ImageFormat::WebP) => "image/webp",
        _ => "application/octet-stream",
    }
}

/// A thumbnail of a JPEG or PNG photo; `None` for anything else or an
/// image that cannot be decoded.
pub fn make(data: &[u8]) -> Option<Vec<u8>> {
    let format = image::guess_format(data).ok()?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return None;
    }
    let mut reader = ImageReader::new(Cursor::new(data));
    reader.set_format(format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = match reader.decode() {
        Ok(img) => img,
        Err(e) => {
            tracing::warn!(error = %e, "photo could not be decoded; no thumbnail");
            return None;
        }
    };
    let small = if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
        img.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        img
    };
    let rgb = small.into_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&rgb)
        .ok()?;
    Some(out)
}
