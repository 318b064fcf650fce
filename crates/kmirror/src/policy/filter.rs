//! MirrorMaker 2's default topic, group and config-property filters: include/exclude lists of Java-style regexes,
//! joined with `|` and matched against the WHOLE name (Java's `Matcher.matches`). An empty include list matches
//! nothing. Look-around is accepted (via `fancy-regex`) because MM2 users write `^(?!...).*` filters.

use std::fmt;

/// MM2's default `topics.exclude`.
pub const DEFAULT_TOPICS_EXCLUDE: &[&str] = &[".*[\\-\\.]internal", ".*\\.replica", "__.*"];
/// MM2's default `groups.exclude`.
pub const DEFAULT_GROUPS_EXCLUDE: &[&str] = &["console-consumer-.*", "connect-.*", "__.*"];
/// MM2's default `config.properties.exclude`: properties that describe the source cluster, not the topic.
pub const DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &[&str] = &[
    "follower\\.replication\\.throttled\\.replicas",
    "leader\\.replication\\.throttled\\.replicas",
    "message\\.timestamp\\.difference\\.max\\.ms",
    "message\\.timestamp\\.type",
    "unclean\\.leader\\.election\\.enable",
    "min\\.insync\\.replicas",
];

/// kmirror's default `config.properties.exclude`: MM2's without `min.insync.replicas`, because a copy must be
/// as durable as its source (MM2 resetting it is one of the seed's known losses). A user list replaces it.
pub const KMIRROR_DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &[&str] = &[
    "follower\\.replication\\.throttled\\.replicas",
    "leader\\.replication\\.throttled\\.replicas",
    "message\\.timestamp\\.difference\\.max\\.ms",
    "message\\.timestamp\\.type",
    "unclean\\.leader\\.election\\.enable",
];

/// A regex from a config list that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regex `{pattern}`: {message}")]
pub struct PatternError {
    /// The list element as written.
    pub pattern: String,
    /// The regex engine's explanation.
    pub message: String,
}

/// One config list of regexes (`topics`, `groups.exclude`, ...), matched as MM2 matches it.
#[derive(Clone)]
pub struct PatternList {
    patterns: Vec<String>,
    /// One full-match regex per element, to say which element matched.
    each: Vec<fancy_regex::Regex>,
}

impl fmt::Debug for PatternList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PatternList").field(&self.patterns).finish()
    }
}

impl PartialEq for PatternList {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl PatternList {
    /// Compiles each element; the first bad one is reported.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let patterns: Vec<String> = patterns.iter().map(|p| p.as_ref().to_owned()).collect();
        let mut each = Vec::with_capacity(patterns.len());
        for p in &patterns {
            let full = format!("^(?:{p})$");
            // Compile the element on its own first so the message points at the user's text, not our wrapper.
            fancy_regex::Regex::new(p).map_err(|e| PatternError {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
            let re = fancy_regex::Regex::new(&full).map_err(|e| PatternError {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
            each.push(re);
        }
        Ok(Self { patterns, each })
    }

    /// A list with no elements: matches nothing.
    pub fn empty() -> Self {
        Self {
            patterns: Vec::new(),
            each: Vec::new(),
        }
    }

    /// The elements as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the whole `name` matches the joined list.
    pub fn matches(&self, name: &str) -> bool {
        self.matching(name).is_some()
    }

    /// The first element that matches the whole `name`. Joining with `|` and full-matching, as MM2 does, is the
    /// same as full-matching any one element.
    pub fn matching(&self, name: &str) -> Option<&str> {
        self.patterns
            .iter()
            .zip(&self.each)
            // A backtracking-limit error cannot be told apart from "no match" by MM2 either (it would throw);
            // treating it as no match keeps an include list from selecting by accident.
            .find(|(_, re)| re.is_match(name).unwrap_or(false))
            .map(|(p, _)| p.as_str())
    }

    /// The list joined as MM2 joins it, for display.
    pub fn joined(&self) -> String {
        self.patterns.join("|")
    }
}

/// Why a name was rejected by an include/exclude filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterRejection {
    /// No element of the include list matched.
    NotIncluded {
        /// The include key (`topics`, `groups`).
        key: &'static str,
        /// The include list, joined.
        include: String,
    },
    /// An element of the exclude list matched.
    Excluded {
        /// The exclude key (`topics.exclude`, ...).
        key: &'static str,
        /// The element that matched.
        pattern: String,
    },
}

impl fmt::Display for FilterRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterRejection::NotIncluded { key, include } if include.is_empty() => {
                write!(f, "`{key}` is empty, so it selects nothing")
            }
            FilterRejection::NotIncluded { key, include } => {
                write!(f, "not selected by `{key}` = `{include}`")
            }
            FilterRejection::Excluded { key, pattern } => {
                write!(f, "excluded by `{key}` element `{pattern}`")
            }
        }
    }
}

/// An include list and an exclude list under named keys.
#[derive(Debug, Clone, PartialEq)]
pub struct IncludeExclude {
    include_key: &'static str,
    exclude_key: &'static str,
    include: PatternList,
    exclude: PatternList,
}

impl IncludeExclude {
    fn new(
        include_key: &'static str,
        exclude_key: &'static str,
        include: PatternList,
        exclude: PatternList,
    ) -> Self {
        Self {
            include_key,
            exclude_key,
            include,
            exclude,
        }
    }

    /// The include list.
    pub fn include(&self) -> &PatternList {
        &self.include
    }

    /// The exclude list.
    pub fn exclude(&self) -> &PatternList {
        &self.exclude
    }

    /// `Ok` if selected, else which list rejected it.
    pub fn check(&self, name: &str) -> Result<(), FilterRejection> {
        if !self.include.matches(name) {
            return Err(FilterRejection::NotIncluded {
                key: self.include_key,
                include: self.include.joined(),
            });
        }
        if let Some(p) = self.exclude.matching(name) {
            return Err(FilterRejection::Excluded {
                key: self.exclude_key,
                pattern: p.to_owned(),
            });
        }
        Ok(())
    }

    /// Whether the name is selected.
    pub fn accepts(&self, name: &str) -> bool {
        self.check(name).is_ok()
    }
}

/// `topics` / `topics.exclude` (MM2 `DefaultTopicFilter`).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicFilter(IncludeExclude);

impl TopicFilter {
    /// A filter from compiled lists.
    pub fn new(include: PatternList, exclude: PatternList) -> Self {
        Self(IncludeExclude::new(
            "topics",
            "topics.exclude",
            include,
            exclude,
        ))
    }

    /// The filter as MM2 builds it with no settings: `.*` minus [`DEFAULT_TOPICS_EXCLUDE`].
    pub fn mm2_default() -> Self {
        Self::from_lists(&[".*"], DEFAULT_TOPICS_EXCLUDE)
            .unwrap_or_else(|_| unreachable!("default patterns compile"))
    }

    /// Compiles both lists.
    pub fn from_lists<S: AsRef<str>, T: AsRef<str>>(
        include: &[S],
        exclude: &[T],
    ) -> Result<Self, PatternError> {
        Ok(Self::new(
            PatternList::new(include)?,
            PatternList::new(exclude)?,
        ))
    }
}

impl std::ops::Deref for TopicFilter {
    type Target = IncludeExclude;
    fn deref(&self) -> &IncludeExclude {
        &self.0
    }
}

/// `groups` / `groups.exclude` (MM2 `DefaultGroupFilter`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFilter(IncludeExclude);

impl GroupFilter {
    /// A filter from compiled lists.
    pub fn new(include: PatternList, exclude: PatternList) -> Self {
        Self(IncludeExclude::new(
            "groups",
            "groups.exclude",
            include,
            exclude,
        ))
    }

    /// The filter as MM2 builds it with no settings: `.*` minus [`DEFAULT_GROUPS_EXCLUDE`].
    pub fn mm2_default() -> Self {
        Self::from_lists(&[".*"], DEFAULT_GROUPS_EXCLUDE)
            .unwrap_or_else(|_| unreachable!("default patterns compile"))
    }

    /// Compiles both lists.
    pub fn from_lists<S: AsRef<str>, T: AsRef<str>>(
        include: &[S],
        exclude: &[T],
    ) -> Result<Self, PatternError> {
        Ok(Self::new(
            PatternList::new(include)?,
            PatternList::new(exclude)?,
        ))
    }
}

impl std::ops::Deref for GroupFilter {
    type Target = IncludeExclude;
    fn deref(&self) -> &IncludeExclude {
        &self.0
    }
}

/// `config.properties.exclude` (MM2 `DefaultConfigPropertyFilter`): topic config properties never copied. A user
/// list replaces the default list rather than adding to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigPropertyFilter {
    exclude: PatternList,
}

impl ConfigPropertyFilter {
    /// A filter excluding the given list.
    pub fn new(exclude: PatternList) -> Self {
        Self { exclude }
    }

    /// MM2's default exclude list.
    pub fn mm2_default() -> Self {
        Self::from_list(DEFAULT_CONFIG_PROPERTIES_EXCLUDE)
            .unwrap_or_else(|_| unreachable!("default patterns compile"))
    }

    /// kmirror's default exclude list (MM2's, keeping `min.insync.replicas`).
    pub fn kmirror_default() -> Self {
        Self::from_list(KMIRROR_DEFAULT_CONFIG_PROPERTIES_EXCLUDE)
            .unwrap_or_else(|_| unreachable!("default patterns compile"))
    }

    /// Compiles the list.
    pub fn from_list<S: AsRef<str>>(exclude: &[S]) -> Result<Self, PatternError> {
        Ok(Self::new(PatternList::new(exclude)?))
    }

    /// The exclude list.
    pub fn exclude(&self) -> &PatternList {
        &self.exclude
    }

    /// Whether the topic config property `name` is copied to the target.
    pub fn should_replicate(&self, name: &str) -> bool {
        !self.exclude.matches(name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // MirrorSourceConfigTest.testTopicMatching / testNoTopics / testAllTopics / testListOfTopics
    #[test]
    fn topic_lists() {
        let f = TopicFilter::from_lists(&["topic1"], DEFAULT_TOPICS_EXCLUDE).unwrap();
        assert!(f.accepts("topic1"));
        assert!(!f.accepts("topic2"));
        assert!(!f.accepts("topic10"), "full match, not prefix match");

        let none = TopicFilter::from_lists::<&str, _>(&[], DEFAULT_TOPICS_EXCLUDE).unwrap();
        for t in ["topic1", "topic2", ""] {
            assert!(!none.accepts(t), "{t}");
        }
        assert_eq!(
            none.check("x").unwrap_err().to_string(),
            "`topics` is empty, so it selects nothing"
        );

        let all = TopicFilter::from_lists(&[".*"], DEFAULT_TOPICS_EXCLUDE).unwrap();
        assert!(all.accepts("topic1") && all.accepts("topic2"));

        let list = TopicFilter::from_lists(&["topic1", "topic2"], DEFAULT_TOPICS_EXCLUDE).unwrap();
        assert!(list.accepts("topic1") && list.accepts("topic2") && !list.accepts("topic3"));
    }

    #[test]
    fn default_topic_excludes() {
        let f = TopicFilter::mm2_default();
        for t in [
            "a-internal",
            "a.internal",
            "a.replica",
            "__consumer_offsets",
        ] {
            assert!(
                matches!(f.check(t), Err(FilterRejection::Excluded { .. })),
                "{t}"
            );
        }
        for t in [
            "orders",
            "_schemas",
            "connect-configs",
            "a_internal",
            "replica",
        ] {
            assert!(f.accepts(t), "{t}");
        }
        assert_eq!(
            f.check("x.replica").unwrap_err().to_string(),
            "excluded by `topics.exclude` element `.*\\.replica`"
        );
    }

    // MirrorCheckpointConfigTest.testGroupMatching + default excludes
    #[test]
    fn group_filter() {
        let f = GroupFilter::from_lists(&["group1"], DEFAULT_GROUPS_EXCLUDE).unwrap();
        assert!(f.accepts("group1"));
        assert!(!f.accepts("group2"));
        let d = GroupFilter::mm2_default();
        for g in ["console-consumer-123", "connect-mirror", "__x"] {
            assert!(!d.accepts(g), "{g}");
        }
        assert!(d.accepts("orders-app"));
        assert_eq!(
            d.check("connect-x").unwrap_err(),
            FilterRejection::Excluded {
                key: "groups.exclude",
                pattern: "connect-.*".into()
            }
        );
    }

    // MirrorSourceConfigTest.testConfigPropertyMatching, MirrorSourceConnectorTest.testNewTopicConfigs
    #[test]
    fn config_property_filter() {
        let f = ConfigPropertyFilter::from_list(&["prop2"]).unwrap();
        assert!(!f.should_replicate("prop2"));
        assert!(f.should_replicate("prop1"));
        // A user list replaces the defaults.
        assert!(f.should_replicate("min.insync.replicas"));

        let d = ConfigPropertyFilter::mm2_default();
        for p in DEFAULT_CONFIG_PROPERTIES_EXCLUDE {
            assert!(!d.should_replicate(&p.replace('\\', "")), "{p}");
        }
        assert!(d.should_replicate("retention.ms"));
        assert!(d.should_replicate("cleanup.policy"));

        let mut extended: Vec<&str> = DEFAULT_CONFIG_PROPERTIES_EXCLUDE.to_vec();
        extended.push("exclude_param.*");
        let e = ConfigPropertyFilter::from_list(&extended).unwrap();
        assert!(e.should_replicate("name-1"));
        assert!(!e.should_replicate("min.insync.replicas"));
        assert!(!e.should_replicate("exclude_param.param1"));
    }

    #[test]
    fn look_around_and_alternation_inside_elements() {
        let f = TopicFilter::from_lists(&["^(?!.*-changelog).*", "a|b"], &[] as &[&str]).unwrap();
        assert!(f.accepts("orders"));
        assert!(!f.accepts("app-changelog"));
        let g = TopicFilter::from_lists(&["a|b"], &[] as &[&str]).unwrap();
        assert!(g.accepts("a") && g.accepts("b") && !g.accepts("ab"));
    }

    #[test]
    fn bad_regex_is_reported_with_the_element() {
        let e = PatternList::new(&["ok", "bad(["]).unwrap_err();
        assert_eq!(e.pattern, "bad([");
        assert!(e.to_string().starts_with("invalid regex `bad([`"), "{e}");
    }
}
