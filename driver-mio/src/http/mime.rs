//! `Content-Type` from a file name's extension.

/// Extensions (lowercase) and their media types: what players, browsers and
/// subtitle loaders look for.
const TYPES: &[(&str, &str)] = &[
    // Video
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mkv", "video/x-matroska"),
    ("webm", "video/webm"),
    ("avi", "video/x-msvideo"),
    ("mov", "video/quicktime"),
    ("wmv", "video/x-ms-wmv"),
    ("flv", "video/x-flv"),
    ("mpg", "video/mpeg"),
    ("mpeg", "video/mpeg"),
    ("ts", "video/mp2t"),
    ("m2ts", "video/mp2t"),
    ("ogv", "video/ogg"),
    ("3gp", "video/3gpp"),
    // Audio
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("flac", "audio/flac"),
    ("wav", "audio/wav"),
    ("mka", "audio/x-matroska"),
    // Subtitles and text
    ("srt", "application/x-subrip"),
    ("vtt", "text/vtt"),
    ("ass", "text/x-ssa"),
    ("ssa", "text/x-ssa"),
    ("txt", "text/plain; charset=utf-8"),
    ("nfo", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("log", "text/plain; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("xml", "application/xml"),
    ("json", "application/json"),
    ("js", "text/javascript"),
    // Images
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("svg", "image/svg+xml"),
    ("bmp", "image/bmp"),
    ("ico", "image/x-icon"),
    // Documents and archives
    ("pdf", "application/pdf"),
    ("epub", "application/epub+zip"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("7z", "application/x-7z-compressed"),
    ("iso", "application/x-iso9660-image"),
];

/// The media type for `name` by its extension; `application/octet-stream`
/// when the extension is unknown or missing.
pub fn content_type(name: &str) -> &'static str {
    let base = name.rsplit('/').next().unwrap_or(name);
    let Some((stem, ext)) = base.rsplit_once('.') else {
        return "application/octet-stream";
    };
    if stem.is_empty() {
        return "application/octet-stream";
    }
    TYPES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or("application/octet-stream", |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn by_extension() {
        assert_eq!(content_type("a/b/Movie.MKV"), "video/x-matroska");
        assert_eq!(content_type("clip.mp4"), "video/mp4");
        assert_eq!(content_type("en.srt"), "application/x-subrip");
        assert_eq!(content_type("x.tar.gz"), "application/gzip");
        assert_eq!(content_type("README"), "application/octet-stream");
        assert_eq!(content_type(".mp4"), "application/octet-stream");
        assert_eq!(content_type("dir.mp4/file"), "application/octet-stream");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
