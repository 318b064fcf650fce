//! Small value types shared by the whole client.

use std::fmt;

/// One partition of one topic: the unit of fetching, producing and offset bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

/// Kafka's own spelling, `topic-3`, so log lines match the broker's.
impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_kafka() {
        assert_eq!(TopicPartition::new("orders", 3).to_string(), "orders-3");
    }
}
