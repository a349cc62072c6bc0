//! Decoding feed and page bytes to UTF-8.
//!
//! Arabic outlets still serve windows-1256 and ISO-8859-6, often declared
//! only in the HTTP header. The order is: byte-order mark, the document's own
//! declaration (XML `encoding=`, HTML `<meta charset>`), the HTTP charset,
//! then chardetng's guess. A declared UTF-8 that is not valid UTF-8 falls
//! through to the guess.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};

/// Decodes an XML feed to UTF-8 and rewrites its declaration to say so, so
/// the XML parser does not try to decode it again.
pub fn decode_xml(bytes: &[u8], http_charset: Option<&str>) -> String {
    let declared = xml_declared_encoding(bytes);
    let text = decode(bytes, declared.as_deref(), http_charset);
    rewrite_xml_declaration(text)
}

/// Decodes an HTML page to UTF-8.
pub fn decode_html(bytes: &[u8], http_charset: Option<&str>) -> String {
    let declared = html_declared_charset(bytes);
    decode(bytes, declared.as_deref(), http_charset)
}

fn decode(bytes: &[u8], declared: Option<&str>, http: Option<&str>) -> String {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling(&bytes[bom_len..])
            .0
            .into_owned();
    }
    // UTF-16 without a byte-order mark shows in how `<?` is spelt.
    match bytes {
        [0x3C, 0, 0x3F, 0, ..] => {
            return encoding_rs::UTF_16LE
                .decode_without_bom_handling(bytes)
                .0
                .into_owned()
        }
        [0, 0x3C, 0, 0x3F, ..] => {
            return encoding_rs::UTF_16BE
                .decode_without_bom_handling(bytes)
                .0
                .into_owned()
        }
        _ => {}
    }
    for label in [declared, http].into_iter().flatten() {
        if let Some(enc) = Encoding::for_label(label.trim().as_bytes()) {
            // A page that claims UTF-8 but is not is common enough (a CMS
            // template with a stale header) that the guess is a better bet.
            if enc == UTF_8 && std::str::from_utf8(bytes).is_err() {
                break;
            }
            return enc.decode_without_bom_handling(bytes).0.into_owned();
        }
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let mut det = chardetng::EncodingDetector::new();
    det.feed(bytes, true);
    let enc = det.guess(None, true);
    enc.decode_without_bom_handling(bytes).0.into_owned()
}

/// The `encoding` of `<?xml ... ?>`, if the document starts with one.
fn xml_declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = String::from_utf8_lossy(head);
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    if !decl.trim_start().starts_with("<?xml") {
        return None;
    }
    attr_value(decl, "encoding")
}

/// `<meta charset=..>` or `<meta http-equiv content="..; charset=..">`.
fn html_declared_charset(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(4096)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(i) = rest.find("<meta") {
        rest = &rest[i + 5..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(i) = tag.find("charset=") {
            let v = tag[i + 8..].trim_start_matches(['"', '\'', ' ']);
            let end = v
                .find(|c: char| {
                    c == '"' || c == '\'' || c == ';' || c == ' ' || c == '/' || c == '>'
                })
                .unwrap_or(v.len());
            let v = &v[..end];
            if !v.is_empty() {
                return Some(v.to_string());
            }
        }
    }
    None
}

fn attr_value(s: &str, name: &str) -> Option<String> {
    let i = s.find(name)?;
    let rest = s[i + name.len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string())
}

fn rewrite_xml_declaration(text: String) -> String {
    let Some(end) = text.find("?>") else {
        return text;
    };
    let decl = &text[..end];
    if !decl.trim_start().starts_with("<?xml") || !decl.contains("encoding") {
        return text;
    }
    let Some(value) = attr_value(decl, "encoding") else {
        return text;
    };
    if value.eq_ignore_ascii_case("utf-8") {
        return text;
    }
    let new_decl: Cow<'_, str> = Cow::Owned(decl.replacen(&value, "UTF-8", 1));
    format!("{new_decl}{}", &text[end..])
}

/// The `charset` parameter of a Content-Type header value.
pub fn charset_of_content_type(ct: &str) -> Option<String> {
    ct.split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp1256(s: &str) -> Vec<u8> {
        encoding_rs::WINDOWS_1256.encode(s).0.into_owned()
    }

    #[test]
    fn http_charset_decodes_windows_1256() {
        let xml = format!(
            "<?xml version=\"1.0\"?><rss><title>{}</title></rss>",
            "سوريا"
        );
        let out = decode_xml(&cp1256(&xml), Some("windows-1256"));
        assert!(out.contains("سوريا"), "{out}");
    }

    #[test]
    fn declared_encoding_wins_and_is_rewritten() {
        let xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-6\"?><rss><title>موسكو</title></rss>";
        let bytes = encoding_rs::ISO_8859_6.encode(xml).0.into_owned();
        let out = decode_xml(&bytes, Some("utf-8"));
        assert!(out.contains("موسكو"), "{out}");
        assert!(
            out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{out}"
        );
    }

    #[test]
    fn undeclared_legacy_bytes_are_guessed() {
        let text = "<rss><title>الرئيس الروسي فلاديمير بوتين يلتقي نظيره الأمريكي في جنيف لبحث الأزمة السورية</title></rss>";
        let out = decode_xml(&cp1256(text), None);
        assert!(out.contains("بوتين"), "{out}");
    }

    #[test]
    fn meta_charset_is_found() {
        assert_eq!(
            html_declared_charset(b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1256\">").as_deref(),
            Some("windows-1256")
        );
        assert_eq!(
            html_declared_charset(b"<meta charset=\"utf-8\" />").as_deref(),
            Some("utf-8")
        );
    }

    #[test]
    fn content_type_charset() {
        assert_eq!(
            charset_of_content_type("application/rss+xml; charset=\"Windows-1256\"").as_deref(),
            Some("Windows-1256")
        );
        assert_eq!(charset_of_content_type("text/xml"), None);
    }
}
