//! One test per defect found by running raqib as users do, named after it:
//! the real binary against real servers on 127.0.0.1, sled in a temp dir.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// An RSS feed of `(guid, title, description, link)` items.
fn rss(items: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>\n",
    );
    for (guid, title, desc, link) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
             <description><![CDATA[{desc}]]></description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s.into_bytes()
}

fn served(body: Vec<u8>) -> Served {
    Served {
        body,
        content_type: "application/rss+xml".into(),
    }
}

/// A story the default watchlist alerts on.
const SYRIA: (&str, &str) = (
    "لافروف وكيري يبحثان في جنيف وقف إطلاق النار في سوريا",
    "<p>بحث وزير الخارجية الروسي سيرغي لافروف ونظيره الأمريكي جون كيري في جنيف خطة لوقف الأعمال القتالية في سوريا.</p>",
);

/// Another one, unrelated to the first.
const SYRIA_2: (&str, &str) = (
    "موسكو تتهم واشنطن بخرق قواعد تفادي الاشتباك فوق سوريا",
    "<p>اتهمت وزارة الدفاع الروسية الولايات المتحدة بخرق مذكرة تفادي الحوادث في أجواء سوريا قرب قاعدة التنف.</p>",
);

/// `write_config`'s file with `extra` lines added under `[storage]` and
/// `feed_extra` under every `[[feeds]]`.
fn config_with(
    dir: &Path,
    http: std::net::SocketAddr,
    feeds: &[(&str, &str)],
    smtp: Option<u16>,
    storage_extra: &str,
    feed_extra: &str,
) -> std::path::PathBuf {
    let cfg = write_config(dir, http, feeds, smtp);
    let text = std::fs::read_to_string(&cfg)
        .expect("read config")
        .replace("[storage]\n", &format!("[storage]\n{storage_extra}"))
        .replace("name = ", &format!("{feed_extra}name = "));
    std::fs::write(&cfg, text).expect("write config");
    cfg
}

#[test]
fn a_database_of_the_previous_release_is_migrated() -> Result<(), raqib::store::StoreError> {
    use raqib::store::{Store, SCHEMA};
    // Written by the release before schema versions: seven items, and sketch
    // slots two million apart (sled's generate_id after a reopen).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/store/schema-1");
    let dir = tempfile::tempdir().expect("tempdir");
    for f in std::fs::read_dir(&fixture).expect("fixture") {
        let f = f.expect("entry");
        std::fs::copy(f.path(), dir.path().join(f.file_name())).expect("copy");
    }
    let store = Store::open(dir.path())?;
    assert_eq!(store.schema()?, SCHEMA);
    let items: Vec<_> = store.items().collect::<Result<_, _>>()?;
    assert_eq!(items.len(), 7);
    for item in &items {
        assert!(store.has_item(&item.id)?);
        // Each is still found as the story of its own text.
        let fp = raqib::text::fingerprint::Fingerprint::from_clean(&item.title, &item.text);
        assert_eq!(
            raqib::dedup::find_copy(&store, &fp)?,
            Some(item.story.clone()),
            "{}",
            item.title
        );
    }
    // The index holds the seven sketches in a few KiB: slots were made dense.
    let (memory, _) = store.index_size()?;
    assert!(memory < 64 * 1024, "{memory} bytes for seven sketches");
    drop(store);
    // Opening again is a no-op; the version stays.
    let store = Store::open(dir.path())?;
    assert_eq!(store.schema()?, SCHEMA);
    assert_eq!(store.items().count(), 7);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_pruning_does_not_realert_entries_still_in_the_feed() {
    let one = |extra: &[(&str, &str, &str, &str)]| {
        let mut items = vec![("g1", SYRIA.0, SYRIA.1, "https://wire.example/1")];
        items.extend_from_slice(extra);
        served(rss(&items))
    };
    let (http, state) = start_http(HashMap::from([("f".to_string(), one(&[]))])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config_with(
        dir.path(),
        http,
        &[("f", "منفذ")],
        None,
        "retention = \"1s\"\n",
        "",
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(maildir_mails(dir.path()).len(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The feed changes (a new item that matches nothing), so it is parsed
    // again: the first entry, pruned from the store, is still in it.
    state.lock().expect("lock").feeds.insert(
        "f".into(),
        one(&[(
            "g2",
            "طقس معتدل",
            "<p>طقس معتدل غدا</p>",
            "https://wire.example/2",
        )]),
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("forgot items past the retention window"),
        "{err}"
    );
    assert_eq!(
        maildir_mails(dir.path()).len(),
        1,
        "the old story came again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_item_html_neither_crashes_nor_stalls_the_daemon() {
    // 20,000 nested <div> overflowed the stack; 200,000 took minutes.
    let deep = |n: usize| format!("{}نص{}", "<div>".repeat(n), "</div>".repeat(n));
    let (d1, d2) = (deep(20_000), deep(200_000));
    let feeds = HashMap::from([
        (
            "deep".to_string(),
            served(rss(&[
                ("d1", "عميق", &d1, "https://x.example/1"),
                ("d2", "أعمق", &d2, "https://x.example/2"),
            ])),
        ),
        (
            "f".to_string(),
            served(rss(&[("g1", SYRIA.0, SYRIA.1, "https://wire.example/1")])),
        ),
    ]);
    let (http, _) = start_http(feeds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("deep", "عميق"), ("f", "منفذ")], None);
    // A bound for the test itself, far above what the run takes.
    let run = tokio::time::timeout(Duration::from_secs(300), raqib(&cfg, &["once"])).await;
    let (code, _, err) = run.expect("once ended");
    assert_eq!(code, 0, "{err}");
    assert_eq!(maildir_mails(dir.path()).len(), 1);
    let (_, out, _) = raqib(&cfg, &["feeds", "--json"]).await;
    assert!(out.contains("\"items\":2"), "both deep items stored: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_retry_after_panics_nothing_and_other_feeds_go_on() {
    let feeds = HashMap::from([
        (
            "bad".to_string(),
            served(rss(&[("b1", SYRIA_2.0, SYRIA_2.1, "https://x.example/1")])),
        ),
        (
            "f".to_string(),
            served(rss(&[("g1", SYRIA.0, SYRIA.1, "https://wire.example/1")])),
        ),
    ]);
    let (http, state) = start_http(feeds).await;
    {
        let mut st = state.lock().expect("lock");
        st.failing.push("bad".into());
        st.retry_after = Some("99999999999999".into());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("bad", "سيئ"), ("f", "منفذ")], None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "one feed of two failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(maildir_mails(dir.path()).len(), 1, "the other feed's story");
    let (_, out, _) = raqib(&cfg, &["feeds", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let bad = v
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == "سيئ"))
        .expect("bad feed")
        .clone();
    assert_eq!(bad["state"], "error");
    // Retried within a day, whatever the server asked for.
    let next = bad["next_poll"].as_str().expect("next poll");
    let next = chrono::DateTime::parse_from_rfc3339(next).expect("rfc 3339");
    let wait = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(wait <= chrono::Duration::hours(24), "{wait}");
    assert!(wait >= chrono::Duration::hours(23), "{wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_links_never_read_local_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "كلمة السر السرية للخادم").expect("secret");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let link = |p: &Path| format!("file://{}", p.display());
    let (secret_link, fifo_link) = (link(&secret), link(&fifo));
    let feeds = HashMap::from([(
        "f".to_string(),
        served(rss(&[
            ("g1", SYRIA.0, SYRIA.1, &secret_link),
            ("g2", SYRIA_2.0, SYRIA_2.1, &fifo_link),
            ("g3", "صفر", "<p>نص</p>", "file:///dev/zero"),
        ])),
    )]);
    let (http, _) = start_http(feeds).await;
    let cfg = config_with(
        dir.path(),
        http,
        &[("f", "منفذ")],
        None,
        "",
        "fetch_article = true\n",
    );
    let run = tokio::time::timeout(Duration::from_secs(120), raqib(&cfg, &["once"])).await;
    let (code, _, err) = run.expect("once ended (a FIFO was waited on)");
    assert_eq!(code, 0, "{err}");
    let mails = maildir_mails(dir.path());
    assert_eq!(mails.len(), 2, "the feed's own text is mailed: {err}");
    for m in &mails {
        assert!(!m.text.contains("كلمة السر"), "a local file was mailed");
    }
    assert!(err.contains("article links must be http or https"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_feed_that_is_no_regular_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("feed.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let cfg = dir.path().join("raqib.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\npath = \"db\"\n[[feeds]]\nurl = \"file://{}\"\n[[feeds]]\nurl = \"file:///dev/zero\"\n",
            fifo.display()
        ),
    )
    .expect("config");
    let run = tokio::time::timeout(Duration::from_secs(120), raqib(&cfg, &["once"])).await;
    let (code, _, err) = run.expect("once ended");
    assert_eq!(code, 3, "every feed failed: {err}");
    assert!(err.contains("is not a regular file"), "{err}");
    assert!(err.contains("2 feeds polled, 2 failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exit_status_says_when_nothing_could_be_delivered() {
    let (http, _) = start_http(HashMap::from([(
        "f".to_string(),
        served(rss(&[("g1", SYRIA.0, SYRIA.1, "https://wire.example/1")])),
    )]))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], Some(dead_port()));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("0 messages delivered, 1 failed"), "{err}");
    let smtp = Arc::new(Mutex::new(SmtpState::default()));
    let cfg = write_config(
        dir.path(),
        http,
        &[("f", "منفذ")],
        Some(start_smtp(smtp.clone())),
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(smtp.lock().expect("lock").messages.len(), 1);
}

/// Three feeds with three on-topic stories, and an SMTP server that accepts
/// the first message and holds the second at DATA.
async fn three_stories_and_a_stalling_mail_server(
) -> (tempfile::TempDir, std::path::PathBuf, Arc<Mutex<SmtpState>>) {
    let (http, _) = start_http(standard_feeds()).await;
    let smtp = Arc::new(Mutex::new(SmtpState {
        stall_from: Some(1),
        ..Default::default()
    }));
    let port = start_smtp(smtp.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let feeds = [
        ("wire", "وكالة الأنباء"),
        ("sham", "الشام اليوم"),
        ("khaleej", "الخليج"),
    ];
    let cfg = write_config(dir.path(), http, &feeds, Some(port));
    (dir, cfg, smtp)
}

/// Waits (at most 30 s) until the server holds the second message.
async fn second_message_held(smtp: &Arc<Mutex<SmtpState>>) {
    let mut waited = 0;
    while !smtp.lock().expect("lock").stalled {
        assert!(waited < 600, "the second message never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_after_the_server_accepted_a_message_does_not_repeat_it() {
    // The folder lives as long as `_dir`.
    let (_dir, cfg, smtp) = three_stories_and_a_stalling_mail_server().await;
    let mut once = tokio::process::Command::new(env!("CARGO_BIN_EXE_raqib"))
        .arg("--config")
        .arg(&cfg)
        .arg("once")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn once");
    // The second message is on its way: the first was accepted, and raqib
    // went on to the next one.
    second_message_held(&smtp).await;
    once.kill().await.expect("kill once");
    {
        let mut st = smtp.lock().expect("lock");
        assert_eq!(st.messages.len(), 1);
        st.stall_from = None;
    }
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let (all, distinct) = message_ids(&smtp);
    assert_eq!(distinct, 3, "each story");
    assert_eq!(all, 3, "a message came twice (with the same Message-ID)");
}

/// SIGTERM while the mail server holds a message: `run` stops within its
/// grace period (well under the unit's 30 s), and the messages it did not
/// get to go out at the next run, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_a_delivery_hangs_stops_within_the_deadline() {
    // The folder lives as long as `_dir`.
    let (_dir, cfg, smtp) = three_stories_and_a_stalling_mail_server().await;
    let mut run = tokio::process::Command::new(env!("CARGO_BIN_EXE_raqib"))
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn run");
    second_message_held(&smtp).await;
    let asked = std::time::Instant::now();
    let pid = run.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(25), run.wait())
        .await
        .expect("raqib run did not stop within 25 s of SIGTERM")
        .expect("wait");
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    // The hanging message gets the delivery grace (10 s), not the SMTP timeout.
    assert!(took < Duration::from_secs(15), "stopped after {took:?}");
    smtp.lock().expect("lock").stall_from = None;
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let (all, distinct) = message_ids(&smtp);
    assert_eq!(distinct, 3, "each story");
    assert!(all <= 4, "at most the message in flight again: {all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_megabyte_hostile_title_makes_a_small_safe_mail() {
    // A 5 MB headline about Syria, a bidi override in it, a javascript: link.
    let title = format!(
        "\u{202E}لافروف وكيري يبحثان في جنيف وقف إطلاق النار في سوريا {}",
        "سوريا ".repeat(500_000)
    );
    let (http, _) = start_http(HashMap::from([(
        "f".to_string(),
        served(rss(&[("g1", &title, SYRIA.1, "javascript:alert(1)")])),
    )]))
    .await;
    let smtp = Arc::new(Mutex::new(SmtpState::default()));
    let port = start_smtp(smtp.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], Some(port));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let st = lock_smtp(&smtp);
    assert_eq!(st.messages.len(), 1, "{err}");
    let raw = &st.messages[0];
    assert!(raw.len() < 1 << 20, "{} bytes", raw.len());
    let mail = parse_mail(raw);
    assert!(mail.subject.starts_with("لافروف وكيري"), "{}", mail.subject);
    assert!(!mail.subject.contains('\u{202E}'));
    assert!(!mail.text.contains("javascript:") && !mail.html.contains("javascript:"));
}
