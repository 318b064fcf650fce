//! The online half of `kmirror validate`: connect and authenticate every client `run` will open, then ask
//! the brokers which operations each principal may perform (Kafka's "authorized operations" in Metadata,
//! DescribeCluster and DescribeGroups, and CreateTopics with `validate_only`) and list every missing one
//! with the `kafka-acls` command that grants it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use kmirror::config::{Config, FlowConfig, Role, Side};
use kmirror::policy::{Decision, should_replicate_group, should_replicate_topic};
use kmirror::progress::progress_topic;
use kmirror_kafka::admin::Admin;
use kmirror_kafka::protocol::error::ResponseError;
use kmirror_kafka::protocol::messages::create_topics_request::CreatableTopic;
use kmirror_kafka::protocol::messages::metadata_request::MetadataRequestTopic;
use kmirror_kafka::protocol::messages::{
    CreateTopicsRequest, DescribeClusterRequest, DescribeGroupsRequest, GroupId, MetadataRequest,
    TopicName,
};
use kmirror_kafka::protocol::protocol::StrBytes;
use kmirror_kafka::{Client, ClientConfig, Route};

/// How long one cluster may take to answer the connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How many groups are checked per flow (each is one request).
const MAX_GROUPS: usize = 200;

/// Kafka's ACL operations (their codes are the bit positions in "authorized operations").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Op {
    Read = 3,
    Write = 4,
    Create = 5,
    Alter = 7,
    Describe = 8,
    DescribeConfigs = 10,
    AlterConfigs = 11,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Read => "Read",
            Op::Write => "Write",
            Op::Create => "Create",
            Op::Alter => "Alter",
            Op::Describe => "Describe",
            Op::DescribeConfigs => "DescribeConfigs",
            Op::AlterConfigs => "AlterConfigs",
        }
    }

    /// Whether the bit field from a response allows this operation. `i32::MIN` means the broker did not
    /// say (an old broker): then nothing can be concluded and the operation counts as allowed.
    fn allowed_by(self, bits: i32) -> bool {
        bits == i32::MIN || bits & (1 << self as i32) != 0
    }
}

/// What an ACL is on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Resource {
    Topic(String),
    Group(String),
    Cluster,
}

/// One operation a principal lacks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Missing {
    pub alias: String,
    pub bootstrap: String,
    pub principal: String,
    pub resource: Resource,
    pub op: Op,
    /// Why the flow needs it.
    pub why: String,
}

/// The outcome of the online checks.
#[derive(Debug, Default)]
pub(super) struct Report {
    /// Topics of each source cluster (for the plan), or why they could not be listed.
    pub listed: BTreeMap<String, Result<Vec<String>, String>>,
    /// Clusters reached, by alias, with the principals used.
    pub reached: BTreeMap<String, BTreeSet<String>>,
    /// Connection and authentication failures, one line each.
    pub failures: Vec<String>,
    /// Missing permissions.
    pub missing: BTreeSet<Missing>,
    /// Things that could not be checked before `run` (not failures).
    pub notes: Vec<String>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty() && self.missing.is_empty()
    }

    /// Distinct missing operations (one operation may be needed for several reasons).
    pub fn missing_ops(&self) -> usize {
        self.missing
            .iter()
            .map(|m| (&m.alias, &m.principal, &m.resource, m.op))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// A connected client with what the checks need to know about it.
struct Conn {
    client: Client,
    alias: String,
    bootstrap: String,
    principal: String,
}

/// How the brokers see a client: its SASL user, its certificate, or nobody.
fn principal_of(config: &ClientConfig) -> String {
    if let Some(sasl) = &config.sasl {
        return format!("User:{}", sasl.username);
    }
    if config.security_protocol.uses_tls() && config.tls.has_client_cert() {
        return match config.tls.client_subject() {
            Some(subject) => format!("User:{subject}"),
            None => "User:<subject of the client certificate, e.g. CN=kmirror>".to_owned(),
        };
    }
    "User:ANONYMOUS".to_owned()
}

/// Connects every client of every active flow and checks the enabled flows' permissions.
pub(super) async fn check(config: &Config) -> Report {
    let mut report = Report::default();
    // One connection per distinct way of reaching a cluster (usually one per cluster), all opened at once.
    let mut ways: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut by_way: BTreeMap<BTreeMap<String, String>, usize> = BTreeMap::new();
    let mut index: BTreeMap<(String, Side, Role), usize> = BTreeMap::new();
    for flow in &config.flows {
        let sides: &[Side] = if flow.enabled {
            &[Side::Source, Side::Target]
        } else {
            &[Side::Target] // heartbeats only
        };
        for &side in sides {
            let alias = match side {
                Side::Source => &flow.source,
                Side::Target => &flow.target,
            };
            for role in Role::ALL {
                let props = config.client_properties(flow, side, role);
                let way: BTreeMap<String, String> = props
                    .iter()
                    .filter(|(k, _)| {
                        k.as_str() == "bootstrap.servers"
                            || k.as_str() == "security.protocol"
                            || k.starts_with("ssl.")
                            || k.starts_with("sasl.")
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let i = *by_way.entry(way).or_insert_with(|| {
                    ways.push((alias.clone(), props));
                    ways.len() - 1
                });
                index.insert((flow.name(), side, role), i);
            }
        }
    }
    let mut pending = tokio::task::JoinSet::new();
    for (i, (alias, props)) in ways.iter().enumerate() {
        let (alias, props) = (alias.clone(), props.clone());
        pending.spawn(async move { (i, connect(&alias, &props).await) });
    }
    let mut opened: BTreeMap<usize, Result<Conn, String>> = BTreeMap::new();
    while let Some(joined) = pending.join_next().await {
        if let Ok((i, conn)) = joined {
            opened.insert(i, conn);
        }
    }
    let mut conns: Vec<Result<Conn, String>> = Vec::new();
    for (i, (alias, _)) in ways.iter().enumerate() {
        let conn = opened
            .remove(&i)
            .unwrap_or_else(|| Err("the connection attempt failed".to_owned()));
        match &conn {
            Ok(c) => {
                report
                    .reached
                    .entry(alias.clone())
                    .or_default()
                    .insert(c.principal.clone());
            }
            Err(e) => {
                let line = format!("cluster {alias}: {e}");
                if !report.failures.contains(&line) {
                    report.failures.push(line);
                }
            }
        }
        conns.push(conn);
    }
    let get = |flow: &FlowConfig, side: Side, role: Role| -> Option<&Conn> {
        let i = *index.get(&(flow.name(), side, role))?;
        conns.get(i)?.as_ref().ok()
    };
    // Flows that only emit heartbeats write one topic on their target.
    for flow in config
        .flows
        .iter()
        .filter(|f| !f.enabled && f.emit_heartbeats.enabled)
    {
        if let (Some(admin), Some(producer)) = (
            get(flow, Side::Target, Role::Admin),
            get(flow, Side::Target, Role::Producer),
        ) {
            let topic = vec![flow.heartbeats_topic().to_owned()];
            let mut c = FlowCheck {
                flow,
                report: &mut report,
            };
            c.topics(
                admin,
                &topic,
                &[Op::Create, Op::Describe],
                "emits heartbeats into this topic",
            )
            .await;
            c.topics(
                producer,
                &topic,
                &[Op::Write],
                "emits heartbeats into this topic",
            )
            .await;
        }
    }
    for flow in config.enabled_flows() {
        let (Some(src_admin), Some(src_consumer), Some(src_producer)) = (
            get(flow, Side::Source, Role::Admin),
            get(flow, Side::Source, Role::Consumer),
            get(flow, Side::Source, Role::Producer),
        ) else {
            report.listed.entry(flow.source.clone()).or_insert_with(|| {
                Err(format!(
                    "cluster {} could not be reached (see below)",
                    flow.source
                ))
            });
            continue;
        };
        let Some(listing) = topics_with_ops(src_admin, None)
            .await
            .map_err(|e| {
                report
                    .failures
                    .push(format!("cluster {}: cannot list topics: {e}", flow.source));
            })
            .ok()
        else {
            continue;
        };
        report
            .listed
            .insert(flow.source.clone(), Ok(listing.keys().cloned().collect()));
        let (Some(tgt_admin), Some(tgt_producer)) = (
            get(flow, Side::Target, Role::Admin),
            get(flow, Side::Target, Role::Producer),
        ) else {
            continue;
        };
        let mut c = FlowCheck {
            flow,
            report: &mut report,
        };
        c.run(
            &listing,
            src_admin,
            src_consumer,
            src_producer,
            tgt_admin,
            tgt_producer,
        )
        .await;
    }
    report
}

async fn connect(alias: &str, props: &BTreeMap<String, String>) -> Result<Conn, String> {
    let (mut config, _) = ClientConfig::from_properties(props).map_err(|e| e.to_string())?;
    config.client_id = "kmirror-validate".to_owned();
    let bootstrap = config.bootstrap_servers.join(",");
    let principal = principal_of(&config);
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(config)).await {
        Ok(Ok(client)) => {
            let principal = match client.oauth_subject().await {
                Some(sub) => format!("User:{sub}"),
                None => principal,
            };
            Ok(Conn {
                client,
                alias: alias.to_owned(),
                bootstrap,
                principal,
            })
        }
        Ok(Err(e)) => Err(format!("bootstrap {bootstrap}: {e}")),
        Err(_) => Err(format!(
            "bootstrap {bootstrap}: no answer within {} s; check {alias}.bootstrap.servers, \
             {alias}.security.protocol and that the cluster is up",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// Topic name -> authorized operations (`names` None: every topic the principal may describe; for given
/// names, those the principal may not describe map to 0 and absent topics are left out).
async fn topics_with_ops(
    conn: &Conn,
    names: Option<&[String]>,
) -> Result<BTreeMap<String, i32>, String> {
    let topics = names.map(|n| {
        n.iter()
            .map(|t| {
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
            })
            .collect()
    });
    let req = MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(false)
        .with_include_topic_authorized_operations(true);
    let resp = conn
        .client
        .send_to(Route::Any, req)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for t in resp.topics {
        let Some(name) = t.name else { continue };
        let name = name.0.to_string();
        match t.error_code {
            0 if !t.is_internal => {
                out.insert(name, t.topic_authorized_operations);
            }
            29 => {
                out.insert(name, 0); // TOPIC_AUTHORIZATION_FAILED: not even Describe
            }
            _ => {} // absent (UNKNOWN_TOPIC_OR_PARTITION) or internal
        }
    }
    Ok(out)
}

async fn cluster_ops(conn: &Conn) -> Result<i32, String> {
    let req = DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
    let resp = conn
        .client
        .send_to(Route::Any, req)
        .await
        .map_err(|e| e.to_string())?;
    if resp.error_code != 0 {
        return Err(format!("DescribeCluster error code {}", resp.error_code));
    }
    Ok(resp.cluster_authorized_operations)
}

/// Group -> authorized operations (0 when the principal may not even describe it); `None` when the group
/// does not exist there (Kafka 4 then says nothing about its permissions).
async fn group_ops(conn: &Conn, group: &str) -> Result<Option<i32>, String> {
    let route = Route::GroupCoordinator(group.to_owned());
    let mut last = String::new();
    for attempt in 0..5u64 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
        let req = DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(StrBytes::from_string(group.to_owned()))])
            .with_include_authorized_operations(true);
        let resp = match conn.client.send_to(route.clone(), req).await {
            Ok(r) => r,
            // FindCoordinator itself is refused without Describe on the group.
            Err(e) if e.code() == Some(ResponseError::GroupAuthorizationFailed) => {
                return Ok(Some(0));
            }
            Err(e) if e.is_retriable() => {
                last = e.to_string();
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        let Some(g) = resp.groups.first() else {
            return Err("empty DescribeGroups answer".to_owned());
        };
        match ResponseError::try_from_code(g.error_code) {
            None => return Ok(Some(g.authorized_operations)),
            Some(ResponseError::GroupAuthorizationFailed) => return Ok(Some(0)),
            Some(ResponseError::GroupIdNotFound) => return Ok(None),
            // The coordinator moved or is loading: forget it and ask again.
            Some(
                code @ (ResponseError::NotCoordinator
                | ResponseError::CoordinatorNotAvailable
                | ResponseError::CoordinatorLoadInProgress),
            ) => {
                let error = kmirror_kafka::Error::Kafka {
                    code,
                    context: format!("describe group {group}"),
                    message: None,
                };
                conn.client.note_error(&route, &error);
                last = error.to_string();
            }
            Some(code) => return Err(format!("DescribeGroups: {code:?}")),
        }
    }
    Err(last)
}

/// Of `topics` (absent ones), those the principal may not create: CreateTopics with `validate_only`, so
/// nothing is created.
async fn refused_creates(conn: &Conn, topics: &[String]) -> Result<BTreeSet<String>, String> {
    let mut refused = BTreeSet::new();
    for chunk in topics.chunks(100) {
        let req = CreateTopicsRequest::default()
            .with_topics(
                chunk
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.clone())))
                            .with_num_partitions(1)
                            .with_replication_factor(-1)
                    })
                    .collect(),
            )
            .with_timeout_ms(10_000)
            .with_validate_only(true);
        let resp = conn
            .client
            .send_to(Route::Any, req)
            .await
            .map_err(|e| e.to_string())?;
        // Only authorization errors count; anything else (say, a bad replication factor) is not about ACLs.
        refused.extend(
            resp.topics
                .into_iter()
                .filter(|t| {
                    matches!(
                        ResponseError::try_from_code(t.error_code),
                        Some(
                            ResponseError::TopicAuthorizationFailed
                                | ResponseError::ClusterAuthorizationFailed
                        )
                    )
                })
                .map(|t| t.name.0.to_string()),
        );
    }
    Ok(refused)
}

struct FlowCheck<'a> {
    flow: &'a FlowConfig,
    report: &'a mut Report,
}

impl FlowCheck<'_> {
    fn need(&mut self, conn: &Conn, resource: Resource, ops: &[Op], bits: i32, why: &str) {
        for &op in ops {
            if !op.allowed_by(bits) {
                self.report.missing.insert(Missing {
                    alias: conn.alias.clone(),
                    bootstrap: conn.bootstrap.clone(),
                    principal: conn.principal.clone(),
                    resource: resource.clone(),
                    op,
                    why: format!("{} {why}", self.flow.name()),
                });
            }
        }
    }

    fn note(&mut self, text: String) {
        if !self.report.notes.contains(&text) {
            self.report.notes.push(text);
        }
    }

    /// Checks `ops` on `topics` of `conn`'s cluster; a topic that does not exist yet is checked for
    /// Create only (the rest is checked by `run` once it exists).
    async fn topics(&mut self, conn: &Conn, topics: &[String], ops: &[Op], why: &str) {
        if topics.is_empty() {
            return;
        }
        let found = match topics_with_ops(conn, Some(topics)).await {
            Ok(f) => f,
            Err(e) => {
                self.report.failures.push(format!(
                    "cluster {}: cannot describe topics: {e}",
                    conn.alias
                ));
                return;
            }
        };
        let mut absent = Vec::new();
        for t in topics {
            match found.get(t) {
                Some(&bits) => {
                    let ops: Vec<Op> = ops.iter().copied().filter(|o| *o != Op::Create).collect();
                    self.need(conn, Resource::Topic(t.clone()), &ops, bits, why);
                }
                None => absent.push(t.clone()),
            }
        }
        if absent.is_empty() || !ops.contains(&Op::Create) {
            return;
        }
        match refused_creates(conn, &absent).await {
            Ok(refused) => {
                for t in refused {
                    self.need(conn, Resource::Topic(t), &[Op::Create], 0, why);
                }
            }
            Err(e) => self.report.failures.push(format!(
                "cluster {}: cannot check Create on {} topic(s): {e}",
                conn.alias,
                absent.len()
            )),
        }
    }

    async fn run(
        &mut self,
        source_topics: &BTreeMap<String, i32>,
        src_admin: &Conn,
        src_consumer: &Conn,
        src_producer: &Conn,
        tgt_admin: &Conn,
        tgt_producer: &Conn,
    ) {
        let flow = self.flow;
        // Source topics: the selected ones the admin client sees, plus literal names in `topics` that it
        // does not see (a topic the principal may not describe is invisible in a listing).
        let mut selected: BTreeMap<String, String> = BTreeMap::new();
        for t in source_topics.keys() {
            if let Decision::Replicate { target_name } = should_replicate_topic(flow, t) {
                selected.insert(t.clone(), target_name);
            }
        }
        let literal: Vec<String> = flow
            .topics
            .include()
            .patterns()
            .iter()
            .filter(|p| is_literal(p) && !source_topics.contains_key(p.as_str()))
            .cloned()
            .collect();
        if !literal.is_empty()
            && let Ok(found) = topics_with_ops(src_admin, Some(&literal)).await
        {
            for (t, bits) in found {
                if bits == 0 {
                    // Check its target side too, as if it were visible.
                    if let Decision::Replicate { target_name } = should_replicate_topic(flow, &t) {
                        selected.insert(t.clone(), target_name);
                    }
                    self.need(
                        src_admin,
                        Resource::Topic(t.clone()),
                        &[Op::Describe, Op::Read],
                        0,
                        "reads this source topic",
                    );
                }
            }
        }
        let names: Vec<String> = selected.keys().cloned().collect();
        let mut src_ops = vec![Op::Describe];
        if flow.sync_topic_configs.enabled {
            src_ops.push(Op::DescribeConfigs);
        }
        self.topics(src_admin, &names, &src_ops, "describes this source topic")
            .await;
        self.topics(src_consumer, &names, &[Op::Read], "reads this source topic")
            .await;
        if names.is_empty() {
            self.note(format!(
                "{}: no source topic it may see is selected, so topic permissions were not checked",
                flow.name()
            ));
        }
        if flow
            .topics
            .include()
            .patterns()
            .iter()
            .any(|p| !is_literal(p))
        {
            self.note(format!(
                "{}: a topic the source principal may not Describe is invisible to it (to MM2 as well) and \
                 is neither copied nor reported here; name such topics literally in `topics` to have them \
                 checked",
                flow.name()
            ));
        }

        // Target: remote topics and internal topics.
        let remote: Vec<String> = selected.values().cloned().collect();
        let mut admin_ops = vec![Op::Create, Op::Describe];
        if flow.sync_topic_configs.enabled {
            admin_ops.extend([Op::DescribeConfigs, Op::AlterConfigs]);
        }
        if flow.sync_group_offsets.enabled {
            admin_ops.push(Op::Read); // OffsetCommit needs Read on the topic too
        }
        self.topics(
            tgt_admin,
            &remote,
            &admin_ops,
            "creates and manages this remote topic",
        )
        .await;
        self.topics(
            tgt_producer,
            &remote,
            &[Op::Write],
            "copies records into this topic",
        )
        .await;
        let mut internal = vec![progress_topic(&flow.source)];
        if flow.emit_checkpoints.enabled {
            internal.push(flow.checkpoints_topic());
        }
        if flow.emit_heartbeats.enabled {
            internal.push(flow.heartbeats_topic().to_owned());
        }
        let syncs_on_target = flow.emit_offset_syncs && flow.offset_syncs_cluster() == flow.target;
        if syncs_on_target {
            internal.push(flow.offset_syncs_topic());
        }
        self.topics(
            tgt_admin,
            &internal,
            &[Op::Create, Op::Describe, Op::Read],
            "keeps its progress, checkpoints or heartbeats in this internal topic",
        )
        .await;
        self.topics(
            tgt_producer,
            &internal,
            &[Op::Write],
            "writes this internal topic",
        )
        .await;
        if flow.emit_offset_syncs && !syncs_on_target {
            let syncs = vec![flow.offset_syncs_topic()];
            self.topics(
                src_admin,
                &syncs,
                &[Op::Create, Op::Describe, Op::Read],
                "keeps offset-syncs in this topic",
            )
            .await;
            self.topics(src_producer, &syncs, &[Op::Write], "writes offset-syncs")
                .await;
        }
        if !remote.is_empty() {
            self.note(format!(
                "{}: Write and the other operations on remote topics that do not exist yet are checked \
                 when kmirror creates them (Create is checked now)",
                flow.name()
            ));
        }

        // Groups: describe on the source, commit (Read) on the target.
        if flow.emit_checkpoints.enabled || flow.sync_group_offsets.enabled {
            self.groups(src_admin, tgt_admin).await;
        }

        // ACL sync reads the source's ACLs and writes the target's.
        if flow.sync_topic_acls.enabled {
            match cluster_ops(src_admin).await {
                Ok(bits) => self.need(
                    src_admin,
                    Resource::Cluster,
                    &[Op::Describe],
                    bits,
                    "reads topic ACLs (sync.topic.acls.enabled)",
                ),
                Err(e) => self.note(format!(
                    "{}: cluster permissions not checked: {e}",
                    src_admin.alias
                )),
            }
            match cluster_ops(tgt_admin).await {
                Ok(bits) => self.need(
                    tgt_admin,
                    Resource::Cluster,
                    &[Op::Alter],
                    bits,
                    "creates topic ACLs (sync.topic.acls.enabled)",
                ),
                Err(e) => self.note(format!(
                    "{}: cluster permissions not checked: {e}",
                    tgt_admin.alias
                )),
            }
        }
    }

    async fn groups(&mut self, src_admin: &Conn, tgt_admin: &Conn) {
        let flow = self.flow;
        let mut groups: BTreeSet<String> = BTreeSet::new();
        match Admin::new(src_admin.client.clone()).list_groups().await {
            Ok(listed) => groups.extend(listed.into_iter().map(|g| g.group_id)),
            Err(e) => self.report.failures.push(format!(
                "cluster {}: cannot list consumer groups: {e}",
                src_admin.alias
            )),
        }
        groups.extend(
            flow.groups
                .include()
                .patterns()
                .iter()
                .filter(|p| is_literal(p))
                .cloned(),
        );
        let selected: Vec<String> = groups
            .into_iter()
            .filter(|g| should_replicate_group(flow, g).is_ok())
            .collect();
        if selected.len() > MAX_GROUPS {
            self.note(format!(
                "{}: {} groups selected; permissions checked for the first {MAX_GROUPS}",
                flow.name(),
                selected.len()
            ));
        }
        for g in selected.iter().take(MAX_GROUPS) {
            match group_ops(src_admin, g).await {
                Ok(None) => {} // named in `groups` but not (yet) on the source
                Ok(Some(bits)) => self.need(
                    src_admin,
                    Resource::Group(g.clone()),
                    &[Op::Describe],
                    bits,
                    "reads this group's offsets to translate them",
                ),
                Err(e) => self.note(format!("{}: group {g} not checked: {e}", src_admin.alias)),
            }
            if flow.sync_group_offsets.enabled {
                match group_ops(tgt_admin, g).await {
                    Ok(None) => self.note(format!(
                        "{}: group {g} does not exist yet; Read on it is checked when kmirror first \
                         commits its offsets",
                        tgt_admin.alias
                    )),
                    Ok(Some(bits)) => self.need(
                        tgt_admin,
                        Resource::Group(g.clone()),
                        &[Op::Read],
                        bits,
                        "commits this group's translated offsets (sync.group.offsets.enabled)",
                    ),
                    Err(e) => self.note(format!("{}: group {g} not checked: {e}", tgt_admin.alias)),
                }
            }
        }
    }
}

/// A topic or group pattern that names one topic or group (MM2 patterns are Java regexes, but `orders.v1`
/// is meant as a name; asking for it as one is harmless when it is not).
fn is_literal(p: &str) -> bool {
    !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Names listed in one `kafka-acls` command (it takes `--topic`/`--group` many times).
const NAMES_PER_COMMAND: usize = 20;
/// Names shown in the description of one line.
const NAMES_SHOWN: usize = 10;

/// The missing permissions as text: per (cluster, principal), resources needing the same operations share one
/// line and one `kafka-acls` command (several for many names).
pub(super) fn render_missing(out: &mut String, missing: &BTreeSet<Missing>) {
    type Who<'a> = (&'a str, &'a str, &'a str);
    type Needs<'a> = (BTreeSet<Op>, BTreeSet<&'a str>);
    let mut by_resource: BTreeMap<(Who<'_>, &Resource), Needs<'_>> = BTreeMap::new();
    for m in missing {
        let e = by_resource
            .entry(((&m.alias, &m.bootstrap, &m.principal), &m.resource))
            .or_default();
        e.0.insert(m.op);
        e.1.insert(&m.why);
    }
    // Same who, same operations, same kind of resource: one entry.
    type Group<'a> = (Who<'a>, u8, Vec<Op>);
    let mut grouped: BTreeMap<Group<'_>, (Vec<&Resource>, BTreeSet<&str>)> = BTreeMap::new();
    for ((who, resource), (ops, whys)) in by_resource {
        let kind = match resource {
            Resource::Topic(_) => 0,
            Resource::Group(_) => 1,
            Resource::Cluster => 2,
        };
        let e = grouped
            .entry((who, kind, ops.into_iter().collect()))
            .or_default();
        e.0.push(resource);
        e.1.extend(whys);
    }
    for (((alias, bootstrap, principal), _, ops), (resources, whys)) in grouped {
        let ops_text: Vec<&str> = ops.iter().map(|o| o.name()).collect();
        let names: Vec<(&str, &str)> = resources
            .iter()
            .map(|r| match r {
                Resource::Topic(t) => ("topic", t.as_str()),
                Resource::Group(g) => ("group", g.as_str()),
                Resource::Cluster => ("cluster", ""),
            })
            .collect();
        let what = match names.as_slice() {
            [("cluster", _)] => "the cluster".to_owned(),
            [(kind, name)] => format!("{kind} {name}"),
            many => {
                let shown: Vec<&str> = many.iter().take(NAMES_SHOWN).map(|(_, n)| *n).collect();
                let more = many.len().saturating_sub(NAMES_SHOWN);
                format!(
                    "{} {}s ({}{})",
                    many.len(),
                    many[0].0,
                    shown.join(", "),
                    if more > 0 {
                        format!(", and {more} more")
                    } else {
                        String::new()
                    }
                )
            }
        };
        let _ = writeln!(
            out,
            "  - cluster {alias}: {principal} may not {} {what} (needed: {})",
            ops_text.join(", "),
            whys.into_iter().collect::<Vec<_>>().join("; ")
        );
        for chunk in names.chunks(NAMES_PER_COMMAND) {
            let mut cmd = format!(
                "kafka-acls.sh --bootstrap-server {bootstrap} --command-config <admin client properties> --add \
                 --allow-principal '{principal}'"
            );
            for op in &ops {
                let _ = write!(cmd, " --operation {}", op.name());
            }
            for (kind, name) in chunk {
                if *kind == "cluster" {
                    cmd.push_str(" --cluster");
                } else {
                    let _ = write!(cmd, " --{kind} '{name}'");
                }
            }
            let _ = writeln!(out, "      {cmd}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(resource: Resource, op: Op) -> Missing {
        Missing {
            alias: "B".into(),
            bootstrap: "b:9092".into(),
            principal: "User:mm2".into(),
            resource,
            op,
            why: "A->B copies records into this topic".into(),
        }
    }

    #[test]
    fn same_operations_share_one_command_and_many_names_are_split() {
        let mut all = BTreeSet::new();
        for i in 0..25 {
            all.insert(missing(Resource::Topic(format!("A.t{i:02}")), Op::Write));
        }
        all.insert(missing(Resource::Group("g".into()), Op::Read));
        all.insert(missing(Resource::Cluster, Op::Alter));
        let mut out = String::new();
        render_missing(&mut out, &all);
        assert!(
            out.contains("User:mm2 may not Write 25 topics (A.t00, A.t01,"),
            "{out}"
        );
        assert!(out.contains("and 15 more)"), "{out}");
        let commands: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("kafka-acls.sh"))
            .collect();
        assert_eq!(
            commands.len(),
            4,
            "two for the topics, one each for group and cluster:\n{out}"
        );
        assert_eq!(
            commands[0].matches("--topic").count(),
            NAMES_PER_COMMAND,
            "{out}"
        );
        assert!(
            commands
                .iter()
                .any(|c| c.ends_with("--operation Read --group 'g'")),
            "{out}"
        );
        assert!(
            commands
                .iter()
                .any(|c| c.ends_with("--operation Alter --cluster")),
            "{out}"
        );
    }

    #[test]
    fn authorized_operations_bits() {
        let bits = (1 << Op::Read as i32) | (1 << Op::Describe as i32);
        assert!(Op::Read.allowed_by(bits) && Op::Describe.allowed_by(bits));
        assert!(!Op::Write.allowed_by(bits));
        assert!(
            Op::Write.allowed_by(i32::MIN),
            "not reported: nothing concluded"
        );
        assert!(is_literal("orders.v1") && !is_literal("orders-.*"));
    }
}
