//! ferrokeeper-jepsen: black-box fault testing of real ZooKeeper ensembles (Java ZooKeeper 3.8,
//! ferrokeeper, or a mix) with recorded histories and a linearizability checker.
//!
//! * [`net`] — network namespaces, bridge, nftables/tc faults, crash-safe cleanup.
//! * [`cluster`] — node processes: start, kill -9, restart, pause, disk-full, leader lookup.
//! * [`nemesis`] — fault schedule from a seed, always healed.
//! * [`workload`] — clients (register, seq, set, session, fifo) and the final reads.
//! * [`history`] — recorded operations and nemesis intervals (JSON lines).
//! * [`linear`] — the register model and the Wing–Gong–Lowe check (todc-utils), minimization.
//! * [`checker`] — every check and its anomalies.
//! * [`timeline`] — the PNG.
//! * [`runner`] — one run end to end.

pub mod checker;
pub mod cluster;
pub mod history;
pub mod linear;
pub mod nemesis;
pub mod net;
pub mod runner;
pub mod timeline;
pub mod util;
pub mod workload;
