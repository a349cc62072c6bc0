//! Repairs for feeds whose intent is clear but which feed-rs refuses, in
//! the spirit of feedparser's loose parsing: the text is fixed before a
//! second parse, never guessed at after it.
//!
//! - HTML named entities (`&nbsp;`, `&eacute;` …), which XML does not
//!   define, become numeric references; a bare `&` becomes `&amp;`. Applied
//!   to every feed: feed-rs would otherwise keep `&nbsp;` as those six
//!   characters, or refuse the document.
//! - An `<rss>` root without a version, or with one feed-rs does not know
//!   (0.93, 2.01 …), is read as RSS 2.0; an empty `xmlns=""` goes.
//! - An Atom text construct whose `type` feed-rs refuses (`text/plain`,
//!   `application/xhtml+xml`, a base64 MIME type) is read as text.
//! - A document cut off in transit ends after its last whole item.
//!
//! Every scan is linear and allocates only when it changes something.

/// Bounds the root search: the prolog (declaration, comments, a doctype)
/// comes first, and is short.
const PROLOG_SCAN: usize = 64 * 1024;

/// The longest entity name looked up (HTML's longest is 32 characters).
const MAX_ENTITY: usize = 40;

/// The five entities XML defines itself.
const XML_ENTITIES: [&str; 5] = ["amp", "lt", "gt", "quot", "apos"];

/// Rewrites HTML named entities as numeric references and escapes bare
/// ampersands, outside CDATA sections and comments; says whether a bare
/// ampersand was among them (feed-rs refuses those; the names it keeps as
/// written). `None` when there is nothing to change.
pub fn entities(xml: &str) -> Option<(String, bool)> {
    let mut bare = false;
    let bytes = xml.as_bytes();
    let mut out: Option<String> = None;
    // Everything before `copied` is in `out` (once there is one).
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' if xml[i..].starts_with("<![CDATA[") => {
                i = skip_past(xml, i, "]]>");
                continue;
            }
            b'<' if xml[i..].starts_with("<!--") => {
                i = skip_past(xml, i, "-->");
                continue;
            }
            b'&' => {}
            _ => {
                i += 1;
                continue;
            }
        }
        let (len, replacement) = reference_at(&xml[i..]);
        if let Some(r) = replacement {
            bare |= r == "&amp;";
            let o = out.get_or_insert_with(|| String::with_capacity(xml.len() + 64));
            o.push_str(&xml[copied..i]);
            o.push_str(&r);
            copied = i + len;
        }
        i += len.max(1);
    }
    let mut o = out?;
    o.push_str(&xml[copied..]);
    Some((o, bare))
}

/// Where `end` finishes after `from`, or the end of the text.
fn skip_past(xml: &str, from: usize, end: &str) -> usize {
    xml[from..]
        .find(end)
        .map_or(xml.len(), |p| from + p + end.len())
}

/// At an `&`: the length of the reference there and what replaces it
/// (`None`: keep it as it is).
fn reference_at(s: &str) -> (usize, Option<String>) {
    let rest = &s[1..];
    let end = rest.char_indices().take(MAX_ENTITY + 2).find(|(_, c)| {
        !(c.is_ascii_alphanumeric() || *c == '#' || *c == '_' || *c == '-' || *c == '.')
    });
    let Some((name_len, ';')) = end else {
        return (1, Some("&amp;".into()));
    };
    let name = &rest[..name_len];
    let len = name_len + 2;
    if let Some(num) = name.strip_prefix('#') {
        let ok = match num.strip_prefix(['x', 'X']) {
            Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
            None => !num.is_empty() && num.chars().all(|c| c.is_ascii_digit()),
        };
        return match (ok, num.strip_prefix('X')) {
            // XML spells the hexadecimal marker in lower case only.
            (true, Some(hex)) => (len, Some(format!("&#x{hex};"))),
            (true, None) => (len, None),
            (false, _) => (1, Some("&amp;".into())),
        };
    }
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return (1, Some("&amp;".into()));
    }
    if XML_ENTITIES.contains(&name) {
        return (len, None);
    }
    let whole = &s[..len];
    let decoded = html_escape::decode_html_entities(whole);
    if decoded == whole {
        // Not HTML's either: perhaps the document's own DTD defines it.
        return (len, None);
    }
    let numeric = decoded
        .chars()
        .map(|c| format!("&#{};", u32::from(c)))
        .collect();
    (len, Some(numeric))
}

/// The root element's start tag: where it starts and ends (past `>`), and
/// its name. Skips the XML declaration, comments, processing instructions
/// and a doctype (with its internal subset).
fn root_tag(xml: &str) -> Option<(usize, usize, &str)> {
    // Bytes, not characters: counting 64 Ki characters of every feed
    // would walk them all just to find where to stop.
    let mut head_end = xml.len().min(PROLOG_SCAN);
    while !xml.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut i = 0;
    while i < head_end {
        let rest = &xml[i..];
        let c = rest.chars().next()?;
        if c.is_whitespace() || c == '\u{feff}' {
            i += c.len_utf8();
        } else if rest.starts_with("<?") {
            i = skip_past(xml, i, "?>");
        } else if rest.starts_with("<!--") {
            i = skip_past(xml, i, "-->");
        } else if rest.starts_with("<!") {
            // A doctype: its internal subset may hold '>' inside brackets.
            let mut depth = 0usize;
            let mut end = None;
            for (k, ch) in rest.char_indices() {
                match ch {
                    '[' => depth += 1,
                    ']' => depth = depth.saturating_sub(1),
                    '>' if depth == 0 => {
                        end = Some(i + k + 1);
                        break;
                    }
                    _ => {}
                }
            }
            i = end?;
        } else if let Some(tag) = rest.strip_prefix('<') {
            let name_len = tag
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(tag.len());
            let end = tag_end(xml, i)?;
            return Some((i, end, &tag[..name_len]));
        } else {
            return None;
        }
    }
    None
}

/// Past the `>` of the tag starting at `start`, quotes respected.
fn tag_end(xml: &str, start: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (k, c) in xml[start..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(start + k + 1),
            _ => {}
        }
    }
    None
}

/// The value of attribute `name` in a start tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<(usize, usize, &'a str)> {
    let mut from = 0;
    while let Some(p) = tag[from..].find(name) {
        let at = from + p;
        from = at + name.len();
        let before_ok = tag[..at].ends_with(char::is_whitespace);
        let after = tag[at + name.len()..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let body = &value[1..];
        let close = body.find(quote)?;
        let value_start = tag.len() - body.len();
        return Some((at, value_start + close + 1, &body[..close]));
    }
    None
}

/// The name of the document's root element, if it has one.
pub fn root_name(xml: &str) -> Option<String> {
    root_tag(xml).map(|(_, _, name)| name.to_string())
}

/// Atom 0.3's namespace.
const ATOM_03: &str = "http://purl.org/atom/ns#";

/// An Atom 0.3 feed with its namespace made Atom 1.0's. `None` for any
/// other document.
pub fn atom_03(xml: &str) -> Option<String> {
    let (_, end, name) = root_tag(xml)?;
    if name.rsplit(':').next() != Some("feed") || !xml[..end].contains(ATOM_03) {
        return None;
    }
    Some(xml.replacen(ATOM_03, "http://www.w3.org/2005/Atom", 1))
}

/// The versions feed-rs reads an `<rss>` root with.
const RSS_VERSIONS: [&str; 3] = ["2.0", "0.91", "0.92"];

/// An `<rss>` root feed-rs would refuse for its version, or with an empty
/// default namespace, rewritten. `None` when it needs nothing.
pub fn rss_root(xml: &str) -> Option<String> {
    let (start, end, name) = root_tag(xml)?;
    if name != "rss" {
        return None;
    }
    let tag = &xml[start..end];
    let mut fixed = tag.to_string();
    if let Some((a, b, _)) = attribute(&fixed, "xmlns").filter(|(_, _, v)| v.trim().is_empty()) {
        fixed.replace_range(a..b, "");
    }
    match attribute(&fixed, "version") {
        Some((_, _, v)) if RSS_VERSIONS.contains(&v.trim()) => {}
        Some((a, b, _)) => fixed.replace_range(a..b, "version=\"2.0\""),
        None => fixed.insert_str(4, " version=\"2.0\""),
    }
    let body = &xml[end..];
    // Items straight under <rss>, with no <channel> around them.
    if !body.contains("<channel") {
        if let Some(close) = body.rfind("</rss>") {
            return Some(format!(
                "{}{fixed}<channel>{}</channel>{}",
                &xml[..start],
                &body[..close],
                &body[close..]
            ));
        }
    }
    (fixed != tag).then(|| format!("{}{fixed}{body}", &xml[..start]))
}

/// Atom text constructs (title, subtitle, summary, rights) whose `type`
/// feed-rs refuses, read as text (or XHTML for an XHTML MIME type); so is
/// content of an XHTML MIME type or `text/plain`.
pub fn text_types(xml: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut from = 0;
    while let Some(p) = xml[from..].find('<') {
        let start = from + p;
        from = start + 1;
        let rest = &xml[start + 1..];
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let local = rest[..name_len].rsplit(':').next().unwrap_or("");
        let content = local == "content";
        if !content && !matches!(local, "title" | "subtitle" | "summary" | "rights") {
            continue;
        }
        let Some(end) = tag_end(xml, start) else {
            break;
        };
        let tag = &xml[start..end];
        let Some((a, b, value)) = attribute(tag, "type") else {
            continue;
        };
        // "plain" is Media RSS's own word for text.
        if matches!(value, "text" | "html" | "xhtml" | "text/html" | "plain") {
            continue;
        }
        let now = if value.contains("xhtml") {
            "xhtml"
        } else if !content || value == "text/plain" {
            "text"
        } else {
            // Content may be any media type (base64 inside): feed-rs reads those.
            continue;
        };
        let o = out.get_or_insert_with(|| String::with_capacity(xml.len()));
        o.push_str(&xml[copied..start + a]);
        o.push_str(&format!("type=\"{now}\""));
        copied = start + b;
        from = end;
    }
    let mut o = out?;
    o.push_str(&xml[copied..]);
    Some(o)
}

/// A document cut off before its root closed, ended after its last whole
/// item or entry with the elements it opened closed. `None` when the
/// root is closed, or no whole item is there.
pub fn truncated(xml: &str) -> Option<String> {
    let (_, _, root) = root_tag(xml)?;
    let root = root.to_string();
    let end = xml.trim_end();
    if end.ends_with(&format!("</{root}>")) {
        return None;
    }
    // Only the last '>' is missing.
    if end.ends_with(&format!("</{root}")) {
        return Some(format!("{end}>"));
    }
    let local = root.rsplit(':').next().unwrap_or("");
    let (last, closers) = match local {
        "rss" => {
            let last = xml.rfind("</item>")? + "</item>".len();
            let channel = xml[..last].contains("<channel") && !xml[..last].contains("</channel>");
            let closers = if channel {
                format!("</channel></{root}>")
            } else {
                format!("</{root}>")
            };
            (last, closers)
        }
        "RDF" => (
            xml.rfind("</item>")? + "</item>".len(),
            format!("</{root}>"),
        ),
        "feed" => {
            let prefix = root.strip_suffix("feed").unwrap_or("");
            let close = format!("</{prefix}entry>");
            (xml.rfind(&close)? + close.len(), format!("</{root}>"))
        }
        _ => return None,
    };
    Some(format!("{}{closers}", &xml[..last]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_entities_become_numeric_and_bare_ampersands_are_escaped() {
        let e = |x: &str| entities(x);
        assert_eq!(
            e("<t>a&nbsp;b &amp; c &#160; &eacute;</t>"),
            Some(("<t>a&#160;b &amp; c &#160; &#233;</t>".to_string(), false))
        );
        assert_eq!(
            e("<t>Tom & Jerry &x</t>"),
            Some(("<t>Tom &amp; Jerry &amp;x</t>".to_string(), true))
        );
        assert_eq!(
            e("<a href=\"/?a=1&b=2\">"),
            Some(("<a href=\"/?a=1&amp;b=2\">".to_string(), true))
        );
        // Left alone: what XML defines, CDATA, comments, unknown names.
        assert_eq!(entities("<t>&lt;&#x41;&apos;&custom;</t>"), None);
        assert_eq!(entities("&#X41;"), Some(("&#x41;".to_string(), false)));
        assert_eq!(entities("<![CDATA[a & b &nbsp;]]><!-- & -->"), None);
        // Unterminated sections and trailing ampersands end the scan.
        assert_eq!(entities("<![CDATA[a & b"), None);
        assert_eq!(entities("a &"), Some(("a &amp;".to_string(), true)));
    }

    #[test]
    fn an_rss_root_gets_a_version_feed_rs_reads() {
        let r = |x: &str| rss_root(x);
        assert_eq!(
            r("<?xml version=\"1.0\"?><!-- c --><rss><channel/></rss>").as_deref(),
            Some("<?xml version=\"1.0\"?><!-- c --><rss version=\"2.0\"><channel/></rss>")
        );
        assert_eq!(
            r("<rss version=\"0.94\" xmlns=\"\">").as_deref(),
            Some("<rss version=\"2.0\" >")
        );
        assert_eq!(
            r("<rss version=\"2.0\"><item/></rss>").as_deref(),
            Some("<rss version=\"2.0\"><channel><item/></channel></rss>")
        );
        assert_eq!(
            r("<!DOCTYPE rss [<!ENTITY x \"y>\">]><rss xmlns:i='u'>").as_deref(),
            Some("<!DOCTYPE rss [<!ENTITY x \"y>\">]><rss version=\"2.0\" xmlns:i='u'>")
        );
        assert_eq!(r("<rss version=\"2.0\"><channel/></rss>"), None);
        assert_eq!(r("<feed>"), None);
        assert_eq!(r("not xml"), None);
    }

    #[test]
    fn atom_03_reads_as_atom_10() {
        assert_eq!(
            atom_03("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><entry/></feed>")
                .as_deref(),
            Some("<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><entry/></feed>")
        );
        assert_eq!(
            atom_03("<rss><a href=\"http://purl.org/atom/ns#\"/></rss>"),
            None
        );
    }

    #[test]
    fn refused_text_types_read_as_text() {
        assert_eq!(
            text_types("<title type=\"text/plain\">a</title><link type=\"x/y\"/><atom:summary type='application/xhtml+xml'>").as_deref(),
            Some("<title type=\"text\">a</title><link type=\"x/y\"/><atom:summary type=\"xhtml\">")
        );
        assert_eq!(text_types("<title type=\"html\">a</title>"), None);
        assert_eq!(
            text_types("<content type=\"application/xhtml+xml\"><div/></content><content type=\"image/png\">iVBO</content>").as_deref(),
            Some("<content type=\"xhtml\"><div/></content><content type=\"image/png\">iVBO</content>")
        );
    }

    #[test]
    fn a_cut_off_feed_ends_after_its_last_whole_item() {
        assert_eq!(
            truncated("<rss version=\"2.0\"><channel><item>a</item><item>b</it").as_deref(),
            Some("<rss version=\"2.0\"><channel><item>a</item></channel></rss>")
        );
        assert_eq!(
            truncated("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>a</entry><entry>")
                .as_deref(),
            Some("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>a</entry></feed>")
        );
        assert_eq!(
            truncated("<rss><channel><item>a</item></channel></rss>\n"),
            None
        );
        assert_eq!(truncated("<rss><channel><title>x"), None);
        assert_eq!(
            truncated("<feed><link/></feed\n").as_deref(),
            Some("<feed><link/></feed>")
        );
    }
}
