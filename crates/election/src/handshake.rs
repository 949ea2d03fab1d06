//! QuorumCnxManager transport rules for the election port: the initial message a connecting peer
//! sends, the "larger sid wins" connection rule, and the length-prefixed frames that follow.
//!
//! Everything here is pure byte/decision logic so that the (later) tokio driver and the simulator share
//! one implementation, and so that a Java peer sees exactly the bytes it expects.

use thiserror::Error;

use crate::vote::Sid;

/// Protocol version sent by Java ≥ 3.5 unless multi-address is enabled (`PROTOCOL_VERSION_V1`).
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// Protocol version with several `|`-joined addresses (`multiAddress.enabled=true`, Java ≥ 3.6).
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// Largest address string accepted in the initial message (Java `maxBuffer`).
pub const MAX_ADDRESS_LEN: usize = 2048;
/// Largest election frame payload accepted (Java `PACKETMAXSIZE`, 512 KiB).
pub const MAX_FRAME_LEN: usize = 512 * 1024;
/// Sid pre-3.5 observers announce; Java replaces it with a decreasing negative counter per connection,
/// which the driver must do too (it is not a real id).
pub const LEGACY_OBSERVER_SID: Sid = i64::MAX;

/// Errors from the handshake and frame codecs.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// More bytes are needed; `needed` is the total length required so far (not an error of the peer).
    #[error("incomplete: need {needed} bytes")]
    Incomplete {
        /// Total bytes needed before decoding can continue.
        needed: usize,
    },
    /// A negative first long that is neither V1 nor V2: Java closes the socket.
    #[error("unrecognized protocol version {0}")]
    UnknownProtocolVersion(i64),
    /// Address length outside 1..=2048.
    #[error("unreasonable address length {0}")]
    BadAddressLength(i32),
    /// An address that is not `host:port` (IPv6 in brackets) with a valid port.
    #[error("badly formed address {0:?}")]
    BadAddress(String),
    /// Frame length outside 1..=524288 (Java drops the connection).
    #[error("invalid frame length {0}")]
    BadFrameLength(i64),
}

/// The first thing a connecting peer sends on the election port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitialMessage {
    /// Pre-3.5 peer: the first long is its (non-negative) sid and nothing follows.
    Legacy {
        /// Sender's sid.
        sid: Sid,
    },
    /// Current form: protocol version, sid, then the sender's election address(es).
    Current {
        /// [`PROTOCOL_VERSION_V1`] or [`PROTOCOL_VERSION_V2`].
        protocol_version: i64,
        /// Sender's sid.
        sid: Sid,
        /// `host:port` (V2: several joined by `|`), UTF-8.
        address: String,
    },
}

/// One `host:port` election address taken from an initial message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAddress {
    /// Host without IPv6 brackets.
    pub host: String,
    /// Election port.
    pub port: u16,
}

impl InitialMessage {
    /// The V1 message Java sends by default for `sid` with election address `host:port`
    /// (IPv6 hosts are bracketed as Java's `formatInetAddr` does).
    pub fn v1(sid: Sid, host: &str, port: u16) -> Self {
        InitialMessage::Current {
            protocol_version: PROTOCOL_VERSION_V1,
            sid,
            address: format_host_port(host, port),
        }
    }

    /// Sender's sid (raw; see [`LEGACY_OBSERVER_SID`]).
    pub fn sid(&self) -> Sid {
        match self {
            InitialMessage::Legacy { sid } | InitialMessage::Current { sid, .. } => *sid,
        }
    }

    /// Encodes the message. Addresses longer than 2048 bytes cannot be sent (a Java receiver would
    /// reject them), so they are an error here too.
    pub fn encode(&self) -> Result<Vec<u8>, HandshakeError> {
        match self {
            InitialMessage::Legacy { sid } => Ok(sid.to_be_bytes().to_vec()),
            InitialMessage::Current {
                protocol_version,
                sid,
                address,
            } => {
                let bytes = address.as_bytes();
                if bytes.is_empty() || bytes.len() > MAX_ADDRESS_LEN {
                    return Err(HandshakeError::BadAddressLength(
                        i32::try_from(bytes.len()).unwrap_or(i32::MAX),
                    ));
                }
                let mut out = Vec::with_capacity(20 + bytes.len());
                out.extend_from_slice(&protocol_version.to_be_bytes());
                out.extend_from_slice(&sid.to_be_bytes());
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
                Ok(out)
            }
        }
    }

    /// Decodes from the start of `buf`, returning the message and the number of bytes it used.
    /// Total: any input gives a message, [`HandshakeError::Incomplete`] or a rejection.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), HandshakeError> {
        let first = read_i64(buf, 0)?;
        if first >= 0 {
            return Ok((InitialMessage::Legacy { sid: first }, 8));
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(HandshakeError::UnknownProtocolVersion(first));
        }
        let sid = read_i64(buf, 8)?;
        let raw_len = read_i32(buf, 16)?;
        let len = usize::try_from(raw_len)
            .ok()
            .filter(|n| (1..=MAX_ADDRESS_LEN).contains(n))
            .ok_or(HandshakeError::BadAddressLength(raw_len))?;
        let end = 20 + len;
        let bytes = buf
            .get(20..end)
            .ok_or(HandshakeError::Incomplete { needed: end })?;
        let address = String::from_utf8_lossy(bytes).into_owned();
        Ok((
            InitialMessage::Current {
                protocol_version: first,
                sid,
                address,
            },
            end,
        ))
    }

    /// The usable addresses announced by the peer: split on `|`, wildcard hosts (`0.0.0.0`, `::`)
    /// dropped as Java drops them. Empty for legacy messages (use the configured address then).
    pub fn addresses(&self) -> Result<Vec<PeerAddress>, HandshakeError> {
        let InitialMessage::Current { address, .. } = self else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for part in address.split('|') {
            let a = parse_host_port(part)?;
            if !is_wildcard(&a.host) {
                out.push(a);
            }
        }
        Ok(out)
    }
}

/// `host:port`, with IPv6 literals in brackets.
pub fn format_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn parse_host_port(s: &str) -> Result<PeerAddress, HandshakeError> {
    let bad = || HandshakeError::BadAddress(s.to_string());
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':').ok_or_else(bad)?)
    } else {
        let (host, port) = s.split_once(':').ok_or_else(bad)?;
        if port.contains(':') {
            return Err(bad());
        }
        (host, port)
    };
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok(PeerAddress {
        host: host.to_string(),
        port,
    })
}

fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

/// What to do with a freshly handshaken election connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Keep it; tear down any older connection to the same sid.
    Keep,
    /// We initiated it but the remote has the larger sid: close after sending our initial message and
    /// wait for the remote to connect back.
    CloseAndWait,
    /// The remote initiated it but we have the larger sid: close and connect back ourselves (to the
    /// address from its initial message when present, else the configured one).
    CloseAndConnectBack,
    /// The remote claims our own sid: a configuration error; Java logs a warning and ignores it.
    RejectSameSid,
}

/// QuorumCnxManager's tie-break: only a connection initiated by the larger sid survives, so that each
/// pair of peers ends up with exactly one connection whoever dials first.
pub fn keep_connection(my_sid: Sid, remote_sid: Sid, initiated_by_me: bool) -> Decision {
    if initiated_by_me {
        // Java's initiator keeps the socket unless the remote is larger (equal is kept).
        if remote_sid > my_sid {
            Decision::CloseAndWait
        } else {
            Decision::Keep
        }
    } else if remote_sid < my_sid {
        Decision::CloseAndConnectBack
    } else if remote_sid == my_sid {
        Decision::RejectSameSid
    } else {
        Decision::Keep
    }
}

/// Frames an election payload: `int length` + payload.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, HandshakeError> {
    if payload.is_empty() || payload.len() > MAX_FRAME_LEN {
        return Err(HandshakeError::BadFrameLength(payload.len() as i64));
    }
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Checks a frame header before buffering the body: returns the payload length, or an error for a
/// length Java would reject (≤ 0 or > 512 KiB), so a hostile peer cannot make us allocate.
pub fn check_frame_len(header: [u8; 4]) -> Result<usize, HandshakeError> {
    let len = i32::from_be_bytes(header);
    usize::try_from(len)
        .ok()
        .filter(|n| (1..=MAX_FRAME_LEN).contains(n))
        .ok_or(HandshakeError::BadFrameLength(i64::from(len)))
}

/// Splits one frame off the front of `buf`: `(payload, bytes consumed)`.
pub fn decode_frame(buf: &[u8]) -> Result<(&[u8], usize), HandshakeError> {
    let header = buf
        .get(0..4)
        .ok_or(HandshakeError::Incomplete { needed: 4 })?;
    let mut h = [0u8; 4];
    h.copy_from_slice(header);
    let len = check_frame_len(h)?;
    let payload = buf
        .get(4..4 + len)
        .ok_or(HandshakeError::Incomplete { needed: 4 + len })?;
    Ok((payload, 4 + len))
}

fn read_i64(buf: &[u8], at: usize) -> Result<i64, HandshakeError> {
    let b = buf
        .get(at..at + 8)
        .ok_or(HandshakeError::Incomplete { needed: at + 8 })?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(i64::from_be_bytes(a))
}

fn read_i32(buf: &[u8], at: usize) -> Result<i32, HandshakeError> {
    let b = buf
        .get(at..at + 4)
        .ok_or(HandshakeError::Incomplete { needed: at + 4 })?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Ok(i32::from_be_bytes(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appendix A.4: Java sid 1 connecting to sid 3.
    #[test]
    fn golden_java_initial_message() {
        let mut golden = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00];
        golden.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        golden.extend_from_slice(&[0, 0, 0, 0x0f]);
        golden.extend_from_slice(b"127.0.0.1:53888");
        let m = InitialMessage::v1(1, "127.0.0.1", 53888);
        assert_eq!(m.encode().expect("enc"), golden);
        let (d, used) = InitialMessage::decode(&golden).expect("dec");
        assert_eq!((d.clone(), used), (m, golden.len()));
        assert_eq!(
            d.addresses().expect("addr"),
            vec![PeerAddress {
                host: "127.0.0.1".into(),
                port: 53888
            }]
        );
    }

    #[test]
    fn legacy_sid_and_incomplete_and_unknown_version() {
        assert_eq!(
            InitialMessage::decode(&7i64.to_be_bytes()),
            Ok((InitialMessage::Legacy { sid: 7 }, 8))
        );
        assert_eq!(
            InitialMessage::decode(&[0xff; 5]),
            Err(HandshakeError::Incomplete { needed: 8 })
        );
        assert_eq!(
            InitialMessage::decode(&(-3i64).to_be_bytes()),
            Err(HandshakeError::UnknownProtocolVersion(-3))
        );
        let full = InitialMessage::v1(2, "h", 1).encode().expect("enc");
        for cut in 8..full.len() {
            assert!(matches!(
                InitialMessage::decode(&full[..cut]),
                Err(HandshakeError::Incomplete { .. })
            ));
        }
    }

    #[test]
    fn address_length_bounds() {
        let mut b = PROTOCOL_VERSION_V1.to_be_bytes().to_vec();
        b.extend_from_slice(&1i64.to_be_bytes());
        for bad in [0i32, -1, 2049] {
            let mut m = b.clone();
            m.extend_from_slice(&bad.to_be_bytes());
            assert_eq!(
                InitialMessage::decode(&m),
                Err(HandshakeError::BadAddressLength(bad))
            );
        }
        let long = InitialMessage::Current {
            protocol_version: PROTOCOL_VERSION_V1,
            sid: 1,
            address: "a".repeat(2049),
        };
        assert!(long.encode().is_err());
    }

    #[test]
    fn v2_addresses_ipv6_and_wildcards() {
        let m = InitialMessage::Current {
            protocol_version: PROTOCOL_VERSION_V2,
            sid: 4,
            address: "[::1]:3888|0.0.0.0:3888|10.0.0.4:3889".into(),
        };
        let (d, _) = InitialMessage::decode(&m.encode().expect("enc")).expect("dec");
        let a = d.addresses().expect("parse");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].host, "::1");
        assert_eq!(a[1].port, 3889);
        assert_eq!(format_host_port("::1", 3888), "[::1]:3888");
        let bad = InitialMessage::Current {
            protocol_version: PROTOCOL_VERSION_V1,
            sid: 1,
            address: "nohostport".into(),
        };
        assert!(bad.addresses().is_err());
    }

    #[test]
    fn larger_sid_wins() {
        use Decision::*;
        assert_eq!(keep_connection(1, 3, true), CloseAndWait);
        assert_eq!(keep_connection(3, 1, true), Keep);
        assert_eq!(keep_connection(3, 1, false), CloseAndConnectBack);
        assert_eq!(keep_connection(1, 3, false), Keep);
        assert_eq!(keep_connection(2, 2, false), RejectSameSid);
        // Whoever dials, the surviving connection is the one dialled by the larger sid.
        for a in 1..5 {
            for b in 1..5 {
                if a == b {
                    continue;
                }
                let big = a.max(b);
                let kept_when_a_dials =
                    keep_connection(a, b, true) == Keep && keep_connection(b, a, false) == Keep;
                assert_eq!(kept_when_a_dials, a == big);
            }
        }
    }

    #[test]
    fn frames() {
        let f = encode_frame(b"abc").expect("enc");
        assert_eq!(f, [0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(decode_frame(&f), Ok((&b"abc"[..], 7)));
        assert_eq!(
            decode_frame(&f[..5]),
            Err(HandshakeError::Incomplete { needed: 7 })
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 0]),
            Err(HandshakeError::BadFrameLength(0))
        );
        assert_eq!(
            decode_frame(&[0, 8, 0, 1]),
            Err(HandshakeError::BadFrameLength(524_289))
        );
        assert_eq!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff]),
            Err(HandshakeError::BadFrameLength(-1))
        );
        assert!(encode_frame(&[]).is_err());
        assert!(encode_frame(&vec![0; MAX_FRAME_LEN]).is_ok());
        assert!(encode_frame(&vec![0; MAX_FRAME_LEN + 1]).is_err());
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn initial_message_decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                if let Ok((m, used)) = InitialMessage::decode(&bytes) {
                    prop_assert!(used <= bytes.len());
                    let _ = m.addresses();
                }
            }

            #[test]
            fn initial_message_decode_is_total_near_v1(
                sid in any::<i64>(), len in -4i32..40,
                body in proptest::collection::vec(any::<u8>(), 0..48),
            ) {
                let mut b = PROTOCOL_VERSION_V1.to_be_bytes().to_vec();
                b.extend_from_slice(&sid.to_be_bytes());
                b.extend_from_slice(&len.to_be_bytes());
                b.extend_from_slice(&body);
                if let Ok((m, _)) = InitialMessage::decode(&b) {
                    prop_assert_eq!(m.sid(), sid);
                    let _ = m.addresses();
                }
            }

            #[test]
            fn initial_message_round_trip(sid in any::<i64>(), host in "[a-z0-9.]{1,40}", port in any::<u16>()) {
                let m = InitialMessage::v1(sid, &host, port);
                let bytes = m.encode().expect("enc");
                prop_assert_eq!(InitialMessage::decode(&bytes), Ok((m.clone(), bytes.len())));
                let a = m.addresses();
                if host != "0.0.0.0" {
                    prop_assert_eq!(a, Ok(vec![PeerAddress { host, port }]));
                }
            }

            #[test]
            fn frame_decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                if let Ok((p, used)) = decode_frame(&bytes) {
                    prop_assert_eq!(p.len() + 4, used);
                }
            }
        }
    }
}
