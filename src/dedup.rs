//! The copy decision over the store's copy index, and story assignment: a
//! new item either joins the story of the first item it copies, or starts
//! one. The store persists and offers candidates; this module decides.

use chrono::{DateTime, Utc};

use crate::store::{Copy, Store, StoreError, Story};
use crate::text::fingerprint::Fingerprint;

/// The story of the first stored item that `fp` is a copy of: the items
/// sharing the most anchors with it are compared first, on their sketches
/// (in memory), then on their stored sample, and on their full text when
/// neither can decide.
pub fn find_copy(store: &Store, fp: &Fingerprint) -> Result<Option<String>, StoreError> {
    for (slot, kept) in store.copy_candidates(fp)? {
        let by_kept = kept.map(|k| fp.compare_sketch(&k));
        if let Some(Some(c)) = by_kept {
            if !c.duplicate {
                continue;
            }
        }
        let Some(rec) = store.record(slot)? else {
            continue;
        };
        let by_sketch = by_kept.unwrap_or_else(|| fp.compare_sketch(&rec.sketch));
        let c = match by_sketch {
            Some(c) => c,
            None => {
                // The item's wider sample first: reading it skips the text,
                // and fingerprinting the text is most of the cost.
                let wide = store.sample(&rec.item)?;
                match rec
                    .sketch
                    .widened(&wide)
                    .and_then(|w| fp.compare_sketch(&w))
                {
                    Some(c) => c,
                    None => match store.item(&rec.item)? {
                        Some(item) => fp.compare(&Fingerprint::from_clean(&item.title, &item.text)),
                        None => continue,
                    },
                }
            }
        };
        if c.duplicate {
            return Ok(Some(rec.story));
        }
    }
    Ok(None)
}

/// The story an item belongs to, and whether it joined an existing one.
pub struct Assignment {
    pub story: Story,
    pub is_copy: bool,
}

/// Finds the story `fp` copies (or starts a new one with id `item_id`) and
/// adds `copy` to it. The caller writes the result with the item.
pub fn assign(
    store: &Store,
    fp: &Fingerprint,
    item_id: &str,
    title: &str,
    copy: Copy,
    now: DateTime<Utc>,
) -> Result<Assignment, StoreError> {
    let existing = match find_copy(store, fp)? {
        Some(story_id) => store.story(&story_id)?,
        None => None,
    };
    Ok(match existing {
        Some(mut story) => {
            // Of the copies, the tidiest headline is the story's.
            if crate::text::headline::untidiness(title)
                < crate::text::headline::untidiness(&story.title)
            {
                story.title = title.to_string();
            }
            story.copies.push(copy);
            Assignment {
                story,
                is_copy: true,
            }
        }
        None => Assignment {
            story: Story {
                id: item_id.to_string(),
                title: title.to_string(),
                created: now,
                copies: vec![copy],
            },
            is_copy: false,
        },
    })
}
