//! Routing state shared between gateway instances through Redis.
//!
//! Local state stays authoritative on the hot path; Redis only adds what the other instances
//! did:
//! - a deployment with an `rpm` limit reserves each request with one atomic `INCR` + `EXPIRE`
//!   (a pipeline, one round trip, ~0.1–0.3 ms on a local Redis) so that N instances respect one
//!   limit exactly; every other count (requests without a limit, tokens, cooldowns) is written
//!   in the background, off the request path;
//! - a sync task reads every deployment's current-minute counters and cooldown every
//!   [`SYNC_EVERY`] and folds them into local state (so cooldowns and usage reach the other
//!   instances within that interval).
//!
//! Redis trouble never fails a request: every call has a short deadline, a failure switches to
//! local state (logged once), and the sync task notices when Redis answers again.
//!
//! Keys: `{prefix}:rpm:{deployment}:{minute}` and `{prefix}:tpm:{deployment}:{minute}` (expire
//! after two minutes), `{prefix}:cooldown:{deployment}` (value: end in Unix ms; expires then),
//! `{prefix}:response:{response id}` (value: the deployment that produced it, for
//! continuations on another instance; expires after [`RESPONSE_TTL_SECS`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::Deployment;
use super::settings::RedisSettings;
use super::state::{minute_of, now_ms};

/// How long another instance can find which deployment produced a response: continuations
/// mostly follow within minutes; a day bounds Redis memory (about 100 bytes a response).
pub const RESPONSE_TTL_SECS: u64 = 24 * 3600;

/// How often shared counters and cooldowns are read back.
pub const SYNC_EVERY: Duration = Duration::from_millis(500);
/// The longest a request waits for Redis before carrying on with local state.
const HOT_PATH_DEADLINE: Duration = Duration::from_millis(50);
/// Deadline of background Redis calls.
const BACKGROUND_DEADLINE: Duration = Duration::from_secs(1);
/// Wait between connection attempts while Redis is unreachable.
const RECONNECT_EVERY: Duration = Duration::from_secs(2);

/// A handle on the shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RedisSettings,
    connection: Mutex<Option<ConnectionManager>>,
    connected: AtomicBool,
    /// Set once the trouble was logged, cleared when Redis answers again.
    warned: AtomicBool,
    started: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("Shared")
            .field("key_prefix", &self.settings.key_prefix)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Shared state in the Redis of `settings`; nothing connects before [`Shared::start`].
    pub fn new(settings: RedisSettings) -> Shared {
        Shared {
            inner: Arc::new(Inner {
                settings,
                connection: Mutex::new(None),
                connected: AtomicBool::new(false),
                warned: AtomicBool::new(false),
                started: AtomicBool::new(false),
            }),
        }
    }

    /// Connects and starts syncing `deployments` (once; later calls do nothing).
    pub fn start(&self, deployments: Vec<Arc<Deployment>>) {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.started.store(false, Ordering::SeqCst);
            return;
        };
        let shared = self.clone();
        runtime.spawn(async move { shared.run(deployments).await });
    }

    /// Whether background work was started.
    pub fn is_started(&self) -> bool {
        self.inner.started.load(Ordering::Relaxed)
    }

    /// Whether Redis answered the last call.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Relaxed)
    }

    fn connection(&self) -> Option<ConnectionManager> {
        if !self.is_connected() {
            return None;
        }
        self.inner.connection.lock().ok()?.clone()
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.inner.settings.key_prefix)
    }

    fn lost(&self, what: &str, error: &str) {
        self.inner.connected.store(false, Ordering::Relaxed);
        if !self.inner.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = %error,
                "Redis is unreachable ({what}); routing continues on this instance's own \
                 counters and cooldowns until it answers again"
            );
        }
    }

    fn answered(&self) {
        if !self.inner.connected.swap(true, Ordering::Relaxed)
            && self.inner.warned.swap(false, Ordering::Relaxed)
        {
            tracing::info!("Redis answers again; routing state is shared");
        }
    }

    async fn run(self, deployments: Vec<Arc<Deployment>>) {
        let manager = loop {
            match self.connect().await {
                Ok(manager) => break manager,
                Err(e) => {
                    self.lost("connecting", &e);
                    tokio::time::sleep(RECONNECT_EVERY).await;
                }
            }
        };
        if let Ok(mut slot) = self.inner.connection.lock() {
            *slot = Some(manager.clone());
        }
        self.answered();
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sync(manager.clone(), &deployments).await;
        }
    }

    async fn connect(&self) -> Result<ConnectionManager, String> {
        let client = redis::Client::open(self.inner.settings.url.as_str())
            .map_err(|e| format!("invalid Redis URL: {}", e.kind_name_safe()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(BACKGROUND_DEADLINE)
            .set_number_of_retries(1);
        match tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        {
            Ok(Ok(manager)) => Ok(manager),
            Ok(Err(e)) => Err(e.kind_name_safe()),
            Err(_) => Err("timed out".into()),
        }
    }

    /// Reads every deployment's shared counters and cooldown into local state.
    async fn sync(&self, mut connection: ConnectionManager, deployments: &[Arc<Deployment>]) {
        if deployments.is_empty() {
            return;
        }
        let now = now_ms();
        let minute = minute_of(now);
        let mut keys = Vec::with_capacity(deployments.len() * 3);
        for d in deployments {
            keys.push(self.key("rpm", &format!("{}:{minute}", d.id)));
            keys.push(self.key("tpm", &format!("{}:{minute}", d.id)));
            keys.push(self.key("cooldown", &d.id));
        }
        let mut mget = redis::cmd("MGET");
        mget.arg(&keys);
        let call = mget.query_async::<Vec<Option<u64>>>(&mut connection);
        match tokio::time::timeout(BACKGROUND_DEADLINE, call).await {
            Ok(Ok(values)) => {
                self.answered();
                for (d, v) in deployments.iter().zip(values.chunks(3)) {
                    let (requests, tokens, cooldown) = (v[0], v[1], v[2]);
                    d.state
                        .note_shared(now, minute, requests.unwrap_or(0), tokens.unwrap_or(0));
                    if let Some(until) = cooldown {
                        d.state.cool_until(until);
                    }
                }
            }
            Ok(Err(e)) => self.lost("syncing", &e.kind_name_safe()),
            Err(_) => self.lost("syncing", "timed out"),
        }
    }

    /// Counts a request to `deployment` in Redis and returns every instance's count for this
    /// minute, or `None` (local state decides) when Redis does not answer in time.
    pub async fn count_request(&self, deployment: &Deployment, now: u64) -> Option<u64> {
        let mut connection = self.connection()?;
        let minute = minute_of(now);
        let key = self.key("rpm", &format!("{}:{minute}", deployment.id));
        let mut pipe = redis::pipe();
        pipe.atomic().incr(&key, 1u64).expire(&key, 120).ignore();
        let call = pipe.query_async::<(u64,)>(&mut connection);
        match tokio::time::timeout(HOT_PATH_DEADLINE, call).await {
            Ok(Ok((count,))) => {
                deployment.state.note_shared(now, minute, count, 0);
                Some(count)
            }
            Ok(Err(e)) => {
                self.lost("counting a request", &e.kind_name_safe());
                None
            }
            Err(_) => {
                self.lost("counting a request", "timed out");
                None
            }
        }
    }

    /// Counts a request in Redis in the background.
    pub fn count_request_later(&self, deployment: &Deployment, now: u64) {
        let key = self.key("rpm", &format!("{}:{}", deployment.id, minute_of(now)));
        self.later("counting a request", move |pipe| {
            pipe.incr(&key, 1u64).ignore().expire(&key, 120).ignore();
        });
    }

    /// Adds tokens to the deployment's shared tpm counter in the background.
    pub fn count_tokens_later(&self, deployment: &Deployment, now: u64, tokens: u64) {
        let key = self.key("tpm", &format!("{}:{}", deployment.id, minute_of(now)));
        self.later("counting tokens", move |pipe| {
            pipe.incr(&key, tokens).ignore().expire(&key, 120).ignore();
        });
    }

    /// Shares a cooldown ending at `until` (Unix ms) in the background.
    pub fn cool_later(&self, deployment: &Deployment, until: u64) {
        let key = self.key("cooldown", &deployment.id);
        let ttl = until.saturating_sub(now_ms()).max(1);
        self.later("sharing a cooldown", move |pipe| {
            pipe.cmd("SET")
                .arg(&key)
                .arg(until)
                .arg("PX")
                .arg(ttl)
                .ignore();
        });
    }

    /// Removes a shared cooldown in the background (a health probe ended it early). Other
    /// instances keep the cooldown they already read until it expires or their own probe
    /// ends it.
    pub fn end_cooldown_later(&self, deployment: &Deployment) {
        let key = self.key("cooldown", &deployment.id);
        self.later("ending a cooldown", move |pipe| {
            pipe.del(&key).ignore();
        });
    }

    /// Shares which deployment produced `response_id`, in the background.
    pub fn remember_response_later(&self, response_id: &str, deployment_id: &str) {
        let key = self.key("response", response_id);
        let deployment = deployment_id.to_string();
        self.later("sharing a response's deployment", move |pipe| {
            pipe.cmd("SET")
                .arg(&key)
                .arg(deployment)
                .arg("EX")
                .arg(RESPONSE_TTL_SECS)
                .ignore();
        });
    }

    /// The deployment that produced `response_id` on any instance, or `None` (unknown, or
    /// Redis did not answer in time).
    pub async fn response_deployment(&self, response_id: &str) -> Option<String> {
        let mut connection = self.connection()?;
        let key = self.key("response", response_id);
        let mut get = redis::cmd("GET");
        get.arg(&key);
        let call = get.query_async::<Option<String>>(&mut connection);
        match tokio::time::timeout(HOT_PATH_DEADLINE, call).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                self.lost("reading a response's deployment", &e.kind_name_safe());
                None
            }
            Err(_) => {
                self.lost("reading a response's deployment", "timed out");
                None
            }
        }
    }

    fn later(&self, what: &'static str, build: impl FnOnce(&mut redis::Pipeline)) {
        let Some(mut connection) = self.connection() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        build(&mut pipe);
        let shared = self.clone();
        runtime.spawn(async move {
            let call = pipe.query_async::<()>(&mut connection);
            match tokio::time::timeout(BACKGROUND_DEADLINE, call).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => shared.lost(what, &e.kind_name_safe()),
                Err(_) => shared.lost(what, "timed out"),
            }
        });
    }
}

/// Redis errors can quote the URL (and so a password): only the error's category is logged.
trait KindNameSafe {
    fn kind_name_safe(&self) -> String;
}

impl KindNameSafe for redis::RedisError {
    fn kind_name_safe(&self) -> String {
        if self.is_timeout() {
            "timed out".into()
        } else if self.is_connection_refusal() {
            "connection refused".into()
        } else if self.is_connection_dropped() || self.is_io_error() {
            "connection lost".into()
        } else {
            format!("{:?}", self.kind())
        }
    }
}
