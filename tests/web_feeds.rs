//! Feeds as the web serves them: malformed ones whose intent is clear are
//! read (and marked recovered in `feeds`), and what is not a feed at all
//! gets a message that says what it is. The real binary, a real HTTP
//! server on 127.0.0.1, a maildir.

mod common;

use std::collections::HashMap;

use common::*;

fn served(body: &[u8], content_type: &str) -> Served {
    Served {
        body: body.to_vec(),
        content_type: content_type.into(),
    }
}

/// No version on <rss>, an HTML entity XML does not define, a bare `&`,
/// and the end cut off: feedparser reads all of it, so must raqib.
const MALFORMED: &str = "<rss><channel><title>وكالة</title>\
<item><guid>m1</guid><title>لافروف&nbsp;وكيري يبحثان في جنيف وقف إطلاق النار في سوريا</title>\
<link>https://wire.example/1?a=1&b=2</link>\
<description>بحث وزير الخارجية الروسي سيرغي لافروف ونظيره الأمريكي جون كيري خطة لوقف الأعمال القتالية في سوريا &amp; المساعدات.</description></item>\
<item><guid>m2</guid><title>ما قطع";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_feed_is_read_and_what_is_no_feed_is_named() {
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01";
    let (http, _) = start_http(HashMap::from([
        (
            "malformed".to_string(),
            served(MALFORMED.as_bytes(), "application/rss+xml"),
        ),
        (
            "home".to_string(),
            served(
                "<!DOCTYPE html><html><head><title>الرئيسية</title></head><body>أخبار</body></html>"
                    .as_bytes(),
                "text/html; charset=utf-8",
            ),
        ),
        ("empty".to_string(), served(b"", "application/rss+xml")),
        (
            "json".to_string(),
            served(b"{\"error\": \"rate limited\"}", "application/json"),
        ),
        ("png".to_string(), served(png, "image/png")),
    ]))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        http,
        &[
            ("malformed", "وكالة"),
            ("home", "موقع"),
            ("empty", "فارغ"),
            ("json", "جيسون"),
            ("png", "صورة"),
        ],
        None,
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = maildir_mails(dir.path());
    assert_eq!(mails.len(), 1, "{err}");
    // The entity is a space in the subject, the bare & a link that works.
    assert!(
        mails[0].subject.starts_with("لافروف وكيري"),
        "{}",
        mails[0].subject
    );
    assert!(
        mails[0].text.contains("https://wire.example/1?a=1&b=2"),
        "{}",
        mails[0].text
    );

    let (_, out, _) = raqib(&cfg, &["feeds", "--json"]).await;
    let feeds: serde_json::Value = serde_json::from_str(&out).expect("json");
    let by_name = |name: &str| -> serde_json::Value {
        feeds
            .as_array()
            .expect("array")
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no feed {name} in {out}"))
    };
    let m = by_name("وكالة");
    assert_eq!(m["state"], "ok", "{m}");
    let how = m["recovered"].as_str().unwrap_or_default();
    assert!(
        how.contains("version") && how.contains("bare &") && how.contains("cut off"),
        "{m}"
    );
    for (name, says) in [
        ("موقع", "this is an HTML page, not a feed"),
        ("فارغ", "the response is empty"),
        ("جيسون", "this is a JSON document, not a JSON Feed"),
        ("صورة", "this is binary data"),
    ] {
        let f = by_name(name);
        assert_eq!(f["state"], "error", "{f}");
        let error = f["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{name}: {error}");
    }
    // The table says so too.
    let (_, table, _) = raqib(&cfg, &["feeds"]).await;
    assert!(table.contains("recovered: parsed after repairs"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_page_is_polled_through_the_feed_it_links_on_its_own_site() {
    let page = |href: &str| {
        served(
            format!(
                "<!DOCTYPE html><html><head><title>الرئيسية</title>\
                 <link rel=\"alternate\" type=\"application/rss+xml\" title=\"RSS\" href=\"{href}\">\
                 </head><body>أخبار</body></html>"
            )
            .as_bytes(),
            "text/html",
        )
    };
    let mut feeds = standard_feeds();
    feeds.insert("home".into(), page("wire"));
    feeds.insert("elsewhere".into(), page("http://feeds.example.net/rss"));
    let (http, state) = start_http(feeds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        http,
        &[("home", "الرئيسية"), ("elsewhere", "موقع آخر")],
        None,
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = std::fs::read_dir(dir.path().join("mail/new"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(mails >= 1, "the linked feed's stories alert: {err}");

    let (_, out, _) = raqib(&cfg, &["feeds", "--json"]).await;
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let home = &list[0];
    assert_eq!(home["state"], "ok", "{home}");
    assert_eq!(
        home["discovered"],
        format!("http://{http}/feeds/wire"),
        "{home}"
    );
    assert!(home["items"].as_u64().unwrap_or(0) > 0, "{home}");
    let other = &list[1];
    assert_eq!(other["state"], "error", "{other}");
    let error = other["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("http://feeds.example.net/rss") && error.contains("another site"),
        "{error}"
    );
    let (_, table, _) = raqib(&cfg, &["feeds"]).await;
    assert!(table.contains("put that in the config"), "{table}");

    // Next time the feed is polled directly: the page is not fetched again.
    let before = state.lock().expect("lock").requests.get("home").copied();
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let st = state.lock().expect("lock");
    assert_eq!(st.requests.get("home").copied(), before, "{err}");
    assert!(st.requests.get("wire").copied().unwrap_or(0) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_shows_entries_topics_and_copies_and_stores_nothing() {
    let (http, _) = start_http(standard_feeds()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("wire", "وكالة")], None);
    let wire = format!("http://{http}/feeds/wire");
    let lines = |out: &str| -> Vec<serde_json::Value> {
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };

    let (code, out, err) = raqib(&cfg, &["try", &wire, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let entries = lines(&out);
    assert_eq!(entries.len(), 2, "{out}");
    assert_eq!(entries[0]["topics"], serde_json::json!(["syria-us-russia"]));
    assert!(entries[0]["matches"][0]["explanation"]
        .as_str()
        .unwrap_or_default()
        .contains("لافروف"));
    assert_eq!(entries[1]["topics"], serde_json::json!([]));
    assert!(entries
        .iter()
        .all(|e| e["id"].is_string() && e["title"].is_string()));
    assert!(!dir.path().join("db").exists(), "try created the database");

    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = || {
        std::fs::read_dir(dir.path().join("mail/new"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let sent = mails();

    // The outlet's copy of the wire story is recognised; the wire's own
    // entries are known; nothing is stored or sent.
    let (code, out, err) = raqib(
        &cfg,
        &["try", &format!("http://{http}/feeds/sham"), "--json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let sham = lines(&out);
    let copy = sham
        .iter()
        .find(|e| !e["copy_of"].is_null())
        .unwrap_or_else(|| panic!("no copy found: {out}"));
    assert!(
        copy["title"].as_str().unwrap_or_default().contains("لافروف"),
        "{copy}"
    );
    let (_, out, _) = raqib(&cfg, &["try", &wire, "--json"]).await;
    assert!(lines(&out).iter().all(|e| e["stored"] == true), "{out}");
    let (_, table, _) = raqib(&cfg, &["feeds", "--json"]).await;
    assert!(table.contains("\"items\":2"), "{table}");
    assert_eq!(mails(), sent);

    // The stored items, filtered by topic.
    let (code, out, err) = raqib(
        &cfg,
        &[
            "items",
            "--json",
            "--topic",
            "syria-us-russia",
            "--since",
            "1h",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let items: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(items[0]["topics"], serde_json::json!(["syria-us-russia"]));
    let (_, all, _) = raqib(&cfg, &["items", "--json"]).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&all)
            .expect("json")
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // The text form says the same in words.
    let (_, text, _) = raqib(&cfg, &["try", &format!("http://{http}/feeds/sham")]).await;
    assert!(text.contains("topic syria-us-russia:"), "{text}");
    assert!(text.contains("a copy of the stored story"), "{text}");
}

/// An RSS feed titled `channel` with one item.
fn one_item(channel: &str, guid: &str, title: &str, text: &str) -> Served {
    served(
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>{channel}</title>\
             <item><guid>{guid}</guid><title>{title}</title><link>https://x.example/{guid}</link>\
             <description><![CDATA[{text}]]></description></item></channel></rss>"
        )
        .as_bytes(),
        "application/rss+xml",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_shows_the_tidiest_headline_without_outlet_names_or_datelines() {
    let body = "بحث وزير الخارجية الروسي سيرغي لافروف ونظيره الأمريكي جون كيري في جنيف اليوم خطة لوقف الأعمال القتالية في سوريا تبدأ مع عيد الأضحى.\n\
                وقال كيري في مؤتمر صحفي إن الخطة تتضمن إيصال المساعدات إلى حلب وإنشاء مركز مشترك لتنسيق الضربات.";
    let (http, _) = start_http(HashMap::from([
        (
            "first".to_string(),
            one_item(
                "وكالة الأنباء",
                "a1",
                "عاجل | لافروف وكيري يبحثان في جنيف وقف إطلاق النار في سوريا",
                &format!("جنيف - وكالات\n{body}"),
            ),
        ),
        (
            "second".to_string(),
            one_item(
                "الشام اليوم",
                "b1",
                "لافروف وكيري يبحثان في جنيف وقف النار في سوريا | الشام اليوم",
                body,
            ),
        ),
    ]))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        http,
        &[("first", "وكالة الأنباء"), ("second", "الشام اليوم")],
        None,
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = maildir_mails(dir.path());
    assert_eq!(mails.len(), 1, "one story: {err}");
    let m = &mails[0];
    // The second outlet's headline, its name gone, beats the first's «عاجل |».
    assert_eq!(
        m.subject, "لافروف وكيري يبحثان في جنيف وقف النار في سوريا",
        "{err}"
    );
    assert!(
        !m.text.contains("الشام اليوم |") && !m.text.contains("| الشام اليوم"),
        "{}",
        m.text
    );
    assert!(!m.text.contains("جنيف - وكالات"), "{}", m.text);
    assert!(m.text.contains("بحث وزير الخارجية الروسي"), "{}", m.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feeds_selector_picks_the_article_text_and_exclude_leaves_parts_out() {
    // The generic scoring would take the long related-stories list; the
    // site's rule names the article body and leaves the share bar out.
    let related: String = (0..12)
        .map(|i| format!("<p>خبر ذو صلة رقم {i}، عن الطقس والرياضة والاقتصاد، مع تفاصيل كثيرة، وأخرى، وغيرها.</p>"))
        .collect();
    let page = format!(
        "<!DOCTYPE html><html lang=\"ar\"><head><title>الموقع</title></head><body>\
         <div class=\"story\"><div class=\"share\">شارك الخبر على فيسبوك وتويتر وواتساب الآن</div>\
         <p>اتفق وزير الخارجية الأمريكي جون كيري ونظيره الروسي سيرغي لافروف في جنيف على هدنة في سوريا.</p></div>\
         <section class=\"more\">{related}</section></body></html>"
    );
    let (http, state) = start_http(HashMap::new()).await;
    let feed = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><guid>p1</guid><link>http://{http}/feeds/page</link><title>كيري ولافروف يتفقان على هدنة في سوريا</title>\
         <description>ملخص.</description></item></channel></rss>"
    );
    {
        let mut st = state.lock().expect("lock");
        st.feeds.insert(
            "page".into(),
            served(page.as_bytes(), "text/html; charset=utf-8"),
        );
        st.feeds
            .insert("art".into(), served(feed.as_bytes(), "application/rss+xml"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), http, &[("art", "موقع")], None);
    add_to_feed(
        &cfg,
        "موقع",
        "selector = \".story\"\nexclude = [\".share\"]\n",
    );
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    let mails = maildir_mails(dir.path());
    assert_eq!(mails.len(), 1, "{err}");
    assert!(
        mails[0].text.contains("اتفق وزير الخارجية الأمريكي"),
        "{}",
        mails[0].text
    );
    assert!(!mails[0].text.contains("خبر ذو صلة"), "{}", mails[0].text);
    assert!(!mails[0].text.contains("شارك الخبر"), "{}", mails[0].text);
    assert_eq!(state.lock().expect("lock").requests.get("page"), Some(&1));

    // A selector that is not CSS is refused at its place in the file.
    let bad = std::fs::read_to_string(&cfg)
        .expect("read")
        .replace("selector = \".story\"", "selector = \"div[\"");
    std::fs::write(&cfg, bad).expect("write");
    let (code, _, err) = raqib(&cfg, &["check"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("raqib.toml:") && err.contains("is not a CSS selector"),
        "{err}"
    );
}
