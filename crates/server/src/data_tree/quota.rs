//! Quota bookkeeping done by Java's `DataTree` on every write: the set of quota roots (Java's
//! `PathTrie`, registered by creating `/zookeeper/quota/<path>/zookeeper_limits`) and the
//! `count=..,bytes=..` data of the matching `zookeeper_stats` node, which clients read with
//! `listquota`. All of it lives under `/zookeeper/`, so none of it is in the digest.

use std::collections::BTreeMap;

use super::DataTree;

/// Parent of every quota node.
pub(crate) const QUOTA_ROOT: &str = "/zookeeper/quota";
/// Name of the node whose presence makes its parent's real path a quota root.
pub(crate) const LIMIT_NODE: &str = "zookeeper_limits";
/// Name of the node holding the usage counters.
pub(crate) const STAT_NODE: &str = "zookeeper_stats";

/// `PathTrie`'s normal form: non-blank components (Java `trim()` semantics) joined by `/`.
pub(crate) fn normalize(p: &str) -> String {
    let mut out = String::new();
    for c in p.split('/').filter(|c| !c.chars().all(|ch| ch <= ' ')) {
        out.push('/');
        out.push_str(c);
    }
    out
}

/// Java's `StatsTrack`: `key=value` pairs separated by `,` or `;`; count and bytes default to -1.
/// Malformed pairs (where Java would throw) are skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct StatsTrack(BTreeMap<String, i64>);

impl StatsTrack {
    pub(crate) fn parse(data: &[u8]) -> StatsTrack {
        let s = String::from_utf8_lossy(data);
        let mut map = BTreeMap::new();
        for pair in s.split([',', ';']).filter(|p| !p.is_empty()) {
            // Java's String.split drops trailing empty parts.
            let mut parts: Vec<&str> = pair.split('=').collect();
            while parts.last() == Some(&"") {
                parts.pop();
            }
            let (Some(key), Some(raw)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let value = if raw.is_empty() {
                -1
            } else {
                match raw.parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => continue,
                }
            };
            map.insert((*key).to_string(), value);
        }
        StatsTrack(map)
    }

    fn get(&self, key: &str) -> i64 {
        self.0.get(key).copied().unwrap_or(-1)
    }

    pub(crate) fn add(&mut self, count: i64, bytes: i64) {
        let c = self.get("count").wrapping_add(count);
        let b = self.get("bytes").wrapping_add(bytes);
        self.0.insert("count".into(), c);
        self.0.insert("bytes".into(), b);
    }

    /// `count=N,bytes=M`, then `=;key=value...` for other keys in sorted order.
    pub(crate) fn render(&self) -> String {
        let mut out = format!("count={},bytes={}", self.get("count"), self.get("bytes"));
        let extra: Vec<_> = self
            .0
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "bytes")
            .collect();
        if !extra.is_empty() {
            out.push('=');
            for (k, v) in extra {
                out.push_str(&format!(";{k}={v}"));
            }
        }
        out
    }
}

impl DataTree {
    /// `getMaxPrefixWithQuota`: the deepest registered quota root that is a prefix of `path`.
    pub(crate) fn max_quota_prefix(&self, path: &str) -> Option<String> {
        if self.quotas.is_empty() {
            return None;
        }
        let norm = normalize(path);
        let mut cut = norm.len();
        loop {
            let cand = &norm[..cut];
            if cand.is_empty() {
                return None;
            }
            if self.quotas.contains(cand) {
                return Some(cand.to_string());
            }
            cut = cand.rfind('/').unwrap_or(0);
        }
    }

    /// `updateQuotaStat`: adds to the counters of the quota root `prefix`.
    pub(crate) fn update_quota_stat(&mut self, prefix: &str, bytes: i64, count: i64) {
        let stat_path = format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}");
        self.change(&stat_path, |n| {
            let mut st = StatsTrack::parse(n.data().unwrap_or(&[]));
            st.add(count, bytes);
            n.set_data(Some(st.render().as_bytes()));
        });
    }

    /// `updateQuotaForPath`: recounts the subtree at `real` into its stats node.
    pub(crate) fn update_quota_for_path(&mut self, real: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack: Vec<&super::DataNode> = self.nodes.get(real).into_iter().collect();
        while let Some(n) = stack.pop() {
            count += 1;
            bytes += i64::from(n.data_len());
            stack.extend(self.nodes.children_of(n));
        }
        let stat_path = format!("{QUOTA_ROOT}{real}/{STAT_NODE}");
        let data = format!("count={count},bytes={bytes}");
        self.change(&stat_path, |n| n.set_data(Some(data.as_bytes())));
    }

    /// Quota side effects of creating `path` (child `child` of `parent_key`) with `len` bytes.
    pub(crate) fn quota_on_create(&mut self, path: &str, parent_key: &str, child: &str, len: i64) {
        if let Some(real) = parent_key.strip_prefix(QUOTA_ROOT) {
            if !real.is_empty() {
                if child == LIMIT_NODE {
                    let norm = normalize(real);
                    if !norm.is_empty() {
                        self.quotas.insert(norm);
                    }
                }
                if child == STAT_NODE {
                    self.update_quota_for_path(real);
                }
            }
        }
        if let Some(prefix) = self.max_quota_prefix(path) {
            self.update_quota_stat(&prefix, len, 1);
        }
    }

    /// Quota side effects of deleting `path` that held `len` bytes.
    pub(crate) fn quota_on_delete(&mut self, path: &str, parent_key: &str, child: &str, len: i64) {
        if child == LIMIT_NODE {
            if let Some(real) = parent_key.strip_prefix(QUOTA_ROOT) {
                self.quotas.remove(&normalize(real));
            }
        }
        if let Some(prefix) = self.max_quota_prefix(path) {
            self.update_quota_stat(&prefix, -len, -1);
        }
    }

    /// `setupQuota` after a snapshot load: every leaf `.../zookeeper_limits` under the quota root
    /// registers its real path, whose stats node is recounted.
    pub(crate) fn setup_quota(&mut self) {
        let marker = format!("/{LIMIT_NODE}");
        let mut leaves = Vec::new();
        let mut stack = vec![QUOTA_ROOT.to_string()];
        while let Some(p) = stack.pop() {
            let Some(n) = self.nodes.get(p.as_str()) else {
                continue;
            };
            if n.num_children() == 0 {
                if p.ends_with(&marker) {
                    leaves.push(p);
                }
            } else {
                stack.extend(self.nodes.child_names(n).map(|c| format!("{p}/{c}")));
            }
        }
        for p in leaves {
            let end = p.find(&marker).unwrap_or(QUOTA_ROOT.len());
            let real = p.get(QUOTA_ROOT.len()..end).unwrap_or("").to_string();
            let norm = normalize(&real);
            if real.is_empty() || norm.is_empty() {
                continue;
            }
            self.update_quota_for_path(&real);
            self.quotas.insert(norm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_format() {
        let mut s = StatsTrack::parse(b"count=3,bytes=10");
        s.add(1, -4);
        assert_eq!(s.render(), "count=4,bytes=6");
        let s = StatsTrack::parse(b"count=1,bytes=2=;countHardLimit=5;byteHardLimit==7");
        assert_eq!(
            s.render(),
            "count=1,bytes=2=;byteHardLimit=-1;countHardLimit=5"
        );
        // Java would throw on a pair without a value; it is skipped.
        assert_eq!(
            StatsTrack::parse(b"count=1,bytes=").render(),
            "count=1,bytes=-1"
        );
        assert_eq!(StatsTrack::parse(b"").render(), "count=-1,bytes=-1");
        assert_eq!(
            StatsTrack::parse(b",junk;x=y;count=2").render(),
            "count=2,bytes=-1"
        );
        assert_eq!(normalize("/a// /b/"), "/a/b");
        assert_eq!(normalize("/"), "");
    }
}
