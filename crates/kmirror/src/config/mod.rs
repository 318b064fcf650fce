//! Configuration: one validated model ([`Config`]) loaded from an unchanged MirrorMaker 2 `mm2.properties` or
//! from kmirror's native `kmirror.toml` (chosen by file extension). Both go through the same interpreter, which
//! applies MM2's key layering and collects every problem with its file, key and fix.
//!
//! Layout: `properties`/`toml` read a format into MM2-style keys (`raw`), `placeholders` resolves `${...}`,
//! `build` interprets and validates, `model` is the result, `keys` is the catalogue of known keys.

mod build;
mod error;
mod keys;
mod model;
mod placeholders;
mod properties;
mod raw;
mod toml;

use std::path::Path;

pub use error::{ConfigError, ConfigWarning, Problem, WarningKind};
pub use keys::{is_sensitive, redacted};
pub use model::{
    AutoOffsetReset, ClusterConfig, Config, FlowClientOverrides, FlowConfig, IsolationLevel,
    OffsetSyncsTopicLocation, Periodic, Role, RoleProperties, SecurityProtocol, Side,
    UseDefaultsFrom, defaults,
};
pub use raw::Format;

impl Config {
    /// Loads and validates a config file: `*.properties` as MirrorMaker 2's format, `*.toml` as kmirror's.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let format = match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("properties") => Format::Properties,
            Some("toml") => Format::Toml,
            _ => {
                return Err(ConfigError::UnknownFormat {
                    path: path.to_path_buf(),
                });
            }
        };
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw = match format {
            Format::Properties => properties::parse(&bytes, Some(path))?,
            Format::Toml => {
                let text = String::from_utf8(bytes).map_err(|e| ConfigError::Syntax {
                    location: path.display().to_string(),
                    message: format!("TOML must be UTF-8: {e}"),
                })?;
                toml::parse(&text, Some(path))?
            }
        };
        build::build(raw)
    }

    /// Parses MirrorMaker 2 `.properties` text (no file: messages say `<config>`).
    pub fn from_properties_str(text: &str) -> Result<Config, ConfigError> {
        build::build(properties::parse(text.as_bytes(), None)?)
    }

    /// Parses `kmirror.toml` text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        build::build(toml::parse(text, None)?)
    }
}

#[cfg(test)]
mod tests;
