//! The `raqib` command: argument parsing, logging, dispatch. `anyhow` lives
//! only here.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use raqib::config::{self, Config, ConfigError};
use raqib::daemon::{self, Control};
use tokio::sync::mpsc;
use tracing::info;

/// jemalloc, with two arenas and freed pages handed back to the system at
/// once (`.cargo/config.toml`): glibc's allocator kept ~100 MB of freed
/// memory in per-thread arenas after a large poll round. Builds without the
/// `jemalloc` feature use the system's (heaptrack sees only that one).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// `println!` that ends the process quietly when stdout was closed
/// (`raqib items | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            exit_on_closed_stdout(e);
        }
    }};
}

/// `print!` the same way.
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout().lock(), $($arg)*) {
            exit_on_closed_stdout(e);
        }
    }};
}

/// A reader that went away (a pipe closed) ends a listing; any other
/// error writing to stdout is reported.
fn exit_on_closed_stdout(e: std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("raqib: writing to stdout: {e}");
}

/// A write to stdout: a reader that went away ends the listing quietly,
/// any other error is the command's.
fn stdout_written(r: std::io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.context("writing to stdout"),
    }
}

#[derive(Parser)]
#[command(
    name = "raqib",
    version,
    about = "Watches Arabic news feeds for a topic and emails the people who follow it"
)]
struct Cli {
    /// Config file (default: $RAQIB_CONFIG, else /etc/raqib/raqib.toml, else ./config/raqib.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (SIGTERM: finish and exit; SIGHUP: reload config and watchlist).
    Run,
    /// Poll every feed once, deliver every pending alert, exit.
    Once,
    /// Validate the config and the watchlist.
    Check,
    /// Measure the engine on labelled JSONL.
    Eval {
        #[command(subcommand)]
        what: EvalWhat,
    },
    /// Print the main text the engine keeps from an HTML page or a text file.
    Text {
        file: PathBuf,
        /// Try a site rule (as `[[feeds]] selector`): the text it selects.
        #[arg(long)]
        selector: Option<String>,
        /// With --selector: what to leave out inside it (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
    },
    /// Fetch a feed (or a page that links one) once and print what raqib
    /// sees: each entry, the topics it matches and why, whether it is a copy
    /// of a stored story. Stores nothing.
    Try {
        /// http(s) URL, file: URL, or a path.
        url: String,
        /// One JSON object per entry.
        #[arg(long)]
        json: bool,
    },
    /// OPML: export the configured feeds, or print an OPML file's feeds
    /// that are not configured yet as [[feeds]] tables to append.
    Opml {
        #[command(subcommand)]
        what: OpmlWhat,
    },
    /// Shell completions (bash, zsh, fish, elvish, powershell) on stdout.
    Completions { shell: clap_complete::Shell },
    /// The manual page (roff) on stdout: `raqib manpage > raqib.1`.
    Manpage,
    /// Send one test message to [email].to through the configured
    /// transport (SMTP or the maildir).
    TestEmail,
    /// Stored items, newest first: time seen, outlet, topics, title, link.
    Items {
        /// Only items matching this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only items seen within this time (e.g. "24h", "7d").
        #[arg(long)]
        since: Option<humantime::Duration>,
        /// One JSON array (id, title, feed, feed_name, link, published,
        /// seen, story, topics).
        #[arg(long)]
        json: bool,
    },
    /// Each feed: URL, state, last error, items seen, next poll.
    Feeds {
        /// One JSON array (url, name, state, error, items, last_ok,
        /// next_poll, moved_to, interval_secs, interval_reason,
        /// failing_since, recovered, discovered).
        #[arg(long)]
        json: bool,
        /// Only the feeds that need a look: failing, moved permanently,
        /// found on a page, or parsed only after repairs.
        #[arg(long)]
        problems: bool,
    },
    /// Digests: preview the next one, or send it now.
    Digest {
        #[command(subcommand)]
        what: DigestWhat,
    },
    /// Work with the watchlist.
    Watchlist {
        #[command(subcommand)]
        what: WatchlistWhat,
    },
    /// Messages the receiver refused for good: list them, or put one back
    /// in the outbox.
    DeadLetters {
        #[command(subcommand)]
        what: Option<DeadWhat>,
    },
}

#[derive(Subcommand)]
enum DeadWhat {
    /// Id, time, attempts, last error of each (the default).
    List,
    /// Put the dead letter ID back in the outbox, its attempts forgotten.
    Retry { id: String },
}

#[derive(Subcommand)]
enum OpmlWhat {
    /// OPML 2.0 of the configured feeds on stdout.
    Export,
    /// [[feeds]] tables (url, name; category as a comment) for the feeds of
    /// FILE not yet in the config.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum DigestWhat {
    /// Render the next digest from the store without sending it.
    Preview {
        #[arg(long)]
        topic: Option<String>,
        /// Write the HTML here (default: print the text version).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make and send the digest now.
    Send,
}

#[derive(Subcommand)]
enum WatchlistWhat {
    /// Replay stored items through the watchlist on disk: what would match now
    /// versus when they were stored, and the near misses.
    Test {
        /// Only items seen within this time (e.g. "7d", "24h").
        #[arg(long)]
        since: Option<humantime::Duration>,
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Test this file (an edited copy) instead of the live watchlist.
        #[arg(long)]
        watchlist: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum EvalWhat {
    /// Classify each line (`id,title,summary,label`) and compare with its label.
    Topic {
        file: PathBuf,
        /// Topic id (default: the first topic).
        #[arg(long)]
        topic: Option<String>,
        /// One line per case before the summary.
        #[arg(long)]
        details: bool,
        /// Use the plain keyword baseline instead of the watchlist.
        #[arg(long)]
        baseline: bool,
    },
    /// Extraction quality on page sets with gold text (a folder of sets).
    Extract {
        dir: PathBuf,
        #[arg(long)]
        details: bool,
        /// raqib (default), or dom-smoothie when built with the
        /// compare-extractors feature.
        #[arg(long, default_value = "raqib")]
        extractor: String,
    },
    /// Parse every file of a feed test suite (feedparser's with its
    /// manifest.jsonl, feed-rs's fixtures): files parsed by kind, and the
    /// share of simple first-title expectations met.
    Feeds {
        dir: PathBuf,
        /// One line per failure, repair and missed title before the summary.
        #[arg(long)]
        details: bool,
    },
    /// Decide each pair (`id,a,b,label`) and compare with its label.
    Dedup {
        file: PathBuf,
        #[arg(long)]
        details: bool,
        /// Use the plain word-overlap baseline instead of the fingerprints.
        #[arg(long)]
        baseline: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = cli.config.clone().unwrap_or_else(config::default_path);
    init_logging(&config_path);
    match dispatch(cli.command, config_path) {
        Ok(code) => code,
        Err(e) => {
            // A config error is already FILE:LINE:COL: message; say it as is.
            if let Some(ce) = e.downcast_ref::<ConfigError>() {
                eprintln!("{ce}");
                return ExitCode::from(2);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RAQIB_LOG`, else the config's `log_level`,
/// else "info". Under systemd's journal (`JOURNAL_STREAM` names stderr):
/// one line per event with its sd-daemon(3) priority (`<3>` error … `<7>`
/// debug), no timestamp (the journal keeps its own) and no colours.
fn init_logging(config_path: &std::path::Path) {
    const QUIET: &str = ",html5ever=error,selectors=error";
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAQIB_LOG").unwrap_or_else(|_| {
        // A config that does not load is reported by the command itself.
        let level = Config::load(config_path)
            .ok()
            .and_then(|c| c.log_level)
            .unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(format!("{level}{QUIET}"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("info{QUIET}")))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if to_journal() {
        builder.with_ansi(false).event_format(Journald).init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// True when stderr is the journal's stream (systemd sets `JOURNAL_STREAM`
/// to its device and inode).
fn to_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    v.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

/// Lines the journal reads: `<priority>target: message fields`.
struct Journald;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Journald
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>{}: ", event.metadata().target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Parsing takes one blocking thread per core and the writer one;
        // more threads buy nothing, and each is a malloc arena of its own
        // (round 1 of the 10,000-feed benchmark: 345 MB peak with tokio's
        // default of 512, 208 MB with 4).
        .max_blocking_threads(4)
        .build()
        .context("starting the async runtime")
}

fn dispatch(command: Command, config_path: PathBuf) -> Result<ExitCode> {
    match command {
        Command::Check => {
            let cfg = load_config(&config_path)?;
            let wl = cfg.load_watchlist()?;
            let wl_name = if cfg.watchlist.exists() {
                cfg.watchlist.display().to_string()
            } else {
                "built-in watchlist".to_string()
            };
            // What the daemon will write and read must be there: a config
            // that parses can still name a folder the service may not write.
            let problems = path_problems(&cfg);
            for p in &problems {
                eprintln!("{}: {p}", config_path.display());
            }
            if !problems.is_empty() {
                return Ok(ExitCode::from(2));
            }
            out!(
                "{}: ok ({} feeds); {wl_name}: ok ({} topics)",
                config_path.display(),
                cfg.feeds.len(),
                wl.topics.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Once => {
            let cfg = load_config(&config_path)?;
            // A bar only where someone watches a long round.
            let bar = if cfg.feeds.len() >= 50 {
                progress_bar("feeds")
            } else {
                indicatif::ProgressBar::hidden()
            };
            let report = runtime()?.block_on(daemon::once(cfg, bar))?;
            eprintln!("raqib once: {}", report.summary());
            Ok(ExitCode::from(report.exit_code()))
        }
        Command::Run => {
            let rt = runtime()?;
            rt.block_on(async {
                let (tx, rx) = mpsc::channel(4);
                tokio::spawn(forward_signals(tx));
                daemon::run(&config_path, rx).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Text {
            file,
            selector,
            exclude,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let input = raqib::fetch::charset::decode_html(&bytes, None);
            let Some(selector) = selector else {
                out!("{}", raqib::text::main_text(&input));
                return Ok(ExitCode::SUCCESS);
            };
            let rule = raqib::text::extract::SiteRule::new(&selector, &exclude)
                .map_err(anyhow::Error::msg)?;
            match rule.extract(&input) {
                Some(text) => out!("{}", raqib::text::clean::clean(&text)),
                None => bail!("{selector:?} matches no text on this page"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Feeds { json, problems } => {
            let cfg = load_config(&config_path)?;
            let rt = runtime()?;
            let (mut list, dead) = match reader(&cfg, &rt)? {
                Reader::Daemon(c) => {
                    let list: Vec<daemon::FeedStatus> = rt.block_on(c.get("/api/feeds"))?;
                    let dead: Vec<raqib::store::Alert> = rt.block_on(c.get("/api/dead-letters"))?;
                    (list, dead.len())
                }
                Reader::Store(store) => (
                    daemon::feed_statuses(&cfg, &store)?,
                    store.dead_letters()?.len(),
                ),
            };
            let all = list.len();
            let failing = list.iter().filter(|f| f.is_failing()).count();
            if problems {
                list.retain(daemon::FeedStatus::needs_a_look);
            }
            if json {
                out!("{}", serde_json::to_string(&list)?);
            } else {
                if !list.is_empty() {
                    out_raw!("{}", feeds_table(&list, cfg.email.timezone));
                }
                // Thousands of rows scroll away: the count comes last.
                out!(
                    "{all} feeds: {} ok, {failing} failing{}",
                    all - failing,
                    if problems {
                        format!("; {} to look at", list.len())
                    } else {
                        String::new()
                    }
                );
                if dead > 0 {
                    out!(
                        "dead letters: {dead} message(s) refused permanently: `raqib dead-letters`"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { what } => eval(what, &config_path),
        Command::Try { url, json } => try_feed(&config_path, &url, json),
        Command::Items { topic, since, json } => {
            let cfg = load_config(&config_path)?;
            let rt = runtime()?;
            let tz = cfg.email.timezone;
            // Each row is printed as it comes: a listing of months of items
            // never holds them all. Buffered: stdout writes each line at
            // once, which made a long table twice as slow as the JSON.
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
            let mut n = 0usize;
            let mut print = |i: raqib::api::queries::ItemRow| -> anyhow::Result<()> {
                use std::io::Write as _;
                let row = if json {
                    let sep = if n == 0 { "[" } else { "," };
                    write!(w, "{sep}{}", serde_json::to_string(&i)?)
                } else {
                    writeln!(
                        w,
                        "{}  {}  [{}]  {}",
                        raqib::notify::render::local_time(i.seen, tz),
                        raqib::notify::render::one_line(&i.feed_name),
                        i.topics.join(", "),
                        raqib::notify::render::one_line(&i.title)
                    )
                    .and_then(|()| match &i.link {
                        Some(l) => writeln!(w, "    {l}"),
                        None => Ok(()),
                    })
                };
                stdout_written(row)?;
                n += 1;
                Ok(())
            };
            match reader(&cfg, &rt)? {
                Reader::Daemon(c) => {
                    let since = since.map(|d| d.to_string());
                    let q = raqib::api::client::query(&[
                        ("since", since.as_deref()),
                        ("topic", topic.as_deref()),
                        ("lines", Some("true")),
                    ]);
                    rt.block_on(c.get_lines(&format!("/api/items{q}"), &mut print))?;
                }
                Reader::Store(store) => {
                    let after = since.map(|d| raqib::time::before(chrono::Utc::now(), d.into()));
                    raqib::api::queries::each_item(&store, after, topic.as_deref(), &mut print)?;
                }
            }
            {
                use std::io::Write as _;
                if json {
                    stdout_written(writeln!(w, "{}", if n == 0 { "[]" } else { "]" }))?;
                }
                stdout_written(w.flush())?;
            }
            if !json {
                eprintln!("{n} items");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Opml {
            what: OpmlWhat::Export,
        } => {
            let cfg = load_config(&config_path)?;
            out_raw!("{}", raqib::subscriptions::export(&cfg.feeds)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Opml {
            what: OpmlWhat::Import { file },
        } => {
            let meta =
                std::fs::metadata(&file).with_context(|| format!("reading {}", file.display()))?;
            if meta.len() > raqib::subscriptions::MAX_BYTES as u64 {
                bail!(
                    "{}: larger than {} bytes",
                    file.display(),
                    raqib::subscriptions::MAX_BYTES
                );
            }
            let xml = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            // Works without a config too: then every feed is new.
            let configured: Vec<url::Url> = match load_config(&config_path) {
                Ok(cfg) => cfg.feeds.iter().map(|f| f.url.clone()).collect(),
                Err(_) => Vec::new(),
            };
            let feeds = raqib::subscriptions::import(&xml, &configured)
                .with_context(|| file.display().to_string())?;
            eprintln!("{} feeds not configured yet", feeds.len());
            out_raw!("{}", raqib::subscriptions::as_toml(&feeds));
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "raqib", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::TestEmail => {
            let cfg = load_config(&config_path)?;
            let mailer = raqib::notify::Mailer::new(&cfg.email)?;
            let msg = mailer.test_message()?;
            match runtime()?.block_on(mailer.send(msg)) {
                Ok(()) => {
                    out!(
                        "test message sent to {}",
                        cfg.email
                            .to
                            .iter()
                            .map(|m| m.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!(
                        "raqib test-email: {}{}",
                        e.message,
                        if e.permanent {
                            " (refused permanently)"
                        } else {
                            ""
                        }
                    );
                    Ok(ExitCode::from(4))
                }
            }
        }
        Command::Manpage => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Digest {
            what: DigestWhat::Preview { topic, out },
        } => {
            let cfg = load_config(&config_path)?;
            let rt = runtime()?;
            let r: raqib::api::queries::Preview = match reader(&cfg, &rt)? {
                Reader::Daemon(c) => {
                    let q = raqib::api::client::query(&[("topic", topic.as_deref())]);
                    rt.block_on(c.get(&format!("/api/digest/preview{q}")))?
                }
                Reader::Store(store) => {
                    let wl = cfg.load_watchlist()?;
                    raqib::api::queries::digest_preview(&cfg, &store, &wl, topic.as_deref())
                        .map_err(|e| match e {
                            raqib::api::queries::QueryError::NoTopic(id) => {
                                anyhow::anyhow!("no topic {id:?} in {}", cfg.watchlist.display())
                            }
                            e => e.into(),
                        })?
                }
            };
            match out {
                Some(path) => {
                    std::fs::write(&path, r.html)
                        .with_context(|| format!("writing {}", path.display()))?;
                    out!("{}: {}", path.display(), r.subject);
                }
                None => out_raw!("{}", r.text),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Digest {
            what: DigestWhat::Send,
        } => {
            let cfg = load_config(&config_path)?;
            runtime()?.block_on(async {
                let engine = daemon::Engine::open(cfg)?;
                let made = engine.digests_now(chrono::Utc::now()).await?;
                let report = engine.deliver(false).await?;
                info!(
                    digests = made.len(),
                    sent = report.sent,
                    failed = report.failed,
                    "digest send done"
                );
                Ok::<_, daemon::DaemonError>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Watchlist {
            what:
                WatchlistWhat::Test {
                    since,
                    topic,
                    watchlist,
                },
        } => {
            let cfg = load_config(&config_path)?;
            // The edited copy (or the live file), checked here first: its
            // errors point at its own lines.
            let (wl, path, source) = match &watchlist {
                Some(path) => {
                    let source = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let wl = raqib::watchlist::Watchlist::parse(path, &source)?;
                    (wl, path.clone(), source)
                }
                None => {
                    let wl = cfg.load_watchlist()?;
                    let source = std::fs::read_to_string(&cfg.watchlist).unwrap_or_default();
                    (wl, cfg.watchlist.clone(), source)
                }
            };
            if let Some(id) = &topic {
                if wl.topic(id).is_none() {
                    bail!("no topic {id:?} in {}", path.display());
                }
            }
            let rt = runtime()?;
            let report = match reader(&cfg, &rt)? {
                Reader::Daemon(c) => {
                    let since = since.map(|d| d.to_string());
                    let name = path.display().to_string();
                    let q = raqib::api::client::query(&[
                        ("since", since.as_deref()),
                        ("topic", topic.as_deref()),
                        ("name", Some(&name)),
                    ]);
                    // The daemon compiles the same text: a built-in
                    // watchlist (no file) is sent as empty and stays local.
                    if source.is_empty() {
                        bail!(
                            "{} does not exist: write a watchlist first, or pass --watchlist FILE",
                            path.display()
                        );
                    }
                    rt.block_on(c.post_text(&format!("/api/watchlist/test{q}"), source))?
                }
                Reader::Store(store) => {
                    let since = since.map(|d| raqib::time::before(chrono::Utc::now(), *d));
                    let bar = progress_bar("items");
                    raqib::api::queries::watchlist_test(&store, &wl, since, topic.as_deref(), &bar)?
                }
            };
            out_raw!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::DeadLetters { what } => {
            let cfg = load_config(&config_path)?;
            let rt = runtime()?;
            let reader = reader(&cfg, &rt)?;
            match what.unwrap_or(DeadWhat::List) {
                DeadWhat::List => {
                    let list: Vec<raqib::store::Alert> = match &reader {
                        Reader::Daemon(c) => rt.block_on(c.get("/api/dead-letters"))?,
                        Reader::Store(store) => store.dead_letters()?,
                    };
                    let tz = cfg.email.timezone;
                    for a in &list {
                        out!(
                            "{}\t{}\tattempts={}\t{}",
                            a.id,
                            raqib::notify::render::local_time(a.created, tz),
                            a.attempts,
                            raqib::notify::render::one_line(a.last_error.as_deref().unwrap_or("-"))
                        );
                    }
                    eprintln!("{} dead letters", list.len());
                }
                DeadWhat::Retry { id } => {
                    let found = match &reader {
                        Reader::Daemon(c) => {
                            let q = raqib::api::client::query(&[("id", Some(&id))]);
                            match rt.block_on(c.post::<raqib::store::Alert>(
                                &format!("/api/dead-letters/retry{q}"),
                                String::new(),
                            )) {
                                Ok(_) => true,
                                Err(raqib::api::client::ClientError::Answer(m))
                                    if m.contains("no such dead letter") =>
                                {
                                    false
                                }
                                Err(e) => return Err(e.into()),
                            }
                        }
                        Reader::Store(store) => {
                            store.retry_dead_letter(&id, chrono::Utc::now())?.is_some()
                        }
                    };
                    if !found {
                        bail!("no dead letter {id:?} (`raqib dead-letters` lists them)");
                    }
                    out!("{id}: back in the outbox, sent at the next delivery");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A progress bar on stderr when it is a terminal (hidden otherwise: logs
/// and pipes get no control codes); its length is set by the work.
fn progress_bar(what: &str) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{bar:30}} {{pos}}/{{len}} {what} {{elapsed}} (eta {{eta}})"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    indicatif::ProgressBar::new(0).with_style(style)
}

/// Where a command reads the store from: the running daemon (it holds the
/// database), or the database itself.
enum Reader {
    Daemon(raqib::api::client::Client),
    Store(raqib::store::Store),
}

fn reader(cfg: &Config, rt: &tokio::runtime::Runtime) -> Result<Reader> {
    match rt.block_on(raqib::api::client::Client::connect(&cfg.storage)) {
        Some(c) => Ok(Reader::Daemon(c)),
        None => Ok(Reader::Store(open_store(cfg)?)),
    }
}

/// The `feeds` listing as a table: widths fitted, times in the readers'
/// zone to the minute, the last error on a line of its own, cut short.
fn feeds_table(list: &[daemon::FeedStatus], tz: chrono_tz::Tz) -> String {
    use raqib::notify::render::{local_time, one_line};
    let when =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".into(), |t| local_time(t, tz));
    let mut rows: Vec<[String; 7]> = vec![[
        "FEED".into(),
        "STATE".into(),
        "ITEMS".into(),
        "LAST OK".into(),
        "NEXT POLL".into(),
        "EVERY".into(),
        "URL".into(),
    ]];
    for f in list {
        // To the minute: the jitter's seconds say nothing.
        let every = f.interval_secs.map_or("-".into(), |s| {
            let s = if s >= 60 { (s + 30) / 60 * 60 } else { s };
            humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
        });
        rows.push([
            one_line(&f.name),
            f.state.clone(),
            f.items.to_string(),
            when(f.last_ok),
            when(f.next_poll),
            every,
            f.url.clone(),
        ]);
    }
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..7).map(width).collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        let Some(f) = i.checked_sub(1).and_then(|k| list.get(k)) else {
            continue;
        };
        if let Some(e) = &f.error {
            let e = one_line(e);
            let cut: String = e.chars().take(120).collect();
            let more = if cut.len() < e.len() { "…" } else { "" };
            out.push_str(&format!("  error: {cut}{more}\n"));
        }
        if let Some(to) = &f.moved_to {
            out.push_str(&format!(
                "  moved permanently to {to}: polled there; update url in the config\n"
            ));
        }
        if let Some(found) = &f.discovered {
            out.push_str(&format!("  this URL is a page; polling the feed it links, {found}: put that in the config\n"));
        }
        if let Some(how) = &f.recovered {
            out.push_str(&format!(
                "  recovered: parsed after repairs ({how}); the publisher's feed is malformed\n"
            ));
        }
    }
    out
}

fn open_store(cfg: &Config) -> Result<raqib::store::Store> {
    match raqib::store::Store::open(&cfg.storage) {
        Ok(s) => Ok(s),
        // A daemon would have answered on its socket: this is `raqib once`
        // or another command, which ends by itself.
        Err(e) if e.is_locked() => bail!(
            "the database in {} is in use by another raqib process (`raqib once`, `digest send`, or a daemon started without its control socket); try again when it has finished",
            cfg.storage.display()
        ),
        Err(e) => Err(e)
            .with_context(|| format!("opening the database in {}", cfg.storage.display())),
    }
}

fn eval(what: EvalWhat, config_path: &std::path::Path) -> Result<ExitCode> {
    let mut details = Vec::new();
    let (scores, show) = match what {
        EvalWhat::Extract {
            dir,
            details: show,
            extractor,
        } => return eval_extract(&dir, show, &extractor),
        EvalWhat::Feeds { dir, details: show } => {
            let bar = progress_bar("files");
            let score = raqib::eval::feeds::feeds(&dir, &mut details, &bar)?;
            bar.finish_and_clear();
            if show {
                for d in details {
                    out!("{d}");
                }
            }
            out!("{}", serde_json::to_string(&score)?);
            return Ok(ExitCode::SUCCESS);
        }
        EvalWhat::Topic {
            file,
            topic,
            details: show,
            baseline,
        } => {
            let cfg = load_config(config_path)?;
            let wl = cfg.load_watchlist()?;
            let t = match &topic {
                Some(id) => match wl.topic(id) {
                    Some(t) => t,
                    None => bail!("no topic {id:?} in {}", cfg.watchlist.display()),
                },
                None => match wl.topics.first() {
                    Some(t) => t,
                    None => bail!("the watchlist has no topics"),
                },
            };
            let input = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            (
                raqib::eval::topic(&input, &wl, &t.id, baseline, &mut details)?,
                show,
            )
        }
        EvalWhat::Dedup {
            file,
            details: show,
            baseline,
        } => {
            let input = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            (raqib::eval::dedup(&input, baseline, &mut details)?, show)
        }
    };
    if show {
        for d in details {
            out!("{d}");
        }
    }
    out!("{}", serde_json::to_string(&scores)?);
    Ok(ExitCode::SUCCESS)
}

fn eval_extract(dir: &std::path::Path, show: bool, extractor: &str) -> Result<ExitCode> {
    use raqib::eval::Extractor;
    let extractor = match extractor {
        "raqib" => Extractor::Raqib,
        #[cfg(feature = "compare-extractors")]
        "dom-smoothie" => Extractor::DomSmoothie,
        #[cfg(feature = "compare-extractors")]
        "combined" => Extractor::Combined,
        other => bail!(
            "unknown extractor {other:?} (raqib; dom-smoothie needs --features compare-extractors)"
        ),
    };
    let mut details = Vec::new();
    let mut scores = Vec::new();
    for (set, pages) in extraction_sets(dir)? {
        scores.push(raqib::eval::extract_with(
            extractor,
            &set,
            &pages,
            &mut details,
        ));
    }
    if show {
        for d in &details {
            out!("{d}");
        }
    }
    for s in &scores {
        out!("{}", serde_json::to_string(s)?);
    }
    let summary: serde_json::Map<String, serde_json::Value> = scores
        .iter()
        .map(|s| (s.set.clone(), serde_json::json!(s.f1)))
        .collect();
    out!("{}", serde_json::Value::Object(summary));
    Ok(ExitCode::SUCCESS)
}

/// A page's HTML and its gold.
type Page = (String, raqib::eval::Gold);

/// Reads the extraction sets under `dir`: each sub-folder holds pages with
/// either `ground-truth.json` ({id: {articleBody}}, pages `html/ID.html[.gz]`),
/// `gold.json` ({file: {with, without}}, pages `html/FILE` or `FILE`), or one
/// `*.html` beside a `*.txt` of the same text.
fn extraction_sets(dir: &std::path::Path) -> Result<Vec<(String, Vec<Page>)>> {
    use raqib::eval::Gold;
    let read_page = |p: &std::path::Path| -> Result<String> {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        let bytes = if p.extension().is_some_and(|e| e == "gz") {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(bytes.as_slice()),
                &mut out,
            )
            .with_context(|| format!("gunzip {}", p.display()))?;
            out
        } else {
            bytes
        };
        Ok(raqib::fetch::charset::decode_html(&bytes, None))
    };
    let mut sets = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let sub = e.path();
        if !sub.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let mut pages = Vec::new();
        if let Ok(gt) = std::fs::read_to_string(sub.join("ground-truth.json")) {
            let v: serde_json::Value = serde_json::from_str(&gt)?;
            for (id, g) in v.as_object().into_iter().flatten() {
                let body = g["articleBody"].as_str().unwrap_or_default().to_string();
                let gz = sub.join("html").join(format!("{id}.html.gz"));
                let plain = sub.join("html").join(format!("{id}.html"));
                let page = if gz.exists() {
                    read_page(&gz)?
                } else {
                    read_page(&plain)?
                };
                pages.push((page, Gold::Text(body)));
            }
        } else if let Ok(gj) = std::fs::read_to_string(sub.join("gold.json")) {
            let v: serde_json::Value = serde_json::from_str(&gj)?;
            let strings = |x: &serde_json::Value| -> Vec<String> {
                x.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            };
            // One entry, or a map of entries by file name.
            let list: Vec<&serde_json::Value> = if v.get("file").is_some() {
                vec![&v]
            } else {
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, g)| g)
                    .collect()
            };
            for g in list {
                let file = g["file"].as_str().unwrap_or_default();
                let p = if sub.join("html").join(file).exists() {
                    sub.join("html").join(file)
                } else {
                    sub.join(file)
                };
                pages.push((
                    read_page(&p)?,
                    Gold::Snippets {
                        with: strings(&g["with"]),
                        without: strings(&g["without"]),
                    },
                ));
            }
        } else {
            let mut files: Vec<_> = std::fs::read_dir(&sub)?
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            for html in files
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "html"))
            {
                // NAME.txt beside NAME.html, else the folder's one text file.
                let same = html.with_extension("txt");
                let txt = if same.exists() {
                    Some(&same)
                } else {
                    files.iter().find(|p| {
                        p.extension().is_some_and(|e| e == "txt")
                            && !p
                                .file_name()
                                .is_some_and(|n| n.to_string_lossy().contains("LICENSE"))
                    })
                };
                if let Some(txt) = txt {
                    pages.push((read_page(html)?, Gold::Text(std::fs::read_to_string(txt)?)));
                }
            }
        }
        if !pages.is_empty() {
            sets.push((name, pages));
        }
    }
    Ok(sets)
}

/// SIGTERM/SIGINT → Shutdown, SIGHUP → Reload.
async fn forward_signals(tx: mpsc::Sender<Control>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers; stopping");
        let _ = tx.send(Control::Shutdown).await;
        return;
    };
    loop {
        let c = tokio::select! {
            _ = term.recv() => Control::Shutdown,
            _ = int.recv() => Control::Shutdown,
            _ = hup.recv() => Control::Reload,
        };
        info!(signal = ?c, "signal received");
        if tx.send(c).await.is_err() || c == Control::Shutdown {
            return;
        }
    }
}

/// Loads the configuration and applies its process-wide text settings.
/// The paths a config names that the daemon could not use: the database
/// folder and the maildir must be writable folders (or creatable, under a
/// writable one), `file:` feeds regular files.
fn path_problems(cfg: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut writable = |what: &str, path: &std::path::Path| {
        if let Err(why) = writable_dir(path) {
            problems.push(format!("{what} {}: {why}", path.display()));
        }
    };
    writable("[storage] path", &cfg.storage);
    if let raqib::config::Delivery::Maildir(path) = &cfg.email.delivery {
        writable("[email.maildir] path", path);
    }
    for f in cfg.feeds.iter().filter(|f| f.url.scheme() == "file") {
        match f.url.to_file_path() {
            Ok(p) if p.is_file() => {}
            Ok(p) if p.exists() => {
                problems.push(format!("feed {}: not a regular file", p.display()))
            }
            Ok(p) => problems.push(format!("feed {}: no such file", p.display())),
            Err(()) => problems.push(format!("feed {}: not a file path", f.url)),
        }
    }
    // The webhooks' secrets are read when the daemon starts: a missing
    // one would stop it.
    for w in &cfg.webhooks {
        if let Some(p) = &w.secret_file {
            match std::fs::read(p) {
                Ok(b) if b.trim_ascii().is_empty() => {
                    problems.push(format!("webhook secret_file {}: empty", p.display()))
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("webhook secret_file {}: {e}", p.display())),
            }
        }
    }
    problems
}

/// Whether raqib can write in `dir`: tried by creating a file there, or,
/// if it does not exist yet, in the nearest folder above it (where it
/// would be created).
fn writable_dir(dir: &std::path::Path) -> Result<(), String> {
    let mut at = dir.to_path_buf();
    while !at.exists() {
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p.to_path_buf(),
            _ => at = std::path::PathBuf::from("."),
        }
        if at == std::path::Path::new(".") {
            break;
        }
    }
    if !at.is_dir() {
        return Err(format!("{} is not a folder", at.display()));
    }
    let probe = at.join(format!(".raqib-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if at == dir => Err(format!("cannot write there: {e}")),
        Err(e) => Err(format!(
            "does not exist, and {} cannot be written: {e}",
            at.display()
        )),
    }
}

/// `raqib try`: the store is only read, and only when it exists and no
/// running daemon holds it (the copy check is then skipped, with a note).
fn try_feed(config_path: &std::path::Path, arg: &str, json: bool) -> Result<ExitCode> {
    let cfg = load_config(config_path)?;
    let wl = cfg.load_watchlist()?;
    let url = raqib::probe::target(arg)?;
    let store = if cfg.storage.join("db").exists() {
        match raqib::store::Store::open(&cfg.storage) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("note: not checking for copies of stored stories ({e})");
                None
            }
        }
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let probe = rt.block_on(raqib::probe::probe(&cfg, &wl, store.as_ref(), &url))?;
    if let Some(found) = &probe.discovered {
        eprintln!("{} is a page; read the feed it links: {found}", probe.url);
    }
    if let Some(how) = &probe.recovered {
        eprintln!("recovered: parsed after repairs ({how})");
    }
    eprintln!("{} entries", probe.entries.len());
    for (n, e) in probe.entries.iter().enumerate() {
        if json {
            out!("{}", serde_json::to_string(e)?);
            continue;
        }
        let date = e
            .published
            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "no date".into());
        let start: String = e
            .text
            .chars()
            .take(160)
            .collect::<String>()
            .replace('\n', " ");
        let more = if e.text.chars().count() > 160 {
            "…"
        } else {
            ""
        };
        out!("{}. {}", n + 1, e.title);
        out!("   {date}  id {}", e.id);
        if let Some(link) = &e.link {
            out!("   {link}");
        }
        if !start.is_empty() {
            out!("   {start}{more}");
        }
        if e.matches.is_empty() {
            out!("   topics: none");
        }
        for m in &e.matches {
            out!("   topic {}: {}", m.topic, m.explanation);
        }
        match (&e.copy_of, e.stored) {
            (_, true) => out!("   already stored"),
            (Some(c), false) => out!("   a copy of the stored story «{}»", c.title),
            (None, false) => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn load_config(path: &std::path::Path) -> Result<Config, ConfigError> {
    let cfg = Config::load(path)?;
    raqib::text::normalize::set_fold_hamza_seats(cfg.fold_hamza_seats);
    Ok(cfg)
}
