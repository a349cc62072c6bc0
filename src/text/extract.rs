//! Main-text extraction from HTML with scraper (html5ever).
//!
//! A readability-style score: every paragraph gives its text length, less
//! the text inside links, to its parent (and half to the grandparent); the
//! best-scoring container is the article. Navigation, scripts, forms and
//! asides never count.

use std::collections::HashMap;

use ego_tree::iter::Edge;
use scraper::{ElementRef, Html, Node};

use super::nesting;

/// Deepest element nesting handed to the parser: deeper tags are dropped
/// before parsing (their text stays). html5ever checks the stack of open
/// elements at many tags, so a page of 200,000 nested `<div>` costs
/// minutes; no real page nests this deep (browsers cap the tree near 512).
pub const MAX_DEPTH: usize = 256;

/// A feed summary or title longer than this is cut before parsing: a
/// whole article is a few dozen KiB.
pub const MAX_FRAGMENT_BYTES: usize = 1 << 20;

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
    let html = Html::parse_fragment(&nesting::bound(fragment, MAX_DEPTH));
    let mut out = String::new();
    write_text(html.root_element(), &mut out);
    tidy(&out)
}

/// The article's text from a whole page, one paragraph per line; the
/// headline (`<h1>` or `<title>`) comes first when the page has one.
/// The page is nested at most [`MAX_DEPTH`] deep before parsing (its size
/// is the fetcher's cap).
pub fn extract_main(page: &str) -> String {
    let doc = Html::parse_document(&nesting::bound(page, MAX_DEPTH));
    // Boxes marked unlikely are left out first; a page built inside one
    // (a theme's "header-default" wrapper around everything) is read
    // again without that rule, as readability does.
    let mut scores = score_boxes(&doc, true);
    let short = |scores: &Scores<'_>| best_of(scores).is_none_or(|(_, e)| text_len(e) < 500);
    if short(&scores) {
        let again = score_boxes(&doc, false);
        let len = |s: &Scores<'_>| best_of(s).map_or(0, |(_, e)| text_len(e));
        if len(&again) > len(&scores) {
            scores = again;
        }
    }
    let best = best_of(&scores).map(|(s, e)| (s, widened(e, s, &scores)));
    let mut body = String::new();
    match best {
        Some((best_score, container)) => {
            // The article may be split across sibling boxes (a lead, then
            // the body; columns between ads): siblings that score near the
            // best, or plain paragraphs of text, belong to it.
            let threshold = (best_score * 0.2).max(10.0);
            let parts: Vec<ElementRef<'_>> = match container.parent().and_then(ElementRef::wrap) {
                Some(parent) => parent
                    .children()
                    .filter_map(ElementRef::wrap)
                    .filter(|s| {
                        s.id() == container.id()
                            || (!SKIP.contains(&s.value().name())
                                && !unlikely(*s)
                                && (scores
                                    .get(&ego_id::of(*s))
                                    .is_some_and(|(v, _)| *v >= threshold)
                                    || plain_paragraph(*s)))
                    })
                    .collect(),
                None => vec![container],
            };
            for part in parts {
                let left_out = boilerplate_within(part);
                write_text_without(part, &mut body, &left_out);
                body.push('\n');
            }
        }
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

/// Each box with the score its paragraphs gave it.
type Scores<'a> = HashMap<ego_id::Id, (f64, ElementRef<'a>)>;

fn best_of<'a>(scores: &Scores<'a>) -> Option<(f64, ElementRef<'a>)> {
    scores
        .values()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(s, e)| (*s, *e))
}

/// Scores the boxes of `doc`: every paragraph gives its text length (less
/// its links, more for commas) to its box and half to the box's parent.
/// `strict`: paragraphs inside boxes marked unlikely give nothing.
fn score_boxes(doc: &Html, strict: bool) -> Scores<'_> {
    let mut scores: Scores<'_> = HashMap::new();
    // Pages that break lines with <br> rather than paragraphs: text boxes
    // count as paragraphs there.
    let real = elements(doc.root_element())
        .filter(|e| e.value().name() == "p" && text_len(*e) >= 25)
        .take(3)
        .count();
    let boxes = real < 3;
    for p in elements(doc.root_element()) {
        let paragraph = match p.value().name() {
            "p" | "pre" | "blockquote" => true,
            "div" | "td" if boxes => false,
            _ => continue,
        };
        if inside_skipped(p) || (strict && inside_unlikely(p)) {
            continue;
        }
        // A box's own text: what sits in it outside its blocks.
        let (text_len, link_len, commas) = if paragraph {
            (text_len(p), link_text_len(p), commas(p.text()))
        } else {
            own_text(p)
        };
        if text_len < 25 {
            continue;
        }
        let score = (text_len - link_len.min(text_len)) as f64 + commas as f64 * 10.0;
        // A paragraph credits its box; a box of text is itself the box.
        let (first, second) = if paragraph {
            let Some(parent) = p.parent().and_then(ElementRef::wrap) else {
                continue;
            };
            (parent, parent.parent().and_then(ElementRef::wrap))
        } else {
            (p, p.parent().and_then(ElementRef::wrap))
        };
        scores.entry(ego_id::of(first)).or_insert((0.0, first)).0 += score;
        if let Some(second) = second {
            scores.entry(ego_id::of(second)).or_insert((0.0, second)).0 += score / 2.0;
        }
    }
    scores
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

/// A site's own extraction rule (`[[feeds]] selector` and `exclude`): the
/// text of the elements `selector` matches, in page order, without what
/// `exclude` matches inside them. For sites where the generic scoring keeps
/// the wrong block.
#[derive(Debug, Clone)]
pub struct SiteRule {
    selector: scraper::Selector,
    exclude: Vec<scraper::Selector>,
}

impl SiteRule {
    /// Parses the CSS selectors; the error says which one is wrong and why.
    pub fn new(selector: &str, exclude: &[String]) -> Result<SiteRule, String> {
        let parse = |s: &str| {
            scraper::Selector::parse(s).map_err(|e| format!("{s:?} is not a CSS selector: {e}"))
        };
        Ok(SiteRule {
            selector: parse(selector)?,
            exclude: exclude.iter().map(|s| parse(s)).collect::<Result<_, _>>()?,
        })
    }

    /// The page's text by this rule; `None` when the selector matches
    /// nothing with text (the page changed: generic extraction takes over).
    pub fn extract(&self, page: &str) -> Option<String> {
        let doc = Html::parse_document(&nesting::bound(page, MAX_DEPTH));
        let excluded: std::collections::HashSet<_> = self
            .exclude
            .iter()
            .flat_map(|s| doc.select(s))
            .map(|e| e.id())
            .collect();
        let mut out = String::new();
        let mut taken: std::collections::HashSet<ego_id::Id> = std::collections::HashSet::new();
        for e in doc.select(&self.selector) {
            // A match inside an earlier match is already written.
            if e.ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| taken.contains(&ego_id::of(a)))
            {
                continue;
            }
            taken.insert(ego_id::of(e));
            write_text_without(e, &mut out, &excluded);
            out.push('\n');
        }
        let text = tidy(&out);
        (!text.is_empty()).then_some(text)
    }
}

/// Every element below `root`, in document order.
fn elements(root: ElementRef<'_>) -> impl Iterator<Item = ElementRef<'_>> {
    root.descendants().filter_map(ElementRef::wrap)
}

/// The article split into several boxes that score almost as well as the
/// best (a story body cut into columns between ads): their nearest common
/// ancestor with the best, when at least two such boxes exist.
fn widened<'a>(
    best: ElementRef<'a>,
    best_score: f64,
    scores: &HashMap<ego_id::Id, (f64, ElementRef<'a>)>,
) -> ElementRef<'a> {
    let related = |a: ElementRef<'_>, b: ElementRef<'_>| {
        a.ancestors().any(|x| x.id() == b.id()) || b.ancestors().any(|x| x.id() == a.id())
    };
    let rivals: Vec<ElementRef<'a>> = scores
        .values()
        .filter(|(s, e)| *s >= best_score * 0.5 && e.id() != best.id() && !related(*e, best))
        .map(|(_, e)| *e)
        .collect();
    if rivals.len() < 2 {
        return best;
    }
    for ancestor in best.ancestors().filter_map(ElementRef::wrap) {
        if matches!(ancestor.value().name(), "body" | "html") {
            break;
        }
        let holds = rivals
            .iter()
            .filter(|r| r.ancestors().any(|x| x.id() == ancestor.id()))
            .count();
        if holds >= 2 {
            return ancestor;
        }
    }
    best
}

/// A sibling `<p>` worth keeping beside the article: long enough with few
/// links, or a short sentence with none.
fn plain_paragraph(e: ElementRef<'_>) -> bool {
    if e.value().name() != "p" {
        return false;
    }
    let len = text_len(e);
    let links = link_text_len(e);
    if len >= 80 {
        links * 4 < len
    } else {
        len > 0
            && links == 0
            && e.text()
                .collect::<String>()
                .trim_end()
                .ends_with(['.', '。', '؟', '!'])
    }
}

fn commas<'a>(text: impl Iterator<Item = &'a str>) -> usize {
    text.map(|t| t.matches(['،', ',', '，', '、']).count())
        .sum()
}

/// The text of `e` outside its block children (and outside skipped
/// elements): (characters, characters in links, commas).
fn own_text(e: ElementRef<'_>) -> (usize, usize, usize) {
    let (mut len, mut links, mut comma) = (0, 0, 0);
    for child in e.children() {
        match child.value() {
            Node::Text(t) => {
                len += t.trim().chars().count();
                comma += commas(std::iter::once(&**t));
            }
            Node::Element(el) => {
                let name = el.name();
                if BLOCK.contains(&name) || SKIP.contains(&name) {
                    continue;
                }
                if let Some(c) = ElementRef::wrap(child) {
                    let n = text_len(c);
                    len += n;
                    links += if name == "a" { n } else { link_text_len(c) };
                    comma += commas(c.text());
                }
            }
            _ => {}
        }
    }
    (len, links, comma)
}

/// Class and id words of blocks that are not the article: readability's
/// "unlikely candidates", and what Arabic news pages add (share bars, tag
/// lines, most-read lists, weather strips, "read also" boxes).
const UNLIKELY: &[&str] = &[
    "-ad-",
    "ad-break",
    "adsbygoogle",
    "advert",
    "agegate",
    "banner",
    "breadcrumb",
    "combx",
    "comment",
    "community",
    "cookie",
    "disqus",
    "footer",
    "gdpr",
    "header",
    "menu",
    "mostread",
    "most-read",
    "newsletter",
    "outbrain",
    "pagination",
    "pager",
    "popular",
    "popup",
    "promo",
    "readalso",
    "read-also",
    "readmore",
    "read-more",
    "recommend",
    "related",
    "remark",
    "replies",
    "share",
    "sharing",
    "shoutbox",
    "sidebar",
    "skyscraper",
    "social",
    "sponsor",
    "subscribe",
    "taboola",
    "weather",
    "widget",
    "more-stories",
    "morestories",
    "trending",
    "tags",
];

/// Words that keep a block despite an unlikely word ("article-header").
const MAYBE: &[&str] = &[
    "article",
    "body",
    "content",
    "main",
    "story",
    "entry",
    "post-text",
];

/// True when `e`'s class or id says it is not article text.
fn unlikely(e: ElementRef<'_>) -> bool {
    let el = e.value();
    if matches!(el.name(), "html" | "body" | "article" | "main" | "a") {
        return false;
    }
    let mut words = String::new();
    for v in [el.attr("class"), el.attr("id")].into_iter().flatten() {
        words.push_str(v);
        words.push(' ');
    }
    if words.is_empty() {
        return false;
    }
    let words = words.to_ascii_lowercase();
    UNLIKELY.iter().any(|u| words.contains(u)) && !MAYBE.iter().any(|m| words.contains(m))
}

fn inside_unlikely(e: ElementRef<'_>) -> bool {
    e.ancestors().filter_map(ElementRef::wrap).any(unlikely)
}

/// Blocks inside the chosen container to leave out: those whose class or
/// id says so, and lists or boxes that are mostly links (menus, related
/// stories, tag lines).
fn boilerplate_within(container: ElementRef<'_>) -> std::collections::HashSet<ego_tree::NodeId> {
    let mut out = std::collections::HashSet::new();
    for e in elements(container) {
        if e.id() == container.id() {
            continue;
        }
        if unlikely(e) {
            out.insert(e.id());
            continue;
        }
        // Photo captions: a credit and a line the photo explains.
        let name = e.value().name();
        if name == "figcaption"
            || (name == "figure" && text_len(e) < 200)
            || e.value()
                .attr("class")
                .is_some_and(|c| c.to_ascii_lowercase().contains("caption"))
        {
            out.insert(e.id());
            continue;
        }
        if !matches!(
            e.value().name(),
            "ul" | "ol" | "div" | "section" | "table" | "dl" | "span" | "p"
        ) {
            continue;
        }
        let text = text_len(e);
        if text == 0 {
            continue;
        }
        let links = link_text_len(e);
        // Mostly links, and short of a paragraph's worth of other text.
        if links * 2 > text && text - links < 80 {
            out.insert(e.id());
        }
    }
    // A heading whose section went ("Related stories" over their links).
    let headings: Vec<ego_tree::NodeId> = elements(container)
        .filter(|h| matches!(h.value().name(), "h2" | "h3" | "h4" | "h5" | "h6"))
        .filter(|h| {
            h.next_siblings()
                .filter_map(ElementRef::wrap)
                .next()
                .is_some_and(|next| out.contains(&next.id()))
        })
        .map(|h| h.id())
        .collect();
    out.extend(headings);
    out
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
    write_text_without(e, out, &std::collections::HashSet::new());
}

/// [`write_text`] leaving out the subtrees of `excluded` elements.
fn write_text_without(
    e: ElementRef<'_>,
    out: &mut String,
    excluded: &std::collections::HashSet<ego_tree::NodeId>,
) {
    let root = e.id();
    // The skipped element being walked through, if any.
    let mut skipping = None;
    for edge in e.traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() && node.id() != root => match node.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(el) if SKIP.contains(&el.name()) || excluded.contains(&node.id()) => {
                    skipping = Some(node.id())
                }
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
    fn a_site_rule_keeps_its_block_without_the_excluded() -> Result<(), String> {
        let page = r#"<html><body><nav>الرئيسية سياسة رياضة</nav>
            <article><h1>العنوان</h1><div class="body"><p>الفقرة الأولى من الخبر.</p>
            <div class="related"><p>اقرأ أيضا: خبر آخر</p></div><p>الفقرة الثانية.</p></div>
            <div class="body"><p>تتمة في كتلة ثانية.</p></div></article>
            <aside class="body">خارج المقال</aside></body></html>"#;
        let rule = SiteRule::new("article .body", &[".related".to_string()])?;
        assert_eq!(
            rule.extract(page).as_deref(),
            Some("الفقرة الأولى من الخبر.\nالفقرة الثانية.\nتتمة في كتلة ثانية.")
        );
        let gone = SiteRule::new("#story", &[])?;
        assert_eq!(gone.extract(page), None);
        assert!(SiteRule::new("div[", &[]).is_err());
        Ok(())
    }

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
    fn a_huge_fragment_is_cut_at_a_character() {
        let t = html_to_text(&format!("<p>{}</p>", "ب".repeat(MAX_FRAGMENT_BYTES)));
        assert!(t.len() <= MAX_FRAGMENT_BYTES && t.starts_with('ب'));
    }
}
