//! The copy index at scale: `cargo bench --bench index [-- N]` stores N
//! (default 1,000,000) item sketches in a sled database in a temporary
//! directory, then times copy lookups and reports the percentiles, the
//! database's bytes on disk and the in-memory index's bytes (anchor table and
//! sketches) per item.
//!
//! Most items are synthetic fingerprints (shingle hashes drawn at random,
//! one in twenty from a pool of phrases every outlet writes), so that
//! building a million of them takes seconds; 2,000 are real 4 KB articles
//! stored as the daemon stores them (item, story, sketch), so that a lookup
//! that needs the stored text reads and fingerprints it for real. The lookup
//! path is the daemon's own (`dedup::find_copy`). Half the queries are
//! copies of stored articles (new headline, a dateline, a paragraph dropped;
//! or cut to the first two paragraphs), half are new articles.

use std::time::{Duration, Instant};

use chrono::Utc;
use raqib::store::Store;
use raqib::text::fingerprint::Fingerprint;

mod common;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A fingerprint of an article of `n` shingles.
fn article(rng: &mut Rng, common: &[u32], n: usize) -> Fingerprint {
    let mut body: Vec<u32> = (0..n)
        .map(|_| {
            if rng.below(20) == 0 {
                common[rng.below(common.len() as u64) as usize]
            } else {
                rng.next() as u32
            }
        })
        .collect();
    body.sort_unstable();
    body.dedup();
    let mut title: Vec<u32> = (0..6).map(|_| rng.next() as u32).collect();
    title.sort_unstable();
    let mut numbers: Vec<u32> = (0..rng.below(6)).map(|_| rng.next() as u32).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let lead = body.iter().copied().take(4).collect();
    Fingerprint {
        body,
        title,
        numbers,
        lead,
    }
}

/// A copy of an article as another outlet runs it: a new headline and a
/// dateline with one paragraph dropped, or only the first two paragraphs.
fn copy_of(rng: &mut Rng, title: &str, body: &str) -> (String, String) {
    let lines: Vec<&str> = body.lines().skip(2).collect();
    if rng.below(2) == 0 {
        let drop = rng.below(lines.len().max(1) as u64) as usize;
        let kept: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, l)| *l)
            .collect();
        (
            format!("عاجل | {title}"),
            format!("دمشق - وكالات\n{}", kept.join("\n")),
        )
    } else {
        (
            title.to_string(),
            lines.iter().take(2).copied().collect::<Vec<_>>().join("\n"),
        )
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let mut rng = Rng(0x5EED);
    let common: Vec<u32> = (0..2000).map(|_| rng.next() as u32).collect();
    let now = Utc::now();

    let real = common::articles(2000, 4096, 17);
    let fresh = common::articles(5000, 4096, 23);
    let every = n / real.len();
    let t = Instant::now();
    for i in 0..n {
        let id = format!("{i:024x}");
        if i % every == 0 && i / every < real.len() {
            let (title, body) = &real[i / every];
            store.insert(&common::new_item(&id, title, body, now))?;
            continue;
        }
        let len = 40 + rng.below(560) as usize;
        let fp = article(&mut rng, &common, len);
        store.add_sketch(&id, &id, now, &fp)?;
    }
    let build = t.elapsed();
    common::flush(&store)?;
    let disk = common::dir_size(dir.path());
    let (memory, entries) = store.index_size()?;

    let mut times: Vec<Duration> = Vec::new();
    let mut copy_times: Vec<Duration> = Vec::new();
    let (mut copies, mut found, mut false_hits) = (0, 0, 0);
    for q in 0..10_000 {
        let is_copy = q % 2 == 0;
        let (title, body) = if is_copy {
            let (t, b) = &real[rng.below(real.len() as u64) as usize];
            copy_of(&mut rng, t, b)
        } else {
            fresh[q / 2].clone()
        };
        let fp = Fingerprint::new(&title, &body);
        let t = Instant::now();
        let hit = raqib::dedup::find_copy(&store, &fp)?;
        if is_copy {
            copy_times.push(t.elapsed());
        } else {
            times.push(t.elapsed());
        }
        if is_copy {
            copies += 1;
            found += usize::from(hit.is_some());
        } else if hit.is_some() {
            false_hits += 1;
        }
    }
    times.sort_unstable();
    copy_times.sort_unstable();
    let pct = |v: &[Duration], p: f64| v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    drop(store);
    let t = Instant::now();
    let reopened = Store::open(dir.path())?;
    // The anchor table is built at its first use.
    reopened.index_size()?;
    let reopen = t.elapsed();
    drop(reopened);

    println!("index/{n} items: built in {:.1} s", build.as_secs_f64());
    println!(
        "index/lookup, new article: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({} lookups)",
        pct(&times, 0.50),
        pct(&times, 0.99),
        pct(&times, 1.0),
        times.len()
    );
    println!(
        "index/lookup, copy (stored sample or text read when the sketch cannot decide): p50 {:.1} µs, p99 {:.1} µs ({} lookups)",
        pct(&copy_times, 0.50),
        pct(&copy_times, 0.99),
        copy_times.len()
    );
    println!(
        "index/bytes per item: {:.0} on disk (sled, whole database), {:.0} in memory (anchor table and sketches; {} anchor entries)",
        disk as f64 / n as f64,
        memory as f64 / n as f64,
        entries
    );
    println!(
        "index/copies found: {found}/{copies}; new articles taken for copies: {false_hits}/{}",
        10_000 - copies
    );
    println!(
        "index/reopen (anchor table rebuilt): {:.2} s",
        reopen.as_secs_f64()
    );
    Ok(())
}
