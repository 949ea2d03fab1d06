//! ZAB: discovery, synchronisation (DIFF/TRUNC/SNAP) and broadcast for leader, follower and observer,
//! as a sans-IO state machine; standalone mode is a quorum of one running the same pipeline.
