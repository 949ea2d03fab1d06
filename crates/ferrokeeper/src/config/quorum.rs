//! `server.N`, `group.N`, `weight.N` and `version` keys: the quorum membership.
//!
//! Parsed with the rules of ZooKeeper 3.9's `QuorumPeer.QuorumServer` and
//! `QuorumMaj`/`QuorumHierarchical`, so that any ensemble description a Java node accepts is
//! accepted here with the same meaning, and so that [`QuorumConfig::to_config_string`]
//! produces the byte-identical string Java nodes exchange during election (§4.3).
//!
//! Line format: `host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
//! with `[v6]` hosts and, when multi-address is enabled, several `host:q:e` groups
//! separated by `|`.

use std::collections::BTreeMap;
use std::fmt;

use super::error::{ConfigError, ConfigWarning, Location};
use super::myid::{parse_java_int, parse_java_long};
use super::properties::{java_trim, Properties};

/// Role of a member in the ensemble (Java `LearnerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerType {
    /// Votes in elections and proposals.
    Participant,
    /// Receives the stream but never votes.
    Observer,
}

impl LearnerType {
    /// Parses `participant`/`observer` case-insensitively (after trimming), as Java does.
    pub fn parse(s: &str) -> Option<LearnerType> {
        match java_trim(s).to_ascii_lowercase().as_str() {
            "participant" => Some(LearnerType::Participant),
            "observer" => Some(LearnerType::Observer),
            _ => None,
        }
    }

    /// Lower-case name used in config strings.
    pub fn as_str(self) -> &'static str {
        match self {
            LearnerType::Participant => "participant",
            LearnerType::Observer => "observer",
        }
    }
}

impl fmt::Display for LearnerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host (name or literal, unresolved) and port; `host: None` means "all interfaces".
///
/// Java keeps `InetSocketAddress`es; we keep the text so the config string round-trips and
/// defer DNS resolution to bind/connect time (Kubernetes names often resolve late).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP literal without brackets; `None` = wildcard.
    pub host: Option<String>,
    /// TCP port.
    pub port: u16,
}

impl HostPort {
    /// A wildcard (all interfaces) address.
    pub fn any(port: u16) -> Self {
        Self { host: None, port }
    }

    /// An address with an explicit host.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: Some(host.to_string()),
            port,
        }
    }

    /// True for the wildcard (`None`, `0.0.0.0`, `::`), like `isAnyLocalAddress`.
    pub fn is_wildcard(&self) -> bool {
        match self.host.as_deref() {
            None => true,
            Some(h) => h
                .parse::<std::net::IpAddr>()
                .map(|ip| ip.is_unspecified())
                .unwrap_or(false),
        }
    }

    /// Host as Java's `getHostString` would print it (`0.0.0.0` for the wildcard).
    pub fn host_string(&self) -> &str {
        self.host.as_deref().unwrap_or("0.0.0.0")
    }

    /// `host:port` with IPv6 literals in brackets; suitable for `TcpListener::bind`.
    pub fn to_socket_string(&self) -> String {
        format!("{}:{}", delimited_host(self.host_string()), self.port)
    }

    /// Equality as `InetSocketAddress.equals` would see it: same port and same host text,
    /// or both hosts resolving to the same first address.
    pub fn same_address(&self, other: &HostPort) -> bool {
        if self.port != other.port {
            return false;
        }
        if self.host_string() == other.host_string() {
            return true;
        }
        use std::net::ToSocketAddrs;
        let a = self
            .to_socket_string()
            .to_socket_addrs()
            .ok()
            .and_then(|mut i| i.next());
        let b = other
            .to_socket_string()
            .to_socket_addrs()
            .ok()
            .and_then(|mut i| i.next());
        matches!((a, b), (Some(a), Some(b)) if a == b)
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_socket_string())
    }
}

/// The host text Java prints for a configured host (`InetSocketAddress.getHostString`).
///
/// Java keeps host *names* as written but prints IP *literals* in its own canonical form:
/// IPv6 fully expanded with lower-case hex groups and no `::` compression (`::1` becomes
/// `0:0:0:0:0:0:0:1`), IPv4-mapped IPv6 as plain IPv4. Config strings exchanged with Java
/// peers must match byte for byte, so we do the same.
pub fn java_host_string(host: &str) -> String {
    if let Ok(v6) = host.parse::<std::net::Ipv6Addr>() {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return v4.to_string();
        }
        return v6
            .segments()
            .iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join(":");
    }
    if let Ok(v4) = host.parse::<std::net::Ipv4Addr>() {
        return v4.to_string();
    }
    host.to_string()
}

/// Wraps IPv6 literals in brackets (Java `QuorumServer.delimitedHostString`).
pub fn delimited_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// One `host:quorumPort:electionPort` group of a server line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumAddress {
    /// Host name or literal (brackets removed).
    pub host: String,
    /// ZAB port (2888 by convention).
    pub quorum_port: u16,
    /// Leader election port (3888 by convention).
    pub election_port: u16,
}

/// A parsed `server.N` entry (Java `QuorumPeer.QuorumServer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    /// The server id (`N`).
    pub id: i64,
    /// One or more (multi-address) quorum/election address pairs, in line order.
    pub addresses: Vec<QuorumAddress>,
    /// Participant or observer.
    pub learner_type: LearnerType,
    /// Client address from the `;` part, or copied from `clientPort` for our own id.
    pub client_addr: Option<HostPort>,
    /// True when `client_addr` was filled from the static `clientPort` (then it is not
    /// printed in the config string, like Java).
    pub client_addr_from_static: bool,
    /// Where the line was read.
    pub location: Option<Location>,
}

const WRONG_FORMAT: &str = " does not have the form server_config or server_config;client_config \
where server_config is the pipe separated list of host:port:port or host:port:port:type \
and client_config is port or host:port";

/// Java's `String.split` with a literal one-char separator: trailing empty strings removed.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut v: Vec<&str> = s.split(sep).collect();
    if v.len() == 1 {
        return v;
    }
    while v.last() == Some(&"") {
        v.pop();
    }
    v
}

/// `ConfigUtils.getHostAndPort`: splits `host:a:b` or `[v6]:a:b` into parts.
pub fn get_host_and_port(s: &str) -> Result<Vec<String>, String> {
    if let Some(stripped) = s.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            return Err(format!("{s} starts with '[' but has no matching ']:'"));
        };
        let host = &stripped[..close];
        // Java skips exactly one character after ']' (normally the ':').
        let mut after = stripped[close + 1..].chars();
        match after.next() {
            None => return Ok(vec![s.replace(['[', ']'], "")]),
            Some(_) if after.as_str().is_empty() => {
                return Err(format!("{s} doesn't have a port after colon"));
            }
            Some(_) => {
                let mut out = vec![host.to_string()];
                out.extend(
                    java_split(after.as_str(), ':')
                        .into_iter()
                        .map(String::from),
                );
                return Ok(out);
            }
        }
    }
    Ok(java_split(s, ':').into_iter().map(String::from).collect())
}

fn parse_port(host: &str, text: &str) -> Result<u16, String> {
    let Some(p) = parse_java_int(text) else {
        return Err(format!("Address unresolved: {host}:{text}"));
    };
    u16::try_from(p).map_err(|_| format!("port out of range:{p}"))
}

impl QuorumServer {
    /// Parses the value of `server.<id>` (3.9 rules); the error text mirrors Java's.
    pub fn parse(id: i64, spec: &str, multi_address_enabled: bool) -> Result<Self, String> {
        let server_client = java_split(spec, ';');
        if server_client.is_empty() {
            return Err(format!("{spec}{WRONG_FORMAT}"));
        }
        if server_client.len() > 2 {
            return Err(format!("{spec}{WRONG_FORMAT}"));
        }
        let mut client_addr = None;
        if server_client.len() == 2 {
            let parts = get_host_and_port(server_client[1])?;
            if parts.len() > 2 {
                return Err(format!("{spec}{WRONG_FORMAT}"));
            }
            let host = if parts.len() == 2 {
                &parts[0]
            } else {
                "0.0.0.0"
            };
            let port_text = parts.last().map(String::as_str).unwrap_or("");
            let port = parse_port(host, port_text)?;
            client_addr = Some(if parts.len() == 2 {
                HostPort::new(host, port)
            } else {
                HostPort::any(port)
            });
        }
        let groups = java_split(server_client[0], '|');
        if !multi_address_enabled && groups.len() > 1 {
            return Err(format!(
                "Multiple address feature is disabled, but multiple addresses were specified for sid {id}"
            ));
        }
        let mut addresses = Vec::new();
        let mut role: Option<LearnerType> = None;
        for group in groups {
            let parts = get_host_and_port(group)?;
            if parts.len() < 3 || parts.len() > 4 {
                return Err(format!("{spec}{WRONG_FORMAT}"));
            }
            let host = parts[0].clone();
            let quorum_port = parse_port(&host, &parts[1])?;
            let election_port = parse_port(&host, &parts[2])?;
            if quorum_port == election_port {
                return Err(format!(
                    "Client and election port must be different! Please update the configuration file on server.{id}"
                ));
            }
            if parts.len() == 4 {
                let t = LearnerType::parse(&parts[3])
                    .ok_or_else(|| format!("Unrecognised peertype: {}", parts[3]))?;
                match role {
                    None => role = Some(t),
                    Some(r) if r != t => {
                        return Err(format!(
                            "Multiple addresses should have similar roles: {r} vs {t}"
                        ))
                    }
                    Some(_) => {}
                }
            }
            addresses.push(QuorumAddress {
                host,
                quorum_port,
                election_port,
            });
        }
        Ok(QuorumServer {
            id,
            addresses,
            learner_type: role.unwrap_or(LearnerType::Participant),
            client_addr,
            client_addr_from_static: false,
            location: None,
        })
    }

    /// The value part exactly as Java's `QuorumServer.toString()` prints it.
    ///
    /// Addresses are sorted by host text (Java sorts both lists independently by host), the
    /// role is always printed, the client part only when it came from the server line.
    pub fn to_config_value(&self) -> String {
        let mut q: Vec<(String, u16)> = self
            .addresses
            .iter()
            .map(|a| (java_host_string(&a.host), a.quorum_port))
            .collect();
        let mut e: Vec<(String, u16)> = self
            .addresses
            .iter()
            .map(|a| (java_host_string(&a.host), a.election_port))
            .collect();
        q.sort_by(|a, b| a.0.cmp(&b.0));
        e.sort_by(|a, b| a.0.cmp(&b.0));
        let mut s = q
            .iter()
            .zip(e.iter())
            .map(|((h, qp), (_, ep))| format!("{}:{}:{}", delimited_host(h), qp, ep))
            .collect::<Vec<_>>()
            .join("|");
        s.push(':');
        s.push_str(self.learner_type.as_str());
        if let (Some(c), false) = (&self.client_addr, self.client_addr_from_static) {
            s.push(';');
            s.push_str(&delimited_host(&java_host_string(c.host_string())));
            s.push(':');
            s.push_str(&c.port.to_string());
        }
        s
    }

    /// The first (primary) address pair.
    pub fn primary(&self) -> Option<&QuorumAddress> {
        self.addresses.first()
    }
}

/// The ensemble description (Java `QuorumVerifier`: `QuorumMaj` or `QuorumHierarchical`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumConfig {
    /// All members by id (participants and observers).
    pub servers: BTreeMap<i64, QuorumServer>,
    /// `group.G=sid:sid:…`, present only for hierarchical quorums.
    pub groups: BTreeMap<i64, Vec<i64>>,
    /// `weight.SID=w` (participants without an entry get weight 1 when hierarchical).
    pub weights: BTreeMap<i64, i64>,
    /// Config version (hex in files, from the dynamic file name or a `version` key).
    pub version: i64,
    /// True when any `group*`/`weight*` key was present.
    pub hierarchical: bool,
}

/// Options that influence membership parsing.
#[derive(Debug, Clone, Copy)]
pub struct QuorumParseOptions {
    /// `standaloneEnabled` (affects the 0/1-participant rules).
    pub standalone_enabled: bool,
    /// Multi-address (`|`) allowed.
    pub multi_address_enabled: bool,
    /// True when parsing zoo.cfg itself (other keys allowed); false for a dynamic file.
    pub backward_compatibility: bool,
    /// Emit the "you need at least 3 servers" style warnings.
    pub warnings: bool,
    /// Apply the participant/observer count rules (`parseDynamicConfig`); Java skips them
    /// for `<cfg>.dynamic.next`, which it reads with the plain verifier constructor.
    pub membership_checks: bool,
}

impl QuorumConfig {
    /// Parses membership keys from a properties table (Java `parseDynamicConfig`).
    pub fn parse(
        props: &Properties,
        file: &str,
        opts: QuorumParseOptions,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Self, ConfigError> {
        let mut qc = QuorumConfig::default();
        let mut server_group: BTreeMap<i64, i64> = BTreeMap::new();
        for e in props.iter() {
            let key = java_trim(&e.key);
            // Java hands the *untrimmed* value to QuorumMaj/QuorumHierarchical, so trailing
            // whitespace breaks a server line there; we reject it the same way.
            let value = e.value.as_str();
            let loc = Location::line(file, e.line);
            let bad = |reason: String| {
                let hint = if value != java_trim(value) {
                    " (note: the value ends with whitespace, which ZooKeeper does not trim here)"
                } else {
                    ""
                };
                ConfigError::InvalidValue {
                    key: key.to_string(),
                    value: value.to_string(),
                    location: loc.clone(),
                    reason: format!("{reason}{hint}"),
                }
            };
            if key.starts_with("group") || key.starts_with("weight") {
                qc.hierarchical = true;
            } else if !opts.backward_compatibility
                && !key.starts_with("server.")
                && key != "version"
            {
                return Err(ConfigError::Invalid {
                    key: Some(key.to_string()),
                    location: loc,
                    message: format!("Unrecognised parameter: {key}"),
                });
            }
            if let Some(id_text) = key.strip_prefix("server.") {
                let id = parse_java_long(id_text)
                    .ok_or_else(|| bad(format!("server id '{id_text}' is not a number")))?;
                let mut qs =
                    QuorumServer::parse(id, value, opts.multi_address_enabled).map_err(bad)?;
                qs.location = Some(loc.clone());
                qc.servers.insert(id, qs);
            } else if key.starts_with("group") {
                let gid_text = key.split_once('.').map(|(_, r)| r).unwrap_or("");
                let gid = parse_java_long(gid_text)
                    .ok_or_else(|| bad(format!("group id '{gid_text}' is not a number")))?;
                let mut members = Vec::new();
                for s in java_split(value, ':') {
                    let sid = parse_java_long(s)
                        .ok_or_else(|| bad(format!("server id '{s}' is not a number")))?;
                    if server_group.insert(sid, gid).is_some() {
                        return Err(ConfigError::Invalid {
                            key: Some(key.to_string()),
                            location: loc.clone(),
                            message: format!("Server {sid} is in multiple groups"),
                        });
                    }
                    members.push(sid);
                }
                qc.groups.insert(gid, members);
            } else if key.starts_with("weight") {
                let sid_text = key.split_once('.').map(|(_, r)| r).unwrap_or("");
                let sid = parse_java_long(sid_text)
                    .ok_or_else(|| bad(format!("server id '{sid_text}' is not a number")))?;
                let w = parse_java_long(value)
                    .ok_or_else(|| bad("weight is not a number".to_string()))?;
                qc.weights.insert(sid, w);
            } else if key == "version" {
                qc.version = i64::from_str_radix(value, 16)
                    .map_err(|_| bad("version must be a hexadecimal number".to_string()))?;
            }
        }
        if qc.hierarchical {
            for qs in qc.servers.values() {
                if qs.learner_type == LearnerType::Participant {
                    if !server_group.contains_key(&qs.id) {
                        return Err(ConfigError::Invalid {
                            key: Some(format!("server.{}", qs.id)),
                            location: qs.location.clone().unwrap_or_else(|| Location::file(file)),
                            message: format!("Server {} is not in a group", qs.id),
                        });
                    }
                    qc.weights.entry(qs.id).or_insert(1);
                }
            }
        }
        let participants = qc.voting_members().count();
        let observers = qc.observers().count();
        let whole = Location::file(file);
        if !opts.membership_checks {
            return Ok(qc);
        }
        if participants == 0 {
            if !opts.standalone_enabled {
                return Err(ConfigError::Invalid {
                    key: Some("standaloneEnabled".into()),
                    location: whole,
                    message: "standaloneEnabled = false then number of participants should be >0"
                        .into(),
                });
            }
            if observers > 0 {
                return Err(ConfigError::Invalid {
                    key: None,
                    location: whole,
                    message: "Observers w/o participants is an invalid configuration".into(),
                });
            }
        } else if participants == 1 && opts.standalone_enabled {
            warnings.push(ConfigWarning {
                location: Some(whole.clone()),
                key: None,
                message: "Invalid configuration, only one server specified (ignoring)".into(),
            });
            if observers > 0 {
                return Err(ConfigError::Invalid {
                    key: None,
                    location: whole,
                    message: "Observers w/o quorum is an invalid configuration".into(),
                });
            }
        } else if opts.warnings {
            if participants <= 2 {
                warnings.push(ConfigWarning {
                    location: Some(whole),
                    key: None,
                    message: "No server failure will be tolerated. You need at least 3 servers."
                        .into(),
                });
            } else if participants % 2 == 0 {
                warnings.push(ConfigWarning {
                    location: Some(whole),
                    key: None,
                    message: "Non-optimal configuration, consider an odd number of servers.".into(),
                });
            }
        }
        Ok(qc)
    }

    /// Voting members (participants), ascending id.
    pub fn voting_members(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers
            .values()
            .filter(|s| s.learner_type == LearnerType::Participant)
    }

    /// Observers, ascending id.
    pub fn observers(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers
            .values()
            .filter(|s| s.learner_type == LearnerType::Observer)
    }

    /// The config string Java sends in election notifications and writes to
    /// `zoo.cfg.dynamic.*` (`QuorumMaj`/`QuorumHierarchical.toString`), no trailing newline.
    ///
    /// Members are in ascending id order (what Java's `HashMap<Long,…>` yields for the
    /// small non-negative ids used in practice).
    pub fn to_config_string(&self) -> String {
        let mut s = String::new();
        for m in self.servers.values() {
            s.push_str(&format!("server.{}={}\n", m.id, m.to_config_value()));
        }
        if self.hierarchical {
            for (gid, members) in &self.groups {
                let mut sorted = members.clone();
                sorted.sort_unstable();
                let list: Vec<String> = sorted.iter().map(i64::to_string).collect();
                s.push_str(&format!("group.{gid}={}\n", list.join(":")));
            }
            for (sid, w) in &self.weights {
                s.push_str(&format!("weight.{sid}={w}\n"));
            }
        }
        s.push_str(&format!("version={:x}", self.version));
        s
    }
}

/// Version suffix of a dynamic file name (`zoo.cfg.dynamic.100000000` → `0x100000000`).
///
/// Mirrors `QuorumPeerConfig.getVersionFromFilename`: the text after the last `.` parsed as
/// hex; `None` when it is not hex (then the version is 0).
pub fn version_from_filename(name: &str) -> Option<i64> {
    let (_, suffix) = name.rsplit_once('.')?;
    let digits = suffix.strip_prefix(['+', '-']).unwrap_or(suffix);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(suffix, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs(spec: &str) -> Result<QuorumServer, String> {
        QuorumServer::parse(1, spec, false)
    }

    #[test]
    fn basic_server_lines() {
        let s = qs("zk1:2888:3888").unwrap();
        assert_eq!(
            s.addresses,
            vec![QuorumAddress {
                host: "zk1".into(),
                quorum_port: 2888,
                election_port: 3888
            }]
        );
        assert_eq!(s.learner_type, LearnerType::Participant);
        assert_eq!(s.client_addr, None);
        assert_eq!(s.to_config_value(), "zk1:2888:3888:participant");

        let s = qs("zk1:2888:3888:observer;2181").unwrap();
        assert_eq!(s.learner_type, LearnerType::Observer);
        assert_eq!(s.client_addr, Some(HostPort::any(2181)));
        assert_eq!(s.to_config_value(), "zk1:2888:3888:observer;0.0.0.0:2181");

        let s = qs("zk1:2888:3888:PARTICIPANT;10.0.0.1:2181").unwrap();
        assert_eq!(s.client_addr, Some(HostPort::new("10.0.0.1", 2181)));
        // trailing ';' is dropped like Java's split
        assert_eq!(qs("zk1:2888:3888;").unwrap().client_addr, None);
    }

    #[test]
    fn ipv6_server_lines() {
        let s = qs("[2001:db8::1]:2888:3888:participant;[::1]:2181").unwrap();
        assert_eq!(s.addresses[0].host, "2001:db8::1");
        assert_eq!(s.addresses[0].quorum_port, 2888);
        assert_eq!(s.client_addr, Some(HostPort::new("::1", 2181)));
        // Java prints IP literals in its canonical (expanded) form
        assert_eq!(
            s.to_config_value(),
            "[2001:db8:0:0:0:0:0:1]:2888:3888:participant;[0:0:0:0:0:0:0:1]:2181"
        );
        assert_eq!(java_host_string("::ffff:10.0.0.1"), "10.0.0.1");
        assert_eq!(
            java_host_string("zk-0.zk.default.svc"),
            "zk-0.zk.default.svc"
        );
        assert!(qs("[::1:2888:3888").unwrap_err().contains("no matching"));
        assert!(qs("[::1]:").unwrap_err().contains("doesn't have a port"));
        // multi-byte character after ']' must not panic
        assert!(qs("[::1]é2888:3888:1").is_err());
        assert_eq!(get_host_and_port("[::1]").unwrap(), vec!["::1".to_string()]);
    }

    #[test]
    fn server_line_errors() {
        assert!(qs("zk1:2888")
            .unwrap_err()
            .contains("does not have the form"));
        assert!(qs("zk1:2888:3888:participant:x").is_err());
        assert!(qs("zk1:2888:3888;a:b:c").is_err());
        assert!(qs("zk1:2888:3888;1;2").is_err());
        assert_eq!(
            qs("zk1:2888:2888").unwrap_err(),
            "Client and election port must be different! Please update the configuration file on server.1"
        );
        assert_eq!(qs("zk1:x:3888").unwrap_err(), "Address unresolved: zk1:x");
        assert!(qs("zk1:70000:3888").unwrap_err().contains("out of range"));
        assert_eq!(
            qs("zk1:2888:3888:voter").unwrap_err(),
            "Unrecognised peertype: voter"
        );
        assert!(qs("a:1:2|b:1:2")
            .unwrap_err()
            .contains("Multiple address feature is disabled"));
    }

    #[test]
    fn multi_address() {
        let s = QuorumServer::parse(2, "b:1:2:observer|a:3:4:observer;2181", true).unwrap();
        assert_eq!(s.addresses.len(), 2);
        assert_eq!(s.learner_type, LearnerType::Observer);
        assert_eq!(s.to_config_value(), "a:3:4|b:1:2:observer;0.0.0.0:2181");
        let e = QuorumServer::parse(2, "b:1:2:observer|a:3:4:participant", true).unwrap_err();
        assert!(e.contains("similar roles"));
    }

    fn parse(
        text: &str,
        standalone: bool,
    ) -> (Result<QuorumConfig, ConfigError>, Vec<ConfigWarning>) {
        let props = Properties::parse(text).unwrap();
        let mut w = Vec::new();
        let r = QuorumConfig::parse(
            &props,
            "zoo.cfg",
            QuorumParseOptions {
                standalone_enabled: standalone,
                multi_address_enabled: false,
                backward_compatibility: true,
                warnings: true,
                membership_checks: true,
            },
            &mut w,
        );
        (r, w)
    }

    #[test]
    fn config_string_and_warnings() {
        let (q, w) = parse(
            "server.1=a:2888:3888\nserver.2=b:2888:3888;2181\nserver.3=c:2888:3888:observer\n",
            true,
        );
        let q = q.unwrap();
        assert_eq!(q.voting_members().count(), 2);
        assert_eq!(q.observers().count(), 1);
        assert_eq!(
            q.to_config_string(),
            "server.1=a:2888:3888:participant\nserver.2=b:2888:3888:participant;0.0.0.0:2181\n\
             server.3=c:2888:3888:observer\nversion=0"
        );
        assert!(w[0].message.contains("at least 3 servers"));
    }

    #[test]
    fn membership_rules() {
        let (r, _) = parse("server.1=a:1:2:observer\n", true);
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("Observers w/o participants"));
        let (r, _) = parse("", false);
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("participants should be >0"));
        let (r, w) = parse("server.1=a:1:2\n", true);
        assert!(r.is_ok());
        assert!(w[0].message.contains("only one server"));
        let (r, _) = parse("server.1=a:1:2\nserver.2=b:1:2:observer\n", true);
        assert!(r.unwrap_err().to_string().contains("Observers w/o quorum"));
        let (r, _) = parse("server.x=a:1:2\n", true);
        let e = r.unwrap_err();
        assert_eq!(e.key(), Some("server.x"));
        assert_eq!(e.line(), Some(1));
        let (r, w) = parse(
            "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n",
            true,
        );
        assert!(r.is_ok());
        assert!(w[0].message.contains("odd number"));
    }

    #[test]
    fn trailing_whitespace_in_server_line_is_rejected_like_java() {
        let (r, _) = parse("server.1=a:2888:3888 \n", true);
        let e = r.unwrap_err();
        assert_eq!((e.key(), e.line()), (Some("server.1"), Some(1)));
        assert!(e.to_string().contains("Address unresolved: a:3888 "), "{e}");
        assert!(e.to_string().contains("ends with whitespace"));
    }

    #[test]
    fn hierarchical() {
        let (q, _) = parse(
            "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\ngroup.1=1:2\ngroup.2=3\nweight.1=2\n",
            true,
        );
        let q = q.unwrap();
        assert!(q.hierarchical);
        assert_eq!(q.groups[&1], vec![1, 2]);
        assert_eq!(q.weights[&1], 2);
        assert_eq!(q.weights[&3], 1);
        assert!(q
            .to_config_string()
            .contains("group.1=1:2\ngroup.2=3\nweight.1=2\nweight.2=1\n"));
        let (r, _) = parse("server.1=a:1:2\nserver.2=b:1:2\ngroup.1=1\n", true);
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("Server 2 is not in a group"));
        let (r, _) = parse(
            "server.1=a:1:2\nserver.2=b:1:2\ngroup.1=1:2\ngroup.2=2\n",
            true,
        );
        assert!(r.unwrap_err().to_string().contains("multiple groups"));
    }

    #[test]
    fn dynamic_file_rejects_other_keys() {
        let props = Properties::parse("server.1=a:1:2\ntickTime=2000\n").unwrap();
        let r = QuorumConfig::parse(
            &props,
            "zoo.cfg.dynamic",
            QuorumParseOptions {
                standalone_enabled: true,
                multi_address_enabled: false,
                backward_compatibility: false,
                warnings: true,
                membership_checks: true,
            },
            &mut Vec::new(),
        );
        let e = r.unwrap_err();
        assert_eq!(
            e.to_string(),
            "zoo.cfg.dynamic:2: Unrecognised parameter: tickTime"
        );
    }

    #[test]
    fn versions_from_names() {
        assert_eq!(
            version_from_filename("zoo.cfg.dynamic.100000000"),
            Some(0x1_0000_0000)
        );
        assert_eq!(version_from_filename("zoo.cfg.dynamic"), None);
        assert_eq!(version_from_filename("/conf/zoo.cfg.dynamic.0"), Some(0));
    }

    #[test]
    fn wildcard_detection() {
        assert!(HostPort::any(1).is_wildcard());
        assert!(HostPort::new("0.0.0.0", 1).is_wildcard());
        assert!(HostPort::new("::", 1).is_wildcard());
        assert!(!HostPort::new("127.0.0.1", 1).is_wildcard());
        assert_eq!(HostPort::new("::1", 5).to_socket_string(), "[::1]:5");
        assert!(HostPort::new("127.0.0.1", 5).same_address(&HostPort::new("127.0.0.1", 5)));
    }
}
