//! Group membership: several kmirror instances share work through Kafka's own group coordinator, the
//! way Kafka Connect workers do, with a protocol type of their own (`kmirror`) so the group can never be
//! mistaken for a consumer group.
//!
//! The classic (eager) protocol: every member joins with its metadata; the coordinator picks a leader,
//! which runs the [`Assignor`] over all members' metadata; every member receives its own assignment
//! bytes. When a member joins or leaves, the coordinator starts a rebalance: every member must stop the
//! work of its current assignment and join again. A rebalance completes only when every live member
//! has rejoined (or the rebalance timeout expelled it), so members that stop before rejoining never work
//! on the same thing at once. A member that is expelled without noticing (a long pause) keeps working
//! until its next heartbeat says so: the same "zombie" window Connect and consumers have.
//!
//! ```no_run
//! # async fn run(config: kmirror_kafka::ClientConfig) -> Result<(), kmirror_kafka::Error> {
//! use std::collections::BTreeMap;
//! use bytes::Bytes;
//! use kmirror_kafka::membership::{GroupMember, MemberMetadata, MembershipConfig};
//!
//! // The leader gives every member a share of the work; here: task numbers, round robin.
//! let assignor = |members: &[MemberMetadata]| -> BTreeMap<String, Bytes> {
//!     let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
//!     for task in 0..8 {
//!         let m = &members[task % members.len()];
//!         out.entry(m.member_id.clone()).or_default().push(task.to_string());
//!     }
//!     out.into_iter().map(|(m, t)| (m, Bytes::from(t.join(",")))).collect()
//! };
//! let mut member = GroupMember::connect(
//!     &config,
//!     MembershipConfig::new("kmirror-workers", Bytes::from_static(b"v1")),
//!     assignor,
//! )
//! .await?;
//! loop {
//!     let assignment = member.join().await?;
//!     // ... start the work named in assignment.data ...
//!     let why = member.revoked().await; // a rebalance started or the membership was lost
//!     // ... stop that work, then join again ...
//! #   let _ = (assignment, why);
//! #   break;
//! }
//! member.leave().await?;
//! # Ok(()) }
//! ```

mod protocol;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::{Client, Route, backoff};
use crate::config::ClientConfig;
use crate::conn::KafkaRequest;
use crate::error::Error;
use protocol::{Beat, Joined, Retry};

/// How a member joins its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipConfig {
    pub group_id: String,
    /// The group's protocol type; members of other types (consumers: `consumer`) cannot join the group.
    /// Default `kmirror`.
    pub protocol_type: String,
    /// The assignment protocol every member supports. Default `kmirror-v1`; change it when the
    /// assignment format changes, so old and new instances refuse to share a group.
    pub protocol_name: String,
    /// This member's metadata, handed to the leader's assignor (say, its capacity or its version).
    pub metadata: Bytes,
    /// Without a heartbeat for this long the coordinator expels the member (default 30 s; brokers
    /// accept 6 s to 30 min by default).
    pub session_timeout: Duration,
    /// How long the coordinator waits for every member to rejoin once a rebalance starts (default 60 s):
    /// the time a member has to stop its work.
    pub rebalance_timeout: Duration,
    /// Time between heartbeats (default 3 s): how quickly a member notices a rebalance.
    pub heartbeat_interval: Duration,
}

impl MembershipConfig {
    pub fn new(group_id: impl Into<String>, metadata: Bytes) -> Self {
        Self {
            group_id: group_id.into(),
            protocol_type: "kmirror".to_string(),
            protocol_name: "kmirror-v1".to_string(),
            metadata,
            session_timeout: Duration::from_secs(30),
            rebalance_timeout: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(3),
        }
    }
}

/// A member as the leader's assignor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub member_id: String,
    /// What that member put in [`MembershipConfig::metadata`].
    pub metadata: Bytes,
}

/// Runs on the leader only, once per generation: every member's metadata in, each member's assignment
/// bytes out (keyed by member id; members left out get empty bytes). Its output is what every member
/// works on until the next rebalance.
pub trait Assignor: Send + Sync + 'static {
    fn assign(&self, members: &[MemberMetadata]) -> BTreeMap<String, Bytes>;
}

impl<F> Assignor for F
where
    F: Fn(&[MemberMetadata]) -> BTreeMap<String, Bytes> + Send + Sync + 'static,
{
    fn assign(&self, members: &[MemberMetadata]) -> BTreeMap<String, Bytes> {
        self(members)
    }
}

/// This member's share of the current generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub generation: i32,
    pub member_id: String,
    pub leader_id: String,
    /// What the leader's assignor gave this member.
    pub data: Bytes,
}

impl Assignment {
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }
}

/// Why the current assignment is no longer valid. In every case: stop its work, then
/// [`GroupMember::join`] again.
#[derive(Debug, Clone)]
pub enum Revoked {
    /// A member joined or left: the group is rebalancing.
    Rebalance,
    /// The coordinator says this member is not in the current generation any more (expelled, fenced),
    /// or refused the heartbeat for good.
    Lost(Error),
    /// No heartbeat got through for a whole session timeout: the coordinator has expelled us by now.
    SessionExpired,
    /// [`GroupMember::join`] has not succeeded yet.
    NotJoined,
}

/// One member of a group. Call [`GroupMember::join`] to get an assignment, watch
/// [`GroupMember::revoked`], stop the work and join again; [`GroupMember::leave`] on shutdown (dropping
/// the member also leaves, best effort, when a tokio runtime is still running).
pub struct GroupMember {
    /// A client of its own: the coordinator holds a JoinGroup for up to the rebalance timeout, and a
    /// broker answers one request per connection at a time, so shared connections would stall.
    client: Client,
    config: Arc<MembershipConfig>,
    assignor: Arc<dyn Assignor>,
    member_id: String,
    generation: i32,
    heartbeat: Option<Heartbeat>,
}

struct Heartbeat {
    task: JoinHandle<()>,
    revoked: watch::Receiver<Option<Revoked>>,
}

impl fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupMember")
            .field("group_id", &self.config.group_id)
            .field("member_id", &self.member_id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl GroupMember {
    /// Connects a dedicated client to the cluster `client_config` names (see the field comment on why
    /// it is not shared). Does not join yet.
    pub async fn connect(
        client_config: &ClientConfig,
        config: MembershipConfig,
        assignor: impl Assignor,
    ) -> Result<Self, Error> {
        let client = Client::connect(client_config.clone()).await?;
        Ok(Self {
            client,
            config: Arc::new(config),
            assignor: Arc::new(assignor),
            member_id: String::new(),
            generation: -1,
            heartbeat: None,
        })
    }

    /// The id the coordinator gave this member (empty before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Joins the group (or rejoins after [`GroupMember::revoked`]) and waits for this member's
    /// assignment; heartbeats run in the background until the next join or leave. The work of any
    /// previous assignment must have stopped before calling this. Gives up after the rebalance timeout
    /// plus the request timeout, or at once on errors retrying cannot fix (wrong protocol type for the
    /// group, no permission).
    pub async fn join(&mut self) -> Result<Assignment, Error> {
        self.stop_heartbeat();
        let route = Route::GroupCoordinator(self.config.group_id.clone());
        let limit = self.config.rebalance_timeout + self.client.config().request_timeout;
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            let failure = match self.join_and_sync(&route).await {
                Ok((joined, data)) => {
                    self.member_id = joined.member_id.clone();
                    self.generation = joined.generation;
                    self.start_heartbeat(&route);
                    tracing::info!(
                        group = %self.config.group_id,
                        member = %joined.member_id,
                        generation = joined.generation,
                        leader = joined.is_leader(),
                        "joined group"
                    );
                    return Ok(Assignment {
                        generation: joined.generation,
                        member_id: joined.member_id,
                        leader_id: joined.leader_id,
                        data,
                    });
                }
                Err(Retry::Now { member_id }) => {
                    self.member_id = member_id;
                    None
                }
                Err(Retry::Later(e)) => {
                    self.client.note_error(&route, &e);
                    Some(e)
                }
                Err(Retry::Fatal(e)) => return Err(e),
            };
            if start.elapsed() >= limit {
                return Err(failure.unwrap_or_else(|| Error::Timeout {
                    broker: format!("coordinator of group '{}'", self.config.group_id),
                    api: "JoinGroup",
                    after: limit,
                }));
            }
            if let Some(e) = failure {
                attempt += 1;
                tracing::debug!(group = %self.config.group_id, error = %e, attempt, "join failed; retrying");
                let cfg = self.client.config();
                tokio::time::sleep(backoff(
                    cfg.reconnect_backoff,
                    Duration::from_secs(1),
                    attempt,
                ))
                .await;
            }
        }
    }

    async fn join_and_sync(&self, route: &Route) -> Result<(Joined, Bytes), Retry> {
        let config = &self.config;
        let group = config.group_id.as_str();
        // The coordinator answers JoinGroup and SyncGroup only once the rebalance is complete.
        let wait = config.rebalance_timeout + Duration::from_secs(5);
        let resp = send(
            &self.client,
            route,
            |v| protocol::build_join(config, &self.member_id, v),
            wait,
        )
        .await
        .map_err(transport)?;
        let joined = protocol::interpret_join(group, resp)?;
        let assignments = if joined.is_leader() {
            protocol::complete_assignments(&joined.members, self.assignor.assign(&joined.members))
        } else {
            Vec::new()
        };
        let resp = send(
            &self.client,
            route,
            |v| protocol::build_sync(config, &joined, assignments.clone(), v),
            wait,
        )
        .await
        .map_err(transport)?;
        let data = protocol::interpret_sync(group, &joined.member_id, resp)?;
        Ok((joined, data))
    }

    /// Resolves once the current assignment is no longer valid (a rebalance started, or the membership
    /// was lost); at once with [`Revoked::NotJoined`] before a successful join. Cancel-safe.
    pub async fn revoked(&mut self) -> Revoked {
        let Some(hb) = &mut self.heartbeat else {
            return Revoked::NotJoined;
        };
        loop {
            if let Some(r) = hb.revoked.borrow_and_update().clone() {
                return r;
            }
            if hb.revoked.changed().await.is_err() {
                // The heartbeat task always says why it stops; if it died without a word, nobody is
                // keeping the session alive any more.
                return hb
                    .revoked
                    .borrow()
                    .clone()
                    .unwrap_or(Revoked::SessionExpired);
            }
        }
    }

    /// Leaves the group now, so the others rebalance at once instead of after the session timeout.
    pub async fn leave(mut self) -> Result<(), Error> {
        self.stop_heartbeat();
        let member_id = std::mem::take(&mut self.member_id);
        if member_id.is_empty() {
            return Ok(());
        }
        leave_group(&self.client, &self.config.group_id, &member_id).await
    }

    fn start_heartbeat(&mut self, route: &Route) {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(heartbeat_loop(
            self.client.clone(),
            route.clone(),
            self.config.clone(),
            self.generation,
            self.member_id.clone(),
            tx,
        ));
        self.heartbeat = Some(Heartbeat { task, revoked: rx });
    }

    fn stop_heartbeat(&mut self) {
        if let Some(hb) = self.heartbeat.take() {
            hb.task.abort();
        }
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.stop_heartbeat();
        let member_id = std::mem::take(&mut self.member_id);
        if member_id.is_empty() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            let group = self.config.group_id.clone();
            rt.spawn(async move {
                if let Err(e) = leave_group(&client, &group, &member_id).await {
                    tracing::warn!(group, member = member_id, error = %e, "leaving the group on drop failed");
                }
            });
        }
    }
}

/// A transport failure during join/sync: retriable ones are worth another try after a backoff.
fn transport(e: Error) -> Retry {
    if e.is_retriable() {
        Retry::Later(e)
    } else {
        Retry::Fatal(e)
    }
}

/// Sends one request to `route` with its own timeout (group calls wait far longer than ordinary ones).
async fn send<R: KafkaRequest>(
    client: &Client,
    route: &Route,
    build: impl FnOnce(i16) -> R,
    timeout: Duration,
) -> Result<R::Response, Error> {
    let result = async {
        let conn = client.conn_for(route).await?;
        let version = conn.version::<R>()?;
        conn.wait_throttle().await;
        conn.enqueue(&build(version), version, timeout)?.await
    }
    .await;
    if let Err(e) = &result {
        client.note_error(route, e);
    }
    result
}

async fn leave_group(client: &Client, group: &str, member_id: &str) -> Result<(), Error> {
    let route = Route::GroupCoordinator(group.to_string());
    let timeout = client.config().request_timeout;
    client
        .with_retries("LeaveGroup", || async {
            let resp = send(
                client,
                &route,
                |v| protocol::build_leave(group, member_id, v),
                timeout,
            )
            .await?;
            let r = protocol::interpret_leave(group, &resp);
            if let Err(e) = &r {
                client.note_error(&route, e);
            }
            r
        })
        .await
}

async fn heartbeat_loop(
    client: Client,
    route: Route,
    config: Arc<MembershipConfig>,
    generation: i32,
    member_id: String,
    revoked: watch::Sender<Option<Revoked>>,
) {
    let group = config.group_id.as_str();
    let timeout = client.config().request_timeout.min(config.session_timeout);
    let mut last_ok = Instant::now();
    loop {
        tokio::time::sleep(config.heartbeat_interval).await;
        let beat = match send(
            &client,
            &route,
            |_| protocol::build_heartbeat(group, generation, &member_id),
            timeout,
        )
        .await
        {
            Ok(resp) => protocol::interpret_heartbeat(group, &resp),
            Err(e) => Beat::Retry(e),
        };
        match beat {
            Beat::Alive => last_ok = Instant::now(),
            Beat::Rebalance => {
                // Keep heartbeating: the session must stay alive while the work stops.
                last_ok = Instant::now();
                if revoked.borrow().is_none() {
                    tracing::info!(group, member = %member_id, generation, "group is rebalancing");
                    revoked.send_replace(Some(Revoked::Rebalance));
                }
            }
            Beat::Lost(e) => {
                tracing::warn!(group, member = %member_id, error = %e, "lost group membership");
                revoked.send_replace(Some(Revoked::Lost(e)));
                return;
            }
            Beat::Retry(e) => {
                client.note_error(&route, &e);
                tracing::debug!(group, error = %e, "heartbeat failed; retrying");
            }
        }
        if last_ok.elapsed() >= config.session_timeout {
            tracing::warn!(group, member = %member_id, "no heartbeat got through for a session timeout");
            revoked.send_replace(Some(Revoked::SessionExpired));
            return;
        }
    }
}
