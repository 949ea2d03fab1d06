//! Property: no packet content, in any order, makes the core panic; it only returns errors.

use bytes::Bytes;
use election::QuorumVerifier;
use jute::quorum::QuorumPacket;
use proptest::prelude::*;
use zab::packets;
use zab::{DiskState, Zab, ZabConfig};

fn cfg(sid: i64) -> ZabConfig {
    let v = QuorumVerifier::parse(
        "server.1=a:1:2:participant\nserver.2=b:1:2:participant\nserver.3=c:1:2:participant\nversion=0",
    )
    .expect("config");
    ZabConfig::new(sid, v)
}

fn packet() -> impl Strategy<Value = (i64, QuorumPacket, bool)> {
    (
        1i64..=3,
        0i32..=20,
        prop_oneof![Just(-1i64), Just(0i64), 0i64..0x3_0000_0010, any::<i64>()],
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        any::<bool>(),
    )
        .prop_map(|(from, t, zxid, data, persist)| {
            (
                from,
                QuorumPacket::new(t, zxid, data.map(Bytes::from)),
                persist,
            )
        })
}

fn drive(z: &mut Zab, input: Vec<(i64, QuorumPacket, bool)>) {
    let mut now = 0;
    for (from, p, persist) in input {
        now += 37;
        if p.packet_type == 15 {
            let _ = z.step_snapshot(from, p.zxid, p.data.unwrap_or_default());
        } else {
            let _ = z.step(from, p);
        }
        z.tick(now);
        let _ = z.propose(z.next_zxid().unwrap_or(1), Bytes::from_static(b"x"));
        let _ = z.sync(Some(1), None);
        while z.has_ready() {
            let r = z.ready();
            if persist {
                z.on_persisted(r.number);
            }
        }
    }
}

proptest! {
    #[test]
    fn follower_never_panics(input in proptest::collection::vec(packet(), 0..40)) {
        let mut z = Zab::new(cfg(2), DiskState::default());
        z.follow(1, 0);
        let mut seeded = vec![(1, packets::leader_info(1), true)];
        seeded.extend(input);
        drive(&mut z, seeded);
    }

    #[test]
    fn leader_never_panics(input in proptest::collection::vec(packet(), 0..40)) {
        let mut z = Zab::new(cfg(1), DiskState::default());
        z.lead(0);
        let mut seeded = vec![
            (2, packets::learner_info(false, 0, 2, 0), true),
            (2, packets::ack_epoch(0, 0), true),
        ];
        seeded.extend(input);
        drive(&mut z, seeded);
    }
}
