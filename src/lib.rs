//! raqib (رقيب, "the watcher") watches Arabic news feeds for a topic and
//! emails the people who follow it: one alert per story, however many
//! outlets carry it and however each spells it.
//!
//! # Layout
//!
//! Data flows one way: schedule → fetch → parse → (article + extract) →
//! clean + normalise → dedup → classify → store + outbox → email.
//!
//! - [`config`]: raw TOML → validated [`config::Config`]; errors carry `FILE:LINE:COL`.
//! - [`diag`]: errors that point at a place in a file.
//! - [`text`]: PURE engine: normalisation, tokens, cleanup, extraction, fingerprints.
//! - [`watchlist`]: PURE: the watchlist TOML compiled into a matcher with explanations.
//! - [`fetch`]: reqwest client, conditional GET, charsets, size caps, per-host turns, redirects;
//!   the schedule (adaptive interval, feed hints, backoff).
//! - [`feed`]: feed-rs → entries with stable ids; `feed::lenient` repairs
//!   feeds of clear intent that feed-rs refuses; errors say what a body is instead.
//! - [`index`]: PURE: the in-memory anchor table over the stored sketches, and a copy of each
//!   sketch (copy candidates, judged without reading sled).
//! - [`store`]: sled (the only user), a file per entity: items and stories, sketches (the copy
//!   index on disk), outbox, feed state; the writes staged for one commit; a Bloom filter over
//!   the ids seen; the schema version and migrations.
//! - [`dedup`]: the copy decision over the store's candidates, and story assignment: a copy
//!   joins the first item's story.
//! - [`notify`]: email rendering (RTL HTML + text), outbox drain, SMTP (lettre's protocol over a
//!   `TCP_NODELAY` connection) or maildir (the only lettre user); `notify::webhook` posts stories
//!   to `[[webhooks]]` from the same outbox.
//! - [`daemon`]: the stages as tokio tasks joined by channels: scheduler → poll tasks (host
//!   turn, a slot, fetch, parse on the blocking pool) → bounded channel → the one writer →
//!   Notify → delivery; status, digests, maintenance; `once`, `run`, reload and shutdown.
//! - [`eval`]: `raqib eval` over labelled JSONL; `eval::feeds` over feed
//!   parsers' test suites.
//! - [`time`]: time arithmetic that saturates, server delays clamped, the one backoff function.
//! - [`replay`]: `raqib watchlist test`: stored items through the watchlist on disk.
//! - [`probe`]: `raqib try URL`: one fetch read as the daemon reads it, nothing stored.
//! - [`subscriptions`]: OPML export of the configured feeds, import as `[[feeds]]` tables.
//! - [`api`]: the running daemon's local API (unix socket `control.sock` in the storage folder,
//!   and `[http] listen`): health, Prometheus metrics, feeds, items, watchlist test, digest
//!   preview, dead letters; its client, through which the CLI works while the daemon holds sled;
//!   a task that folds the metrics' histogram samples every few seconds.
//!
//! `text`, `watchlist` and `index` never do I/O and never import the I/O modules.

#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod daemon;
pub mod dedup;
pub mod diag;
pub mod eval;
pub mod feed;
pub mod fetch;
pub mod index;
pub mod notify;
pub mod probe;
pub mod replay;
pub mod store;
pub mod subscriptions;
pub mod text;
pub mod time;
pub mod watchlist;
