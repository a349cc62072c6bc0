//! Bounds how deep HTML nests before html5ever parses it.
//!
//! html5ever checks the stack of open elements at many tags, so a document
//! of n nested elements costs it O(n²): 200,000 nested `<div>` in one feed
//! summary kept raqib busy for minutes. [`bound`] drops every tag that
//! would open an element deeper than a limit (and the end tags that belong
//! to dropped ones); text, comments and shallower markup stay as they are.
//!
//! It is a linear scan that follows the parts of the HTML tokenizer and
//! tree builder that decide nesting, and errs on the side of counting too
//! deep (which only drops tags) rather than too shallow (which would let
//! the parser see the depth):
//! - tags are read as the tokenizer reads them (attribute values quoted
//!   only after `=`; comments end at `-->`, `--!>`, or at once for `<!-->`;
//!   bogus comments and doctypes at the first `>`);
//! - the text of `script`, `style`, `textarea`, `title`, `xmp`, `iframe`,
//!   `noembed`, `noframes` and `plaintext` is not markup (with the script
//!   escape states that keep `</script>` inside `<!-- <script>` from ending
//!   it), except inside `svg` or `math`;
//! - void elements, and elements whose end the parser implies (`p`, `li`,
//!   `td`, …), do not count; `/>` closes an element only inside `svg` or
//!   `math`, as in the parser;
//! - an end tag closes the nearest open element of its name, unless a
//!   scope boundary (for the block elements) or any "special" element (for
//!   the others) stands between, where the parser ignores it too.

use std::borrow::Cow;

/// Elements whose end tag the parser implies from the next sibling: like
/// void elements, they do not count towards the depth.
const IMPLIED_END: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "rb",
    "rt", "rtc", "rp", "colgroup", "caption",
];

/// Void elements: `<br/>` and `<br>` alike open nothing.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "basefont", "bgsound", "frame", "image",
];

/// Elements whose content the tokenizer reads as text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "plaintext",
];

/// The HTML standard's "special" elements: an end tag of another name
/// stops at them.
const SPECIAL: &[&str] = &[
    "address",
    "applet",
    "area",
    "article",
    "aside",
    "base",
    "basefont",
    "bgsound",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dir",
    "div",
    "dl",
    "dt",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "iframe",
    "img",
    "input",
    "keygen",
    "li",
    "link",
    "listing",
    "main",
    "marquee",
    "menu",
    "meta",
    "nav",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "ol",
    "p",
    "param",
    "plaintext",
    "pre",
    "script",
    "search",
    "section",
    "select",
    "source",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
    "wbr",
    "xmp",
    "svg",
    "math",
];

/// Elements that end the search of an end tag of a special name ("has an
/// element in scope").
const SCOPE: &[&str] = &[
    "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "svg",
    "math",
];

/// `html` with every tag that would nest deeper than `max_depth` elements
/// removed (see the module documentation). Borrowed when nothing is.
pub fn bound(html: &str, max_depth: usize) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut dropped_any = false;
    // The elements open as the parser would see them, at most `max_depth`.
    let mut open: Vec<String> = Vec::new();
    // Start tags dropped and not yet matched by a dropped end tag.
    let mut over = 0usize;
    let mut at = 0;
    while let Some(lt) = memchr::memchr(b'<', &b[at..]).map(|i| at + i) {
        let (end, drop) = match (b.get(lt + 1), b.get(lt + 2)) {
            (Some(b'!'), _) if b[lt..].starts_with(b"<!--") => (comment_end(b, lt + 4), false),
            (Some(b'!' | b'?'), _) => (bogus_end(b, lt + 1), false),
            (Some(b'/'), Some(c)) if c.is_ascii_alphabetic() => {
                let (name, end, _) = read_tag(b, lt + 2);
                let drop = if over > 0 {
                    over -= 1;
                    true
                } else {
                    close(&mut open, &name);
                    false
                };
                (end, drop)
            }
            (Some(b'/'), Some(b'>')) => (lt + 3, false),
            (Some(b'/'), _) => (bogus_end(b, lt + 2), false),
            (Some(c), _) if c.is_ascii_alphabetic() => {
                let (name, end, self_closing) = read_tag(b, lt + 1);
                let foreign = open.iter().any(|n| n == "svg" || n == "math");
                if !foreign && RAW_TEXT.contains(&name.as_str()) {
                    // The text up to the end tag is no markup; the tag
                    // itself opens nothing that stays open.
                    (raw_text_end(b, end, &name), false)
                } else if VOID.contains(&name.as_str())
                    || (foreign && self_closing)
                    || (!foreign && IMPLIED_END.contains(&name.as_str()))
                {
                    (end, false)
                } else if open.len() < max_depth && over == 0 {
                    open.push(name);
                    (end, false)
                } else {
                    over += 1;
                    (end, true)
                }
            }
            _ => (lt + 1, false),
        };
        if drop {
            // A `<` of the text just before the tag would open a new tag
            // with what follows it: it goes out as `&lt;`, the same text.
            match html[copied..lt].strip_suffix('<') {
                Some(before) => {
                    out.push_str(before);
                    out.push_str("&lt;");
                }
                None => out.push_str(&html[copied..lt]),
            }
            copied = end;
            dropped_any = true;
        }
        at = end.max(lt + 1);
    }
    if !dropped_any {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// Applies an end tag to the open elements as the parser does for most
/// names: pops to the nearest element of that name, unless a boundary
/// stands between (then the parser ignores the end tag).
fn close(open: &mut Vec<String>, name: &str) {
    let special = SPECIAL.contains(&name);
    for i in (0..open.len()).rev() {
        if open[i] == name {
            open.truncate(i);
            return;
        }
        let n = open[i].as_str();
        if (special && SCOPE.contains(&n)) || (!special && SPECIAL.contains(&n)) {
            return;
        }
    }
}

/// Reads a tag from its name (at `from`) to one past its `>` as the
/// tokenizer does; returns its lower-case name, that end (the input's end
/// when unclosed) and whether it ended in `/>`.
fn read_tag(b: &[u8], from: usize) -> (String, usize, bool) {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Name,
        BeforeAttr,
        Attr,
        AfterAttr,
        BeforeValue,
        Quoted(u8),
        AfterQuoted,
        Unquoted,
        SelfClosing,
    }
    let mut name = String::new();
    let mut state = S::Name;
    let mut i = from;
    while let Some(&c) = b.get(i) {
        let space = matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0C');
        state = match (state, c) {
            (S::Quoted(q), _) if c == q => S::AfterQuoted,
            (S::Quoted(q), _) => S::Quoted(q),
            (S::SelfClosing, b'>') => return (name, i + 1, true),
            (_, b'>') => return (name, i + 1, false),
            (S::Name, _) if space => S::BeforeAttr,
            (S::Name, b'/') => S::SelfClosing,
            (S::Name, _) => {
                if name.len() < 64 {
                    name.push(char::from(c.to_ascii_lowercase()));
                }
                S::Name
            }
            (S::Unquoted, _) if space => S::BeforeAttr,
            (S::Unquoted, _) => S::Unquoted,
            (S::BeforeValue, _) if space => S::BeforeValue,
            (S::BeforeValue, b'"' | b'\'') => S::Quoted(c),
            (S::BeforeValue, _) => S::Unquoted,
            (S::Attr, b'=') | (S::AfterAttr, b'=') => S::BeforeValue,
            (S::Attr | S::AfterAttr | S::BeforeAttr | S::AfterQuoted | S::SelfClosing, b'/') => {
                S::SelfClosing
            }
            (S::Attr | S::AfterAttr, _) if space => S::AfterAttr,
            (S::Attr, _) => S::Attr,
            (S::BeforeAttr | S::AfterQuoted | S::SelfClosing, _) if space => S::BeforeAttr,
            (S::AfterQuoted | S::SelfClosing, _) => S::Attr,
            // Also `=` here: it starts an attribute's name.
            (S::BeforeAttr | S::AfterAttr, _) => S::Attr,
        };
        i += 1;
    }
    (name, b.len(), false)
}

/// One past the end of a comment whose text starts at `from`: `-->` or
/// `--!>`, or at once for `<!-->` and `<!--->`.
fn comment_end(b: &[u8], from: usize) -> usize {
    let rest = &b[from.min(b.len())..];
    if rest.starts_with(b">") {
        return from + 1;
    }
    if rest.starts_with(b"->") {
        return from + 2;
    }
    let close = memchr::memmem::find(rest, b"-->").map(|i| from + i + 3);
    let bang = memchr::memmem::find(rest, b"--!>").map(|i| from + i + 4);
    match (close, bang) {
        (Some(a), Some(z)) => a.min(z),
        (a, z) => a.or(z).unwrap_or(b.len()),
    }
}

/// One past the first `>` from `from` (a bogus comment or a doctype).
fn bogus_end(b: &[u8], from: usize) -> usize {
    memchr::memchr(b'>', &b[from.min(b.len())..]).map_or(b.len(), |i| from + i + 1)
}

/// Where the text of raw-text element `name`, starting at `from`, ends:
/// at its end tag (`</name` and then a space, `/` or `>`), or at the end of
/// the input. A script follows the tokenizer's escape states.
fn raw_text_end(b: &[u8], from: usize, name: &str) -> usize {
    if name == "plaintext" {
        return b.len();
    }
    #[derive(PartialEq)]
    enum Script {
        Data,
        Escaped,
        DoubleEscaped,
    }
    let mut state = Script::Data;
    let mut i = from;
    while let Some(lt) = memchr::memchr2(b'<', b'-', &b[i.min(b.len())..]).map(|j| i + j) {
        let rest = &b[lt..];
        if name == "script" {
            if state != Script::Data && rest.starts_with(b"-->") {
                state = Script::Data;
                i = lt + 3;
                continue;
            }
            if state == Script::Data && rest.starts_with(b"<!--") {
                state = Script::Escaped;
                i = lt + 4;
                continue;
            }
            if state == Script::Escaped && is_tag_named(rest, b"<", name) {
                state = Script::DoubleEscaped;
                i = lt + 1;
                continue;
            }
            if state == Script::DoubleEscaped && is_tag_named(rest, b"</", name) {
                state = Script::Escaped;
                i = lt + 2;
                continue;
            }
        }
        if state != Script::DoubleEscaped && is_tag_named(rest, b"</", name) {
            return lt;
        }
        i = lt + 1;
    }
    b.len()
}

/// True when `s` starts with `open` and `name` (ASCII case ignored),
/// followed by a space, `/` or `>`.
fn is_tag_named(s: &[u8], open: &[u8], name: &str) -> bool {
    let n = open.len() + name.len();
    s.starts_with(open)
        && s.get(open.len()..n)
            .is_some_and(|w| w.eq_ignore_ascii_case(name.as_bytes()))
        && matches!(
            s.get(n),
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0C' | b'/' | b'>')
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ego_tree::iter::Edge;
    use scraper::Html;

    /// The deepest element nesting html5ever builds from `html`.
    fn parsed_depth(html: &str) -> usize {
        let doc = Html::parse_fragment(html);
        let (mut depth, mut max) = (0usize, 0usize);
        for edge in doc.root_element().traverse() {
            match edge {
                Edge::Open(n) if n.value().is_element() => {
                    depth += 1;
                    max = max.max(depth);
                }
                Edge::Close(n) if n.value().is_element() => depth -= 1,
                _ => {}
            }
        }
        max
    }

    #[test]
    fn nesting_is_cut_below_the_cap_and_kept_above_it() {
        let html = format!("{}x{}", "<b>".repeat(5), "</b>".repeat(5));
        assert_eq!(bound(&html, 5), html.as_str());
        assert_eq!(bound(&html, 3), "<b><b><b>x</b></b></b>");
        // Tags the parser never nests, comments, raw text and quoted
        // attributes are not counted as depth.
        let flat = "<p>a<p>b<br><br/><img src=\"a>b\"><!-- <div><div> --><script>if (a<b) {}</script><li>c";
        assert_eq!(bound(flat, 0), flat);
    }

    /// Each of these once hid deep nesting from the scan that the parser
    /// then built: the parser's depth must stay near the cap.
    #[test]
    fn what_the_parser_nests_the_scan_counts() {
        let n = 2_000;
        let cases = [
            format!("<!-->{}", "<div>".repeat(n)),
            format!("<!--->{}", "<div>".repeat(n)),
            format!("<!-- --!>{}-->", "<div>".repeat(n)),
            format!("</ x=\"{}\">", "<div>".repeat(n)),
            format!("<i a'b>{}", "<i>".repeat(n)),
            format!("<a =\"{}\">", "<div>".repeat(n)),
            "<div/>".repeat(n),
            "<span><div></span>".repeat(n),
            "<div><script><!--<script></script></div></script>".repeat(n),
            format!("<svg><title>{}</title>", "<div>".repeat(n)),
            "<li><section>".repeat(n),
            "<table><td>".repeat(n),
            // Dropping `<t>` once joined the `<` before it to the text after.
            format!("{}{}", "<b>".repeat(20), "<<t>i>".repeat(n)),
        ];
        for html in &cases {
            let bounded = bound(html, 16);
            let depth = parsed_depth(&bounded);
            assert!(
                depth <= 16 * 4 + 8,
                "depth {depth} for {}",
                &html[..40.min(html.len())]
            );
        }
    }

    #[test]
    fn self_closing_counts_only_where_the_parser_honours_it() {
        // Inside svg, `/>` closes: a page of icons does not drift deeper.
        let icons = "<svg><path d=\"M0\"/><circle r=\"1\"/></svg>".repeat(500);
        let html = format!("{icons}<div><div><p>نص</p></div></div>");
        assert_eq!(bound(&html, 4), html.as_str());
    }

    #[test]
    fn a_script_ends_where_the_tokenizer_ends_it() {
        let b = b"<script>a<!--<script>x</script>y--></script><div>";
        assert_eq!(raw_text_end(b, 8, "script"), 35);
        assert_eq!(raw_text_end(b"x</scripts></script>", 0, "script"), 11);
        assert_eq!(raw_text_end(b"x", 0, "style"), 1);
    }
}
