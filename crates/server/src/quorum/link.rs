//! The quorum port (2888): one TCP connection per learner, carrying jute `QuorumPacket`s back to
//! back with no extra framing, and after a SNAP packet the snapshot stream. Each link has a reader
//! thread (packets in, as [`PeerEvent`]s) and a writer thread (packets out, coalesced); the
//! blocking threads keep the SNAP stream simple: it is read and written in place.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use jute::data::Id;
use jute::quorum::{packet, QuorumPacket};
use tracing::{debug, info, warn};
use zab::Sid;

use super::peer::PeerEvent;

/// Largest packet payload accepted (a PROPOSAL carries at most a jute.maxbuffer request, a
/// REQUEST the same; leave room for headers).
pub const MAX_PACKET_DATA: usize = 64 * 1024 * 1024;

/// What a link's writer sends.
pub enum LinkOut {
    Packet(QuorumPacket),
    /// `SNAP(zxid)` then the sync stream, once the apply stage has serialized it.
    Snapshot {
        zxid: i64,
        body: Receiver<Result<Bytes, String>>,
    },
}

/// A live connection to a peer.
pub struct Link {
    pub sid: Sid,
    pub gen: u64,
    tx: Sender<LinkOut>,
    stream: TcpStream,
}

impl Link {
    pub fn send(&self, out: LinkOut) {
        let _ = self.tx.send(out);
    }

    /// Closes the socket; the reader then reports the link down.
    pub fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.close();
    }
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_gen() -> u64 {
    GENERATION.fetch_add(1, Ordering::Relaxed)
}

fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_be_bytes(b))
}

fn read_i64(r: &mut impl Read) -> io::Result<i64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(i64::from_be_bytes(b))
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn read_buffer(r: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let len = read_i32(r)?;
    if len < 0 {
        return Ok(None);
    }
    if len as usize > max {
        return Err(bad(format!("field length {len} exceeds {max}")));
    }
    let mut v = vec![0u8; len as usize];
    r.read_exact(&mut v)?;
    Ok(Some(v))
}

fn read_string(r: &mut impl Read) -> io::Result<String> {
    let v = read_buffer(r, 1024 * 1024)?.unwrap_or_default();
    String::from_utf8(v).map_err(|_| bad("string is not UTF-8".into()))
}

/// Reads one `QuorumPacket` (type, zxid, data, authinfo).
pub fn read_packet(r: &mut impl Read) -> io::Result<QuorumPacket> {
    let packet_type = read_i32(r)?;
    let zxid = read_i64(r)?;
    let data = read_buffer(r, MAX_PACKET_DATA)?.map(Bytes::from);
    let n = read_i32(r)?;
    let authinfo = if n < 0 {
        None
    } else {
        if n > 1024 {
            return Err(bad(format!("{n} auth ids in one packet")));
        }
        let mut ids = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let scheme = read_string(r)?;
            let id = read_string(r)?;
            ids.push(Id { scheme, id });
        }
        Some(ids)
    };
    Ok(QuorumPacket {
        packet_type,
        zxid,
        data,
        authinfo,
    })
}

/// Copies every byte read through it, so the raw SNAP stream can be handed on as parsed.
struct Tee<'a, R> {
    inner: &'a mut R,
    copy: Vec<u8>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

fn write_loop(stream: TcpStream, rx: Receiver<LinkOut>, sid: Sid) {
    let closer = stream.try_clone().ok();
    let mut w = BufWriter::with_capacity(64 * 1024, stream);
    let write_one = |w: &mut BufWriter<TcpStream>, m: LinkOut| -> io::Result<()> {
        match m {
            LinkOut::Packet(p) => w.write_all(&zab::packets::encode(&p)),
            LinkOut::Snapshot { zxid, body } => {
                let data = body
                    .recv()
                    .map_err(|_| bad("snapshot serializer went away".into()))?
                    .map_err(|e| bad(format!("snapshot serialization failed: {e}")))?;
                let snap = QuorumPacket::new(packet::SNAP, zxid, None);
                w.write_all(&zab::packets::encode(&snap))?;
                w.write_all(&data)?;
                info!(
                    peer = sid,
                    zxid = format!("0x{zxid:x}"),
                    bytes = data.len(),
                    "sent SNAP"
                );
                Ok(())
            }
        }
    };
    'outer: while let Ok(first) = rx.recv() {
        if let Err(e) = write_one(&mut w, first) {
            debug!(peer = sid, error = %e, "quorum link write failed");
            break;
        }
        while let Ok(m) = rx.try_recv() {
            if let Err(e) = write_one(&mut w, m) {
                debug!(peer = sid, error = %e, "quorum link write failed");
                break 'outer;
            }
        }
        if let Err(e) = w.flush() {
            debug!(peer = sid, error = %e, "quorum link flush failed");
            break;
        }
    }
    if let Some(s) = closer {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// Reads packets until the stream ends; a SNAP packet is followed by its stream (learners only).
fn read_loop(
    mut r: BufReader<TcpStream>,
    sid: Sid,
    gen: u64,
    learner: bool,
    events: &Sender<PeerEvent>,
) {
    loop {
        let p = match read_packet(&mut r) {
            Ok(p) => p,
            Err(e) => {
                debug!(peer = sid, error = %e, "quorum link closed");
                break;
            }
        };
        if learner && p.packet_type == packet::SNAP {
            let mut tee = Tee {
                inner: &mut r,
                copy: Vec::new(),
            };
            let started = Instant::now();
            match storage::snapshot::read_sync_stream(&mut tee, &mut storage::snapshot::NullVisitor)
            {
                Ok(info) => {
                    info!(
                        leader = sid,
                        zxid = format!("0x{:x}", p.zxid),
                        nodes = info.nodes,
                        ms = started.elapsed().as_millis() as u64,
                        "received SNAP"
                    );
                    let data = Bytes::from(tee.copy);
                    if events
                        .send(PeerEvent::Snapshot {
                            sid,
                            gen,
                            zxid: p.zxid,
                            data,
                        })
                        .is_err()
                    {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    warn!(leader = sid, error = %e, "bad SNAP stream from the leader");
                    break;
                }
            }
        }
        if events.send(PeerEvent::Packet { sid, gen, pkt: p }).is_err() {
            break;
        }
    }
    let _ = events.send(PeerEvent::LinkDown { sid, gen });
}

fn start_link(stream: TcpStream, sid: Sid, gen: u64) -> io::Result<(Link, Sender<LinkOut>)> {
    let (tx, rx) = mpsc::channel();
    let w = stream.try_clone()?;
    thread::Builder::new()
        .name(format!("zab-w-{sid}"))
        .spawn(move || write_loop(w, rx, sid))?;
    Ok((
        Link {
            sid,
            gen,
            tx: tx.clone(),
            stream,
        },
        tx,
    ))
}

/// Leader side: accepts learners forever; each connection's first packet (FOLLOWERINFO /
/// OBSERVERINFO) names its sid, then the link is handed to the peer thread.
pub fn spawn_acceptor(listener: TcpListener, events: Sender<PeerEvent>) -> io::Result<()> {
    thread::Builder::new()
        .name("zab-accept".into())
        .spawn(move || loop {
            let (stream, remote) = match listener.accept() {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "quorum port accept failed");
                    thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let events = events.clone();
            let spawned = thread::Builder::new()
                .name("zab-r".into())
                .spawn(move || accept_one(stream, remote, events));
            if let Err(e) = spawned {
                warn!(error = %e, "cannot start a learner reader thread");
            }
        })?;
    Ok(())
}

fn accept_one(stream: TcpStream, remote: SocketAddr, events: Sender<PeerEvent>) {
    let _ = stream.set_nodelay(true);
    let Ok(rs) = stream.try_clone() else { return };
    let mut r = BufReader::with_capacity(64 * 1024, rs);
    // A learner that connects and says nothing is dropped after a while.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let first = match read_packet(&mut r) {
        Ok(p) => p,
        Err(e) => {
            debug!(%remote, error = %e, "learner connection closed before its first packet");
            return;
        }
    };
    let _ = stream.set_read_timeout(None);
    if first.packet_type != packet::FOLLOWERINFO && first.packet_type != packet::OBSERVERINFO {
        warn!(%remote, packet = first.packet_type, "learner did not start with FOLLOWERINFO/OBSERVERINFO; closing");
        return;
    }
    let sid = match zab::packets::parse_learner_info(&first.data) {
        Ok(li) => li.sid,
        Err(e) => {
            warn!(%remote, error = %e, "bad LearnerInfo; closing");
            return;
        }
    };
    let gen = next_gen();
    let (link, _) = match start_link(stream, sid, gen) {
        Ok(x) => x,
        Err(e) => {
            warn!(%remote, error = %e, "cannot start a learner link");
            return;
        }
    };
    info!(%remote, sid, "learner connected");
    if events.send(PeerEvent::LinkUp(link)).is_err() {
        return;
    }
    if events
        .send(PeerEvent::Packet {
            sid,
            gen,
            pkt: first,
        })
        .is_err()
    {
        return;
    }
    read_loop(r, sid, gen, false, &events);
}

/// Learner side: a link to the leader whose connection is being made in the background (with
/// retries for `limit`: the leader may not listen yet). Packets queued before it connects are
/// sent once it does; if it never does, the link is reported down.
pub fn connect_to_leader(
    leader: Sid,
    addrs: Vec<(String, u16)>,
    limit: Duration,
    events: Sender<PeerEvent>,
) -> io::Result<PendingLink> {
    let (tx, rx) = mpsc::channel::<LinkOut>();
    let gen = next_gen();
    let (stream_tx, stream_rx) = mpsc::channel::<TcpStream>();
    thread::Builder::new()
        .name(format!("zab-connect-{leader}"))
        .spawn(move || {
            let deadline = Instant::now() + limit;
            let mut attempt = 0u32;
            let stream = loop {
                attempt += 1;
                let mut last_err = String::from("no address");
                let mut found = None;
                for (host, port) in &addrs {
                    // Re-resolved on every attempt: a Kubernetes pod's name may appear late.
                    let resolved: Vec<SocketAddr> = match (host.as_str(), *port).to_socket_addrs() {
                        Ok(a) => a.collect(),
                        Err(e) => {
                            last_err = format!("cannot resolve {host}: {e}");
                            continue;
                        }
                    };
                    for a in resolved {
                        match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                            Ok(s) => {
                                found = Some(s);
                                break;
                            }
                            Err(e) => last_err = format!("{a}: {e}"),
                        }
                    }
                    if found.is_some() {
                        break;
                    }
                }
                if let Some(s) = found {
                    break Some(s);
                }
                if Instant::now() >= deadline {
                    warn!(leader, attempts = attempt, error = %last_err, "cannot connect to the leader");
                    break None;
                }
                debug!(leader, attempt, error = %last_err, "leader not reachable yet; retrying");
                thread::sleep(Duration::from_millis(200));
            };
            let Some(stream) = stream else {
                let _ = events.send(PeerEvent::LinkDown { sid: leader, gen });
                return;
            };
            let _ = stream.set_nodelay(true);
            let (Ok(w), Ok(rs), Ok(keep)) =
                (stream.try_clone(), stream.try_clone(), stream.try_clone())
            else {
                let _ = events.send(PeerEvent::LinkDown { sid: leader, gen });
                return;
            };
            let _ = stream_tx.send(keep);
            info!(leader, "connected to the leader");
            let writer = thread::Builder::new()
                .name(format!("zab-w-{leader}"))
                .spawn(move || write_loop(w, rx, leader));
            if writer.is_err() {
                let _ = events.send(PeerEvent::LinkDown { sid: leader, gen });
                return;
            }
            let r = BufReader::with_capacity(256 * 1024, rs);
            read_loop(r, leader, gen, true, &events);
        })?;
    Ok(PendingLink {
        sid: leader,
        gen,
        tx,
        stream: stream_rx,
        connected: None,
    })
}

/// The learner's link to its leader (the socket arrives once connected).
pub struct PendingLink {
    pub sid: Sid,
    pub gen: u64,
    tx: Sender<LinkOut>,
    stream: Receiver<TcpStream>,
    connected: Option<TcpStream>,
}

impl PendingLink {
    pub fn send(&self, out: LinkOut) {
        let _ = self.tx.send(out);
    }

    pub fn close(&mut self) {
        if self.connected.is_none() {
            self.connected = self.stream.try_recv().ok();
        }
        if let Some(s) = &self.connected {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for PendingLink {
    fn drop(&mut self) {
        self.close();
    }
}

/// Binds the quorum port, retrying briefly if the address is still in use after a restart.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..10 {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) => {
                warn!(%addr, error = %e, "cannot bind the quorum port yet; retrying");
                last = Some(e);
                thread::sleep(Duration::from_millis(500));
            }
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("bind failed")))
}
