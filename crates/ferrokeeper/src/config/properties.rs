//! A `java.util.Properties`-compatible parser that remembers where each key came from.
//!
//! ZooKeeper reads `zoo.cfg` (and the dynamic config file) with `Properties.load`, so the
//! exact lexical rules matter for drop-in compatibility: `key=value`, `key:value` and
//! `key value` separators, `#`/`!` comment lines, backslash line continuation and escapes.
//! Unlike Java we keep the line number of every key so that configuration errors can point
//! at the offending line.
//!
//! Rules implemented (from the `Properties.load(Reader)` contract):
//! * natural lines end at `\n`, `\r` or `\r\n`;
//! * a line whose first non-whitespace character is `#` or `!` is a comment (and a comment
//!   line is never continued, even when it ends with a backslash);
//! * whitespace is space, tab and form feed;
//! * a logical line continues on the next natural line when it ends with an odd number of
//!   backslashes; leading whitespace of the continuation line is dropped;
//! * the key ends at the first unescaped `=`, `:` or whitespace; whitespace around the
//!   separator is skipped, and at most one `=`/`:` is consumed after whitespace;
//! * escapes: `\t`, `\n`, `\r`, `\f`, `\uXXXX` (malformed is an error, as in Java), any other
//!   `\c` stands for `c`;
//! * a repeated key replaces the earlier value (last one wins, like `Hashtable.put`).
//!
//! Trailing whitespace of a value is *kept* here, exactly as Java does; ZooKeeper's own code
//! trims keys and values afterwards (see [`java_trim`]).

use std::collections::BTreeMap;
use std::fmt;

/// One key/value pair with the 1-based line number where its logical line started.
///
/// Kept so that errors and warnings can say "line 12" like a compiler does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyEntry {
    /// The unescaped key, as `Properties` would store it (not trimmed further).
    pub key: String,
    /// The unescaped value (leading whitespace removed, trailing whitespace kept).
    pub value: String,
    /// 1-based line number of the first natural line of the entry.
    pub line: usize,
}

/// An ordered, last-wins property table that keeps line numbers.
///
/// Ordering follows the file (first appearance), which gives deterministic warnings, while
/// lookups behave like a Java `Properties` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<PropertyEntry>,
    index: BTreeMap<String, usize>,
}

/// A lexical error in a properties file; only malformed `\uXXXX` escapes are fatal in Java.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PropertiesError {
    /// 1-based line number of the logical line containing the error.
    pub line: usize,
    /// Human readable explanation (mirrors Java's "Malformed \uxxxx encoding.").
    pub message: String,
}

impl Properties {
    /// Creates an empty table; used by tests and by callers building configs in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses properties text (already decoded to `str`) with Java's rules.
    pub fn parse(text: &str) -> Result<Self, PropertiesError> {
        let mut props = Properties::new();
        for logical in LogicalLines::new(text) {
            let (key, value) = split_key_value(&logical.text, logical.line)?;
            props.insert(key, value, logical.line);
        }
        Ok(props)
    }

    /// Decodes raw file bytes then parses them.
    ///
    /// Java's `Properties.load(InputStream)` decodes ISO-8859-1; we accept UTF-8 when the
    /// bytes are valid UTF-8 (so non-ASCII paths behave as users expect) and fall back to
    /// ISO-8859-1 otherwise.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, PropertiesError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Self::parse(s),
            Err(_) => {
                let latin1: String = bytes.iter().map(|&b| char::from(b)).collect();
                Self::parse(&latin1)
            }
        }
    }

    /// Inserts or replaces a key (last wins, keeping the first position for ordering).
    pub fn insert(&mut self, key: String, value: String, line: usize) {
        if let Some(&i) = self.index.get(&key) {
            self.entries[i] = PropertyEntry { key, value, line };
        } else {
            self.index.insert(key.clone(), self.entries.len());
            self.entries.push(PropertyEntry { key, value, line });
        }
    }

    /// Looks up an exact key, like `Properties.getProperty`.
    pub fn get(&self, key: &str) -> Option<&PropertyEntry> {
        self.index.get(key).map(|&i| &self.entries[i])
    }

    /// True when the exact key is present, like `Properties.containsKey`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Iterates entries in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = &PropertyEntry> {
        self.entries.iter()
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key was read.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for Properties {
    /// Renders `key=value` lines (no escaping); handy for debug logging only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            writeln!(f, "{}={}", e.key, e.value)?;
        }
        Ok(())
    }
}

/// Java's `String.trim()`: strips every char `<= U+0020` at both ends.
///
/// ZooKeeper trims keys and values with it; Rust's `str::trim` uses Unicode whitespace
/// instead, which differs for control characters and non-breaking spaces.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{000C}'
}

struct Logical {
    text: String,
    line: usize,
}

/// Splits text into logical lines, joining continuations and dropping comments/blank lines.
struct LogicalLines<'a> {
    lines: std::iter::Peekable<NaturalLines<'a>>,
}

impl<'a> LogicalLines<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            lines: NaturalLines {
                rest: text,
                line: 0,
            }
            .peekable(),
        }
    }
}

impl Iterator for LogicalLines<'_> {
    type Item = Logical;

    fn next(&mut self) -> Option<Logical> {
        loop {
            let (line_no, raw) = self.lines.next()?;
            let stripped = raw.trim_start_matches(is_ws);
            if stripped.is_empty() {
                continue;
            }
            if stripped.starts_with('#') || stripped.starts_with('!') {
                continue;
            }
            let mut text = String::new();
            let mut current = stripped;
            loop {
                if ends_with_odd_backslashes(current) {
                    text.push_str(&current[..current.len() - 1]);
                    match self.lines.next() {
                        Some((_, next)) => {
                            current = next.trim_start_matches(is_ws);
                        }
                        None => break,
                    }
                } else {
                    text.push_str(current);
                    break;
                }
            }
            return Some(Logical {
                text,
                line: line_no,
            });
        }
    }
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    let n = s.bytes().rev().take_while(|&b| b == b'\\').count();
    n % 2 == 1
}

/// Iterates natural lines (1-based numbers) split on `\n`, `\r` or `\r\n`.
struct NaturalLines<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Iterator for NaturalLines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.rest.is_empty() {
            return None;
        }
        self.line += 1;
        match self.rest.find(['\n', '\r']) {
            Some(i) => {
                let line = &self.rest[..i];
                let bytes = self.rest.as_bytes();
                let skip = if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                self.rest = &self.rest[i + skip..];
                Some((self.line, line))
            }
            None => {
                let line = self.rest;
                self.rest = "";
                Some((self.line, line))
            }
        }
    }
}

/// Splits one logical line (leading whitespace already removed) into unescaped key and value.
fn split_key_value(text: &str, line: usize) -> Result<(String, String), PropertiesError> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut key_end = chars.len();
    let mut has_sep = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 2;
            continue;
        }
        if c == '=' || c == ':' {
            key_end = i;
            has_sep = true;
            break;
        }
        if is_ws(c) {
            key_end = i;
            break;
        }
        i += 1;
    }
    let key_end = key_end.min(chars.len());
    let mut v = key_end;
    if has_sep {
        v += 1;
    }
    while v < chars.len() && is_ws(chars[v]) {
        v += 1;
    }
    if !has_sep && v < chars.len() && (chars[v] == '=' || chars[v] == ':') {
        v += 1;
        while v < chars.len() && is_ws(chars[v]) {
            v += 1;
        }
    }
    let key = unescape(&chars[..key_end], line)?;
    let value = unescape(&chars[v.min(chars.len())..], line)?;
    Ok((key, value))
}

fn unescape(chars: &[char], line: usize) -> Result<String, PropertiesError> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else {
            // A lone trailing backslash (only possible at end of input) is dropped, as Java does.
            break;
        };
        i += 1;
        match e {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\u{000C}'),
            'u' => {
                let hex: String = chars.iter().skip(i).take(4).collect();
                let ok = hex.chars().count() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit());
                let code = if ok {
                    u32::from_str_radix(&hex, 16).ok()
                } else {
                    None
                };
                let Some(code) = code else {
                    return Err(PropertiesError {
                        line,
                        message: "Malformed \\uxxxx encoding.".to_string(),
                    });
                };
                i += 4;
                // Java strings are UTF-16; a lone surrogate cannot be represented in Rust,
                // so it becomes U+FFFD.
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(p: &Properties, k: &str) -> Option<(String, usize)> {
        p.get(k).map(|e| (e.value.clone(), e.line))
    }

    #[test]
    fn separators() {
        let p = Properties::parse("a=1\nb:2\nc 3\nd = 4\ne : 5\nf\t\t6\ng\n").unwrap();
        assert_eq!(kv(&p, "a"), Some(("1".into(), 1)));
        assert_eq!(kv(&p, "b"), Some(("2".into(), 2)));
        assert_eq!(kv(&p, "c"), Some(("3".into(), 3)));
        assert_eq!(kv(&p, "d"), Some(("4".into(), 4)));
        assert_eq!(kv(&p, "e"), Some(("5".into(), 5)));
        assert_eq!(kv(&p, "f"), Some(("6".into(), 6)));
        assert_eq!(kv(&p, "g"), Some(("".into(), 7)));
    }

    #[test]
    fn only_one_separator_consumed() {
        let p = Properties::parse("a==b\nc = =d\ne:=f\n").unwrap();
        assert_eq!(kv(&p, "a").unwrap().0, "=b");
        assert_eq!(kv(&p, "c").unwrap().0, "=d");
        assert_eq!(kv(&p, "e").unwrap().0, "=f");
    }

    #[test]
    fn comments_and_blank_lines() {
        let p = Properties::parse("# c\n  ! c2\n\n   \nk=v # not a comment\n#x=y\n").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(kv(&p, "k"), Some(("v # not a comment".into(), 5)));
    }

    #[test]
    fn comment_line_is_not_continued() {
        let p = Properties::parse("# comment \\\nk=v\n").unwrap();
        assert_eq!(kv(&p, "k"), Some(("v".into(), 2)));
    }

    #[test]
    fn continuation_lines() {
        let p = Properties::parse("k = a,\\\n     b,\\\n\tc\nnext=1\n").unwrap();
        assert_eq!(kv(&p, "k"), Some(("a,b,c".into(), 1)));
        assert_eq!(kv(&p, "next"), Some(("1".into(), 4)));
        // even number of backslashes: no continuation, value ends with one backslash
        let p = Properties::parse("k=a\\\\\nn=2").unwrap();
        assert_eq!(kv(&p, "k").unwrap().0, "a\\");
        assert_eq!(kv(&p, "n"), Some(("2".into(), 2)));
    }

    #[test]
    fn line_endings() {
        let p = Properties::parse("a=1\r\nb=2\rc=3\n").unwrap();
        assert_eq!(kv(&p, "a"), Some(("1".into(), 1)));
        assert_eq!(kv(&p, "b"), Some(("2".into(), 2)));
        assert_eq!(kv(&p, "c"), Some(("3".into(), 3)));
    }

    #[test]
    fn escapes() {
        let p = Properties::parse(
            "a\\=b=c\nsp\\ ace=x\ntab=\\t|\\n|\\r|\\f\nuni=\\u0041\\u00e9\nother=\\q\\\\\n",
        )
        .unwrap();
        assert_eq!(kv(&p, "a=b").unwrap().0, "c");
        assert_eq!(kv(&p, "sp ace").unwrap().0, "x");
        assert_eq!(kv(&p, "tab").unwrap().0, "\t|\n|\r|\u{c}");
        assert_eq!(kv(&p, "uni").unwrap().0, "Aé");
        assert_eq!(kv(&p, "other").unwrap().0, "q\\");
    }

    #[test]
    fn malformed_unicode_is_error_with_line() {
        let e = Properties::parse("ok=1\nbad=\\u12G4\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("Malformed"));
        assert!(Properties::parse("bad=\\u12").is_err());
    }

    #[test]
    fn trailing_whitespace_kept_and_last_wins() {
        let p = Properties::parse("k=v  \nk=w \t\n").unwrap();
        assert_eq!(kv(&p, "k"), Some(("w \t".into(), 2)));
        assert_eq!(p.len(), 1);
        assert_eq!(java_trim(" \u{1}x y\t"), "x y");
    }

    #[test]
    fn leading_whitespace_and_no_trailing_newline() {
        let p = Properties::parse("   \t key   value with spaces").unwrap();
        assert_eq!(kv(&p, "key").unwrap().0, "value with spaces");
    }

    #[test]
    fn latin1_fallback() {
        let p = Properties::parse_bytes(b"k=caf\xe9\n").unwrap();
        assert_eq!(kv(&p, "k").unwrap().0, "café");
        let p = Properties::parse_bytes("k=café\n".as_bytes()).unwrap();
        assert_eq!(kv(&p, "k").unwrap().0, "café");
    }

    #[test]
    fn continuation_at_eof() {
        let p = Properties::parse("k=abc\\").unwrap();
        assert_eq!(kv(&p, "k").unwrap().0, "abc");
    }
}
