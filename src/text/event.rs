//! Same event, different articles: which stories of a digest report one
//! event (the same vote, call, strike or statement) in their own words.
//!
//! Copies share sentences; articles on one event share *facts*: the names,
//! places and numbers that only that event has. So the comparison weighs
//! each shared word by its rarity among the documents at hand (the stories
//! of one digest, or the cases of an eval file): words every story of a
//! topic has (سوريا، روسيا) count for little, a name two stories share counts
//! for much. Two stories are one event when they share at least four rare
//! words and the shared words carry a fifth of the smaller one's weight;
//! or, since a news story puts its event's specifics first, when their
//! leads (title and first paragraph) share two rare words and the shared
//! words carry a tenth of the weight.
//!
//! And never when the facts disagree: template stories (a weekly rate
//! report, another casualty update) share nearly all their words but not
//! their numbers; stories naming different years, or published days apart
//! (when their times are known), are different events however alike.

use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHashSet};

use super::tokens::{clitic_prefixes_of, tokenize, FUNCTION_WORDS};

/// Share of the smaller story's weight that shared words must carry.
const SHARED_WEIGHT: f64 = 0.22;
/// Rare words two stories must share.
const SHARED_RARE: usize = 4;
/// The same, when the rare words are in both leads.
const LEAD_WEIGHT: f64 = 0.1;
const LEAD_RARE: usize = 2;
/// Stories first published further apart are different events.
pub const EVENT_WINDOW: chrono::Duration = chrono::Duration::days(3);
/// Above this weight, stories whose numbers differ are one template
/// reporting different facts.
const TEMPLATE_WEIGHT: f64 = 0.6;

/// Reporting words, besides the function words ([`FUNCTION_WORDS`]): they
/// say nothing about the event.
const STOP: &[&str] = &[
    "كان",
    "كانت",
    "قال",
    "قالت",
    "اليوم",
    "امس",
    "يوم",
    "عام",
    "انه",
    "انها",
    "ذلك",
    "تلك",
    "كما",
    "حيث",
    "وفق",
    "اضاف",
    "اضافت",
    "اكد",
    "اكدت",
    "اعلن",
    "اعلنت",
];

fn stop(w: &str) -> bool {
    FUNCTION_WORDS.contains(&w) || STOP.contains(&w)
}

/// The content words and numbers of one document.
#[derive(Debug, Clone, Default)]
pub struct EventWords {
    words: FxHashSet<String>,
    /// Of `words`, those of the title and the first paragraph.
    lead: FxHashSet<String>,
    numbers: FxHashSet<String>,
    /// Years the text names (1900–2099).
    years: FxHashSet<u16>,
}

impl EventWords {
    pub fn new(title: &str, body: &str) -> EventWords {
        let mut ev = EventWords::default();
        let first = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let rest = body
            .get(body.find(first).map_or(0, |i| i + first.len())..)
            .unwrap_or("");
        for (text, lead) in [(title, true), (first, true), (rest, false)] {
            for w in tokenize(text) {
                if w.bytes().all(|b| b.is_ascii_digit()) {
                    if let Ok(y @ 1900..=2099) = w.parse::<u16>() {
                        ev.years.insert(y);
                    }
                    ev.numbers.insert(w);
                    continue;
                }
                if stop(&w) || w.chars().count() < 3 {
                    continue;
                }
                // The longest clitic prefix goes: the same word with and
                // without و/ال/بال must count once.
                let stem = match clitic_prefixes_of(&w).next() {
                    Some(p) if w[p.len()..].chars().count() >= 3 => &w[p.len()..],
                    _ => &w,
                };
                if !stop(stem) {
                    if lead {
                        ev.lead.insert(stem.to_string());
                    }
                    ev.words.insert(stem.to_string());
                }
            }
        }
        ev
    }
}

/// What two documents share.
#[derive(Debug, Clone, Copy)]
pub struct Evidence {
    /// The shared words' weight, as a share of the smaller document's.
    pub share: f64,
    /// Shared words at most a few documents have.
    pub rare: usize,
    /// Rare words both leads (title and first paragraph) have.
    pub lead_rare: usize,
    /// The smaller document has numbers the other lacks.
    pub numbers_differ: bool,
    /// Both name years, and none in common; or their publication times
    /// are further apart than [`EVENT_WINDOW`].
    pub apart_in_time: bool,
}

impl Evidence {
    pub fn same_event(&self) -> bool {
        let alike = (self.share >= SHARED_WEIGHT && self.rare >= SHARED_RARE)
            || (self.share >= LEAD_WEIGHT && self.lead_rare >= LEAD_RARE);
        alike && !self.apart_in_time && !(self.share >= TEMPLATE_WEIGHT && self.numbers_differ)
    }
}

/// Documents compared against each other, with word rarity among them.
pub struct Events<'a> {
    docs: &'a [EventWords],
    df: FxHashMap<&'a str, usize>,
    /// When each document was first published, where known.
    times: Vec<Option<DateTime<Utc>>>,
}

impl<'a> Events<'a> {
    /// Documents whose times are known: `times[i]` is when document `i`
    /// was first published (or seen).
    pub fn dated(docs: &'a [EventWords], times: Vec<Option<DateTime<Utc>>>) -> Events<'a> {
        Events {
            times,
            ..Events::new(docs)
        }
    }

    pub fn new(docs: &'a [EventWords]) -> Events<'a> {
        let mut df: FxHashMap<&str, usize> = FxHashMap::default();
        for d in docs {
            for w in &d.words {
                *df.entry(w.as_str()).or_default() += 1;
            }
        }
        Events {
            docs,
            df,
            times: Vec::new(),
        }
    }

    fn idf(&self, w: &str) -> f64 {
        let n = self.docs.len().max(2) as f64;
        let df = self.df.get(w).copied().unwrap_or(1).max(1) as f64;
        (n / df).ln().max(0.0)
    }

    /// A word is rare when at most this many documents have it.
    fn rare_limit(&self) -> usize {
        (self.docs.len() / 20).max(2)
    }

    /// True when documents `i` and `j` report the same event.
    pub fn same_event(&self, i: usize, j: usize) -> bool {
        self.evidence(i, j).is_some_and(|e| e.same_event())
    }

    /// What documents `i` and `j` share.
    pub fn evidence(&self, i: usize, j: usize) -> Option<Evidence> {
        let (a, b) = (self.docs.get(i)?, self.docs.get(j)?);
        let weight = |d: &EventWords| d.words.iter().map(|w| self.idf(w)).sum::<f64>();
        let smaller = weight(a).min(weight(b));
        if smaller <= 0.0 {
            return None;
        }
        let (mut shared, mut rare) = (0.0, 0);
        let is_rare = |w: &str| self.df.get(w).copied().unwrap_or(0) <= self.rare_limit();
        for w in a.words.intersection(&b.words) {
            shared += self.idf(w);
            if is_rare(w) {
                rare += 1;
            }
        }
        let lead_rare = a.lead.intersection(&b.lead).filter(|w| is_rare(w)).count();
        let years_differ =
            !a.years.is_empty() && !b.years.is_empty() && a.years.is_disjoint(&b.years);
        let days_apart = match (self.times.get(i), self.times.get(j)) {
            (Some(Some(x)), Some(Some(y))) => (*x - *y).abs() > EVENT_WINDOW,
            _ => false,
        };
        let (few, many) = if a.numbers.len() <= b.numbers.len() {
            (&a.numbers, &b.numbers)
        } else {
            (&b.numbers, &a.numbers)
        };
        Some(Evidence {
            share: shared / smaller,
            rare,
            lead_rare,
            numbers_differ: !few.is_empty() && !few.is_subset(many),
            apart_in_time: years_differ || days_apart,
        })
    }

    /// Groups of documents on one event: for each document, the index of
    /// the first document of its group (itself when it leads one).
    pub fn groups(&self) -> Vec<usize> {
        let mut lead: Vec<usize> = (0..self.docs.len()).collect();
        for j in 0..self.docs.len() {
            // A document joins the first earlier group leader it shares the
            // event with; leaders are compared, not members, so one
            // borderline pair cannot chain unrelated events together.
            if let Some(i) = (0..j).find(|&i| lead[i] == i && self.same_event(i, j)) {
                lead[j] = i;
            }
        }
        lead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<EventWords> {
        vec![
            EventWords::new(
                "لافروف وبلينكن يبحثان هاتفياً الوضع في إدلب",
                "بحث وزير الخارجية الروسي سيرغي لافروف مع نظيره الأمريكي أنتوني بلينكن في اتصال هاتفي الوضع في إدلب ومعبر باب الهوى، قبل تصويت مجلس الأمن على تمديد آلية المساعدات العابرة للحدود في العاشر من تموز.",
            ),
            EventWords::new(
                "واشنطن: بلينكن أبلغ لافروف بضرورة إبقاء معبر باب الهوى مفتوحاً",
                "قالت الخارجية الأمريكية إن الوزير بلينكن شدد خلال اتصاله مع لافروف على إبقاء معبر باب الهوى في إدلب مفتوحاً أمام المساعدات، وعلى تمديد الآلية في تصويت مجلس الأمن المقرر في العاشر من تموز.",
            ),
            EventWords::new(
                "الليرة السورية تتراجع أمام الدولار",
                "تراجعت الليرة السورية أمام الدولار في السوق الموازية في دمشق وحلب خلال الأسبوع.",
            ),
            EventWords::new(
                "غارات روسية على ريف إدلب الجنوبي",
                "شنت طائرات حربية روسية غارات على قرى في ريف إدلب الجنوبي صباح اليوم بحسب مصادر محلية.",
            ),
        ]
    }

    #[test]
    fn two_readouts_of_one_call_are_one_event() {
        let d = docs();
        let ev = Events::new(&d);
        assert!(ev.same_event(0, 1));
        assert_eq!(ev.groups(), vec![0, 0, 2, 3]);
    }

    #[test]
    fn a_shared_place_alone_is_not_one_event() {
        let d = docs();
        let ev = Events::new(&d);
        assert!(!ev.same_event(0, 3), "both mention Idlib only");
        assert!(!ev.same_event(2, 3));
    }

    #[test]
    fn stories_naming_other_years_or_published_days_apart_are_other_events() {
        let mut d = docs();
        d[0] = EventWords::new(
            "لافروف وبلينكن يبحثان هاتفياً الوضع في إدلب",
            "بحث وزير الخارجية الروسي سيرغي لافروف مع نظيره الأمريكي أنتوني بلينكن في اتصال هاتفي الوضع في إدلب ومعبر باب الهوى، قبل تصويت مجلس الأمن على تمديد آلية المساعدات العابرة للحدود في العاشر من تموز 2021.",
        );
        d[1] = EventWords::new(
            "واشنطن: بلينكن أبلغ لافروف بضرورة إبقاء معبر باب الهوى مفتوحاً",
            "قالت الخارجية الأمريكية إن الوزير بلينكن شدد خلال اتصاله مع لافروف على إبقاء معبر باب الهوى في إدلب مفتوحاً أمام المساعدات، وعلى تمديد الآلية في تصويت مجلس الأمن المقرر في العاشر من تموز 2023.",
        );
        assert!(!Events::new(&d).same_event(0, 1), "2021 and 2023");

        let d = docs();
        let t = |y: i32, m: u32, day: u32| {
            chrono::NaiveDate::from_ymd_opt(y, m, day)
                .and_then(|d| d.and_hms_opt(9, 0, 0))
                .map(|d| d.and_utc())
        };
        let times = |a, b| vec![a, b, None, None];
        assert!(Events::dated(&d, times(t(2021, 7, 5), t(2021, 7, 6))).same_event(0, 1));
        assert!(Events::dated(&d, times(t(2021, 7, 5), None)).same_event(0, 1));
        assert!(
            !Events::dated(&d, times(t(2016, 7, 5), t(2021, 7, 6))).same_event(0, 1),
            "five years apart"
        );
        assert!(
            !Events::dated(&d, times(t(2021, 7, 1), t(2021, 7, 6))).same_event(0, 1),
            "five days apart"
        );
    }

    #[test]
    fn leads_sharing_rare_names_are_one_event_with_less_overlap_below() {
        // Two angles on one raid: the leads share the place and the
        // operation; the rest of each article is its own.
        let a = EventWords::new(
            "مدرعات أمريكية تعترض رتلاً روسياً قرب رميلان",
            "اعترضت مدرعات أمريكية رتلاً عسكرياً روسياً على الطريق الدولي قرب رميلان في ريف الحسكة.\nوقال سكان إن الرتل توقف ساعتين قبل أن يعود أدراجه نحو القامشلي.\nوتتكرر الحوادث على الطريق منذ أشهر.",
        );
        let b = EventWords::new(
            "مواجهة صامتة في ريف الحسكة",
            "انتهت مواجهة بين دورية روسية ومدرعات أمريكية قرب رميلان بانسحاب الرتل الروسي.\nوقالت وزارة الدفاع الروسية إن دوريتها كانت تنفذ مهمة مقررة سلفاً بالتنسيق مع الجانب الأمريكي.\nولم يعلق التحالف على الحادثة.",
        );
        let mut d = vec![a, b];
        d.extend(docs());
        let ev = Events::new(&d);
        let e = ev.evidence(0, 1).expect("both have words");
        assert!(e.lead_rare >= 2, "{e:?}");
        assert!(
            e.share < SHARED_WEIGHT,
            "the first rule alone would not group them: {e:?}"
        );
        assert!(ev.same_event(0, 1), "{e:?}");
        assert!(!ev.same_event(0, 5), "another story about Idlib");
    }

    #[test]
    fn a_template_with_other_numbers_is_another_event() {
        let a = "سجل سعر صرف الدولار في دمشق 13500 ليرة للمبيع و13400 للشراء بحسب نشرة الأسعار الأسبوعية لمصرف سوريا المركزي";
        let b = "سجل سعر صرف الدولار في دمشق 14200 ليرة للمبيع و14100 للشراء بحسب نشرة الأسعار الأسبوعية لمصرف سوريا المركزي";
        let mut d = vec![
            EventWords::new("نشرة أسعار الصرف", a),
            EventWords::new("نشرة أسعار الصرف", b),
        ];
        d.extend(docs());
        let ev = Events::new(&d);
        assert!(!ev.same_event(0, 1));
    }
}
