//! Main-text extraction from HTML with scraper (html5ever).
//!
//! A readability-style score: every paragraph gives its text length, less
//! the text inside links, to its parent (and half to the grandparent); the
//! best-scoring container is the article. Navigation, scripts, forms and
//! asides never count.

use std::collections::HashMap;

use ego_tree::iter::Edge;
use scraper::{ElementRef, Html, Node};

/// Deepest element nesting handed to the parser: deeper tags are dropped
/// before parsing (their text stays). html5ever checks the stack of open
/// elements at many tags, so a page of 200,000 nested `<div>` costs
/// minutes; no real page nests this deep (browsers cap the tree near 512).
pub const MAX_DEPTH: usize = 256;

/// A feed summary or title longer than this is cut before parsing: a
/// whole article is a few dozen KiB.
pub const MAX_FRAGMENT_BYTES: usize = 1 << 20;

/// Elements that never contain others, or whose end tag is implied by the
/// next sibling (`<p>`, `<li>`, …): the parser does not nest them, so they
/// do not count towards the depth.
const NOT_NESTED: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th",
    "thead", "tbody", "tfoot", "rb", "rt", "rtc", "rp", "colgroup", "caption",
];

/// Elements whose content is text to the parser, up to their end tag.
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

/// Elements whose content is never article text. Not `form`: ASP.NET
/// sites wrap the whole page in one.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "iframe", "svg",
    "button", "select", "input", "textarea", "head", "title", "meta", "link", "object",
];

/// Elements that start a new line of text.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "blockquote",
    "figcaption",
    "figure",
    "pre",
    "dd",
    "dt",
    "main",
    "hr",
];

/// True when `s` looks like an HTML document or fragment rather than text.
pub fn looks_like_html(s: &str) -> bool {
    let head = s.trim_start();
    let mut end = head.len().min(2048);
    while !head.is_char_boundary(end) {
        end -= 1;
    }
    let head = &head[..end];
    let lower = head.to_ascii_lowercase();
    lower.starts_with("<!doctype")
        || lower.starts_with("<html")
        || lower.contains("<body")
        || lower.contains("<p>")
        || lower.contains("<div")
}

/// Plain text of an HTML fragment (a feed summary), one block per line.
/// Bounded: the fragment is cut at [`MAX_FRAGMENT_BYTES`] and nested at
/// most [`MAX_DEPTH`] deep before parsing.
pub fn html_to_text(fragment: &str) -> String {
    let fragment = cut_at_char(fragment, MAX_FRAGMENT_BYTES);
    if !fragment.contains('<') && !fragment.contains('&') {
        return fragment.trim().to_string();
    }
    let html = Html::parse_fragment(&bound_nesting(fragment, MAX_DEPTH));
    let mut out = String::new();
    write_text(html.root_element(), &mut out);
    tidy(&out)
}

/// The article's text from a whole page, one paragraph per line; the
/// headline (`<h1>` or `<title>`) comes first when the page has one.
/// The page is nested at most [`MAX_DEPTH`] deep before parsing (its size
/// is the fetcher's cap).
pub fn extract_main(page: &str) -> String {
    let doc = Html::parse_document(&bound_nesting(page, MAX_DEPTH));
    let mut scores: HashMap<ego_id::Id, (f64, ElementRef<'_>)> = HashMap::new();
    let paragraphs = elements(doc.root_element())
        .filter(|e| matches!(e.value().name(), "p" | "pre" | "blockquote"));
    for p in paragraphs {
        if inside_skipped(p) {
            continue;
        }
        let text_len = text_len(p) as f64;
        if text_len < 25.0 {
            continue;
        }
        let link_len = link_text_len(p) as f64;
        let score = text_len - link_len;
        let commas = p
            .text()
            .map(|t| t.matches(['،', ',']).count())
            .sum::<usize>() as f64;
        let score = score + commas * 10.0;
        let Some(parent) = p.parent().and_then(ElementRef::wrap) else {
            continue;
        };
        scores.entry(ego_id::of(parent)).or_insert((0.0, parent)).0 += score;
        if let Some(grand) = parent.parent().and_then(ElementRef::wrap) {
            scores.entry(ego_id::of(grand)).or_insert((0.0, grand)).0 += score / 2.0;
        }
    }
    let best = scores
        .into_values()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, e)| e);
    let mut body = String::new();
    match best {
        Some(container) => write_text(container, &mut body),
        None => match elements(doc.root_element()).find(|e| e.value().name() == "body") {
            Some(b) => write_text(b, &mut body),
            None => write_text(doc.root_element(), &mut body),
        },
    }
    let body = tidy(&body);
    let title = headline(&doc);
    match title {
        Some(t) if !body.starts_with(&t) => format!("{t}\n{body}"),
        _ => body,
    }
}

fn headline(doc: &Html) -> Option<String> {
    let is_og_title = |e: &ElementRef<'_>| {
        e.value().name() == "meta" && e.value().attr("property") == Some("og:title")
    };
    let firsts = [
        elements(doc.root_element()).find(|e| e.value().name() == "h1"),
        elements(doc.root_element()).find(is_og_title),
        elements(doc.root_element()).find(|e| e.value().name() == "title"),
    ];
    for e in firsts.into_iter().flatten() {
        let t = match e.value().attr("content") {
            Some(c) => c.trim().to_string(),
            None => tidy(&e.text().collect::<String>()),
        };
        if !t.is_empty() {
            return Some(t.replace('\n', " "));
        }
    }
    None
}

/// Every element below `root`, in document order.
fn elements(root: ElementRef<'_>) -> impl Iterator<Item = ElementRef<'_>> {
    root.descendants().filter_map(ElementRef::wrap)
}

fn inside_skipped(e: ElementRef<'_>) -> bool {
    e.ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| SKIP.contains(&a.value().name()))
}

fn text_len(e: ElementRef<'_>) -> usize {
    e.text().map(|t| t.trim().chars().count()).sum()
}

fn link_text_len(e: ElementRef<'_>) -> usize {
    elements(e)
        .filter(|a| a.value().name() == "a")
        .map(text_len)
        .sum()
}

/// The text below `e`, a line break around each block. Walks the tree
/// without recursion, so no nesting can exhaust the stack.
fn write_text(e: ElementRef<'_>, out: &mut String) {
    let root = e.id();
    // The skipped element being walked through, if any.
    let mut skipping = None;
    for edge in e.traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() && node.id() != root => match node.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(el) if SKIP.contains(&el.name()) => skipping = Some(node.id()),
                Node::Element(el) if BLOCK.contains(&el.name()) => out.push('\n'),
                _ => {}
            },
            Edge::Close(node) if skipping == Some(node.id()) => skipping = None,
            Edge::Close(node) if skipping.is_none() && node.id() != root => {
                if let Node::Element(el) = node.value() {
                    if BLOCK.contains(&el.name()) {
                        out.push('\n');
                    }
                }
            }
            _ => {}
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `html` with every tag nested deeper than `max_depth` elements removed
/// (text, comments and shallower tags kept as they are). A linear scan of
/// the markup, not a parse: it only has to bound what the parser sees.
pub fn bound_nesting(html: &str, max_depth: usize) -> std::borrow::Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut out = String::new();
    // Copied up to here (into `out`, once something was dropped).
    let mut copied = 0;
    let mut dropped_any = false;
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(lt) = memchr::memchr(b'<', &bytes[at..]).map(|i| at + i) {
        let rest = &bytes[lt..];
        let (end, drop) = if rest.starts_with(b"<!--") {
            (
                find_from(bytes, lt + 4, b"-->").map_or(bytes.len(), |i| i + 3),
                false,
            )
        } else if matches!(rest.get(1), Some(b'!' | b'?')) {
            (tag_end(bytes, lt), false)
        } else if rest.get(1) == Some(&b'/') {
            let name = tag_name(&rest[2..]);
            let end = tag_end(bytes, lt);
            if name.is_empty() || NOT_NESTED.contains(&name.as_str()) {
                (end, false)
            } else {
                let drop = depth > max_depth;
                depth = depth.saturating_sub(1);
                (end, drop)
            }
        } else if rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
            let name = tag_name(&rest[1..]);
            let end = tag_end(bytes, lt);
            let self_closing = end >= 2 && bytes.get(end - 2) == Some(&b'/');
            if RAW_TEXT.contains(&name.as_str()) {
                // Its content is no markup: continue after its end tag.
                let close = format!("</{name}");
                let body_end = find_ascii_ci(bytes, end, close.as_bytes()).unwrap_or(bytes.len());
                (body_end, false)
            } else if NOT_NESTED.contains(&name.as_str()) || self_closing {
                (end, false)
            } else {
                depth += 1;
                (end, depth > max_depth)
            }
        } else {
            (lt + 1, false)
        };
        if drop {
            out.push_str(&html[copied..lt]);
            copied = end;
            dropped_any = true;
        }
        at = end.max(lt + 1);
    }
    if !dropped_any {
        return std::borrow::Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    std::borrow::Cow::Owned(out)
}

/// The lower-case ASCII name at the start of `b` (a tag's name).
fn tag_name(b: &[u8]) -> String {
    b.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b':' | b'_'))
        .take(32)
        .map(|c| char::from(c.to_ascii_lowercase()))
        .collect()
}

/// One past the `>` that ends the tag starting at `lt`: a quoted
/// attribute value (a quote right after `=`) may hold `>`. The end of the
/// input when the tag is never closed.
fn tag_end(b: &[u8], lt: usize) -> usize {
    let mut quote = None;
    let mut after_eq = false;
    for (i, &c) in b.iter().enumerate().skip(lt + 1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'>' => return i + 1,
                b'=' => after_eq = true,
                b'"' | b'\'' if after_eq => quote = Some(c),
                c if c.is_ascii_whitespace() => {}
                _ => after_eq = false,
            },
        }
    }
    b.len()
}

fn find_from(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| from + i)
}

/// Where `needle` (lower-case ASCII) starts in `hay` at or after `from`,
/// ignoring ASCII case.
fn find_ascii_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let mut at = from;
    while let Some(i) = memchr::memchr(b'<', hay.get(at..)?).map(|i| at + i) {
        if hay
            .get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

/// Collapses runs of white space inside lines and drops empty lines.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let mut first = true;
        for w in line.split_whitespace() {
            if first {
                if !out.is_empty() {
                    out.push('\n');
                }
                first = false;
            } else {
                out.push(' ');
            }
            out.push_str(w);
        }
    }
    out
}

/// Stable identity of a node within one parsed document, for the score map.
mod ego_id {
    use scraper::ElementRef;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Id(ego_tree::NodeId);

    pub fn of(e: ElementRef<'_>) -> Id {
        Id(e.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_to_text_keeps_blocks_apart() {
        let t = html_to_text("<p>أولى <b>مهمة</b></p><p>ثانية &amp; ثالثة</p>");
        assert_eq!(t, "أولى مهمة\nثانية & ثالثة");
    }

    #[test]
    fn long_arabic_text_is_not_html() {
        // 2048 bytes falls inside a two-byte letter here.
        let t = format!("س{}", "ب".repeat(2000));
        assert!(!looks_like_html(&t));
    }

    #[test]
    fn script_text_is_dropped() {
        assert_eq!(html_to_text("<p>نص</p><script>var x = 1;</script>"), "نص");
    }

    #[test]
    fn picks_the_article_over_navigation() {
        let page = r#"<html><head><title>موقع</title></head><body>
            <nav><p>الرئيسية سياسة اقتصاد رياضة ثقافة منوعات اتصل بنا</p></nav>
            <div class="sidebar"><p><a href="/x">خبر آخر طويل العنوان جدا عن موضوع مختلف تماما</a></p></div>
            <article><h1>العنوان</h1>
              <p>قالت وزارة الخارجية الروسية، اليوم، إن المحادثات مع واشنطن حول سوريا متوقفة.</p>
              <p>وأضافت الوزارة، في بيان، أن موسكو مستعدة لاستئناف الحوار في أي وقت.</p>
            </article></body></html>"#;
        let text = extract_main(page);
        assert!(text.starts_with("العنوان"), "{text}");
        assert!(text.contains("المحادثات مع واشنطن"));
        assert!(!text.contains("الرئيسية"));
        assert!(!text.contains("خبر آخر"));
    }

    #[test]
    fn deeply_nested_markup_neither_overflows_nor_stalls() {
        // 20,000 nested <div> overflowed the stack of the recursive walk;
        // 200,000 kept the parser busy for minutes.
        for n in [20_000, 200_000] {
            let html = format!("{}نص عميق{}", "<div>".repeat(n), "</div>".repeat(n));
            assert_eq!(html_to_text(&html), "نص عميق");
            let page = format!(
                "<html><body>{html}<p>فقرة بعد العمق تكفي للنص الرئيسي هنا.</p></body></html>"
            );
            assert!(extract_main(&page).contains("فقرة بعد العمق"));
        }
    }

    #[test]
    fn nesting_is_cut_below_the_cap_and_kept_above_it() {
        let html = format!("{}x{}", "<b>".repeat(5), "</b>".repeat(5));
        assert_eq!(bound_nesting(&html, 5), html.as_str());
        assert_eq!(bound_nesting(&html, 3), "<b><b><b>x</b></b></b>");
        // Tags the parser never nests, comments, raw text and quoted
        // attributes are not counted as depth.
        let flat =
            "<p>a<p>b<br><img src=\"a>b\"><!-- <div><div> --><script>if (a<b) {}</script><li>c";
        assert_eq!(bound_nesting(flat, 0), flat);
        // A quote inside an attribute's name does not hide the tags after it.
        let odd = format!("<i a'b>{}", "<i>".repeat(4));
        assert_eq!(bound_nesting(&odd, 2), "<i a'b><i>");
    }

    #[test]
    fn a_huge_fragment_is_cut_at_a_character() {
        let t = html_to_text(&format!("<p>{}</p>", "ب".repeat(MAX_FRAGMENT_BYTES)));
        assert!(t.len() <= MAX_FRAGMENT_BYTES && t.starts_with('ب'));
    }
}
