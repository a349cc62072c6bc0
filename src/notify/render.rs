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

/// The longest headline shown, in characters (a feed may send megabytes).
pub(super) const TITLE_CHARS: usize = 300;

/// The longest outlet name shown, in characters.
pub(super) const NAME_CHARS: usize = 100;

/// The longest link made an anchor: a longer one is not a link a reader
/// follows (and would bloat the message).
const LINK_BYTES: usize = 2048;

/// Outlets listed per story; the rest are counted.
pub(super) const MAX_OUTLETS: usize = 50;

/// Stories listed per digest section; the rest are counted.
const MAX_DIGEST_STORIES: usize = 200;

/// Outlets listed per story in a digest; the rest are counted.
const MAX_DIGEST_OUTLETS: usize = 10;

/// A digest stops listing stories once its two parts hold this much: mail
/// servers refuse messages of a few megabytes, and nobody reads that far.
const DIGEST_BUDGET: usize = 700 * 1024;

/// A noun with the forms Arabic counting needs.
pub struct Noun {
    /// One: «مصدر واحد».
    pub one: &'static str,
    /// Two (the dual): «مصدران».
    pub two: &'static str,
    /// 3–10, after the number: «مصادر».
    pub few: &'static str,
    /// 11–99, after the number (accusative singular): «مصدرًا».
    pub many: &'static str,
    /// 100, 1000…, after the number (genitive singular): «مصدر».
    pub hundred: &'static str,
    /// None at all: «لا مصادر».
    pub none: &'static str,
}

pub const OUTLETS: Noun = Noun {
    one: "مصدر واحد",
    two: "مصدران",
    few: "مصادر",
    many: "مصدرًا",
    hundred: "مصدر",
    none: "لا مصادر",
};

pub const STORIES: Noun = Noun {
    one: "قصة واحدة",
    two: "قصتان",
    few: "قصص",
    many: "قصة",
    hundred: "قصة",
    none: "لا قصص",
};

/// `n` of `noun` as Arabic says it: «مصدر واحد», «مصدران», «3 مصادر»,
/// «11 مصدرًا», «100 مصدر», «103 مصادر».
pub fn count(n: usize, noun: &Noun) -> String {
    match n {
        0 => noun.none.to_string(),
        1 => noun.one.to_string(),
        2 => noun.two.to_string(),
        _ => {
            let form = match n % 100 {
                3..=10 => noun.few,
                11..=99 => noun.many,
                // 100, 101, 102, 200…: the hundred governs.
                _ => noun.hundred,
            };
            format!("{n} {form}")
        }
    }
}

/// At most `max` characters of `s`, an ellipsis marking the cut.
fn capped(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// `s` on one line and at most `max` characters; only its start is read,
/// however long it is.
pub(super) fn shown(s: &str, max: usize) -> String {
    let head = match s.char_indices().nth(max.saturating_mul(4)) {
        Some((at, _)) => &s[..at],
        None => s,
    };
    capped(&one_line(head), max)
}

/// When an outlet carried a story: raqib's first sight of it, and the
/// outlet's own publication time when its feed gave one, each time as
/// `time` shows it.
fn outlet_times(
    c: &crate::store::Copy,
    tz: chrono_tz::Tz,
    time: impl Fn(String) -> String,
) -> Option<String> {
    let seen = c.seen.map(|s| format!("رُصد {}", time(local_time(s, tz))));
    let published = c
        .published
        .map(|p| format!("نُشر {}", time(local_time(p, tz))));
    match (seen, published) {
        (Some(s), Some(p)) => Some(format!("{s}، {p}")),
        (s, p) => s.or(p),
    }
}

/// The copy that came first (the outlet that reported first, as far as
/// raqib can tell); `None` for a single outlet, or when no copy says when.
pub(super) fn first_seen(copies: &[crate::store::Copy]) -> Option<usize> {
    if copies.len() < 2 {
        return None;
    }
    copies
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((c.reported_at()?, i)))
        .min()
        .map(|(_, i)| i)
}

/// The mark of the outlet that reported first.
const FIRST: &str = "الأول";

/// A link fit to print or to make an anchor: http(s) and of sane length.
pub(super) fn web_link(l: Option<&str>) -> Option<&str> {
    l.map(str::trim)
        .filter(|l| is_web_link(l) && l.len() <= LINK_BYTES)
}

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
    alert_in(
        story,
        items,
        topic_name,
        several_topics,
        explanation,
        chrono_tz::UTC,
        false,
    )
}

/// [`alert`] with times in `tz`, and the rate-limit notice when this is the
/// last immediate alert of the hour.
pub fn alert_in(
    story: &Story,
    items: &[Item],
    topic_name: &str,
    several_topics: bool,
    explanation: &str,
    tz: chrono_tz::Tz,
    last_before_limit: bool,
) -> Rendered {
    let title = shown(&story.title, TITLE_CHARS);
    let subject = if several_topics {
        format!("{title} — {}", shown(topic_name, NAME_CHARS))
    } else {
        title.clone()
    };
    let excerpt = items.first().map(|i| excerpt(&i.text)).unwrap_or_default();
    // The feed's time, else when raqib first saw it.
    let published = items.first().map(|i| match i.published {
        Some(p) => local_time(p, tz),
        None => format!("رُصد في {}", local_time(i.seen, tz)),
    });

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
    if last_before_limit {
        text.push_str(&format!("{LIMIT_NOTICE}\n\n"));
    }
    text.push_str(&format!(
        "المصادر ({}):\n",
        count(story.copies.len(), &OUTLETS)
    ));
    let first = first_seen(&story.copies);
    for (i, c) in story.copies.iter().take(MAX_OUTLETS).enumerate() {
        let name = shown(&c.feed_name, NAME_CHARS);
        match web_link(c.link.as_deref()) {
            Some(l) => text.push_str(&format!("- {name}: {l}\n")),
            None => text.push_str(&format!("- {name}\n")),
        }
        let mark = if first == Some(i) {
            format!(" ({FIRST})")
        } else {
            String::new()
        };
        if let Some(w) = outlet_times(c, tz, |t| t) {
            text.push_str(&format!("  {w}{mark}\n"));
        }
    }
    let more = story.copies.len().saturating_sub(MAX_OUTLETS);
    if more > 0 {
        text.push_str(&format!("- و{} غيرها\n", count(more, &OUTLETS)));
    }

    let mut html = page_start(&title);
    html.push_str(&format!(
        "<h1 style=\"font-size:22px;line-height:1.4;margin:0 0 8px;\">{}</h1>\n",
        encode_text(&title)
    ));
    if let Some(p) = &published {
        html.push_str(&format!(
            "<p style=\"color:#666;font-size:14px;margin:0 0 12px;\">{}</p>\n",
            ltr(p)
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
    if last_before_limit {
        html.push_str(&format!(
            "<p style=\"color:#8a4b00;font-size:15px;\">{LIMIT_NOTICE}</p>\n"
        ));
    }
    html.push_str(&format!(
        "<h2 style=\"font-size:18px;margin:16px 0 8px;\">المصادر ({})</h2>\n<ul style=\"padding-right:20px;margin:0;\">\n",
        count(story.copies.len(), &OUTLETS)
    ));
    for (i, c) in story.copies.iter().take(MAX_OUTLETS).enumerate() {
        let name = encode_text(&shown(&c.feed_name, NAME_CHARS)).into_owned();
        let headline = shown(&c.title, TITLE_CHARS);
        let outlet = match web_link(c.link.as_deref()) {
            Some(l) => format!(
                "<a href=\"{}\">{}</a>",
                encode_double_quoted_attribute(l),
                name
            ),
            None => name,
        };
        let mark = if first == Some(i) {
            format!(" <strong>({FIRST})</strong>")
        } else {
            String::new()
        };
        let time = outlet_times(c, tz, |t| ltr(&t))
            .map(|w| format!("<br><span style=\"color:#666;font-size:13px;\">{w}</span>"))
            .unwrap_or_default();
        html.push_str(&format!(
            "<li>{outlet}{mark} — {}{time}</li>\n",
            encode_text(&headline)
        ));
    }
    if more > 0 {
        html.push_str(&format!("<li>و{} غيرها</li>\n", count(more, &OUTLETS)));
    }
    html.push_str("</ul>\n</div>\n</body></html>\n");
    Rendered {
        subject,
        text,
        html,
    }
}

/// One topic's part of a digest: stories ranked already.
#[derive(Debug, Clone)]
pub struct DigestSection {
    pub topic_name: String,
    pub stories: Vec<DigestStory>,
}

/// A story in a digest.
#[derive(Debug, Clone)]
pub struct DigestStory {
    pub story: Story,
    pub excerpt_from: Option<Item>,
    /// The hourly limit kept it from an immediate alert.
    pub folded: bool,
    /// Other articles on the same event (not copies), listed under it.
    pub same_event: Vec<Story>,
}

impl DigestSection {
    /// The stories of the section, each article of a grouped event counted
    /// as the story it is.
    pub fn story_count(&self) -> usize {
        self.stories.iter().map(DigestStory::story_count).sum()
    }
}

impl DigestStory {
    fn story_count(&self) -> usize {
        1 + self.same_event.len()
    }
}

/// A feed that has been failing, listed at the end of a digest.
#[derive(Debug, Clone)]
pub struct BrokenFeed {
    pub name: String,
    pub url: String,
    pub since: chrono::DateTime<chrono::Utc>,
    pub error: Option<String>,
}

/// Renders a digest made at `made`, ending with the feeds that are
/// `broken`: a reader knows which outlets the digest could not cover.
pub fn digest(
    sections: &[DigestSection],
    broken: &[BrokenFeed],
    made: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
) -> Rendered {
    let n: usize = sections.iter().map(DigestSection::story_count).sum();
    let when = local_time(made, tz);
    let subject = format!("ملخص رقيب: {} — {when}", count(n, &STORIES));
    let mut text = format!("{subject}\n");
    let mut html = page_start(&subject);
    html.push_str(&format!("<h1 style=\"font-size:22px;margin:0 0 4px;\">ملخص رقيب</h1>\n<p style=\"color:#666;font-size:14px;margin:0 0 16px;\">{}</p>\n", ltr(&when)));
    if n == 0 {
        text.push_str("\nلا قصص جديدة منذ الملخص السابق.\n");
        html.push_str("<p>لا قصص جديدة منذ الملخص السابق.</p>\n");
    }
    for sec in sections.iter().filter(|s| !s.stories.is_empty()) {
        let name = one_line(&sec.topic_name);
        text.push_str(&format!(
            "\n== {name} ({}) ==\n",
            count(sec.story_count(), &STORIES)
        ));
        html.push_str(&format!(
            "<h2 style=\"font-size:19px;border-bottom:2px solid #ddd;padding-bottom:4px;margin:24px 0 8px;\">{} ({})</h2>\n",
            encode_text(&name),
            count(sec.story_count(), &STORIES)
        ));
        let unlisted_from = |i: usize| {
            sec.stories
                .get(i..)
                .map_or(0, |rest| rest.iter().map(DigestStory::story_count).sum())
        };
        let mut unlisted = unlisted_from(MAX_DIGEST_STORIES);
        for (i, ds) in sec.stories.iter().take(MAX_DIGEST_STORIES).enumerate() {
            if text.len() + html.len() > DIGEST_BUDGET {
                unlisted = unlisted_from(i);
                break;
            }
            let title = shown(&ds.story.title, TITLE_CHARS);
            let outlets = ds.story.copies.len();
            let note = if ds.folded {
                " — لم يُرسل فوراً (الحد الساعي)"
            } else {
                ""
            };
            let outlets = count(outlets, &OUTLETS);
            text.push_str(&format!("\n{}. {title} [{outlets}]{note}\n", i + 1));
            html.push_str("<div style=\"margin:0 0 16px;\">\n");
            html.push_str(&format!(
                "<h3 style=\"font-size:17px;margin:0 0 4px;\">{}. {}</h3>\n<p style=\"color:#666;font-size:14px;margin:0 0 4px;\">{}{}</p>\n",
                i + 1,
                encode_text(&title),
                outlets,
                encode_text(note)
            ));
            if let Some(item) = &ds.excerpt_from {
                let ex = excerpt_chars(&item.text, 280);
                if !ex.is_empty() {
                    text.push_str(&format!("   {}\n", ex.replace('\n', " ")));
                    html.push_str(&format!(
                        "<p style=\"margin:0 0 4px;\">{}</p>\n",
                        encode_text(&ex.replace('\n', " "))
                    ));
                }
            }
            html.push_str("<ul style=\"padding-right:20px;margin:0;font-size:15px;\">\n");
            let first = first_seen(&ds.story.copies);
            for (i, c) in ds.story.copies.iter().take(MAX_DIGEST_OUTLETS).enumerate() {
                let outlet = shown(&c.feed_name, NAME_CHARS);
                let mark = if first == Some(i) {
                    format!(" ({FIRST})")
                } else {
                    String::new()
                };
                let time = outlet_times(c, tz, |t| t)
                    .map(|w| format!(" — {w}"))
                    .unwrap_or_default();
                match web_link(c.link.as_deref()) {
                    Some(l) => {
                        text.push_str(&format!("   - {outlet}{mark}{time}: {l}\n"));
                        html.push_str(&format!(
                            "<li><a href=\"{}\">{}</a>{}<span style=\"color:#666;font-size:13px;\">{}</span></li>\n",
                            encode_double_quoted_attribute(l),
                            encode_text(&outlet),
                            encode_text(&mark),
                            encode_text(&time)
                        ));
                    }
                    None => {
                        text.push_str(&format!("   - {outlet}{mark}{time}\n"));
                        html.push_str(&format!(
                            "<li>{}{}<span style=\"color:#666;font-size:13px;\">{}</span></li>\n",
                            encode_text(&outlet),
                            encode_text(&mark),
                            encode_text(&time)
                        ));
                    }
                }
            }
            let more = ds.story.copies.len().saturating_sub(MAX_DIGEST_OUTLETS);
            if more > 0 {
                let rest = format!("و{} غيرها", count(more, &OUTLETS));
                text.push_str(&format!("   - {rest}\n"));
                html.push_str(&format!("<li>{}</li>\n", encode_text(&rest)));
            }
            html.push_str("</ul>\n");
            if !ds.same_event.is_empty() {
                text.push_str("   على الحدث نفسه:\n");
                html.push_str(
                    "<p style=\"color:#666;font-size:14px;margin:6px 0 2px;\">على الحدث نفسه:</p>\n<ul style=\"padding-right:20px;margin:0;font-size:15px;\">\n",
                );
                for other in ds.same_event.iter().take(MAX_DIGEST_OUTLETS) {
                    let t = shown(&other.title, TITLE_CHARS);
                    let first = other.copies.first();
                    let outlet = first
                        .map(|c| shown(&c.feed_name, NAME_CHARS))
                        .unwrap_or_default();
                    match web_link(first.and_then(|c| c.link.as_deref())) {
                        Some(l) => {
                            text.push_str(&format!("   * {t} ({outlet}): {l}\n"));
                            html.push_str(&format!(
                                "<li><a href=\"{}\">{}</a> — {}</li>\n",
                                encode_double_quoted_attribute(l),
                                encode_text(&t),
                                encode_text(&outlet)
                            ));
                        }
                        None => {
                            text.push_str(&format!("   * {t} ({outlet})\n"));
                            html.push_str(&format!(
                                "<li>{} — {}</li>\n",
                                encode_text(&t),
                                encode_text(&outlet)
                            ));
                        }
                    }
                }
                html.push_str("</ul>\n");
            }
            html.push_str("</div>\n");
        }
        if unlisted > 0 {
            let rest = format!("و{} أخرى في هذا الموضوع.", count(unlisted, &STORIES));
            text.push_str(&format!("\n{rest}\n"));
            html.push_str(&format!(
                "<p style=\"color:#666;\">{}</p>\n",
                encode_text(&rest)
            ));
        }
    }
    let broken: Vec<Notice<'_>> = broken
        .iter()
        .map(|b| Notice {
            name: &b.name,
            url: &b.url,
            since: b.since,
            error: b.error.as_deref(),
            recovered: false,
        })
        .collect();
    feed_section(&mut text, &mut html, &broken, tz);
    html.push_str("</div>\n</body></html>\n");
    Rendered {
        subject,
        text,
        html,
    }
}

/// "Broken feeds (n)", or recovered ones: a section's title, a subject's part.
fn feeds_title(n: usize, recovered: bool) -> String {
    if recovered {
        format!("مصادر عادت إلى العمل ({n})")
    } else {
        format!("مصادر معطّلة ({n})")
    }
}

/// A titled list of feeds that are broken or (all of them, or none)
/// recovered, at most [`MAX_NOTICES_LISTED`], then how many more: the end
/// of a digest, the sections of the admin's notice. Nothing when empty.
fn feed_section(text: &mut String, html: &mut String, feeds: &[Notice<'_>], tz: chrono_tz::Tz) {
    let Some(first) = feeds.first() else {
        return;
    };
    let title = feeds_title(feeds.len(), first.recovered);
    let colour = if first.recovered {
        "#1a6b2a"
    } else {
        "#8a3b00"
    };
    text.push_str(&format!("\n== {title} ==\n"));
    html.push_str(&format!(
        "<h2 style=\"font-size:17px;color:{colour};border-bottom:1px solid #ddd;padding-bottom:4px;margin:24px 0 8px;\">{}</h2>\n<ul style=\"padding-right:20px;margin:0;font-size:14px;color:#444;\">\n",
        encode_text(&title)
    ));
    for n in feeds.iter().take(MAX_NOTICES_LISTED) {
        let since = local_time(n.since, tz);
        let name = one_line(n.name);
        let error = n.error.map(one_line).unwrap_or_default();
        let when = if n.recovered {
            "بعد تعطّل بدأ في"
        } else {
            "معطّل منذ"
        };
        text.push_str(&format!("   - {name} — {when} {since}"));
        if !error.is_empty() {
            text.push_str(&format!(": {error}"));
        }
        text.push_str(&format!("\n     {}\n", n.url));
        html.push_str(&format!(
            "<li>{} — {} {}<br><span style=\"font-size:13px;word-break:break-all;\">{}</span>",
            encode_text(&name),
            when,
            ltr(&since),
            ltr(n.url)
        ));
        if !error.is_empty() {
            html.push_str(&format!(
                "<br><span style=\"font-size:13px;\">{}</span>",
                ltr(&error)
            ));
        }
        html.push_str("</li>\n");
    }
    html.push_str("</ul>\n");
    if let Some(more) = feeds
        .len()
        .checked_sub(MAX_NOTICES_LISTED)
        .filter(|&m| m > 0)
    {
        let line = format!("و{more} غيرها: `raqib feeds` يعرضها كلها.");
        text.push_str(&format!("   {line}\n"));
        html.push_str(&format!(
            "<p style=\"font-size:14px;\">{}</p>\n",
            encode_text(&line)
        ));
    }
}

/// One feed in the admin's email: broken since `since`, or (`recovered`)
/// working again after failing since then.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub since: chrono::DateTime<chrono::Utc>,
    pub error: Option<&'a str>,
    pub recovered: bool,
}

/// Feeds an email lists of each kind (broken, recovered; a digest, broken);
/// `raqib feeds` lists the rest.
const MAX_NOTICES_LISTED: usize = 200;

/// The admin's email about feeds that broke or recovered: the single
/// feed's own email ([`feed_notice`]) when there is one, else one email
/// listing the broken feeds, then the recovered ones.
pub fn feed_notices(notices: &[Notice<'_>], tz: chrono_tz::Tz) -> Rendered {
    if let [n] = notices {
        return feed_notice(n.name, n.url, n.since, n.error, n.recovered, tz);
    }
    let (mut back, mut broken): (Vec<Notice<'_>>, Vec<Notice<'_>>) =
        notices.iter().partition(|n| n.recovered);
    // The longest failing first.
    for list in [&mut back, &mut broken] {
        list.sort_by(|a, b| (a.since, a.name).cmp(&(b.since, b.name)));
    }
    let parts: Vec<String> = [(broken.len(), false), (back.len(), true)]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, recovered)| feeds_title(n, recovered))
        .collect();
    let subject = format!("رقيب: {}", parts.join("، "));
    let lead = "تغيّرت حال هذه المصادر: أخبار المصادر المعطّلة لا تصل حتى تُصلح.";
    let lead_en = "These feeds broke, or work again. `raqib feeds` shows the state of every feed.";
    let mut text = format!("{lead}\n\n{lead_en}\n");
    let mut html = page_start(&subject);
    html.push_str(&format!("<p>{}</p>\n", encode_text(lead)));
    html.push_str(&format!(
        "<p dir=\"ltr\" lang=\"en\" style=\"font-size:14px;color:#444;\">{}</p>\n",
        encode_text(lead_en)
    ));
    feed_section(&mut text, &mut html, &broken, tz);
    feed_section(&mut text, &mut html, &back, tz);
    html.push_str("</div>\n</body></html>\n");
    Rendered {
        subject,
        text,
        html,
    }
}

/// The admin's email about a feed that has been failing since `since`, or
/// (`recovered`) works again.
pub fn feed_notice(
    name: &str,
    url: &str,
    since: chrono::DateTime<chrono::Utc>,
    error: Option<&str>,
    recovered: bool,
    tz: chrono_tz::Tz,
) -> Rendered {
    let name = one_line(name);
    let since_local = local_time(since, tz);
    let subject = if recovered {
        format!("رقيب: عاد المصدر «{name}» إلى العمل")
    } else {
        format!("رقيب: المصدر «{name}» معطّل")
    };
    // The Arabic sentence around a date, as text and as HTML (the date
    // isolated left to right, so the bidi algorithm leaves it whole).
    let (before, after) = if recovered {
        (
            format!("عاد المصدر «{name}» إلى العمل بعد تعطّل بدأ في "),
            ".".to_string(),
        )
    } else {
        (
            format!("لم ينجح جلب المصدر «{name}» منذ "),
            ". أخبار هذا المصدر لا تصل حتى يُصلح.".to_string(),
        )
    };
    let lead = format!("{before}{since_local}{after}");
    let lead_html = format!(
        "{}{}{}",
        encode_text(&before),
        ltr(&since_local),
        encode_text(&after)
    );
    let lead_en = if recovered {
        format!("The feed works again; it had been failing since {since_local}.")
    } else {
        format!("The feed has been failing since {since_local}; its news is not reaching readers. `raqib feeds` shows its state.")
    };
    let error = error.map(one_line).unwrap_or_default();
    let mut text = format!("{lead}\n\n{lead_en}\n\n{url}\n");
    if !error.is_empty() {
        text.push_str(&format!("\n{error}\n"));
    }
    let mut html = page_start(&subject);
    html.push_str(&format!("<p>{lead_html}</p>\n"));
    html.push_str(&format!(
        "<p dir=\"ltr\" lang=\"en\" style=\"font-size:14px;color:#444;\">{}</p>\n",
        encode_text(&lead_en)
    ));
    html.push_str(&format!(
        "<p dir=\"ltr\" style=\"font-size:14px;word-break:break-all;\">{}</p>\n",
        encode_text(url)
    ));
    if !error.is_empty() {
        html.push_str(&format!(
            "<pre dir=\"ltr\" style=\"font-size:13px;white-space:pre-wrap;background:#f4f4f4;padding:8px;\">{}</pre>\n",
            encode_text(&error)
        ));
    }
    html.push_str("</div>\n</body></html>\n");
    Rendered {
        subject,
        text,
        html,
    }
}

/// The start of every message's HTML, up to the open content column: right
/// to left, Arabic, readable at phone width.
fn page_start(title: &str) -> String {
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html dir=\"rtl\" lang=\"ar\"><head><meta charset=\"utf-8\">");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    // Light colours are set on every element; clients in dark mode that
    // honour color-scheme get the dark ones below instead of inverting.
    html.push_str("<meta name=\"color-scheme\" content=\"light dark\"><meta name=\"supported-color-schemes\" content=\"light dark\">");
    html.push_str(
        "<style>:root{color-scheme:light dark}@media (prefers-color-scheme:dark){body{background:#121212 !important;color:#e8e8e8 !important}\
         p,li,h1,h2,h3,span,div{color:#e8e8e8 !important;background:transparent !important}a{color:#8ab4f8 !important}}</style>",
    );
    html.push_str(&format!("<title>{}</title></head>\n", encode_text(title)));
    html.push_str(
        "<body dir=\"rtl\" lang=\"ar\" style=\"margin:0;padding:16px;font-family:Tahoma,Arial,sans-serif;\
         font-size:17px;line-height:1.7;color:#1a1a1a;background:#ffffff;\">\n<div style=\"max-width:640px;margin:0 auto;\">\n",
    );
    html
}

/// Said in the last immediate alert before a topic's hourly limit.
const LIMIT_NOTICE: &str =
    "بلغ هذا الموضوع الحد الأقصى للتنبيهات الفورية في الساعة؛ ستصل القصص التالية في الملخص القادم.";

/// Left-to-right text (a date, a time) inside right-to-left HTML: isolated so
/// the bidi algorithm does not reorder its parts.
fn ltr(s: &str) -> String {
    format!("<bdi dir=\"ltr\">{}</bdi>", encode_text(s))
}

/// A time as a reader in `tz` reads it, with the zone's abbreviation.
pub fn local_time(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// Only http(s) links become anchors: a `javascript:` link in a feed stays text.
fn is_web_link(l: &str) -> bool {
    let lower = l.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Collapses every run of white space, CR and LF included, to one space: a
/// title can never break a header or a line of the layout.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control() || is_bidi_control(c))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Embedding, override and isolate controls: in a subject or a headline
/// they can make text read backwards ("gnp.exe") or swallow what follows.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

pub(super) fn excerpt(text: &str) -> String {
    excerpt_chars(text, EXCERPT_CHARS)
}

fn excerpt_chars(text: &str, max: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if out.chars().count() >= max {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line.trim());
    }
    if out.chars().count() > max {
        let cut: String = out.chars().take(max).collect();
        // End on a word boundary.
        let cut = match cut.rfind(' ') {
            Some(i) if i > max / 2 => cut[..i].to_string(),
            _ => cut,
        };
        return format!("{cut}…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_ends_with_the_broken_feeds() {
        let made = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let broken = [BrokenFeed {
            name: "<b>عنب بلدي</b>".into(),
            url: "https://www.enabbaladi.net/feed".into(),
            since: made - chrono::Duration::hours(30),
            error: Some("HTTP 503".into()),
        }];
        let r = digest(&[], &broken, made, chrono_tz::UTC);
        assert!(r.text.contains("مصادر معطّلة (1)"), "{}", r.text);
        assert!(r.text.contains("https://www.enabbaladi.net/feed") && r.text.contains("HTTP 503"));
        assert!(r.html.contains("&lt;b&gt;عنب بلدي"), "escaped: {}", r.html);
        let none = digest(&[], &[], made, chrono_tz::UTC);
        assert!(!none.text.contains("معطّلة"));
        // An outage: the count is whole, the list is cut.
        let many: Vec<BrokenFeed> = (0..1000)
            .map(|i| BrokenFeed {
                name: format!("موقع {i}"),
                url: format!("https://site{i}.example/rss"),
                since: made - chrono::Duration::hours(2),
                error: None,
            })
            .collect();
        let r = digest(&[], &many, made, chrono_tz::UTC);
        assert!(r.text.contains("مصادر معطّلة (1000)"), "{}", r.text);
        assert_eq!(r.text.matches("https://site").count(), MAX_NOTICES_LISTED);
        assert!(r.text.contains("و800 غيرها"), "{}", r.text);
        assert!(r.html.len() < 100_000, "{} bytes", r.html.len());
    }

    #[test]
    fn the_admin_notice_names_the_feed_and_the_error() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let since = now - chrono::Duration::hours(26);
        let r = feed_notice(
            "RT Arabic",
            "https://arabic.rt.com/rss/",
            since,
            Some("HTTP 500"),
            false,
            chrono_tz::UTC,
        );
        assert!(r.subject.contains("RT Arabic"), "{}", r.subject);
        assert!(
            r.html.contains("<bdi dir=\"ltr\">2027-01-14"),
            "the date isolated: {}",
            r.html
        );
        assert!(r.text.contains("https://arabic.rt.com/rss/") && r.text.contains("HTTP 500"));
        assert!(r.html.contains("dir=\"rtl\""));
        let back = feed_notice(
            "RT Arabic",
            "https://arabic.rt.com/rss/",
            since,
            None,
            true,
            chrono_tz::UTC,
        );
        assert!(back.subject.contains("عاد"), "{}", back.subject);
    }

    #[test]
    fn several_feeds_are_one_notice_the_longest_failing_first() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let notice = |name, url, hours| Notice {
            name,
            url,
            since: now - chrono::Duration::hours(hours),
            error: Some("HTTP 500"),
            recovered: false,
        };
        let one = [notice("<b>عنب بلدي", "https://www.enabbaladi.net/feed", 25)];
        assert!(feed_notices(&one, chrono_tz::UTC)
            .subject
            .contains("«<b>عنب بلدي»"));
        let two = [
            notice("<b>عنب بلدي", "https://www.enabbaladi.net/feed", 25),
            notice("RT Arabic", "https://arabic.rt.com/rss/", 30),
        ];
        let r = feed_notices(&two, chrono_tz::UTC);
        assert_eq!(r.subject, "رقيب: مصادر معطّلة (2)");
        let (rt, enab) = (r.text.find("RT Arabic"), r.text.find("عنب بلدي"));
        assert!(rt.is_some() && rt < enab, "{}", r.text);
        assert!(r.html.contains("&lt;b&gt;عنب بلدي"), "escaped: {}", r.html);
        assert!(!r.html.contains("<b>عنب"));
        assert_eq!(r.text.matches("HTTP 500").count(), 2);
    }
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
                seen: None,
                published: None,
            }],
        }
    }

    #[test]
    fn outlets_show_when_they_reported_and_who_was_first() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut st = story("لافروف وكيري يبحثان الهدنة في سوريا", "https://a.example/1");
        st.copies[0].seen = Some(t0 + chrono::Duration::minutes(7));
        st.copies.push(Copy {
            item: "j".into(),
            feed_name: "الشام اليوم".into(),
            title: "نسخة".into(),
            link: Some("https://b.example/2".into()),
            seen: Some(t0),
            published: Some(t0 - chrono::Duration::minutes(3)),
        });
        let r = alert_in(
            &st,
            &[],
            "t",
            false,
            "سوريا",
            chrono_tz::Asia::Damascus,
            false,
        );
        assert_eq!(r.text.matches(FIRST).count(), 1, "{}", r.text);
        // The outlet seen first is marked, whatever the list's order.
        let first_line = r.text.lines().position(|l| l.contains(FIRST)).unwrap_or(0);
        let outlet_line = r
            .text
            .lines()
            .position(|l| l.contains("الشام اليوم"))
            .unwrap_or(99);
        assert_eq!(first_line, outlet_line + 1, "{}", r.text);
        assert!(r.text.contains("نُشر 2027-01-15"), "{}", r.text);
        assert!(r.html.contains(FIRST));
        let d = digest(
            &[DigestSection {
                topic_name: "t".into(),
                stories: vec![DigestStory {
                    story: st,
                    excerpt_from: None,
                    folded: false,
                    same_event: vec![],
                }],
            }],
            &[],
            t0,
            chrono_tz::Asia::Damascus,
        );
        assert!(
            d.text.contains(&format!("الشام اليوم ({FIRST}) — رُصد")),
            "{}",
            d.text
        );
        // Seen in the same round: the outlet's own earlier time decides.
        let mut together = d_story(t0);
        together.copies[0].published = Some(t0 - chrono::Duration::minutes(30));
        assert_eq!(first_seen(&together.copies), Some(0));
        together.copies[0].published = Some(t0 + chrono::Duration::minutes(30));
        assert_eq!(
            first_seen(&together.copies),
            Some(1),
            "a time after raqib saw it is not believed"
        );
    }

    /// A story of two copies both seen at `t0`, the second published
    /// ten minutes before.
    fn d_story(t0: chrono::DateTime<Utc>) -> Story {
        let mut st = story("عنوان", "https://a.example/1");
        st.copies[0].seen = Some(t0);
        st.copies.push(Copy {
            item: "j".into(),
            feed_name: "ب".into(),
            title: "ب".into(),
            link: None,
            seen: Some(t0),
            published: Some(t0 - chrono::Duration::minutes(10)),
        });
        st
    }

    #[test]
    fn arabic_counts_agree_with_their_number() {
        let c = |n| count(n, &OUTLETS);
        assert_eq!(c(0), "لا مصادر");
        assert_eq!(c(1), "مصدر واحد");
        assert_eq!(c(2), "مصدران");
        assert_eq!(c(3), "3 مصادر");
        assert_eq!(c(10), "10 مصادر");
        assert_eq!(c(11), "11 مصدرًا");
        assert_eq!(c(99), "99 مصدرًا");
        assert_eq!(c(100), "100 مصدر");
        assert_eq!(c(102), "102 مصدر");
        assert_eq!(c(103), "103 مصادر");
        assert_eq!(c(111), "111 مصدرًا");
        let s = |n| count(n, &STORIES);
        assert_eq!(s(1), "قصة واحدة");
        assert_eq!(s(2), "قصتان");
        assert_eq!(s(5), "5 قصص");
        assert_eq!(s(11), "11 قصة");
        assert_eq!(s(100), "100 قصة");
    }

    #[test]
    fn a_huge_hostile_item_makes_a_small_safe_message() {
        let title = format!("\u{202E}{}\u{2066}", "سوريا ".repeat(900_000));
        let short = "عنوان \u{202E}مقلوب";
        let mut st = story(&title, "javascript:alert(1)");
        for i in 0..500 {
            st.copies.push(Copy {
                item: format!("i{i}"),
                feed_name: "ن".repeat(10_000),
                title: short.into(),
                link: Some(format!("https://x.example/{}", "a".repeat(3_000))),
                seen: None,
                published: None,
            });
        }
        let r = alert(&st, &[], "t", false, "سوريا");
        let size = r.subject.len() + r.text.len() + r.html.len();
        assert!(size < 1 << 20, "{size} bytes");
        assert!(!r.subject.contains('\u{202E}') && !r.subject.contains('\u{2066}'));
        assert!(r.subject.chars().count() <= TITLE_CHARS + 1);
        assert!(!r.text.contains("javascript:") && !r.html.contains("javascript:"));
        assert!(
            r.text.contains("و451 مصدرًا غيرها"),
            "{}",
            &r.text[r.text.len() - 200..]
        );
        st.title = short.into();
        st.copies.truncate(60);
        let d = digest(
            &[DigestSection {
                topic_name: "t".into(),
                stories: vec![
                    DigestStory {
                        story: st,
                        excerpt_from: None,
                        folded: false,
                        same_event: vec![],
                    };
                    300
                ],
            }],
            &[],
            Utc::now(),
            chrono_tz::UTC,
        );
        let size = d.subject.len() + d.text.len() + d.html.len();
        assert!(size < 1 << 20, "{size} bytes");
        assert!(
            d.text.contains("قصة أخرى في هذا الموضوع"),
            "digest lists the rest as a count"
        );
        assert!(d.html.contains("color-scheme"));
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
