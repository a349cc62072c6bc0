//! Synthetic Arabic articles shared by the benchmarks.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use raqib::store::{Copy, Item, NewItem, Store, Story};
use raqib::text::{clean, fingerprint::Fingerprint};

/// Sentences in the register of wire copy; articles are drawn from them.
pub const SENTENCES: &[&str] = &[
    "قال وزير الخارجية الروسي إن المحادثات مع الولايات المتحدة حول سوريا متوقفة منذ أسابيع.",
    "وأضاف في مؤتمر صحفي أن موسكو مستعدة لاستئناف الحوار مع واشنطن إذا توفرت الإرادة السياسية.",
    "وأعلنت وزارة الدفاع الأمريكية أن طائرات التحالف الدولي نفذت غارات على مواقع قرب دير الزور.",
    "وردت الخارجية الروسية بأن الغارات تمت دون تنسيق عبر خط تفادي الاشتباك بين الجيشين.",
    "ويأتي ذلك بعد أيام من جلسة ساخنة لمجلس الأمن الدولي حول الوضع الإنساني في شمال غرب سوريا.",
    "واتهمت المندوبة الأمريكية روسيا بعرقلة إيصال المساعدات عبر الحدود إلى ملايين السوريين.",
    "وقال المندوب الروسي إن المساعدات يمكن أن تمر عبر دمشق وإن الآلية الحالية تنتهك السيادة السورية.",
    "وأفادت مصادر محلية بأن رتلاً عسكرياً أمريكياً اعترض دورية للشرطة العسكرية الروسية قرب القامشلي.",
    "وشهدت الليرة السورية تراجعاً جديداً أمام الدولار في السوق الموازية بدمشق وحلب خلال الأسبوع.",
    "وأكد المتحدث باسم الكرملين أن الرئيسين بحثا هاتفياً الملف السوري والتعاون في مكافحة الإرهاب.",
    "شام تايمز",
    "اقرأ أيضاً: أسعار الذهب في الأسواق المحلية",
];

pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

/// A vocabulary of invented words (3 to 7 letters) standing for the long
/// tail of a news text's words.
fn filler_words(n: usize, rng: &mut Rng) -> Vec<String> {
    let letters: Vec<char> = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي".chars().collect();
    (0..n)
        .map(|_| {
            let len = 3 + rng.next() % 5;
            (0..len)
                .map(|_| letters[rng.next() % letters.len()])
                .collect()
        })
        .collect()
}

/// Articles of about `bytes` bytes, each with its own numbers: sentences of
/// wire copy with two words in five replaced from a large vocabulary, so
/// that, as in the seed articles, about 60 % of an article's words are
/// distinct and a watchlist's terms hit a minority of them.
pub fn articles(n: usize, bytes: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng(seed);
    let filler = filler_words(3000, &mut rng);
    let sentence = |rng: &mut Rng, i: usize| -> String {
        // Site-name and read-also lines stay as they are: cleanup knows them.
        let wire = i < 10;
        SENTENCES[i]
            .split(' ')
            .map(|w| {
                if wire && rng.next() % 5 < 2 {
                    filler[rng.next() % filler.len()].as_str()
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (0..n)
        .map(|i| {
            let first = rng.next() % 10;
            let title = format!("{} {}", sentence(&mut rng, first), i);
            let mut body = format!("{title}\n{title}\n");
            while body.len() < bytes {
                let k = rng.next() % SENTENCES.len();
                body.push_str(&sentence(&mut rng, k));
                body.push_str(&format!(" {}\n", rng.next() % 1000));
            }
            (title, body)
        })
        .collect()
}

/// An item as the daemon stores it (item, story, sketch, sample), starting
/// its own story.
pub fn new_item(id: &str, title: &str, body: &str, seen: DateTime<Utc>) -> NewItem {
    let text = clean::clean(body);
    let item = Item {
        id: id.to_string(),
        feed: "file:///bench".into(),
        feed_name: "bench".into(),
        title: title.to_string(),
        text: text.clone(),
        link: Some(format!("https://outlet.example/{id}")),
        published: Some(seen),
        seen,
        story: id.to_string(),
        matches: Vec::new(),
        sample: Vec::new(),
    };
    let story = Story {
        id: id.to_string(),
        title: title.to_string(),
        created: seen,
        copies: vec![Copy {
            item: id.to_string(),
            feed_name: "bench".into(),
            title: title.to_string(),
            link: item.link.clone(),
            seen: None,
            published: None,
        }],
    };
    NewItem {
        fingerprint: Fingerprint::from_clean(title, &text),
        item,
        story,
        alerts: Vec::new(),
        queued: Vec::new(),
        held: Vec::new(),
    }
}

/// Bytes of the files below `path`.
pub fn dir_size(path: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Flushes the store to disk.
pub fn flush(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    rt.block_on(store.flush())?;
    Ok(())
}
