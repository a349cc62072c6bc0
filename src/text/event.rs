//! Same event, different articles: which stories of a digest report one
//! event (the same vote, call, strike or statement) in their own words.
//!
//! Copies share sentences; articles on one event share *facts*: the names,
//! places and numbers that only that event has. So the comparison weighs
//! each shared word by its rarity among the documents at hand (the stories
//! of one digest, or the cases of an eval file): words every story of a
//! topic has (سوريا، روسيا) count for little, a name two stories share counts
//! for much. Two stories are one event when they share at least four rare
//! words and the shared words carry a fifth of the smaller one's weight.
//! Template stories (a weekly rate report, another casualty update) share
//! nearly all their words but not their numbers: they stay apart.

use rustc_hash::{FxHashMap, FxHashSet};

use super::tokens::{clitic_prefixes_of, tokenize, FUNCTION_WORDS};

/// Share of the smaller story's weight that shared words must carry.
const SHARED_WEIGHT: f64 = 0.22;
/// Rare words two stories must share.
const SHARED_RARE: usize = 4;
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
    numbers: FxHashSet<String>,
}

impl EventWords {
    pub fn new(title: &str, body: &str) -> EventWords {
        let mut ev = EventWords::default();
        for text in [title, body] {
            for w in tokenize(text) {
                if w.bytes().all(|b| b.is_ascii_digit()) {
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
                    ev.words.insert(stem.to_string());
                }
            }
        }
        ev
    }
}

/// Documents compared against each other, with word rarity among them.
pub struct Events<'a> {
    docs: &'a [EventWords],
    df: FxHashMap<&'a str, usize>,
}

impl<'a> Events<'a> {
    pub fn new(docs: &'a [EventWords]) -> Events<'a> {
        let mut df: FxHashMap<&str, usize> = FxHashMap::default();
        for d in docs {
            for w in &d.words {
                *df.entry(w.as_str()).or_default() += 1;
            }
        }
        Events { docs, df }
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
        let (Some(a), Some(b)) = (self.docs.get(i), self.docs.get(j)) else {
            return false;
        };
        let weight = |d: &EventWords| d.words.iter().map(|w| self.idf(w)).sum::<f64>();
        let smaller = weight(a).min(weight(b));
        if smaller <= 0.0 {
            return false;
        }
        let (mut shared, mut rare) = (0.0, 0);
        for w in a.words.intersection(&b.words) {
            shared += self.idf(w);
            if self.df.get(w.as_str()).copied().unwrap_or(0) <= self.rare_limit() {
                rare += 1;
            }
        }
        let share = shared / smaller;
        let (few, many) = if a.numbers.len() <= b.numbers.len() {
            (&a.numbers, &b.numbers)
        } else {
            (&b.numbers, &a.numbers)
        };
        let numbers_differ = !few.is_empty() && !few.is_subset(many);
        share >= SHARED_WEIGHT
            && rare >= SHARED_RARE
            && !(share >= TEMPLATE_WEIGHT && numbers_differ)
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
