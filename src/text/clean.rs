//! Cleanup of scraped or feed text: what a reader would skip.
//!
//! Scraped Arabic news pages repeat the headline two or three times, print
//! photo captions twice, sprinkle the site's name between paragraphs and end
//! with "read also", tags and share blocks. The cleaner keeps the article's
//! own paragraphs, once each and in order.

use rustc_hash::FxHashMap as HashMap;

use super::normalize::normalize_into;

/// Lines that start like this introduce a link to another article; the line
/// (and a short headline right after it) is not part of the story.
const READ_ALSO: &[&str] = &[
    "اقرا ايضا",
    "اقرا المزيد",
    "اقرا كذلك",
    "طالع ايضا",
    "read also",
    "read more",
];

/// Lines that start like this are page furniture, not text.
const FURNITURE_PREFIX: &[&str] = &[
    "كلمات دلاليه",
    "الكلمات الدلاليه",
    "الوسوم",
    "وسوم",
    "tags:",
    "شارك هذا",
    "شارك علي",
    "تابعونا",
    "تابعنا",
    "الاكثر قراءه",
    "المواضيع الاكثر",
    "الاخبار الاكثر",
    "تاريخ النشر",
    "اخر تحديث",
    "الاكثر مشاهده",
    "اخبار ذات صله",
    "مواضيع ذات صله",
    "حقوق النشر",
    "جميع الحقوق محفوظه",
    "copyright",
    "©",
];

/// Whole lines that are user-interface text left by a scraper.
const FURNITURE_LINE: &[&str] = &[
    "accessibility links",
    "skip to content",
    "skip to main content",
    "share",
    "close",
    "menu",
    "search",
    "xs sm md lg",
    "xs",
    "sm",
    "md",
    "lg",
    "وكالات",
    "المصدر وكالات",
    "شارك",
    "مشاركه",
    "اغلاق",
    "طباعه",
    "القايمه",
    "بحث",
    "facebook",
    "twitter",
    "whatsapp",
    "telegram",
];

/// A line this short (in words) that recurs is a site name or a label.
const SHORT_LINE_WORDS: usize = 4;

/// A source line ("المصدر: ...") after this many paragraphs ends the
/// article: scraped pages often run straight into the next story.
const SOURCE_LINE_ENDS_AFTER: usize = 3;

/// Arabic and Latin month names, to spot a bare date line.
const MONTHS: &[&str] = &[
    "يناير",
    "فبراير",
    "مارس",
    "ابريل",
    "مايو",
    "يونيو",
    "يوليو",
    "اغسطس",
    "سبتمبر",
    "اكتوبر",
    "نوفمبر",
    "ديسمبر",
    "كانون",
    "شباط",
    "اذار",
    "نيسان",
    "ايار",
    "حزيران",
    "تموز",
    "اب",
    "ايلول",
    "تشرين",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAYS: &[&str] = &[
    "السبت",
    "الاحد",
    "الاثنين",
    "الثلاثاء",
    "الاربعاء",
    "الخميس",
    "الجمعه",
];

/// Returns the main text of `input`, one paragraph per line.
pub fn clean(input: &str) -> String {
    clean_lines(input).join("\n")
}

/// Returns the kept paragraphs of `input`.
pub fn clean_lines(input: &str) -> Vec<String> {
    clean_keyed(input).lines
}

/// The kept paragraphs and, for each, its normalised key (the words of the
/// line, normalised, separated by single spaces): the fingerprint reads the
/// keys, so the text is normalised once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cleaned {
    pub lines: Vec<String>,
    pub keys: Vec<String>,
}

impl Cleaned {
    /// The kept text, one paragraph per line.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// [`clean_lines`] with the normalised key of each kept line.
pub fn clean_keyed(input: &str) -> Cleaned {
    let lines: Vec<&str> = input
        .lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{200F}' || c == '\u{200E}'))
        .filter(|l| !l.is_empty())
        .collect();
    let mut buf = String::new();
    let keyed: Vec<(String, usize)> = lines.iter().map(|l| line_key(l, &mut buf)).collect();
    let word_counts: Vec<usize> = keyed.iter().map(|(_, n)| *n).collect();
    let keys: Vec<String> = keyed.into_iter().map(|(k, _)| k).collect();
    let mut counts: HashMap<&str, usize> = HashMap::default();
    for k in &keys {
        *counts.entry(k.as_str()).or_default() += 1;
    }

    let mut first_at: HashMap<&str, usize> = HashMap::default();
    let mut last_at: HashMap<&str, usize> = HashMap::default();
    for (i, k) in keys.iter().enumerate() {
        first_at.entry(k.as_str()).or_insert(i);
        last_at.insert(k.as_str(), i);
    }

    let mut seen: HashMap<&str, ()> = HashMap::default();
    let mut out = Vec::new();
    let mut out_keys: Vec<String> = Vec::new();
    let mut skip_headline_after_read_also = false;
    for (i, (line, key)) in lines.iter().zip(&keys).enumerate() {
        let words = word_counts[i];
        if key.is_empty() {
            continue;
        }
        if skip_headline_after_read_also {
            skip_headline_after_read_also = false;
            if words <= 14 && !ends_sentence(line) {
                continue;
            }
        }
        if READ_ALSO.iter().any(|p| key.starts_with(p)) {
            // "اقرأ أيضاً:" alone on its line is followed by the linked headline.
            skip_headline_after_read_also = words <= 3;
            continue;
        }
        if FURNITURE_LINE.contains(&key.as_str())
            || FURNITURE_PREFIX.iter().any(|p| key.starts_with(p))
        {
            continue;
        }
        if is_date_line(key, words) {
            continue;
        }
        if key.starts_with("المصدر") && words <= 8 {
            if out.len() >= SOURCE_LINE_ENDS_AFTER {
                break;
            }
            continue;
        }
        let count = counts.get(key.as_str()).copied().unwrap_or(0);
        let headline_block = last_at.get(key.as_str()).copied().unwrap_or(i) < 3;
        if count > 1 && words <= SHORT_LINE_WORDS && !headline_block {
            // Recurring short line: the site's name or a section label.
            continue;
        }
        if count > 1 && first_at.get(key.as_str()).copied().unwrap_or(i) > 2 && out.len() > 1 {
            // A line printed twice inside the article is a photo caption
            // (the page's alt text and figcaption); a caption is not text.
            continue;
        }
        if is_caption(key, words) {
            continue;
        }
        if seen.insert(key.as_str(), ()).is_some() {
            continue;
        }
        out.push((*line).to_string());
        out_keys.push(key.clone());
    }
    // A name or label left after the last paragraph ("سيريانيوز").
    while out.len() > 1
        && out
            .last()
            .is_some_and(|l| l.split_whitespace().count() <= 2 && !ends_sentence(l))
    {
        out.pop();
        out_keys.pop();
    }
    Cleaned {
        lines: out,
        keys: out_keys,
    }
}

/// Photo credits and archive captions: "... - أرشيف", "تصوير: ...", "© ...".
fn is_caption(key: &str, words: usize) -> bool {
    words <= 16
        && (key.ends_with("ارشيف")
            || key.ends_with("صوره ارشيفيه")
            || key.contains("تصوير:")
            || key.contains('©')
            || key.ends_with("getty images")
            || key.starts_with("صوره:"))
}

/// The comparison key of a line (normalised, punctuation folded to single
/// spaces) and its number of words. `buf` is scratch space.
fn line_key(line: &str, buf: &mut String) -> (String, usize) {
    let mut key = String::with_capacity(line.len());
    let mut words = 0;
    let folded = super::normalize::fold_key_words(line, buf, |w| {
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(w);
        words += 1;
    });
    if folded {
        return (key, words);
    }
    // Text that needs NFKC: normalise the line, then split it.
    line_key_normalised(line, buf)
}

/// [`line_key`] the long way: the whole line normalised, then split.
fn line_key_normalised(line: &str, buf: &mut String) -> (String, usize) {
    buf.clear();
    normalize_into(line, buf);
    let mut key = String::with_capacity(buf.len());
    let mut words = 0;
    for w in buf.split(|c: char| !(super::tokens::is_word_char(c) || c == ':' || c == '©')) {
        if w.is_empty() {
            continue;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(w);
        words += 1;
    }
    (key, words)
}

/// "السبت , أبريل 20 2024", "2024-04-20": a line with a date and nothing else.
fn is_date_line(key: &str, words: usize) -> bool {
    if words == 0 || words > 6 {
        return false;
    }
    let mut has_date_part = false;
    for w in key.split(' ') {
        let is_num = w.chars().all(|c| c.is_ascii_digit());
        let is_month = MONTHS.contains(&w) || WEEKDAYS.contains(&w);
        if !(is_num || is_month || w == "م" || w == "هـ") {
            return false;
        }
        has_date_part |= is_month || (is_num && w.len() == 4);
    }
    has_date_part
}

fn ends_sentence(line: &str) -> bool {
    line.trim_end()
        .ends_with(['.', '!', '؟', '?', '"', '»', '”'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_keys_in_one_pass_equal_the_long_way() {
        let mut buf = String::new();
        for line in [
            "تصوير: أحمد — © رويترز 2024",
            "اقرأ أيضاً: أسعار الذهب في الأسواق المحلية",
            "السبت , أبريل 20 2024",
            "قالَ الرئيسُ الأمريكيّ إنّ «سورية» ـــ مهمة، و٢٠١٦ كان عاماً صعباً.",
            "Tags: Syria, Russia | XS SM MD LG",
            "",
        ] {
            let mut other = String::new();
            assert_eq!(
                line_key(line, &mut buf),
                line_key_normalised(line, &mut other),
                "{line}"
            );
        }
    }
    use crate::text::normalize::normalize;

    #[test]
    fn headline_repeated_three_times_is_kept_once() {
        let t = "عنوان الخبر عن سوريا وروسيا اليوم\n\nعنوان الخبر عن سوريا وروسيا اليوم\nعنوان الخبر عن سوريا وروسيا اليوم\nفقرة أولى.";
        assert_eq!(
            clean_lines(t),
            vec!["عنوان الخبر عن سوريا وروسيا اليوم", "فقرة أولى."]
        );
    }

    #[test]
    fn recurring_site_name_is_dropped() {
        let t = "شام تايمز\nفقرة أولى من النص.\nشام تايمز\nفقرة ثانية من النص.\nشام تايمز";
        assert_eq!(
            clean_lines(t),
            vec!["فقرة أولى من النص.", "فقرة ثانية من النص."]
        );
    }

    #[test]
    fn read_also_and_its_headline_are_dropped() {
        let t = "فقرة.\nاقرأ أيضاً:\nعنوان خبر آخر لا علاقة له\nفقرة أخيرة.";
        assert_eq!(clean_lines(t), vec!["فقرة.", "فقرة أخيرة."]);
        let t = "فقرة.\nإقرأ ايضاً:حرب بايدن مع بوتين.. إردوغان مع من؟";
        assert_eq!(clean_lines(t), vec!["فقرة."]);
    }

    #[test]
    fn ui_junk_is_dropped() {
        let t = "Accessibility links\nSHARE\nالنص.\nXS SM MD LG\nclose";
        assert_eq!(clean_lines(t), vec!["النص."]);
    }

    #[test]
    fn doubled_caption_is_dropped_but_headline_kept() {
        let t = "العنوان الرئيسي للخبر هنا\nالعنوان الرئيسي للخبر هنا\nفقرة أولى.\nفقرة ثانية.\nالوزير يلقي كلمة في بروكسل. تصوير: رويترز\nالوزير يلقي كلمة في بروكسل. تصوير: رويترز\nفقرة ثالثة.";
        assert_eq!(
            clean_lines(t),
            vec![
                "العنوان الرئيسي للخبر هنا",
                "فقرة أولى.",
                "فقرة ثانية.",
                "فقرة ثالثة."
            ]
        );
    }

    #[test]
    fn date_and_source_lines() {
        let t = "السبت , أبريل 20 2024\nأولى.\nثانية.\nثالثة.\nالمصدر: صدى البلد\nخبر آخر عن كندا.";
        assert_eq!(clean_lines(t), vec!["أولى.", "ثانية.", "ثالثة."]);
    }

    #[test]
    fn patterns_are_written_normalised() {
        for p in READ_ALSO
            .iter()
            .chain(FURNITURE_PREFIX)
            .chain(FURNITURE_LINE)
            .chain(MONTHS)
            .chain(WEEKDAYS)
        {
            assert_eq!(
                normalize(p),
                *p,
                "pattern {p:?} can never match a normalised line"
            );
        }
    }

    #[test]
    fn unique_paragraphs_stay_in_order() {
        let t = "ثالثة.\nأولى.\nثانية.";
        assert_eq!(clean_lines(t), vec!["ثالثة.", "أولى.", "ثانية."]);
    }
}
