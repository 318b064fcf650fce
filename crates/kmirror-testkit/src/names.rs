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
