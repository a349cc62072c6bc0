//! Alert emails as text and right-to-left HTML. Feed text is untrusted:
//! everything from a feed is escaped before it goes into HTML.

use html_escape::{encode_double_quoted_attribute, encode_text};

use crate::store::{Item, Story};

/// A rendered email, before headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The longest excerpt, in characters.
const EXCERPT_CHARS: usize = 600;

/// Renders the alert for `story` on a topic.
///
/// `items` are the story's items (first one first); `explanation` is the
/// one-line reason it matched.
pub fn alert(
    story: &Story,
    items: &[Item],
    topic_name: &str,
    several_topics: bool,
    explanation: &str,
) -> Rendered {
    let title = one_line(&story.title);
    let subject = if several_topics {
        format!("{title} — {}", one_line(topic_name))
    } else {
        title.clone()
    };
    let excerpt = items.first().map(|i| excerpt(&i.text)).unwrap_or_default();
    let published = items
        .first()
        .and_then(|i| i.published)
        .map(|p| p.format("%Y-%m-%d %H:%M UTC").to_string());

    let mut text = String::new();
    text.push_str(&title);
    text.push_str("\n\n");
    if let Some(p) = &published {
        text.push_str(&format!("{p}\n\n"));
    }
    if !excerpt.is_empty() {
        text.push_str(&excerpt);
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "سبب التنبيه ({}): {}\n\n",
        one_line(topic_name),
        explanation
    ));
    text.push_str("المصادر:\n");
    for c in &story.copies {
        match &c.link {
            Some(l) => text.push_str(&format!("- {}: {}\n", one_line(&c.feed_name), l)),
            None => text.push_str(&format!("- {}\n", one_line(&c.feed_name))),
        }
    }

    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html dir=\"rtl\" lang=\"ar\"><head><meta charset=\"utf-8\">");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    html.push_str(&format!("<title>{}</title></head>\n", encode_text(&title)));
    html.push_str(
        "<body dir=\"rtl\" lang=\"ar\" style=\"margin:0;padding:16px;font-family:Tahoma,Arial,sans-serif;\
         font-size:17px;line-height:1.7;color:#1a1a1a;background:#ffffff;\">\n<div style=\"max-width:640px;margin:0 auto;\">\n",
    );
    html.push_str(&format!(
        "<h1 style=\"font-size:22px;line-height:1.4;margin:0 0 8px;\">{}</h1>\n",
        encode_text(&title)
    ));
    if let Some(p) = &published {
        html.push_str(&format!(
            "<p style=\"color:#666;font-size:14px;margin:0 0 12px;\">{}</p>\n",
            encode_text(p)
        ));
    }
    if !excerpt.is_empty() {
        for para in excerpt.lines() {
            html.push_str(&format!(
                "<p style=\"margin:0 0 12px;\">{}</p>\n",
                encode_text(para)
            ));
        }
    }
    html.push_str(&format!(
        "<p style=\"background:#f3f4f6;padding:8px 12px;border-radius:6px;font-size:15px;\">سبب التنبيه ({}): {}</p>\n",
        encode_text(&one_line(topic_name)),
        encode_text(explanation)
    ));
    html.push_str("<h2 style=\"font-size:18px;margin:16px 0 8px;\">المصادر</h2>\n<ul style=\"padding-right:20px;margin:0;\">\n");
    for c in &story.copies {
        let name = encode_text(&one_line(&c.feed_name)).into_owned();
        match c.link.as_deref().filter(|l| is_web_link(l)) {
            Some(l) => html.push_str(&format!(
                "<li><a href=\"{}\">{}</a> — {}</li>\n",
                encode_double_quoted_attribute(l),
                name,
                encode_text(&one_line(&c.title))
            )),
            None => html.push_str(&format!(
                "<li>{name} — {}</li>\n",
                encode_text(&one_line(&c.title))
            )),
        }
    }
    html.push_str("</ul>\n</div>\n</body></html>\n");
    Rendered {
        subject,
        text,
        html,
    }
}

/// Only http(s) links become anchors: a `javascript:` link in a feed stays text.
fn is_web_link(l: &str) -> bool {
    let lower = l.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Collapses every run of white space, CR and LF included, to one space: a
/// title can never break a header or a line of the layout.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if out.chars().count() >= EXCERPT_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line.trim());
    }
    if out.chars().count() > EXCERPT_CHARS {
        let cut: String = out.chars().take(EXCERPT_CHARS).collect();
        // End on a word boundary.
        let cut = match cut.rfind(' ') {
            Some(i) if i > EXCERPT_CHARS / 2 => cut[..i].to_string(),
            _ => cut,
        };
        return format!("{cut}…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Copy;
    use chrono::Utc;

    fn story(title: &str, link: &str) -> Story {
        Story {
            id: "s".into(),
            title: title.into(),
            created: Utc::now(),
            copies: vec![Copy {
                item: "i".into(),
                feed_name: "وكالة".into(),
                title: title.into(),
                link: Some(link.into()),
            }],
        }
    }

    #[test]
    fn hostile_content_is_escaped() {
        let r = alert(
            &story(
                "<script>alert(1)</script>\r\nBcc: x@y",
                "javascript:alert(1)",
            ),
            &[],
            "t",
            false,
            "سوريا — in title",
        );
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(!r.html.contains("href=\"javascript"));
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
    }

    #[test]
    fn html_is_rtl_and_lists_links() {
        let r = alert(&story("عنوان", "https://a.example/1"), &[], "t", false, "x");
        assert!(r.html.contains("dir=\"rtl\"") && r.html.contains("lang=\"ar\""));
        assert!(r.html.contains("https://a.example/1") && r.text.contains("https://a.example/1"));
    }
}
