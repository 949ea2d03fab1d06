//! Path helpers with Java's string semantics (`lastIndexOf('/')`, the `""`/`"/"` root alias), so
//! that odd paths found in logs behave as they do in `DataTree` without ever panicking.

/// The map key of a path: the root is stored once under `""`, and `"/"` is its alias.
pub(crate) fn key(path: &str) -> &str {
    if path == "/" {
        ""
    } else {
        path
    }
}

/// Splits at the last `/` into (parent key, child name); `None` when there is no `/` at all
/// (Java would throw `StringIndexOutOfBoundsException` there).
pub(crate) fn split(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    Some((&path[..i], &path[i + 1..]))
}

/// The path a parent is reported under in watch events: the root is `"/"`.
pub(crate) fn event_path(parent_key: &str) -> &str {
    if parent_key.is_empty() {
        "/"
    } else {
        parent_key
    }
}

/// True for paths excluded from the tree digest: everything strictly below `/zookeeper/`.
pub(crate) fn digest_excluded(path: &str) -> bool {
    path.starts_with("/zookeeper/")
}

/// `String.length()` of Java: UTF-16 code units, used by `approximateDataSize`.
pub(crate) fn java_len(path: &str) -> i64 {
    if path.is_ascii() {
        path.len() as i64
    } else {
        path.chars().map(|c| c.len_utf16() as i64).sum()
    }
}

/// Java's `PathParentIterator`: the path itself, then each ancestor up to `"/"`.
/// Yields `(level, path)` where level 0 is the path itself.
pub(crate) struct Ancestors<'a> {
    rest: &'a str,
    level: usize,
    max_level: usize,
}

impl<'a> Ancestors<'a> {
    /// Every ancestor, as Java walks them when recursive watches exist.
    pub(crate) fn all(path: &'a str) -> Self {
        Ancestors {
            rest: path,
            level: 0,
            max_level: usize::MAX,
        }
    }

    /// Only the path itself (no recursive watches registered).
    pub(crate) fn path_only(path: &'a str) -> Self {
        Ancestors {
            rest: path,
            level: 0,
            max_level: 0,
        }
    }
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.rest.is_empty() || self.level > self.max_level {
            return None;
        }
        let current = self.rest;
        let level = self.level;
        self.level = self.level.saturating_add(1);
        self.rest = if current == "/" {
            ""
        } else {
            match current.rfind('/') {
                Some(0) => "/",
                Some(i) => &current[..i],
                None => "",
            }
        };
        Some((level, current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_alias() {
        assert_eq!(split("/a"), Some(("", "a")));
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/"), Some(("", "")));
        assert_eq!(split("a"), None);
        assert_eq!(split(""), None);
        assert_eq!(key("/"), "");
        assert_eq!(key("/a"), "/a");
        assert_eq!(event_path(""), "/");
        assert!(digest_excluded("/zookeeper/quota"));
        assert!(!digest_excluded("/zookeeper"));
        assert_eq!(java_len("/é"), 2);
        assert_eq!(java_len("/😀"), 3);
    }

    #[test]
    fn ancestors_walk() {
        let all: Vec<_> = Ancestors::all("/a/b/c").collect();
        assert_eq!(all, vec![(0, "/a/b/c"), (1, "/a/b"), (2, "/a"), (3, "/")]);
        let root: Vec<_> = Ancestors::all("/").collect();
        assert_eq!(root, vec![(0, "/")]);
        let only: Vec<_> = Ancestors::path_only("/a/b").collect();
        assert_eq!(only, vec![(0, "/a/b")]);
        assert_eq!(Ancestors::all("").count(), 0);
        let odd: Vec<_> = Ancestors::all("a").collect();
        assert_eq!(odd, vec![(0, "a")]);
    }
}
