//! Server → client frames: a 4-byte length, a `ReplyHeader`, and an optional body. Built once,
//! shared as `Bytes` (a notification goes to every watcher) and written by the connection's
//! outbox.

use bytes::{BufMut, Bytes, BytesMut};
use jute::consts::{state, xid};
use jute::proto::{ReplyHeader, WatcherEvent};
use jute::Jute;

/// Encodes a complete reply frame (length prefix included).
pub fn reply<T: Jute>(xid: i32, zxid: i64, err: i32, body: Option<&T>) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    out.put_i32(0);
    ReplyHeader { xid, zxid, err }.write(&mut out);
    if let Some(b) = body {
        b.write(&mut out);
    }
    finish(out)
}

/// A getChildren (`stat: None`) or getChildren2 reply, encoded straight from the tree's child
/// names: no `String` per child, one buffer sized up front.
pub fn children_reply<'a>(
    xid: i32,
    zxid: i64,
    count: usize,
    names: impl Iterator<Item = &'a str>,
    stat: Option<&jute::data::Stat>,
) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + 16 + 4 + count * 16 + 68);
    out.put_i32(0);
    ReplyHeader { xid, zxid, err: 0 }.write(&mut out);
    out.put_i32(i32::try_from(count).unwrap_or(i32::MAX));
    for name in names {
        out.put_i32(i32::try_from(name.len()).unwrap_or(i32::MAX));
        out.put_slice(name.as_bytes());
    }
    if let Some(st) = stat {
        st.write(&mut out);
    }
    finish(out)
}

/// A header-only reply (errors, and ops whose success has no body).
pub fn header_only(xid: i32, zxid: i64, err: i32) -> Bytes {
    reply::<i32>(xid, zxid, err, None)
}

/// A watch notification (xid -1).
pub fn notification(zxid: i64, event_type: i32, path: &str) -> Bytes {
    let ev = WatcherEvent {
        event_type,
        state: state::SYNC_CONNECTED,
        path: path.to_string(),
    };
    reply(xid::NOTIFICATION, zxid, 0, Some(&ev))
}

/// Writes the length of `out` (minus the prefix) into its first 4 bytes.
pub fn finish(mut out: BytesMut) -> Bytes {
    let len = (out.len() - 4) as i32;
    out[0..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

/// A frame around an arbitrary record (the ConnectResponse, which has no ReplyHeader).
pub fn raw<T: Jute>(body: &T, trailing_read_only: Option<bool>) -> Bytes {
    let mut out = BytesMut::with_capacity(48);
    out.put_i32(0);
    body.write(&mut out);
    if let Some(ro) = trailing_read_only {
        out.put_u8(ro as u8);
    }
    finish(out)
}

/// The ConnectResponse frame of an established session (its password derived from its id), or,
/// with `session = None`, the all-zero answer that tells a client its session is gone.
pub fn connect_response(session: Option<(i64, i32)>, trailing_read_only: Option<bool>) -> Bytes {
    let (session_id, time_out, passwd) = match session {
        Some((id, timeout)) => (
            id,
            timeout,
            Bytes::copy_from_slice(&crate::session::session_password(id)),
        ),
        None => (0, 0, Bytes::from_static(&[0u8; 16])),
    };
    let rsp = jute::proto::ConnectResponse {
        protocol_version: 0,
        time_out,
        session_id,
        passwd,
    };
    raw(&rsp, trailing_read_only)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::data::Stat;
    use jute::proto::{GetChildren2Response, GetChildrenResponse};

    #[test]
    fn children_reply_is_the_jute_encoding() {
        let names = ["a", "bb", ""];
        let owned: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let stat = Stat {
            czxid: 1,
            num_children: 3,
            pzxid: 9,
            ..Default::default()
        };
        assert_eq!(
            children_reply(7, 42, 3, names.iter().copied(), None),
            reply(
                7,
                42,
                0,
                Some(&GetChildrenResponse {
                    children: owned.clone()
                })
            )
        );
        assert_eq!(
            children_reply(7, 42, 3, names.iter().copied(), Some(&stat)),
            reply(
                7,
                42,
                0,
                Some(&GetChildren2Response {
                    children: owned,
                    stat
                })
            )
        );
        assert_eq!(
            children_reply(1, 2, 0, std::iter::empty(), None),
            reply(1, 2, 0, Some(&GetChildrenResponse { children: vec![] }))
        );
    }
}
