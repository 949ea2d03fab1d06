//! Server-side watches (Java 3.9's `WatchManager` with `WatchStats`, used twice by `DataTree`: a
//! data table and a child table). Pure bookkeeping: [`WatchManager::trigger`] says which
//! connections get an event; delivery (and the ZOOKEEPER-4799 READ check against
//! [`Trigger::acl`]) is the caller's job.
//!
//! Rules, as in Java 3.9:
//! - a connection has a set of modes per (table, path): standard (one-shot), persistent and
//!   persistent-recursive; adding a mode never replaces another;
//! - a trigger on `P` fires every watch on `P` and consumes the standard mode there; recursive
//!   watches on any ancestor of `P` fire too, except for NodeChildrenChanged;
//! - persistent watches live in both tables, recursive ones only in the data table (3.9's
//!   `DataTree.addWatch`), so a recursive watch never sees NodeChildrenChanged;
//! - on delete, child-table watchers already notified through the data table are skipped.
//!
//! Ancestors are walked only while some recursive watch exists (a counter, as Java keeps).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jute::consts::{event, watcher_type};

use crate::data_tree::path::Ancestors;
use crate::data_tree::{Trigger, WatchTable};

/// Identifies a client connection (the caller maps it to its session for reports).
pub type ConnId = u64;

/// How a watch behaves when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchMode {
    /// One-shot: removed when it fires (getData / exists / getChildren watches).
    Standard,
    /// Stays registered; fires for events on its own path (addWatch mode 0).
    Persistent,
    /// Stays registered; fires for events on its path and every descendant, except
    /// NodeChildrenChanged (addWatch mode 1).
    PersistentRecursive,
}

impl WatchMode {
    /// The mode of an `AddWatchRequest` (`AddWatchMode`: 0 persistent, 1 recursive).
    pub fn from_add_watch_mode(mode: i32) -> Option<WatchMode> {
        match mode {
            jute::consts::add_watch_mode::PERSISTENT => Some(WatchMode::Persistent),
            jute::consts::add_watch_mode::PERSISTENT_RECURSIVE => {
                Some(WatchMode::PersistentRecursive)
            }
            _ => None,
        }
    }
}

const STANDARD: u8 = 1;
const PERSISTENT: u8 = 2;
const RECURSIVE: u8 = 4;

/// The `wchs` numbers (Java reports the data table only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSummary {
    /// Connections with an entry in the data table (as in Java, one whose standard watches all
    /// fired keeps its entry until it closes or removes a watch).
    pub connections: usize,
    /// Paths with at least one data watch.
    pub paths: usize,
    /// Sum over connections of their watched paths.
    pub total: usize,
}

/// One watch table: watchers by path and mode flags by (connection, path).
#[derive(Debug, Default)]
struct Table {
    by_path: HashMap<Arc<str>, HashSet<ConnId>>,
    by_conn: HashMap<ConnId, HashMap<Arc<str>, u8>>,
    /// Number of (connection, path) pairs with the recursive mode.
    recursive: usize,
    /// Number of (connection, path) pairs, so `watch_count` is O(1) on every txn.
    pairs: usize,
}

impl Table {
    fn add(&mut self, path: &str, conn: ConnId, flag: u8) -> bool {
        let key: Arc<str> = match self.by_path.get_key_value(path) {
            Some((k, _)) => k.clone(),
            None => Arc::from(path),
        };
        if self.by_path.entry(key.clone()).or_default().insert(conn) {
            self.pairs += 1;
        }
        let paths = self.by_conn.entry(conn).or_default();
        let old = paths.get(path).copied().unwrap_or(0);
        let new = old | flag;
        if new == old {
            return false;
        }
        paths.insert(key, new);
        if flag == RECURSIVE {
            self.recursive += 1;
        }
        true
    }

    /// Fires `path`; pushes every matching connection onto `matched` (duplicates possible).
    fn trigger(&mut self, path: &str, event_type: i32, matched: &mut Vec<ConnId>) {
        let walk = if self.recursive > 0 {
            Ancestors::all(path)
        } else {
            Ancestors::path_only(path)
        };
        let children_changed = event_type == event::NODE_CHILDREN_CHANGED;
        let Table {
            by_path,
            by_conn,
            pairs,
            ..
        } = self;
        for (level, local) in walk {
            let Some(set) = by_path.get_mut(local) else {
                continue;
            };
            set.retain(|conn| {
                let Some(paths) = by_conn.get_mut(conn) else {
                    return true;
                };
                let Some(flags) = paths.get(local).copied() else {
                    return true;
                };
                if level > 0 {
                    if flags & RECURSIVE != 0 && !children_changed {
                        matched.push(*conn);
                    }
                    return true;
                }
                if !(children_changed && flags == RECURSIVE) {
                    matched.push(*conn);
                }
                let left = flags & !STANDARD;
                if left == 0 {
                    // Java keeps the connection's (possibly empty) map.
                    paths.remove(local);
                    *pairs = pairs.saturating_sub(1);
                    return false;
                }
                if left != flags {
                    if let Some(f) = paths.get_mut(local) {
                        *f = left;
                    }
                }
                true
            });
            if set.is_empty() {
                by_path.remove(local);
            }
        }
    }

    fn contains(&self, path: &str, conn: ConnId, flag: Option<u8>) -> bool {
        let Some(flags) = self.by_conn.get(&conn).and_then(|p| p.get(path)) else {
            return false;
        };
        match flag {
            None => true,
            Some(f) => flags & f != 0,
        }
    }

    /// Removes one mode (or all with `None`); true if anything changed.
    fn remove(&mut self, path: &str, conn: ConnId, flag: Option<u8>) -> bool {
        if !self.by_conn.contains_key(&conn) || !self.by_path.contains_key(path) {
            return false;
        }
        let old = self
            .by_conn
            .get(&conn)
            .and_then(|p| p.get(path))
            .copied()
            .unwrap_or(0);
        let new = match flag {
            Some(f) => old & !f,
            None => 0,
        };
        if new != 0 {
            if new != old {
                if let Some(f) = self.by_conn.get_mut(&conn).and_then(|p| p.get_mut(path)) {
                    *f = new;
                }
            }
        } else if old != 0 {
            self.unwatch(path, conn);
        }
        if old & RECURSIVE != 0 && new & RECURSIVE == 0 {
            self.recursive = self.recursive.saturating_sub(1);
        }
        old != new
    }

    /// Drops the (connection, path) pair entirely, and empty containers.
    fn unwatch(&mut self, path: &str, conn: ConnId) {
        if let Some(paths) = self.by_conn.get_mut(&conn) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        if let Some(set) = self.by_path.get_mut(path) {
            if set.remove(&conn) {
                self.pairs = self.pairs.saturating_sub(1);
            }
            if set.is_empty() {
                self.by_path.remove(path);
            }
        }
    }

    fn remove_conn(&mut self, conn: ConnId) {
        let Some(paths) = self.by_conn.remove(&conn) else {
            return;
        };
        for (p, flags) in paths {
            if flags & RECURSIVE != 0 {
                self.recursive = self.recursive.saturating_sub(1);
            }
            if let Some(set) = self.by_path.get_mut(&p) {
                if set.remove(&conn) {
                    self.pairs = self.pairs.saturating_sub(1);
                }
                if set.is_empty() {
                    self.by_path.remove(&p);
                }
            }
        }
    }

    /// Java's `size()`: (path, connection) pairs.
    fn size(&self) -> usize {
        debug_assert_eq!(
            self.pairs,
            self.by_path.values().map(HashSet::len).sum::<usize>()
        );
        self.pairs
    }
}

/// Both watch tables of a server (Java's `dataWatches` and `childWatches`).
#[derive(Debug, Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
}

impl WatchManager {
    /// No watches.
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    fn table(&mut self, t: WatchTable) -> &mut Table {
        match t {
            WatchTable::Data => &mut self.data,
            WatchTable::Child => &mut self.child,
        }
    }

    /// Registers a watch. Standard watches go to `table`; persistent ones to both tables and
    /// recursive ones to the data table whatever `table` says (Java 3.9's `addWatch` /
    /// `setWatches`). Returns false if the connection already had that mode there.
    pub fn add(&mut self, table: WatchTable, path: &str, conn: ConnId, mode: WatchMode) -> bool {
        match mode {
            WatchMode::Standard => self.table(table).add(path, conn, STANDARD),
            WatchMode::Persistent => {
                let d = self.data.add(path, conn, PERSISTENT);
                let c = self.child.add(path, conn, PERSISTENT);
                d || c
            }
            WatchMode::PersistentRecursive => self.data.add(path, conn, RECURSIVE),
        }
    }

    /// Fires one trigger and returns the connections to notify of `(t.event_type, t.path)`,
    /// sorted, each once. Standard watches that match are consumed even for connections listed
    /// in `suppress` (Java's "already notified" set), which are not returned; on return
    /// `suppress` also holds every connection that matched, ready for the next trigger of the
    /// same delete (data table first, then child table).
    pub fn trigger(&mut self, t: &Trigger, suppress: &mut Vec<ConnId>) -> Vec<ConnId> {
        let mut matched = Vec::new();
        self.table(t.table)
            .trigger(&t.path, t.event_type, &mut matched);
        matched.sort_unstable();
        matched.dedup();
        suppress.sort_unstable();
        suppress.dedup();
        let notify: Vec<ConnId> = matched
            .iter()
            .copied()
            .filter(|c| suppress.binary_search(c).is_err())
            .collect();
        suppress.extend(matched);
        suppress.sort_unstable();
        suppress.dedup();
        notify
    }

    /// Fires the triggers of one txn in order (as [`crate::data_tree::ApplyOutcome::triggers`]),
    /// applying the delete rule: the child-table NodeDeleted of `P` right after the data-table
    /// NodeDeleted of `P` skips connections the latter notified. One entry per trigger.
    pub fn trigger_all(&mut self, triggers: &[Trigger]) -> Vec<Vec<ConnId>> {
        let mut out = Vec::with_capacity(triggers.len());
        let mut suppress = Vec::new();
        let mut prev: Option<&Trigger> = None;
        for t in triggers {
            let follows_data_delete = t.table == WatchTable::Child
                && t.event_type == event::NODE_DELETED
                && prev.is_some_and(|p| {
                    p.table == WatchTable::Data
                        && p.event_type == event::NODE_DELETED
                        && p.path == t.path
                });
            if !follows_data_delete {
                suppress.clear();
            }
            out.push(self.trigger(t, &mut suppress));
            prev = Some(t);
        }
        out
    }

    /// checkWatches (`DataTree.containsWatcher`): `watcher_type` 1 children (standard), 2 data
    /// (standard), 3 any mode in either table, 4 persistent, 5 persistent recursive; other
    /// values are false.
    pub fn contains(&self, path: &str, conn: ConnId, watcher_type: i32) -> bool {
        match watcher_type {
            watcher_type::CHILDREN => self.child.contains(path, conn, Some(STANDARD)),
            watcher_type::DATA => self.data.contains(path, conn, Some(STANDARD)),
            watcher_type::ANY => {
                self.child.contains(path, conn, None) || self.data.contains(path, conn, None)
            }
            watcher_type::PERSISTENT => self.data.contains(path, conn, Some(PERSISTENT)),
            watcher_type::PERSISTENT_RECURSIVE => self.data.contains(path, conn, Some(RECURSIVE)),
            _ => false,
        }
    }

    /// removeWatches (`DataTree.removeWatch`), same type numbers as [`WatchManager::contains`];
    /// type 3 removes every mode from both tables. True if a watch was removed (else the
    /// caller replies NOWATCHER).
    pub fn remove(&mut self, path: &str, conn: ConnId, watcher_type: i32) -> bool {
        match watcher_type {
            watcher_type::CHILDREN => self.child.remove(path, conn, Some(STANDARD)),
            watcher_type::DATA => self.data.remove(path, conn, Some(STANDARD)),
            watcher_type::ANY => {
                let c = self.child.remove(path, conn, None);
                let d = self.data.remove(path, conn, None);
                c || d
            }
            watcher_type::PERSISTENT => {
                let c = self.child.remove(path, conn, Some(PERSISTENT));
                let d = self.data.remove(path, conn, Some(PERSISTENT));
                c || d
            }
            watcher_type::PERSISTENT_RECURSIVE => self.data.remove(path, conn, Some(RECURSIVE)),
            _ => false,
        }
    }

    /// Drops every watch of a closed connection.
    pub fn remove_connection(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    /// `zk_watch_count` of mntr: (path, connection) pairs in the data plus the child table (O(1)).
    pub fn watch_count(&self) -> usize {
        self.data.size() + self.child.size()
    }

    /// `wchs`: `<connections> connections watching <paths> paths` / `Total watches:<total>`,
    /// computed on the data table only, as Java does.
    pub fn summary(&self) -> WatchSummary {
        WatchSummary {
            connections: self.connection_count(),
            paths: self.path_count(),
            total: self.data.by_conn.values().map(HashMap::len).sum(),
        }
    }

    /// `wchc`: data-table paths per connection, sorted (Java dumps the data table only).
    pub fn by_connection(&self) -> Vec<(ConnId, Vec<String>)> {
        let mut v: Vec<(ConnId, Vec<String>)> = self
            .data
            .by_conn
            .iter()
            .map(|(c, paths)| {
                let mut p: Vec<String> = paths.keys().map(|k| k.to_string()).collect();
                p.sort_unstable();
                (*c, p)
            })
            .collect();
        v.sort_unstable_by_key(|(c, _)| *c);
        v
    }

    /// `wchp`: data-table connections per path, sorted (Java dumps the data table only).
    pub fn by_path(&self) -> Vec<(String, Vec<ConnId>)> {
        let mut v: Vec<(String, Vec<ConnId>)> = self
            .data
            .by_path
            .iter()
            .map(|(p, conns)| {
                let mut c: Vec<ConnId> = conns.iter().copied().collect();
                c.sort_unstable();
                (p.to_string(), c)
            })
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Connections in the data table (the first number of `wchs`).
    pub fn connection_count(&self) -> usize {
        self.data.by_conn.len()
    }

    /// Watched paths in the data table (the second number of `wchs`).
    pub fn path_count(&self) -> usize {
        self.data.by_path.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::consts::watcher_type as wt;

    fn trig(path: &str, ev: i32, table: WatchTable) -> Trigger {
        Trigger::new(path, ev, table)
    }

    fn fire(w: &mut WatchManager, path: &str, ev: i32, table: WatchTable) -> Vec<ConnId> {
        w.trigger(&trig(path, ev, table), &mut Vec::new())
    }

    #[test]
    fn standard_watches_are_one_shot() {
        let mut w = WatchManager::new();
        assert!(w.add(WatchTable::Data, "/a", 1, WatchMode::Standard));
        assert!(!w.add(WatchTable::Data, "/a", 1, WatchMode::Standard));
        w.add(WatchTable::Data, "/a", 2, WatchMode::Standard);
        w.add(WatchTable::Child, "/a", 3, WatchMode::Standard);
        assert_eq!(w.watch_count(), 3);
        assert_eq!(
            fire(&mut w, "/a", event::NODE_DATA_CHANGED, WatchTable::Data),
            vec![1, 2]
        );
        assert!(fire(&mut w, "/a", event::NODE_DATA_CHANGED, WatchTable::Data).is_empty());
        // Other table and other paths are untouched.
        assert!(fire(&mut w, "/a/b", event::NODE_CREATED, WatchTable::Data).is_empty());
        assert_eq!(
            fire(
                &mut w,
                "/a",
                event::NODE_CHILDREN_CHANGED,
                WatchTable::Child
            ),
            vec![3]
        );
        assert_eq!(w.watch_count(), 0);
        // Java keeps fired connections in watch2Paths: wchs still counts them.
        assert_eq!(
            w.summary(),
            WatchSummary {
                connections: 2,
                paths: 0,
                total: 0
            }
        );
    }

    #[test]
    fn persistent_watches_stay_and_cover_both_tables() {
        let mut w = WatchManager::new();
        w.add(WatchTable::Data, "/p", 7, WatchMode::Persistent);
        for _ in 0..2 {
            assert_eq!(
                fire(&mut w, "/p", event::NODE_DATA_CHANGED, WatchTable::Data),
                vec![7]
            );
            assert_eq!(
                fire(
                    &mut w,
                    "/p",
                    event::NODE_CHILDREN_CHANGED,
                    WatchTable::Child
                ),
                vec![7]
            );
        }
        // Not recursive: children of /p do not fire it.
        assert!(fire(&mut w, "/p/c", event::NODE_CREATED, WatchTable::Data).is_empty());
        // A standard watch added on top does not replace the persistent mode (3.9).
        w.add(WatchTable::Data, "/p", 7, WatchMode::Standard);
        assert_eq!(
            fire(&mut w, "/p", event::NODE_DATA_CHANGED, WatchTable::Data),
            vec![7]
        );
        assert!(w.contains("/p", 7, wt::PERSISTENT));
        assert!(!w.contains("/p", 7, wt::DATA));
        assert_eq!(w.watch_count(), 2);
    }

    #[test]
    fn recursive_watches_fire_for_descendants_except_children_changed() {
        let mut w = WatchManager::new();
        w.add(WatchTable::Child, "/r", 1, WatchMode::PersistentRecursive);
        w.add(WatchTable::Data, "/", 2, WatchMode::PersistentRecursive);
        // Recursive watches live in the data table only.
        assert_eq!(w.watch_count(), 2);
        assert_eq!(
            fire(&mut w, "/r/a/b", event::NODE_CREATED, WatchTable::Data),
            vec![1, 2]
        );
        assert_eq!(
            fire(&mut w, "/r", event::NODE_DATA_CHANGED, WatchTable::Data),
            vec![1, 2]
        );
        assert_eq!(
            fire(&mut w, "/x", event::NODE_DELETED, WatchTable::Data),
            vec![2]
        );
        assert!(fire(
            &mut w,
            "/r",
            event::NODE_CHILDREN_CHANGED,
            WatchTable::Child
        )
        .is_empty());
        assert!(fire(
            &mut w,
            "/r/a",
            event::NODE_CHILDREN_CHANGED,
            WatchTable::Data
        )
        .is_empty());
        assert!(fire(&mut w, "/rr", event::NODE_CREATED, WatchTable::Data) == vec![2]);
        // Still registered.
        assert!(w.contains("/r", 1, wt::PERSISTENT_RECURSIVE));
        assert!(w.contains("/r", 1, wt::ANY));
        assert!(!w.contains("/r", 1, wt::PERSISTENT));
    }

    #[test]
    fn one_copy_per_trigger_and_ancestor_standard_does_not_fire() {
        let mut w = WatchManager::new();
        w.add(WatchTable::Data, "/a", 5, WatchMode::PersistentRecursive);
        w.add(WatchTable::Data, "/a/b", 5, WatchMode::Standard);
        w.add(WatchTable::Data, "/a", 6, WatchMode::Standard);
        assert_eq!(
            fire(&mut w, "/a/b", event::NODE_DATA_CHANGED, WatchTable::Data),
            vec![5]
        );
        // The standard watch on /a/b was consumed, the one on the ancestor /a was not.
        assert!(!w.contains("/a/b", 5, wt::DATA));
        assert!(w.contains("/a", 6, wt::DATA));
    }

    #[test]
    fn delete_does_not_notify_twice() {
        let mut w = WatchManager::new();
        w.add(WatchTable::Data, "/d", 1, WatchMode::Standard);
        w.add(WatchTable::Child, "/d", 1, WatchMode::Standard);
        w.add(WatchTable::Child, "/d", 2, WatchMode::Standard);
        w.add(WatchTable::Child, "/", 3, WatchMode::Standard);
        w.add(WatchTable::Child, "/", 1, WatchMode::Standard);
        let ts = vec![
            trig("/d", event::NODE_DELETED, WatchTable::Data),
            trig("/d", event::NODE_DELETED, WatchTable::Child),
            trig("/", event::NODE_CHILDREN_CHANGED, WatchTable::Child),
        ];
        assert_eq!(w.trigger_all(&ts), vec![vec![1], vec![2], vec![1, 3]]);
        // The suppressed connection's child watch was consumed anyway.
        assert!(!w.contains("/d", 1, wt::CHILDREN));
        assert_eq!(w.watch_count(), 0);
        // Manual form with an explicit suppress set.
        w.add(WatchTable::Child, "/d", 1, WatchMode::Standard);
        let mut s = vec![1];
        assert!(w
            .trigger(&trig("/d", event::NODE_DELETED, WatchTable::Child), &mut s)
            .is_empty());
        assert_eq!(s, vec![1]);
    }

    #[test]
    fn contains_and_remove_by_type() {
        let mut w = WatchManager::new();
        w.add(WatchTable::Data, "/a", 1, WatchMode::Standard);
        w.add(WatchTable::Child, "/a", 1, WatchMode::Standard);
        w.add(WatchTable::Data, "/a", 1, WatchMode::Persistent);
        assert!(w.contains("/a", 1, wt::CHILDREN));
        assert!(w.contains("/a", 1, wt::DATA));
        assert!(w.contains("/a", 1, wt::ANY));
        assert!(w.contains("/a", 1, wt::PERSISTENT));
        assert!(!w.contains("/a", 2, wt::ANY));
        assert!(!w.contains("/a", 1, 9));
        assert!(w.remove("/a", 1, wt::DATA));
        assert!(!w.remove("/a", 1, wt::DATA));
        assert!(w.contains("/a", 1, wt::PERSISTENT));
        assert!(w.remove("/a", 1, wt::PERSISTENT));
        assert!(!w.contains("/a", 1, wt::PERSISTENT));
        assert!(w.contains("/a", 1, wt::CHILDREN));
        assert!(w.remove("/a", 1, wt::ANY));
        assert!(!w.remove("/a", 1, wt::ANY));
        assert_eq!(w.watch_count(), 0);
        assert_eq!(w.connection_count(), 0);
        // Removing the recursive mode turns the ancestor walk off again.
        w.add(WatchTable::Data, "/r", 4, WatchMode::PersistentRecursive);
        assert_eq!(w.data.recursive, 1);
        assert!(w.remove("/r", 4, wt::PERSISTENT_RECURSIVE));
        assert_eq!(w.data.recursive, 0);
        assert!(fire(&mut w, "/r/x", event::NODE_CREATED, WatchTable::Data).is_empty());
    }

    #[test]
    fn remove_connection_and_reports() {
        let mut w = WatchManager::new();
        w.add(WatchTable::Data, "/b", 2, WatchMode::Standard);
        w.add(WatchTable::Data, "/a", 2, WatchMode::Standard);
        w.add(WatchTable::Data, "/a", 1, WatchMode::Standard);
        w.add(WatchTable::Child, "/c", 1, WatchMode::Standard);
        w.add(WatchTable::Data, "/r", 1, WatchMode::PersistentRecursive);
        assert_eq!(
            w.summary(),
            WatchSummary {
                connections: 2,
                paths: 3,
                total: 4
            }
        );
        assert_eq!(w.watch_count(), 5);
        assert_eq!(
            w.by_connection(),
            vec![
                (1, vec!["/a".into(), "/r".into()]),
                (2, vec!["/a".into(), "/b".into()])
            ]
        );
        assert_eq!(
            w.by_path(),
            vec![
                ("/a".into(), vec![1, 2]),
                ("/b".into(), vec![2]),
                ("/r".into(), vec![1])
            ]
        );
        w.remove_connection(1);
        assert_eq!(w.data.recursive, 0);
        assert_eq!(w.watch_count(), 2);
        assert_eq!(w.connection_count(), 1);
        assert_eq!(w.path_count(), 2);
        assert!(fire(
            &mut w,
            "/c",
            event::NODE_CHILDREN_CHANGED,
            WatchTable::Child
        )
        .is_empty());
        w.remove_connection(42);
    }

    #[test]
    fn add_watch_modes() {
        assert_eq!(
            WatchMode::from_add_watch_mode(0),
            Some(WatchMode::Persistent)
        );
        assert_eq!(
            WatchMode::from_add_watch_mode(1),
            Some(WatchMode::PersistentRecursive)
        );
        assert_eq!(WatchMode::from_add_watch_mode(2), None);
    }
}
