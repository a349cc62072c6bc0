//! Digests: when they are due, what goes in them, and making one.
//!
//! Every story a topic matches is queued for that topic's digest in the
//! same transaction as the item. Making a digest takes the queue into one
//! outbox entry (rendered when it is sent) and records when it was made, in
//! one transaction. The next digest is due at the first scheduled time after
//! the last one was made, so a daemon that was down across several slots
//! sends one digest when it starts, not one per missed slot.

use chrono::{DateTime, Days, TimeZone, Utc};

use super::render::{BrokenFeed, DigestSection, DigestStory};
use crate::config::Digest;
use crate::store::{Alert, AlertKind, Queued, Store, StoreError};
use crate::text::event::{EventWords, Events};
use crate::watchlist::Watchlist;

/// The first scheduled time strictly after `after`.
pub fn next_slot(after: DateTime<Utc>, d: &Digest) -> DateTime<Utc> {
    let local_day = after.with_timezone(&d.timezone).date_naive();
    let mut best: Option<DateTime<Utc>> = None;
    for offset in 0..=2u64 {
        let Some(day) = local_day.checked_add_days(Days::new(offset)) else {
            continue;
        };
        for t in &d.at {
            let naive = day.and_time(*t);
            // In a DST gap the local time does not exist: the next hour does.
            let local = d
                .timezone
                .from_local_datetime(&naive)
                .earliest()
                .or_else(|| {
                    d.timezone
                        .from_local_datetime(&naive.checked_add_signed(chrono::Duration::hours(1))?)
                        .earliest()
                });
            let Some(local) = local else { continue };
            let utc = local.with_timezone(&Utc);
            if utc > after && best.is_none_or(|b| utc < b) {
                best = Some(utc);
            }
        }
    }
    best.unwrap_or(crate::time::after(
        after,
        std::time::Duration::from_secs(24 * 3600),
    ))
}

/// The digests to make: (key, topics). One for all topics, or one per topic.
pub fn keys(d: &Digest, watchlist: &Watchlist) -> Vec<(String, Vec<String>)> {
    if d.per_topic {
        watchlist
            .topics
            .iter()
            .map(|t| (t.id.clone(), vec![t.id.clone()]))
            .collect()
    } else {
        vec![(
            "all".to_string(),
            watchlist.topics.iter().map(|t| t.id.clone()).collect(),
        )]
    }
}

/// The feeds failing for at least `after` at `now`, oldest failure first:
/// the end of a digest.
pub fn broken_feeds(
    store: &Store,
    now: DateTime<Utc>,
    after: std::time::Duration,
) -> Result<Vec<BrokenFeed>, StoreError> {
    let mut broken: Vec<BrokenFeed> = store
        .feed_states()?
        .into_iter()
        .filter(|(_, s)| s.broken_for(now, after))
        .filter_map(|(url, s)| {
            Some(BrokenFeed {
                name: s.name.clone().unwrap_or_else(|| url.clone()),
                url,
                since: s.failing_since?,
                error: s.last_error,
            })
        })
        .collect();
    broken.sort_by_key(|b| b.since);
    Ok(broken)
}

/// Everything queued for `topics`.
pub fn queued(store: &Store, topics: &[String]) -> Result<Vec<Queued>, StoreError> {
    let mut out = Vec::new();
    for t in topics {
        out.extend(store.queued(t)?);
    }
    Ok(out)
}

/// The digest's sections: per topic, its stories ranked by the number of
/// outlets that carried them, then by recency, with the separate articles
/// on one event listed under the first of them (and counted with it).
pub fn sections(
    store: &Store,
    watchlist: &Watchlist,
    topics: &[String],
    stories: &[Queued],
) -> Result<Vec<DigestSection>, StoreError> {
    let mut out = Vec::new();
    for topic in topics {
        let mut list: Vec<DigestStory> = Vec::new();
        for q in stories.iter().filter(|q| &q.topic == topic) {
            let Some(story) = store.story(&q.story)? else {
                continue;
            };
            let first = match story.copies.first() {
                Some(c) => store.item(&c.item)?,
                None => None,
            };
            list.push(DigestStory {
                story,
                excerpt_from: first,
                folded: q.folded,
                same_event: Vec::new(),
            });
        }
        list.sort_by(|a, b| {
            b.story
                .copies
                .len()
                .cmp(&a.story.copies.len())
                .then(b.story.created.cmp(&a.story.created))
        });
        let mut list = group_same_event(list);
        // An event several outlets wrote about on their own ranks by all of
        // them, not only by the copies of its first article.
        let outlets = |d: &DigestStory| {
            d.story.copies.len() + d.same_event.iter().map(|s| s.copies.len()).sum::<usize>()
        };
        list.sort_by(|a, b| {
            outlets(b)
                .cmp(&outlets(a))
                .then(b.story.created.cmp(&a.story.created))
        });
        let topic_name = watchlist
            .topic(topic)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| topic.clone());
        out.push(DigestSection {
            topic_name,
            stories: list,
        });
    }
    Ok(out)
}

/// Lists the separate articles on one event under the highest-ranked of
/// them (the list is ranked already); stories first reported days apart
/// are never one event.
fn group_same_event(list: Vec<DigestStory>) -> Vec<DigestStory> {
    let words: Vec<EventWords> = list
        .iter()
        .map(|ds| match &ds.excerpt_from {
            Some(item) => EventWords::new(&item.title, &item.text),
            None => EventWords::new(&ds.story.title, ""),
        })
        .collect();
    let times = list
        .iter()
        .map(|ds| Some(ds.story.first_reported()))
        .collect();
    let lead = Events::dated(&words, times).groups();
    let mut out: Vec<DigestStory> = Vec::new();
    // Index in `out` of each leader.
    let mut at: Vec<Option<usize>> = vec![None; list.len()];
    for (i, ds) in list.into_iter().enumerate() {
        match lead.get(i).and_then(|&l| if l == i { None } else { at[l] }) {
            Some(k) => out[k].same_event.push(ds.story),
            None => {
                at[i] = Some(out.len());
                out.push(ds);
            }
        }
    }
    out
}

/// Makes the digest `key` now: queues its outbox entry (unless it would be
/// empty and empty digests are off) and records the time. Returns the
/// outbox entry's id.
pub fn make(
    store: &Store,
    d: &Digest,
    key: &str,
    topics: &[String],
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let stories = queued(store, topics)?;
    let since = store.digest_last(key)?;
    if stories.is_empty() && !d.send_empty {
        store.commit_digest(key, now, None, &[])?;
        return Ok(None);
    }
    let id = format!("digest/{key}/{}", now.timestamp());
    let alert = Alert {
        id: id.clone(),
        story: String::new(),
        topic: key.to_string(),
        created: now,
        due: now,
        attempts: 0,
        last_error: None,
        kind: AlertKind::Digest {
            topics: topics.to_vec(),
            stories: stories.clone(),
            since,
        },
        failing_since: None,
    };
    store.commit_digest(key, now, Some(&alert), &stories)?;
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn digest(at: &[&str], tz: chrono_tz::Tz) -> Digest {
        Digest {
            at: at
                .iter()
                .filter_map(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
                .collect(),
            timezone: tz,
            per_topic: false,
            send_empty: false,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn next_slot_in_a_zone() {
        // Damascus is UTC+3 all year since 2022.
        let d = digest(&["07:00", "19:00"], chrono_tz::Asia::Damascus);
        assert_eq!(
            next_slot(utc("2026-01-10T03:00:00Z"), &d),
            utc("2026-01-10T04:00:00Z")
        );
        assert_eq!(
            next_slot(utc("2026-01-10T04:00:00Z"), &d),
            utc("2026-01-10T16:00:00Z")
        );
        assert_eq!(
            next_slot(utc("2026-01-10T17:00:00Z"), &d),
            utc("2026-01-11T04:00:00Z")
        );
    }

    #[test]
    fn next_slot_across_a_dst_gap() {
        // Europe/Berlin skips 02:00-03:00 on 2026-03-29.
        let d = digest(&["02:30"], chrono_tz::Europe::Berlin);
        let s = next_slot(utc("2026-03-28T12:00:00Z"), &d);
        assert_eq!(s, utc("2026-03-29T01:30:00Z"), "03:30 CEST");
    }
}
