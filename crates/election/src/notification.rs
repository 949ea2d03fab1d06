//! The election notification: the only message Fast Leader Election exchanges after the handshake.
//!
//! Layout (raw big-endian, no jute), as built by Java's `FastLeaderElection.buildMsg`:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | int | sender state (LOOKING 0, FOLLOWING 1, LEADING 2, OBSERVING 3) |
//! | 4 | long | proposed leader |
//! | 12 | long | proposed zxid |
//! | 20 | long | election epoch (round) |
//! | 28 | long | peer epoch |
//! | 36 | int | version (2) |
//! | 40 | int | config length N |
//! | 44 | N | config string (`QuorumMaj.toString`) |
//!
//! Decoding accepts exactly what a Java receiver accepts (28- and 40-byte legacy forms included) and
//! turns everything a Java receiver would choke on into an error instead of a panic.

use thiserror::Error;

use crate::quorum_verifier::{ConfigError, QuorumVerifier};
use crate::vote::{Sid, Vote, Zxid};

/// Format version written by ZooKeeper ≥ 3.5 (`Notification.CURRENTVERSION`).
pub const CURRENT_VERSION: i32 = 2;
/// Size of the fixed part of a current-format notification (before the config bytes).
pub const HEADER_LEN: usize = 44;
/// Pre-ZOOKEEPER-107 form: state, leader, zxid, election epoch; peer epoch derived from the zxid.
pub const LEGACY_LEN_28: usize = 28;
/// 3.4-era form with peer epoch but no (read) version; treated as version 0.
pub const LEGACY_LEN_40: usize = 40;

/// Role of a server, with the ordinals Java puts on the wire (`QuorumPeer.ServerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerState {
    /// Taking part in an election.
    Looking,
    /// Following an established leader.
    Following,
    /// Leading the ensemble.
    Leading,
    /// Non-voting learner attached to a leader.
    Observing,
}

impl ServerState {
    /// Wire ordinal.
    pub fn to_wire(self) -> i32 {
        match self {
            ServerState::Looking => 0,
            ServerState::Following => 1,
            ServerState::Leading => 2,
            ServerState::Observing => 3,
        }
    }

    /// Parses a wire ordinal; anything outside 0..=3 is rejected (Java drops such messages).
    pub fn from_wire(v: i32) -> Option<Self> {
        match v {
            0 => Some(ServerState::Looking),
            1 => Some(ServerState::Following),
            2 => Some(ServerState::Leading),
            3 => Some(ServerState::Observing),
            _ => None,
        }
    }
}

/// Why a received election payload was dropped.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NotificationError {
    /// Fewer than 28 bytes: no protocol generation sends that little.
    #[error("notification too short: {0} bytes (minimum 28)")]
    TooShort(usize),
    /// Sizes Java would read past the end of (29..=39, or a v2 header cut before the config length).
    #[error("notification truncated: {len} bytes, need {needed}")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the announced format needs.
        needed: usize,
    },
    /// State ordinal outside LOOKING..OBSERVING.
    #[error("invalid server state {0}")]
    InvalidState(i32),
    /// Config length negative or larger than what follows.
    #[error("invalid config length {declared} with {available} bytes available")]
    BadConfigLength {
        /// Length field as sent.
        declared: i32,
        /// Bytes actually following the length field.
        available: usize,
    },
    /// Encoding a config longer than an `int` can describe.
    #[error("config string too long to encode: {0} bytes")]
    ConfigTooLong(usize),
}

/// One election notification, as sent on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    /// State of the sender.
    pub state: ServerState,
    /// Proposed leader.
    pub leader: Sid,
    /// Zxid of the proposed leader.
    pub zxid: Zxid,
    /// Sender's round (logical clock), or the round of its settled vote.
    pub election_epoch: i64,
    /// Epoch of the proposed leader.
    pub peer_epoch: i64,
    /// Message format version: 2 for everything we send; 0 for the 28/40-byte legacy forms.
    pub version: i32,
    /// Raw config bytes (UTF-8 `QuorumMaj.toString` from current senders; empty for legacy forms).
    pub config: Vec<u8>,
}

impl Notification {
    /// A current-format (version 2) notification carrying `vote` and the sender's config string.
    pub fn from_vote(state: ServerState, vote: &Vote, election_epoch: i64, config: &str) -> Self {
        Notification {
            state,
            leader: vote.leader,
            zxid: vote.zxid,
            election_epoch,
            peer_epoch: vote.peer_epoch,
            version: CURRENT_VERSION,
            config: config.as_bytes().to_vec(),
        }
    }

    /// The vote this notification carries, tagged with the sender's state.
    pub fn vote(&self) -> Vote {
        Vote {
            leader: self.leader,
            zxid: self.zxid,
            election_epoch: self.election_epoch,
            peer_epoch: self.peer_epoch,
            state: self.state,
        }
    }

    /// The config string, decoded leniently (Java decodes with the platform charset and never fails).
    pub fn config_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.config)
    }

    /// Parses the carried config string, e.g. to notice a newer config version (reconfig is not
    /// acted on by [`crate::Election`]).
    pub fn parse_config(&self) -> Result<QuorumVerifier, ConfigError> {
        QuorumVerifier::parse(&self.config_str())
    }

    /// Encodes in the current 44 + N byte layout (the frame length prefix is added separately, see
    /// [`crate::handshake::encode_frame`]).
    pub fn encode(&self) -> Result<Vec<u8>, NotificationError> {
        let config_len = i32::try_from(self.config.len())
            .map_err(|_| NotificationError::ConfigTooLong(self.config.len()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + self.config.len());
        out.extend_from_slice(&self.state.to_wire().to_be_bytes());
        out.extend_from_slice(&self.leader.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        out.extend_from_slice(&self.election_epoch.to_be_bytes());
        out.extend_from_slice(&self.peer_epoch.to_be_bytes());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&config_len.to_be_bytes());
        out.extend_from_slice(&self.config);
        Ok(out)
    }

    /// Decodes one frame payload. Total: every input yields a message or an error.
    ///
    /// Mirrors Java's receiver: exactly 28 bytes ⇒ peer epoch = zxid >> 32, version 0; exactly 40 bytes
    /// ⇒ version 0 (the 4 bytes at offset 36 are not read); otherwise the version is read and only a
    /// version > 1 carries a config. Bytes after the config are ignored, as Java does.
    pub fn decode(buf: &[u8]) -> Result<Self, NotificationError> {
        let len = buf.len();
        if len < LEGACY_LEN_28 {
            return Err(NotificationError::TooShort(len));
        }
        let mut r = Reader { buf, pos: 0 };
        let raw_state = r.i32()?;
        let leader = r.i64()?;
        let zxid = r.i64()?;
        let election_epoch = r.i64()?;
        let (peer_epoch, version) = if len == LEGACY_LEN_28 {
            (zxid >> 32, 0)
        } else if len == LEGACY_LEN_40 {
            (r.i64()?, 0)
        } else {
            (r.i64()?, r.i32()?)
        };
        let config = if version > 1 {
            let declared = r.i32()?;
            let available = len - r.pos;
            let n = usize::try_from(declared)
                .ok()
                .filter(|n| *n <= available)
                .ok_or(NotificationError::BadConfigLength {
                    declared,
                    available,
                })?;
            buf[r.pos..r.pos + n].to_vec()
        } else {
            Vec::new()
        };
        // The state is checked last, as in Java (which reads the whole message first); the error is
        // the same either way, only its variant could differ.
        let state =
            ServerState::from_wire(raw_state).ok_or(NotificationError::InvalidState(raw_state))?;
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }
}

/// Bounds-checked big-endian reader; every short read becomes [`NotificationError::Truncated`].
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], NotificationError> {
        let end = self.pos + N;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(NotificationError::Truncated {
                len: self.buf.len(),
                needed: end,
            })?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        self.pos = end;
        Ok(out)
    }

    fn i32(&mut self) -> Result<i32, NotificationError> {
        self.take::<4>().map(i32::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, NotificationError> {
        self.take::<8>().map(i64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "server.1=127.0.0.1:52888:53888:participant\n\
                       server.2=127.0.0.1:52889:53889:participant\n\
                       server.3=127.0.0.1:52890:53890:participant\n\
                       version=0";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
            .collect()
    }

    /// Appendix A.4: the 182-byte notification Java sid 1 sent while LOOKING in round 1.
    #[test]
    fn golden_java_notification_182_bytes() {
        assert_eq!(CFG.len(), 138);
        let mut golden = hex("00000000 0000000000000001 0000000000000000 0000000000000001
             0000000000000000 00000002 0000008a");
        golden.extend_from_slice(CFG.as_bytes());
        assert_eq!(golden.len(), 182);

        let n = Notification::decode(&golden).expect("golden decodes");
        assert_eq!(n.state, ServerState::Looking);
        assert_eq!(
            (n.leader, n.zxid, n.election_epoch, n.peer_epoch),
            (1, 0, 1, 0)
        );
        assert_eq!(n.version, 2);
        assert_eq!(n.config_str(), CFG);
        assert_eq!(n.encode().expect("encodes"), golden);
        let qv = n.parse_config().expect("Java's config parses");
        assert_eq!(qv.config_string(), CFG);
        assert!(qv.is_voter(3));
    }

    #[test]
    fn legacy_28_derives_peer_epoch_from_zxid() {
        let mut b = hex("00000001 0000000000000003 0000000500000007 0000000000000009");
        assert_eq!(b.len(), 28);
        let n = Notification::decode(&b).expect("28 ok");
        assert_eq!(n.state, ServerState::Following);
        assert_eq!(n.peer_epoch, 5);
        assert_eq!(n.version, 0);
        assert!(n.config.is_empty());
        b.push(0);
        assert!(matches!(
            Notification::decode(&b),
            Err(NotificationError::Truncated { .. })
        ));
    }

    #[test]
    fn legacy_40_ignores_version_field() {
        let b = hex("00000002 0000000000000003 0000000500000007 0000000000000009
             0000000000000005 00000001");
        assert_eq!(b.len(), 40);
        let n = Notification::decode(&b).expect("40 ok");
        assert_eq!(n.state, ServerState::Leading);
        assert_eq!((n.peer_epoch, n.version), (5, 0));
    }

    #[test]
    fn lengths_29_to_39_are_truncated() {
        for len in 29..40 {
            let b = vec![0u8; len];
            assert!(
                matches!(
                    Notification::decode(&b),
                    Err(NotificationError::Truncated { .. })
                ),
                "len {len}"
            );
        }
    }

    #[test]
    fn short_and_bad_state_and_bad_config_length() {
        assert_eq!(
            Notification::decode(&[0u8; 27]),
            Err(NotificationError::TooShort(27))
        );
        let mut n = Notification::from_vote(
            ServerState::Looking,
            &Notification::decode(&[0u8; 40]).expect("zeros").vote(),
            1,
            "version=0",
        )
        .encode()
        .expect("enc");
        n[3] = 4;
        assert_eq!(
            Notification::decode(&n),
            Err(NotificationError::InvalidState(4))
        );
        n[3] = 0;
        n[40..44].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            Notification::decode(&n),
            Err(NotificationError::BadConfigLength { declared: -1, .. })
        ));
        n[40..44].copy_from_slice(&100i32.to_be_bytes());
        assert!(matches!(
            Notification::decode(&n),
            Err(NotificationError::BadConfigLength { declared: 100, .. })
        ));
    }

    #[test]
    fn version_one_with_trailing_bytes_has_no_config() {
        let mut b = vec![0u8; 36];
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(b"junk");
        let n = Notification::decode(&b).expect("v1 ok");
        assert_eq!(n.version, 1);
        assert!(n.config.is_empty());
    }

    #[test]
    fn trailing_bytes_after_config_are_ignored() {
        let n = Notification {
            state: ServerState::Observing,
            leader: -5,
            zxid: i64::MIN,
            election_epoch: i64::MAX,
            peer_epoch: 7,
            version: 2,
            config: b"abc".to_vec(),
        };
        let mut b = n.encode().expect("enc");
        b.extend_from_slice(b"tail");
        assert_eq!(Notification::decode(&b), Ok(n));
    }

    /// Every length up to 120 with several fill patterns: decode returns, never panics, and accepts
    /// exactly the lengths Java accepts for an all-zero LOOKING message.
    #[test]
    fn exhaustive_length_and_pattern_sweep() {
        for len in 0..=120usize {
            for pattern in 0..6u8 {
                let b: Vec<u8> = (0..len)
                    .map(|i| match pattern {
                        0 => 0x00,
                        1 => 0xff,
                        2 => 0x7f,
                        3 => 0x80,
                        4 => i as u8,
                        _ => (i as u8).wrapping_mul(37) ^ 0x5a,
                    })
                    .collect();
                let r = Notification::decode(&b);
                if pattern == 0 {
                    // All zero: LOOKING, version 0 ⇒ no config; accepted at 28, 40 and ≥ 41.
                    assert_eq!(r.is_ok(), len == 28 || len >= 40, "len {len}");
                }
            }
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn any_state() -> impl Strategy<Value = ServerState> {
            prop_oneof![
                Just(ServerState::Looking),
                Just(ServerState::Following),
                Just(ServerState::Leading),
                Just(ServerState::Observing),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = Notification::decode(&bytes);
            }

            #[test]
            fn decode_never_panics_on_plausible_headers(
                state in 0i32..6, version in -2i32..4, cfg_len in -3i32..80,
                body in proptest::collection::vec(any::<u8>(), 0..64),
            ) {
                let mut b = Vec::new();
                b.extend_from_slice(&state.to_be_bytes());
                b.extend_from_slice(&[0u8; 32]);
                b.extend_from_slice(&version.to_be_bytes());
                b.extend_from_slice(&cfg_len.to_be_bytes());
                b.extend_from_slice(&body);
                if let Ok(n) = Notification::decode(&b) {
                    prop_assert!(n.config.len() <= body.len());
                }
            }

            #[test]
            fn round_trip(
                state in any_state(), leader in any::<i64>(), zxid in any::<i64>(),
                election_epoch in any::<i64>(), peer_epoch in any::<i64>(),
                version in 2i32..=i32::MAX,
                config in proptest::collection::vec(any::<u8>(), 0..200),
            ) {
                let n = Notification { state, leader, zxid, election_epoch, peer_epoch, version, config };
                let bytes = n.encode().expect("encodes");
                prop_assert_eq!(bytes.len(), HEADER_LEN + n.config.len());
                prop_assert_eq!(Notification::decode(&bytes), Ok(n));
            }
        }
    }
}
