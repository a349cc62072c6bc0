//! Engine throughput on one core: cleanup + normalisation + fingerprint of
//! 4 KB articles, and classification of 2 KB items against 50 topics of 100
//! terms. `cargo bench --bench engine`; `benches/baseline.py` runs the
//! Python baseline on the same articles (see README).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use raqib::text::{clean, fingerprint::Fingerprint, normalize::normalize};
use raqib::watchlist::Watchlist;

/// Sentences in the register of wire copy; articles are drawn from them.
const SENTENCES: &[&str] = &[
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

fn json_string(s: &str) -> String {
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

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
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
fn articles(n: usize, bytes: usize, seed: u64) -> Vec<(String, String)> {
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

fn text_pipeline(c: &mut Criterion) {
    let docs = articles(256, 4096, 7);
    // The same articles for the Python baseline (benches/baseline.py).
    if let Ok(dir) = std::env::var("RAQIB_BENCH_DUMP") {
        let lines: Vec<String> = docs
            .iter()
            .map(|(t, b)| {
                format!(
                    "{{\"title\":{},\"body\":{}}}",
                    json_string(t),
                    json_string(b)
                )
            })
            .collect();
        let _ = std::fs::write(
            std::path::Path::new(&dir).join("articles.jsonl"),
            lines.join("\n"),
        );
    }
    let mut g = c.benchmark_group("text");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("clean+normalize+fingerprint 4KB", |b| {
        b.iter(|| {
            let (title, body) = &docs[i % docs.len()];
            i += 1;
            let kept = clean::clean_keyed(body);
            black_box(Fingerprint::from_keys(title, &kept.keys))
        })
    });
    let mut k = 0;
    g.bench_function("clean only 4KB", |b| {
        b.iter(|| {
            let (_, body) = &docs[k % docs.len()];
            k += 1;
            black_box(clean::clean(body))
        })
    });
    let cleaned: Vec<(String, String)> = docs
        .iter()
        .map(|(t, b)| (t.clone(), clean::clean(b)))
        .collect();
    let mut l = 0;
    g.bench_function("fingerprint only 4KB", |b| {
        b.iter(|| {
            let (title, body) = &cleaned[l % cleaned.len()];
            l += 1;
            black_box(Fingerprint::from_clean(title, body))
        })
    });
    let mut j = 0;
    g.bench_function("normalize only 4KB", |b| {
        b.iter(|| {
            let (_, body) = &docs[j % docs.len()];
            j += 1;
            black_box(normalize(body))
        })
    });
    g.finish();
}

/// 50 topics × 100 terms: three `all` groups of 30 and 10 exclusions. Five
/// topics draw a fifth of their terms from the articles' words (they match
/// most items); the other 45 are invented names, as most topics of a real
/// watchlist miss most items.
fn big_watchlist() -> Watchlist {
    let mut words: Vec<String> = SENTENCES
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).to_string())
        .filter(|w| w.chars().count() > 2)
        .collect();
    words.sort();
    words.dedup();
    let mut rng = Rng(11);
    let letters: Vec<char> = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي".chars().collect();
    let mut src = String::new();
    for t in 0..50 {
        src.push_str(&format!("[[topic]]\nid = \"t{t}\"\nall = [\n"));
        for _ in 0..3 {
            src.push('[');
            for k in 0..30 {
                let term = if t < 5 && k % 10 == 0 {
                    words[rng.next() % words.len()].clone()
                } else {
                    (0..5)
                        .map(|_| letters[rng.next() % letters.len()])
                        .collect()
                };
                src.push_str(&format!("\"{term}\", "));
            }
            src.push_str("],\n");
        }
        src.push_str("]\nnone = [");
        for _ in 0..10 {
            let term: String = (0..6)
                .map(|_| letters[rng.next() % letters.len()])
                .collect();
            src.push_str(&format!("\"{term}\", "));
        }
        src.push_str("]\n");
    }
    match Watchlist::parse(std::path::Path::new("bench.toml"), &src) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    }
}

fn classify(c: &mut Criterion) {
    let wl = big_watchlist();
    let docs = articles(256, 2048, 3);
    let mut g = c.benchmark_group("watchlist");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("classify 2KB, 50 topics x 100 terms", |b| {
        b.iter(|| {
            let (title, body) = &docs[i % docs.len()];
            i += 1;
            black_box(wl.classify(title, body))
        })
    });
    g.finish();
}

criterion_group!(benches, text_pipeline, classify);
criterion_main!(benches);
