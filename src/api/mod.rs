//! The running daemon's local API: what the CLI asks while the daemon
//! holds the database (sled admits one process), and what monitoring
//! scrapes.
//!
//! Served on a unix socket in the storage folder (`control.sock`, owner
//! only), always, and on `[http] listen` when set (loopback unless
//! `allow_remote`). No authentication: the socket's permissions and the
//! loopback address are the boundary.
//!
//! - `GET /healthz`: 200 while the store answers, else 503.
//! - `GET /metrics`: Prometheus text ([`metrics`]).
//! - `GET /api/feeds`: the `feeds --json` array.
//! - `GET /api/items?since=24h&topic=ID`: stored items, newest first, as
//!   one JSON array; with `lines=true`, one JSON object a line (what the
//!   CLI asks for: it prints each as it comes).
//! - `POST /api/watchlist/test?since=&topic=&name=`: the body (a watchlist
//!   file) replayed over the stored items; the report as text.
//! - `GET /api/digest/preview?topic=ID`: the next digest as it would go out.
//! - `GET /api/dead-letters`, `POST /api/dead-letters/retry?id=ID`.
//!
//! [`client`] is the CLI's side. [`queries`] holds what both the API and
//! the CLI (on a database no daemon holds) answer with.

pub mod client;
pub mod metrics;
pub mod queries;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::daemon::Engine;

/// The socket's file name in the storage folder.
pub const SOCKET: &str = "control.sock";

/// Where the daemon using `storage` listens.
pub fn socket_path(storage: &Path) -> PathBuf {
    storage.join(SOCKET)
}

/// A request's answer when something failed: the message, as text.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn bad_request(e: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::BAD_REQUEST, e.to_string())
}

/// Runs `f` on the blocking pool (sled reads block).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

#[derive(Debug, Default, Deserialize)]
pub struct ItemsQuery {
    /// A duration ("24h", "7d").
    pub since: Option<String>,
    pub topic: Option<String>,
    /// One object a line instead of an array.
    #[serde(default)]
    pub lines: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct TestQuery {
    pub since: Option<String>,
    pub topic: Option<String>,
    /// The file the watchlist was read from (for error messages).
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TopicQuery {
    pub topic: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct IdQuery {
    pub id: String,
}

fn since(s: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, Failure> {
    s.map(|s| {
        humantime::parse_duration(s.trim())
            .map(|d| crate::time::before(chrono::Utc::now(), d))
            .map_err(|e| bad_request(format!("since={s:?}: {e}")))
    })
    .transpose()
}

/// The API's routes over `engine`.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/api/feeds", get(feeds))
        .route("/api/items", get(items))
        .route("/api/watchlist/test", post(watchlist_test))
        .route("/api/digest/preview", get(digest_preview))
        .route("/api/dead-letters", get(dead_letters))
        .route("/api/dead-letters/retry", post(retry_dead_letter))
        .with_state(engine)
}

async fn healthz(State(engine): State<Arc<Engine>>) -> Response {
    let answers = blocking(move || engine.store.feed_state("").map_err(internal)).await;
    match answers {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(Failure(_, e)) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")).into_response()
        }
    }
}

async fn metrics_text(State(engine): State<Arc<Engine>>) -> Result<Response, Failure> {
    let text = blocking(move || metrics::render(&engine).map_err(internal)).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn feeds(State(engine): State<Arc<Engine>>) -> Result<Response, Failure> {
    let list = blocking(move || {
        crate::daemon::feed_statuses(&engine.config, &engine.store).map_err(internal)
    })
    .await?;
    Ok(Json(list).into_response())
}

async fn items(
    State(engine): State<Arc<Engine>>,
    Query(q): Query<ItemsQuery>,
) -> Result<Response, Failure> {
    let after = since(q.since.as_deref())?;
    // The JSON array goes out in chunks as the items are read, a few at a
    // time in flight: listing months of items holds none of them whole.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, String>>(2);
    let lines = q.lines;
    tokio::task::spawn_blocking(move || {
        let mut chunk = if lines { Vec::new() } else { b"[".to_vec() };
        let mut first = true;
        let listed = queries::each_item(&engine.store, after, q.topic.as_deref(), |row| {
            if !first && !lines {
                chunk.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut chunk, &row)?;
            if lines {
                // serde_json escapes every newline inside a string.
                chunk.push(b'\n');
            }
            if chunk.len() >= ITEMS_CHUNK {
                // A client that went away ends the listing.
                tx.blocking_send(Ok(std::mem::take(&mut chunk)))
                    .map_err(|_| "the client went away")?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        let last = listed
            .map(|()| {
                if !lines {
                    chunk.push(b']');
                }
                chunk
            })
            .map_err(|e| e.to_string());
        if let Err(e) = &last {
            warn!(error = %e, "listing items failed");
        }
        let _ = tx.blocking_send(last);
    });
    // An error before the first chunk is the answer's status; one after it
    // breaks the connection, so that no client takes a cut list for whole.
    let first = match rx.recv().await {
        Some(Ok(chunk)) => chunk,
        Some(Err(e)) => return Err(internal(e)),
        None => return Err(internal("the listing ended abnormally")),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let next = rx.recv().await?;
        Some((next.map_err(std::io::Error::other), rx))
    });
    let body = futures_util::stream::once(async move { Ok(first) }).chain(rest);
    let kind = if lines {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    Ok((
        [(header::CONTENT_TYPE, kind)],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// How much of an item listing is sent at a time.
const ITEMS_CHUNK: usize = 64 * 1024;

async fn watchlist_test(
    State(engine): State<Arc<Engine>>,
    Query(q): Query<TestQuery>,
    body: String,
) -> Result<Response, Failure> {
    let after = since(q.since.as_deref())?;
    let name = q.name.unwrap_or_else(|| "watchlist".into());
    let report = blocking(move || {
        let wl = crate::watchlist::Watchlist::parse(Path::new(&name), &body)
            .map_err(|e| bad_request(e.to_string()))?;
        let hidden = indicatif::ProgressBar::hidden();
        queries::watchlist_test(&engine.store, &wl, after, q.topic.as_deref(), &hidden).map_err(
            |e| match e {
                queries::QueryError::NoTopic(_) => bad_request(e),
                _ => internal(e),
            },
        )
    })
    .await?;
    Ok(report.into_response())
}

async fn digest_preview(
    State(engine): State<Arc<Engine>>,
    Query(q): Query<TopicQuery>,
) -> Result<Response, Failure> {
    let r = blocking(move || {
        let wl = engine.watchlist();
        queries::digest_preview(&engine.config, &engine.store, &wl, q.topic.as_deref()).map_err(
            |e| match e {
                queries::QueryError::NoTopic(_) => bad_request(e),
                _ => internal(e),
            },
        )
    })
    .await?;
    Ok(Json(r).into_response())
}

async fn dead_letters(State(engine): State<Arc<Engine>>) -> Result<Response, Failure> {
    let list = blocking(move || engine.store.dead_letters().map_err(internal)).await?;
    Ok(Json(list).into_response())
}

async fn retry_dead_letter(
    State(engine): State<Arc<Engine>>,
    Query(q): Query<IdQuery>,
) -> Result<Response, Failure> {
    let e = engine.clone();
    let found = blocking(move || {
        e.store
            .retry_dead_letter(&q.id, chrono::Utc::now())
            .map_err(internal)
    })
    .await?;
    match found {
        Some(a) => {
            engine.outbox_changed();
            Ok(Json(a).into_response())
        }
        None => Err(Failure(StatusCode::NOT_FOUND, "no such dead letter".into())),
    }
}

/// Serves the API on the socket (and `[http] listen`) until `stop`.
/// A listener that cannot start is logged and left out: the daemon runs
/// without it.
pub async fn serve(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let app = router(engine.clone());
    let mut servers = tokio::task::JoinSet::new();
    let path = socket_path(&engine.config.storage);
    // This process holds the database: a socket left there is a dead
    // daemon's.
    let _ = std::fs::remove_file(&path);
    match tokio::net::UnixListener::bind(&path) {
        Ok(listener) => {
            use std::os::unix::fs::PermissionsExt;
            if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            {
                warn!(path = %path.display(), error = %e, "could not make the control socket private");
            }
            let (app, mut stop) = (app.clone(), stop.clone());
            servers.spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
            });
        }
        Err(e) => {
            warn!(path = %path.display(), error = %e, "no control socket: commands cannot reach this daemon")
        }
    }
    if let Some(addr) = engine.config.http {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                info!(%addr, "HTTP API listening");
                let mut stop = stop.clone();
                servers.spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|s| *s).await;
                        })
                        .await;
                });
            }
            Err(e) => warn!(%addr, error = %e, "the HTTP API could not listen"),
        }
    }
    while servers.join_next().await.is_some() {}
    let _ = std::fs::remove_file(&path);
}
