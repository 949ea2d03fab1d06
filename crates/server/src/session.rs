//! Sessions: Java-compatible ids and passwords, and the tick-bucketed expiry of
//! `SessionTrackerImpl`/`ExpiryQueue`. A session's owner is the connection currently serving it.

use std::collections::{BTreeMap, HashMap, HashSet};

/// The secret mixed into every password seed (`ZooKeeperServer.superSecret`).
const SUPER_SECRET: i64 = 0xB341_5C00;

/// `java.util.Random`'s 48-bit linear congruential generator, bit-exact.
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next_int(&mut self) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> 16) as u32 as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        let mut i = 0;
        while i < out.len() {
            let mut rnd = self.next_int();
            let n = (out.len() - i).min(4);
            for _ in 0..n {
                out[i] = rnd as u8;
                rnd >>= 8;
                i += 1;
            }
        }
    }
}

/// The 16-byte password of a session: a client reconnecting to any server (Java or ferrokeeper)
/// presents it, so it must be exactly `ZooKeeperServer.generatePasswd`.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut r = JavaRandom::new(session_id ^ SUPER_SECRET);
    let mut out = [0u8; 16];
    r.next_bytes(&mut out);
    out
}

/// The first session id of a server: server id in the top byte, a millisecond clock below.
pub fn initial_session_id(server_id: i64, clock_ms: i64) -> i64 {
    let mut next = ((clock_ms << 24) as u64 >> 8) as i64;
    next |= server_id << 56;
    if next == i64::MIN {
        next += 1;
    }
    next
}

/// Per-session bookkeeping.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub timeout_ms: i32,
    /// Bucket (ms since tracker start) at which the session expires.
    pub expire_at: u64,
    /// Set once a closeSession is on its way: further requests get SESSIONEXPIRED.
    pub closing: bool,
}

/// Global session table with Java's expiry buckets (one bucket per tick).
#[derive(Debug)]
pub struct SessionTracker {
    sessions: HashMap<i64, SessionInfo>,
    buckets: BTreeMap<u64, HashSet<i64>>,
    interval_ms: u64,
    next_id: i64,
}

impl SessionTracker {
    pub fn new(tick_ms: u64, server_id: i64, clock_ms: i64) -> SessionTracker {
        SessionTracker {
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
            interval_ms: tick_ms.max(1),
            next_id: initial_session_id(server_id, clock_ms),
        }
    }

    /// Allocates the next session id.
    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        if self.next_id == i64::MIN {
            self.next_id += 1;
        }
        id
    }

    fn round_up(&self, t: u64) -> u64 {
        (t / self.interval_ms + 1) * self.interval_ms
    }

    /// Registers (or re-registers) a session and schedules its expiry.
    pub fn add(&mut self, id: i64, timeout_ms: i32, now_ms: u64) {
        let expire_at = self.round_up(now_ms + timeout_ms.max(0) as u64);
        if let Some(old) = self.sessions.insert(
            id,
            SessionInfo {
                timeout_ms,
                expire_at,
                closing: false,
            },
        ) {
            self.unbucket(id, old.expire_at);
        }
        self.buckets.entry(expire_at).or_default().insert(id);
    }

    fn unbucket(&mut self, id: i64, at: u64) {
        if let Some(b) = self.buckets.get_mut(&at) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }

    /// Pushes a live session's expiry forward; false if it is unknown or closing.
    pub fn touch(&mut self, id: i64, timeout_ms: Option<i32>, now_ms: u64) -> bool {
        let Some(info) = self.sessions.get(&id) else {
            return false;
        };
        if info.closing {
            return false;
        }
        let timeout = timeout_ms.unwrap_or(info.timeout_ms);
        let expire_at = self.round_up(now_ms + timeout.max(0) as u64);
        let old = info.expire_at;
        if old == expire_at && timeout == info.timeout_ms {
            return true;
        }
        self.unbucket(id, old);
        self.buckets.entry(expire_at).or_default().insert(id);
        if let Some(info) = self.sessions.get_mut(&id) {
            info.expire_at = expire_at;
            info.timeout_ms = timeout;
        }
        true
    }

    /// Marks a session as closing (a closeSession is queued).
    pub fn set_closing(&mut self, id: i64) {
        if let Some(i) = self.sessions.get_mut(&id) {
            i.closing = true;
        }
    }

    /// Whether requests of this session may proceed (else SESSIONEXPIRED).
    pub fn is_active(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|i| !i.closing)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.sessions.contains_key(&id)
    }

    pub fn timeout_of(&self, id: i64) -> Option<i32> {
        self.sessions.get(&id).map(|i| i.timeout_ms)
    }

    /// Forgets a session (its closeSession was applied).
    pub fn remove(&mut self, id: i64) {
        if let Some(info) = self.sessions.remove(&id) {
            self.unbucket(id, info.expire_at);
        }
    }

    /// Sessions whose bucket is due at `now_ms`; they are marked closing.
    pub fn expire_due(&mut self, now_ms: u64) -> Vec<i64> {
        let due: Vec<u64> = self.buckets.range(..=now_ms).map(|(k, _)| *k).collect();
        let mut out = Vec::new();
        for at in due {
            if let Some(ids) = self.buckets.remove(&at) {
                for id in ids {
                    if let Some(i) = self.sessions.get_mut(&id) {
                        if !i.closing {
                            i.closing = true;
                            out.push(id);
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// (id, timeout) of every session, for snapshots and the `dump` command.
    pub fn sessions(&self) -> Vec<(i64, i32)> {
        let mut v: Vec<(i64, i32)> = self
            .sessions
            .iter()
            .map(|(k, i)| (*k, i.timeout_ms))
            .collect();
        v.sort_unstable();
        v
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Expiry buckets (ms since start → session ids), for the `dump` command.
    pub fn buckets(&self) -> Vec<(u64, Vec<i64>)> {
        self.buckets
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn passwords_match_java_vectors() {
        assert_eq!(
            hex(&session_password(0x0100000000000000)),
            "f22acd4a97e69d6d20a49bb638eadb38"
        );
        assert_eq!(
            hex(&session_password(0x01000a3b2c4d0000)),
            "a956a98c82ed56462fb83e649bee242b"
        );
        assert_eq!(
            hex(&session_password(0x73fb8e3a6b0e0000)),
            "b04f88ef7d3f77570e220df68e5cbaae"
        );
    }

    #[test]
    fn captured_connect_response_password() {
        // Appendix A.3: session 0x0100000908200007.
        assert_eq!(
            hex(&session_password(0x0100000908200007)),
            "8b58e6525734c6f8602e46a2931a0cf1"
        );
    }

    #[test]
    fn id_layout() {
        let id = initial_session_id(1, 0x12_3456_789a);
        assert_eq!(id >> 56, 1);
        assert_eq!(id & 0xffff, 0);
        assert_eq!((id >> 16) & 0xff_ffff_ffff, 0x12_3456_789a);
    }

    #[test]
    fn expiry_buckets() {
        let mut t = SessionTracker::new(2000, 1, 0);
        t.add(7, 4000, 100);
        assert_eq!(t.expire_due(4000), Vec::<i64>::new());
        assert!(t.touch(7, None, 3000));
        assert_eq!(t.expire_due(6000), Vec::<i64>::new());
        assert_eq!(t.expire_due(8000), vec![7]);
        assert!(!t.is_active(7));
    }
}
