//! Path validation as `PathUtils.validatePath`: absolute, no empty, `.` or `..` components, no
//! trailing slash, none of the characters ZooKeeper forbids.

/// Why a path is refused (Java answers BADARGUMENTS with this reason in its log).
pub fn validate_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("Path length must be > 0");
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character");
    }
    let chars: Vec<char> = path.chars().collect();
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        if c == '\0' {
            return Err("null character not allowed");
        }
        if c == '/' && last == '/' {
            return Err("empty node name specified");
        }
        if c == '.' && last == '.' {
            if i >= 2 && chars[i - 2] == '/' && (i + 1 == chars.len() || chars[i + 1] == '/') {
                return Err("relative paths not allowed");
            }
        } else if c == '.' && last == '/' && (i + 1 == chars.len() || chars[i + 1] == '/') {
            return Err("relative paths not allowed");
        }
        let u = c as u32;
        if (u > 0 && u <= 0x1f)
            || (0x7f..=0x9f).contains(&u)
            || (0xd800..=0xf8ff).contains(&u)
            || (0xfff0..=0xffff).contains(&u)
            || u > 0xffff
        {
            return Err("invalid character");
        }
    }
    Ok(())
}

/// The parent of a path the way Java computes it (`substring(0, lastIndexOf('/'))`): the parent of a
/// top-level node is the empty string, which names the root.
pub fn parent_of(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// Maps Java's root alias `""` to `/` for tree lookups.
pub fn tree_key(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// Nodes that can never be deleted (`DataTree.isSpecialPath`).
pub fn is_special(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(validate_path("/").is_ok());
        assert!(validate_path("/a/b").is_ok());
        assert!(validate_path("/a/").is_err());
        assert!(validate_path("a").is_err());
        assert!(validate_path("/a//b").is_err());
        assert!(validate_path("/a/./b").is_err());
        assert!(validate_path("/a/../b").is_err());
        assert!(validate_path("/a/..").is_err());
        assert!(validate_path("/a/...").is_ok());
        assert!(validate_path("/a\u{1}").is_err());
        assert!(validate_path("/\u{1F600}").is_err());
        assert_eq!(parent_of("/a"), Some(""));
        assert_eq!(parent_of("/a/b"), Some("/a"));
    }
}
