//! Zxid arithmetic: a zxid is `epoch << 32 | counter`; counter 0 marks the start of an epoch and is
//! never the zxid of a txn.

/// A ZooKeeper transaction id (signed like Java's `long`; -1 means "none").
pub type Zxid = i64;

/// Builds `epoch << 32 | counter` (Java `ZxidUtils.makeZxid`).
pub fn make_zxid(epoch: i64, counter: i64) -> Zxid {
    (epoch << 32) | (counter & 0xffff_ffff)
}

/// High 32 bits (Java `ZxidUtils.getEpochFromZxid`).
pub fn epoch_of(zxid: Zxid) -> i64 {
    zxid >> 32
}

/// Low 32 bits (Java `ZxidUtils.getCounterFromZxid`).
pub fn counter_of(zxid: Zxid) -> i64 {
    zxid & 0xffff_ffff
}

/// True for `epoch << 32` itself: the marker a learner reports when it has nothing newer in that epoch.
pub fn is_epoch_start(zxid: Zxid) -> bool {
    counter_of(zxid) == 0
}

/// Hex form used in Java's logs (`0x200000001`).
pub fn hex(zxid: Zxid) -> String {
    format!("0x{zxid:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_java() {
        assert_eq!(make_zxid(2, 1), 0x2_0000_0001);
        assert_eq!(epoch_of(0x3_0000_0005), 3);
        assert_eq!(counter_of(0x3_0000_0005), 5);
        assert!(is_epoch_start(make_zxid(7, 0)));
        assert!(!is_epoch_start(make_zxid(7, 1)));
        assert_eq!(hex(make_zxid(1, 0)), "0x100000000");
        assert_eq!(epoch_of(-1), -1);
    }
}
