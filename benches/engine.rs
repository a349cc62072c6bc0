//! Engine throughput on one core: cleanup + normalisation + fingerprint of
//! 4 KB articles, and classification of 2 KB items against 50 topics of 100
//! terms. `cargo bench --bench engine`; `benches/baseline.py` runs the
//! Python baseline on the same articles (see README).

use criterion::{black_box, criterion_group, Criterion, Throughput};
use raqib::text::{clean, fingerprint::Fingerprint, normalize::normalize};
use raqib::watchlist::Watchlist;

mod common;
use common::{articles, json_string, Rng, SENTENCES};

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
            black_box(Fingerprint::from_cleaned(title, &kept))
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

/// The pipeline measured as `benches/baseline.py` measures the baseline:
/// five rounds of two seconds over the same articles, the best round and
/// the median, as one JSON line. Noise on a shared machine only ever adds
/// time, so the best rounds of both sides compare like with like.
fn rounds() {
    let docs = articles(256, 4096, 7);
    let mut rates = Vec::new();
    let mut n = 0;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let mut done = 0u32;
        while start.elapsed() < std::time::Duration::from_secs(2) {
            let (title, body) = &docs[n % docs.len()];
            let kept = clean::clean_keyed(body);
            black_box(Fingerprint::from_cleaned(title, &kept));
            n += 1;
            done += 1;
        }
        rates.push(f64::from(done) / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{{\"engine\": \"raqib clean+normalize+fingerprint\", \"articles_per_s\": {:.1}, \"median_articles_per_s\": {:.1}}}",
        rates[rates.len() - 1],
        rates[rates.len() / 2]
    );
}

criterion_group!(benches, text_pipeline, classify);

fn main() {
    if std::env::var_os("RAQIB_BENCH_ROUNDS").is_some() {
        rounds();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
