//! `raqib watchlist test`: replays stored items through the watchlist on
//! disk, to see what an edit will do before it goes live.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::store::{Item, Store, StoreError};
use crate::watchlist::Watchlist;

/// How many examples of each kind the report shows.
const EXAMPLES: usize = 5;

/// What the replay found for one topic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicReplay {
    pub topic: String,
    pub items: usize,
    /// Matched when they were stored.
    pub then: usize,
    /// Match the watchlist on disk.
    pub now: usize,
    pub newly_matched: Vec<String>,
    pub no_longer_matched: Vec<String>,
    /// Titles of items just short of matching, with their scores.
    pub near_misses: Vec<String>,
}

/// Replays every item seen since `since` (all items when `None`).
pub fn replay(
    store: &Store,
    watchlist: &Watchlist,
    since: Option<DateTime<Utc>>,
    topic: Option<&str>,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<TopicReplay>, StoreError> {
    let mut items: Vec<Item> = Vec::new();
    for item in store.items_since(since) {
        items.push(item?);
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.seen));
    let mut out = Vec::new();
    let topics = watchlist
        .topics
        .iter()
        .filter(|t| topic.is_none_or(|id| id == t.id))
        .count();
    progress.set_length((items.len() * topics) as u64);
    for (i, t) in watchlist.topics.iter().enumerate() {
        if topic.is_some_and(|id| id != t.id) {
            continue;
        }
        let mut r = TopicReplay {
            topic: t.id.clone(),
            items: items.len(),
            ..Default::default()
        };
        let mut near: Vec<(f64, String)> = Vec::new();
        let mut seen_titles = BTreeSet::new();
        for item in &items {
            progress.inc(1);
            let was = item.matches.iter().any(|m| m.topic == t.id);
            let Some(v) = watchlist.judge(i, &item.title, &item.text) else {
                continue;
            };
            let is = v.matched.is_some();
            r.then += usize::from(was);
            r.now += usize::from(is);
            let label = format!("{} [{}]", item.title, item.feed_name);
            if is && !was && r.newly_matched.len() < EXAMPLES {
                r.newly_matched.push(label);
            } else if was && !is && r.no_longer_matched.len() < EXAMPLES {
                r.no_longer_matched.push(label);
            } else if v.near_miss() && seen_titles.insert(item.title.clone()) {
                let why = match (v.score, v.threshold) {
                    (Some(s), Some(th)) => format!("score {s:.1} < {th:.1}"),
                    _ => format!("{} rule(s) short", v.groups_missing),
                };
                near.push((v.score.unwrap_or(0.0), format!("{label} — {why}")));
            }
        }
        near.sort_by(|a, b| b.0.total_cmp(&a.0));
        r.near_misses = near.into_iter().take(EXAMPLES).map(|(_, s)| s).collect();
        out.push(r);
    }
    Ok(out)
}

/// The report as text, one block per topic.
pub fn render(replays: &[TopicReplay]) -> String {
    let mut s = String::new();
    for r in replays {
        s.push_str(&format!(
            "topic {}: {} items replayed; matched then {}, now {} ({:+})\n",
            r.topic,
            r.items,
            r.then,
            r.now,
            r.now as i64 - r.then as i64
        ));
        for (head, list) in [
            ("newly matched", &r.newly_matched),
            ("no longer matched", &r.no_longer_matched),
            ("near misses", &r.near_misses),
        ] {
            if list.is_empty() {
                continue;
            }
            s.push_str(&format!("  {head}:\n"));
            for l in list {
                s.push_str(&format!("    - {l}\n"));
            }
        }
    }
    s
}
