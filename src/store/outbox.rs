//! Alerts on their way out: the outbox, sent marks, dead letters, the
//! digest queue, and the times the rate limit and the digests keep.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::{dec, enc, Store, StoreError};

/// A pending immediate alert: one per story per topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub story: String,
    pub topic: String,
    pub created: DateTime<Utc>,
    /// Not sent before this time (grouping window, retry backoff).
    pub due: DateTime<Utc>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// What the message is.
    #[serde(default)]
    pub kind: AlertKind,
    /// When a permanent refusal was first seen (for the dead letters).
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
}

/// What an outbox entry sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The immediate alert for `story` on `topic`.
    #[default]
    Story,
    /// The last alert of the hour before the topic's rate limit.
    StoryLastBeforeLimit,
    /// A digest of these (topic, story) pairs, for these topics.
    Digest {
        topics: Vec<String>,
        stories: Vec<Queued>,
        since: Option<DateTime<Utc>>,
    },
    /// A story to the webhook `hook` (its key), for these of its topics.
    Webhook { hook: String, topics: Vec<String> },
    /// To the admin: the feed at `url` has been failing since `since`, or
    /// (`recovered`) works again.
    FeedNotice {
        url: String,
        name: String,
        since: DateTime<Utc>,
        error: Option<String>,
        recovered: bool,
    },
}

/// A story waiting for the next digest of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    pub topic: String,
    pub story: String,
    pub created: DateTime<Utc>,
    /// True when the rate limit kept it from an immediate alert.
    pub folded: bool,
}

impl Alert {
    pub fn id_for(story: &str, topic: &str) -> String {
        format!("{story}/{topic}")
    }

    /// The id of `story`'s entry for the webhook `hook`: one per story per
    /// webhook, and plain ASCII (it is the `Idempotency-Key` header,
    /// and an entry id may be any text).
    pub fn webhook_id(story: &str, hook: &str) -> String {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(story.as_bytes());
        let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("webhook-{hook}-{hex}")
    }

    /// The admin's notice that the feed at `url`, failing since `since`,
    /// is broken (or has recovered): one of each per failure. Made at
    /// `created`, sent at `due` with the other notices waiting then.
    pub fn feed_notice(
        url: &str,
        name: &str,
        since: DateTime<Utc>,
        error: Option<String>,
        recovered: bool,
        created: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> Alert {
        let what = if recovered { "recovered" } else { "broken" };
        Alert {
            id: format!("feed-{what}/{}/{url}", since.timestamp()),
            story: String::new(),
            topic: String::new(),
            created,
            due,
            attempts: 0,
            last_error: None,
            kind: AlertKind::FeedNotice {
                url: url.to_string(),
                name: name.to_string(),
                since,
                error,
                recovered,
            },
            failing_since: None,
        }
    }
}

pub(super) fn queue_key(topic: &str, story: &str) -> Vec<u8> {
    let mut k = topic.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(story.as_bytes());
    k
}

impl Store {
    /// Every alert in the outbox.
    pub fn outbox(&self) -> Result<Vec<Alert>, StoreError> {
        self.outbox.iter().map(|r| dec("outbox", &r?.1)).collect()
    }

    /// Records that the mail server accepted `alert`: removes it from the
    /// outbox and remembers it as sent, atomically.
    pub fn mark_sent(&self, alert: &Alert, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.take_from_outbox(alert, &self.sent, &enc("sent", &at)?)
    }

    /// [`Store::mark_sent`] for the alerts one message carried, in one
    /// transaction: they are all sent, or none is.
    pub fn mark_all_sent<'a>(
        &self,
        alerts: impl IntoIterator<Item = &'a Alert>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let when = enc("sent", &at)?;
        let ids: Vec<&str> = alerts.into_iter().map(|a| a.id.as_str()).collect();
        (&self.outbox, &self.sent).transaction(|(outbox, sent)| {
            for id in &ids {
                outbox.remove(id.as_bytes())?;
                sent.insert(id.as_bytes(), when.as_slice())?;
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Removes `alert` from the outbox and writes `value` under its id in
    /// `to`, in one transaction.
    fn take_from_outbox(
        &self,
        alert: &Alert,
        to: &sled::Tree,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let id = alert.id.as_bytes();
        (&self.outbox, to).transaction(|(outbox, to)| {
            outbox.remove(id)?;
            to.insert(id, value)?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Stores a changed alert (after a failed attempt).
    pub fn update_alert(&self, alert: &Alert) -> Result<(), StoreError> {
        // Only while it is still pending: a concurrent success wins.
        let id = alert.id.as_bytes();
        let v = enc("outbox", alert)?;
        let _ = self
            .outbox
            .fetch_and_update(id, |old| old.map(|_| v.clone()))?;
        Ok(())
    }

    /// Stories waiting for the digest of `topic`.
    pub fn queued(&self, topic: &str) -> Result<Vec<Queued>, StoreError> {
        let mut prefix = topic.as_bytes().to_vec();
        prefix.push(0);
        self.digest_queue
            .scan_prefix(prefix)
            .map(|r| dec("digest_queue", &r?.1))
            .collect()
    }

    /// Immediate alerts created for `topic` since `since` (sent or pending).
    pub fn alerts_since(&self, topic: &str, since: DateTime<Utc>) -> Result<usize, StoreError> {
        let key = format!("rate/{topic}");
        let times: Vec<DateTime<Utc>> = match self.meta.get(key)? {
            Some(b) => dec("meta", &b)?,
            None => Vec::new(),
        };
        Ok(times.iter().filter(|t| **t >= since).count())
    }

    /// Records an immediate alert for the rate limit (keeps the last hour).
    pub fn note_alert(&self, topic: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let key = format!("rate/{topic}");
        let mut times: Vec<DateTime<Utc>> = match self.meta.get(&key)? {
            Some(b) => dec("meta", &b)?,
            None => Vec::new(),
        };
        times.retain(|t| *t > at - chrono::Duration::hours(1));
        times.push(at);
        self.meta.insert(key, enc("meta", &times)?)?;
        Ok(())
    }

    /// When the digest `key` was last made.
    pub fn digest_last(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.meta
            .get(format!("digest/{key}"))?
            .map(|b| dec("meta", &b))
            .transpose()
    }

    /// Makes a digest in one transaction: its outbox entry (if any), the
    /// queue entries it took, and the time it was made.
    pub fn commit_digest(
        &self,
        key: &str,
        at: DateTime<Utc>,
        digest: Option<&Alert>,
        taken: &[Queued],
    ) -> Result<(), StoreError> {
        let when = enc("meta", &at)?;
        let entry = digest
            .map(|d| Ok::<_, StoreError>((d.id.clone(), enc("outbox", d)?)))
            .transpose()?;
        let keys: Vec<Vec<u8>> = taken
            .iter()
            .map(|q| queue_key(&q.topic, &q.story))
            .collect();
        let meta_key = format!("digest/{key}");
        (&self.outbox, &self.digest_queue, &self.meta).transaction(|(outbox, queue, meta)| {
            if let Some((id, bytes)) = &entry {
                outbox.insert(id.as_bytes(), bytes.as_slice())?;
            }
            for k in &keys {
                queue.remove(k.as_slice())?;
            }
            meta.insert(meta_key.as_bytes(), when.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Takes a story alert out of the outbox unsent (it counts as sent, so it
    /// is never made again) and marks its story in the digest queue as
    /// folded, in one transaction.
    pub fn fold_alert(&self, alert: &Alert, at: DateTime<Utc>) -> Result<(), StoreError> {
        let when = enc("sent", &at)?;
        let qk = queue_key(&alert.topic, &alert.story);
        let queued = Queued {
            topic: alert.topic.clone(),
            story: alert.story.clone(),
            created: alert.created,
            folded: true,
        };
        let q = enc("digest_queue", &queued)?;
        let id = alert.id.as_bytes();
        (&self.outbox, &self.sent, &self.digest_queue).transaction(|(outbox, sent, queue)| {
            outbox.remove(id)?;
            sent.insert(id, when.as_slice())?;
            queue.insert(qk.as_slice(), q.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(())
    }

    /// Moves an alert the server keeps refusing to the dead letters.
    pub fn bury(&self, alert: &Alert) -> Result<(), StoreError> {
        self.take_from_outbox(alert, &self.dead, &enc("dead", alert)?)
    }

    /// The dead letters.
    pub fn dead_letters(&self) -> Result<Vec<Alert>, StoreError> {
        self.dead.iter().map(|r| dec("dead", &r?.1)).collect()
    }

    /// Puts the dead letter `id` back in the outbox, due at `now` with its
    /// attempts forgotten, in one transaction. `None` when there is no
    /// such dead letter.
    pub fn retry_dead_letter(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Alert>, StoreError> {
        let Some(v) = self.dead.get(id.as_bytes())? else {
            return Ok(None);
        };
        let mut alert: Alert = dec("dead", &v)?;
        alert.due = now;
        alert.attempts = 0;
        alert.failing_since = None;
        let value = enc("outbox", &alert)?;
        (&self.dead, &self.outbox).transaction(|(dead, outbox)| {
            dead.remove(id.as_bytes())?;
            outbox.insert(id.as_bytes(), value.as_slice())?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?;
        Ok(Some(alert))
    }

    /// True when the alert is pending or was sent.
    pub fn has_alert(&self, alert_id: &str) -> Result<bool, StoreError> {
        Ok(self.staged().has_alert(alert_id)
            || self.outbox.contains_key(alert_id)?
            || self.sent.contains_key(alert_id)?)
    }

    /// Forgets what the outbox keeps of items seen before `before`.
    pub(super) fn prune_outbox(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        // Sent-alert records older than the window go too: their stories are gone.
        for entry in self.sent.iter() {
            let (k, v) = entry?;
            let at: DateTime<Utc> = dec("sent", &v)?;
            if at < before {
                self.sent.remove(k)?;
            }
        }
        // So do digest entries no digest took (none is configured, or it
        // never came), and dead letters: their stories are gone too.
        for entry in self.digest_queue.iter() {
            let (k, v) = entry?;
            if dec::<Queued>("digest_queue", &v)?.created < before {
                self.digest_queue.remove(k)?;
            }
        }
        for entry in self.dead.iter() {
            let (k, v) = entry?;
            if dec::<Alert>("dead", &v)?.created < before {
                self.dead.remove(k)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(story: &str, created: DateTime<Utc>) -> Alert {
        Alert {
            id: Alert::id_for(story, "t"),
            story: story.into(),
            topic: "t".into(),
            created,
            due: created,
            attempts: 0,
            last_error: None,
            kind: AlertKind::Story,
            failing_since: None,
        }
    }

    #[test]
    fn prune_bounds_the_digest_queue_and_the_dead_letters() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Sled(e.into()))?;
        let s = Store::open(dir.path())?;
        let old = Utc::now() - chrono::Duration::days(40);
        let new = Utc::now();
        for (story, at) in [("old", old), ("new", new)] {
            let a = alert(story, at);
            // Folded into a digest that never comes (no [digest] table)…
            s.fold_alert(&a, at)?;
            // … and refused for good.
            s.outbox.insert(a.id.as_bytes(), enc("outbox", &a)?)?;
            s.bury(&a)?;
        }
        assert_eq!((s.queued("t")?.len(), s.dead_letters()?.len()), (2, 2));
        s.prune(Utc::now() - chrono::Duration::days(30))?;
        let left: Vec<String> = s.queued("t")?.into_iter().map(|q| q.story).collect();
        assert_eq!(left, vec!["new".to_string()]);
        let dead: Vec<String> = s.dead_letters()?.into_iter().map(|a| a.story).collect();
        assert_eq!(dead, vec!["new".to_string()]);
        Ok(())
    }
}
