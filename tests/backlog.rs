//! The backlog guard (`[alerts] max_age`): a new feed's old entries are
//! stored, not alerted; undated ones count as new; copies of the old
//! stories still fold into them; a feed that works keeps alerting whatever
//! its entries' dates, and one back after longer than `max_age` is a new
//! backlog again. The real binary, a real HTTP server, a maildir.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use common::*;

/// Twelve different stories the default watchlist alerts on.
const OLD: [&str; 12] = [
    "لافروف يتهم واشنطن بعرقلة الحل السياسي في سوريا",
    "البنتاغون يرسل تعزيزات إلى قاعدة التنف ردا على تحركات روسية",
    "بوتين وبايدن يناقشان ملف المساعدات عبر باب الهوى",
    "موسكو ترفض مشروع قرار أمريكي حول الأسلحة الكيميائية في دمشق",
    "زاخاروفا: الوجود الأمريكي شرق الفرات احتلال",
    "بلينكن يحذر الكرملين من تصعيد جديد في إدلب",
    "قاذفات روسية تحلق قرب مواقع التحالف الدولي في البادية السورية",
    "شويغو ووزير الدفاع الأمريكي يبحثان هاتفيا منع الاحتكاك فوق سوريا",
    "نيبينزيا ينتقد العقوبات الأمريكية بموجب قانون قيصر",
    "بيسكوف: لا اتصالات مع البيت الأبيض بشأن مستقبل الأسد",
    "واشنطن تتهم موسكو بقصف مستشفى في ريف حلب",
    "الولايات المتحدة وروسيا تتبادلان الاتهامات في مجلس الأمن حول حمص",
];

const NEW: &str = "لافروف وكيري يبحثان في جنيف وقف إطلاق النار في سوريا";
const UNDATED: &str = "موسكو تتهم واشنطن بخرق قواعد تفادي الاشتباك فوق سوريا";

/// One RSS item: `ago` the age of its date, `None` for no date.
fn item(guid: &str, title: &str, ago: Option<chrono::Duration>) -> String {
    let date = ago
        .map(|a| format!("<pubDate>{}</pubDate>", (Utc::now() - a).to_rfc2822()))
        .unwrap_or_default();
    format!(
        "<item><guid>{guid}</guid><title>{title}</title><link>https://x.example/{guid}</link>\
         <description>{title}. وقال مصدر مطلع إن الخبر {guid} تفاصيله كثيرة.</description>{date}</item>"
    )
}

fn rss(items: &[String]) -> Served {
    Served {
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>{}</channel></rss>",
            items.concat()
        )
        .into_bytes(),
        content_type: "application/rss+xml".into(),
    }
}

fn subjects(dir: &Path) -> Vec<String> {
    let mut s: Vec<String> = maildir_mails(dir).into_iter().map(|m| m.subject).collect();
    s.sort();
    s
}

/// `write_config`'s file with the backlog guard set to `max_age` (the
/// shared helper turns it off for the 2016 fixtures).
fn config(
    dir: &Path,
    http: std::net::SocketAddr,
    feeds: &[(&str, &str)],
    max_age: Option<&str>,
) -> std::path::PathBuf {
    let cfg = write_config(dir, http, feeds, None);
    let line = match max_age {
        Some(age) => format!("max_age = \"{age}\"\n"),
        None => String::new(),
    };
    let text = std::fs::read_to_string(&cfg)
        .expect("read config")
        .replace("max_age = \"30years\"\n", &line);
    std::fs::write(&cfg, text).expect("write config");
    cfg
}

fn days(n: i64) -> Option<chrono::Duration> {
    Some(chrono::Duration::days(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_feeds_old_backlog_is_stored_not_alerted_and_its_copies_fold() {
    let mut items: Vec<String> = OLD
        .iter()
        .enumerate()
        .map(|(k, t)| item(&format!("old{k}"), t, days(30 + 15 * k as i64)))
        .collect();
    items.push(item("new", NEW, Some(chrono::Duration::hours(3))));
    items.push(item("undated", UNDATED, None));
    let (http, state) = start_http(HashMap::from([("a".to_string(), rss(&items))])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The default max_age (2 days).
    let cfg = config(dir.path(), http, &[("a", "الأولى")], None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("14 new items (12 older than [alerts] max_age, not alerted)"),
        "{err}"
    );
    let mut want = vec![NEW.to_string(), UNDATED.to_string()];
    want.sort();
    assert_eq!(
        subjects(dir.path()),
        want,
        "only the recent and the undated entries alert"
    );

    // Every entry was stored: `feeds` counts them.
    let (_, out, _) = raqib(&cfg, &["feeds", "--json"]).await;
    let feeds: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(feeds[0]["items"], 14, "{out}");

    // A second outlet, new too, carries a fresh copy of an old story and a
    // story of its own from a month ago: the copy folds into the stored
    // story and the old story is backlog; nothing alerts.
    state.lock().expect("lock").feeds.insert(
        "b".into(),
        rss(&[
            item("copy", OLD[3], Some(chrono::Duration::minutes(5))),
            item(
                "b-old",
                "تدريبات روسية أمريكية متزامنة قرب الجولان",
                days(31),
            ),
        ]),
    );
    let cfg = config(dir.path(), http, &[("a", "الأولى"), ("b", "الثانية")], None);
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(subjects(dir.path()).len(), 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_feed_alerts_whatever_the_date_and_one_back_after_max_age_is_a_backlog() {
    let first = item("g1", NEW, Some(chrono::Duration::minutes(1)));
    let (http, state) = start_http(HashMap::from([(
        "a".to_string(),
        rss(std::slice::from_ref(&first)),
    )]))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), http, &[("a", "الأولى")], Some("1h"));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(subjects(dir.path()).len(), 1, "{err}");

    // Polled a moment ago: an entry dated a day back is news all the same
    // (the outlet published it late).
    let late = item("g2", OLD[0], days(1));
    state
        .lock()
        .expect("lock")
        .feeds
        .insert("a".into(), rss(&[first.clone(), late.clone()]));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(subjects(dir.path()).len(), 2, "{err}");

    // Away longer than max_age (shortened to 2 s): what comes back is a
    // backlog, and its entry from ten minutes ago is held.
    let cfg = config(dir.path(), http, &[("a", "الأولى")], Some("2s"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let back = item("g3", OLD[1], Some(chrono::Duration::minutes(10)));
    state
        .lock()
        .expect("lock")
        .feeds
        .insert("a".into(), rss(&[first, late, back]));
    let (code, _, err) = raqib(&cfg, &["once"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(1 older than [alerts] max_age"), "{err}");
    assert_eq!(subjects(dir.path()).len(), 2, "{err}");
}
