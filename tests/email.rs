//! The emails: MIME structure parsed back from a real SMTP server, hostile
//! feed content, the hourly limit folding into the digest (and no alert
//! times kept without one), and the digest schedule under a paused clock,
//! including slots missed while down.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use mail_parser::MimeHeaders;
use raqib::config::Config;
use raqib::daemon::{digest_loop, Clock, Engine};
use raqib::store::AlertKind;

/// A feed server with one RSS feed of `items`, an SMTP server, and a config.
async fn serve_with_smtp(
    items: &[(&str, &str, &str)],
    dir: &Path,
) -> (std::path::PathBuf, SharedSmtp) {
    let feeds = one_feed(items);
    let (http, _) = start_http(feeds).await;
    let smtp = Arc::new(Mutex::new(SmtpState::default()));
    let port = start_smtp(smtp.clone());
    (write_config(dir, http, &[("f", "منفذ")], Some(port)), smtp)
}

/// The feed server's content: one RSS feed "f" of `items`.
fn one_feed(items: &[(&str, &str, &str)]) -> HashMap<String, Served> {
    HashMap::from([(
        "f".to_string(),
        Served {
            body: rss_feed(items),
            content_type: "application/rss+xml".into(),
        },
    )])
}

/// Three different on-topic stories.
const STORIES: &[(&str, &str, &str)] = &[
    (
        "s1",
        "لافروف وكيري يبحثان الهدنة في سوريا",
        "اتصال هاتفي بين موسكو وواشنطن حول حلب وإدلب.",
    ),
    (
        "s2",
        "البنتاغون يتهم موسكو بخرق قواعد الاشتباك في سوريا",
        "مقاتلات روسية اقتربت من قاعدة التنف الأمريكية.",
    ),
    (
        "s3",
        "بوتين وبايدن يبحثان الملف السوري في جنيف",
        "قمة روسية أمريكية تناولت إدلب والمساعدات إلى سوريا.",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mime_structure_and_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, smtp) = serve_with_smtp(&STORIES[..1], dir.path()).await;
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let raw = smtp
        .lock()
        .expect("lock")
        .messages
        .first()
        .cloned()
        .expect("one mail");
    let m = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("parse");
    let ct = m.content_type().expect("content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(m.text_body_count(), 1);
    assert_eq!(m.html_body_count(), 1);
    for part in m.parts.iter().skip(1) {
        let pct = part.content_type().expect("part content type");
        assert_eq!(
            pct.attribute("charset")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("utf-8")
        );
    }
    assert_eq!(m.subject(), Some(STORIES[0].1));
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Subject: =?utf-8?"), "encoded subject");
    assert!(m
        .header_raw("List-Id")
        .is_some_and(|l| l.contains("syria-us-russia")));
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert!(m.date().is_some());
    assert!(m.message_id().is_some_and(|id| id.ends_with("@localhost")));
    let parsed = parse_mail(&raw);
    // The explanation line and the outlet's link.
    assert!(parsed.text.contains("— في العنوان"), "{}", parsed.text);
    assert!(parsed.html.contains("https://x.example/s1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_content_arrives_as_text() {
    let items = [(
        "h1",
        "&lt;script&gt;alert(1)&lt;/script&gt; بوتين وواشنطن وسوريا\r\nBcc: victim@example.org",
        "&lt;img src=x onerror=alert(1)&gt;اتصال بين موسكو وواشنطن حول سوريا&lt;a href=\"javascript:alert(2)\"&gt;هنا&lt;/a&gt;",
    )];
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, smtp) = serve_with_smtp(&items, dir.path()).await;
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let st = smtp.lock().expect("lock");
    assert_eq!(st.messages.len(), 1);
    let raw = String::from_utf8_lossy(&st.messages[0]).into_owned();
    let m = parse_mail(&st.messages[0]);
    assert!(!raw.contains("\nBcc:"), "a header was injected: {raw}");
    assert!(
        m.subject.contains("<script>"),
        "the title arrives as text: {}",
        m.subject
    );
    assert!(!m.html.contains("<script>"), "{}", m.html);
    assert!(m.html.contains("&lt;script&gt;"));
    assert!(!m.html.contains("onerror"), "{}", m.html);
    assert!(!m.html.contains("javascript:"), "{}", m.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_limit_folds_into_the_digest() {
    let feeds = one_feed(STORIES);
    let (http, _) = start_http(feeds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], None);
    let mut text = std::fs::read_to_string(&cfg).expect("read");
    text = text.replace("[alerts]\n", "[alerts]\nmax_per_hour = 2\n");
    std::fs::write(&cfg, text).expect("write");
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = read_maildir(&dir.path().join("mail"));
    assert_eq!(mails.len(), 2, "two immediate alerts, the third folded");
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.text.contains("الحد الأقصى"))
            .count(),
        1,
        "the last alert says so"
    );

    let (code, _, err) = raqib(&cfg, &["digest", "send"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = read_maildir(&dir.path().join("mail"));
    let digest = mails
        .iter()
        .find(|m| m.subject.starts_with("ملخص رقيب"))
        .expect("a digest");
    assert!(
        digest.text.contains("لم يُرسل فوراً"),
        "the folded story is marked: {}",
        digest.text
    );
    for s in STORIES {
        assert!(digest.text.contains(s.1), "digest lacks {}", s.1);
    }
    assert!(digest.html.contains("dir=\"rtl\""));
}

/// Two readouts of one call (different wording: not copies) and a story on
/// another event.
const ONE_EVENT: &[(&str, &str, &str)] = &[
    (
        "e1",
        "لافروف وبلينكن يبحثان هاتفياً الوضع في إدلب",
        "بحث وزير الخارجية الروسي سيرغي لافروف مع نظيره الأمريكي أنتوني بلينكن في اتصال هاتفي الوضع في سوريا وإدلب ومعبر باب الهوى، قبل تصويت مجلس الأمن على تمديد آلية المساعدات العابرة للحدود في العاشر من تموز.",
    ),
    (
        "e2",
        "واشنطن: بلينكن أبلغ لافروف بضرورة إبقاء معبر باب الهوى مفتوحاً",
        "قالت الخارجية الأمريكية إن الوزير بلينكن شدد خلال اتصاله مع لافروف على إبقاء معبر باب الهوى في إدلب السورية مفتوحاً أمام المساعدات، وعلى تمديد الآلية في تصويت مجلس الأمن المقرر في العاشر من تموز.",
    ),
    (
        "e3",
        "البنتاغون يتهم موسكو بخرق قواعد الاشتباك في سوريا",
        "قالت وزارة الدفاع الأمريكية إن مقاتلات روسية اقتربت من قاعدة التنف في سوريا واتهمت موسكو بخرق قواعد الاشتباك.",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_hourly_limit_no_alert_times_are_kept() {
    let feeds = one_feed(STORIES);
    let (http, _) = start_http(feeds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = read_maildir(&dir.path().join("mail"));
    assert_eq!(mails.len(), STORIES.len(), "every story alerted");
    // The times a limit would count were a list rewritten at each alert,
    // growing without bound when nothing limits them.
    let store = raqib::store::Store::open(&dir.path().join("db")).expect("store");
    let since = Utc::now() - chrono::Duration::days(1);
    assert_eq!(
        store.alerts_since("syria-us-russia", since).expect("read"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_lists_articles_on_one_event_together() {
    let (http, _) = start_http(one_feed(ONE_EVENT)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        read_maildir(&dir.path().join("mail")).len(),
        3,
        "not copies: three alerts"
    );
    let out = dir.path().join("digest.html");
    let out_arg = out.to_string_lossy().to_string();
    let (code, _, err) = raqib(&cfg, &["digest", "preview", "--out", &out_arg]).await;
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&out).expect("preview written");
    let (head, tail) = html
        .split_once("على الحدث نفسه")
        .expect("a same-event list");
    // One readout heads the story, the other is listed under it; the
    // unrelated story stays a story of its own.
    let headed = [ONE_EVENT[0].1, ONE_EVENT[1].1]
        .iter()
        .filter(|t| head.contains(**t))
        .count();
    assert_eq!(headed, 1, "{html}");
    assert!(
        head.contains("(3 قصص)"),
        "the grouped article keeps its place in the topic's count: {head}"
    );
    assert_eq!(tail.matches("على الحدث نفسه").count(), 0);
    assert!(html.contains(ONE_EVENT[2].1));
    assert!(
        !tail
            .split("</ul>")
            .next()
            .is_some_and(|l| l.contains(ONE_EVENT[2].1)),
        "the other event is not in the list"
    );
}

/// The same two readouts, but published ten years apart: however alike
/// their words, they are not one event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stories_years_apart_are_never_one_event() {
    let dated = |(guid, title, body): &(&str, &str, &str), date: &str| {
        format!("<item><guid>{guid}</guid><link>https://x.example/{guid}</link><title>{title}</title><description>{body}</description><pubDate>{date}</pubDate></item>")
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>{}{}{}</channel></rss>",
        dated(&ONE_EVENT[0], "Sat, 10 Sep 2016 09:00:00 GMT"),
        dated(&ONE_EVENT[1], "Thu, 10 Sep 2026 09:00:00 GMT"),
        dated(&ONE_EVENT[2], "Thu, 10 Sep 2026 10:00:00 GMT"),
    );
    let feeds = HashMap::from([(
        "f".to_string(),
        Served {
            body: body.into_bytes(),
            content_type: "application/rss+xml".into(),
        },
    )]);
    let (http, _) = start_http(feeds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_maildir(&dir.path().join("mail")).len(), 3);
    let out = dir.path().join("digest.html");
    let out_arg = out.to_string_lossy().to_string();
    let (code, _, err) = raqib(&cfg, &["digest", "preview", "--out", &out_arg]).await;
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&out).expect("preview written");
    assert!(!html.contains("على الحدث نفسه"), "{html}");
    assert!(html.contains(ONE_EVENT[0].1) && html.contains(ONE_EVENT[1].1));
    assert!(html.contains("(3 قصص)"), "{html}");
}

fn read_maildir(dir: &Path) -> Vec<Mail> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("new"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.push(parse_mail(&std::fs::read(e.path()).expect("read mail")));
    }
    out
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .expect("time")
}

fn digests_in_outbox(engine: &Engine) -> usize {
    engine
        .store
        .outbox()
        .expect("outbox")
        .iter()
        .filter(|a| matches!(a.kind, AlertKind::Digest { .. }))
        .count()
}

#[tokio::test(start_paused = true)]
async fn digest_schedule_with_missed_slots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("feed.xml"), rss_feed(STORIES)).expect("feed");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchlist.toml"),
        d.join("watchlist.toml"),
    )
    .expect("watchlist");
    let cfg_path = d.join("raqib.toml");
    std::fs::write(
        &cfg_path,
        "[storage]\npath = \"db\"\n[[feeds]]\nurl = \"file:feed.xml\"\n[email.maildir]\npath = \"mail\"\n\
         [digest]\nat = [\"07:00\", \"19:00\"]\ntimezone = \"UTC\"\n",
    )
    .expect("config");
    let engine = Arc::new(Engine::open(Config::load(&cfg_path).expect("config")).expect("engine"));
    engine.once().await.expect("once");
    assert_eq!(read_maildir(&d.join("mail")).len(), 3, "three alerts");

    // The last digest went out on day 1 at 07:00; the daemon starts on day 2
    // at 08:00, after two missed slots (day 1 19:00, day 2 07:00).
    engine
        .store
        .commit_digest("all", at("2026-01-01T07:00:00Z"), None, &[])
        .expect("seed");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let clock = Clock::starting_at(at("2026-01-02T08:00:00Z"));
    let (writer, _writer_done) = raqib::daemon::writer::start(engine.clone());
    let task = tokio::spawn(digest_loop(engine.clone(), writer, stop_rx, clock));

    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        digests_in_outbox(&engine),
        1,
        "one digest for the missed slots, not two"
    );
    engine.deliver(true).await.expect("deliver");
    let mails = read_maildir(&d.join("mail"));
    assert_eq!(mails.len(), 4);

    // Day 2 19:00: nothing new, and empty digests are off.
    tokio::time::sleep(Duration::from_secs(11 * 3600)).await;
    assert_eq!(digests_in_outbox(&engine), 0);
    let last = engine
        .store
        .digest_last("all")
        .expect("last")
        .expect("made");
    assert!(last >= at("2026-01-02T19:00:00Z"), "{last}");

    // A new story, then day 3 07:00: a digest with just that story.
    let mut more = STORIES.to_vec();
    more.push((
        "s4",
        "واشنطن وموسكو تتبادلان الاتهامات في مجلس الأمن حول سوريا",
        "جلسة ساخنة حول المساعدات.",
    ));
    std::fs::write(d.join("feed.xml"), rss_feed(&more)).expect("feed");
    engine.once().await.expect("once");
    tokio::time::sleep(Duration::from_secs(12 * 3600)).await;
    assert_eq!(digests_in_outbox(&engine), 1, "the day 3 digest");
    engine.deliver(true).await.expect("deliver");
    let mails = read_maildir(&d.join("mail"));
    let second = mails
        .iter()
        .filter(|m| m.subject.starts_with("ملخص رقيب"))
        .find(|m| m.text.contains("s4") || m.text.contains("مجلس الأمن"))
        .expect("second digest");
    assert!(
        !second.text.contains(STORIES[0].1),
        "an old story is not repeated"
    );

    let _ = stop_tx.send(true);
    let _ = task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_long_outage_alerts_fold_into_the_digest() {
    let feeds = one_feed(STORIES);
    let (http, _) = start_http(feeds).await;
    let dead_port = dead_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let with_digest = |port: u16| {
        let cfg = write_config(dir.path(), http, &[("f", "منفذ")], Some(port));
        let text = std::fs::read_to_string(&cfg)
            .expect("read")
            .replace("[alerts]\n", "[alerts]\nstale_after = \"1s\"\n")
            + "\n[digest]\nat = [\"07:00\"]\n";
        std::fs::write(&cfg, text).expect("write");
        cfg
    };
    let cfg = with_digest(dead_port);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 4, "deliveries failed: {err}");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let smtp = Arc::new(Mutex::new(SmtpState::default()));
    let cfg = with_digest(start_smtp(smtp.clone()));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        smtp.lock().expect("lock").messages.len(),
        0,
        "no flood of old alerts"
    );
    let (code, _, err) = raqib(&cfg, &["digest", "send"]).await;
    assert_eq!(code, 0, "{err}");
    let st = smtp.lock().expect("lock");
    assert_eq!(st.messages.len(), 1, "one digest");
    let digest = parse_mail(&st.messages[0]);
    for s in STORIES {
        assert!(digest.text.contains(s.1), "digest lacks {}", s.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_per_story_per_reader_lists_every_topic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, smtp) = serve_with_smtp(&STORIES[..1], dir.path()).await;
    // Two topics read by [email].to, one by its own reader: the story
    // matches all three.
    std::fs::write(
        dir.path().join("watchlist.toml"),
        "[[topic]]\nid = \"syria\"\nname = \"سوريا\"\nalert = \"immediate\"\nall = [[\"سوريا\"]]\n\n\
         [[topic]]\nid = \"powers\"\nname = \"القوى الكبرى\"\nalert = \"immediate\"\nall = [[\"موسكو\"], [\"واشنطن\"]]\n\n\
         [[topic]]\nid = \"desk\"\nname = \"مكتب الشرق الأوسط\"\nalert = \"immediate\"\nrecipients = [\"desk@example.org\"]\nall = [[\"سوريا\"]]\n",
    )
    .expect("write watchlist");
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = smtp_mails(&smtp);
    assert_eq!(mails.len(), 2, "{err}");
    let analyst = mails
        .iter()
        .find(|m| m.to.contains("analyst@example.org"))
        .expect("the analyst's message");
    let mut topics: Vec<&str> = analyst.topic.split(", ").collect();
    topics.sort();
    assert_eq!(topics, ["powers", "syria"], "{}", analyst.topic);
    assert!(analyst.text.contains("سوريا") && analyst.text.contains("القوى الكبرى"));
    let desk = mails
        .iter()
        .find(|m| m.to.contains("desk@example.org"))
        .expect("the desk's message");
    assert_eq!(desk.topic, "desk");
    assert_ne!(analyst.message_id, desk.message_id);
    // Nothing more on the next run.
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(smtp.lock().expect("lock").messages.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_email_proves_mail_gets_out_or_says_why_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, smtp) = serve_with_smtp(&STORIES[..1], dir.path()).await;
    let (code, out, err) = raqib(&cfg, &["test-email"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("analyst@example.org"), "{out}");
    let mails = smtp_mails(&smtp);
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].subject.contains("رسالة تجربة"),
        "{}",
        mails[0].subject
    );
    assert!(mails[0].to.contains("analyst@example.org"));
    // Nothing listens: the error, and a status a script can test.
    let down = write_config(
        dir.path(),
        "127.0.0.1:9".parse().expect("addr"),
        &[],
        Some(dead_port()),
    );
    let (code, _, err) = raqib(&down, &["test-email"]).await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("raqib test-email:"), "{err}");
}

#[tokio::test]
async fn the_feeds_an_outage_breaks_are_told_to_the_admin_in_one_email() {
    use raqib::store::{Alert, FeedState};
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cfg_path = d.join("raqib.toml");
    std::fs::write(
        &cfg_path,
        "[storage]\npath = \"db\"\n[email]\nto = [\"analyst@example.org\"]\nadmin = \"admin@example.org\"\n\
         [email.maildir]\npath = \"mail\"\n",
    )
    .expect("config");
    let engine = Engine::open(Config::load(&cfg_path).expect("config")).expect("engine");
    assert_eq!(
        engine.config.alerts.notice_window(),
        Duration::from_secs(3600)
    );
    let now = Utc::now();
    let since = now - chrono::Duration::hours(25);
    // 250 feeds broke within the window (one due now, the others later),
    // two recovered; one story alert waits too.
    let mut notices: Vec<Alert> = (0..250)
        .map(|i| {
            Alert::feed_notice(
                &format!("https://site{i}.example/rss"),
                &format!("موقع {i}"),
                since,
                Some("HTTP 503".into()),
                false,
                now,
                now + chrono::Duration::minutes(if i == 0 { 0 } else { 30 }),
            )
        })
        .collect();
    for i in 250..252 {
        notices.push(Alert::feed_notice(
            &format!("https://site{i}.example/rss"),
            &format!("موقع {i}"),
            since,
            None,
            true,
            now,
            now + chrono::Duration::minutes(40),
        ));
    }
    for n in &notices {
        let url = match &n.kind {
            AlertKind::FeedNotice { url, .. } => url.clone(),
            _ => unreachable!(),
        };
        engine
            .store
            .stage_feed_state(&url, &FeedState::default(), Some(n))
            .expect("stage");
    }
    engine.store.commit().expect("commit");

    let report = engine.deliver(false).await.expect("deliver");
    assert_eq!(report.sent, 1, "{report:?}");
    let mails = read_maildir(&d.join("mail"));
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.to.contains("admin@example.org"), "{}", m.to);
    assert!(
        m.subject.contains("مصادر معطّلة (250)") && m.subject.contains("عادت إلى العمل (2)"),
        "{}",
        m.subject
    );
    // The email lists 200 broken feeds and says how many more there are.
    assert_eq!(m.text.matches("https://site").count(), 202, "{}", m.text);
    assert!(m.text.contains("و50 غيرها"), "{}", m.text);
    assert!(m.text.contains("https://site251.example/rss"));
    assert!(m.text.contains("HTTP 503"));
    assert!(m.html.contains("dir=\"rtl\""));
    assert!(engine.store.outbox().expect("outbox").is_empty());
    // Nothing is sent twice.
    let again = engine.deliver(true).await.expect("deliver");
    assert_eq!(again.sent, 0);
    assert_eq!(read_maildir(&d.join("mail")).len(), 1);
}
