//! Load errors and warnings. Every problem names the file, the key (as the user wrote it) and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a config file could not be turned into a [`Config`](super::Config).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file name does not say which format it is.
    #[error(
        "{}: unknown config format; name the file `*.properties` (MirrorMaker 2 format) or `*.toml` (kmirror format)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid `.properties` or TOML.
    #[error("{location}: {message}")]
    Syntax {
        /// `file:line` or just the file.
        location: String,
        /// What the parser said.
        message: String,
    },
    /// The file parsed, but its settings are wrong. All problems found are listed.
    #[error("{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The individual problems (empty unless [`ConfigError::Invalid`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(p) => p,
            _ => &[],
        }
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems in the config:", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

/// One invalid or contradictory setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The config file, if loaded from one.
    pub file: Option<PathBuf>,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// The key as the user wrote it (or would have to write it, for a missing key).
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", location(self.file.as_deref(), self.line))?;
        write!(f, ": `{}`: {}", self.key, self.message)?;
        if !self.fix.is_empty() {
            write!(f, " ({})", self.fix)?;
        }
        Ok(())
    }
}

/// `file:line`, `file`, or `<config>` when loaded from a string.
pub(crate) fn location(file: Option<&Path>, line: Option<usize>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{}:{l}", f.display()),
        (Some(f), None) => f.display().to_string(),
        (None, Some(l)) => format!("<config>:{l}"),
        (None, None) => "<config>".to_owned(),
    }
}

/// What kind of thing a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// A key MirrorMaker 2 knows that has no effect in kmirror.
    Ignored,
    /// A key neither MirrorMaker 2 nor kmirror knows (MM2 would pass it to its clients or drop it).
    Unknown,
    /// A key that still works but has a newer name.
    Deprecated,
    /// A `${provider:...}` placeholder left as written.
    Placeholder,
    /// Anything else worth telling (duplicate keys, kmirror defaults that differ from MM2).
    Note,
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WarningKind::Ignored => "ignored",
            WarningKind::Unknown => "unknown key",
            WarningKind::Deprecated => "deprecated",
            WarningKind::Placeholder => "placeholder",
            WarningKind::Note => "note",
        })
    }
}

/// Something the operator should know, which does not stop kmirror from running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The key as written.
    pub key: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// What kind of warning.
    pub kind: WarningKind,
    /// The explanation.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(
                f,
                "line {l}: `{}`: {}: {}",
                self.key, self.kind, self.message
            ),
            None => write!(f, "`{}`: {}: {}", self.key, self.kind, self.message),
        }
    }
}
