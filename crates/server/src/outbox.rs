//! A connection's outgoing bytes. Whoever produces a frame (the connection's reader, the apply
//! stage, a watch firing) writes it to the socket itself with a non-blocking write, so a reply
//! costs one syscall and wakes no other thread. Only when the socket cannot take everything (the
//! client reads slowly) does the rest wait in a buffer that the connection's writer task drains
//! as the socket becomes writable; until it is drained, later frames queue behind it, so frames
//! always leave in the order they were produced.
//!
//! A reader holding several complete requests "corks" the outbox while it answers them, so their
//! replies leave in one write. The apply stage sends a whole batch under a [`SendBatch`]: frames
//! are only queued while it holds the tree lock, and written once it has let go of it.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

/// Queued bytes above which a connection is considered dead weight: its client stopped reading.
/// (Java has no such bound; this only keeps one stuck client from exhausting memory.)
const MAX_QUEUED: usize = 256 * 1024 * 1024;

#[derive(Default)]
struct State {
    /// Bytes produced but not yet written, oldest first.
    queued: BytesMut,
    /// The writer task owns the socket for now (it is waiting for writability); producers only
    /// append to `queued`.
    writer_owns: bool,
    /// Corks in place: producers append, the last uncork writes.
    corks: u32,
    /// Close requested: flush what is queued, then shut the socket down; later frames are dropped.
    closing: bool,
    /// The socket; `None` once the writer task has finished with it.
    sock: Option<Arc<OwnedWriteHalf>>,
}

/// The outgoing side of one client connection.
pub struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer task: bytes wait for writability, or a close was requested.
    wake: Notify,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock();
        f.debug_struct("Outbox")
            .field("queued", &s.queued.len())
            .field("writer_owns", &s.writer_owns)
            .field("closing", &s.closing)
            .finish()
    }
}

impl Outbox {
    /// An outbox writing to `sock`; [`Outbox::run_writer`] must run for it.
    pub fn new(sock: OwnedWriteHalf) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                sock: Some(Arc::new(sock)),
                ..State::default()
            }),
            wake: Notify::new(),
        }
    }

    /// Sends one complete frame: written now if the socket takes it, else queued in order.
    pub fn send(self: &Arc<Self>, frame: &[u8]) {
        let joins_batch = BATCH.with(|b| match b.borrow_mut().as_mut() {
            Some(corked) if !corked.iter().any(|o| Arc::ptr_eq(o, self)) => {
                corked.push(self.clone());
                true
            }
            _ => false,
        });
        let mut s = self.state.lock();
        if joins_batch {
            s.corks += 1;
        }
        if s.closing || s.sock.is_none() {
            return;
        }
        if s.writer_owns || s.corks > 0 {
            s.queued.extend_from_slice(frame);
            self.check_bound(&mut s);
        } else if s.queued.is_empty() {
            self.write_now(&mut s, frame);
        } else {
            s.queued.extend_from_slice(frame);
            let all = s.queued.split().freeze();
            self.write_now(&mut s, &all);
        }
    }

    /// Holds frames back until the matching [`Outbox::uncork`], to write them together.
    pub fn cork(&self) {
        self.state.lock().corks += 1;
    }

    /// Releases one cork; the last one writes what was held back.
    pub fn uncork(&self) {
        let mut s = self.state.lock();
        s.corks = s.corks.saturating_sub(1);
        if s.corks > 0 || s.writer_owns || s.queued.is_empty() || s.closing {
            return;
        }
        let held = s.queued.split().freeze();
        self.write_now(&mut s, &held);
    }

    /// Flushes what is queued, then closes the connection; frames sent after this are dropped.
    pub fn close(&self) {
        let mut s = self.state.lock();
        if s.closing {
            return;
        }
        s.closing = true;
        s.corks = 0;
        s.writer_owns = true;
        drop(s);
        self.wake.notify_one();
    }

    /// Writes `bytes` (nothing queued before them) without blocking; what the socket does not
    /// take is queued for the writer task. Called with the state locked, which keeps order.
    fn write_now(&self, s: &mut State, bytes: &[u8]) {
        let Some(sock) = s.sock.clone() else {
            return;
        };
        let mut done = 0;
        while done < bytes.len() {
            match sock.try_write(&bytes[done..]) {
                Ok(0) => {
                    s.closing = true;
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // The peer is gone: the writer task ends the connection.
                    s.closing = true;
                    break;
                }
            }
        }
        if s.closing {
            s.queued.clear();
            s.writer_owns = true;
            self.wake.notify_one();
        } else if done < bytes.len() {
            s.queued.extend_from_slice(&bytes[done..]);
            s.writer_owns = true;
            self.check_bound(s);
            self.wake.notify_one();
        }
    }

    fn check_bound(&self, s: &mut State) {
        if s.queued.len() > MAX_QUEUED && !s.closing {
            tracing::warn!(
                queued = s.queued.len(),
                "client is not reading its replies; closing the connection"
            );
            s.queued.clear();
            s.closing = true;
            s.writer_owns = true;
            self.wake.notify_one();
        }
    }

    /// The connection's writer task: drains what producers could not write, waiting for the
    /// socket to become writable, and performs the close. Returns once the connection is closed
    /// (by request or because the peer went away).
    pub async fn run_writer(&self) {
        loop {
            self.wake.notified().await;
            loop {
                let (chunk, sock) = {
                    let mut s = self.state.lock();
                    let Some(sock) = s.sock.clone() else {
                        return;
                    };
                    if !s.writer_owns {
                        // A stale wake-up: producers write for themselves.
                        break;
                    }
                    if s.queued.is_empty() {
                        if !s.closing {
                            // Everything written: producers write directly again.
                            s.writer_owns = false;
                            break;
                        }
                        drop(s);
                        self.finish(&sock);
                        return;
                    }
                    (s.queued.split().freeze(), sock)
                };
                if write_all(&sock, &chunk).await.is_err() {
                    self.finish(&sock);
                    return;
                }
            }
        }
    }

    /// Shuts the socket's sending side down and lets go of it.
    fn finish(&self, sock: &OwnedWriteHalf) {
        let _ = socket2::SockRef::from(sock.as_ref()).shutdown(std::net::Shutdown::Write);
        let mut s = self.state.lock();
        s.closing = true;
        s.queued.clear();
        s.sock = None;
    }
}

thread_local! {
    /// The outboxes corked by this thread's open [`SendBatch`], if it has one.
    static BATCH: RefCell<Option<Vec<Arc<Outbox>>>> = const { RefCell::new(None) };
}

/// While alive, every frame this thread sends is queued (its outbox corked) instead of written;
/// dropping it writes them, one syscall per connection. The apply stage opens one before it
/// takes the tree lock and drops it after releasing it, so no syscall happens under the lock
/// and frames still leave in the order they were produced (a read answered in between queues
/// behind them).
pub struct SendBatch {
    /// Whether this guard opened the batch (nested guards leave it to the outer one).
    owner: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl SendBatch {
    pub fn begin() -> SendBatch {
        let owner = BATCH.with(|b| {
            let mut b = b.borrow_mut();
            if b.is_some() {
                return false;
            }
            *b = Some(Vec::new());
            true
        });
        SendBatch {
            owner,
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for SendBatch {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let corked = BATCH.with(|b| b.borrow_mut().take());
        for o in corked.into_iter().flatten() {
            o.uncork();
        }
    }
}

async fn write_all(sock: &OwnedWriteHalf, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        sock.writable().await?;
        match sock.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair: the outbox on the server side (its writer running), the client's socket.
    async fn pair() -> (Arc<Outbox>, TcpStream, tokio::task::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let (rd, wr) = server.into_split();
        std::mem::forget(rd); // keep the read half open for the test's lifetime
        let out = Arc::new(Outbox::new(wr));
        let o = out.clone();
        let writer = tokio::spawn(async move { o.run_writer().await });
        (out, client, writer)
    }

    fn frame(i: u32) -> Vec<u8> {
        let mut f = i.to_be_bytes().to_vec();
        f.extend(std::iter::repeat_n((i % 251) as u8, 1000));
        f
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_reader_gets_every_frame_in_order() {
        let (out, mut client, writer) = pair().await;
        // Far more than the socket buffers hold, sent from another thread while nobody reads:
        // most of it has to queue for the writer task.
        let o = out.clone();
        let producer = std::thread::spawn(move || {
            for i in 0..20_000u32 {
                o.send(&frame(i));
            }
            o.close();
        });
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        producer.join().unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), 20_000 * 1004);
        for (i, chunk) in got.chunks(1004).enumerate() {
            assert_eq!(chunk, frame(i as u32).as_slice(), "frame {i}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_send_batch_holds_frames_until_dropped() {
        let (out, mut client, _writer) = pair().await;
        let o = out.clone();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let batch = SendBatch::begin();
            o.send(b"one");
            o.send(b"two");
            held_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            drop(batch);
        });
        held_rx.recv().unwrap();
        // Nothing may have left while the batch is open.
        let mut buf = [0u8; 16];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(50), client.read(&mut buf)).await;
        assert!(early.is_err(), "a frame left before the batch ended");
        // Another thread's frame queues behind the held ones.
        out.send(b"three");
        go_tx.send(()).unwrap();
        t.join().unwrap();
        out.close();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"onetwothree");
    }
}
