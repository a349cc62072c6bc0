//! The command line: `check` errors with FILE:LINE:COL and exit 2, the
//! shipped configs, `text`, `eval`, and `run` stopping cleanly on SIGTERM.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn raqib_sync(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_raqib"))
        .args(args)
        .output()
        .expect("run raqib");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Writes `config` (and a valid watchlist unless `watchlist` is given) and
/// runs `raqib check`.
fn check(config: &str, watchlist: Option<&str>) -> (i32, String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("raqib.toml");
    std::fs::write(&cfg, config).expect("write");
    let wl = watchlist.map(str::to_string).unwrap_or_else(|| {
        std::fs::read_to_string(repo("config/watchlist.toml")).expect("default watchlist")
    });
    std::fs::write(dir.path().join("watchlist.toml"), wl).expect("write");
    let (code, _, err) = raqib_sync(&["--config", cfg.to_str().expect("utf-8 path"), "check"]);
    (code, err, dir.path().to_path_buf(), dir)
}

fn assert_points_at(
    config: &str,
    watchlist: Option<&str>,
    file: &str,
    line: usize,
    col: usize,
    words: &str,
) {
    let (code, err, dir, _keep) = check(config, watchlist);
    assert_eq!(code, 2, "{err}");
    let expected = format!("{}:{line}:{col}: ", dir.join(file).display());
    assert!(
        err.starts_with(&expected),
        "expected {expected:?}, got {err:?}"
    );
    assert!(err.contains(words), "{err:?} lacks {words:?}");
}

#[test]
fn shipped_configs_are_valid() {
    for cfg in ["config/raqib.toml", "config/demo.toml"] {
        let (code, out, err) =
            raqib_sync(&["--config", repo(cfg).to_str().expect("path"), "check"]);
        assert_eq!(code, 0, "{cfg}: {err}");
        assert!(out.contains("ok"), "{out}");
    }
}

#[test]
fn toml_syntax_error() {
    assert_points_at(
        "[poll]\ninterval = \"10m\nx = 1\n",
        None,
        "raqib.toml",
        2,
        16,
        "expected",
    );
}

#[test]
fn unknown_key() {
    assert_points_at(
        "[poll]\ninterval = \"10m\"\nintervall = \"5m\"\n",
        None,
        "raqib.toml",
        3,
        1,
        "intervall",
    );
}

#[test]
fn bad_duration() {
    assert_points_at(
        "[alerts]\nwindow = \"two minutes\"\n",
        None,
        "raqib.toml",
        2,
        10,
        "duration",
    );
}

#[test]
fn bad_url() {
    assert_points_at(
        "\n[[feeds]]\nurl = \"gopher://x.org/rss\"\n",
        None,
        "raqib.toml",
        3,
        7,
        "scheme",
    );
    assert_points_at(
        "[[feeds]]\nurl = \"http//broken\"\n",
        None,
        "raqib.toml",
        2,
        7,
        "URL",
    );
}

#[test]
fn bad_address() {
    assert_points_at(
        "[email]\nto = [\"ok@example.org\", \"not an address\"]\n",
        None,
        "raqib.toml",
        2,
        25,
        "address",
    );
}

#[test]
fn bad_value_type() {
    assert_points_at(
        "[email.smtp]\nhost = \"127.0.0.1\"\nport = \"twenty-five\"\n",
        None,
        "raqib.toml",
        3,
        8,
        "",
    );
}

#[test]
fn watchlist_errors_point_into_the_watchlist() {
    let wl = "[[topic]]\nid = \"t\"\nall = [[\"سوريا\"]]\nalert = \"sometimes\"\n";
    assert_points_at("", Some(wl), "watchlist.toml", 4, 9, "");
    let wl = "[[topic]]\nid = \"t\"\nall = [[\"سوريا\"]]\nexclude = [\"x\"]\n";
    assert_points_at("", Some(wl), "watchlist.toml", 4, 1, "exclude");
}

#[test]
fn missing_config_is_a_clear_error() {
    let (code, _, err) = raqib_sync(&["--config", "/nonexistent/raqib.toml", "check"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/raqib.toml"), "{err}");
}

#[test]
fn eval_prints_a_json_summary_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = dir.path().join("t.jsonl");
    std::fs::write(
        &topic,
        concat!(
            "{\"id\":\"1\",\"title\":\"لافروف وكيري يبحثان الأزمة السورية\",\"summary\":\"في جنيف.\",\"label\":\"core\"}\n",
            "{\"id\":\"2\",\"title\":\"المنتخب السوري يفوز\",\"summary\":\"في كأس آسيا.\",\"label\":\"off\"}\n",
        ),
    )
    .expect("write");
    let cfg = repo("config/raqib.toml");
    let (code, out, err) = raqib_sync(&[
        "--config",
        cfg.to_str().expect("path"),
        "eval",
        "topic",
        topic.to_str().expect("path"),
        "--details",
    ]);
    assert_eq!(code, 0, "{err}");
    let last = out.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(last).expect("json");
    assert_eq!(
        (v["n"].as_u64(), v["tp"].as_u64(), v["tn"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "one detail line per case: {out}");

    let dup = dir.path().join("d.jsonl");
    let body = "قال وزير الخارجية الروسي إن المحادثات مع واشنطن حول سوريا متوقفة منذ أسابيع طويلة.\\nوأضاف أن موسكو مستعدة لاستئناف الحوار في أي وقت إذا توفرت الإرادة.";
    std::fs::write(
        &dup,
        format!(
            "{{\"id\":\"d1\",\"a\":{{\"title\":\"موسكو: المحادثات متوقفة\",\"body\":\"{body}\"}},\"b\":{{\"title\":\"المحادثات متوقفة | موقع\",\"body\":\"موسكو - وكالات\\n{body}\"}},\"label\":\"duplicate\"}}\n"
        ),
    )
    .expect("write");
    let (code, out, err) = raqib_sync(&[
        "--config",
        cfg.to_str().expect("path"),
        "eval",
        "dedup",
        dup.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["tp"].as_u64(), Some(1), "{out}");
    assert_eq!(v["same_event_merged"].as_u64(), Some(0));
}

#[test]
fn hamza_seats_fold_unless_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("watchlist.toml"),
        "[[topic]]\nid = \"t\"\nall = [[\"رئيس\"]]\n",
    )
    .expect("write");
    let cases = dir.path().join("t.jsonl");
    std::fs::write(
        &cases,
        "{\"id\":\"1\",\"title\":\"رييس الوزراء يزور دمشق\",\"label\":\"core\"}\n",
    )
    .expect("write");
    let recall = |text_section: &str| {
        let cfg = dir.path().join("raqib.toml");
        std::fs::write(
            &cfg,
            format!("watchlist = \"watchlist.toml\"\n{text_section}"),
        )
        .expect("write");
        let (code, out, err) = raqib_sync(&[
            "--config",
            cfg.to_str().expect("path"),
            "eval",
            "topic",
            cases.to_str().expect("path"),
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
        v["recall"].as_f64()
    };
    assert_eq!(
        recall(""),
        Some(1.0),
        "رئيس and رييس are one word by default"
    );
    assert_eq!(
        recall("[text]\nfold_hamza_seats = false\n"),
        Some(0.0),
        "not when the seat is kept"
    );
}

/// Golden files: `tests/data/text/NAME.txt|html` → `NAME.expected.txt`.
#[test]
fn text_golden_files() {
    let dir = repo("tests/data/text");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/data/text") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.ends_with(".expected.txt") || !(name.ends_with(".txt") || name.ends_with(".html")) {
            continue;
        }
        let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&name);
        let expected = std::fs::read_to_string(dir.join(format!("{stem}.expected.txt")))
            .expect("expected file");
        let (code, out, err) = raqib_sync(&["text", path.to_str().expect("path")]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.trim_end(), expected.trim_end(), "{name}");
        checked += 1;
    }
    assert!(checked >= 3, "golden files missing");
}

#[test]
fn run_stops_on_sigterm_and_keeps_its_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("feeds")).expect("mkdir");
    std::fs::copy(
        repo("tests/data/feeds/wire_rss.xml"),
        dir.path().join("feeds/wire.xml"),
    )
    .expect("copy");
    std::fs::copy(
        repo("config/watchlist.toml"),
        dir.path().join("watchlist.toml"),
    )
    .expect("copy");
    let cfg = dir.path().join("raqib.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"db\"\n[poll]\ninterval = \"1s\"\n[[feeds]]\nurl = \"file:feeds/wire.xml\"\n[email.maildir]\npath = \"mail\"\n[alerts]\nwindow = \"1s\"\nmax_age = \"30years\"\n",
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_raqib"))
        .args(["--config", cfg.to_str().expect("path"), "run"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The alert waits for its 1 s window, then is delivered.
    let deadline = Instant::now() + Duration::from_secs(20);
    let new_dir = dir.path().join("mail/new");
    while Instant::now() < deadline {
        if std::fs::read_dir(&new_dir).map(|d| d.count()).unwrap_or(0) > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let exit = exit.expect("raqib run did not stop on SIGTERM");
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        std::fs::read_dir(&new_dir).map(|d| d.count()).unwrap_or(0),
        1,
        "one alert delivered"
    );
    // The database is closed cleanly: the listing opens it.
    let (code, out, err) =
        raqib_sync(&["--config", cfg.to_str().expect("path"), "feeds", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"items\":2"), "{out}");
}

/// Cleanup never drops a line that occurs once and is not boilerplate, and
/// keeps the order: random articles of unique sentences with noise mixed in.
#[test]
fn cleanup_keeps_every_unique_sentence_in_order() {
    let words = [
        "قال",
        "وزير",
        "الخارجية",
        "إن",
        "المحادثات",
        "مع",
        "واشنطن",
        "حول",
        "سوريا",
        "متوقفة",
        "وأضاف",
        "أن",
        "موسكو",
        "مستعدة",
        "لاستئناف",
        "الحوار",
        "في",
        "أي",
        "وقت",
        "الجيش",
        "الأمريكي",
        "قاعدة",
        "التنف",
    ];
    let noise = [
        "شام تايمز",
        "اقرأ أيضاً: أسعار الذهب اليوم",
        "SHARE",
        "كلمات دلالية: سوريا، روسيا",
    ];
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for round in 0..200 {
        let n = 3 + next() % 8;
        let sentences: Vec<String> = (0..n)
            .map(|i| {
                let len = 6 + next() % 10;
                let mut s: Vec<&str> = (0..len).map(|_| words[next() % words.len()]).collect();
                s.push(if i % 2 == 0 { "اليوم" } else { "أمس" });
                format!("{} {round}{i}.", s.join(" "))
            })
            .collect();
        let mut page = Vec::new();
        for s in &sentences {
            if next() % 3 == 0 {
                page.push(noise[next() % noise.len()].to_string());
            }
            page.push(s.clone());
        }
        page.push(noise[0].to_string());
        let kept = raqib::text::clean::clean_lines(&page.join("\n"));
        assert_eq!(kept, sentences, "round {round}: {page:?}");
    }
}

/// `watchlist test` replays a database that `once` built, against an edit.
#[test]
fn watchlist_test_replays_stored_items_against_an_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("feeds")).expect("mkdir");
    for f in ["wire_rss.xml", "outlet_atom.xml"] {
        std::fs::copy(
            repo(&format!("tests/data/feeds/{f}")),
            d.join("feeds").join(f),
        )
        .expect("copy");
    }
    std::fs::copy(repo("config/watchlist.toml"), d.join("watchlist.toml")).expect("copy");
    let cfg = d.join("raqib.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"db\"\n[[feeds]]\nurl = \"file:feeds/wire_rss.xml\"\n[[feeds]]\nurl = \"file:feeds/outlet_atom.xml\"\n[email.maildir]\npath = \"mail\"\n",
    )
    .expect("write");
    let c = cfg.to_str().expect("path");
    let (code, _, err) = raqib_sync(&["--config", c, "once"]);
    assert_eq!(code, 0, "{err}");

    // Unchanged watchlist: the same matches now as then.
    let (code, out, err) = raqib_sync(&["--config", c, "watchlist", "test"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("4 items replayed; matched then 3, now 3 (+0)"),
        "{out}"
    );

    // An edit that requires Geneva: the drone story no longer matches.
    let edited = std::fs::read_to_string(d.join("watchlist.toml"))
        .expect("read")
        .replace(
            "all = [[\"@syria\"], [\"@us\"], [\"@russia\"]]",
            "all = [[\"@syria\"], [\"@us\"], [\"@russia\"], [\"جنيف\"]]",
        );
    std::fs::write(d.join("watchlist.toml"), edited).expect("write");
    let (code, out, err) = raqib_sync(&[
        "--config",
        c,
        "watchlist",
        "test",
        "--topic",
        "syria-us-russia",
        "--since",
        "1h",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("matched then 3, now 2 (-1)"), "{out}");
    assert!(
        out.contains("no longer matched:") && out.contains("مقاتلات روسية"),
        "{out}"
    );
    assert!(
        out.contains("[outlet_atom.xml]"),
        "a file feed is named after its file: {out}"
    );
}

#[test]
fn opml_round_trips_and_completions_and_manpage_print() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("raqib.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"db\"\n[[feeds]]\nurl = \"https://example.org/rss\"\nname = \"مثال\"\n[email.maildir]\npath = \"mail\"\n",
    )
    .expect("write");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_raqib"))
            .args(["--config", cfg.to_str().expect("path")])
            .args(args)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let exported = run(&["opml", "export"]);
    assert!(
        exported.contains("xmlUrl=\"https://example.org/rss\""),
        "{exported}"
    );
    // Another reader's list: one feed configured already, one new in a folder.
    let other = dir.path().join("reader.opml");
    std::fs::write(
        &other,
        "<opml version=\"1.0\"><head/><body><outline text=\"مثال\" xmlUrl=\"https://example.org/rss\"/>\
         <outline text=\"سوريا\"><outline text=\"عنب بلدي\" xmlUrl=\"https://www.enabbaladi.net/feed\"/></outline></body></opml>",
    )
    .expect("write");
    let toml = run(&["opml", "import", other.to_str().expect("path")]);
    assert_eq!(
        toml,
        "# سوريا\n[[feeds]]\nurl = \"https://www.enabbaladi.net/feed\"\nname = \"عنب بلدي\"\n\n"
    );
    // What import prints is config a user can append as it is.
    let mut text = std::fs::read_to_string(&cfg).expect("read");
    text.push_str(&toml);
    std::fs::write(&cfg, text).expect("write");
    assert!(run(&["opml", "export"]).contains("enabbaladi"));
    assert!(run(&["completions", "bash"]).contains("raqib"));
    assert!(run(&["manpage"]).contains(".TH raqib"));
}

#[test]
fn check_names_paths_the_daemon_could_not_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A file where the maildir's folder should be, and a feed file that is not there.
    std::fs::write(dir.path().join("occupied"), b"").expect("write");
    let cfg = dir.path().join("raqib.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"db\"\n[[feeds]]\nurl = \"file:feeds/gone.xml\"\n[email.maildir]\npath = \"occupied/mail\"\n",
    )
    .expect("write");
    let (code, _, err) = raqib_sync(&["--config", cfg.to_str().expect("path"), "check"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("[email.maildir] path") && err.contains("occupied"),
        "{err}"
    );
    assert!(err.contains("gone.xml: no such file"), "{err}");
    assert!(
        !err.contains("[storage] path"),
        "the database folder can be created: {err}"
    );
    // Fixed, it passes, and creates nothing.
    std::fs::create_dir(dir.path().join("feeds")).expect("mkdir");
    std::fs::write(dir.path().join("feeds/gone.xml"), b"<rss/>").expect("write");
    std::fs::remove_file(dir.path().join("occupied")).expect("rm");
    let (code, out, err) = raqib_sync(&["--config", cfg.to_str().expect("path"), "check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"), "{out}");
    assert!(!dir.path().join("db").exists() && !dir.path().join("occupied").exists());
}
