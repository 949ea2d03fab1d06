//! ferro-bench: a ZooKeeper load generator (`loadgen`) and a side-by-side harness (`compare`)
//! that runs the same workloads against Java ZooKeeper 3.8 and ferrokeeper.
//!
//! It deliberately uses the third-party `zookeeper-client` crate and none of ferrokeeper's own
//! crates, so a protocol bug shared by server and client code cannot hide itself.

pub mod chart;
pub mod procs;
pub mod stats;
pub mod sysfacts;
pub mod workload;
