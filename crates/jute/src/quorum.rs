//! Quorum-port records (`org.apache.zookeeper.server.quorum`) and ZAB packet types.

use bytes::Bytes;

use crate::data::Id;
use crate::jute_record;

jute_record! {
    /// Sent in FOLLOWERINFO / OBSERVERINFO (20 bytes).
    pub struct LearnerInfo { pub server_id: i64, pub protocol_version: i32, pub config_version: i64 }
    /// Every message on the ZAB port; `data` and `authinfo` are usually null (-1).
    pub struct QuorumPacket {
        pub packet_type: i32,
        pub zxid: i64,
        pub data: Option<Bytes>,
        pub authinfo: Option<Vec<Id>>,
    }
    pub struct QuorumAuthPacket { pub magic: i64, pub status: i32, pub token: Option<Bytes> }
}

/// ZAB packet types (`Leader.java` constants).
pub mod packet {
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    pub const PING: i32 = 5;
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    pub const INFORM: i32 = 8;
    pub const COMMITANDACTIVATE: i32 = 9;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    pub const INFORMANDACTIVATE: i32 = 19;
}

/// ZAB protocol version exchanged in LearnerInfo and LEADERINFO.
pub const ZAB_PROTOCOL_VERSION: i32 = 0x10000;

impl QuorumPacket {
    pub fn new(packet_type: i32, zxid: i64, data: Option<Bytes>) -> QuorumPacket {
        QuorumPacket {
            packet_type,
            zxid,
            data,
            authinfo: None,
        }
    }
}
