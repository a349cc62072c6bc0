//! Prometheus metrics through the `metrics` facade: the stages count what
//! they do (`metrics::counter!` where it happens); the gauges that describe
//! the store are read when scraped.
//!
//! Families: `raqib_feeds{state}`, `raqib_items_total`,
//! `raqib_copies_total`, `raqib_matches_total{topic}`,
//! `raqib_alerts_sent_total`, `raqib_alerts_failed_total`,
//! `raqib_alerts_pending`, `raqib_dead_letters`,
//! `raqib_poll_duration_seconds` (histogram).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::daemon::Engine;
use crate::store::StoreError;

pub const ITEMS: &str = "raqib_items_total";
pub const COPIES: &str = "raqib_copies_total";
pub const MATCHES: &str = "raqib_matches_total";
pub const SENT: &str = "raqib_alerts_sent_total";
pub const FAILED: &str = "raqib_alerts_failed_total";
pub const POLL_SECONDS: &str = "raqib_poll_duration_seconds";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls reuse it). `None`
/// when another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(POLL_SECONDS.to_string()),
                    &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
                )
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            metrics::describe_counter!(ITEMS, "New items stored.");
            metrics::describe_counter!(COPIES, "New items that were copies of a stored story.");
            metrics::describe_counter!(MATCHES, "Items that matched a topic, by topic.");
            metrics::describe_counter!(SENT, "Messages accepted (mail or webhook).");
            metrics::describe_counter!(FAILED, "Delivery attempts that failed.");
            metrics::describe_histogram!(POLL_SECONDS, "Time to fetch and prepare one feed.");
            metrics::describe_gauge!(
                "raqib_feeds",
                "Configured feeds, by state of their last poll."
            );
            metrics::describe_gauge!("raqib_alerts_pending", "Messages waiting in the outbox.");
            metrics::describe_gauge!("raqib_dead_letters", "Messages the receiver kept refusing.");
            // Every family is listed from the start, at zero.
            for c in [ITEMS, COPIES, SENT, FAILED] {
                metrics::counter!(c).increment(0);
            }
            Some(handle)
        })
        .as_ref()
}

/// How often the recorder folds recorded histogram samples into their
/// buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds histogram samples into their buckets now and then. The recorder
/// keeps every sample until it renders or is told to fold them: a daemon
/// nobody scrapes would hold 8 bytes per poll for ever (~1 MB a day at
/// 1,000 feeds).
pub async fn upkeep_loop(mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(handle) = install() else {
        return;
    };
    loop {
        handle.run_upkeep();
        if crate::daemon::tasks::sleep_or_stop(UPKEEP_EVERY, &mut stop).await {
            return;
        }
    }
}

/// The metrics as Prometheus text, the store's gauges read now.
pub fn render(engine: &Engine) -> Result<String, StoreError> {
    let statuses = crate::daemon::feed_statuses(&engine.config, &engine.store)?;
    for state in ["ok", "error"] {
        let n = statuses.iter().filter(|s| s.state == state).count();
        metrics::gauge!("raqib_feeds", "state" => state).set(n as f64);
    }
    for t in &engine.watchlist().topics {
        metrics::counter!(MATCHES, "topic" => t.id.clone()).increment(0);
    }
    metrics::gauge!("raqib_alerts_pending").set(engine.store.outbox()?.len() as f64);
    metrics::gauge!("raqib_dead_letters").set(engine.store.dead_letters()?.len() as f64);
    Ok(install().map(|h| h.render()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples folded by the upkeep are still counted when rendered.
    #[test]
    fn upkeep_keeps_the_histogram_counts() {
        let Some(handle) = install() else {
            panic!("no recorder");
        };
        let count = |text: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix("raqib_poll_duration_seconds_count "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0)
        };
        let before = count(&handle.render());
        for _ in 0..1000 {
            metrics::histogram!(POLL_SECONDS).record(0.2);
        }
        handle.run_upkeep();
        assert!(count(&handle.render()) >= before + 1000);
    }
}
