//! The format-neutral middle step: both loaders produce MM2-style keys (`A->B.topics`, `A.consumer.x`) with their
//! origin, so one interpreter applies MM2's layering and validation to `.properties` and `.toml` alike.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A setting's value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawValue {
    /// A `.properties` value or a TOML scalar; lists are split on commas as MM2 does.
    Text(String),
    /// A TOML array: already a list, elements may contain commas.
    List(Vec<String>),
}

impl RawValue {
    /// The value as a list, MM2-style: split on commas, each element trimmed, an empty value is an empty list.
    pub(crate) fn as_list(&self) -> Vec<String> {
        match self {
            RawValue::List(items) => items.clone(),
            RawValue::Text(text) => split_list(text),
        }
    }

    /// The value as one string (TOML lists are joined with `,` only for display).
    pub(crate) fn as_text(&self) -> String {
        match self {
            RawValue::Text(t) => t.clone(),
            RawValue::List(items) => items.join(","),
        }
    }
}

/// MM2's `ConfigDef.Type.LIST` parsing: trim, empty → no elements, split on `\s*,\s*` keeping empty elements.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed.split(',').map(|s| s.trim().to_owned()).collect()
}

/// One setting with where it came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub(crate) value: RawValue,
    /// 1-based line in a `.properties` file.
    pub(crate) line: Option<usize>,
    /// How the user wrote the key, when it differs from the MM2 key (TOML: `flows[0].topics`).
    pub(crate) written_as: Option<String>,
}

impl RawEntry {
    pub(crate) fn text(value: impl Into<String>, line: Option<usize>) -> Self {
        Self {
            value: RawValue::Text(value.into()),
            line,
            written_as: None,
        }
    }
}

/// Which loader produced the settings; decides a few format-specific defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MirrorMaker 2's `mm2.properties`.
    Properties,
    /// kmirror's native `kmirror.toml`.
    Toml,
}

/// All settings of one file under MM2 key names.
#[derive(Debug, Clone)]
pub(crate) struct RawConfig {
    pub(crate) file: Option<PathBuf>,
    pub(crate) format: Format,
    pub(crate) entries: BTreeMap<String, RawEntry>,
    /// Problems noticed while reading that are not errors (duplicate keys).
    pub(crate) notes: Vec<(String, String)>,
}

impl RawConfig {
    pub(crate) fn new(file: Option<PathBuf>, format: Format) -> Self {
        Self {
            file,
            format,
            entries: BTreeMap::new(),
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_like_mm2() {
        assert_eq!(split_list(""), Vec::<String>::new());
        assert_eq!(split_list("   "), Vec::<String>::new());
        assert_eq!(split_list("a"), vec!["a"]);
        assert_eq!(split_list(" a , b,c "), vec!["a", "b", "c"]);
        assert_eq!(split_list("a,,b"), vec!["a", "", "b"]);
    }
}
