//! The client: metadata cache, routing of requests to the right broker, and the retry helpers every
//! higher-level operation (fetch, produce, admin) is built from.

mod metadata;
mod pool;
mod ready;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    FindCoordinatorRequest, MetadataRequest, TopicName, metadata_request::MetadataRequestTopic,
};
use kafka_protocol::protocol::StrBytes;

pub use metadata::{BrokerInfo, Metadata, PartitionMetadata, TopicMetadata};
pub(crate) use pool::backoff;

use crate::config::ClientConfig;
use crate::conn::{ConnectSettings, Connection, KafkaRequest};
use crate::error::Error;
use crate::types::TopicPartition;
use pool::Pool;

/// Where a request must go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    /// Any broker: metadata, topic and config admin (KRaft brokers forward to the controller).
    Any,
    /// One broker by node id (e.g. DescribeConfigs for a BROKER resource).
    Broker(i32),
    /// The controller as named in the metadata.
    Controller,
    /// The current leader of a partition (Produce, Fetch, ListOffsets, DeleteRecords).
    Leader(TopicPartition),
    /// The group coordinator of a consumer group (found with FindCoordinator and cached).
    GroupCoordinator(String),
}

/// A connection to one Kafka cluster. Cheap to clone; all clones share connections and metadata.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.inner.config.bootstrap_servers)
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) config: Arc<ClientConfig>,
    pool: Pool,
    metadata: RwLock<Arc<Metadata>>,
    /// Set when an error says the cached metadata is wrong; the next routing refreshes it first.
    stale: AtomicBool,
    /// Counts completed refreshes, so concurrent callers wanting one refresh share it.
    generation: AtomicU64,
    refresh_lock: tokio::sync::Mutex<()>,
    /// The cache follows every topic (it was last filled by a `metadata(None)`).
    all_topics: AtomicBool,
    coordinators: Mutex<HashMap<String, i32>>,
}

impl Client {
    /// Connects to a bootstrap broker and loads metadata. An unreachable cluster and an authentication
    /// or TLS failure are errors naming the addresses, mechanism and user.
    pub async fn connect(config: ClientConfig) -> Result<Client, Error> {
        config.validate()?;
        let config = Arc::new(config);
        let settings = ConnectSettings::new(config.clone())?;
        let inner = Arc::new(Inner {
            config: config.clone(),
            pool: Pool::new(settings),
            metadata: RwLock::new(Arc::new(Metadata::default())),
            stale: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            refresh_lock: tokio::sync::Mutex::new(()),
            all_topics: AtomicBool::new(false),
            coordinators: Mutex::new(HashMap::new()),
        });
        let client = Client { inner };
        client.bootstrap().await?;
        tokio::spawn(refresh_periodically(
            Arc::downgrade(&client.inner),
            config.metadata_max_age,
        ));
        Ok(client)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The `sub` claim of the current OAUTHBEARER token: the principal (`User:<sub>`) Kafka's default
    /// validator gives this client. `None` for other mechanisms or an opaque token.
    pub async fn oauth_subject(&self) -> Option<String> {
        let tokens = self.inner.pool.settings().tokens.clone()?;
        crate::conn::token_subject(&tokens.token().await.ok()?)
    }

    async fn bootstrap(&self) -> Result<(), Error> {
        let mut last_error = None;
        for addr in &self.inner.config.bootstrap_servers {
            match self.inner.pool.get(addr).await {
                Ok(conn) => match self.metadata_from(&conn, Some(&[])).await {
                    Ok(_) => return Ok(()),
                    Err(e) if e.is_retriable() => last_error = Some(e),
                    Err(e) => return Err(e),
                },
                // Wrong credentials or certificates will not get better on another bootstrap server.
                Err(e) if !e.is_retriable() => return Err(e),
                Err(e) => last_error = Some(e),
            }
        }
        Err(Error::BootstrapUnreachable {
            servers: self.inner.config.bootstrap_servers.join(","),
            last_error: last_error.map(|e| e.to_string()).unwrap_or_default(),
        })
    }

    /// The cached metadata; may be up to `metadata_max_age` old.
    pub fn cached_metadata(&self) -> Arc<Metadata> {
        self.inner
            .metadata
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Fresh metadata for these topics (`None` = all topics), also updating the cache. Unknown topics
    /// are absent from the answer.
    pub async fn metadata(&self, topics: Option<&[String]>) -> Result<Arc<Metadata>, Error> {
        self.with_retries("Metadata", || async {
            let conn = self.any_conn().await?;
            self.metadata_from(&conn, topics).await
        })
        .await
    }

    async fn metadata_from(
        &self,
        conn: &Connection,
        topics: Option<&[String]>,
    ) -> Result<Arc<Metadata>, Error> {
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let resp = conn.send(&req).await?;
        let fresh = Arc::new(Metadata::from_response(&resp));
        {
            let mut cache = self
                .inner
                .metadata
                .write()
                .unwrap_or_else(|p| p.into_inner());
            *cache = Arc::new(cache.merged(&fresh, topics));
        }
        if topics.is_none() {
            self.inner.all_topics.store(true, Ordering::Relaxed);
        }
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        Ok(fresh)
    }

    /// Refreshes the cache for every topic it follows plus `extra`. Callers that ask at the same time
    /// share one request.
    pub async fn refresh_metadata(&self, extra: &[String]) -> Result<(), Error> {
        let seen = self.inner.generation.load(Ordering::Acquire);
        let _guard = self.inner.refresh_lock.lock().await;
        let cached = self.cached_metadata();
        let all_known = extra.iter().all(|t| cached.topics.contains_key(t));
        if self.inner.generation.load(Ordering::Acquire) != seen && all_known {
            return Ok(());
        }
        self.inner.stale.store(false, Ordering::Release);
        if self.inner.all_topics.load(Ordering::Relaxed) {
            self.metadata(None).await?;
        } else {
            let names: BTreeSet<String> = cached
                .topics
                .keys()
                .cloned()
                .chain(extra.iter().cloned())
                .collect();
            let names: Vec<String> = names.into_iter().collect();
            self.metadata(Some(&names)).await?;
        }
        Ok(())
    }

    /// Marks the cached metadata as wrong (say after NOT_LEADER_OR_FOLLOWER); the next routing refreshes.
    pub fn invalidate_metadata(&self) {
        self.inner.stale.store(true, Ordering::Release);
    }

    /// Takes the remedy an error calls for: forget a group coordinator, or mark the metadata stale.
    /// Admin code calls this with any error before retrying through [`Client::with_retries`].
    pub fn note_error(&self, route: &Route, error: &Error) {
        use ResponseError as E;
        match (route, error.code()) {
            (Route::GroupCoordinator(g), Some(E::NotCoordinator | E::CoordinatorNotAvailable)) => {
                self.forget_coordinator(g);
            }
            (Route::GroupCoordinator(g), None) if error.is_retriable() => {
                self.forget_coordinator(g)
            }
            (
                _,
                Some(
                    E::NotLeaderOrFollower
                    | E::FencedLeaderEpoch
                    | E::UnknownLeaderEpoch
                    | E::LeaderNotAvailable
                    | E::UnknownTopicOrPartition
                    | E::UnknownTopicId
                    | E::NotController
                    | E::KafkaStorageError
                    | E::ReplicaNotAvailable,
                ),
            ) => self.invalidate_metadata(),
            (_, None) if error.is_retriable() => self.invalidate_metadata(),
            _ => {}
        }
    }

    fn forget_coordinator(&self, group: &str) {
        self.inner
            .coordinators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(group);
    }

    pub(crate) async fn refresh_if_stale(&self) -> Result<(), Error> {
        if self.inner.stale.load(Ordering::Acquire) {
            self.refresh_metadata(&[]).await?;
        }
        Ok(())
    }

    /// Sends one request to where `route` points and returns the broker's response as it is: error codes
    /// inside the response are the caller's to read. Routing itself refreshes metadata and finds group
    /// coordinators as needed. This is the building block of every API of this crate (and of admin
    /// operations: pair it with [`Client::note_error`] and [`Client::with_retries`]).
    ///
    /// The request goes out at the highest version both this client and the broker speak; requests
    /// whose fields depend on the version can ask [`Client::version_for`] first.
    pub async fn send_to<R: KafkaRequest>(
        &self,
        route: Route,
        req: R,
    ) -> Result<R::Response, Error> {
        let conn = self.conn_for(&route).await?;
        let result = conn.send(&req).await;
        if let Err(e) = &result {
            self.note_error(&route, e);
        }
        result
    }

    /// The version of `R` the broker behind `route` will get from [`Client::send_to`].
    pub async fn version_for<R: KafkaRequest>(&self, route: &Route) -> Result<i16, Error> {
        self.conn_for(route).await?.version::<R>()
    }

    /// Runs `op` until it succeeds, fails with a non-retriable error, or `request_timeout` has passed
    /// since the first try; waits a jittered, growing backoff between tries.
    pub async fn with_retries<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let start = Instant::now();
        let cfg = &self.inner.config;
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retriable() && start.elapsed() < cfg.request_timeout => {
                    attempt += 1;
                    let wait = backoff(cfg.reconnect_backoff, Duration::from_secs(1), attempt);
                    tracing::debug!(what, error = %e, attempt, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A connection for `route`, refreshing metadata or finding the coordinator as needed.
    pub(crate) async fn conn_for(&self, route: &Route) -> Result<Arc<Connection>, Error> {
        self.refresh_if_stale().await?;
        match route {
            Route::Any => self.any_conn().await,
            Route::Broker(id) => self.broker_conn(*id).await,
            Route::Controller => {
                let id = self.cached_metadata().controller_id;
                self.broker_conn(id).await
            }
            Route::Leader(tp) => {
                let (leader, _) = self.leader_of(tp).await?;
                self.broker_conn(leader).await
            }
            Route::GroupCoordinator(group) => {
                let id = self.coordinator_of(group).await?;
                self.broker_conn(id).await
            }
        }
    }

    /// Leader node and leader epoch of `tp`, refreshing metadata once if the cache does not know them.
    pub async fn leader_of(&self, tp: &TopicPartition) -> Result<(i32, i32), Error> {
        for attempt in 0..2 {
            let md = self.cached_metadata();
            match md.partition(&tp.topic, tp.partition) {
                Some(p) if p.leader >= 0 => return Ok((p.leader, p.leader_epoch)),
                _ if attempt == 0 => {
                    self.refresh_metadata(std::slice::from_ref(&tp.topic))
                        .await?
                }
                Some(_) => return Err(Error::NoLeader { tp: tp.clone() }),
                None => return Err(Error::UnknownTopicOrPartition { tp: tp.clone() }),
            }
        }
        Err(Error::NoLeader { tp: tp.clone() })
    }

    pub(crate) async fn broker_conn(&self, id: i32) -> Result<Arc<Connection>, Error> {
        let addr = match self.cached_metadata().brokers.get(&id) {
            Some(b) => b.addr(),
            None => {
                self.refresh_metadata(&[]).await?;
                self.cached_metadata()
                    .brokers
                    .get(&id)
                    .map(BrokerInfo::addr)
                    .ok_or(Error::UnknownBroker { node: id })?
            }
        };
        self.inner.pool.get(&addr).await
    }

    /// A live connection to any broker: one already open if possible, else the metadata's brokers in
    /// random order, else the bootstrap servers.
    async fn any_conn(&self) -> Result<Arc<Connection>, Error> {
        let md = self.cached_metadata();
        let known: Vec<String> = md.brokers.values().map(BrokerInfo::addr).collect();
        let live = self.inner.pool.live();
        if let Some(addr) = live.iter().find(|a| known.contains(a)).or(live.first()) {
            return self.inner.pool.get(addr).await;
        }
        let mut candidates = known;
        {
            use rand::seq::SliceRandom;
            candidates.shuffle(&mut rand::rng());
        }
        candidates.extend(self.inner.config.bootstrap_servers.iter().cloned());
        let mut last = None;
        for addr in candidates {
            match self.inner.pool.get(&addr).await {
                Ok(c) => return Ok(c),
                Err(e) if !e.is_retriable() => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::BootstrapUnreachable {
            servers: self.inner.config.bootstrap_servers.join(","),
            last_error: "no broker known".into(),
        }))
    }

    /// The coordinator of `group` (cached; FindCoordinator on a miss, retrying while it loads).
    pub async fn coordinator_of(&self, group: &str) -> Result<i32, Error> {
        if let Some(id) = self
            .inner
            .coordinators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(group)
        {
            return Ok(*id);
        }
        let id = self
            .with_retries("FindCoordinator", || async {
                let conn = self.any_conn().await?;
                let version = conn.version::<FindCoordinatorRequest>()?;
                let key = StrBytes::from_string(group.to_string());
                let req = if version >= 4 {
                    FindCoordinatorRequest::default().with_coordinator_keys(vec![key])
                } else {
                    FindCoordinatorRequest::default().with_key(key)
                };
                let resp = conn.send(&req).await?;
                let (code, msg, node) = match resp.coordinators.first() {
                    Some(c) if version >= 4 => (c.error_code, c.error_message.clone(), c.node_id.0),
                    _ => (resp.error_code, resp.error_message.clone(), resp.node_id.0),
                };
                if let Some(e) = Error::from_code(
                    code,
                    || format!("finding the coordinator of group '{group}'"),
                    msg.as_deref(),
                ) {
                    return Err(e);
                }
                Ok(node)
            })
            .await?;
        self.inner
            .coordinators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group.to_string(), id);
        Ok(id)
    }
}

async fn refresh_periodically(inner: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let client = Client { inner };
        if let Err(e) = client.refresh_metadata(&[]).await {
            tracing::debug!(error = %e, "periodic metadata refresh failed");
        }
    }
}
