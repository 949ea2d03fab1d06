//! Totality: every decoder returns `Ok` or `Err` on any input, never panics, and never allocates
//! more than a small multiple of its input (a length prefix of 0x7fffffff is rejected before any
//! allocation). Inputs are random bytes and mutations (truncation, flipped bytes, huge lengths) of
//! real frames captured from Java ZooKeeper (`tests/fixtures`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use jute::proto::*;
use jute::quorum::{LearnerInfo, QuorumPacket};
use jute::txn::TxnEntry;
use jute::{decode_exact, DecodeError, Jute, Reader};

// ---------------------------------------------------------------------------------------------
// A per-thread allocation meter: peak live bytes allocated by the current thread while armed.
// ---------------------------------------------------------------------------------------------

struct Meter;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            LIVE.with(|l| {
                let v = l.get() + delta;
                l.set(v);
                PEAK.with(|p| p.set(p.get().max(v)));
            });
        }
    });
}

unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Meter = Meter;

/// Runs `f` and returns the peak number of bytes it had allocated at once.
fn metered<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, PEAK.with(|p| p.get()).max(0) as usize)
}

/// Generous but input-proportional: decoded records may be a few dozen times larger than their
/// bytes (a 9-byte multi header becomes a ~100-byte enum, a lossy string can triple), never more.
fn budget(input: usize) -> usize {
    4096 + 128 * input
}

/// Every opcode the decoder knows plus a spread of unknown ones.
const OPS: &[i32] = &[
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    99,
    100,
    101,
    102,
    103,
    104,
    105,
    106,
    107,
    108,
    -1,
    -10,
    -11,
    -12,
    i32::MIN,
    i32::MAX,
];

/// Feeds `input` to every decoder; panics (failing the property) on a panic or an over-allocation.
fn decode_all(input: &Bytes) {
    let b = budget(input.len());
    let run = |what: &str, f: &dyn Fn()| {
        let ((), peak) = metered(f);
        assert!(
            peak <= b,
            "{what}: peak allocation {peak} > budget {b} for {} input bytes",
            input.len()
        );
    };
    for &op in OPS {
        run("Request::decode", &|| {
            let mut r = Reader::new(input.clone());
            let _ = Request::decode(op, &mut r);
        });
    }
    run("frame", &|| {
        let mut r = Reader::new(input.clone());
        if let Ok(h) = RequestHeader::read(&mut r) {
            let _ = Request::decode(h.op_type, &mut r);
        }
    });
    run("ConnectRequest", &|| {
        let _ = decode_exact::<ConnectRequest>(input.clone());
    });
    run("ConnectResponse", &|| {
        let _ = ConnectResponse::read_with_read_only(&mut Reader::new(input.clone()));
    });
    run("TxnEntry", &|| {
        let _ = TxnEntry::decode(input.clone());
    });
    run("MultiResponse", &|| {
        let _ = decode_exact::<MultiResponse>(input.clone());
    });
    run("MultiRequest", &|| {
        let _ = decode_exact::<MultiRequest>(input.clone());
    });
    run("QuorumPacket", &|| {
        let mut r = Reader::new(input.clone());
        // A stream of packets, as on the quorum port.
        while let Ok(p) = QuorumPacket::read(&mut r) {
            if let Some(d) = p.data {
                let _ = TxnEntry::decode(d.clone());
                let _ = decode_exact::<LearnerInfo>(d);
            }
        }
    });
    run("replies", &|| {
        let mut r = Reader::new(input.clone());
        if ReplyHeader::read(&mut r).is_ok() {
            let body = r.rest();
            let _ = decode_exact::<GetDataResponse>(body.clone());
            let _ = decode_exact::<GetChildren2Response>(body.clone());
            let _ = decode_exact::<GetAclResponse>(body.clone());
            let _ = decode_exact::<WhoAmIResponse>(body.clone());
            let _ = decode_exact::<WatcherEvent>(body);
        }
    });
}

fn hex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

/// Real frames: requests and replies (header stripped too), connects and txn payloads.
fn corpus() -> Vec<Bytes> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some(h) = line.split_whitespace().last() {
                if h.len() >= 16 && h.len() % 2 == 0 && h.bytes().all(|c| c.is_ascii_hexdigit()) {
                    let b = hex(h);
                    out.push(b.slice(8.min(b.len())..));
                    out.push(b.slice(16.min(b.len())..));
                    out.push(b);
                }
            }
        }
    }
    assert!(out.len() > 300, "corpus too small: {}", out.len());
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    /// Overwrites four bytes with a length-like value.
    Len(usize, i32),
    Insert(usize, Vec<u8>),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let lens = prop_oneof![
        Just(0x7fff_ffff),
        Just(-1),
        Just(-2),
        Just(i32::MIN),
        Just(0x000f_ffff),
        Just(0x0010_0000),
        Just(0x001f_fffe),
        Just(0x0020_0000),
        0..64i32,
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), lens).prop_map(|(i, v)| Mutation::Len(i, v)),
        (any::<usize>(), vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
    ]
}

fn apply(seed: &Bytes, muts: &[Mutation]) -> Bytes {
    let mut v = seed.to_vec();
    for m in muts {
        let n = v.len();
        match m {
            Mutation::Truncate(i) => v.truncate(if n == 0 { 0 } else { i % n }),
            Mutation::Flip(i, x) if n > 0 => v[i % n] ^= x,
            Mutation::Len(i, val) if n >= 4 => {
                let at = i % (n - 3);
                v[at..at + 4].copy_from_slice(&val.to_be_bytes());
            }
            Mutation::Insert(i, ins) => {
                let at = if n == 0 { 0 } else { i % (n + 1) };
                v.splice(at..at, ins.iter().copied());
            }
            Mutation::Append(extra) => v.extend_from_slice(extra),
            _ => {}
        }
    }
    v.into()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(input in vec(any::<u8>(), 0..256)) {
        decode_all(&Bytes::from(input));
    }

    /// Random bytes behind a plausible prefix (a request header, a txn header) reach deeper code.
    #[test]
    fn random_bodies_never_panic(op in proptest::sample::select(OPS), tail in vec(any::<u8>(), 0..128)) {
        let mut v = vec![0, 0, 0, 1];
        v.extend_from_slice(&op.to_be_bytes());
        v.extend_from_slice(&tail);
        decode_all(&Bytes::from(v));
        let mut t = vec![1u8; 20];
        t.extend_from_slice(&op.to_be_bytes());
        t.extend_from_slice(&tail);
        decode_all(&Bytes::from(t));
    }

    #[test]
    fn mutated_captures_never_panic(idx in any::<prop::sample::Index>(), muts in vec(mutation(), 1..4)) {
        thread_local!(static CORPUS: Vec<Bytes> = corpus());
        let seed = CORPUS.with(|c| idx.get(c).clone());
        decode_all(&apply(&seed, &muts));
    }
}

#[test]
fn every_seed_and_every_truncation_is_total() {
    for seed in corpus() {
        for cut in 0..=seed.len() {
            let t = seed.slice(..cut);
            for &op in OPS {
                let _ = Request::decode(op, &mut Reader::new(t.clone()));
            }
            let _ = TxnEntry::decode(t.clone());
            let _ = decode_exact::<MultiResponse>(t.clone());
            let _ = decode_exact::<QuorumPacket>(t);
        }
    }
}

/// A huge length must be refused up front: a bad-length error (not an attempted allocation, not an
/// EOF after reserving memory), for strings, buffers and vector counts alike.
#[test]
fn huge_lengths_rejected_up_front() {
    for len in [0x7fff_ffffi32, i32::MIN, -2, 0x0020_0000] {
        let l = len.to_be_bytes();
        let cases: Vec<(&str, Vec<u8>, &[i32])> = vec![
            ("string", l.to_vec(), &[1, 3, 5, 7, 14, 15, 103]),
            (
                "buffer after path",
                [&[0, 0, 0, 1, b'/'][..], &l].concat(),
                &[1, 5, 15],
            ),
            (
                "acl vector after path",
                [&[0, 0, 0, 1, b'/'][..], &l].concat(),
                &[7],
            ),
            (
                "acl vector after path+data",
                [&[0, 0, 0, 1, b'/', 0xff, 0xff, 0xff, 0xff][..], &l].concat(),
                &[1, 15, 19, 21],
            ),
        ];
        for (what, body, ops) in cases {
            for &op in ops {
                let input = Bytes::from([body.clone(), vec![0; 64]].concat());
                let (res, peak) = metered(|| Request::decode(op, &mut Reader::new(input.clone())));
                assert!(res.is_err(), "{what} op {op} len {len:#x}: accepted");
                assert!(
                    peak <= budget(input.len()),
                    "{what} op {op}: allocated {peak}"
                );
            }
        }
        let input = Bytes::from([l.to_vec(), vec![0; 64]].concat());
        match String::read(&mut Reader::new(input.clone())) {
            Err(DecodeError::BadLength { .. }) => {}
            other => panic!("string len {len:#x}: {other:?}"),
        }
        match Vec::<String>::read(&mut Reader::new(input.clone())) {
            Err(DecodeError::BadLength { .. }) => {}
            other => panic!("vector count {len:#x}: {other:?}"),
        }
        match Option::<Bytes>::read(&mut Reader::new(input)) {
            Err(DecodeError::BadLength { .. }) => {}
            other => panic!("buffer len {len:#x}: {other:?}"),
        }
    }
    // A count within the limit but beyond the input is an EOF, also before allocating.
    let input = Bytes::from_static(&[0, 0, 0x10, 0, 0, 0, 0, 0]);
    let (res, peak) = metered(|| Vec::<String>::read(&mut Reader::new(input.clone())));
    assert!(matches!(res, Err(DecodeError::Eof { .. })), "{res:?}");
    assert!(peak < 1024, "allocated {peak}");
}

/// Lengths are checked against the reader's limit (`jute.maxbuffer`), including -1 as null only.
#[test]
fn limit_is_enforced() {
    let mut v = 100i32.to_be_bytes().to_vec();
    v.extend_from_slice(&[b'x'; 100]);
    let b = Bytes::from(v);
    assert!(String::read(&mut Reader::with_limit(b.clone(), 99)).is_err());
    assert_eq!(
        String::read(&mut Reader::with_limit(b, 100)).unwrap().len(),
        100
    );
    let null = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        Option::<String>::read(&mut Reader::new(null.clone())).unwrap(),
        None
    );
    assert_eq!(
        Option::<Bytes>::read(&mut Reader::new(null.clone())).unwrap(),
        None
    );
    assert_eq!(
        Option::<Vec<String>>::read(&mut Reader::new(null)).unwrap(),
        None
    );
}

/// The meter itself works: decoding real strings is seen allocating.
#[test]
fn meter_sees_allocations() {
    let mut v = 3i32.to_be_bytes().to_vec();
    for _ in 0..3 {
        v.extend_from_slice(&100i32.to_be_bytes());
        v.extend_from_slice(&[b'a'; 100]);
    }
    let (res, peak) = metered(|| Vec::<String>::read(&mut Reader::new(Bytes::from(v.clone()))));
    assert_eq!(res.unwrap().len(), 3);
    assert!(peak >= 300, "meter saw only {peak} bytes");
}
