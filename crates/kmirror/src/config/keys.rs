//! The catalogue of keys: which MM2 keys kmirror honours, which it knows and ignores, and which are Kafka client
//! properties. Kept in one place so the loader, the docs and `kmirror validate` agree.

/// Flow settings kmirror honours: valid at top level (all flows) and as `A->B.<key>` (one flow).
pub(crate) const FLOW_KEYS: &[&str] = &[
    "enabled",
    "topics",
    "topics.exclude",
    "groups",
    "groups.exclude",
    "config.properties.exclude",
    "topic.filter.class",
    "group.filter.class",
    "config.property.filter.class",
    "replication.policy.class",
    "replication.policy.separator",
    "replication.policy.internal.topic.separator.enabled",
    "default.replication.policy.heartbeats.topic.name",
    "replication.factor",
    "offset-syncs.topic.replication.factor",
    "checkpoints.topic.replication.factor",
    "heartbeats.topic.replication.factor",
    "offset-syncs.topic.location",
    "refresh.topics.enabled",
    "refresh.topics.interval.seconds",
    "refresh.groups.enabled",
    "refresh.groups.interval.seconds",
    "sync.topic.configs.enabled",
    "sync.topic.configs.interval.seconds",
    "use.defaults.from",
    "sync.topic.acls.enabled",
    "sync.topic.acls.interval.seconds",
    "emit.heartbeats.enabled",
    "emit.heartbeats.interval.seconds",
    "heartbeats.replication.enabled",
    "emit.checkpoints.enabled",
    "emit.checkpoints.interval.seconds",
    "sync.group.offsets.enabled",
    "sync.group.offsets.interval.seconds",
    "emit.offset-syncs.enabled",
    "offset.lag.max",
    "tasks.max",
];

/// Pre-4.0 names MM2 removed; kmirror still honours them (when the new key is absent) and warns.
pub(crate) const DEPRECATED_ALIASES: &[(&str, &str)] = &[
    ("topics.blacklist", "topics.exclude"),
    ("topics.whitelist", "topics"),
    ("groups.blacklist", "groups.exclude"),
    ("groups.whitelist", "groups"),
    ("config.properties.blacklist", "config.properties.exclude"),
];

/// kmirror-only top-level keys.
pub(crate) const KMIRROR_HTTP_LISTEN: &str = "kmirror.http.listen";
/// What to do with a target partition holding records kmirror did not write: `refuse` (default) or `append`.
pub(crate) const KMIRROR_EXISTING_TARGET_DATA: &str = "kmirror.existing.target.data";

/// MM2/Connect keys that mean something to MirrorMaker 2's Java runtime but nothing to kmirror, with the reason.
pub(crate) const IGNORED_KEYS: &[(&str, &str)] = &[
    (
        "consumer.poll.timeout.ms",
        "kmirror fetches with its own long-poll",
    ),
    (
        "admin.timeout.ms",
        "kmirror's admin requests use the client's request timeout",
    ),
    (
        "offset.flush.interval.ms",
        "kmirror commits progress as soon as the target acknowledges",
    ),
    (
        "offset.flush.timeout.ms",
        "kmirror commits progress as soon as the target acknowledges",
    ),
    (
        "dedicated.mode.enable.internal.rest",
        "kmirror has no Connect REST layer",
    ),
    ("listeners", "kmirror serves HTTP on `kmirror.http.listen`"),
    (
        "metric.reporters",
        "kmirror exports Prometheus metrics over HTTP",
    ),
    ("forwarding.admin.class", "kmirror cannot load Java classes"),
    (
        "exactly.once.source.support",
        "kmirror writes with an idempotent producer of its own",
    ),
    (
        "exactly.once.support",
        "kmirror writes with an idempotent producer of its own",
    ),
    (
        "transaction.boundary",
        "kmirror writes with an idempotent producer of its own",
    ),
    (
        "scheduled.rebalance.max.delay.ms",
        "kmirror has no Connect worker",
    ),
    ("group.id", "kmirror has no Connect worker group"),
    ("client.id", "kmirror sets client ids per flow and role"),
    ("name", "kmirror has no Connect connectors"),
    ("connector.class", "kmirror has no Connect connectors"),
    (
        "source.cluster.alias",
        "the flow's source is its `A->B` prefix",
    ),
    (
        "target.cluster.alias",
        "the flow's target is its `A->B` prefix",
    ),
    ("plugin.path", "kmirror cannot load Java plugins"),
    (
        "connector.client.config.override.policy",
        "kmirror has no Connect worker",
    ),
];

/// Key prefixes of Connect-worker settings kmirror ignores.
pub(crate) const IGNORED_PREFIXES: &[(&str, &str)] = &[
    (
        "offset.storage.",
        "kmirror keeps its progress in MM2's topics without a Connect worker",
    ),
    ("config.storage.", "kmirror has no Connect worker"),
    ("status.storage.", "kmirror has no Connect worker"),
    (
        "key.converter",
        "kmirror copies bytes; there are no converters",
    ),
    (
        "value.converter",
        "kmirror copies bytes; there are no converters",
    ),
    (
        "header.converter",
        "kmirror copies bytes; there are no converters",
    ),
    ("task.", "kmirror has no Connect tasks"),
    ("worker.", "kmirror has no Connect worker"),
    ("rest.", "kmirror has no Connect REST layer"),
    ("admin.listeners", "kmirror has no Connect REST layer"),
    ("errors.", "kmirror has no Connect error handler"),
    ("metrics.", "kmirror exports Prometheus metrics over HTTP"),
    ("inter.worker.", "kmirror has no Connect worker"),
];

/// The reason a known-but-ignored key has no effect, or `None` if it is not one.
pub(crate) fn ignored_reason(key: &str) -> Option<&'static str> {
    if let Some((_, why)) = IGNORED_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(why);
    }
    IGNORED_PREFIXES
        .iter()
        .find(|(p, _)| key.starts_with(p))
        .map(|(_, why)| *why)
}

/// Kafka client properties MM2 copies from the top level into every cluster's clients
/// (MM2's `MirrorClientConfig.CLIENT_CONFIG_DEF`: bootstrap, security protocol, SSL and SASL settings).
pub(crate) fn is_shared_client_key(key: &str) -> bool {
    matches!(
        key,
        "bootstrap.servers" | "security.protocol" | "security.providers"
    ) || key.starts_with("ssl.")
        || key.starts_with("sasl.")
}

/// Whether a client property holds a secret that must never be printed.
pub fn is_sensitive(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "jaas", "credential", "token"]
        .iter()
        .any(|s| k.contains(s))
        || k.ends_with("ssl.keystore.key")
        || k.ends_with(".key")
}

/// The value to print for a client property: `[redacted]` for secrets.
pub fn redacted<'a>(key: &str, value: &'a str) -> &'a str {
    if is_sensitive(key) {
        "[redacted]"
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised() {
        for k in [
            "sasl.jaas.config",
            "ssl.truststore.password",
            "ssl.key.password",
            "ssl.keystore.key",
            "sasl.oauthbearer.client.credentials.client.secret",
            "producer.ssl.keystore.password",
        ] {
            assert!(is_sensitive(k), "{k}");
            assert_eq!(redacted(k, "hunter2"), "[redacted]");
        }
        for k in [
            "bootstrap.servers",
            "security.protocol",
            "sasl.mechanism",
            "ssl.truststore.location",
        ] {
            assert!(!is_sensitive(k), "{k}");
        }
    }

    #[test]
    fn ignored_keys() {
        assert!(ignored_reason("offset.storage.replication.factor").is_some());
        assert!(ignored_reason("consumer.poll.timeout.ms").is_some());
        assert!(ignored_reason("emit.checkpoints.enabled").is_none());
        assert!(ignored_reason("topics").is_none());
    }
}
