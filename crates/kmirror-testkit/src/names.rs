//! Unique names, so tests share the clusters without seeing each other's topics and groups.

fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// A topic name no other test uses: `<prefix>-<random>`.
pub fn unique_topic(prefix: &str) -> String {
    format!("{prefix}-{}", suffix())
}

/// A consumer group name no other test uses.
pub fn unique_group(prefix: &str) -> String {
    format!("group-{prefix}-{}", suffix())
}

/// Any other unique name (cluster aliases, files).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", suffix())
}

/// A create time one hour ago, in epoch ms: recent enough that retention never deletes test records while a
/// test runs (the clusters keep 7 days), old enough to pass brokers' future-timestamp checks.
pub fn recent_timestamp() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    now - 3_600_000
}
