//! Rewrites a database that sled let grow: sled reclaims the space of
//! removed and rewritten records slowly, if at all (a year of pruned items
//! grew one database by ~9 MB a day while the live data stayed the same).
//!
//! The size after the last rewrite is kept in `meta`; before the first
//! rewrite, the first size seen past 64 MiB stands for it (a database that
//! has only filled up holds little to give back, and rewriting it would
//! read every record for nothing). Once the files are more than twice that
//! and 64 MiB more, every tree is copied into a new database beside the old
//! one, which then takes its place. A crash at any point leaves either
//! database whole: the new one is marked complete only after its last write
//! is on disk, and [`recover`] finishes or undoes an interrupted swap before
//! anything opens the folder.

use std::fs;
use std::path::{Path, PathBuf};

use super::StoreError;

/// The `meta` key of the database's size after its last rewrite (u64
/// big-endian).
const BASE_KEY: &str = "compact/base_size";

/// A rewrite happens once the files have grown past this many times the
/// size after the last one…
const GROWTH: u64 = 2;
/// … and by at least this much.
const MIN_GROWTH: u64 = 64 << 20;

/// Written into the new folder once its copy is complete and flushed.
const COMPLETE: &str = "raqib-compacted";

/// What a rewrite did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub before: u64,
    pub after: u64,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Sled(sled::Error::Io(e))
}

/// Finishes or undoes a swap that a crash interrupted: with the folder
/// gone, a complete new copy takes its place, else the old one returns.
/// Then removes what is left of either.
pub fn recover(path: &Path) -> Result<(), StoreError> {
    let (new, old) = (sibling(path, ".compacting"), sibling(path, ".old"));
    if !path.exists() {
        if new.join(COMPLETE).exists() {
            fs::rename(&new, path).map_err(io)?;
        } else if old.exists() {
            fs::rename(&old, path).map_err(io)?;
        }
    }
    for leftover in [new, old] {
        if leftover.exists() {
            fs::remove_dir_all(&leftover).map_err(io)?;
        }
    }
    Ok(())
}

/// True when a database of `size` bytes, `base` after its last rewrite,
/// has grown enough to be rewritten.
fn grown(size: u64, base: u64, min_growth: u64) -> bool {
    size >= base.saturating_mul(GROWTH).saturating_add(min_growth)
}

/// The size recorded after the last rewrite (0 before the first).
fn base_size(meta: &sled::Tree) -> Result<u64, StoreError> {
    Ok(meta
        .get(BASE_KEY)?
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0))
}

/// True when a database of `size` bytes is due for a rewrite. With no base
/// yet, a size past `min_growth` becomes the base and nothing is due.
fn due(meta: &sled::Tree, size: u64, min_growth: u64) -> Result<bool, StoreError> {
    let base = base_size(meta)?;
    if base == 0 {
        if size >= min_growth {
            meta.insert(BASE_KEY, &size.to_be_bytes())?;
        }
        return Ok(false);
    }
    Ok(grown(size, base, min_growth))
}

impl super::Store {
    /// True when the database has grown enough that [`compact_if_grown`]
    /// would rewrite it (the daemon then reopens the store to do so).
    /// The first time it is past the bound, its size is recorded instead.
    pub fn has_grown(&self) -> Result<bool, StoreError> {
        due(&self.meta, self.db.size_on_disk()?, MIN_GROWTH)
    }
}

/// Rewrites the database in `path` when it has grown past its bound
/// (nothing is open on it). `None` when it has not, or does not exist.
pub fn compact_if_grown(path: &Path) -> Result<Option<Compaction>, StoreError> {
    compact_if_grown_by(path, MIN_GROWTH)
}

fn compact_if_grown_by(path: &Path, min_growth: u64) -> Result<Option<Compaction>, StoreError> {
    recover(path)?;
    if !path.join("db").exists() {
        return Ok(None);
    }
    let db = super::open_db(path)?;
    let before = db.size_on_disk()?;
    if !due(&db.open_tree("meta")?, before, min_growth)? {
        return Ok(None);
    }
    let new = sibling(path, ".compacting");
    if new.exists() {
        fs::remove_dir_all(&new).map_err(io)?;
    }
    let after = {
        // With sled's default 1 GiB cache the copy of a large database
        // stayed in memory whole (~180 MB at 100,000 items).
        let copy = super::sled_config(&new).open()?;
        for name in db.tree_names() {
            let (from, to) = (db.open_tree(&name)?, copy.open_tree(&name)?);
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for kv in from.iter() {
                let (k, v) = kv?;
                batch.insert(k, v);
                n += 1;
                if n % 1_000 == 0 {
                    to.apply_batch(std::mem::take(&mut batch))?;
                }
            }
            to.apply_batch(batch)?;
        }
        copy.flush()?;
        let after = copy.size_on_disk()?;
        copy.open_tree("meta")?
            .insert(BASE_KEY, &after.to_be_bytes())?;
        copy.flush()?;
        after
    };
    drop(db);
    fs::write(new.join(COMPLETE), b"").map_err(io)?;
    let old = sibling(path, ".old");
    fs::rename(path, &old).map_err(io)?;
    fs::rename(&new, path).map_err(io)?;
    fs::remove_file(path.join(COMPLETE)).map_err(io)?;
    fs::remove_dir_all(&old).map_err(io)?;
    Ok(Some(Compaction { before, after }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open_db;

    #[test]
    fn a_grown_database_is_rewritten_with_everything_in_it() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(io)?;
        let path = dir.path().join("db");
        let value = vec![7u8; 2000];
        {
            let db = open_db(&path)?;
            let t = db.open_tree("items")?;
            t.insert("kept", b"value".as_slice())?;
            db.flush()?;
        }
        assert_eq!(compact_if_grown_by(&path, 1 << 20)?, None, "small");
        // Written and removed again and again: space sled keeps.
        let first = {
            let db = open_db(&path)?;
            let t = db.open_tree("items")?;
            for round in 0..5 {
                for i in 0..1000u32 {
                    t.insert(format!("{round}/{i}"), value.as_slice())?;
                }
                for i in 0..1000u32 {
                    t.remove(format!("{round}/{i}"))?;
                }
            }
            db.flush()?;
            db.size_on_disk()?
        };
        assert!(first > 1 << 20, "{first}");
        // The first size past the bound is the base, not a reason to rewrite.
        assert_eq!(compact_if_grown_by(&path, 1 << 20)?, None, "first past");
        // Then much more written at once and removed: sled keeps the files.
        let grown_to = {
            let db = open_db(&path)?;
            let t = db.open_tree("items")?;
            for i in 0..20_000u32 {
                t.insert(format!("big/{i}"), value.as_slice())?;
            }
            db.flush()?;
            for i in 0..20_000u32 {
                t.remove(format!("big/{i}"))?;
            }
            db.flush()?;
            db.size_on_disk()?
        };
        assert!(grown_to > 2 * first + (1 << 20), "{first} -> {grown_to}");
        let done = compact_if_grown_by(&path, 1 << 20)?;
        let Some(Compaction { before, after }) = done else {
            panic!("not rewritten");
        };
        assert!(after * 4 < before, "{before} -> {after}");
        let db = open_db(&path)?;
        assert_eq!(
            db.open_tree("items")?.get("kept")?.as_deref(),
            Some(b"value".as_slice())
        );
        assert_eq!(db.open_tree("items")?.len(), 1);
        assert!(!sibling(&path, ".old").exists() && !sibling(&path, ".compacting").exists());
        Ok(())
    }

    #[test]
    fn an_interrupted_swap_is_finished_or_undone() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(io)?;
        let path = dir.path().join("db");
        let (new, old) = (sibling(&path, ".compacting"), sibling(&path, ".old"));
        // Crashed after the old folder moved away, the copy complete.
        fs::create_dir_all(&new).map_err(io)?;
        fs::write(new.join(COMPLETE), b"").map_err(io)?;
        fs::write(new.join("x"), b"new").map_err(io)?;
        fs::create_dir_all(&old).map_err(io)?;
        recover(&path)?;
        assert_eq!(fs::read(path.join("x")).map_err(io)?, b"new");
        assert!(!old.exists());
        // Crashed while copying: the old folder is still in place.
        fs::create_dir_all(&new).map_err(io)?;
        fs::write(new.join("x"), b"half").map_err(io)?;
        recover(&path)?;
        assert_eq!(fs::read(path.join("x")).map_err(io)?, b"new");
        assert!(!new.exists());
        Ok(())
    }
}
