"""Normalization and comparison of raw differential traces.

What is masked, and why (everything else is compared exactly):

* ``ctime`` / ``mtime``: wall-clock times; masked to ``"<time>"`` (0 stays 0 —
  the root and ``/zookeeper`` nodes have zero times on every server).
* zxids (ReplyHeader.zxid, Stat czxid/mzxid/pzxid): replaced by their **rank**
  among all distinct zxids of the trace (``Z0``, ``Z1``, …; 0 and -1 kept
  literally). Equality *and* order are preserved, so ``czxid == mzxid``,
  "pzxid advanced", "a failed write consumed a zxid", "a read reports the last
  processed zxid" all still compare; only the absolute values (epoch, start
  counter) are hidden.
* session ids: ``ConnectResponse.sessionId`` and ``Stat.ephemeralOwner`` are
  replaced by the index of the session in creation order (``S0``, ``S1``, …).
  The 16-byte session password is replaced by ``"<java-derived>"`` when it is
  exactly what Java derives from that session id (java.util.Random), otherwise
  it is kept in hex (and therefore mismatches).
* the drain pings' replies (``pongs``: ReplyHeader of the ping each live
  session sends after every op) are compared like any reply (zxid ranked).
* a failed request is recorded as ``"closed"`` (EOF/reset), ``"timeout"`` or
  ``"protocol error: …"`` (e.g. xid out of order) — never the raw socket text.

Sequential suffixes, digest ids, ACLs, data, versions, cversions, child lists
(including their order), ephemeral lists, error codes, xids and multi result
headers are compared verbatim.

``NAMED_EXCEPTIONS`` lists every deliberate deviation from "compare
everything", with the reason and how it is handled (masking one field, or not
generating the op at all).
"""

from __future__ import annotations

import json

from zkraw import java_session_password

NAMED_EXCEPTIONS = [
    {
        "name": "notification-zxid",
        "reason": "Watch notifications carry ReplyHeader.zxid = -1 in 3.8 but the triggering "
                  "txn's zxid in 3.9 (reference §2.15); ferrokeeper may follow either.",
        "handling": "mask only the zxid field of notifications (xid -1); the event type, state, "
                    "path, err and the order of notifications are compared; notification zxids "
                    "do not take part in the zxid ranking.",
    },
    {
        "name": "create2-in-multi",
        "reason": "Debian 3.8.0 accepts a create2 (15) sub-op in multi but answers it like a "
                  "plain create (result type 1, path only); 3.9 (ZOOKEEPER-4026) answers type 15 "
                  "+ Stat.",
        "handling": "never generated (create, createContainer and createTTL sub-ops are "
                    "generated: 3.8.0 answers them like 3.9, result type 15 + Stat).",
    },
    {
        "name": "check-outside-multi",
        "reason": "Standalone check (13): 3.8.0 never replies (NPE), >=3.8.5/3.9.3 answer "
                  "UNIMPLEMENTED and close (ZOOKEEPER-2623).",
        "handling": "check is generated only inside multi.",
    },
    {
        "name": "acl-filtered-watch-delivery",
        "reason": "ZOOKEEPER-4799 (3.8.4+/3.9.2+): a watcher without READ on the node is not "
                  "notified and addWatch needs READ; Debian 3.8.0 notifies anyway.",
        "handling": "under /d every generated ACL grants READ to every session "
                    "(world:anyone or ip:127.0.0.0/8 READ); READ-less ACLs exist only under /n, "
                    "where no watch of any kind is ever set (no watch flag, no addWatch, no "
                    "setWatches path, no recursive watch on '/').",
    },
    {
        "name": "exists-read-acl",
        "reason": "ZOOKEEPER-2590 (3.8.4+/3.9.2+): exists() on an existing node checks READ; "
                  "3.8.0 returns the Stat without any ACL check.",
        "handling": "exists is never generated under /n (the only place with READ-less ACLs).",
    },
    {
        "name": "getEphemerals-acl",
        "reason": "Newer releases may filter getEphemerals by ACL; 3.8.0 does not.",
        "handling": "no ephemeral node is ever created under /n (READ-less ACLs); all ephemerals "
                    "are readable by every session.",
    },
    {
        "name": "createTTL-negative-ttl-crash",
        "reason": "Debian 3.8.0: createTTL (21) with a non-TTL create mode (flags 0-4) and a "
                  "negative ttl makes the whole server process exit (status 2, 'Usage: "
                  "ZooKeeperServerMain ...'), so nothing after it could be compared. With flags "
                  "5/6 a negative ttl is answered BADARGUMENTS and is generated.",
        "handling": "createTTL with flags 0-4 is generated only with ttl >= 0.",
    },
    {
        "name": "unordered-lists",
        "reason": "ZooKeeper promises no order for getChildren/getChildren2/multiRead children "
                  "and getEphemerals lists ('The list of children returned is not sorted and no "
                  "guarantee is provided as to its natural or lexical order', ZooKeeper.java); "
                  "Java returns HashSet iteration order, ferrokeeper returns sorted lists.",
        "handling": "the 'children' and 'ephemerals' lists of reply bodies are sorted before "
                    "comparison; their elements and lengths are compared exactly.",
    },
    {
        "name": "close-session-deletion-order",
        "reason": "closeSession deletes a session's ephemerals in the iteration order of Java's "
                  "per-session HashSet (unspecified); ferrokeeper deletes them in sorted order, so "
                  "NodeDeleted/NodeChildrenChanged notifications of one closeSession may come in "
                  "another order.",
        "handling": "for closeSession ops (explicit close only) each session's notification list "
                    "is sorted before comparison; every other op's notifications are compared in "
                    "order.",
    },
    {
        "name": "watch-modes-3.8",
        "reason": "3.8 WatchManager ignores watcher modes: its containsWatcher answers true when any "
                  "connection has a watch on the leaf path (or this one has a recursive one), and "
                  "removeWatches Children/Data also removes persistent watches; 3.9 checks this "
                  "connection's standard watch only (DataTree.containsWatcher/removeWatch with "
                  "WatcherMode.STANDARD). The bug only makes 3.8 answer 0 where 3.9 answers "
                  "NOWATCHER.",
        "handling": "checkWatches: the exact pair (java err 0, ferrokeeper err -121) is accepted and "
                    "counted; every other pair is compared. removeWatches is generated with type 3 "
                    "(Any) only, whose semantics are the same in 3.8 and 3.9.",
    },
    {
        "name": "standard-over-persistent-3.8",
        "reason": "3.8's WatcherModeManager keeps one mode per (connection, path): a standard watch "
                  "set where the connection holds a persistent or recursive one replaces it (it "
                  "then fires once and is gone); 3.9 keeps both (WatchStats).",
        "handling": "the generator never sets a standard watch (watch flag, setWatches lists) on a "
                    "path where that connection holds a persistent/recursive watch, never gives "
                    "one connection both a persistent and a recursive watch on the same path, and "
                    "never a recursive watch where it may hold a standard one.",
    },
    {
        "name": "ttl-flags-in-multi-create",
        "reason": "A create/create2/createContainer sub-op with a TTL mode (flags 5/6) and no ttl: "
                  "3.9 fails the whole multi while decoding it (MARSHALLINGERROR); 3.8.0 only when "
                  "prep reaches that op (a ClassCastException), so an earlier failing op hides it.",
        "handling": "such sub-ops are not generated (createTTL sub-ops with TTL modes are).",
    },
    {
        "name": "watcher-type-4-5",
        "reason": "checkWatches/removeWatches WatcherType 4 (Persistent) and 5 "
                  "(PersistentRecursive) exist only in 3.9; 3.8.0 answers MARSHALLINGERROR.",
        "handling": "only WatcherType 1 (Children), 2 (Data), 3 (Any) are generated.",
    },
]

TIME_FIELDS = ("ctime", "mtime")
ZXID_FIELDS = ("czxid", "mzxid", "pzxid")
MASKED_NOTIFICATION_ZXID = "<masked:notification-zxid>"


def _walk_stats(obj, fn):
    """Call fn(stat_dict) for every Stat found inside obj (dicts/lists)."""
    if isinstance(obj, dict):
        if "czxid" in obj and "pzxid" in obj and "ephemeralOwner" in obj:
            fn(obj)
        for v in obj.values():
            _walk_stats(v, fn)
    elif isinstance(obj, list):
        for v in obj:
            _walk_stats(v, fn)


def collect_zxids(trace: list[dict]) -> list[int]:
    seen: set[int] = set()

    def add(v):
        if isinstance(v, int) and v not in (0, -1):
            seen.add(v)

    for rec in trace:
        rep = rec.get("reply")
        for pong in (rec.get("pongs") or {}).values():
            add(pong.get("zxid"))
        if rep:
            add(rep.get("zxid"))
            _walk_stats(rep.get("body"), lambda st: [add(st[f]) for f in ZXID_FIELDS])
    return sorted(seen)


def normalize_trace(trace: list[dict]) -> list[dict]:
    """Return a normalized deep copy of a raw trace (without the trailing session list)."""
    trace = json.loads(json.dumps(trace))  # deep copy, also turns tuples into lists
    sessions: list[int] = []
    if trace and "sessions" in trace[-1] and "op" not in trace[-1]:
        sessions = trace[-1]["sessions"]
        trace = trace[:-1]
    session_label = {sid: f"S{i}" for i, sid in enumerate(sessions)}
    rank = {z: f"Z{i}" for i, z in enumerate(collect_zxids(trace))}

    def zx(v):
        return rank.get(v, v)

    def fix_stat(st):
        for f in ZXID_FIELDS:
            st[f] = zx(st[f])
        for f in TIME_FIELDS:
            if st[f] != 0:
                st[f] = "<time>"
        owner = st["ephemeralOwner"]
        if owner in session_label:
            st["ephemeralOwner"] = session_label[owner]
        elif owner != 0:
            st["ephemeralOwner"] = f"0x{owner & 0xFFFFFFFFFFFFFFFF:016x}"

    out = []
    for rec in trace:
        rec = dict(rec)
        if "connect" in rec:
            c = dict(rec["connect"])
            sid = c.get("sessionId")
            pw = c.get("passwd")
            if pw is not None and sid is not None and bytes.fromhex(pw) == java_session_password(sid):
                c["passwd"] = "<java-derived>"
            c["sessionId"] = session_label.get(sid, sid)
            rec["connect"] = c
        if rec.get("reply"):
            rep = dict(rec["reply"])
            rep["zxid"] = zx(rep["zxid"])
            _walk_stats(rep.get("body"), fix_stat)
            _sort_unordered_lists(rep.get("body"))  # named exception: unordered-lists
            rec["reply"] = rep
        for lab, pong in (rec.get("pongs") or {}).items():
            rec["pongs"][lab] = dict(pong, zxid=zx(pong["zxid"]))
        events = {}
        for lab, evs in (rec.get("events") or {}).items():
            nevs = []
            for ev in evs:
                ev = dict(ev)
                ev["zxid"] = MASKED_NOTIFICATION_ZXID  # named exception: notification-zxid
                nevs.append(ev)
            if rec.get("op", {}).get("op") == "closeSession" if isinstance(rec.get("op"), dict) else False:
                nevs.sort(key=lambda e: json.dumps(e, sort_keys=True))  # named exception
            events[lab] = nevs
        rec["events"] = events
        out.append(rec)
    return out


def _sort_unordered_lists(obj):
    """Sorts every 'children'/'ephemerals' string list in a reply body (in place)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("children", "ephemerals") and isinstance(v, list) and all(isinstance(x, str) for x in v):
                v.sort()
            else:
                _sort_unordered_lists(v)
    elif isinstance(obj, list):
        for v in obj:
            _sort_unordered_lists(v)


# ------------------------------------------------------------------ comparison


def diff(a, b, path: str = "") -> list[tuple[str, object, object]]:
    """Field-level differences between two JSON-like values."""
    if type(a) is not type(b):
        return [(path or "<root>", a, b)]
    if isinstance(a, dict):
        out = []
        for k in list(a.keys()) + [k for k in b.keys() if k not in a]:
            if k not in a:
                out.append((f"{path}.{k}", "<absent>", b[k]))
            elif k not in b:
                out.append((f"{path}.{k}", a[k], "<absent>"))
            else:
                out += diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [(f"{path}[len {len(a)} vs {len(b)}]", a, b)]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, f"{path}[{i}]")
        if out and all(isinstance(x, str) for x in a + b) and sorted(a) == sorted(b):
            return [(f"{path} (same elements, different order)", a, b)]
        return out
    if a != b:
        return [(path or "<root>", a, b)]
    return []


def _is_38_check_watches(ra, rb) -> bool:
    """checkWatches answered 0 by 3.8 and NOWATCHER by a 3.9-semantics server, all else equal."""
    if not (isinstance(ra, dict) and isinstance(rb, dict)):
        return False
    op = ra.get("op") if isinstance(ra.get("op"), dict) else {}
    if op.get("op") != "checkWatches":
        return False
    a, b = ra.get("reply") or {}, rb.get("reply") or {}
    if a.get("err") != 0 or b.get("err") != -121:
        return False
    rest_a = dict(ra, reply=dict(a, err=None))
    rest_b = dict(rb, reply=dict(b, err=None))
    return not diff(rest_a, rest_b)


def compare_traces(norm_a: list[dict], norm_b: list[dict]) -> list[dict]:
    """List of mismatches: {index, field, a, b} (index = op index in the trace)."""
    mismatches = []
    for i in range(max(len(norm_a), len(norm_b))):
        ra = norm_a[i] if i < len(norm_a) else "<missing>"
        rb = norm_b[i] if i < len(norm_b) else "<missing>"
        if _is_38_check_watches(ra, rb):
            continue  # named exception: watch-modes-3.8
        for field, x, y in diff(ra, rb):
            mismatches.append({"index": i, "field": field, "a": x, "b": y})
    return mismatches


def _short(v, limit: int = 600) -> str:
    s = json.dumps(v, sort_keys=False, default=str)
    return s if len(s) <= limit else s[:limit] + "…"


def format_report(seed, names: tuple[str, str], norm_a: list[dict], norm_b: list[dict],
                  mismatches: list[dict], first_n: int = 5) -> str:
    if not mismatches:
        return f"seed {seed}: {len(norm_a)} ops, no mismatch"
    first = mismatches[0]["index"]
    ra = norm_a[first] if first < len(norm_a) else {}
    rb = norm_b[first] if first < len(norm_b) else {}
    lines = [
        f"seed {seed}: {len(mismatches)} mismatching field(s) in "
        f"{len({m['index'] for m in mismatches})} op(s); first at op index {first}",
        f"  op: {_short(ra.get('op') or rb.get('op'))}",
    ]
    for name, r in ((names[0], ra), (names[1], rb)):
        shown = {k: r.get(k) for k in ("slot_session", "connect", "reply", "closed", "events", "pongs",
                                       "dead_slots") if k in r}
        lines.append(f"  {name}: {_short(shown, 2000)}")
    lines.append(f"  first {min(first_n, len(mismatches))} mismatches:")
    for m in mismatches[:first_n]:
        lines.append(f"    op {m['index']} {m['field']}: {names[0]}={_short(m['a'], 300)} "
                     f"{names[1]}={_short(m['b'], 300)}")
    return "\n".join(lines)
