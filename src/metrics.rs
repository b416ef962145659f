//! The server's metrics, rendered in Prometheus' text format for `GET /metrics`.
//!
//! Every server state owns a `prometheus::Registry` of its own, passed around as state
//! like the pool (no process-global registry or recorder): a scrape shows exactly what
//! that server counted. The API tests run many servers in one process at once, and so
//! can assert exact deltas; nothing has to be installed once per process either. Each
//! counter and histogram is resolved for every label value when the registry is built
//! (the values are `&'static str`s from fixed sets: operation types, outcomes, XP
//! actions), so counting on the hot path is an atomic add, with no label lookup and no
//! allocation. Gauges that the server's state already knows (the pool's connections,
//! open subscriptions) are read from it at scrape time.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::xp::Award;
use crate::xp::rules::{XpAction, rules};

/// The media type of the rendered text (Prometheus' text exposition format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Request latency buckets, in seconds: from a `me` (a fraction of a millisecond) to a
/// request that waited for a pooled connection as long as the pool lets it (10 s).
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What a GraphQL request asked for: the type of the operation it selected, or
/// `Unknown` when none could be selected (the document did not parse, names no such
/// operation, or the request was refused before it was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query = 0,
    Mutation = 1,
    Subscription = 2,
    Unknown = 3,
}

impl OperationKind {
    const ALL: [OperationKind; 4] = [
        OperationKind::Query,
        OperationKind::Mutation,
        OperationKind::Subscription,
        OperationKind::Unknown,
    ];

    /// The `type` label.
    pub fn label(self) -> &'static str {
        match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Subscription => "subscription",
            OperationKind::Unknown => "unknown",
        }
    }
}

impl From<Option<OperationType>> for OperationKind {
    fn from(operation_type: Option<OperationType>) -> Self {
        match operation_type {
            Some(OperationType::Query) => OperationKind::Query,
            Some(OperationType::Mutation) => OperationKind::Mutation,
            Some(OperationType::Subscription) => OperationKind::Subscription,
            None => OperationKind::Unknown,
        }
    }
}

/// How a GraphQL request ended: `ok` with no error in its response, `error` with any
/// (a field error such as NOT_FOUND included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok = 0,
    Error = 1,
}

impl Outcome {
    pub fn of(response: &async_graphql::Response) -> Self {
        if response.errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error
        }
    }

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}

/// What a scrape reads from the server's state.
pub struct Snapshot {
    pub pool: deadpool::Status,
    /// Open `levelUps` subscriptions.
    pub subscriptions: usize,
}

/// One server's metrics; cheap to clone (all clones count into the same registry).
#[derive(Clone)]
pub struct Metrics(Arc<Registered>);

struct Registered {
    registry: Registry,
    /// By `OperationKind`, then `Outcome`.
    requests: [[IntCounter; 2]; 4],
    /// By `OperationKind`.
    latency: [Histogram; 4],
    /// In the order of `xp::rules::rules()`, one entry per action.
    actions: Vec<ActionCounters>,
    level_ups: IntCounter,
    websocket_connections: IntGauge,
    listener_reconnects: IntCounter,
    subscriptions: IntGauge,
    pool_max: IntGauge,
    pool_open: IntGauge,
    pool_available: IntGauge,
    pool_waiting: IntGauge,
}

struct ActionCounters {
    action: XpAction,
    awards: IntCounter,
    xp: IntCounter,
}

/// Holds one open WebSocket in the connections gauge until dropped.
pub struct OpenWebSocket(IntGauge);

impl Drop for OpenWebSocket {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// A registry with every metric of the server, all at zero.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "storyxp_graphql_requests_total",
                "GraphQL requests over HTTP (each operation of a batch counts), by operation type and outcome (error: the response had any error). HTTP requests refused before GraphQL (malformed, too large, not acceptable) are not counted; one refused for its token counts once, as unknown.",
            ),
            &["type", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "storyxp_graphql_request_duration_seconds",
                "Time from receiving a GraphQL request over HTTP until its result was ready (each operation of a batch counts, with the batch's time), by operation type.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["type"],
        )?;
        let awards = IntCounterVec::new(
            Opts::new(
                "storyxp_xp_awards_total",
                "Committed XP awards by action, as the ledger records them: an achievement an award unlocked counts as an ACHIEVEMENT_EARNED award of its own.",
            ),
            &["action"],
        )?;
        let xp = IntCounterVec::new(
            Opts::new(
                "storyxp_xp_awarded_total",
                "XP awarded by committed awards, by action (an unlocked achievement's bonus under ACHIEVEMENT_EARNED).",
            ),
            &["action"],
        )?;
        let level_ups = IntCounter::new(
            "storyxp_level_ups_total",
            "Committed awards that raised their recipient's level (by one level or more).",
        )?;
        let websocket_connections = IntGauge::new(
            "storyxp_websocket_connections",
            "Open GraphQL WebSocket connections.",
        )?;
        let subscriptions = IntGauge::new(
            "storyxp_subscriptions",
            "Open levelUps subscriptions on this server.",
        )?;
        let listener_reconnects = IntCounter::new(
            "storyxp_listener_reconnects_total",
            "Times the level-up listener's LISTEN connection was lost or could not be opened, and the listener tried again.",
        )?;
        let pool_max = IntGauge::new(
            "storyxp_db_pool_max_connections",
            "Most PostgreSQL connections the pool opens.",
        )?;
        let pool_open = IntGauge::new(
            "storyxp_db_pool_connections",
            "PostgreSQL connections the pool holds open (idle or in use).",
        )?;
        let pool_available = IntGauge::new(
            "storyxp_db_pool_available_connections",
            "Idle pooled PostgreSQL connections, ready to be taken.",
        )?;
        let pool_waiting = IntGauge::new(
            "storyxp_db_pool_waiting",
            "Tasks waiting for a pooled PostgreSQL connection.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(awards.clone()))?;
        registry.register(Box::new(xp.clone()))?;
        for gauge in [
            &websocket_connections,
            &subscriptions,
            &pool_max,
            &pool_open,
            &pool_available,
            &pool_waiting,
        ] {
            registry.register(Box::new(gauge.clone()))?;
        }
        registry.register(Box::new(level_ups.clone()))?;
        registry.register(Box::new(listener_reconnects.clone()))?;

        let by_kind = |kind: OperationKind| -> prometheus::Result<[IntCounter; 2]> {
            let counter = |outcome: Outcome| {
                requests.get_metric_with_label_values(&[kind.label(), outcome.label()])
            };
            Ok([counter(Outcome::Ok)?, counter(Outcome::Error)?])
        };
        let [query, mutation, subscription, unknown] = OperationKind::ALL;
        let requests = [
            by_kind(query)?,
            by_kind(mutation)?,
            by_kind(subscription)?,
            by_kind(unknown)?,
        ];
        let timer = |kind: OperationKind| latency.get_metric_with_label_values(&[kind.label()]);
        let latency = [
            timer(query)?,
            timer(mutation)?,
            timer(subscription)?,
            timer(unknown)?,
        ];
        let actions = rules()
            .map(|rule| {
                Ok(ActionCounters {
                    action: rule.action,
                    awards: awards.get_metric_with_label_values(&[rule.name])?,
                    xp: xp.get_metric_with_label_values(&[rule.name])?,
                })
            })
            .collect::<prometheus::Result<Vec<_>>>()?;
        Ok(Self(Arc::new(Registered {
            registry,
            requests,
            latency,
            actions,
            level_ups,
            websocket_connections,
            listener_reconnects,
            subscriptions,
            pool_max,
            pool_open,
            pool_available,
            pool_waiting,
        })))
    }

    /// Counts one GraphQL request and its latency.
    pub fn count_request(&self, kind: OperationKind, outcome: Outcome, latency: Duration) {
        self.0.requests[kind as usize][outcome as usize].inc();
        self.0.latency[kind as usize].observe(latency.as_secs_f64());
    }

    /// Counts an award that has committed: one award of its action with the action's
    /// XP, one ACHIEVEMENT_EARNED award per achievement it unlocked with its bonus (as
    /// the ledger has them), and a level-up if it raised the level.
    pub fn count_award(&self, award: &Award) {
        self.count_award_entries(award);
        if award.leveled_up() {
            self.0.level_ups.inc();
        }
    }

    /// The ledger entries behind `award`: its folded awards by their own actions, the
    /// achievements' bonuses as ACHIEVEMENT_EARNED, the rest as the award's action.
    fn count_award_entries(&self, award: &Award) {
        let mut xp_gained = award.xp_gained;
        let mut achievements = award.achievements.clone();
        for part in &award.folded {
            self.count_award_entries(part);
            xp_gained = xp_gained.saturating_sub(part.xp_gained);
            for key in &part.achievements {
                if let Some(position) = achievements.iter().position(|own| own == key) {
                    achievements.remove(position);
                }
            }
        }
        let unlocked = i32::try_from(achievements.len()).unwrap_or(i32::MAX);
        let bonus = achievements
            .iter()
            .map(|key| {
                key.achievement()
                    .xp
                    .or(XpAction::AchievementEarned.xp())
                    .unwrap_or_default()
            })
            .fold(0i32, i32::saturating_add);
        self.count_ledger_entries(award.action, 1, xp_gained.saturating_sub(bonus));
        if unlocked > 0 {
            self.count_ledger_entries(XpAction::AchievementEarned, unlocked, bonus);
        }
    }

    /// Counts each award of `awards`, as `count_award`.
    pub fn count_awards<'a>(&self, awards: impl IntoIterator<Item = &'a Award>) {
        for award in awards {
            self.count_award(award);
        }
    }

    fn count_ledger_entries(&self, action: XpAction, entries: i32, xp: i32) {
        if let Some(counters) = self
            .0
            .actions
            .iter()
            .find(|counters| counters.action == action)
        {
            counters.awards.inc_by(u64::try_from(entries).unwrap_or(0));
            counters.xp.inc_by(u64::try_from(xp).unwrap_or(0));
        }
    }

    /// Counts an open WebSocket until the returned guard is dropped.
    pub fn websocket_opened(&self) -> OpenWebSocket {
        self.0.websocket_connections.inc();
        OpenWebSocket(self.0.websocket_connections.clone())
    }

    /// Counts one retry of the level-up listener.
    pub fn count_listener_reconnect(&self) {
        self.0.listener_reconnects.inc();
    }

    /// Everything, in Prometheus' text format (`CONTENT_TYPE`), with the gauges of
    /// `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> prometheus::Result<String> {
        let gauge = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        self.0.subscriptions.set(gauge(snapshot.subscriptions));
        self.0.pool_max.set(gauge(snapshot.pool.max_size));
        self.0.pool_open.set(gauge(snapshot.pool.size));
        self.0.pool_available.set(gauge(snapshot.pool.available));
        self.0.pool_waiting.set(gauge(snapshot.pool.waiting));
        TextEncoder::new().encode_to_string(&self.0.registry.gather())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::xp::AchievementKey;

    fn snapshot() -> Snapshot {
        Snapshot {
            pool: deadpool::Status {
                max_size: 8,
                size: 3,
                available: 2,
                waiting: 0,
            },
            subscriptions: 4,
        }
    }

    /// The value of the sample line `series` (name and labels as rendered).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn every_action_and_operation_type_is_rendered_from_the_start() {
        let text = Metrics::new().unwrap().render(&snapshot()).unwrap();
        for rule in rules() {
            let series = format!("storyxp_xp_awards_total{{action=\"{}\"}}", rule.name);
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
        for kind in OperationKind::ALL {
            for outcome in [Outcome::Ok, Outcome::Error] {
                let series = format!(
                    "storyxp_graphql_requests_total{{outcome=\"{}\",type=\"{}\"}}",
                    outcome.label(),
                    kind.label()
                );
                assert_eq!(sample(&text, &series), Some(0.0), "{series}");
            }
        }
        assert_eq!(sample(&text, "storyxp_db_pool_max_connections"), Some(8.0));
        assert_eq!(sample(&text, "storyxp_db_pool_connections"), Some(3.0));
        assert_eq!(
            sample(&text, "storyxp_db_pool_available_connections"),
            Some(2.0)
        );
        assert_eq!(sample(&text, "storyxp_subscriptions"), Some(4.0));
    }

    #[test]
    fn an_award_counts_its_achievements_as_ledger_entries_of_their_own() {
        let metrics = Metrics::new().unwrap();
        metrics.count_award(&Award {
            recipient: 1,
            action: XpAction::StoryLiked,
            xp_gained: 5 + 2 * 30,
            total_xp: 600,
            level: 2,
            previous_level: 1,
            achievements: vec![AchievementKey::CrowdPleaser, AchievementKey::RisingStar],
            awarded_at: Utc::now(),
            notification_id: Some(1),
            entries: vec![1, 2, 3],
            folded: Vec::new(),
        });
        let text = metrics.render(&snapshot()).unwrap();
        let value = |series: &str| sample(&text, series).unwrap();
        assert_eq!(
            value("storyxp_xp_awards_total{action=\"STORY_LIKED\"}"),
            1.0
        );
        assert_eq!(
            value("storyxp_xp_awarded_total{action=\"STORY_LIKED\"}"),
            5.0
        );
        assert_eq!(
            value("storyxp_xp_awards_total{action=\"ACHIEVEMENT_EARNED\"}"),
            2.0
        );
        assert_eq!(
            value("storyxp_xp_awarded_total{action=\"ACHIEVEMENT_EARNED\"}"),
            60.0
        );
        assert_eq!(value("storyxp_level_ups_total"), 1.0);
    }

    #[test]
    fn a_websocket_leaves_the_gauge_when_its_guard_drops() {
        let metrics = Metrics::new().unwrap();
        let first = metrics.websocket_opened();
        let second = metrics.websocket_opened();
        drop(first);
        let text = metrics.render(&snapshot()).unwrap();
        assert_eq!(sample(&text, "storyxp_websocket_connections"), Some(1.0));
        drop(second);
        let text = metrics.render(&snapshot()).unwrap();
        assert_eq!(sample(&text, "storyxp_websocket_connections"), Some(0.0));
    }
}
