//! The voting configuration (Java `QuorumMaj`): who votes, who observes, what a majority is, and the
//! config string every notification carries.
//!
//! The string must be byte-identical to what a Java node sends (`QuorumMaj.toString`), because Java
//! peers parse it on every notification and a malformed one can hurt their receiver thread.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use thiserror::Error;

use crate::handshake::format_host_port;
use crate::vote::Sid;

/// Role of a configured server (`LearnerType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LearnerRole {
    /// Votes in elections and in ZAB quorums.
    Participant,
    /// Receives the stream but never votes.
    Observer,
}

impl LearnerRole {
    fn as_str(self) -> &'static str {
        match self {
            LearnerRole::Participant => "participant",
            LearnerRole::Observer => "observer",
        }
    }
}

/// One `host:quorumPort:electionPort` group of a server line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerAddress {
    /// Configured host string, IPv6 without brackets.
    pub host: String,
    /// ZAB port (2888).
    pub quorum_port: u16,
    /// Election port (3888).
    pub election_port: u16,
}

/// Client address given in a server line after `;`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddress {
    /// Host; `0.0.0.0` when the line gave only a port.
    pub host: String,
    /// Client port.
    pub port: u16,
}

/// One member of the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QuorumMember {
    /// Server id.
    pub sid: Sid,
    /// One or more address groups (several only with multi-address).
    pub addresses: Vec<ServerAddress>,
    /// Participant or observer.
    pub role: LearnerRole,
    /// Client address, only when it was written in the server line itself (Java omits one that came
    /// from `clientPort`).
    pub client: Option<ClientAddress>,
}

/// Errors from building or parsing a configuration.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A member line did not parse.
    #[error("bad server line for sid {sid}: {reason}")]
    BadServer {
        /// Sid of the line.
        sid: String,
        /// What was wrong.
        reason: String,
    },
    /// `version=` was not hexadecimal.
    #[error("bad version {0:?}")]
    BadVersion(String),
    /// Hierarchical quorums (`group.*`/`weight.*`) are not supported.
    #[error("hierarchical quorums (group./weight. keys) are not supported")]
    Hierarchical,
    /// Two members with one sid.
    #[error("duplicate sid {0}")]
    DuplicateSid(Sid),
    /// A member without any address.
    #[error("member {0} has no address")]
    NoAddress(Sid),
}

/// Majority-quorum configuration, ordered by sid for deterministic iteration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumVerifier {
    members: BTreeMap<Sid, QuorumMember>,
    version: i64,
}

impl QuorumVerifier {
    /// Builds a configuration; sids must be unique and every member needs an address.
    pub fn new(members: Vec<QuorumMember>, version: i64) -> Result<Self, ConfigError> {
        let mut map = BTreeMap::new();
        for m in members {
            if m.addresses.is_empty() {
                return Err(ConfigError::NoAddress(m.sid));
            }
            let sid = m.sid;
            if map.insert(sid, m).is_some() {
                return Err(ConfigError::DuplicateSid(sid));
            }
        }
        Ok(QuorumVerifier {
            members: map,
            version,
        })
    }

    /// Config version (zxid of the reconfig that made it; 0 for a static config).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// All members by sid.
    pub fn members(&self) -> impl Iterator<Item = &QuorumMember> {
        self.members.values()
    }

    /// One member.
    pub fn member(&self, sid: Sid) -> Option<&QuorumMember> {
        self.members.get(&sid)
    }

    /// Voting sids, ascending.
    pub fn voters(&self) -> impl Iterator<Item = Sid> + '_ {
        self.members
            .values()
            .filter(|m| m.role == LearnerRole::Participant)
            .map(|m| m.sid)
    }

    /// Number of voting members.
    pub fn voter_count(&self) -> usize {
        self.voters().count()
    }

    /// True if `sid` is a participant (Java `validVoter` / weight ≠ 0).
    pub fn is_voter(&self, sid: Sid) -> bool {
        self.members
            .get(&sid)
            .is_some_and(|m| m.role == LearnerRole::Participant)
    }

    /// Majority test: more than half of the voting members are in `acks` (non-voters are ignored).
    pub fn contains_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a Sid>) -> bool {
        let distinct: BTreeSet<Sid> = acks
            .into_iter()
            .copied()
            .filter(|s| self.is_voter(*s))
            .collect();
        distinct.len() > self.voter_count() / 2
    }

    /// True if every voting member is in `acks` (used by the safe-bootstrap rule).
    pub fn contains_all_voters<'a>(&self, acks: impl IntoIterator<Item = &'a Sid>) -> bool {
        let distinct: BTreeSet<Sid> = acks.into_iter().copied().collect();
        self.voters().all(|v| distinct.contains(&v))
    }

    /// Java's `QuorumMaj.toString`, byte for byte: one `server.<sid>=…\n` line per member, then
    /// `version=<hex>` without a trailing newline.
    ///
    /// Members appear in Java `HashMap<Long, _>` iteration order, which is ascending for sids smaller
    /// than the table size (≥ 16) and otherwise follows bucket order; see [`java_hashmap_order`].
    pub fn config_string(&self) -> String {
        let mut s = String::new();
        for sid in java_hashmap_order(self.members.keys().copied()) {
            let Some(m) = self.members.get(&sid) else {
                continue;
            };
            let _ = write!(s, "server.{sid}=");
            let mut addrs: Vec<&ServerAddress> = m.addresses.iter().collect();
            // Java sorts multi-address groups by host string before joining them.
            addrs.sort_by(|a, b| a.host.cmp(&b.host));
            for (i, a) in addrs.iter().enumerate() {
                if i > 0 {
                    s.push('|');
                }
                let _ = write!(
                    s,
                    "{}:{}",
                    format_host_port(&a.host, a.quorum_port),
                    a.election_port
                );
            }
            s.push(':');
            s.push_str(m.role.as_str());
            if let Some(c) = &m.client {
                s.push(';');
                s.push_str(&format_host_port(&c.host, c.port));
            }
            s.push('\n');
        }
        let _ = write!(s, "version={:x}", self.version as u64);
        s
    }

    /// Parses a config string (the Properties text of a notification, NEWLEADER or a dynamic config
    /// file). Accepts what [`QuorumVerifier::config_string`] writes plus the usual zoo.cfg server-line
    /// forms (`;clientPort` only, missing role = participant). Unknown keys are ignored like Java;
    /// Properties escapes and line continuations are not supported.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut members: BTreeMap<Sid, QuorumMember> = BTreeMap::new();
        let mut version = 0i64;
        for line in text.split(['\n', '\r']) {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let key_end = line
                .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
                .unwrap_or(line.len());
            let key = &line[..key_end];
            let mut rest = line[key_end..].trim_start();
            if let Some(r) = rest.strip_prefix(['=', ':']) {
                rest = r.trim_start();
            }
            if key.starts_with("group") || key.starts_with("weight") {
                return Err(ConfigError::Hierarchical);
            }
            if let Some(sid_text) = key.strip_prefix("server.") {
                let sid: Sid = sid_text.parse().map_err(|_| ConfigError::BadServer {
                    sid: sid_text.to_string(),
                    reason: "sid is not a number".into(),
                })?;
                // A later line for the same sid replaces the earlier one, as in a Properties map.
                members.insert(sid, parse_server(sid, rest.trim_end())?);
            } else if key == "version" {
                version = parse_hex_version(rest.trim_end())?;
            }
        }
        QuorumVerifier::new(members.into_values().collect(), version)
    }
}

/// Java `Long.parseLong(v, 16)`, also accepting the 16-digit two's-complement form that
/// `Long.toHexString` prints for negative versions (which Java itself could not read back).
fn parse_hex_version(v: &str) -> Result<i64, ConfigError> {
    i64::from_str_radix(v, 16)
        .or_else(|_| u64::from_str_radix(v, 16).map(|u| u as i64))
        .map_err(|_| ConfigError::BadVersion(v.to_string()))
}

fn parse_server(sid: Sid, value: &str) -> Result<QuorumMember, ConfigError> {
    let bad = |reason: &str| ConfigError::BadServer {
        sid: sid.to_string(),
        reason: reason.to_string(),
    };
    let mut parts = value.split(';');
    let server_part = parts.next().unwrap_or_default();
    let client_part = parts.next();
    if parts.next().is_some() {
        return Err(bad("more than one ';'"));
    }
    let client = match client_part {
        None => None,
        Some(c) => {
            let pieces = split_host_parts(c.trim()).ok_or_else(|| bad("bad client address"))?;
            match pieces.as_slice() {
                [port] => Some(ClientAddress {
                    host: "0.0.0.0".into(),
                    port: port.parse().map_err(|_| bad("bad client port"))?,
                }),
                [host, port] => Some(ClientAddress {
                    host: host.to_string(),
                    port: port.parse().map_err(|_| bad("bad client port"))?,
                }),
                _ => return Err(bad("bad client address")),
            }
        }
    };
    let mut role = LearnerRole::Participant;
    let mut addresses = Vec::new();
    for group in server_part.trim().split('|') {
        let pieces = split_host_parts(group).ok_or_else(|| bad("bad address"))?;
        let (host, qp, ep, r) = match pieces.as_slice() {
            [h, q, e] => (*h, *q, *e, None),
            [h, q, e, r] => (*h, *q, *e, Some(*r)),
            _ => return Err(bad("expected host:quorumPort:electionPort[:role]")),
        };
        if let Some(r) = r {
            role = match r.to_ascii_lowercase().as_str() {
                "participant" => LearnerRole::Participant,
                "observer" => LearnerRole::Observer,
                _ => return Err(bad("role must be participant or observer")),
            };
        }
        let quorum_port = qp.parse().map_err(|_| bad("bad quorum port"))?;
        let election_port = ep.parse().map_err(|_| bad("bad election port"))?;
        if quorum_port == election_port {
            return Err(bad("quorum and election port must differ"));
        }
        addresses.push(ServerAddress {
            host: host.to_string(),
            quorum_port,
            election_port,
        });
    }
    Ok(QuorumMember {
        sid,
        addresses,
        role,
        client,
    })
}

/// Splits `host:a:b…` on `:`, treating a leading `[ipv6]` as one piece (brackets removed).
fn split_host_parts(s: &str) -> Option<Vec<&str>> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let mut v = vec![host];
        if !after.is_empty() {
            v.extend(after.strip_prefix(':')?.split(':'));
        }
        Some(v)
    } else {
        Some(s.split(':').collect())
    }
}

/// Iteration order of a Java `HashMap<Long, _>` filled with `sids` (default capacity 16, load factor
/// 0.75): by bucket `spread(Long.hashCode(sid)) & (capacity - 1)`, ties in ascending sid (Java keeps
/// insertion order inside a bucket; ascending insertion is assumed).
pub fn java_hashmap_order(sids: impl IntoIterator<Item = Sid>) -> Vec<Sid> {
    let mut sids: Vec<Sid> = sids.into_iter().collect();
    sids.sort_unstable();
    sids.dedup();
    let mut capacity: usize = 16;
    while sids.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |sid: Sid| {
        let v = sid as u64;
        let h = (v ^ (v >> 32)) as u32;
        let spread = h ^ (h >> 16);
        (spread as usize) & (capacity - 1)
    };
    sids.sort_by_key(|s| (bucket(*s), *s));
    sids
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = "server.1=127.0.0.1:52888:53888:participant\n\
                            server.2=127.0.0.1:52889:53889:participant\n\
                            server.3=127.0.0.1:52890:53890:participant\n\
                            version=0";

    pub(crate) fn member(sid: Sid, role: LearnerRole) -> QuorumMember {
        QuorumMember {
            sid,
            addresses: vec![ServerAddress {
                host: "127.0.0.1".into(),
                quorum_port: 52887 + sid as u16,
                election_port: 53887 + sid as u16,
            }],
            role,
            client: None,
        }
    }

    #[test]
    fn captured_string_round_trips() {
        let qv = QuorumVerifier::parse(CAPTURED).expect("parses");
        assert_eq!(qv.voter_count(), 3);
        assert_eq!(qv.config_string(), CAPTURED);
        let built = QuorumVerifier::new(
            (1..=3)
                .map(|s| member(s, LearnerRole::Participant))
                .collect(),
            0,
        )
        .expect("valid");
        assert_eq!(built.config_string(), CAPTURED);
        assert_eq!(built, qv);
    }

    #[test]
    fn observer_client_ipv6_multi_address_and_hex_version() {
        let text = "server.1=zk1:2888:3888:participant;0.0.0.0:2181\n\
                    server.2=[fe80::1]:2888:3888:observer;[::1]:2182\n\
                    server.3=b.example:2888:3888|a.example:2889:3889:participant\n\
                    version=10000000a";
        let qv = QuorumVerifier::parse(text).expect("parses");
        assert!(qv.is_voter(1) && !qv.is_voter(2) && qv.is_voter(3));
        assert_eq!(qv.version(), 0x1_0000_000a);
        let out = qv.config_string();
        assert_eq!(
            out,
            "server.1=zk1:2888:3888:participant;0.0.0.0:2181\n\
             server.2=[fe80::1]:2888:3888:observer;[::1]:2182\n\
             server.3=a.example:2889:3889|b.example:2888:3888:participant\n\
             version=10000000a"
        );
        assert_eq!(
            QuorumVerifier::parse(&out)
                .expect("reparse")
                .config_string(),
            out
        );
    }

    #[test]
    fn zoo_cfg_style_lines() {
        let qv = QuorumVerifier::parse(
            "# comment\nserver.1 = h1:2888:3888;2181\nserver.2=h2:2888:3888\nfoo=bar\n",
        )
        .expect("parses");
        let m1 = qv.member(1).expect("1");
        assert_eq!(
            m1.client,
            Some(ClientAddress {
                host: "0.0.0.0".into(),
                port: 2181
            })
        );
        assert_eq!(qv.member(2).expect("2").role, LearnerRole::Participant);
        assert_eq!(qv.version(), 0);
    }

    #[test]
    fn parse_errors() {
        assert!(QuorumVerifier::parse("server.x=h:1:2").is_err());
        assert!(QuorumVerifier::parse("server.1=h:1").is_err());
        assert!(QuorumVerifier::parse("server.1=h:1:1").is_err());
        assert!(QuorumVerifier::parse("server.1=h:1:2:leader").is_err());
        assert!(QuorumVerifier::parse("server.1=h:1:2;a;b").is_err());
        assert!(QuorumVerifier::parse("version=zz").is_err());
        assert_eq!(
            QuorumVerifier::parse("group.1=1:2"),
            Err(ConfigError::Hierarchical)
        );
    }

    #[test]
    fn negative_version_prints_like_java_to_hex_string() {
        let qv = QuorumVerifier::new(vec![member(1, LearnerRole::Participant)], -1).expect("ok");
        assert!(qv.config_string().ends_with("version=ffffffffffffffff"));
        assert_eq!(
            QuorumVerifier::parse(&qv.config_string())
                .expect("lenient")
                .version(),
            -1
        );
    }

    #[test]
    fn majority_counts_only_distinct_voters() {
        let qv = QuorumVerifier::new(
            vec![
                member(1, LearnerRole::Participant),
                member(2, LearnerRole::Participant),
                member(3, LearnerRole::Participant),
                member(4, LearnerRole::Participant),
                member(5, LearnerRole::Observer),
            ],
            0,
        )
        .expect("ok");
        assert!(!qv.contains_quorum(&[1, 2]));
        assert!(!qv.contains_quorum(&[1, 2, 5, 9]));
        assert!(!qv.contains_quorum(&[1, 1, 2]));
        assert!(qv.contains_quorum(&[1, 2, 3]));
        assert!(qv.contains_all_voters(&[1, 2, 3, 4]));
        assert!(!qv.contains_all_voters(&[1, 2, 3, 5]));
    }

    #[test]
    fn hashmap_order() {
        assert_eq!(java_hashmap_order([3, 1, 2]), vec![1, 2, 3]);
        // 17 lands in bucket 1 of a 16-slot table, next to 1.
        assert_eq!(java_hashmap_order([1, 2, 17]), vec![1, 17, 2]);
        // 13 entries force a resize to 32 slots: then 17 sorts after 16.
        let many: Vec<Sid> = (1..=12).chain([17]).collect();
        assert_eq!(java_hashmap_order(many.clone()), {
            let mut v = many;
            v.sort_unstable();
            v
        });
    }
}
