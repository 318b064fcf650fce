//! Turns MM2-style keys into a validated [`Config`], applying MirrorMaker 2's layering:
//!
//! * flow settings: defaults < top-level `<key>` < `A->B.<key>`;
//! * cluster clients, per role: top-level shared client keys (`bootstrap.servers`, `security.protocol`, `ssl.*`,
//!   `sasl.*`) < `<alias>.<key>` < top-level `<role>.<key>` < `<alias>.<role>.<key>`;
//! * a flow's clients: the cluster's < `A->B.<role>.<key>` < top-level `<side>.<role>.<key>` <
//!   `A->B.<side>.<role>.<key>`.
//!
//! Every problem is collected (not just the first) and reported with the key as written and a fix.

mod security;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, ConfigWarning, Problem, WarningKind};
use super::keys::{
    DEPRECATED_ALIASES, FLOW_KEYS, KMIRROR_EXISTING_TARGET_DATA, KMIRROR_HTTP_LISTEN,
    ignored_reason, is_shared_client_key,
};
use super::model::{
    AutoOffsetReset, ClusterConfig, Config, FlowClientOverrides, FlowConfig, IsolationLevel,
    OffsetSyncsTopicLocation, Periodic, Role, RoleProperties, SecurityProtocol, Side,
    UseDefaultsFrom, defaults,
};
use super::placeholders;
use super::raw::{Format, RawConfig, RawValue};
use crate::policy::{
    ConfigPropertyFilter, DEFAULT_GROUPS_EXCLUDE, DEFAULT_HEARTBEATS_TOPIC, DEFAULT_SEPARATOR,
    DEFAULT_TOPICS_EXCLUDE, GroupFilter, KMIRROR_DEFAULT_CONFIG_PROPERTIES_EXCLUDE, PatternList,
    PolicyKind, ReplicationPolicy, TopicFilter,
};

/// A value with where it came from.
#[derive(Debug, Clone)]
struct Setting {
    value: RawValue,
    line: Option<usize>,
    /// The key as the user wrote it.
    shown: String,
}

impl Setting {
    fn text(&self) -> String {
        self.value.as_text().trim().to_owned()
    }
}

type Layer = BTreeMap<String, Setting>;

#[derive(Debug, Default, Clone)]
struct Roles {
    consumer: Layer,
    producer: Layer,
    admin: Layer,
}

impl Roles {
    fn get(&self, role: Role) -> &Layer {
        match role {
            Role::Consumer => &self.consumer,
            Role::Producer => &self.producer,
            Role::Admin => &self.admin,
        }
    }

    fn get_mut(&mut self, role: Role) -> &mut Layer {
        match role {
            Role::Consumer => &mut self.consumer,
            Role::Producer => &mut self.producer,
            Role::Admin => &mut self.admin,
        }
    }
}

/// Settings at one flow scope: the top level (all flows) or one `A->B`.
#[derive(Debug, Default)]
struct FlowScope {
    settings: Layer,
    both: Roles,
    source: Roles,
    target: Roles,
}

impl FlowScope {
    fn side(&self, side: Side) -> &Roles {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }
}

#[derive(Debug, Default)]
struct Buckets {
    top: FlowScope,
    pairs: BTreeMap<(String, String), FlowScope>,
    shared_client: Layer,
    top_roles: Roles,
    cluster_base: BTreeMap<String, Layer>,
    cluster_roles: BTreeMap<String, Roles>,
    http_listen: Option<Setting>,
    existing_target_data: Option<Setting>,
}

struct Ctx {
    file: Option<PathBuf>,
    problems: Vec<Problem>,
    warnings: Vec<ConfigWarning>,
}

impl Ctx {
    fn problem(&mut self, s: &Setting, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line: s.line,
            key: s.shown.clone(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn missing(
        &mut self,
        key: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line: None,
            key: key.into(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn warn(&mut self, s: &Setting, kind: WarningKind, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            key: s.shown.clone(),
            line: s.line,
            kind,
            message: message.into(),
        });
    }

    fn bool(&mut self, s: Option<&Setting>, default: bool) -> bool {
        let Some(s) = s else { return default };
        match s.text().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                self.problem(
                    s,
                    format!("`{}` is not a boolean", s.text()),
                    "use `true` or `false`",
                );
                default
            }
        }
    }

    fn seconds(&mut self, s: Option<&Setting>, default: Duration) -> Duration {
        let Some(s) = s else { return default };
        match s.text().parse::<u64>() {
            Ok(n) if n >= 1 => Duration::from_secs(n),
            _ => {
                self.problem(
                    s,
                    format!("`{}` is not a whole number of seconds ≥ 1", s.text()),
                    "e.g. `5`",
                );
                default
            }
        }
    }

    fn replication_factor(&mut self, s: Option<&Setting>) -> Option<i32> {
        let s = s?;
        match s.text().parse::<i32>() {
            Ok(n) if n == -1 || (1..=i16::MAX as i32).contains(&n) => Some(n),
            _ => {
                self.problem(
                    s,
                    format!("`{}` is not a replication factor", s.text()),
                    "use a number ≥ 1, or -1 for the target broker's default",
                );
                None
            }
        }
    }

    fn patterns(&mut self, s: Option<&Setting>, default: &[&str]) -> PatternList {
        let list = match s {
            Some(s) => s.value.as_list(),
            None => default.iter().map(|p| (*p).to_owned()).collect(),
        };
        match PatternList::new(&list) {
            Ok(p) => p,
            Err(e) => {
                match s {
                    Some(s) => self.problem(
                        s,
                        e.to_string(),
                        "fix the regular expression (Java regex syntax)",
                    ),
                    None => self.missing("<default>", e.to_string(), ""),
                }
                PatternList::empty()
            }
        }
    }
}

/// Looks a flow setting up: `A->B.<key>` first, then the top level; a deprecated alias counts at each scope.
struct Lookup<'a> {
    pair: Option<&'a FlowScope>,
    top: &'a FlowScope,
}

impl<'a> Lookup<'a> {
    fn get(&self, key: &str) -> Option<&'a Setting> {
        let alias = DEPRECATED_ALIASES
            .iter()
            .find(|(_, new)| *new == key)
            .map(|(old, _)| *old);
        let at = |scope: &'a FlowScope| {
            scope
                .settings
                .get(key)
                .or_else(|| alias.and_then(|a| scope.settings.get(a)))
        };
        self.pair.and_then(at).or_else(|| at(self.top))
    }
}

pub(crate) fn build(mut raw: RawConfig) -> Result<Config, ConfigError> {
    let mut ctx = Ctx {
        file: raw.file.clone(),
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    for (key, note) in std::mem::take(&mut raw.notes) {
        let line = raw.entries.get(&key).and_then(|e| e.line);
        ctx.warnings.push(ConfigWarning {
            key,
            line,
            kind: WarningKind::Note,
            message: note,
        });
    }
    placeholders::resolve(&mut raw, &mut ctx.warnings, &mut ctx.problems);

    let aliases = cluster_aliases(&raw, &mut ctx);
    let buckets = classify(&raw, &aliases, &mut ctx);

    let mut merged_clusters = BTreeMap::new();
    let mut clusters = BTreeMap::new();
    for alias in &aliases {
        let merged = merge_cluster(alias, &buckets);
        if let Some(cluster) = cluster_config(alias, &merged, &mut ctx) {
            clusters.insert(alias.clone(), cluster);
        }
        merged_clusters.insert(alias.clone(), merged);
    }

    let mut flows = Vec::new();
    for source in &aliases {
        for target in &aliases {
            if source == target {
                continue;
            }
            let pair = buckets.pairs.get(&(source.clone(), target.clone()));
            let flow = flow_config(
                source,
                target,
                pair,
                &buckets.top,
                &merged_clusters,
                &mut ctx,
            );
            if flow.enabled || flow.emit_heartbeats.enabled {
                flows.push(flow);
            }
        }
    }
    check_identity_cycles(&flows, &buckets, &mut ctx);
    security::check(&flows, &buckets, &merged_clusters, &mut ctx);
    if !aliases.is_empty() && !flows.iter().any(|f| f.enabled) {
        ctx.warnings.push(ConfigWarning {
            key: "<source>-><target>.enabled".to_owned(),
            line: None,
            kind: WarningKind::Note,
            message:
                "no flow is enabled, so nothing is replicated (set e.g. `A->B.enabled = true`)"
                    .to_owned(),
        });
    }
    if raw.format == Format::Properties {
        note_kmirror_defaults(&buckets, &mut ctx);
    }

    let http_listen = buckets
        .http_listen
        .as_ref()
        .and_then(|s| match s.text().parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                ctx.problem(
                    s,
                    format!("`{}` is not an address to listen on", s.text()),
                    "use `host:port`, e.g. `127.0.0.1:9464`",
                );
                None
            }
        });

    let existing_target_data_append = match buckets
        .existing_target_data
        .as_ref()
        .map(|s| (s, s.text().trim().to_ascii_lowercase()))
    {
        None => false,
        Some((_, v)) if v == "refuse" => false,
        Some((_, v)) if v == "append" => true,
        Some((s, _)) => {
            ctx.problem(
                s,
                format!("`{}` is not `refuse` or `append`", s.text()),
                "use `refuse` (the default) or `append`",
            );
            false
        }
    };

    dedup(&mut ctx.problems);
    dedup(&mut ctx.warnings);
    if !ctx.problems.is_empty() {
        return Err(ConfigError::Invalid(ctx.problems));
    }
    Ok(Config {
        file: raw.file,
        format: raw.format,
        clusters,
        flows,
        http_listen,
        existing_target_data_append,
        warnings: ctx.warnings,
    })
}

fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    *items = out;
}

fn setting(raw: &RawConfig, key: &str) -> Option<Setting> {
    raw.entries.get(key).map(|e| Setting {
        value: e.value.clone(),
        line: e.line,
        shown: e.written_as.clone().unwrap_or_else(|| key.to_owned()),
    })
}

fn cluster_aliases(raw: &RawConfig, ctx: &mut Ctx) -> Vec<String> {
    let fix = "list the cluster aliases, e.g. `clusters = A, B`, and give each one `<alias>.bootstrap.servers`";
    let Some(s) = setting(raw, "clusters") else {
        ctx.missing("clusters", "no clusters are defined", fix);
        return Vec::new();
    };
    let mut aliases: Vec<String> = Vec::new();
    for alias in s.value.as_list() {
        if alias.is_empty() || alias.contains("->") {
            ctx.problem(
                &s,
                format!("`{alias}` is not a usable cluster alias"),
                "aliases must be non-empty and must not contain `->`",
            );
        } else if !aliases.contains(&alias) {
            aliases.push(alias);
        }
    }
    if aliases.is_empty() && ctx.problems.is_empty() {
        ctx.problem(&s, "no clusters are defined", fix);
    }
    aliases.sort();
    aliases
}

/// The longest alias `a` such that `text` starts with `a.`, and the rest after the dot.
fn split_alias<'t>(text: &'t str, aliases: &[String]) -> Option<(&'t str, &'t str)> {
    aliases
        .iter()
        .filter(|a| {
            text.len() > a.len() && text.starts_with(a.as_str()) && text.as_bytes()[a.len()] == b'.'
        })
        .max_by_key(|a| a.len())
        .map(|a| (&text[..a.len()], &text[a.len() + 1..]))
}

fn role_prefix(key: &str) -> Option<(Role, &str)> {
    Role::ALL.iter().find_map(|r| {
        key.strip_prefix(r.as_str())
            .and_then(|k| k.strip_prefix('.'))
            .map(|k| (*r, k))
    })
}

fn side_role_prefix(key: &str) -> Option<(Side, Role, &str)> {
    [Side::Source, Side::Target].iter().find_map(|side| {
        let rest = key.strip_prefix(side.as_str())?.strip_prefix('.')?;
        let (role, k) = role_prefix(rest)?;
        Some((*side, role, k))
    })
}

/// Files a flow-scope key (top level or after `A->B.`). Returns false if it is not a flow-scope key.
fn classify_flow_key(
    rest: &str,
    s: &Setting,
    scope: &mut FlowScope,
    top_level: bool,
    ctx: &mut Ctx,
) -> bool {
    if FLOW_KEYS.contains(&rest) {
        scope.settings.insert(rest.to_owned(), s.clone());
        return true;
    }
    if let Some((_, new)) = DEPRECATED_ALIASES.iter().find(|(old, _)| *old == rest) {
        ctx.warn(
            s,
            WarningKind::Deprecated,
            format!("removed in Kafka 4.0; kmirror still honours it, but rename it to `{new}`"),
        );
        scope.settings.insert(rest.to_owned(), s.clone());
        return true;
    }
    if let Some(why) = ignored_reason(rest) {
        ctx.warn(
            s,
            WarningKind::Ignored,
            format!("MirrorMaker 2 setting with no effect in kmirror: {why}"),
        );
        return true;
    }
    if let Some((side, role, k)) = side_role_prefix(rest) {
        let roles = match side {
            Side::Source => &mut scope.source,
            Side::Target => &mut scope.target,
        };
        roles.get_mut(role).insert(k.to_owned(), s.clone());
        return true;
    }
    if !top_level && let Some((role, k)) = role_prefix(rest) {
        scope.both.get_mut(role).insert(k.to_owned(), s.clone());
        return true;
    }
    false
}

fn classify(raw: &RawConfig, aliases: &[String], ctx: &mut Ctx) -> Buckets {
    let mut b = Buckets::default();
    for key in raw.entries.keys() {
        let Some(s) = setting(raw, key) else { continue };
        if key == "clusters" || placeholders::is_provider_key(key) {
            continue;
        }
        if key.starts_with("kmirror.") {
            if key == KMIRROR_HTTP_LISTEN {
                b.http_listen = Some(s);
            } else if key == KMIRROR_EXISTING_TARGET_DATA {
                b.existing_target_data = Some(s);
            } else {
                ctx.problem(
                    &s,
                    "unknown kmirror setting",
                    format!(
                        "the kmirror settings are: `{KMIRROR_HTTP_LISTEN}`, `{KMIRROR_EXISTING_TARGET_DATA}`"
                    ),
                );
            }
            continue;
        }
        if let Some(idx) = key.find("->") {
            classify_pair_key(key, idx, &s, aliases, &mut b, ctx);
            continue;
        }
        if classify_flow_key(key, &s, &mut b.top, true, ctx) {
            continue;
        }
        if is_shared_client_key(key) {
            b.shared_client.insert(key.clone(), s);
            continue;
        }
        if let Some((role, k)) = role_prefix(key) {
            b.top_roles.get_mut(role).insert(k.to_owned(), s);
            continue;
        }
        if let Some((alias, rest)) = split_alias(key, aliases) {
            classify_cluster_key(alias, rest, &s, &mut b, ctx);
            continue;
        }
        ctx.warn(
            &s,
            WarningKind::Unknown,
            "neither MirrorMaker 2 nor kmirror knows this key; it is not used (cluster keys need an `<alias>.` prefix \
             naming a cluster in `clusters`)",
        );
    }
    b
}

fn classify_cluster_key(alias: &str, rest: &str, s: &Setting, b: &mut Buckets, ctx: &mut Ctx) {
    if let Some((role, k)) = role_prefix(rest) {
        b.cluster_roles
            .entry(alias.to_owned())
            .or_default()
            .get_mut(role)
            .insert(k.to_owned(), s.clone());
    } else if FLOW_KEYS.contains(&rest) {
        ctx.warn(
            s,
            WarningKind::Ignored,
            format!(
                "flow settings have no effect on a cluster (as in MirrorMaker 2); write `{rest}` at the top level or \
                 as `{alias}-><target>.{rest}`"
            ),
        );
    } else if let Some(why) = ignored_reason(rest) {
        ctx.warn(
            s,
            WarningKind::Ignored,
            format!("MirrorMaker 2 setting with no effect in kmirror: {why}"),
        );
    } else {
        b.cluster_base
            .entry(alias.to_owned())
            .or_default()
            .insert(rest.to_owned(), s.clone());
    }
}

fn classify_pair_key(
    key: &str,
    idx: usize,
    s: &Setting,
    aliases: &[String],
    b: &mut Buckets,
    ctx: &mut Ctx,
) {
    let source = &key[..idx];
    let after = &key[idx + 2..];
    let declared = aliases.join(", ");
    if !aliases.iter().any(|a| a == source) {
        ctx.problem(
            s,
            format!("the flow names cluster `{source}`, which is not in `clusters` ({declared})"),
            format!("add `{source}` to `clusters` with its `{source}.bootstrap.servers`, or fix the alias"),
        );
        return;
    }
    let Some((target, rest)) = split_alias(after, aliases) else {
        let target = after.split('.').next().unwrap_or(after);
        ctx.problem(
            s,
            format!("the flow names cluster `{target}`, which is not in `clusters` ({declared})"),
            format!("add `{target}` to `clusters` with its `{target}.bootstrap.servers`, or fix the alias"),
        );
        return;
    };
    if source == target {
        ctx.problem(
            s,
            format!("`{source}->{source}` replicates a cluster into itself"),
            "a flow needs two different clusters",
        );
        return;
    }
    let scope = b
        .pairs
        .entry((source.to_owned(), target.to_owned()))
        .or_default();
    if !classify_flow_key(rest, s, scope, false, ctx) {
        ctx.warn(
            s,
            WarningKind::Unknown,
            "not a flow setting known to MirrorMaker 2 or kmirror; it is not used (client properties go under \
             `A->B.consumer.`, `.producer.`, `.admin.` or `.source.`/`.target.` + role)",
        );
    }
}

/// A cluster's client settings per role, with provenance: shared < alias < top-level role < alias role.
fn merge_cluster(alias: &str, b: &Buckets) -> Roles {
    let mut out = Roles::default();
    for role in Role::ALL {
        let layer = out.get_mut(role);
        layer.extend(b.shared_client.clone());
        if let Some(base) = b.cluster_base.get(alias) {
            layer.extend(base.clone());
        }
        layer.extend(b.top_roles.get(role).clone());
        if let Some(roles) = b.cluster_roles.get(alias) {
            layer.extend(roles.get(role).clone());
        }
    }
    out
}

fn plain(layer: &Layer) -> BTreeMap<String, String> {
    layer
        .iter()
        .map(|(k, s)| (k.clone(), s.value.as_text()))
        .collect()
}

fn check_security_protocol(layer: &Layer, ctx: &mut Ctx) -> Option<SecurityProtocol> {
    let s = layer.get("security.protocol")?;
    let parsed = SecurityProtocol::parse(&s.text());
    if parsed.is_none() {
        ctx.problem(
            s,
            format!("`{}` is not a Kafka security protocol", s.text()),
            "use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        );
    }
    parsed
}

fn cluster_config(alias: &str, merged: &Roles, ctx: &mut Ctx) -> Option<ClusterConfig> {
    let mut ok = true;
    for role in Role::ALL {
        let layer = merged.get(role);
        if layer.contains_key("security.protocol") && check_security_protocol(layer, ctx).is_none()
        {
            ok = false;
        }
        if !layer.contains_key("bootstrap.servers") {
            ctx.missing(
                format!("{alias}.bootstrap.servers"),
                format!("cluster `{alias}` has no bootstrap servers"),
                format!("set `{alias}.bootstrap.servers = host:port[,host:port...]`"),
            );
            ok = false;
        }
    }
    let admin = merged.get(Role::Admin);
    let mut bootstrap = Vec::new();
    if let Some(s) = admin.get("bootstrap.servers") {
        bootstrap = s.value.as_list();
        if bootstrap.is_empty() {
            ctx.problem(
                s,
                format!("cluster `{alias}` has no bootstrap servers"),
                "give at least one `host:port`",
            );
            ok = false;
        }
        for server in &bootstrap {
            let valid = server.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !valid {
                ctx.problem(
                    s,
                    format!("`{server}` is not `host:port`"),
                    "write each server as `host:port`, comma-separated",
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let security_protocol =
        check_security_protocol(admin, ctx).unwrap_or(SecurityProtocol::Plaintext);
    Some(ClusterConfig {
        alias: alias.to_owned(),
        bootstrap_servers: bootstrap,
        security_protocol,
        consumer: plain(merged.get(Role::Consumer)),
        producer: plain(merged.get(Role::Producer)),
        admin: plain(merged.get(Role::Admin)),
    })
}

const DEFAULT_POLICY_NAMES: &[&str] = &[
    "default",
    "DefaultReplicationPolicy",
    "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
];
const IDENTITY_POLICY_NAMES: &[&str] = &[
    "identity",
    "IdentityReplicationPolicy",
    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
];

fn policy_kind(s: Option<&Setting>, ctx: &mut Ctx) -> PolicyKind {
    let Some(s) = s else {
        return PolicyKind::Default;
    };
    let v = s.text();
    if DEFAULT_POLICY_NAMES
        .iter()
        .any(|n| n.eq_ignore_ascii_case(&v))
    {
        PolicyKind::Default
    } else if IDENTITY_POLICY_NAMES
        .iter()
        .any(|n| n.eq_ignore_ascii_case(&v))
    {
        PolicyKind::Identity
    } else {
        ctx.problem(
            s,
            format!("replication policy `{v}` is not supported (kmirror cannot load Java classes)"),
            "use org.apache.kafka.connect.mirror.DefaultReplicationPolicy or \
             org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        );
        PolicyKind::Default
    }
}

fn check_filter_class(s: Option<&Setting>, default_class: &str, include_key: &str, ctx: &mut Ctx) {
    let Some(s) = s else { return };
    let v = s.text();
    let full = format!("org.apache.kafka.connect.mirror.{default_class}");
    if !(v == default_class || v == full) {
        ctx.problem(
            s,
            format!("custom filter `{v}` is not supported (kmirror cannot load Java classes)"),
            format!("remove it and express the selection with `{include_key}` / `{include_key}.exclude` regexes"),
        );
    }
}

fn policy(source: &str, look: &Lookup<'_>, ctx: &mut Ctx) -> ReplicationPolicy {
    let kind = policy_kind(look.get("replication.policy.class"), ctx);
    let mut policy = ReplicationPolicy::new(kind);
    if let Some(s) = look.get("replication.policy.separator") {
        // The separator is used as written: MM2 does not trim it either, but our reader trims values, so a
        // separator can never be blank here.
        let sep = s.text();
        if sep.is_empty() {
            ctx.problem(
                s,
                "the separator is empty",
                format!("use e.g. `{DEFAULT_SEPARATOR}` (the default) or `_`"),
            );
        } else {
            policy = policy.with_separator(sep);
        }
    }
    let internal = ctx.bool(
        look.get("replication.policy.internal.topic.separator.enabled"),
        true,
    );
    policy = policy.with_internal_separator_enabled(internal);
    if let Some(s) = look.get("default.replication.policy.heartbeats.topic.name") {
        let name = s.text();
        if name.is_empty() {
            ctx.problem(
                s,
                "the heartbeats topic name is empty",
                format!("remove it to use `{DEFAULT_HEARTBEATS_TOPIC}`"),
            );
        } else {
            policy = policy.with_heartbeats_topic(name);
        }
    }
    if kind == PolicyKind::Identity {
        policy = policy.with_source_alias(source);
    }
    policy
}

fn periodic(
    look: &Lookup<'_>,
    ctx: &mut Ctx,
    job: &str,
    enabled_default: bool,
    interval_default: Duration,
) -> Periodic {
    let enabled = ctx.bool(look.get(&format!("{job}.enabled")), enabled_default);
    let interval = ctx.seconds(
        look.get(&format!("{job}.interval.seconds")),
        interval_default,
    );
    Periodic { enabled, interval }
}

fn flow_config(
    source: &str,
    target: &str,
    pair: Option<&FlowScope>,
    top: &FlowScope,
    clusters: &BTreeMap<String, Roles>,
    ctx: &mut Ctx,
) -> FlowConfig {
    let look = Lookup { pair, top };
    let enabled = ctx.bool(look.get("enabled"), false);

    let topics_include = ctx.patterns(look.get("topics"), &[".*"]);
    let topics_exclude = ctx.patterns(look.get("topics.exclude"), DEFAULT_TOPICS_EXCLUDE);
    let groups_include = ctx.patterns(look.get("groups"), &[".*"]);
    let groups_exclude = ctx.patterns(look.get("groups.exclude"), DEFAULT_GROUPS_EXCLUDE);
    let config_exclude = ctx.patterns(
        look.get("config.properties.exclude"),
        KMIRROR_DEFAULT_CONFIG_PROPERTIES_EXCLUDE,
    );
    check_filter_class(
        look.get("topic.filter.class"),
        "DefaultTopicFilter",
        "topics",
        ctx,
    );
    check_filter_class(
        look.get("group.filter.class"),
        "DefaultGroupFilter",
        "groups",
        ctx,
    );
    if let Some(s) = look.get("config.property.filter.class") {
        let v = s.text();
        if v != "DefaultConfigPropertyFilter"
            && v != "org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter"
        {
            ctx.problem(
                s,
                format!("custom filter `{v}` is not supported (kmirror cannot load Java classes)"),
                "remove it and list excluded properties in `config.properties.exclude`",
            );
        }
    }

    let offset_syncs_topic_location = match look.get("offset-syncs.topic.location") {
        None => OffsetSyncsTopicLocation::Source,
        Some(s) => match s.text().to_ascii_lowercase().as_str() {
            "source" => OffsetSyncsTopicLocation::Source,
            "target" => OffsetSyncsTopicLocation::Target,
            _ => {
                ctx.problem(
                    s,
                    format!("`{}` is not a location", s.text()),
                    "use `source` or `target`",
                );
                OffsetSyncsTopicLocation::Source
            }
        },
    };
    let use_defaults_from = match look.get("use.defaults.from") {
        None => UseDefaultsFrom::Target,
        Some(s) => match s.text().to_ascii_lowercase().as_str() {
            "target" => UseDefaultsFrom::Target,
            "source" => UseDefaultsFrom::Source,
            _ => {
                ctx.problem(
                    s,
                    format!("`{}` is not a cluster side", s.text()),
                    "use `source` or `target`",
                );
                UseDefaultsFrom::Target
            }
        },
    };
    let offset_lag_max = match look.get("offset.lag.max") {
        None => defaults::OFFSET_LAG_MAX,
        Some(s) => match s.text().parse::<i64>() {
            Ok(n) if n >= 0 => n,
            _ => {
                ctx.problem(
                    s,
                    format!("`{}` is not a record count ≥ 0", s.text()),
                    "e.g. `100` (the default)",
                );
                defaults::OFFSET_LAG_MAX
            }
        },
    };
    let tasks_max = look
        .get("tasks.max")
        .and_then(|s| match s.text().parse::<i32>() {
            Ok(n) if n >= 1 => {
                ctx.warn(
                    s,
                    WarningKind::Note,
                    "accepted and ignored: kmirror runs one pipeline per source partition",
                );
                Some(n)
            }
            _ => {
                ctx.problem(
                    s,
                    format!("`{}` is not a task count ≥ 1", s.text()),
                    "remove it; kmirror does not need it",
                );
                None
            }
        });

    let client_overrides = flow_overrides(pair, top, ctx);
    let source_consumer = effective_source_consumer(source, pair, top, clusters);
    // kmirror reads committed data unless told otherwise: copying aborted records (MM2's default) would make
    // them visible on the target, where no reader of the source ever sees them.
    let isolation_level = match source_consumer.get("isolation.level") {
        None => IsolationLevel::ReadCommitted,
        Some(s) => match s.text().to_ascii_lowercase().as_str() {
            "read_uncommitted" => IsolationLevel::ReadUncommitted,
            "read_committed" => IsolationLevel::ReadCommitted,
            _ => {
                ctx.problem(
                    s,
                    format!("`{}` is not an isolation level", s.text()),
                    "use `read_uncommitted` or `read_committed`",
                );
                IsolationLevel::ReadUncommitted
            }
        },
    };
    let auto_offset_reset = match source_consumer.get("auto.offset.reset") {
        None => AutoOffsetReset::Earliest,
        Some(s) => match s.text().to_ascii_lowercase().as_str() {
            "earliest" => AutoOffsetReset::Earliest,
            "latest" => AutoOffsetReset::Latest,
            _ => {
                ctx.problem(
                    s,
                    format!("`{}` is not supported for the source consumer", s.text()),
                    "use `earliest` (copy everything retained) or `latest` (only new records)",
                );
                AutoOffsetReset::Earliest
            }
        },
    };

    let emit_heartbeats = periodic(
        &look,
        ctx,
        "emit.heartbeats",
        true,
        defaults::EMIT_HEARTBEATS_INTERVAL,
    );
    let (emit_offset_syncs, emit_checkpoints, sync_group_offsets) =
        offset_features(&look, enabled, ctx);
    FlowConfig {
        source: source.to_owned(),
        target: target.to_owned(),
        enabled,
        topics: TopicFilter::new(topics_include, topics_exclude),
        groups: GroupFilter::new(groups_include, groups_exclude),
        config_properties_exclude: ConfigPropertyFilter::new(config_exclude),
        policy: policy(source, &look, ctx),
        replication_factor: ctx.replication_factor(look.get("replication.factor")),
        refresh_topics: periodic(
            &look,
            ctx,
            "refresh.topics",
            true,
            defaults::REFRESH_TOPICS_INTERVAL,
        ),
        refresh_groups: periodic(
            &look,
            ctx,
            "refresh.groups",
            true,
            defaults::REFRESH_GROUPS_INTERVAL,
        ),
        sync_topic_configs: periodic(
            &look,
            ctx,
            "sync.topic.configs",
            true,
            defaults::SYNC_TOPIC_CONFIGS_INTERVAL,
        ),
        use_defaults_from,
        sync_topic_acls: periodic(
            &look,
            ctx,
            "sync.topic.acls",
            true,
            defaults::SYNC_TOPIC_ACLS_INTERVAL,
        ),
        emit_heartbeats,
        heartbeats_replication_enabled: ctx.bool(look.get("heartbeats.replication.enabled"), true),
        emit_checkpoints,
        sync_group_offsets,
        emit_offset_syncs,
        offset_syncs_topic_location,
        offset_syncs_topic_replication_factor: ctx
            .replication_factor(look.get("offset-syncs.topic.replication.factor")),
        checkpoints_topic_replication_factor: ctx
            .replication_factor(look.get("checkpoints.topic.replication.factor")),
        heartbeats_topic_replication_factor: ctx
            .replication_factor(look.get("heartbeats.topic.replication.factor")),
        offset_lag_max,
        isolation_level,
        auto_offset_reset,
        tasks_max,
        client_overrides,
    }
}

/// `emit.offset-syncs.enabled`, `emit.checkpoints.*`, `sync.group.offsets.*`. Checkpoints are computed from
/// offset syncs, so without syncs they are off (MM2 then does not start its checkpoint connector); asking for
/// both "no syncs" and "checkpoints" explicitly is a contradiction (MM2's checkpoint config validation, too).
fn offset_features(look: &Lookup<'_>, enabled: bool, ctx: &mut Ctx) -> (bool, Periodic, Periodic) {
    let syncs_setting = look.get("emit.offset-syncs.enabled");
    let emit_offset_syncs = ctx.bool(syncs_setting, true);
    let mut checkpoints = periodic(
        look,
        ctx,
        "emit.checkpoints",
        true,
        defaults::EMIT_CHECKPOINTS_INTERVAL,
    );
    let mut group_sync = periodic(
        look,
        ctx,
        "sync.group.offsets",
        defaults::SYNC_GROUP_OFFSETS_ENABLED,
        defaults::SYNC_GROUP_OFFSETS_INTERVAL,
    );
    if emit_offset_syncs {
        return (true, checkpoints, group_sync);
    }
    for key in ["emit.checkpoints.enabled", "sync.group.offsets.enabled"] {
        if let Some(s) = look.get(key)
            && s.text().eq_ignore_ascii_case("true")
        {
            let s = s.clone();
            let syncs = syncs_setting
                .map_or("emit.offset-syncs.enabled", |x| x.shown.as_str())
                .to_owned();
            ctx.problem(
                &s,
                format!("needs offset syncs, but `{syncs}` is false"),
                format!("set `{syncs}` back to true, or `{}` to false", s.shown),
            );
        }
    }
    if enabled
        && (checkpoints.enabled || group_sync.enabled)
        && let Some(s) = syncs_setting
    {
        let s = s.clone();
        ctx.warn(
            &s,
            WarningKind::Note,
            "without offset syncs there are no checkpoints and no group-offset sync",
        );
    }
    checkpoints.enabled = false;
    group_sync.enabled = false;
    (false, checkpoints, group_sync)
}

/// The source consumer's settings with provenance: cluster < `A->B.consumer.` < `source.consumer.` (top, then flow).
fn effective_source_consumer(
    source: &str,
    pair: Option<&FlowScope>,
    top: &FlowScope,
    clusters: &BTreeMap<String, Roles>,
) -> Layer {
    let mut layer = clusters
        .get(source)
        .map(|r| r.consumer.clone())
        .unwrap_or_default();
    if let Some(p) = pair {
        layer.extend(p.both.consumer.clone());
    }
    layer.extend(top.source.consumer.clone());
    if let Some(p) = pair {
        layer.extend(p.source.consumer.clone());
    }
    layer
}

fn flow_overrides(pair: Option<&FlowScope>, top: &FlowScope, ctx: &mut Ctx) -> FlowClientOverrides {
    let mut out = FlowClientOverrides::default();
    for role in Role::ALL {
        if let Some(p) = pair {
            let both = p.both.get(role);
            check_security_protocol(both, ctx);
            *out.both.role_mut(role) = plain(both);
        }
        for side in [Side::Source, Side::Target] {
            let mut layer = top.side(side).get(role).clone();
            if let Some(p) = pair {
                layer.extend(p.side(side).get(role).clone());
            }
            check_security_protocol(&layer, ctx);
            let target: &mut RoleProperties = match side {
                Side::Source => &mut out.source,
                Side::Target => &mut out.target,
            };
            *target.role_mut(role) = plain(&layer);
        }
    }
    out
}

/// IdentityReplicationPolicy cannot tell a mirrored topic from a local one, so a cycle of enabled flows that
/// contains an identity flow copies records around forever. MM2 documents this and does nothing; kmirror refuses.
fn check_identity_cycles(flows: &[FlowConfig], b: &Buckets, ctx: &mut Ctx) {
    let edges: BTreeSet<(&str, &str)> = flows
        .iter()
        .filter(|f| f.enabled)
        .map(|f| (f.source.as_str(), f.target.as_str()))
        .collect();
    for flow in flows
        .iter()
        .filter(|f| f.enabled && f.policy.kind() == PolicyKind::Identity)
    {
        let Some(path) = find_path(&edges, &flow.target, &flow.source) else {
            continue;
        };
        let mut cycle = vec![flow.source.as_str()];
        cycle.extend(path);
        let cycle = cycle.join("->");
        let pair = b.pairs.get(&(flow.source.clone(), flow.target.clone()));
        let look = Lookup { pair, top: &b.top };
        let message = format!(
            "flow `{}` uses IdentityReplicationPolicy in the cycle {cycle}; identity names cannot show where a \
             topic came from, so records would be copied around the cycle forever",
            flow.name()
        );
        let fix = format!(
            "use DefaultReplicationPolicy for active/active, or disable one direction (e.g. `{}->{}.enabled = false`)",
            flow.target, flow.source
        );
        match look.get("replication.policy.class") {
            Some(s) => {
                let s = s.clone();
                ctx.problem(&s, message, fix);
            }
            None => ctx.missing("replication.policy.class", message, fix),
        }
    }
}

/// A shortest path `from -> ... -> to` over the edges, as its nodes from `from` to `to`.
fn find_path<'a>(
    edges: &BTreeSet<(&'a str, &'a str)>,
    from: &'a str,
    to: &'a str,
) -> Option<Vec<&'a str>> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to];
            let mut cur = to;
            while let Some(p) = parent.get(cur) {
                path.push(p);
                cur = p;
            }
            path.reverse();
            return Some(path);
        }
        for (_, next) in edges.iter().filter(|(s, _)| *s == node) {
            if seen.insert(next) {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Tells MM2 users, once, where kmirror's defaults differ from MM2's for keys their file leaves unset.
fn note_kmirror_defaults(b: &Buckets, ctx: &mut Ctx) {
    let set_anywhere = |key: &str| {
        b.top.settings.contains_key(key) || b.pairs.values().any(|p| p.settings.contains_key(key))
    };
    let notes: &[(&str, &str)] = &[
        (
            "replication.factor",
            "remote topics get the source topic's replication factor (MM2: 2)",
        ),
        (
            "refresh.topics.interval.seconds",
            "new topics are looked for every 5 s (MM2: 600 s)",
        ),
        (
            "refresh.groups.interval.seconds",
            "new groups are looked for every 5 s (MM2: 600 s)",
        ),
        (
            "emit.checkpoints.interval.seconds",
            "checkpoints are emitted every 5 s (MM2: 60 s)",
        ),
        (
            "sync.group.offsets.enabled",
            "translated group offsets are written to the target (MM2: off)",
        ),
        (
            "sync.group.offsets.interval.seconds",
            "group offsets are synced every 5 s (MM2: 60 s)",
        ),
    ];
    for (key, note) in notes {
        if !set_anywhere(key) {
            ctx.warnings.push(ConfigWarning {
                key: (*key).to_owned(),
                line: None,
                kind: WarningKind::Note,
                message: format!("not set; kmirror's default applies: {note}"),
            });
        }
    }
}
