"""A linearizability checker for a compare-and-set register with versions (ZooKeeper's znode
data + version), in the style of Wing & Gong with Lowe's memoization: depth-first search for a
total order that respects real time (an operation can be linearized first only if it was invoked
before every pending operation's response) and the register's semantics.

Operations (one key each):
* ``read``  -> result (value, version)
* ``write`` value -> result new version (None if indeterminate)
* ``cas``   (expected_version, value) -> result new version, or "fail" (BadVersion: no effect)

An operation whose outcome is unknown (connection loss, timeout) has ``complete = inf`` and may
take effect at any point after its invocation, or never.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Op:
    process: int
    kind: str                 # read | write | cas
    arg: object               # write: value; cas: (expected_version, value); read: None
    invoke: float
    complete: float = math.inf
    result: object = None     # read: (value, version); write/cas: new version or "fail"
    index: int = field(default=-1)

    @property
    def indeterminate(self) -> bool:
        return self.complete == math.inf


def step(state: tuple, op: Op):
    """The state after ``op`` from ``state``, or None if ``op``'s result is impossible there."""
    value, version = state
    if op.kind == "read":
        return state if op.result == (value, version) else None
    if op.kind == "write":
        new = (op.arg, version + 1)
        if op.indeterminate or op.result == version + 1:
            return new
        return None
    if op.kind == "cas":
        expected, new_value = op.arg
        if op.result == "fail":
            return state if version != expected else None
        if version != expected:
            return None
        if op.indeterminate or op.result == version + 1:
            return (new_value, version + 1)
        return None
    raise ValueError(op.kind)


def check(ops: list[Op], initial: tuple) -> tuple[bool, list[Op] | None]:
    """Returns (True, linearization) or (False, None). Indeterminate reads are dropped first (they
    constrain nothing)."""
    ops = [o for o in ops if not (o.kind == "read" and o.indeterminate)]
    ops.sort(key=lambda o: o.invoke)
    for i, o in enumerate(ops):
        o.index = i
    seen: set[tuple[int, tuple]] = set()
    # Iterative DFS: stack of (done_mask, state, path).
    stack: list[tuple[int, tuple, tuple]] = [(0, initial, ())]
    while stack:
        done, state, path = stack.pop()
        remaining = [o for o in ops if not (done >> o.index) & 1]
        # Finished when every remaining op is indeterminate (it may never have happened).
        if all(o.indeterminate for o in remaining):
            return True, [ops[i] for i in path]
        horizon = min((o.complete for o in remaining), default=math.inf)
        for o in remaining:
            if o.invoke > horizon:
                break
            nxt = step(state, o)
            if nxt is None:
                continue
            key = (done | (1 << o.index), nxt)
            if key in seen:
                continue
            seen.add(key)
            stack.append((key[0], nxt, path + (o.index,)))
        if len(seen) > 2_000_000:
            raise RuntimeError("search space too large")
    return False, None


def check_history(history: dict[str, list[Op]], initial: tuple) -> dict[str, bool]:
    """Per key verdicts (linearizability is compositional: keys are checked independently)."""
    return {k: check(v, initial)[0] for k, v in history.items()}
