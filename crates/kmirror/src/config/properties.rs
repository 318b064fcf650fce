//! Reads Java `.properties` text (MM2's `mm2.properties`) with the `java-properties` crate: `=`, `:` or
//! whitespace separators, `#`/`!` comments, `\` line continuations and `\uXXXX` escapes.
//!
//! Java reads the file as ISO-8859-1; kmirror reads it as UTF-8 when it is valid UTF-8 (what editors write today)
//! and falls back to ISO-8859-1 otherwise. Values are trimmed at both ends: Java keeps trailing blanks, but every
//! MM2 and Kafka client setting trims them before use, and a stray blank after a password is a classic mistake.

use std::path::Path;

use super::error::{ConfigError, location};
use super::raw::{Format, RawConfig, RawEntry};

/// Parses `.properties` bytes into MM2 keys. Later duplicates win, as in Java; each duplicate is noted.
pub(crate) fn parse(bytes: &[u8], file: Option<&Path>) -> Result<RawConfig, ConfigError> {
    let encoding = if std::str::from_utf8(bytes).is_ok() {
        encoding_rs::UTF_8
    } else {
        encoding_rs::WINDOWS_1252
    };
    let mut raw = RawConfig::new(file.map(Path::to_path_buf), Format::Properties);
    let iter = java_properties::PropertiesIter::new_with_encoding(bytes, encoding);
    for line in iter {
        let line = line.map_err(|e| ConfigError::Syntax {
            location: location(file, e.line_number()),
            message: format!("not valid .properties syntax: {e}"),
        })?;
        let number = line.line_number();
        if let java_properties::LineContent::KVPair(key, value) = line.consume_content() {
            let key = key.trim().to_owned();
            if let Some(previous) = raw.entries.get(&key) {
                let before = previous
                    .line
                    .map_or_else(String::new, |l| format!(" (line {l})"));
                raw.notes.push((
                    key.clone(),
                    format!("set more than once; the value on line {number} wins over the earlier one{before}"),
                ));
            }
            raw.entries
                .insert(key, RawEntry::text(value.trim(), Some(number)));
        }
    }
    Ok(raw)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::raw::RawValue;

    fn get(raw: &RawConfig, key: &str) -> String {
        match &raw.entries[key].value {
            RawValue::Text(t) => t.clone(),
            RawValue::List(_) => panic!("list"),
        }
    }

    #[test]
    fn java_properties_syntax() {
        let text = concat!(
            "# comment\n",
            "! another comment\n",
            "clusters = A, B\n",
            "A.bootstrap.servers:a1:9092\n",
            "B.bootstrap.servers b1:9092\n",
            "   A->B.enabled   =   true   \n",
            "A->B.topics = orders, \\\n",
            "    payments\n",
            "key\\ with\\ spaces = v\n",
            "unicode = caf\\u00e9\n",
            "empty =\n",
            "dup = 1\n",
            "dup = 2\n",
        );
        let raw = parse(text.as_bytes(), None).unwrap();
        assert_eq!(get(&raw, "clusters"), "A, B");
        assert_eq!(get(&raw, "A.bootstrap.servers"), "a1:9092");
        assert_eq!(get(&raw, "B.bootstrap.servers"), "b1:9092");
        assert_eq!(get(&raw, "A->B.enabled"), "true");
        assert_eq!(get(&raw, "A->B.topics"), "orders, payments");
        assert_eq!(get(&raw, "key with spaces"), "v");
        assert_eq!(get(&raw, "unicode"), "café");
        assert_eq!(get(&raw, "empty"), "");
        assert_eq!(get(&raw, "dup"), "2");
        assert_eq!(raw.entries["A->B.topics"].line, Some(7));
        assert_eq!(raw.notes.len(), 1);
        assert!(raw.notes[0].1.contains("line 13"), "{:?}", raw.notes);
    }

    #[test]
    fn utf8_and_latin1() {
        let raw = parse("p = café\n".as_bytes(), None).unwrap();
        assert_eq!(get(&raw, "p"), "café");
        let raw = parse(b"p = caf\xe9\n", None).unwrap();
        assert_eq!(get(&raw, "p"), "café");
    }

    #[test]
    fn crlf_line_endings() {
        let raw = parse(b"a = 1\r\nb = 2\r\n", None).unwrap();
        assert_eq!(get(&raw, "a"), "1");
        assert_eq!(get(&raw, "b"), "2");
    }
}
