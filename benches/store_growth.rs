//! The store over months, with simulated time:
//! `cargo bench --bench store_growth [-- DAYS PER_DAY REOPENS]` (defaults
//! 365, 3000, 5000).
//!
//! - A year of items: PER_DAY items a day (1 KB articles, stored as the
//!   daemon stores them: item, story, sketch, sample, tombstone), pruned
//!   daily with the default retention (30 days) and rewritten when sled
//!   let it grow (as the daemon's maintenance does, see
//!   `store::compact_if_grown`); every 15 days the database's bytes on
//!   disk and the live items. The size must level off once the retention
//!   window and the tombstones' horizon are full.
//! - Reopens: a database opened REOPENS times with one new item each time
//!   (`raqib once` from a timer): the next copy-index slot, the index's
//!   bytes in memory and the open time, which must not grow with the count.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{dir_size, flush, new_item};
use raqib::store::{compact_if_grown, Store, SEEN_FOR};

mod common;

fn year(days: usize, per_day: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path())?;
    let mut rewrites = 0;
    let pool = common::articles(2000, 1024, 31);
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .ok_or("start date")?;
    let retention = chrono::Duration::days(30);
    println!(
        "store/year: {per_day} items a day, retention 30 days, tombstones {} days beyond it",
        SEEN_FOR.as_secs() / 86_400
    );
    println!("store/year: day, MB on disk, live items, bytes on disk per live item");
    let t = Instant::now();
    let mut n = 0usize;
    for day in 0..days {
        let today = start + chrono::Duration::days(day as i64);
        for k in 0..per_day {
            let (title, body) = &pool[n % pool.len()];
            // Its own numbers, so that no item is a copy of an earlier one.
            let body = format!("{body}\nبلغ العدد {n} في اليوم {day} والرقم {k}");
            let id = format!("{n:024x}");
            let seen = today + chrono::Duration::seconds((k * 86_400 / per_day) as i64);
            store.insert(&new_item(&id, &format!("{title} {n}"), &body, seen))?;
            n += 1;
        }
        store.prune(today - retention)?;
        if store.has_grown()? {
            drop(store);
            if let Some(c) = compact_if_grown(dir.path())? {
                rewrites += 1;
                println!(
                    "store/year: day {:>3}, rewritten: {:.1} MB -> {:.1} MB",
                    day + 1,
                    c.before as f64 / 1e6,
                    c.after as f64 / 1e6
                );
            }
            store = Store::open(dir.path())?;
        }
        if (day + 1) % 15 == 0 || day + 1 == days {
            flush(&store)?;
            let live = store.items().count();
            let disk = dir_size(dir.path());
            println!(
                "store/year: day {:>3}, {:>6.1} MB, {live:>7} live items, {:>5.0} B/live item",
                day + 1,
                disk as f64 / 1e6,
                disk as f64 / live.max(1) as f64
            );
        }
    }
    println!(
        "store/year: {n} items in {:.0} s, {rewrites} rewrites",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn reopens(times: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let pool = common::articles(200, 1024, 37);
    let mut first_open = Duration::ZERO;
    let mut first_memory = 0;
    let t = Instant::now();
    for n in 0..times {
        let opened = Instant::now();
        let store = Store::open(dir.path())?;
        // With the index, built at its first use (the insert's lookup).
        store.index_size()?;
        let took = opened.elapsed();
        let (title, body) = &pool[n % pool.len()];
        let body = format!("{body}\nالرقم {n}");
        let id = format!("{n:024x}");
        store.insert(&new_item(&id, title, &body, Utc::now()))?;
        if n == 0 {
            first_open = took;
            first_memory = store.index_size()?.0;
        }
        if n + 1 == times {
            let (memory, entries) = store.index_size()?;
            println!(
                "store/reopens: {times} opens, one item each, in {:.0} s; index in memory {} KB after the first, {} KB after the last ({entries} anchor entries); open {:.1} ms first, {:.1} ms last",
                t.elapsed().as_secs_f64(),
                first_memory / 1024,
                memory / 1024,
                first_open.as_secs_f64() * 1e3,
                took.as_secs_f64() * 1e3,
            );
        }
        drop(store);
    }
    let store = Store::open(dir.path())?;
    println!(
        "store/reopens: {} items stored, all found again: {}",
        store.items().count(),
        store.items().count() == times
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let days = args.first().copied().unwrap_or(365);
    let per_day = args.get(1).copied().unwrap_or(3000);
    let times = args.get(2).copied().unwrap_or(5000);
    reopens(times)?;
    year(days, per_day)?;
    Ok(())
}
