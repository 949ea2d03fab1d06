//! Builders and parsers for every `QuorumPacket` the core sends or receives, with Java's exact field
//! usage (which zxid goes where, which data layout, null vs empty buffers). Parsing never panics:
//! a bad body is a [`PacketError`].

use bytes::{BufMut, Bytes, BytesMut};
use jute::data::Id;
use jute::quorum::{packet, LearnerInfo, QuorumPacket, ZAB_PROTOCOL_VERSION};
use jute::{Jute, Reader};
use thiserror::Error;

use crate::zxid::{make_zxid, Zxid};
use crate::Sid;

/// A packet body that does not have the layout its type requires.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{kind}: {reason}")]
pub struct PacketError {
    /// Packet type name.
    pub kind: &'static str,
    /// What was wrong.
    pub reason: String,
}

fn perr(kind: &'static str, reason: impl Into<String>) -> PacketError {
    PacketError {
        kind,
        reason: reason.into(),
    }
}

/// Java's name of a packet type (`LearnerHandler.packetToString`), for logs and errors.
pub fn type_name(t: i32) -> &'static str {
    match t {
        packet::REQUEST => "REQUEST",
        packet::PROPOSAL => "PROPOSAL",
        packet::ACK => "ACK",
        packet::COMMIT => "COMMIT",
        packet::PING => "PING",
        packet::REVALIDATE => "REVALIDATE",
        packet::SYNC => "SYNC",
        packet::INFORM => "INFORM",
        packet::COMMITANDACTIVATE => "COMMITANDACTIVATE",
        packet::NEWLEADER => "NEWLEADER",
        packet::FOLLOWERINFO => "FOLLOWERINFO",
        packet::UPTODATE => "UPTODATE",
        packet::DIFF => "DIFF",
        packet::TRUNC => "TRUNC",
        packet::SNAP => "SNAP",
        packet::OBSERVERINFO => "OBSERVERINFO",
        packet::LEADERINFO => "LEADERINFO",
        packet::ACKEPOCH => "ACKEPOCH",
        packet::INFORMANDACTIVATE => "INFORMANDACTIVATE",
        _ => "UNKNOWN",
    }
}

fn int_bytes(v: i32) -> Bytes {
    Bytes::copy_from_slice(&v.to_be_bytes())
}

fn read_int(kind: &'static str, data: &Option<Bytes>) -> Result<i32, PacketError> {
    let d = data.as_ref().ok_or_else(|| perr(kind, "missing data"))?;
    let mut r = Reader::new(d.clone());
    r.read_i32().map_err(|e| perr(kind, e.to_string()))
}

/// FOLLOWERINFO / OBSERVERINFO: zxid = `acceptedEpoch << 32` (not the last zxid), data = LearnerInfo.
pub fn learner_info(
    observer: bool,
    accepted_epoch: i64,
    sid: Sid,
    config_version: i64,
) -> QuorumPacket {
    let info = LearnerInfo {
        server_id: sid,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version,
    };
    let t = if observer {
        packet::OBSERVERINFO
    } else {
        packet::FOLLOWERINFO
    };
    QuorumPacket::new(
        t,
        make_zxid(accepted_epoch, 0),
        Some(jute::encode_to_bytes(&info)),
    )
}

/// What a leader learns from FOLLOWERINFO / OBSERVERINFO data. Like Java, shorter data is
/// tolerated: 8 bytes give the sid, 12 the protocol version, 20 the config version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfoFields {
    /// Learner's server id.
    pub sid: Sid,
    /// Its ZAB protocol version (0 when absent).
    pub protocol_version: i32,
    /// Its config version, when sent.
    pub config_version: Option<i64>,
}

/// Parses LearnerInfo data with Java's length tolerance. Null data (pre-3.4 learners, which Java
/// numbers with a counter) is rejected.
pub fn parse_learner_info(data: &Option<Bytes>) -> Result<LearnerInfoFields, PacketError> {
    const K: &str = "FOLLOWERINFO";
    let d = data
        .as_ref()
        .ok_or_else(|| perr(K, "missing LearnerInfo"))?;
    if d.len() < 8 {
        return Err(perr(K, format!("LearnerInfo of {} bytes", d.len())));
    }
    let mut r = Reader::new(d.clone());
    let sid = r.read_i64().map_err(|e| perr(K, e.to_string()))?;
    let protocol_version = if d.len() >= 12 {
        r.read_i32().map_err(|e| perr(K, e.to_string()))?
    } else {
        0
    };
    let config_version = if d.len() >= 20 {
        Some(r.read_i64().map_err(|e| perr(K, e.to_string()))?)
    } else {
        None
    };
    Ok(LearnerInfoFields {
        sid,
        protocol_version,
        config_version,
    })
}

/// LEADERINFO: zxid = `newEpoch << 32`, data = int protocol version 0x10000.
pub fn leader_info(new_epoch: i64) -> QuorumPacket {
    QuorumPacket::new(
        packet::LEADERINFO,
        make_zxid(new_epoch, 0),
        Some(int_bytes(ZAB_PROTOCOL_VERSION)),
    )
}

/// The leader's protocol version from LEADERINFO data.
pub fn parse_leader_info(p: &QuorumPacket) -> Result<i32, PacketError> {
    read_int("LEADERINFO", &p.data)
}

/// ACKEPOCH: zxid = learner's last logged zxid, data = int currentEpoch, or -1 when the epoch had
/// already been accepted (such an ACKEPOCH is not counted by the leader).
pub fn ack_epoch(last_zxid: Zxid, current_epoch_or_minus_one: i32) -> QuorumPacket {
    QuorumPacket::new(
        packet::ACKEPOCH,
        last_zxid,
        Some(int_bytes(current_epoch_or_minus_one)),
    )
}

/// The int epoch of an ACKEPOCH.
pub fn parse_ack_epoch(p: &QuorumPacket) -> Result<i32, PacketError> {
    read_int("ACKEPOCH", &p.data)
}

/// A packet with null data.
pub fn bare(packet_type: i32, zxid: Zxid) -> QuorumPacket {
    QuorumPacket::new(packet_type, zxid, None)
}

/// PROPOSAL: zxid of the txn, data = TxnEntry bytes.
pub fn proposal(zxid: Zxid, payload: Bytes) -> QuorumPacket {
    QuorumPacket::new(packet::PROPOSAL, zxid, Some(payload))
}

/// INFORM (leader → observer): same data as PROPOSAL.
pub fn inform(zxid: Zxid, payload: Bytes) -> QuorumPacket {
    QuorumPacket::new(packet::INFORM, zxid, Some(payload))
}

/// NEWLEADER: zxid = `newEpoch << 32`, data = the QuorumVerifier string.
pub fn new_leader(new_epoch: i64, config: &str) -> QuorumPacket {
    QuorumPacket::new(
        packet::NEWLEADER,
        make_zxid(new_epoch, 0),
        Some(Bytes::copy_from_slice(config.as_bytes())),
    )
}

/// UPTODATE: zxid -1, null data.
pub fn up_to_date() -> QuorumPacket {
    bare(packet::UPTODATE, -1)
}

/// SYNC (leader → learner): zxid 0, null data.
pub fn sync() -> QuorumPacket {
    bare(packet::SYNC, 0)
}

/// A session touch reported in a PING reply: `(long sessionId, int timeout)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionTouch {
    /// Session id.
    pub session_id: i64,
    /// Its negotiated timeout, ms.
    pub timeout: i32,
}

/// A learner's PING reply: echoes the zxid; data is the touch table, an *empty* (not null) buffer
/// when there is nothing to report.
pub fn ping_reply(zxid: Zxid, touches: &[SessionTouch]) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(touches.len() * 12);
    for t in touches {
        b.put_i64(t.session_id);
        b.put_i32(t.timeout);
    }
    QuorumPacket::new(packet::PING, zxid, Some(b.freeze()))
}

/// The touch table of a PING reply (null data is read as empty; a partial record is an error, as
/// Java's `DataInputStream` would throw).
pub fn parse_ping_reply(p: &QuorumPacket) -> Result<Vec<SessionTouch>, PacketError> {
    let Some(d) = p.data.as_ref() else {
        return Ok(Vec::new());
    };
    if d.len() % 12 != 0 {
        return Err(perr("PING", format!("touch table of {} bytes", d.len())));
    }
    let mut r = Reader::new(d.clone());
    let mut out = Vec::with_capacity(d.len() / 12);
    while !r.is_empty() {
        let session_id = r.read_i64().map_err(|e| perr("PING", e.to_string()))?;
        let timeout = r.read_i32().map_err(|e| perr("PING", e.to_string()))?;
        out.push(SessionTouch {
            session_id,
            timeout,
        });
    }
    Ok(out)
}

/// A client request a learner forwards to the leader's prep stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    /// Learner that forwarded it (filled in by the leader; the learner's own sid when built).
    pub from: Sid,
    /// Client session.
    pub session_id: i64,
    /// Client xid.
    pub cxid: i32,
    /// Opcode.
    pub op: i32,
    /// The request record bytes (everything after the client's RequestHeader).
    pub body: Bytes,
    /// The session's auth Ids (null for e.g. createSession).
    pub authinfo: Option<Vec<Id>>,
}

/// REQUEST: zxid -1, data = `long sessionId, int cxid, int type` + request bytes, authinfo = Ids.
pub fn request(r: &ForwardedRequest) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(16 + r.body.len());
    b.put_i64(r.session_id);
    b.put_i32(r.cxid);
    b.put_i32(r.op);
    b.put_slice(&r.body);
    QuorumPacket {
        packet_type: packet::REQUEST,
        zxid: -1,
        data: Some(b.freeze()),
        authinfo: r.authinfo.clone(),
    }
}

/// Parses a REQUEST packet from learner `from`.
pub fn parse_request(from: Sid, p: &QuorumPacket) -> Result<ForwardedRequest, PacketError> {
    const K: &str = "REQUEST";
    let d = p.data.as_ref().ok_or_else(|| perr(K, "missing data"))?;
    let mut r = Reader::new(d.clone());
    let session_id = r.read_i64().map_err(|e| perr(K, e.to_string()))?;
    let cxid = r.read_i32().map_err(|e| perr(K, e.to_string()))?;
    let op = r.read_i32().map_err(|e| perr(K, e.to_string()))?;
    Ok(ForwardedRequest {
        from,
        session_id,
        cxid,
        op,
        body: r.rest(),
        authinfo: p.authinfo.clone(),
    })
}

/// REVALIDATE learner → leader: zxid -1, data = `long sessionId, int timeout`.
pub fn revalidate_request(session_id: i64, timeout: i32) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(12);
    b.put_i64(session_id);
    b.put_i32(timeout);
    QuorumPacket::new(packet::REVALIDATE, -1, Some(b.freeze()))
}

/// `(sessionId, timeout)` of a learner's REVALIDATE.
pub fn parse_revalidate_request(p: &QuorumPacket) -> Result<SessionTouch, PacketError> {
    const K: &str = "REVALIDATE";
    let d = p.data.as_ref().ok_or_else(|| perr(K, "missing data"))?;
    let mut r = Reader::new(d.clone());
    let session_id = r.read_i64().map_err(|e| perr(K, e.to_string()))?;
    let timeout = r.read_i32().map_err(|e| perr(K, e.to_string()))?;
    Ok(SessionTouch {
        session_id,
        timeout,
    })
}

/// REVALIDATE leader → learner: the request's zxid echoed, data = `long sessionId, boolean valid`.
pub fn revalidate_answer(zxid: Zxid, session_id: i64, valid: bool) -> QuorumPacket {
    let mut b = BytesMut::with_capacity(9);
    b.put_i64(session_id);
    b.put_u8(valid as u8);
    QuorumPacket::new(packet::REVALIDATE, zxid, Some(b.freeze()))
}

/// `(sessionId, valid)` of the leader's REVALIDATE answer.
pub fn parse_revalidate_answer(p: &QuorumPacket) -> Result<(i64, bool), PacketError> {
    const K: &str = "REVALIDATE";
    let d = p.data.as_ref().ok_or_else(|| perr(K, "missing data"))?;
    let mut r = Reader::new(d.clone());
    let session_id = r.read_i64().map_err(|e| perr(K, e.to_string()))?;
    let valid = r.read_bool().map_err(|e| perr(K, e.to_string()))?;
    Ok((session_id, valid))
}

/// Serialises a packet exactly as it goes on the quorum port (no extra framing).
pub fn encode(p: &QuorumPacket) -> Bytes {
    jute::encode_to_bytes(p)
}

/// Reads one packet from the front of `r` (the stream is packets back to back).
pub fn decode(r: &mut Reader) -> Result<QuorumPacket, jute::DecodeError> {
    QuorumPacket::read(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
            .collect()
    }

    // Appendix A.4: Java as leader.
    #[test]
    fn golden_leaderinfo() {
        let p = leader_info(1);
        assert_eq!(
            encode(&p).to_vec(),
            unhex("00000011 0000000100000000 00000004 00010000 ffffffff")
        );
        assert_eq!(parse_leader_info(&p), Ok(0x10000));
    }

    #[test]
    fn golden_diff_uptodate_commit() {
        assert_eq!(
            encode(&bare(packet::DIFF, 0)).to_vec(),
            unhex("0000000d 0000000000000000 ffffffff ffffffff")
        );
        assert_eq!(
            encode(&up_to_date()).to_vec(),
            unhex("0000000c ffffffffffffffff ffffffff ffffffff")
        );
        assert_eq!(
            encode(&bare(packet::COMMIT, 0x2_0000_0001)).to_vec(),
            unhex("00000004 0000000200000001 ffffffff ffffffff")
        );
        assert_eq!(
            encode(&bare(packet::PING, 0x1_0000_0000)).to_vec(),
            unhex("00000005 0000000100000000 ffffffff ffffffff")
        );
    }

    // Appendix A.4: Java as follower.
    #[test]
    fn golden_followerinfo() {
        let p = learner_info(false, 2, 1, 0);
        assert_eq!(
            encode(&p).to_vec(),
            unhex("0000000b 0000000200000000 00000014 0000000000000001 00010000 0000000000000000 ffffffff")
        );
        let f = parse_learner_info(&p.data).expect("valid");
        assert_eq!(f.sid, 1);
        assert_eq!(f.protocol_version, 0x10000);
        assert_eq!(f.config_version, Some(0));
        assert_eq!(
            learner_info(true, 2, 1, 0).packet_type,
            packet::OBSERVERINFO
        );
    }

    #[test]
    fn golden_ackepoch_and_acks() {
        let p = ack_epoch(0x2_0000_0003, 2);
        assert_eq!(
            encode(&p).to_vec(),
            unhex("00000012 0000000200000003 00000004 00000002 ffffffff")
        );
        assert_eq!(parse_ack_epoch(&p), Ok(2));
        assert_eq!(
            encode(&bare(packet::ACK, 0x3_0000_0000)).to_vec(),
            unhex("00000003 0000000300000000 ffffffff ffffffff")
        );
    }

    #[test]
    fn golden_ping_replies() {
        let empty = ping_reply(0x3_0000_0000, &[]);
        assert_eq!(
            encode(&empty).to_vec(),
            unhex("00000005 0000000300000000 00000000 ffffffff")
        );
        let touch = SessionTouch {
            session_id: 0x0100_000c_a3ad_0000,
            timeout: 6000,
        };
        let one = ping_reply(0x3_0000_0001, &[touch]);
        assert_eq!(
            one.data.as_deref(),
            Some(&unhex("0100000ca3ad0000 00001770")[..])
        );
        assert_eq!(parse_ping_reply(&one), Ok(vec![touch]));
        assert_eq!(parse_ping_reply(&bare(packet::PING, 1)), Ok(vec![]));
        let torn = QuorumPacket::new(packet::PING, 1, Some(Bytes::from_static(&[1, 2, 3])));
        assert!(parse_ping_reply(&torn).is_err());
    }

    #[test]
    fn golden_request_create_session() {
        let r = ForwardedRequest {
            from: 1,
            session_id: 0x0100_000c_a3ad_0000,
            cxid: 0,
            op: jute::consts::op::CREATE_SESSION,
            body: Bytes::from_static(&[0, 0, 0x17, 0x70]),
            authinfo: None,
        };
        let p = request(&r);
        assert_eq!(
            encode(&p).to_vec(),
            unhex("00000001 ffffffffffffffff 00000014 0100000ca3ad0000 00000000 fffffff6 00001770 ffffffff")
        );
        assert_eq!(parse_request(1, &p), Ok(r));
    }

    #[test]
    fn newleader_and_revalidate() {
        let p = new_leader(3, "server.1=a:1:2:participant\nversion=0");
        assert_eq!(p.zxid, 0x3_0000_0000);
        assert_eq!(
            p.data.as_deref(),
            Some(&b"server.1=a:1:2:participant\nversion=0"[..])
        );
        let q = revalidate_request(7, 3000);
        assert_eq!(q.zxid, -1);
        assert_eq!(
            parse_revalidate_request(&q),
            Ok(SessionTouch {
                session_id: 7,
                timeout: 3000
            })
        );
        let a = revalidate_answer(-1, 7, true);
        assert_eq!(a.data.as_deref(), Some(&unhex("0000000000000007 01")[..]));
        assert_eq!(parse_revalidate_answer(&a), Ok((7, true)));
    }

    #[test]
    fn garbage_never_panics() {
        let bad = QuorumPacket::new(packet::REQUEST, -1, Some(Bytes::from_static(&[1])));
        assert!(parse_request(1, &bad).is_err());
        assert!(parse_learner_info(&None).is_err());
        assert!(parse_learner_info(&Some(Bytes::from_static(&[0; 7]))).is_err());
        assert!(parse_ack_epoch(&bare(packet::ACKEPOCH, 0)).is_err());
        assert!(parse_revalidate_answer(&bare(packet::REVALIDATE, 0)).is_err());
        let f = parse_learner_info(&Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 9])))
            .expect("8 bytes is enough");
        assert_eq!(f.sid, 9);
        assert_eq!(f.config_version, None);
    }
}
