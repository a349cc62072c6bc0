//! Story assignment over the fingerprint index in the store: a new item
//! either joins the story of the first item it copies, or starts one.

use chrono::{DateTime, Utc};

use crate::store::{Copy, Store, StoreError, Story};
use crate::text::fingerprint::Fingerprint;

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
    let existing = match store.find_copy(fp)? {
        Some(story_id) => store.story(&story_id)?,
        None => None,
    };
    Ok(match existing {
        Some(mut story) => {
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
