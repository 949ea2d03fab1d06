//! Authentication providers and ACL evaluation, as Java's `ProviderRegistry`, `checkACL` and
//! `fixupACL`: schemes `world`, `auth`, `digest` (SHA-1, base64), `ip` (with CIDR) and `super`.

use std::net::IpAddr;

use base64::Engine;
use jute::consts::{err, perms};
use jute::data::{Acl, Id};
use sha1::{Digest, Sha1};

/// Settings that change how ACLs are checked.
#[derive(Debug, Clone, Default)]
pub struct AclPolicy {
    /// `zookeeper.skipACL=yes`: no permission checks at all.
    pub skip_acl: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest` (`user:base64sha1`).
    pub super_digest: Option<String>,
}

/// `user:base64(sha1("user:password"))`, the id stored for a digest ACL.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{}:{}",
        user,
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Result of an `auth` packet: the ids to add to the connection, or AUTHFAILED.
pub fn authenticate(policy: &AclPolicy, scheme: &str, auth: &[u8]) -> Result<Vec<Id>, i32> {
    match scheme {
        "digest" => {
            let text = String::from_utf8_lossy(auth);
            let id = digest_id(&text);
            let mut ids = vec![Id::new("digest", &id)];
            if policy.super_digest.as_deref() == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            Ok(ids)
        }
        // The ip provider authenticates from the socket address, not from the packet: Java's
        // IPAuthenticationProvider adds the remote address again.
        _ => Err(err::AUTH_FAILED),
    }
}

/// Whether a scheme's provider considers the id well formed (`isValid`).
fn is_valid_id(scheme: &str, id: &str) -> bool {
    match scheme {
        "digest" => id.split(':').count() == 2,
        "ip" => parse_ip_acl(id).is_some(),
        _ => false,
    }
}

/// Whether ids of this scheme count for the `auth` ACL expansion (`isAuthenticated`).
fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "super" | "sasl" | "x509")
}

/// Parses `addr` or `addr/bits` as the ip provider does.
fn parse_ip_acl(id: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match id.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (id, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u32>().ok()?,
        None => max,
    };
    if bits > max {
        return None;
    }
    Some((ip, bits))
}

fn ip_matches(client: &str, acl_id: &str) -> bool {
    let Some((net, bits)) = parse_ip_acl(acl_id) else {
        return false;
    };
    let Ok(client) = client.parse::<IpAddr>() else {
        return false;
    };
    match (net, client) {
        (IpAddr::V4(n), IpAddr::V4(c)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(n) & mask) == (u32::from(c) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(c)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(n) & mask) == (u128::from(c) & mask)
        }
        _ => false,
    }
}

fn provider_matches(scheme: &str, client_id: &str, acl_id: &str) -> bool {
    match scheme {
        "ip" => ip_matches(client_id, acl_id),
        "digest" => client_id == acl_id,
        _ => false,
    }
}

/// Java's `checkACL`: `Ok` when `ids` grant `perm` under `acl`, else NOAUTH.
pub fn check_acl(policy: &AclPolicy, acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), i32> {
    if policy.skip_acl || acl.is_empty() {
        return Ok(());
    }
    if ids.iter().any(|i| i.scheme == "super") {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        if matches!(a.id.scheme.as_str(), "ip" | "digest")
            && ids
                .iter()
                .any(|i| i.scheme == a.id.scheme && provider_matches(&a.id.scheme, &i.id, &a.id.id))
        {
            return Ok(());
        }
    }
    Err(err::NO_AUTH)
}

/// Java's `fixupACL`: dedupe, reject empty or invalid ids, expand `auth` to the session's ids.
pub fn fixup_acl(ids: &[Id], acl: &[Acl]) -> Result<Vec<Acl>, i32> {
    let mut uniq: Vec<Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(a) {
            uniq.push(a.clone());
        }
    }
    if uniq.is_empty() {
        return Err(err::INVALID_ACL);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a);
        } else if a.id.scheme == "auth" {
            let mut any = false;
            for cid in ids {
                if is_authenticated_scheme(&cid.scheme) && cid.scheme != "super" {
                    any = true;
                    out.push(Acl {
                        perms: a.perms,
                        id: cid.clone(),
                    });
                } else if cid.scheme == "super" {
                    // Java has no provider registered under "super": it is skipped with an error log.
                }
            }
            if !any {
                return Err(err::INVALID_ACL);
            }
        } else {
            if !is_valid_id(&a.id.scheme, &a.id.id) {
                return Err(err::INVALID_ACL);
            }
            out.push(a);
        }
    }
    Ok(out)
}

/// Masks digest ids (`user:x`) for getACL callers without ADMIN, as Java does.
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl::new(a.perms, "digest", &format!("{user}:x"))
            } else {
                a.clone()
            }
        })
        .collect()
}

/// Java's `String.hashCode` (over UTF-16 code units).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The bin of an `Id` in a fresh `ConcurrentHashMap` (16 bins): Java keeps a connection's ids in
/// such a set, so whoAmI and the `auth` ACL expansion list them in this order.
fn id_bin(id: &Id) -> u32 {
    let h = 37i32
        .wrapping_mul(
            37i32
                .wrapping_mul(17)
                .wrapping_add(java_string_hash(&id.scheme)),
        )
        .wrapping_add(java_string_hash(&id.id));
    let spread = ((h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff) as u32;
    spread & 15
}

/// Adds ids to a connection's identity set the way Java's set does: no duplicates, iteration in
/// `ConcurrentHashMap` bin order, insertion order within a bin.
pub fn add_ids(current: &[Id], new: Vec<Id>) -> Vec<Id> {
    let mut v: Vec<Id> = current.to_vec();
    for id in new {
        if !v.contains(&id) {
            v.push(id);
        }
    }
    // A stable sort keeps insertion order within a bin.
    v.sort_by_key(id_bin);
    v
}

/// Permission bits needed by each read (exposed for tests and the 4lw).
pub const READ: i32 = perms::READ;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_java() {
        // zkCli: addauth digest super:test ⇒ super:D/InIHSb7yEEbrWz8b9l71RjZJU=
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn cidr() {
        assert!(ip_matches("127.0.0.1", "127.0.0.0/8"));
        assert!(!ip_matches("128.0.0.1", "127.0.0.0/8"));
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(!ip_matches("10.1.2.4", "10.1.2.3"));
        assert!(ip_matches("::1", "::1/128"));
    }

    #[test]
    fn auth_expansion_needs_authenticated_id() {
        let ip_only = vec![Id::new("ip", "127.0.0.1")];
        assert_eq!(
            fixup_acl(&ip_only, &[Acl::new(31, "auth", "")]),
            Err(err::INVALID_ACL)
        );
        let with_digest = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:h")];
        assert_eq!(
            fixup_acl(&with_digest, &[Acl::new(31, "auth", "")]).unwrap(),
            vec![Acl::new(31, "digest", "u:h")]
        );
    }

    #[test]
    fn check_acl_rules() {
        let p = AclPolicy::default();
        let acl = vec![Acl::new(perms::READ, "digest", "u:h")];
        assert_eq!(
            check_acl(&p, &acl, perms::READ, &[Id::new("ip", "1.1.1.1")]),
            Err(err::NO_AUTH)
        );
        assert_eq!(
            check_acl(&p, &acl, perms::READ, &[Id::new("digest", "u:h")]),
            Ok(())
        );
        assert_eq!(
            check_acl(&p, &acl, perms::WRITE, &[Id::new("digest", "u:h")]),
            Err(err::NO_AUTH)
        );
        assert_eq!(
            check_acl(&p, &acl, perms::WRITE, &[Id::new("super", "")]),
            Ok(())
        );
    }
}
