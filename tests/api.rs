//! The running daemon answers: `/healthz`, `/metrics` (read with a
//! Prometheus text parser), `/api/feeds`; the CLI's `items`, `feeds`,
//! `watchlist test --watchlist`, `digest preview` and `dead-letters` work
//! while `run` holds the database; systemd hears READY, STATUS and
//! WATCHDOG on its notify socket, and journal lines carry priorities.

mod common;

use common::wait_for;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A plain HTTP/1.0 GET: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

const FEED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
<item><guid>a</guid><link>https://x.example/a</link><title>لافروف وكيري يبحثان الهدنة في سوريا</title><description>اتصال هاتفي بين موسكو وواشنطن حول حلب.</description></item>\
<item><guid>b</guid><link>https://x.example/b</link><title>البنتاغون يتهم موسكو بخرق قواعد الاشتباك في سوريا</title><description>مقاتلات روسية قرب قاعدة التنف.</description></item>\
</channel></rss>";

fn raqib(cfg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raqib"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .output()
        .expect("run raqib")
}

/// Writes `feed` as the one feed (a file), the shipped watchlist and a
/// config (`head`, then the storage, the feed, a maildir and an HTTP
/// port) into `d`; returns the port and the config's path.
fn setup(d: &Path, feed: &str, head: &str) -> (u16, std::path::PathBuf) {
    std::fs::write(d.join("feed.xml"), feed).expect("feed");
    std::fs::copy(repo("config/watchlist.toml"), d.join("watchlist.toml")).expect("watchlist");
    let port = free_port();
    let cfg = d.join("raqib.toml");
    std::fs::write(
        &cfg,
        format!(
            "{head}[storage]\npath = \"db\"\n[poll]\ninterval = \"1h\"\n\
             [[feeds]]\nurl = \"file:feed.xml\"\nname = \"منفذ\"\n\
             [email.maildir]\npath = \"mail\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    )
    .expect("config");
    (port, cfg)
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_running_daemon_answers_the_api_the_cli_and_systemd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (port, cfg) = setup(
        d,
        FEED,
        "log_level = \"debug\"\n[alerts]\nwindow = \"1s\"\nmax_age = \"30years\"\n",
    );
    let notify = UnixDatagram::bind(d.join("notify.sock")).expect("notify socket");
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // The journal's stream is stderr, redirected to a file here.
    let log = std::fs::File::create(d.join("log")).expect("log");
    let journal = {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(d.join("log")).expect("log meta");
        format!("{}:{}", m.dev(), m.ino())
    };
    let daemon = Daemon(
        // systemd names the watched process: `exec` keeps the shell's pid.
        Command::new("sh")
            .args([
                "-c",
                "WATCHDOG_PID=$$ exec \"$0\" --config \"$1\" run",
                env!("CARGO_BIN_EXE_raqib"),
                cfg.to_str().expect("path"),
            ])
            .env("NOTIFY_SOCKET", d.join("notify.sock"))
            .env("WATCHDOG_USEC", "1000000")
            .env("JOURNAL_STREAM", journal)
            .env_remove("RAQIB_LOG")
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn"),
    );

    wait_for("healthz", 20, || {
        get(port, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    wait_for("two alerts", 20, || {
        std::fs::read_dir(d.join("mail/new")).is_ok_and(|r| r.count() == 2)
    });

    // Metrics, as Prometheus reads them.
    let (status, text) = get(port, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let value = |name: &str, label: Option<(&str, &str)>| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .and_then(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => Some(v),
                _ => None,
            })
    };
    assert_eq!(value("raqib_items_total", None), Some(2.0), "{text}");
    assert_eq!(value("raqib_copies_total", None), Some(0.0), "{text}");
    assert_eq!(
        value("raqib_matches_total", Some(("topic", "syria-us-russia"))),
        Some(2.0),
        "{text}"
    );
    assert_eq!(value("raqib_alerts_sent_total", None), Some(2.0), "{text}");
    assert_eq!(
        value("raqib_alerts_failed_total", None),
        Some(0.0),
        "{text}"
    );
    assert_eq!(value("raqib_alerts_pending", None), Some(0.0), "{text}");
    assert_eq!(
        value("raqib_feeds", Some(("state", "ok"))),
        Some(1.0),
        "{text}"
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "raqib_poll_duration_seconds"
                && matches!(s.value, prometheus_parse::Value::Histogram(_))),
        "{text}"
    );

    let (status, body) = get(port, "/api/feeds").expect("feeds");
    assert_eq!(status, 200);
    let feeds: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(feeds[0]["name"], "منفذ");
    assert_eq!(feeds[0]["items"], 2);

    // The CLI while `run` holds the database.
    let out = raqib(&cfg, &["items", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(items.as_array().map(Vec::len), Some(2));
    let out = raqib(&cfg, &["feeds"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("FEED") && table.contains("منفذ"),
        "{table}"
    );
    // An edited copy, tested before it replaces the live watchlist.
    let edited = d.join("edited.toml");
    let test_edited = [
        "watchlist",
        "test",
        "--watchlist",
        edited.to_str().expect("path"),
    ];
    std::fs::write(
        &edited,
        "[[topic]]\nid = \"pentagon\"\nname = \"البنتاغون\"\nany = [\"البنتاغون\"]\n",
    )
    .expect("edited");
    let out = raqib(&cfg, &test_edited);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("topic pentagon: 2 items replayed; matched then 0, now 1"),
        "{report}"
    );
    std::fs::write(&edited, "[[topic]]\nid = \"x\"\nany = 3\n").expect("bad edit");
    let out = raqib(&cfg, &test_edited);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("edited.toml:3:"),
        "FILE:LINE:COL: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = raqib(&cfg, &["digest", "preview"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ملخص رقيب"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = raqib(&cfg, &["dead-letters"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 dead letters"));
    let out = raqib(&cfg, &["dead-letters", "retry", "nothing-here"]);
    assert!(!out.status.success());

    // systemd's notify socket: ready, a status line, the watchdog.
    let mut heard = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline
        && !(heard.contains("READY=1")
            && heard.contains("STATUS=1 feeds ok, 0 failing; 0 alerts pending")
            && heard.contains("WATCHDOG=1"))
    {
        if let Ok(n) = notify.recv(&mut buf) {
            heard.push_str(&String::from_utf8_lossy(&buf[..n]));
            heard.push('\n');
        }
    }
    assert!(heard.contains("READY=1"), "{heard}");
    assert!(
        heard.contains("STATUS=1 feeds ok, 0 failing; 0 alerts pending"),
        "{heard}"
    );
    assert!(heard.contains("WATCHDOG=1"), "{heard}");

    // Journal lines: a priority, no timestamp; log_level = "debug" applies.
    let log = std::fs::read_to_string(d.join("log")).expect("log");
    assert!(log.lines().any(|l| l.starts_with("<6>")), "{log}");
    assert!(
        log.lines().any(|l| l.starts_with("<7>")),
        "debug lines: {log}"
    );
    assert!(
        log.lines()
            .all(|l| l.starts_with('<') && !l.contains("Z  INFO")),
        "{log}"
    );
    drop(daemon);
}

/// A listing larger than the chunks the daemon sends it in arrives whole,
/// newest first, from the daemon and from the database alone.
#[test]
fn a_long_item_listing_arrives_whole_from_the_daemon_and_the_store() {
    const N: usize = 300;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let items: String = (0..N)
        .map(|i| {
            format!(
                "<item><guid>g{i}</guid><link>https://x.example/{i}</link>\
                 <title>خبر رقم {i} عن الطقس والأسواق والرياضة في المدن العربية اليوم</title>\
                 <description>نص الخبر {i}.</description></item>"
            )
        })
        .collect();
    let feed = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
    let (port, cfg) = setup(d, &feed, "");
    let mut daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_raqib"))
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    wait_for("every item stored", 30, || {
        get(port, "/api/feeds").is_some_and(|(_, body)| body.contains(&format!("\"items\":{N}")))
    });
    let listed = |json: &str| -> Vec<serde_json::Value> {
        serde_json::from_str::<Vec<serde_json::Value>>(json).expect("a whole JSON array")
    };
    let (status, body) = get(port, "/api/items").expect("items");
    assert_eq!(status, 200);
    assert!(
        body.len() > 64 * 1024,
        "more than one chunk: {}",
        body.len()
    );
    let rows = listed(&body);
    assert_eq!(rows.len(), N);
    let seen: Vec<&str> = rows.iter().filter_map(|r| r["seen"].as_str()).collect();
    assert_eq!(seen.len(), N);
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first");
    // One object a line, the same rows in the same order (what the CLI
    // reads, printing each as it comes).
    let (status, lines) = get(port, "/api/items?lines=true").expect("items as lines");
    assert_eq!(status, 200);
    let by_line: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object a line"))
        .collect();
    assert_eq!(by_line, rows);
    let out = raqib(&cfg, &["items", "--json"]);
    assert!(out.status.success());
    assert_eq!(listed(&String::from_utf8_lossy(&out.stdout)), rows);
    let text_by_daemon = raqib(&cfg, &["items"]);
    assert!(text_by_daemon.status.success());

    // The same from the database, once no daemon holds it.
    let _ = daemon.0.kill();
    let _ = daemon.0.wait();
    let out = wait_until_unlocked(|| raqib(&cfg, &["items", "--json"]));
    assert_eq!(listed(&String::from_utf8_lossy(&out.stdout)).len(), N);
    let text = raqib(&cfg, &["items"]);
    assert!(text.status.success());
    assert_eq!(text.stdout, text_by_daemon.stdout);
    assert_eq!(
        String::from_utf8_lossy(&text.stderr).trim(),
        format!("{N} items")
    );
    // None of them is on the watchlist's topic.
    let none = ["items", "--topic", "syria-us-russia"];
    let out = raqib(&cfg, &none);
    assert!(out.status.success() && out.stdout.is_empty());
    let out = raqib(&cfg, &[&none[..], &["--json"]].concat());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

/// Runs `cmd` until it stops failing for a database lock (a killed
/// daemon's lock goes with its process, a moment later).
fn wait_until_unlocked(cmd: impl Fn() -> Output) -> Output {
    let start = Instant::now();
    loop {
        let out = cmd();
        if out.status.success() || start.elapsed() > Duration::from_secs(10) {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
