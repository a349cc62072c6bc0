//! Politeness and scheduling against a real HTTP server on 127.0.0.1 that
//! records when each request arrives: per-host spacing, Retry-After and
//! Cache-Control, adaptive intervals, permanent redirects, the admin's
//! email when a feed breaks and recovers, shutdown while a request hangs,
//! and the time from an item appearing to its alert being accepted.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as AxPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use common::{parse_mail, start_smtp, SharedSmtp};

/// What the server answers at one path.
#[derive(Clone)]
enum Answer {
    Feed {
        body: String,
        headers: Vec<(String, String)>,
    },
    Status {
        code: u16,
        headers: Vec<(String, String)>,
    },
    Redirect {
        code: u16,
        to: String,
    },
    /// Holds the request without answering.
    Hang,
}

#[derive(Default)]
struct Server {
    answers: HashMap<String, Answer>,
    /// (path, when) of every request.
    log: Vec<(String, Instant)>,
}

type Shared = Arc<Mutex<Server>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Server> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

async fn answer(State(s): State<Shared>, AxPath(path): AxPath<String>) -> Response {
    let a = {
        let mut st = lock(&s);
        st.log.push((path.clone(), Instant::now()));
        st.answers.get(&path).cloned()
    };
    let with = |mut r: Response, headers: &[(String, String)]| {
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (
                header::HeaderName::from_bytes(k.as_bytes()),
                header::HeaderValue::from_str(v),
            ) {
                r.headers_mut().insert(k, v);
            }
        }
        r
    };
    match a {
        Some(Answer::Feed { body, headers }) => with(
            ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response(),
            &headers,
        ),
        Some(Answer::Status { code, headers }) => with(
            StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
            &headers,
        ),
        Some(Answer::Redirect { code, to }) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND),
            [(header::LOCATION, to)],
        )
            .into_response(),
        Some(Answer::Hang) => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(answers: HashMap<String, Answer>) -> (SocketAddr, Shared) {
    let state: Shared = Arc::new(Mutex::new(Server {
        answers,
        log: Vec::new(),
    }));
    let app = Router::new()
        .route("/{path}", get(answer))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, state)
}

/// An RSS feed of `items` (guid, title, minutes ago).
fn rss(items: &[(&str, &str, i64)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>",
    );
    let now = chrono::Utc::now();
    for (guid, title, ago) in items {
        let date = (now - chrono::Duration::minutes(*ago)).to_rfc2822();
        s.push_str(&format!(
            "<item><guid>{guid}</guid><link>https://x.example/{guid}</link><title>{title}</title>\
             <description>{title}</description><pubDate>{date}</pubDate></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn feed(body: String) -> Answer {
    Answer::Feed {
        body,
        headers: Vec::new(),
    }
}

const ON_TOPIC: &str = "لافروف وكيري يبحثان الهدنة في سوريا";

/// A config with `feeds` (paths on `http`), `extra` TOML appended, mail to
/// a maildir or to the SMTP server on `smtp`.
fn config(dir: &Path, http: SocketAddr, feeds: &[&str], extra: &str, smtp: Option<u16>) -> PathBuf {
    let mut cfg = String::from("[storage]\npath = \"db\"\n");
    cfg.push_str(extra);
    for f in feeds {
        cfg.push_str(&format!(
            "\n[[feeds]]\nurl = \"http://{http}/{f}\"\nname = \"{f}\"\n"
        ));
    }
    cfg.push_str("\n[email]\nto = [\"analyst@example.org\"]\nadmin = \"admin@example.org\"\n");
    match smtp {
        Some(port) => cfg.push_str(&format!(
            "[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n"
        )),
        None => cfg.push_str("[email.maildir]\npath = \"mail\"\n"),
    }
    let path = dir.join("raqib.toml");
    std::fs::write(&path, cfg).expect("config");
    path
}

async fn once(cfg: &Path) -> String {
    let (code, _, err) = common::raqib(cfg, &["once"]).await;
    assert!(code == 0 || code == 3, "exit {code}: {err}");
    err
}

/// `raqib feeds --json`, by feed name.
async fn feeds(cfg: &Path) -> HashMap<String, serde_json::Value> {
    let (code, out, err) = common::raqib(cfg, &["feeds", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).expect("json");
    list.into_iter()
        .map(|f| (f["name"].as_str().unwrap_or_default().to_string(), f))
        .collect()
}

/// Seconds from now to the feed's next poll.
fn next_in(f: &serde_json::Value) -> i64 {
    let next = f["next_poll"].as_str().expect("next_poll");
    let next = chrono::DateTime::parse_from_rfc3339(next).expect("rfc3339");
    (next.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
}

fn maildir(dir: &Path) -> Vec<common::Mail> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(dir.join("mail").join(sub)) {
            for e in rd.flatten() {
                out.push(parse_mail(&std::fs::read(e.path()).expect("read")));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_one_host_are_spaced() {
    let answers = (0..4)
        .map(|i| (format!("f{i}"), feed(rss(&[(&format!("g{i}"), "خبر", 5)]))))
        .collect();
    let (http, server) = serve(answers).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        http,
        &["f0", "f1", "f2", "f3"],
        "[poll]\nhost_interval = \"400ms\"\nconcurrency = 8\n",
        None,
    );
    once(&cfg).await;
    let log = lock(&server).log.clone();
    assert_eq!(log.len(), 4, "one request per feed");
    let mut times: Vec<Instant> = log.iter().map(|(_, t)| *t).collect();
    times.sort();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(390),
            "two requests to one host {gap:?} apart"
        );
    }
    // In the order they were configured.
    let order: Vec<&str> = log.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(order, ["f0", "f1", "f2", "f3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_and_cache_control_set_the_next_poll() {
    let mut answers = HashMap::new();
    answers.insert(
        "busy".to_string(),
        Answer::Status {
            code: 503,
            headers: vec![("retry-after".into(), "7200".into())],
        },
    );
    answers.insert(
        "cached".to_string(),
        Answer::Feed {
            body: rss(&[("c1", "خبر", 1), ("c2", "خبر آخر", 2), ("c3", "ثالث", 3)]),
            headers: vec![("cache-control".into(), "public, max-age=2400".into())],
        },
    );
    answers.insert(
        "ttl".to_string(),
        feed(
            rss(&[("t1", "خبر", 1), ("t2", "خبر آخر", 2)])
                .replace("<title>t</title>", "<title>t</title><ttl>50</ttl>"),
        ),
    );
    let (http, _) = serve(answers).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), http, &["busy", "cached", "ttl"], "", None);
    once(&cfg).await;
    let f = feeds(&cfg).await;
    let busy = next_in(&f["busy"]);
    assert!(
        (7100..=7300).contains(&busy),
        "Retry-After 7200: next poll in {busy} s"
    );
    assert_eq!(f["busy"]["interval_reason"], "retry-after");
    let cached = next_in(&f["cached"]);
    assert!(
        (2350..=2700).contains(&cached),
        "max-age 2400: next poll in {cached} s"
    );
    assert_eq!(f["cached"]["interval_reason"], "cache-control max-age");
    let ttl = next_in(&f["ttl"]);
    assert!(
        (2950..=3350).contains(&ttl),
        "ttl 50 min: next poll in {ttl} s"
    );

    // An interval set in the config is honoured as written.
    let cfg = config(
        dir.path(),
        http,
        &["cached"],
        "[poll]\ninterval = \"90s\"\n",
        None,
    );
    once(&cfg).await;
    let f = feeds(&cfg).await;
    let cached = next_in(&f["cached"]);
    assert!((85..=100).contains(&cached), "interval 90s: {cached} s");
    assert_eq!(f["cached"]["interval_reason"], "configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interval_follows_how_often_a_feed_publishes() {
    let busy: Vec<(String, &str, i64)> =
        (0..10).map(|i| (format!("b{i}"), "خبر", i * 12)).collect();
    let quiet: Vec<(String, &str, i64)> = (0..10)
        .map(|i| (format!("q{i}"), "خبر", i * 24 * 60))
        .collect();
    let as_ref = |v: &[(String, &str, i64)]| -> String {
        let items: Vec<(&str, &str, i64)> =
            v.iter().map(|(g, t, a)| (g.as_str(), *t, *a)).collect();
        rss(&items)
    };
    let answers = HashMap::from([
        ("busy".to_string(), feed(as_ref(&busy))),
        ("quiet".to_string(), feed(as_ref(&quiet))),
    ]);
    let (http, _) = serve(answers).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        http,
        &["busy", "quiet"],
        "[poll]\nmin_interval = \"2m\"\nmax_interval = \"2h\"\n",
        None,
    );
    once(&cfg).await;
    let f = feeds(&cfg).await;
    // Ten items 12 minutes apart: polled about every 5.4 minutes.
    let busy = next_in(&f["busy"]);
    assert!((300..=370).contains(&busy), "busy feed: {busy} s");
    assert_eq!(f["busy"]["interval_reason"], "adaptive");
    // One item a day: the upper bound.
    let quiet = next_in(&f["quiet"]);
    assert!((7150..=7950).contains(&quiet), "quiet feed: {quiet} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_redirect_is_recorded_used_and_shown() {
    let answers = HashMap::from([
        (
            "old".to_string(),
            Answer::Redirect {
                code: 301,
                to: "/new".into(),
            },
        ),
        ("new".to_string(), feed(rss(&[("n1", "خبر", 5)]))),
        (
            "temp".to_string(),
            Answer::Redirect {
                code: 302,
                to: "/new".into(),
            },
        ),
    ]);
    let (http, server) = serve(answers).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        http,
        &["old", "temp"],
        "[poll]\nhost_interval = \"0s\"\n",
        None,
    );
    once(&cfg).await;
    let f = feeds(&cfg).await;
    assert_eq!(f["old"]["moved_to"], format!("http://{http}/new"));
    assert!(f["temp"]["moved_to"].is_null(), "a 302 is not a move");
    let (code, text, _) = common::raqib(&cfg, &["feeds"]).await;
    assert_eq!(code, 0);
    assert!(
        text.contains("moved") && text.contains(&format!("http://{http}/new")),
        "{text}"
    );

    lock(&server).log.clear();
    once(&cfg).await;
    let paths: Vec<String> = lock(&server).log.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        paths.iter().filter(|p| *p == "old").count(),
        0,
        "the moved feed is polled at its new address: {paths:?}"
    );
    assert_eq!(
        paths.iter().filter(|p| *p == "temp").count(),
        1,
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_hears_once_when_a_feed_breaks_and_once_when_it_recovers() {
    let answers = HashMap::from([(
        "flaky".to_string(),
        Answer::Status {
            code: 500,
            headers: Vec::new(),
        },
    )]);
    let (http, server) = serve(answers).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        http,
        &["flaky"],
        "[alerts]\nbroken_feed_after = \"1s\"\n",
        None,
    );
    let admin_mails = |subject_has: &str| {
        maildir(dir.path())
            .into_iter()
            .filter(|m| m.to.contains("admin@example.org") && m.subject.contains(subject_has))
            .count()
    };
    once(&cfg).await;
    assert_eq!(admin_mails("معطّل"), 0, "failing, not yet for long");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    once(&cfg).await;
    once(&cfg).await;
    assert_eq!(
        admin_mails("معطّل"),
        1,
        "one email when broken, not one per poll"
    );
    let f = feeds(&cfg).await;
    assert_eq!(f["flaky"]["state"], "error");
    assert!(f["flaky"]["failing_since"].is_string());

    lock(&server)
        .answers
        .insert("flaky".into(), feed(rss(&[("f1", "خبر", 5)])));
    once(&cfg).await;
    once(&cfg).await;
    assert_eq!(admin_mails("عاد"), 1, "one email when it recovers");
    let mails = maildir(dir.path());
    let broken = mails
        .iter()
        .find(|m| m.subject.contains("معطّل"))
        .expect("broken");
    assert!(
        broken.text.contains(&format!("http://{http}/flaky")),
        "{}",
        broken.text
    );
    assert!(
        broken.text.contains("500"),
        "the error is in it: {}",
        broken.text
    );
    assert!(broken.html.contains("dir=\"rtl\""));
}

#[test]
fn run_stops_within_its_deadline_while_a_server_holds_a_request() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (http, server) = rt.block_on(serve(HashMap::from([("slow".to_string(), Answer::Hang)])));
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        http,
        &["slow"],
        "[poll]\ntimeout = \"60s\"\n",
        None,
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_raqib"))
        .args(["--config", cfg.to_str().expect("path"), "run"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let until = Instant::now() + Duration::from_secs(20);
    while lock(&server).log.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!lock(&server).log.is_empty(), "the request was made");
    let asked = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if asked.elapsed() > Duration::from_secs(25) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = asked.elapsed();
    let exit = exit.expect("raqib run did not stop within 25 s of SIGTERM");
    assert!(exit.success(), "{exit:?}");
    // systemd's TimeoutStopSec=30s would kill it after 30 s; the daemon
    // cancels the hanging request rather than wait for its 60 s timeout.
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_reaches_the_mail_server_within_interval_plus_window_plus_a_second() {
    let (http, server) = serve(HashMap::from([(
        "wire".to_string(),
        feed(rss(&[("w0", "خبر قديم", 60)])),
    )]))
    .await;
    let smtp: SharedSmtp = Arc::default();
    let port = start_smtp(smtp.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        http,
        &["wire"],
        "[poll]\ninterval = \"1s\"\n[alerts]\nwindow = \"1s\"\n",
        Some(port),
    );
    let watchlist = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchlist.toml");
    std::fs::copy(watchlist, dir.path().join("watchlist.toml")).expect("watchlist");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_raqib"))
        .args(["--config", cfg.to_str().expect("path"), "run"])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    // Running and polling.
    let until = Instant::now() + Duration::from_secs(20);
    while lock(&server).log.len() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(lock(&server).log.len() >= 2, "the daemon polls");
    let appeared = Instant::now();
    lock(&server).answers.insert(
        "wire".into(),
        feed(rss(&[("w1", ON_TOPIC, 0), ("w0", "خبر قديم", 60)])),
    );
    let mut accepted = None;
    while appeared.elapsed() < Duration::from_secs(15) {
        if !common::lock_smtp(&smtp).messages.is_empty() {
            accepted = Some(appeared.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill().await;
    let took = accepted.expect("the alert was never accepted");
    // interval 1 s (+10 % jitter) + window 1 s + 1 s.
    assert!(took <= Duration::from_millis(3100), "took {took:?}");
    let mails: Vec<common::Mail> = common::lock_smtp(&smtp)
        .messages
        .iter()
        .map(|m| parse_mail(m))
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains("لافروف"), "{}", mails[0].subject);
}
