//! Java system properties (`-Dname=value`) as ZooKeeper deployments pass them.
//!
//! Real deployments configure ZooKeeper partly through JVM flags: `JVMFLAGS` and
//! `SERVER_JVMFLAGS` in the environment, or `export JVMFLAGS="..."` lines in
//! `$ZOOCFGDIR/java.env` and `$ZOOCFGDIR/zookeeper-env.sh` which `zkEnv.sh` sources. We have
//! no JVM and must not run a shell, so this module
//! * extracts variable assignments from those shell files with a small, side-effect-free
//!   reader ([`ShellEnv`]),
//! * splits the flags the way the unquoted `$JVMFLAGS` expansion in `zkServer.sh` does
//!   (whitespace only, quotes are *not* interpreted), and
//! * keeps the `-D` properties in a map ([`SystemProperties`]) while listing JVM-only flags
//!   (`-Xmx`, `-XX:...`, GC flags, …) as ignored.

use std::collections::BTreeMap;
use std::fmt;

/// Where a system property value came from; used to explain warnings and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyOrigin {
    /// A `-D` flag in `SERVER_JVMFLAGS`/`JVMFLAGS` (environment or sourced env files).
    JvmFlag,
    /// Implied by the launcher environment (e.g. `ZOO_DATADIR_AUTOCREATE_DISABLE`).
    Launcher,
    /// A zoo.cfg key `X` that Java turns into `zookeeper.X` (file and 1-based line).
    ZooCfg {
        /// Config file the key was read from.
        file: String,
        /// 1-based line number.
        line: usize,
    },
}

impl fmt::Display for PropertyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyOrigin::JvmFlag => write!(f, "JVMFLAGS"),
            PropertyOrigin::Launcher => write!(f, "launcher environment"),
            PropertyOrigin::ZooCfg { file, line } => write!(f, "{file}:{line}"),
        }
    }
}

/// One system property value and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemProperty {
    /// The raw string value (Java system properties are strings).
    pub value: String,
    /// Where it was set (last setter wins).
    pub origin: PropertyOrigin,
}

/// The emulated `System.getProperties()` of a ZooKeeper JVM.
///
/// Populated from `-D` flags first, then overwritten by zoo.cfg keys that Java forwards as
/// `zookeeper.<key>` (QuorumPeerConfig calls `System.setProperty` after JVM start, so the
/// zoo.cfg value wins over a `-D` flag for the same name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemProperties {
    map: BTreeMap<String, SystemProperty>,
    /// Flags that only make sense to a JVM (`-Xmx1g`, `-XX:+UseG1GC`, `-cp`, …), in order.
    pub ignored_flags: Vec<String>,
}

impl SystemProperties {
    /// Creates an empty property set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a JVM flag string as `zkServer.sh` passes it (unquoted expansion).
    ///
    /// Splitting is on whitespace only, exactly like the shell's word splitting of an
    /// unquoted `$JVMFLAGS`: quote characters inside the value stay literal.
    pub fn from_jvm_flags(flags: &str) -> Self {
        let mut props = Self::new();
        props.add_jvm_flags(flags);
        props
    }

    /// Adds the flags of another string; later `-D` flags override earlier ones like Java.
    pub fn add_jvm_flags(&mut self, flags: &str) {
        for token in flags.split_whitespace() {
            if let Some(def) = token.strip_prefix("-D") {
                let (name, value) = match def.find('=') {
                    Some(i) => (&def[..i], &def[i + 1..]),
                    None => (def, ""),
                };
                if name.is_empty() {
                    self.ignored_flags.push(token.to_string());
                    continue;
                }
                self.set(name, value, PropertyOrigin::JvmFlag);
            } else {
                self.ignored_flags.push(token.to_string());
            }
        }
    }

    /// Sets (or replaces) a property.
    pub fn set(&mut self, name: &str, value: &str, origin: PropertyOrigin) {
        self.map.insert(
            name.to_string(),
            SystemProperty {
                value: value.to_string(),
                origin,
            },
        );
    }

    /// Looks a property up, like `System.getProperty(name)`.
    pub fn get(&self, name: &str) -> Option<&SystemProperty> {
        self.map.get(name)
    }

    /// The value only, like `System.getProperty(name)`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(|p| p.value.as_str())
    }

    /// Iterates all properties in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SystemProperty)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no property is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Variables assigned by sourcing shell env files, extracted without running a shell.
///
/// Supported: `NAME=value`, `export NAME=value`, `NAME+=value`, several assignments on one
/// line, `'single'`/`"double"` quotes, backslash escapes and line continuations, `$NAME`,
/// `${NAME}`, `${NAME:-default}`/`${NAME-default}`/`${NAME:=default}` expansion using the
/// variables known so far (seeded from the process environment). Not evaluated: command
/// substitution (`$(...)`, backticks: expands to nothing and is reported), conditionals
/// (`if`/`then` … are treated as transparent, so conditional assignments always apply),
/// functions and other commands (ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellEnv {
    /// Current variable values (environment + assignments so far).
    pub vars: BTreeMap<String, String>,
    /// Human readable notes about constructs that could not be evaluated.
    pub notes: Vec<String>,
}

impl ShellEnv {
    /// Starts from the given variables (usually the process environment).
    pub fn new(vars: BTreeMap<String, String>) -> Self {
        Self {
            vars,
            notes: Vec::new(),
        }
    }

    /// Starts from the real process environment (non-UTF-8 entries skipped).
    pub fn from_process_env() -> Self {
        Self::new(std::env::vars().collect())
    }

    /// Returns a variable only when it is set and non-empty (the shell's `"x$VAR" != "x"`).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// "Sources" a file's text: applies every assignment it can understand, in order.
    pub fn source(&mut self, file_label: &str, text: &str) {
        let mut p = ShellParser {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
        };
        while let Some(cmd) = p.next_command(self, file_label) {
            self.apply_command(cmd);
        }
    }

    fn apply_command(&mut self, cmd: Vec<Word>) {
        let mut words = cmd.into_iter().peekable();
        // Skip control keywords so `then X=1` or `{ X=1; }` still assign.
        while let Some(w) = words.peek() {
            match w.raw_unquoted.as_deref() {
                Some("then") | Some("else") | Some("do") | Some("{") | Some("!") => {
                    words.next();
                }
                _ => break,
            }
        }
        let words: Vec<Word> = words.collect();
        let Some(first) = words.first() else {
            return;
        };
        let is_export = matches!(
            first.raw_unquoted.as_deref(),
            Some("export") | Some("readonly") | Some("declare") | Some("typeset") | Some("local")
        );
        let candidates: &[Word] = if is_export { &words[1..] } else { &words[..] };
        if !is_export {
            // Plain `A=1 B=2` lines assign; `A=1 cmd` only sets A for cmd -> ignore.
            if !candidates.iter().all(|w| w.assignment.is_some()) {
                return;
            }
        }
        for w in candidates {
            if let Some((name, append)) = &w.assignment {
                let value = w.value.clone();
                if *append {
                    self.vars.entry(name.clone()).or_default().push_str(&value);
                } else {
                    self.vars.insert(name.clone(), value);
                }
            }
        }
    }
}

#[derive(Debug)]
struct Word {
    /// Some(text) when the whole word was unquoted literal text (for keyword detection).
    raw_unquoted: Option<String>,
    /// `(NAME, is_append)` when the word is an assignment.
    assignment: Option<(String, bool)>,
    /// Expanded value (for assignments: the part after `=`).
    value: String,
}

struct ShellParser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl ShellParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Reads the next simple command (list of words) or None at end of input.
    fn next_command(&mut self, env: &mut ShellEnv, file: &str) -> Option<Vec<Word>> {
        loop {
            // skip separators and blank space
            while let Some(c) = self.peek() {
                if c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' {
                    self.bump();
                } else if c == '\\' && self.chars.get(self.pos + 1) == Some(&'\n') {
                    self.bump();
                    self.bump();
                } else {
                    break;
                }
            }
            let c = self.peek()?;
            if c == '#' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
                continue;
            }
            let mut words = Vec::new();
            loop {
                while let Some(c) = self.peek() {
                    if c == ' ' || c == '\t' {
                        self.bump();
                    } else if c == '\\' && self.chars.get(self.pos + 1) == Some(&'\n') {
                        self.bump();
                        self.bump();
                    } else {
                        break;
                    }
                }
                match self.peek() {
                    None | Some('\n') | Some(';') | Some('&') | Some('|') => break,
                    Some('#') => {
                        // comment at word start
                        while let Some(c) = self.peek() {
                            if c == '\n' {
                                break;
                            }
                            self.bump();
                        }
                        break;
                    }
                    Some(_) => words.push(self.word(env, file)),
                }
            }
            return Some(words);
        }
    }

    fn word(&mut self, env: &mut ShellEnv, file: &str) -> Word {
        let start_line = self.line;
        // Detect NAME= / NAME+= prefix (unquoted).
        let mut assignment = None;
        let mut j = self.pos;
        while j < self.chars.len()
            && (self.chars[j].is_ascii_alphanumeric() || self.chars[j] == '_')
        {
            j += 1;
        }
        if j > self.pos && !self.chars[self.pos].is_ascii_digit() {
            let name: String = self.chars[self.pos..j].iter().collect();
            if self.chars.get(j) == Some(&'=') {
                assignment = Some((name, false));
                self.pos = j + 1;
            } else if self.chars.get(j) == Some(&'+') && self.chars.get(j + 1) == Some(&'=') {
                assignment = Some((name, true));
                self.pos = j + 2;
            }
        }
        let mut value = String::new();
        let mut all_plain = assignment.is_none();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' => break,
                '\'' => {
                    all_plain = false;
                    self.bump();
                    while let Some(c) = self.bump() {
                        if c == '\'' {
                            break;
                        }
                        value.push(c);
                    }
                }
                '"' => {
                    all_plain = false;
                    self.bump();
                    while let Some(c) = self.peek() {
                        match c {
                            '"' => {
                                self.bump();
                                break;
                            }
                            '\\' => {
                                self.bump();
                                match self.bump() {
                                    Some('\n') => {}
                                    Some(e @ ('"' | '\\' | '$' | '`')) => value.push(e),
                                    Some(e) => {
                                        value.push('\\');
                                        value.push(e);
                                    }
                                    None => value.push('\\'),
                                }
                            }
                            '$' => {
                                self.bump();
                                let exp = self.dollar(env, file, start_line);
                                value.push_str(&exp);
                            }
                            '`' => {
                                self.bump();
                                self.skip_backticks(env, file, start_line);
                            }
                            _ => {
                                self.bump();
                                value.push(c);
                            }
                        }
                    }
                }
                '\\' => {
                    all_plain = false;
                    self.bump();
                    match self.bump() {
                        Some('\n') | None => {}
                        Some(e) => value.push(e),
                    }
                }
                '$' => {
                    all_plain = false;
                    self.bump();
                    let exp = self.dollar(env, file, start_line);
                    value.push_str(&exp);
                }
                '`' => {
                    all_plain = false;
                    self.bump();
                    self.skip_backticks(env, file, start_line);
                }
                _ => {
                    self.bump();
                    value.push(c);
                }
            }
        }
        Word {
            raw_unquoted: if all_plain { Some(value.clone()) } else { None },
            assignment,
            value,
        }
    }

    fn skip_backticks(&mut self, env: &mut ShellEnv, file: &str, line: usize) {
        while let Some(c) = self.bump() {
            if c == '`' {
                break;
            }
        }
        env.notes.push(format!(
            "{file}:{line}: command substitution is not evaluated (expanded to nothing)"
        ));
    }

    /// Handles the text after a `$` and returns its expansion.
    fn dollar(&mut self, env: &mut ShellEnv, file: &str, line: usize) -> String {
        match self.peek() {
            Some('{') => {
                self.bump();
                let mut inner = String::new();
                let mut depth = 1;
                while let Some(c) = self.bump() {
                    if c == '{' {
                        depth += 1;
                    } else if c == '}' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    inner.push(c);
                }
                self.expand_braced(&inner, env)
            }
            Some('(') => {
                let mut depth = 0;
                while let Some(c) = self.bump() {
                    if c == '(' {
                        depth += 1;
                    } else if c == ')' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                env.notes.push(format!(
                    "{file}:{line}: command substitution is not evaluated (expanded to nothing)"
                ));
                String::new()
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                env.vars.get(&name).cloned().unwrap_or_default()
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                // positional/special parameters: unknown here
                self.bump();
                String::new()
            }
            _ => "$".to_string(),
        }
    }

    fn expand_braced(&self, inner: &str, env: &mut ShellEnv) -> String {
        let name_len = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let name = &inner[..name_len];
        let rest = &inner[name_len..];
        let current = env.vars.get(name).cloned();
        let (colon, op_rest) = match rest.strip_prefix(':') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let unset_or_null = match &current {
            None => true,
            Some(v) => colon && v.is_empty(),
        };
        let mut op_chars = op_rest.chars();
        match op_chars.next() {
            Some('-') => {
                if unset_or_null {
                    expand_simple(op_chars.as_str(), env)
                } else {
                    current.unwrap_or_default()
                }
            }
            Some('=') => {
                if unset_or_null {
                    let v = expand_simple(op_chars.as_str(), env);
                    env.vars.insert(name.to_string(), v.clone());
                    v
                } else {
                    current.unwrap_or_default()
                }
            }
            Some('+') => {
                if unset_or_null {
                    String::new()
                } else {
                    expand_simple(op_chars.as_str(), env)
                }
            }
            _ => current.unwrap_or_default(),
        }
    }
}

/// Expands `$NAME`/`${NAME}` inside a `${X:-default}` default word (quotes stripped).
fn expand_simple(text: &str, env: &ShellEnv) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            continue;
        }
        if c == '$' {
            let (name, next) = if chars.get(i + 1) == Some(&'{') {
                let end = chars[i + 2..]
                    .iter()
                    .position(|&c| c == '}')
                    .map(|p| i + 2 + p)
                    .unwrap_or(chars.len());
                (chars[i + 2..end].iter().collect::<String>(), end + 1)
            } else {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                (chars[i + 1..j].iter().collect::<String>(), j)
            };
            if name.is_empty() {
                out.push('$');
                i += 1;
                continue;
            }
            out.push_str(env.vars.get(&name).map(String::as_str).unwrap_or(""));
            i = next;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Builds the final JVM flag string the way `zkEnv.sh` + `zkServer.sh` do.
///
/// `zkServer.sh` runs `JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS"`, so a `-D` in `JVMFLAGS` wins
/// over the same `-D` in `SERVER_JVMFLAGS`. (The `-Xmx${ZK_SERVER_HEAP}m` that `zkEnv.sh`
/// prepends is left out: it is meaningless without a JVM and would only add log noise.)
pub fn effective_server_jvm_flags(env: &ShellEnv) -> String {
    let server = env
        .vars
        .get("SERVER_JVMFLAGS")
        .map(String::as_str)
        .unwrap_or("");
    let jvm = env.vars.get("JVMFLAGS").map(String::as_str).unwrap_or("");
    format!("{server} {jvm}").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(pairs: &[(&str, &str)]) -> ShellEnv {
        ShellEnv::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn jvm_flags_split_and_classify() {
        let p = SystemProperties::from_jvm_flags(
            "-Xmx512m -Xms512m  -XX:+UseG1GC -Djute.maxbuffer=4194304 \
             -Dzookeeper.snapCount=5000 -Dreadonlymode.enabled=true -Dflag -verbose:gc \
             -Dzookeeper.snapCount=6000 -Dx=a=b",
        );
        assert_eq!(p.value("jute.maxbuffer"), Some("4194304"));
        assert_eq!(p.value("zookeeper.snapCount"), Some("6000"));
        assert_eq!(p.value("readonlymode.enabled"), Some("true"));
        assert_eq!(p.value("flag"), Some(""));
        assert_eq!(p.value("x"), Some("a=b"));
        assert_eq!(
            p.ignored_flags,
            vec!["-Xmx512m", "-Xms512m", "-XX:+UseG1GC", "-verbose:gc"]
        );
        assert_eq!(
            p.get("x").map(|p| &p.origin),
            Some(&PropertyOrigin::JvmFlag)
        );
    }

    #[test]
    fn jvm_flags_quotes_are_literal() {
        // unquoted $JVMFLAGS: quotes are not removed, words split on whitespace
        let p = SystemProperties::from_jvm_flags("-Da='x y'");
        assert_eq!(p.value("a"), Some("'x"));
        assert_eq!(p.ignored_flags, vec!["y'"]);
    }

    #[test]
    fn java_env_extraction() {
        let mut env = env_with(&[("HOME", "/root")]);
        env.source(
            "java.env",
            "# comment\nZOO_LOG_DIR=/var/log/zookeeper\nJVMFLAGS=\"-Xmx2G -Xms2G\"\n\
             export SERVER_JVMFLAGS='-Dzookeeper.skipACL=yes'\n",
        );
        assert_eq!(env.vars["ZOO_LOG_DIR"], "/var/log/zookeeper");
        assert_eq!(env.vars["JVMFLAGS"], "-Xmx2G -Xms2G");
        assert_eq!(env.vars["SERVER_JVMFLAGS"], "-Dzookeeper.skipACL=yes");
    }

    #[test]
    fn expansion_append_and_continuation() {
        let mut env = env_with(&[("JVMFLAGS", "-Da=1")]);
        env.source(
            "zookeeper-env.sh",
            "export JVMFLAGS=\"$JVMFLAGS -Db=2 \\\n  -Dc=${HEAP:-3}\"\nJVMFLAGS+=\" -Dd=4\"; X=1 Y=2\n\
             if [ -n \"$Q\" ]; then export Z=\"${JVMFLAGS}\"; fi\nFOO=bar somecmd\n",
        );
        assert_eq!(env.vars["JVMFLAGS"], "-Da=1 -Db=2   -Dc=3 -Dd=4");
        assert_eq!(env.vars["X"], "1");
        assert_eq!(env.vars["Y"], "2");
        assert_eq!(env.vars["Z"], env.vars["JVMFLAGS"]);
        assert!(!env.vars.contains_key("FOO"));
    }

    #[test]
    fn command_substitution_is_noted() {
        let mut env = env_with(&[]);
        env.source("java.env", "HEAP=$(nproc)\nJVMFLAGS=\"-Xmx`echo 1`g\"\n");
        assert_eq!(env.vars["HEAP"], "");
        assert_eq!(env.vars["JVMFLAGS"], "-Xmxg");
        assert_eq!(env.notes.len(), 2);
        assert!(env.notes[0].starts_with("java.env:1:"));
    }

    #[test]
    fn server_flags_order() {
        let env = env_with(&[
            ("SERVER_JVMFLAGS", "-Dzookeeper.snapCount=1"),
            ("JVMFLAGS", "-Dzookeeper.snapCount=2"),
        ]);
        let flags = effective_server_jvm_flags(&env);
        let p = SystemProperties::from_jvm_flags(&flags);
        assert_eq!(p.value("zookeeper.snapCount"), Some("2"));
        assert!(p.ignored_flags.is_empty());
    }
}
