//! Raw-protocol tests of the client port: exact bytes in, exact replies out, in-process.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use jute::consts::{err, event, op};
use jute::data::Acl;
use jute::proto::*;
use jute::{Jute, Reader};
use server::{ServerSettings, StartState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Client {
    s: TcpStream,
    xid: i32,
    session_id: i64,
    notifications: Vec<WatcherEvent>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30000,
            session_id: 0,
            passwd: Bytes::from_static(&[0u8; 16]),
            read_only: Some(false),
        };
        let mut b = BytesMut::new();
        b.put_i32(0);
        req.write(&mut b);
        let len = (b.len() - 4) as i32;
        b[0..4].copy_from_slice(&len.to_be_bytes());
        s.write_all(&b).await.unwrap();
        let f = read_frame(&mut s).await;
        assert_eq!(f.len(), 37, "connect response with readOnly byte");
        let mut r = Reader::new(f);
        let rsp = ConnectResponse::read(&mut r).unwrap();
        assert_eq!(rsp.time_out, 30000);
        Client {
            s,
            xid: 0,
            session_id: rsp.session_id,
            notifications: Vec::new(),
        }
    }

    async fn call(&mut self, req: Request) -> (ReplyHeader, Reader) {
        self.xid += 1;
        let mut b = BytesMut::new();
        b.put_i32(0);
        RequestHeader {
            xid: self.xid,
            op_type: req.op_code(),
        }
        .write(&mut b);
        req.write_body(&mut b);
        let len = (b.len() - 4) as i32;
        b[0..4].copy_from_slice(&len.to_be_bytes());
        self.s.write_all(&b).await.unwrap();
        loop {
            let f = read_frame(&mut self.s).await;
            let mut r = Reader::new(f);
            let h = ReplyHeader::read(&mut r).unwrap();
            if h.xid == -1 {
                self.notifications.push(WatcherEvent::read(&mut r).unwrap());
                continue;
            }
            assert_eq!(h.xid, self.xid);
            return (h, r);
        }
    }
}

async fn read_frame(s: &mut TcpStream) -> Bytes {
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let n = i32::from_be_bytes(len) as usize;
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await.unwrap();
    Bytes::from(buf)
}

async fn start() -> server::ServerHandle {
    let dir = std::env::temp_dir().join(format!("fk-raw-{}", std::process::id()));
    let mut settings = ServerSettings::standalone("127.0.0.1:0".parse().unwrap(), dir);
    settings.extended_types_enabled = true;
    server::start(settings, StartState::empty()).await.unwrap()
}

fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags,
    })
}

#[tokio::test]
async fn create_get_set_delete_with_stats() {
    let srv = start().await;
    let mut c = Client::connect(srv.local_addr).await;
    let (h, mut r) = c.call(create("/a", b"hello", 0)).await;
    assert_eq!(h.err, 0);
    assert_eq!(CreateResponse::read(&mut r).unwrap().path, "/a");
    let create_zxid = h.zxid;
    let (h, _) = c.call(create("/a", b"x", 0)).await;
    assert_eq!(h.err, err::NODE_EXISTS);
    assert_eq!(h.zxid, create_zxid + 1, "a failed write consumes a zxid");
    let (h, mut r) = c
        .call(Request::GetData(GetDataRequest {
            path: "/a".into(),
            watch: true,
        }))
        .await;
    assert_eq!(h.err, 0);
    let g = GetDataResponse::read(&mut r).unwrap();
    assert_eq!(g.data.as_deref(), Some(&b"hello"[..]));
    assert_eq!(g.stat.czxid, create_zxid);
    assert_eq!(g.stat.data_length, 5);
    let (h, mut r) = c
        .call(Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"w")),
            version: 0,
        }))
        .await;
    assert_eq!(h.err, 0);
    assert_eq!(SetDataResponse::read(&mut r).unwrap().stat.version, 1);
    assert_eq!(
        c.notifications.len(),
        1,
        "notification arrives before the reply"
    );
    assert_eq!(c.notifications[0].event_type, event::NODE_DATA_CHANGED);
    let (h, _) = c
        .call(Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: 5,
        }))
        .await;
    assert_eq!(h.err, err::BAD_VERSION);
    let (h, _) = c
        .call(Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: -1,
        }))
        .await;
    assert_eq!(h.err, 0);
    let (h, _) = c
        .call(Request::Exists(ExistsRequest {
            path: "/a".into(),
            watch: false,
        }))
        .await;
    assert_eq!(h.err, err::NO_NODE);
    srv.shutdown();
}

#[tokio::test]
async fn sequential_and_multi() {
    let srv = start().await;
    let mut c = Client::connect(srv.local_addr).await;
    c.call(create("/s", b"", 0)).await;
    let (_, mut r) = c.call(create("/s/n-", b"", 2)).await;
    assert_eq!(
        CreateResponse::read(&mut r).unwrap().path,
        "/s/n-0000000000"
    );
    let (_, mut r) = c.call(create("/s/n-", b"", 2)).await;
    assert_eq!(
        CreateResponse::read(&mut r).unwrap().path,
        "/s/n-0000000001"
    );
    let multi = MultiRequest {
        ops: vec![
            MultiOp::Create(
                op::CREATE,
                CreateRequest {
                    path: "/m".into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 0,
                },
            ),
            MultiOp::Check(CheckVersionRequest {
                path: "/s".into(),
                version: 7,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/s".into(),
                version: -1,
            }),
        ],
    };
    let (h, mut r) = c.call(Request::Multi(multi)).await;
    assert_eq!(h.err, 0);
    let m = MultiResponse::read(&mut r).unwrap();
    assert_eq!(
        m.results,
        vec![
            OpResult::Error(0),
            OpResult::Error(err::BAD_VERSION),
            OpResult::Error(err::RUNTIME_INCONSISTENCY)
        ]
    );
    let (h, _) = c
        .call(Request::Exists(ExistsRequest {
            path: "/m".into(),
            watch: false,
        }))
        .await;
    assert_eq!(h.err, err::NO_NODE, "failed multi changes nothing");
    srv.shutdown();
}

#[tokio::test]
async fn ephemeral_goes_with_its_session() {
    let srv = start().await;
    let mut a = Client::connect(srv.local_addr).await;
    let mut b = Client::connect(srv.local_addr).await;
    a.call(create("/e", b"", 1)).await;
    let (h, _) = b
        .call(Request::Exists(ExistsRequest {
            path: "/e".into(),
            watch: true,
        }))
        .await;
    assert_eq!(h.err, 0);
    let (h, _) = a.call(Request::CloseSession).await;
    assert_eq!(h.err, 0);
    let (h, _) = b
        .call(Request::Exists(ExistsRequest {
            path: "/e".into(),
            watch: false,
        }))
        .await;
    assert_eq!(h.err, err::NO_NODE);
    assert_eq!(b.notifications.len(), 1);
    assert_eq!(b.notifications[0].event_type, event::NODE_DELETED);
    assert_ne!(a.session_id, b.session_id);
    srv.shutdown();
}
