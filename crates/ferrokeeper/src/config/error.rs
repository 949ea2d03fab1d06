//! Error and warning types of the configuration layer.
//!
//! Errors are fatal (Java would exit with "Invalid config, exiting abnormally", code 2) and
//! always name the file, the line and the key when one is involved. Warnings are returned
//! to the caller, which logs them; an unknown key is never fatal (Java forwards it as a
//! system property).

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::myid::MyIdError;

/// Where a configuration value came from: a file and, when known, a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File label (path as given, or `JVMFLAGS` for `-D` flags).
    pub file: String,
    /// 1-based line, when the value came from a file line.
    pub line: Option<usize>,
}

impl Location {
    /// A location at a specific line of a file.
    pub fn line(file: &str, line: usize) -> Self {
        Self {
            file: file.to_string(),
            line: Some(line),
        }
    }

    /// A whole-file location (no specific line).
    pub fn file(file: &str) -> Self {
        Self {
            file: file.to_string(),
            line: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}", self.file, l),
            None => write!(f, "{}", self.file),
        }
    }
}

/// A fatal configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file does not exist (Java: "... file is missing").
    #[error("{path}: configuration file is missing")]
    NotFound {
        /// Path that was looked up.
        path: PathBuf,
    },
    /// The config (or dynamic config) file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// Path that failed.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// A lexical error in a properties file (malformed `\uXXXX`).
    #[error("{location}: {message}")]
    Syntax {
        /// File and line.
        location: Location,
        /// Explanation.
        message: String,
    },
    /// A key has a value of the wrong type or outside its range.
    #[error("{location}: invalid value '{value}' for {key}: {reason}")]
    InvalidValue {
        /// The key (as written in zoo.cfg, or the system property name).
        key: String,
        /// The offending (trimmed) value.
        value: String,
        /// File and line of the key.
        location: Location,
        /// What was expected.
        reason: String,
    },
    /// A required key is absent (e.g. `dataDir is not set`).
    #[error("{location}: {key} is not set")]
    Missing {
        /// The missing key.
        key: String,
        /// The file it should be in.
        location: Location,
    },
    /// A rule spanning keys is violated (Java's `IllegalArgumentException`/`ConfigException`).
    #[error("{location}: {message}")]
    Invalid {
        /// The most relevant key, if any.
        key: Option<String>,
        /// File and (when tied to a key) line.
        location: Location,
        /// Explanation, worded like Java's message.
        message: String,
    },
    /// `dataDir/myid` is unreadable or not a number.
    #[error(transparent)]
    MyId(#[from] MyIdError),
}

impl ConfigError {
    /// The key the error is about, if any (used by tests and tooling).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::InvalidValue { key, .. } | ConfigError::Missing { key, .. } => Some(key),
            ConfigError::Invalid { key, .. } => key.as_deref(),
            _ => None,
        }
    }

    /// The 1-based line the error points at, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::InvalidValue { location, .. }
            | ConfigError::Invalid { location, .. }
            | ConfigError::Syntax { location, .. }
            | ConfigError::Missing { location, .. } => location.line,
            _ => None,
        }
    }
}

/// A non-fatal observation the caller should log (unknown key, ignored value, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where it was found, if tied to a file.
    pub location: Option<Location>,
    /// The key concerned, if any.
    pub key: Option<String>,
    /// Explanation.
    pub message: String,
}

impl ConfigWarning {
    /// A warning tied to a key at a location.
    pub fn at(location: Location, key: &str, message: impl Into<String>) -> Self {
        Self {
            location: Some(location),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// A warning with no particular location.
    pub fn general(message: impl Into<String>) -> Self {
        Self {
            location: None,
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(f, "{}", self.message)
    }
}
