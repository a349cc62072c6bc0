//! `[[webhooks]]` against a real receiver on 127.0.0.1: each story posted
//! once per webhook, signed when a secret is set, retried through the
//! outbox when the receiver fails, as ntfy messages when asked.

mod common;

use std::collections::HashMap;

use common::*;

/// Two stories on the default topic, and one off it.
const STORIES: &[(&str, &str, &str)] = &[
    (
        "s1",
        "لافروف وبلينكن يبحثان هاتفياً الوضع في سوريا",
        "بحث وزير الخارجية الروسي سيرغي لافروف مع نظيره الأمريكي أنتوني بلينكن في اتصال هاتفي الوضع في سوريا وإدلب ومعبر باب الهوى قبل تصويت مجلس الأمن.",
    ),
    (
        "s2",
        "البنتاغون يتهم موسكو بخرق قواعد الاشتباك في سوريا",
        "قالت وزارة الدفاع الأمريكية إن مقاتلات روسية اقتربت من قاعدة التنف في سوريا واتهمت موسكو بخرق قواعد الاشتباك مع القوات الأمريكية.",
    ),
    (
        "s3",
        "ارتفاع أسعار الخضار في الأسواق",
        "ارتفعت أسعار الخضار والفواكه في الأسواق المحلية خلال الأسبوع الماضي بسبب موجة البرد.",
    ),
];

fn served(items: &[(&str, &str, &str)]) -> HashMap<String, Served> {
    HashMap::from([(
        "f".to_string(),
        Served {
            body: rss_feed(items),
            content_type: "application/rss+xml".into(),
        },
    )])
}

fn add_hooks(cfg: &std::path::Path, tables: &str) {
    let mut s = std::fs::read_to_string(cfg).expect("read config");
    s.push_str(tables);
    std::fs::write(cfg, s).expect("write config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_story_is_posted_once_signed_and_as_ntfy() {
    let mut feeds = served(STORIES);
    feeds.insert(
        "g".into(),
        Served {
            body: rss_feed(&STORIES[2..]),
            content_type: "application/rss+xml".into(),
        },
    );
    let (http, http_state) = start_http(feeds).await;
    let (hooks_addr, hooks) = start_hooks().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ"), ("g", "مصدر آخر")], None);
    std::fs::write(dir.path().join("hook.key"), "s3cret\n").expect("secret");
    add_hooks(
        &cfg,
        &format!(
            "\n[[webhooks]]\nurl = \"http://{hooks_addr}/hooks/json\"\nsecret_file = \"hook.key\"\n\n\
             [[webhooks]]\nurl = \"http://{hooks_addr}/hooks/ntfy\"\nformat = \"ntfy\"\ntopics = [\"syria-us-russia\"]\n\n\
             [[webhooks]]\nurl = \"http://{hooks_addr}/hooks/other\"\ntopics = [\"no-such-topic\"]\n"
        ),
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let got = posted(&hooks);
    let json: Vec<&Posted> = got.iter().filter(|p| p.hook == "json").collect();
    let ntfy: Vec<&Posted> = got.iter().filter(|p| p.hook == "ntfy").collect();
    assert_eq!(json.len(), 2, "two matching stories: {got:?}");
    assert_eq!(ntfy.len(), 2);
    assert!(
        got.iter().all(|p| p.hook != "other"),
        "a webhook hears only its topics"
    );
    assert_eq!(
        read_mails(dir.path()).len(),
        2,
        "mail goes out as before, beside the webhooks"
    );

    let mut ids = Vec::new();
    for p in &json {
        let v: serde_json::Value = serde_json::from_slice(&p.body).expect("JSON body");
        let id = v["id"].as_str().expect("id").to_string();
        assert_eq!(p.headers.get("idempotency-key"), Some(&id));
        assert_eq!(
            p.headers.get("x-raqib-signature").map(String::as_str),
            Some(raqib::notify::webhook::signature(b"s3cret", &p.body).as_str()),
            "signed with the secret, its line end trimmed"
        );
        assert_eq!(
            p.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        assert_eq!(v["topics"], serde_json::json!(["syria-us-russia"]));
        let title = v["title"].as_str().expect("title");
        assert!(STORIES.iter().any(|s| s.1 == title), "{title}");
        assert!(!v["excerpt"].as_str().unwrap_or("").is_empty());
        assert!(!v["explanation"].as_str().unwrap_or("").is_empty());
        let outlet = &v["outlets"][0];
        assert_eq!(outlet["name"], "منفذ");
        assert!(outlet["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://x.example/")));
        assert!(outlet["first_seen"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));
        assert_eq!(outlet["first"], true);
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "one id per story");

    for p in &ntfy {
        let body = String::from_utf8_lossy(&p.body);
        let (title, link) = body.split_once('\n').expect("title, then the link");
        assert!(STORIES.iter().any(|s| s.1 == title), "{body}");
        assert!(link.starts_with("https://x.example/"), "{body}");
        assert_eq!(p.headers.get("click").map(String::as_str), Some(link));
        assert!(
            !p.headers.contains_key("x-raqib-signature"),
            "no secret set"
        );
    }

    // Polled again, and a copy of a story from a second outlet: nothing new
    // to post.
    let copy = [("g1", STORIES[0].1, STORIES[0].2)];
    http_state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .feeds
        .insert(
            "g".into(),
            Served {
                body: rss_feed(&copy),
                content_type: "application/rss+xml".into(),
            },
        );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 new items"), "the copy is stored: {err}");
    assert_eq!(posted(&hooks).len(), 4, "each story once per webhook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_gets_the_story_later_with_the_same_key() {
    let (http, _) = start_http(served(&STORIES[..1])).await;
    let (hooks_addr, hooks) = start_hooks().await;
    lock_hooks(&hooks).answers = vec![503, 500];
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], None);
    add_hooks(
        &cfg,
        &format!("\n[[webhooks]]\nurl = \"http://{hooks_addr}/hooks/h\"\n"),
    );
    let (_, _, err) = raqib(&cfg, &["once"]).await;
    assert!(err.contains("1 messages delivered, 1 failed"), "{err}");
    assert_eq!(read_mails(dir.path()).len(), 1, "mail is not held up");
    let (_, _, err) = raqib(&cfg, &["once"]).await;
    assert!(err.contains("0 messages delivered, 1 failed"), "{err}");
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 messages delivered, 0 failed"), "{err}");
    let got = posted(&hooks);
    assert_eq!(got.len(), 3, "two failures, then accepted");
    let keys: Vec<&str> = got
        .iter()
        .filter_map(|p| p.headers.get("idempotency-key").map(String::as_str))
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    let (_, _, err) = raqib(&cfg, &["once"]).await;
    assert!(err.contains("0 messages delivered, 0 failed"), "{err}");
    assert_eq!(posted(&hooks).len(), 3, "never again once accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_config_errors_point_at_the_key() {
    let (http, _) = start_http(served(STORIES)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("f", "منفذ")], None);
    let base = std::fs::read_to_string(&cfg).expect("config");
    for (table, says) in [
        (
            "[[webhooks]]\nurl = \"ftp://127.0.0.1/x\"\n",
            "is not http or https",
        ),
        (
            "[[webhooks]]\nurl = \"http://127.0.0.1/x\"\nformat = \"slack\"\n",
            "is not \"json\" or \"ntfy\"",
        ),
        (
            "[[webhooks]]\nurl = \"http://127.0.0.1/x\"\ncolour = \"red\"\n",
            "unknown field",
        ),
    ] {
        std::fs::write(&cfg, format!("{base}\n{table}")).expect("write");
        let (code, _, err) = raqib(&cfg, &["check"]).await;
        assert_ne!(code, 0, "{table}");
        assert!(err.contains(says), "{table}: {err}");
        assert!(err.contains("raqib.toml:"), "FILE:LINE:COL: {err}");
    }
    std::fs::write(
        &cfg,
        format!(
            "{base}\n[[webhooks]]\nurl = \"http://127.0.0.1:1/x\"\nsecret_file = \"missing.key\"\n"
        ),
    )
    .expect("write");
    let (code, _, err) = raqib(&cfg, &["check"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing.key"), "check names the file: {err}");
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("missing.key"), "names the file: {err}");
}

fn read_mails(dir: &std::path::Path) -> Vec<Mail> {
    maildir_mails(dir)
}
