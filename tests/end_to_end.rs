//! `raqib once` against a real HTTP server and a real SMTP server on
//! 127.0.0.1, with sled in a temp dir.

mod common;

use std::sync::{Arc, Mutex};

use common::*;

const FEEDS: &[(&str, &str)] = &[
    ("wire", "وكالة الأنباء"),
    ("sham", "الشام اليوم"),
    ("khaleej", "الخليج"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_sends_one_email_per_story_then_nothing() {
    let (http, hstate) = start_http(standard_feeds()).await;
    let smtp = Arc::new(Mutex::new(SmtpState::default()));
    let port = start_smtp(smtp.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, FEEDS, Some(port));

    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = smtp_mails(&smtp);
    let mut subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        vec![
            "البنتاغون: مقاتلات روسية اقتربت بشكل خطير من مسيرات أمريكية فوق سوريا",
            "لافروف وكيري يبحثان في جنيف وقف إطلاق النار في سوريا",
            "موسكو تتهم واشنطن بخرق قواعد تفادي الاشتباك فوق التنف",
        ],
        "{err}"
    );
    let wire = mails
        .iter()
        .find(|m| m.subject.starts_with("لافروف"))
        .expect("wire story mail");
    for link in [
        "https://wire.example/news/1001",
        "https://sham.example/politics/2016/09/ceasefire",
    ] {
        assert!(wire.text.contains(link), "text lacks {link}: {}", wire.text);
        assert!(wire.html.contains(link), "html lacks {link}");
    }
    for m in &mails {
        assert_eq!(m.topic, "syria-us-russia");
        assert!(m.html.contains("dir=\"rtl\"") && m.html.contains("lang=\"ar\""));
        assert!(
            m.raw.contains("Subject: =?utf-8?"),
            "subject not RFC 2047 encoded: {}",
            m.raw
        );
        assert!(!m.message_id.is_empty());
    }
    // The windows-1256 feed was decoded, not garbled.
    assert!(mails
        .iter()
        .any(|m| m.text.contains("مركز المصالحة الروسي")));

    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        smtp.lock().expect("lock").messages.len(),
        3,
        "second run sent mail"
    );
    let st = hstate.lock().expect("lock");
    for feed in ["wire", "sham", "khaleej"] {
        assert_eq!(st.requests.get(feed), Some(&2), "{feed}");
        assert_eq!(
            st.not_modified.get(feed),
            Some(&1),
            "{feed} did not get a 304"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_refusing_midway_loses_and_repeats_nothing() {
    let (http, _) = start_http(standard_feeds()).await;
    let smtp = Arc::new(Mutex::new(SmtpState {
        accept_budget: Some(1),
        ..Default::default()
    }));
    let port = start_smtp(smtp.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, FEEDS, Some(port));

    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    {
        let st = smtp.lock().expect("lock");
        assert_eq!(st.messages.len(), 1);
        assert!(st.refused >= 1, "the server never refused");
    }
    // The server is back.
    smtp.lock().expect("lock").accept_budget = None;
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let (all, distinct) = message_ids(&smtp);
    assert_eq!(all, 3, "every alert arrives");
    assert_eq!(distinct, 3, "no alert arrives twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_keeps_alerts_for_later() {
    let (http, _) = start_http(standard_feeds()).await;
    let dead_port = dead_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, FEEDS, Some(dead_port));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 4, "some deliveries failed: {err}");
    assert!(err.contains("delivery failed"), "{err}");
    assert!(err.contains("0 messages delivered, 1 failed"), "{err}");

    // Same database, a live server now.
    let smtp = Arc::new(Mutex::new(SmtpState::default()));
    let port = start_smtp(smtp.clone());
    let cfg = write_config(dir.path(), http, FEEDS, Some(port));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(smtp.lock().expect("lock").messages.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_delivery_and_feeds_listing() {
    let (http, hstate) = start_http(standard_feeds()).await;
    hstate.lock().expect("lock").failing.push("khaleej".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, FEEDS, None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let new = std::fs::read_dir(dir.path().join("mail/new"))
        .expect("maildir new/")
        .count();
    assert_eq!(
        new, 2,
        "the failing feed's story is missing, the others arrive"
    );

    let (code, out, err) = raqib(&cfg, &["feeds", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let list = v.as_array().expect("array");
    assert_eq!(list.len(), 3);
    let k = list
        .iter()
        .find(|f| f["name"] == "الخليج")
        .expect("khaleej");
    assert_eq!(k["state"], "error");
    assert!(
        k["error"].as_str().is_some_and(|e| e.contains("503")),
        "{k}"
    );
    assert!(k["next_poll"].is_string());
    let w = list
        .iter()
        .find(|f| f["name"] == "وكالة الأنباء")
        .expect("wire");
    assert_eq!(w["state"], "ok");
    assert_eq!(w["items"], 2);
    assert!(w["error"].is_null());

    // Only what needs a look, and the count at the end of the table.
    let (code, out, err) = raqib(&cfg, &["feeds", "--problems", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["الخليج"]);
    let (code, out, err) = raqib(&cfg, &["feeds", "--problems"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("الخليج") && !out.contains("وكالة الأنباء"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("3 feeds: 2 ok, 1 failing; 1 to look at"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_article_reads_the_page_in_its_own_charset() {
    let (http, hstate) = start_http(std::collections::HashMap::new()).await;
    let page = "<!DOCTYPE html><html lang=\"ar\"><head>\
        <meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1256\">\
        <title>الموقع</title></head><body><nav><p>الرئيسية سياسة اقتصاد رياضة ثقافة منوعات اتصل بنا</p></nav>\
        <article><h1>كيري ولافروف يتفقان على هدنة في سوريا</h1>\
        <p>اتفق وزير الخارجية الأمريكي جون كيري ونظيره الروسي سيرغي لافروف في جنيف على خطة لوقف إطلاق النار في سوريا.</p>\
        <p>وقال لافروف إن موسكو ستضغط على دمشق، فيما قال كيري إن واشنطن ستعمل مع المعارضة لإنجاح الهدنة.</p>\
        </article><footer><p>جميع الحقوق محفوظة</p></footer></body></html>";
    let (page_bytes, _, _) = encoding_rs::WINDOWS_1256.encode(page);
    let feed = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><guid>p1</guid><link>http://{http}/feeds/page</link><title>كيري ولافروف يتفقان على هدنة في سوريا</title>\
         <description>ملخص قصير.</description></item></channel></rss>"
    );
    {
        let mut st = hstate.lock().expect("lock");
        st.feeds.insert(
            "page".into(),
            Served {
                body: page_bytes.into_owned(),
                content_type: "text/html".into(),
            },
        );
        st.feeds.insert(
            "art".into(),
            Served {
                body: feed.into_bytes(),
                content_type: "application/rss+xml".into(),
            },
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("art", "موقع")], None);
    add_to_feed(&cfg, "موقع", "fetch_article = true\n");
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = maildir_mails(dir.path());
    assert_eq!(mails.len(), 1, "{err}");
    assert!(
        mails[0].text.contains("ستضغط على دمشق"),
        "the page's text, decoded: {}",
        mails[0].text
    );
    assert!(
        !mails[0].text.contains("الرئيسية سياسة"),
        "navigation is not article text"
    );
    assert_eq!(hstate.lock().expect("lock").requests.get("page"), Some(&1));
}

/// A feed carrying more entries than the writer commits at once: every
/// entry is stored, the feed's story alerted once, and nothing is new the
/// second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_larger_than_a_batch_is_stored_whole() {
    const N: usize = 1500;
    let words = [
        "سوق",
        "مدينة",
        "نهر",
        "جبل",
        "طريق",
        "مطار",
        "ميناء",
        "مصنع",
    ];
    let items: Vec<(String, String, String)> = (0..N)
        .map(|i| {
            // Distinct texts, so that no entry is a copy of another.
            let body: Vec<String> = (0..30)
                .map(|k| format!("{}{}", words[(i + k) % words.len()], i * 31 + k))
                .collect();
            (format!("g{i}"), format!("خبر رقم {i}"), body.join(" "))
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, b)| (g.as_str(), t.as_str(), b.as_str()))
        .collect();
    let mut feeds = standard_feeds();
    feeds.insert(
        "big".into(),
        Served {
            body: rss_feed(&refs),
            content_type: "application/rss+xml".into(),
        },
    );
    let (http, hstate) = start_http(feeds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut list = FEEDS.to_vec();
    list.push(("big", "الكبير"));
    let big_items = |cfg: std::path::PathBuf| async move {
        let (code, out, err) = raqib(&cfg, &["feeds", "--json"]).await;
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
        v.as_array()
            .and_then(|l| l.iter().find(|f| f["name"] == "الكبير").cloned())
            .expect("big feed listed")["items"]
            .clone()
    };
    let cfg = write_config(dir.path(), http, &list, None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");

    assert_eq!(big_items(cfg.clone()).await, N);

    // One entry more: the feed is read again whole, and only that one is new.
    let mut more = refs.clone();
    more.push(("g-new", "خبر جديد", "نص الخبر الجديد عن سوق المدينة"));
    hstate
        .lock()
        .expect("lock")
        .feeds
        .get_mut("big")
        .expect("big feed served")
        .body = rss_feed(&more);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(big_items(cfg.clone()).await, N + 1);
}
