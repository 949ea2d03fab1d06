//! Faults, scheduled from a seed and always healed: network partitions (random halves, isolated
//! leader, majority ring / bridge, one-way drops) with nftables inside the node namespaces;
//! kill -9 and restart; SIGSTOP pauses longer than the session timeout; `tc tbf` throttling;
//! a full dataLogDir (tmpfs). One fault at a time, separated by quiet periods, so every fault
//! interval on the timeline has one cause.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::cluster::Cluster;
use crate::history::{NemesisEvent, Recorder};
use crate::util::{interrupted, sleep_interruptible};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    PartitionHalves,
    PartitionLeader,
    PartitionRing,
    PartitionOneWay,
    Kill,
    Pause,
    Throttle,
    DiskFull,
}

impl Fault {
    pub const ALL: [Fault; 8] = [
        Fault::PartitionHalves,
        Fault::PartitionLeader,
        Fault::PartitionRing,
        Fault::PartitionOneWay,
        Fault::Kill,
        Fault::Pause,
        Fault::Throttle,
        Fault::DiskFull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::PartitionHalves => "partition-halves",
            Fault::PartitionLeader => "partition-leader",
            Fault::PartitionRing => "partition-ring",
            Fault::PartitionOneWay => "partition-one-way",
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Throttle => "throttle",
            Fault::DiskFull => "disk-full",
        }
    }

    pub fn is_partition(self) -> bool {
        matches!(
            self,
            Fault::PartitionHalves
                | Fault::PartitionLeader
                | Fault::PartitionRing
                | Fault::PartitionOneWay
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown fault {s:?}"))
    }
}

/// `--nemesis` list: groups `partition` (all four partition kinds), `kill`, `pause`,
/// `throttle` (alias `tc`), `disk` (alias `disk-full`), `all`, `none`, or single fault names.
pub fn parse_nemeses(spec: &str) -> Result<Vec<Fault>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let add: Vec<Fault> = match part {
            "none" => vec![],
            "all" => Fault::ALL.to_vec(),
            "partition" => Fault::ALL
                .into_iter()
                .filter(|f| f.is_partition())
                .collect(),
            "tc" => vec![Fault::Throttle],
            "disk" => vec![Fault::DiskFull],
            other => vec![other.parse()?],
        };
        for f in add {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// Timing of the schedule.
#[derive(Debug, Clone)]
pub struct NemesisOpts {
    pub faults: Vec<Fault>,
    /// Quiet period between faults (uniform in the range).
    pub quiet: (Duration, Duration),
    /// How long a fault is held (uniform in the range).
    pub hold: (Duration, Duration),
    /// Client session timeout; pauses last longer than this.
    pub session_timeout: Duration,
}

/// What must be undone.
#[derive(Debug, Clone)]
enum Active {
    Cuts,
    Killed(Vec<usize>),
    Paused(Vec<usize>),
    Throttled(Vec<usize>),
    Disk(Vec<usize>),
}

fn uniform(rng: &mut ChaCha8Rng, (lo, hi): (Duration, Duration)) -> Duration {
    if hi <= lo {
        return lo;
    }
    lo + Duration::from_millis(rng.gen_range(0..=(hi - lo).as_millis() as u64))
}

fn names(v: &[usize]) -> String {
    v.iter()
        .map(|i| format!("n{}", i + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// Directed cuts separating `a` from `b` both ways.
fn cut_between(a: &[usize], b: &[usize]) -> Vec<(usize, usize)> {
    let mut cuts = Vec::new();
    for &x in a {
        for &y in b {
            cuts.push((x, y));
            cuts.push((y, x));
        }
    }
    cuts
}

/// Directed cuts, a description, and the nodes singled out.
pub type Partition = (Vec<(usize, usize)>, String, Vec<usize>);

/// The cuts of a partition fault (pure, for tests): `leader` is the current leader if known.
pub fn partition_cuts(
    fault: Fault,
    n: usize,
    leader: Option<usize>,
    rng: &mut ChaCha8Rng,
) -> Option<Partition> {
    if n < 2 {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    match fault {
        Fault::PartitionHalves => {
            let (a, b) = order.split_at(n / 2);
            Some((
                cut_between(a, b),
                format!("[{}] | [{}]", names(a), names(b)),
                order.clone(),
            ))
        }
        Fault::PartitionLeader => {
            let l = leader.unwrap_or(order[0]);
            let rest: Vec<usize> = (0..n).filter(|&i| i != l).collect();
            Some((
                cut_between(&[l], &rest),
                format!(
                    "isolated n{} (leader{})",
                    l + 1,
                    if leader.is_some() { "" } else { "?" }
                ),
                vec![l],
            ))
        }
        Fault::PartitionRing => {
            let m = n / 2;
            let reach = m.div_ceil(2);
            if n < 4 || reach == 0 {
                // Three nodes: a bridge — cut one link, the third node sees both ends.
                let (a, b, c) = (order[0], order[1], order[2]);
                return Some((
                    vec![(a, b), (b, a)],
                    format!("bridge: n{} x n{}, n{} sees both", a + 1, b + 1, c + 1),
                    vec![a, b],
                ));
            }
            let mut cuts = Vec::new();
            for (pi, &x) in order.iter().enumerate() {
                for (pj, &y) in order.iter().enumerate() {
                    let d = pi.abs_diff(pj);
                    let ring = d.min(n - d);
                    if ring > reach {
                        cuts.push((x, y));
                    }
                }
            }
            Some((
                cuts,
                format!(
                    "majority ring {} (each node sees {} neighbours per side)",
                    names(&order),
                    reach
                ),
                order.clone(),
            ))
        }
        Fault::PartitionOneWay => {
            let victim = if rng.gen_bool(0.5) {
                leader.unwrap_or(order[0])
            } else {
                order[0]
            };
            let rest: Vec<usize> = (0..n).filter(|&i| i != victim).collect();
            let inbound = rng.gen_bool(0.5);
            let cuts = rest
                .iter()
                .map(|&r| if inbound { (r, victim) } else { (victim, r) })
                .collect();
            Some((
                cuts,
                format!(
                    "one-way: n{} {} its peers{}",
                    victim + 1,
                    if inbound {
                        "hears nothing from"
                    } else {
                        "cannot send to"
                    },
                    if Some(victim) == leader {
                        " (leader)"
                    } else {
                        ""
                    }
                ),
                vec![victim],
            ))
        }
        _ => None,
    }
}

/// Runs faults until `until`, then heals everything. Returns the number of faults injected.
pub fn run_schedule(
    cluster: &mut Cluster,
    rec: &Recorder,
    rng: &mut ChaCha8Rng,
    opts: &NemesisOpts,
    until: Instant,
    log: &mut dyn FnMut(&str),
) -> Result<usize> {
    let mut injected = 0;
    let faults: Vec<Fault> = opts
        .faults
        .iter()
        .copied()
        .filter(|f| !(f.is_partition() && cluster.len() < 2))
        .filter(|f| !(*f == Fault::DiskFull && cluster.cfg.disk_mb == 0))
        .collect();
    if faults.is_empty() {
        sleep_interruptible(until.saturating_duration_since(Instant::now()));
        return Ok(0);
    }
    let mut deck: Vec<Fault> = Vec::new();
    loop {
        let quiet = uniform(rng, opts.quiet);
        let now = Instant::now();
        if now + quiet >= until {
            sleep_interruptible(until.saturating_duration_since(now));
            break;
        }
        if !sleep_interruptible(quiet) {
            break;
        }
        // A shuffled deck: every enabled fault comes up once before any repeats.
        if deck.is_empty() {
            deck = faults.clone();
            deck.shuffle(rng);
        }
        let fault = deck.pop().unwrap_or(Fault::Kill);
        let mut hold = uniform(rng, opts.hold);
        let start_ns = rec.now_ns();
        let (active, detail, nodes) = match apply(cluster, fault, rng, opts, &mut hold) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) => {
                log(&format!("nemesis: {fault} failed to apply: {e:#}"));
                heal_all(cluster);
                continue;
            }
        };
        injected += 1;
        log(&format!(
            "{:>7.1}s nemesis: {fault} {detail} for {:.1}s",
            start_ns as f64 / 1e9,
            hold.as_secs_f64()
        ));
        // Pauses are held in full (they must outlast the session timeout); other faults are
        // cut short at the end of the run.
        let hold_until = if matches!(active, Active::Paused(_)) {
            Instant::now() + hold
        } else {
            (Instant::now() + hold).min(until)
        };
        sleep_interruptible(hold_until.saturating_duration_since(Instant::now()));
        let extra = heal(cluster, &active);
        let end_ns = rec.now_ns();
        rec.record_nemesis(NemesisEvent {
            kind: fault.name().to_string(),
            start_ns,
            end_ns,
            detail: if extra.is_empty() {
                detail
            } else {
                format!("{detail}; {extra}")
            },
            nodes,
        });
        if !extra.is_empty() {
            log(&format!(
                "{:>7.1}s nemesis: heal: {extra}",
                end_ns as f64 / 1e9
            ));
        }
        if interrupted() || Instant::now() >= until {
            break;
        }
    }
    heal_all(cluster);
    Ok(injected)
}

type Applied = (Active, String, Vec<usize>);

fn apply(
    cluster: &mut Cluster,
    fault: Fault,
    rng: &mut ChaCha8Rng,
    opts: &NemesisOpts,
    hold: &mut Duration,
) -> Result<Option<Applied>> {
    let n = cluster.len();
    let leader = if n > 1 { cluster.leader() } else { Some(0) };
    let pick_target = |rng: &mut ChaCha8Rng| -> usize {
        if rng.gen_bool(0.5) {
            leader.unwrap_or_else(|| rng.gen_range(0..n))
        } else {
            rng.gen_range(0..n)
        }
    };
    let tag = |i: usize| {
        if Some(i) == leader && n > 1 {
            " (leader)"
        } else {
            ""
        }
    };
    Ok(Some(match fault {
        f if f.is_partition() => {
            let Some((cuts, detail, nodes)) = partition_cuts(f, n, leader, rng) else {
                return Ok(None);
            };
            cluster.net.apply_cuts(&cuts)?;
            (Active::Cuts, detail, nodes)
        }
        Fault::Kill => {
            let r: f64 = rng.gen();
            let mut targets: Vec<usize> = if r < 0.4 {
                vec![rng.gen_range(0..n)]
            } else if r < 0.7 {
                vec![leader.unwrap_or(0)]
            } else if r < 0.9 {
                let mut v: Vec<usize> = (0..n).collect();
                v.shuffle(rng);
                v.truncate((n / 2).max(1));
                v
            } else {
                (0..n).collect()
            };
            targets.sort_unstable();
            let detail = format!(
                "kill -9 {}{}",
                names(&targets),
                if targets.len() == 1 {
                    tag(targets[0])
                } else {
                    ""
                }
            );
            for &t in &targets {
                cluster.kill(t);
            }
            (Active::Killed(targets.clone()), detail, targets)
        }
        Fault::Pause => {
            let t = pick_target(rng);
            *hold = opts.session_timeout + Duration::from_millis(rng.gen_range(1000..=3000));
            cluster.pause(t);
            (
                Active::Paused(vec![t]),
                format!("SIGSTOP n{}{}", t + 1, tag(t)),
                vec![t],
            )
        }
        Fault::Throttle => {
            let rate = ["64kbit", "256kbit", "1mbit"][rng.gen_range(0..3)];
            let targets: Vec<usize> = if rng.gen_bool(0.5) {
                vec![pick_target(rng)]
            } else {
                (0..n).collect()
            };
            for &t in &targets {
                cluster.net.throttle(t, rate)?;
            }
            (
                Active::Throttled(targets.clone()),
                format!("tc tbf rate {rate} on {}", names(&targets)),
                targets,
            )
        }
        Fault::DiskFull => {
            let t = pick_target(rng);
            cluster.fill_disk(t)?;
            (
                Active::Disk(vec![t]),
                format!("dataLogDir full on n{}{}", t + 1, tag(t)),
                vec![t],
            )
        }
        _ => return Ok(None),
    }))
}

/// Undoes one fault; restarts any node found dead. Returns a note on what else was needed.
fn heal(cluster: &mut Cluster, active: &Active) -> String {
    let mut notes = Vec::new();
    match active {
        Active::Cuts => {
            if let Err(e) = cluster.net.heal_partitions() {
                notes.push(format!("heal failed: {e:#}"));
            }
        }
        Active::Killed(v) => {
            for &i in v {
                if let Err(e) = cluster.start(i) {
                    notes.push(format!("restart n{} failed: {e:#}", i + 1));
                }
            }
        }
        Active::Paused(v) => {
            for &i in v {
                cluster.resume(i);
            }
        }
        Active::Throttled(v) => {
            for &i in v {
                cluster.net.unthrottle(i);
            }
        }
        Active::Disk(v) => {
            for &i in v {
                cluster.free_disk(i);
            }
        }
    }
    let killed: Vec<usize> = match active {
        Active::Killed(v) => v.clone(),
        _ => vec![],
    };
    for i in 0..cluster.len() {
        if !killed.contains(&i) && !cluster.running(i) {
            notes.push(format!("n{} had exited, restarted", i + 1));
            if let Err(e) = cluster.start(i) {
                notes.push(format!("restart n{} failed: {e:#}", i + 1));
            }
        }
    }
    notes.join("; ")
}

/// Heals everything: partitions, pauses, throttles, disks; starts every node that is down.
pub fn heal_all(cluster: &mut Cluster) {
    let _ = cluster.net.heal_partitions();
    for i in 0..cluster.len() {
        if cluster.nodes[i].paused {
            cluster.resume(i);
        }
        cluster.net.unthrottle(i);
        if cluster.nodes[i].disk_full {
            cluster.free_disk(i);
        }
        if !cluster.running(i) {
            let _ = cluster.start(i);
        }
    }
}

/// Checks that a nemesis list can run on this cluster shape.
pub fn validate(faults: &[Fault], nodes: usize, disk_mb: u32) -> Result<()> {
    if nodes < 2 && faults.iter().all(|f| f.is_partition()) && !faults.is_empty() {
        bail!("partitions need at least 2 nodes");
    }
    if disk_mb == 0 && faults == [Fault::DiskFull] {
        bail!("disk-full needs --disk-mb > 0");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn connected(cuts: &[(usize, usize)], a: usize, b: usize) -> bool {
        !cuts.contains(&(a, b))
    }

    #[test]
    fn parse_groups() -> Result<()> {
        assert_eq!(parse_nemeses("partition")?.len(), 4);
        assert_eq!(parse_nemeses("partition,kill,pause")?.len(), 6);
        assert_eq!(parse_nemeses("all")?.len(), 8);
        assert_eq!(
            parse_nemeses("tc,disk")?,
            vec![Fault::Throttle, Fault::DiskFull]
        );
        assert!(parse_nemeses("meteor").is_err());
        Ok(())
    }

    #[test]
    fn halves_split_into_minority_and_majority() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (cuts, _, _) =
            partition_cuts(Fault::PartitionHalves, 5, Some(0), &mut rng).expect("partition");
        // 2 x 3 nodes, both directions.
        assert_eq!(cuts.len(), 2 * 2 * 3);
    }

    #[test]
    fn ring_gives_every_node_a_majority_but_no_common_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (cuts, _, _) =
            partition_cuts(Fault::PartitionRing, 5, None, &mut rng).expect("partition");
        for a in 0..5 {
            let visible = (0..5).filter(|&b| b == a || connected(&cuts, a, b)).count();
            assert_eq!(visible, 3, "node {a} sees a bare majority");
        }
        // No node sees everyone.
        assert!((0..5).all(|a| (0..5).any(|b| !connected(&cuts, a, b))));
    }

    #[test]
    fn three_node_ring_is_a_bridge() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (cuts, detail, _) =
            partition_cuts(Fault::PartitionRing, 3, None, &mut rng).expect("partition");
        assert_eq!(cuts.len(), 2);
        assert!(detail.starts_with("bridge"));
    }

    #[test]
    fn one_way_cuts_a_single_direction() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (cuts, _, nodes) =
            partition_cuts(Fault::PartitionOneWay, 3, Some(1), &mut rng).expect("partition");
        assert_eq!(cuts.len(), 2);
        for (a, b) in &cuts {
            assert!(!cuts.contains(&(*b, *a)));
            assert!(*a == nodes[0] || *b == nodes[0]);
        }
    }

    #[test]
    fn same_seed_same_choices() {
        let pick = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..10)
                .map(|_| partition_cuts(Fault::PartitionHalves, 5, Some(2), &mut rng))
                .map(|x| x.map(|(c, _, _)| c))
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(42), pick(42));
        assert_ne!(pick(42), pick(43));
    }
}
