//! `raqib run` reloads the watchlist when the file changes; a bad edit is
//! reported as FILE:LINE:COL and the last good watchlist stays in force.

mod common;

use common::wait_for;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>",
    );
    for (guid, title, body) in items {
        s.push_str(&format!("<item><guid>{guid}</guid><title>{title}</title><description>{body}</description></item>"));
    }
    s.push_str("</channel></rss>");
    s
}

const A: (&str, &str, &str) = (
    "a",
    "لافروف وكيري يبحثان الهدنة في سوريا",
    "اتصال هاتفي بين موسكو وواشنطن حول حلب.",
);
const B: (&str, &str, &str) = (
    "b",
    "البنتاغون يتهم موسكو بخرق قواعد الاشتباك في سوريا",
    "مقاتلات روسية قرب قاعدة التنف.",
);
const C: (&str, &str, &str) = (
    "c",
    "بوتين وبايدن يبحثان الملف السوري في جنيف",
    "قمة روسية أمريكية حول سوريا.",
);

#[test]
fn bad_edit_keeps_the_last_good_watchlist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let feed = d.join("feed.xml");
    std::fs::write(&feed, rss(&[A])).expect("write feed");
    let wl = d.join("watchlist.toml");
    std::fs::copy(repo("config/watchlist.toml"), &wl).expect("copy watchlist");
    let cfg = d.join("raqib.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"db\"\n[poll]\ninterval = \"1s\"\n[[feeds]]\nurl = \"file:feed.xml\"\n[email.maildir]\npath = \"mail\"\n[alerts]\nwindow = \"1s\"\n",
    )
    .expect("write config");
    let log = std::fs::File::create(d.join("log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_raqib"))
        .args(["--config", cfg.to_str().expect("path"), "run"])
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn");
    let mail = d.join("mail/new");
    let result = std::panic::catch_unwind(|| {
        wait_for("the first alert", 20, || count(&mail) == 1);

        // A bad edit: the daemon says where, and keeps the old watchlist.
        let good = std::fs::read_to_string(&wl).expect("read");
        std::fs::write(
            &wl,
            format!("{good}\n[[topic]]\nid = \"broken\"\nalert = \"sometimes\"\n"),
        )
        .expect("edit");
        let log_path = d.join("log");
        wait_for("the rejection in the log", 20, || {
            std::fs::read_to_string(&log_path)
                .is_ok_and(|l| l.contains("watchlist.toml:") && l.contains("reload rejected"))
        });
        std::fs::write(&feed, rss(&[A, B])).expect("write feed");
        wait_for("the second alert, matched by the old watchlist", 20, || {
            count(&mail) == 2
        });

        // A good edit that follows something else: new items stop matching.
        std::fs::write(&wl, "[[topic]]\nid = \"other\"\nany = [\"كرة القدم\"]\n").expect("edit");
        wait_for("the reload", 20, || {
            std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("watchlist reloaded"))
        });
        std::fs::write(&feed, rss(&[A, B, C])).expect("write feed");
        // Asked of the running daemon: it holds the database.
        wait_for("the third item to be stored", 20, || {
            Command::new(env!("CARGO_BIN_EXE_raqib"))
                .args(["--config", cfg.to_str().expect("path"), "feeds", "--json"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\"items\":3"))
        });
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            count(&mail),
            2,
            "the new watchlist does not match the third item"
        );
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    if let Err(e) = result {
        let log = std::fs::read_to_string(d.join("log")).unwrap_or_default();
        eprintln!("daemon log:\n{log}");
        std::panic::resume_unwind(e);
    }
}
