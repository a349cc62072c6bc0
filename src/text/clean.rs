//! Cleanup of scraped or feed text: what a reader would skip.
//!
//! Scraped Arabic news pages repeat the headline two or three times, print
//! photo captions twice, sprinkle the site's name between paragraphs and end
//! with "read also", tags and share blocks. The cleaner keeps the article's
//! own paragraphs, once each and in order.

use std::collections::HashMap;

use super::normalize::normalize;

/// Lines that start like this introduce a link to another article; the line
/// (and a short headline right after it) is not part of the story.
const READ_ALSO: &[&str] = &["اقرا ايضا", "اقرا المزيد", "اقرا كذلك", "طالع ايضا", "read also", "read more"];

/// Lines that start like this are page furniture, not text.
const FURNITURE_PREFIX: &[&str] = &[
    "كلمات دلاليه",
    "الكلمات الدلاليه",
    "الوسوم",
    "وسوم",
    "tags:",
    "شارك هذا",
    "شارك على",
    "تابعونا",
    "تابعنا",
    "الاكثر قراءه",
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
    "شارك",
    "مشاركه",
    "اغلاق",
    "طباعه",
    "القائمه",
    "بحث",
    "facebook",
    "twitter",
    "whatsapp",
    "telegram",
];

/// A line this short (in words) that recurs is a site name or a label.
const SHORT_LINE_WORDS: usize = 4;

/// Returns the main text of `input`, one paragraph per line.
pub fn clean(input: &str) -> String {
    clean_lines(input).join("\n")
}

/// Returns the kept paragraphs of `input`.
pub fn clean_lines(input: &str) -> Vec<String> {
    let lines: Vec<&str> = input
        .lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{200F}' || c == '\u{200E}'))
        .filter(|l| !l.is_empty())
        .collect();
    let keys: Vec<String> = lines.iter().map(|l| line_key(l)).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for k in &keys {
        *counts.entry(k.as_str()).or_default() += 1;
    }

    let mut seen: HashMap<&str, ()> = HashMap::new();
    let mut out = Vec::new();
    let mut skip_headline_after_read_also = false;
    for (line, key) in lines.iter().zip(&keys) {
        let words = key.split_whitespace().count();
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
        if FURNITURE_LINE.contains(&key.as_str()) || FURNITURE_PREFIX.iter().any(|p| key.starts_with(p)) {
            continue;
        }
        let count = counts.get(key.as_str()).copied().unwrap_or(0);
        if count > 1 && words <= SHORT_LINE_WORDS {
            // Recurring short line: the site's name or a section label.
            continue;
        }
        if seen.insert(key.as_str(), ()).is_some() {
            continue;
        }
        out.push((*line).to_string());
    }
    out
}

/// The comparison key of a line: normalised, punctuation folded to spaces.
fn line_key(line: &str) -> String {
    let n = normalize(line);
    let mut key = String::with_capacity(n.len());
    for w in n.split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '©')) {
        if w.is_empty() {
            continue;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(w);
    }
    key
}

fn ends_sentence(line: &str) -> bool {
    line.trim_end().ends_with(['.', '!', '؟', '?', '"', '»', '”'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_repeated_three_times_is_kept_once() {
        let t = "عنوان الخبر عن سوريا وروسيا اليوم\n\nعنوان الخبر عن سوريا وروسيا اليوم\nعنوان الخبر عن سوريا وروسيا اليوم\nفقرة أولى.";
        assert_eq!(clean_lines(t), vec!["عنوان الخبر عن سوريا وروسيا اليوم", "فقرة أولى."]);
    }

    #[test]
    fn recurring_site_name_is_dropped() {
        let t = "شام تايمز\nفقرة أولى من النص.\nشام تايمز\nفقرة ثانية من النص.\nشام تايمز";
        assert_eq!(clean_lines(t), vec!["فقرة أولى من النص.", "فقرة ثانية من النص."]);
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
    fn unique_paragraphs_stay_in_order() {
        let t = "ثالثة.\nأولى.\nثانية.";
        assert_eq!(clean_lines(t), vec!["ثالثة.", "أولى.", "ثانية."]);
    }
}
