"""Liveness on explicit state graphs (:mod:`kubecheck.liveness`): exact lassos on small
graphs built by hand, and verdicts cross-checked against a brute-force oracle.

The oracle enumerates every sub-set of states whose induced subgraph is strongly
connected (with at least one step) and judges weak and strong fairness on it directly
from the definitions; every lasso returned is checked with ``validate_lasso``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kubecheck.liveness import (Fairness, Lasso, StateGraph, check_always_eventually, check_converges,
                                check_eventually, check_eventually_always, check_leads_to, fair_components,
                                may_stutter, validate_lasso)


def graph(n: int, steps: list[tuple[int, int, int]], initial=(0,), labels: int | None = None) -> StateGraph:
    """A graph from ``(src, label, dst)`` triples."""
    return StateGraph.from_steps(n, initial, steps, labels)


def mask(n: int, *states: int) -> np.ndarray:
    out = np.zeros(n, bool)
    out[list(states)] = True
    return out


def fairness(groups: list[int], strong: list[bool]) -> Fairness:
    return Fairness(np.array(groups, np.int32), np.array(strong, bool))


# --------------------------------------------------------------------------- a two-process mutex

IDLE, WAIT, CRIT = "idle", "wait", "crit"
ACTIONS = ["request1", "enter1", "exit1", "request2", "enter2", "exit2"]


def explore(init, actions):
    """States in BFS order and the StateGraph of ``actions``: ``fn(state) -> next | None``."""
    ids, order, steps = {init: 0}, [init], []
    for s in order:
        for label, fn in enumerate(actions):
            t = fn(s)
            if t is None:
                continue
            if t not in ids:
                ids[t] = len(order)
                order.append(t)
            steps.append((ids[s], label, ids[t]))
    return order, graph(len(order), steps, labels=len(actions))


def lock_mutex():
    """(pc1, pc2): enter when the other process is not critical. Nothing orders the waiters."""
    def request(i):
        return lambda s: s[:i] + (WAIT,) + s[i + 1:] if s[i] == IDLE else None

    def enter(i):
        return lambda s: s[:i] + (CRIT,) + s[i + 1:] if s[i] == WAIT and s[1 - i] != CRIT else None

    def leave(i):
        return lambda s: s[:i] + (IDLE,) + s[i + 1:] if s[i] == CRIT else None

    return explore((IDLE, IDLE), [request(0), enter(0), leave(0), request(1), enter(1), leave(1)])


def peterson():
    """(pc1, pc2, turn): a requester yields the turn; enter when the other is idle or it is my turn."""
    def request(i):
        return lambda s: s[:i] + (WAIT,) + s[i + 1:2] + (1 - i,) if s[i] == IDLE else None

    def enter(i):
        return lambda s: (s[:i] + (CRIT,) + s[i + 1:]
                          if s[i] == WAIT and (s[1 - i] == IDLE or s[2] == i) else None)

    def leave(i):
        return lambda s: s[:i] + (IDLE,) + s[i + 1:] if s[i] == CRIT else None

    return explore((IDLE, IDLE, 0), [request(0), enter(0), leave(0), request(1), enter(1), leave(1)])


def named(states, lasso: Lasso):
    """A lasso as (states, action names, loop, closing name)."""
    return ([states[i] for i in lasso.states], [ACTIONS[a] for a in lasso.labels], lasso.loop,
            None if lasso.closing is None else ACTIONS[lasso.closing])


def test_mutex_starves_without_fairness():
    states, g = peterson()
    assert len(states) == 10
    waiting = np.array([s[0] == WAIT for s in states])
    critical = np.array([s[0] == CRIT for s in states])
    lasso = check_leads_to(g, waiting, critical, Fairness.none(6))
    # Process 1 asks, then the system stops: nothing is fair, so stopping is allowed.
    assert lasso == Lasso((0, 1), (0,), loop=1, closing=None, stutter=True)
    assert named(states, lasso) == ([(IDLE, IDLE, 0), (WAIT, IDLE, 1)], ["request1"], 1, None)
    validate_lasso(g, lasso, Fairness.none(6))


def test_mutex_weak_fairness_on_every_label_holds():
    states, g = peterson()
    waiting = np.array([s[0] == WAIT for s in states])
    critical = np.array([s[0] == CRIT for s in states])
    assert check_leads_to(g, waiting, critical, Fairness.per_label(6)) is None


def test_mutex_fair_to_process_2_only_starves_process_1():
    states, g = peterson()
    waiting = np.array([s[0] == WAIT for s in states])
    critical = np.array([s[0] == CRIT for s in states])
    only2 = fairness([-1, -1, -1, 0, 1, 2], [False] * 3)
    lasso = check_leads_to(g, waiting, critical, only2)
    # Process 2 must request too; then its turn is gone, and process 1 need not move.
    assert named(states, lasso) == ([(IDLE, IDLE, 0), (WAIT, IDLE, 1), (WAIT, WAIT, 0)],
                                    ["request1", "request2"], 2, None)
    validate_lasso(g, lasso, only2)


def test_lock_mutex_needs_strong_fairness():
    states, g = lock_mutex()
    waiting = np.array([s[0] == WAIT for s in states])
    critical = np.array([s[0] == CRIT for s in states])
    weak = Fairness.per_label(6)
    lasso = check_leads_to(g, waiting, critical, weak)
    # enter1 is disabled whenever process 2 is critical: weak fairness lets 2 overtake forever.
    assert lasso == Lasso((0, 1, 4, 7), (0, 3, 4), loop=1, closing=5, stutter=False)
    assert named(states, lasso) == ([(IDLE, IDLE), (WAIT, IDLE), (WAIT, WAIT), (WAIT, CRIT)],
                                    ["request1", "request2", "enter2"], 1, "exit2")
    validate_lasso(g, lasso, weak)
    assert check_leads_to(g, waiting, critical, Fairness.per_label(6, strong=True)) is None


# --------------------------------------------------------------------------- weak and strong fairness

# a=0 <-> b=1, and x: a -> c=2 (enabled at a only, never taken on the a-b cycle)
AB, BA, X = 0, 1, 2
INTERMITTENT = [(0, AB, 1), (1, BA, 0), (0, X, 2)]


def test_weak_fairness_allows_an_intermittently_enabled_action_to_starve():
    g = graph(3, INTERMITTENT)
    weak = Fairness.per_label(3)
    lasso = check_always_eventually(g, mask(3, 2), weak)
    assert lasso == Lasso((0, 1), (AB,), loop=0, closing=BA, stutter=False)
    validate_lasso(g, lasso, weak)


def test_strong_fairness_takes_an_intermittently_enabled_action():
    g = graph(3, INTERMITTENT)
    assert check_always_eventually(g, mask(3, 2), Fairness.per_label(3, strong=True)) is None
    # Only x needs to be strong (a-b steps weak, so that the behaviour cannot stop).
    assert check_always_eventually(g, mask(3, 2), fairness([0, 1, 2], [False, False, True])) is None
    # With a and b not fair at all, it may stop in b, where x is disabled.
    assert check_always_eventually(g, mask(3, 2), fairness([-1, -1, 0], [True])) == Lasso((0, 1), (AB,), 1, None, True)


# 0 <-> 1 <-> 2, and s: 2 -> 3 (P). Started in 2.
A, B, C, D, S = 0, 1, 2, 3, 4
REFINE = [(0, A, 1), (1, B, 0), (1, C, 2), (2, D, 1), (2, S, 3)]
STRONG_S = fairness([0, 1, 2, 3, 4], [False, False, False, False, True])     # a-d weak, s strong
WEAK_S = Fairness.per_label(5)


def test_strong_refinement_finds_a_fair_sub_cycle():
    g = graph(4, REFINE, initial=(2,))
    strong_s = STRONG_S
    # {0, 1, 2} enables s at 2 and never takes it; without 2, the cycle 1 -> 0 -> 1 is fair.
    assert fair_components(g, strong_s, mask(4, 0, 1, 2)).tolist() == [0, 0, -1, -1]
    lasso = check_always_eventually(g, mask(4, 3), strong_s)
    assert lasso == Lasso((2, 1, 0), (D, B), loop=1, closing=A, stutter=False)
    validate_lasso(g, lasso, strong_s)


def test_weak_version_keeps_the_whole_component():
    g = graph(4, REFINE, initial=(2,))
    weak_s = WEAK_S
    assert fair_components(g, weak_s, mask(4, 0, 1, 2)).tolist() == [0, 0, 0, -1]
    lasso = check_always_eventually(g, mask(4, 3), weak_s)
    # The cycle starts where the search enters: at 2, leaving to 1 where s is disabled.
    assert lasso == Lasso((2, 1), (D,), loop=0, closing=C, stutter=False)
    validate_lasso(g, lasso, weak_s)


def test_strong_refinement_needs_two_rounds():
    # 0 <-> 1 <-> 2 <-> 0, 2 -> 3 -h-> 2; strong i escapes from 3, strong {h, j}: j escapes from 1.
    a, b, c, d, e, f, gg, h, i, j = range(10)
    steps = [(0, a, 1), (1, b, 0), (1, c, 2), (2, d, 1), (0, e, 2), (2, f, 0), (2, gg, 3), (3, h, 2),
             (3, i, 6), (1, j, 5)]
    g = graph(7, steps)
    # a..g weak (groups 2..8); i strong (group 0); h and j one strong group (1).
    strong = fairness([2, 3, 4, 5, 6, 7, 8, 1, 0, 1], [True, True] + [False] * 7)
    # Round 1 drops 3 (i never taken); then {h, j} is no longer taken, so round 2 drops 1.
    assert fair_components(g, strong).tolist() == [0, -1, 0, -1, -1, -1, -1]
    lasso = check_always_eventually(g, mask(7, 5, 6), strong)
    assert lasso == Lasso((0, 2), (e,), loop=0, closing=f, stutter=False)
    validate_lasso(g, lasso, strong)


def test_cycle_takes_every_fair_group_it_must():
    # A ring 0 -> 1 -> 2 -> 3 -> 0 with chords 0 -> 2 -> 0; ring steps weak, chords strong.
    steps = [(0, 0, 1), (1, 1, 2), (2, 2, 3), (3, 3, 0), (0, 4, 2), (2, 5, 0)]
    g = graph(4, steps)
    fair = fairness([0, 0, 0, 0, 1, 1], [False, True])
    # []<>P with P = {3}: the cycle in {0, 1, 2} must take a ring step (the ring is enabled
    # everywhere) and a chord (enabled at 0 and 2). Take ring 0 -> 1, walk to 2, chord back.
    lasso = check_always_eventually(g, mask(4, 3), fair)
    assert lasso == Lasso((0, 1, 2), (0, 1), loop=0, closing=5, stutter=False)
    validate_lasso(g, lasso, fair)
    # <>[]P with P = {0, 1, 2}: the bad state 3 is visited first, by the chord and the
    # ring step 2 -> 3, which discharges the other duties on the way.
    lasso = check_eventually_always(g, mask(4, 0, 1, 2), fair)
    assert lasso == Lasso((0, 2, 3), (4, 2), loop=0, closing=3, stutter=False)
    validate_lasso(g, lasso, fair)


# --------------------------------------------------------------------------- stuttering and self-loops

def test_deadlock_outside_p_is_a_stuttering_violation():
    g = graph(3, [(0, 0, 1), (0, 1, 2)])          # 1 is a deadlock, 2 is P
    weak = Fairness.per_label(2)
    lasso = check_eventually(g, mask(3, 2), weak)
    assert lasso == Lasso((0, 1), (0,), loop=1, closing=None, stutter=True)
    assert lasso.stutter and lasso.closing is None and lasso.cycle == (1,)
    validate_lasso(g, lasso, weak)


def test_self_loops_are_not_steps():
    # 1's only edge is a self-loop of a weakly fair label: the label is not enabled at 1.
    g = graph(3, [(0, 0, 1), (1, 1, 1), (0, 0, 0)], labels=2)
    weak = Fairness.per_label(2)
    assert may_stutter(g, weak).tolist() == [False, True, True]
    lasso = check_eventually(g, mask(3, 2), weak)
    assert lasso == Lasso((0, 1), (0,), loop=1, closing=None, stutter=True)
    validate_lasso(g, lasso, weak)
    # Replace the self-loop by a real step to P: now it holds.
    assert check_eventually(graph(3, [(0, 0, 1), (1, 1, 2)]), mask(3, 2), weak) is None


def test_a_self_loop_does_not_take_its_group():
    # Strong x is enabled at 0 (0 -x-> 2); the self-loop 0 -x-> 0 on the 0-1 cycle is not taking it.
    fair = fairness([0, 1, 2], [False, False, True])
    g = graph(3, [(0, AB, 1), (1, BA, 0), (0, X, 0), (0, X, 2)])
    assert check_always_eventually(g, mask(3, 2), fair) is None
    # Without the real step 0 -x-> 2, x is enabled nowhere and the a-b cycle is fair.
    h = graph(3, [(0, AB, 1), (1, BA, 0), (0, X, 0)])
    lasso = check_always_eventually(h, mask(3, 2), fair)
    assert lasso == Lasso((0, 1), (AB,), loop=0, closing=BA, stutter=False)
    validate_lasso(h, lasso, fair)


def test_duplicate_edges_change_nothing():
    g = graph(3, INTERMITTENT + INTERMITTENT + [(1, BA, 1)])
    assert check_always_eventually(g, mask(3, 2), Fairness.per_label(3)) == Lasso((0, 1), (AB,), 0, BA, False)


# --------------------------------------------------------------------------- the properties

def test_eventually():
    weak = Fairness.per_label(3)
    chain = graph(3, [(0, 0, 1), (1, 1, 2)])
    assert check_eventually(chain, mask(3, 2), Fairness.per_label(2)) is None
    # No fairness: a behaviour may stop in the initial state.
    assert check_eventually(chain, mask(3, 2), Fairness.none(2)) == Lasso((0,), (), 0, None, True)
    # An initial state in P satisfies it at once.
    assert check_eventually(chain, mask(3, 0), Fairness.none(2)) is None
    # A weakly fair cycle through not-P states: the exit to P is enabled only at 1.
    loop = graph(3, [(0, 0, 1), (1, 1, 0), (1, 2, 2)])
    lasso = check_eventually(loop, mask(3, 2), weak)
    assert lasso == Lasso((0, 1), (0,), loop=0, closing=1, stutter=False)
    validate_lasso(loop, lasso, weak)
    # A label that is not allowed is neither taken nor enabled.
    one = graph(2, [(0, 0, 1)])
    assert check_eventually(one, mask(2, 1), Fairness.per_label(1)) is None
    assert check_eventually(one, mask(2, 1), Fairness.per_label(1), allowed=np.array([False])) == \
        Lasso((0,), (), 0, None, True)


def test_always_eventually():
    weak = Fairness.per_label(3)
    # 0 -> 1 -> 2 -> 0 visits P = {2} forever.
    ring = graph(3, [(0, 0, 1), (1, 1, 2), (2, 2, 0)])
    assert check_always_eventually(ring, mask(3, 2), weak) is None
    # With a shortcut 1 -> 0 the ring can avoid 2 (the step to 2 is enabled only at 1).
    short = graph(3, [(0, 0, 1), (1, 1, 2), (2, 2, 0), (1, 0, 0)])
    lasso = check_always_eventually(short, mask(3, 2), weak)
    assert lasso == Lasso((0, 1), (0,), loop=0, closing=0, stutter=False)
    validate_lasso(short, lasso, weak)


def test_eventually_always():
    weak = Fairness.per_label(2)
    # 0 -> 1 <-> 2: the not-P state 0 is left for good.
    g = graph(3, [(0, 0, 1), (1, 1, 2), (2, 1, 1)])
    assert check_eventually_always(g, mask(3, 1, 2), weak) is None
    # The cycle must contain a not-P state: 2 is not P, so 1 <-> 2 violates it.
    lasso = check_eventually_always(g, mask(3, 1), weak)
    assert lasso == Lasso((0, 1, 2), (0, 1), loop=1, closing=1, stutter=False)
    validate_lasso(g, lasso, weak)
    # Stuttering in a not-P state: 1 has no fair step.
    assert check_eventually_always(g, mask(3, 0, 2), fairness([0, -1], [False])) == Lasso((0, 1), (0,), 1, None, True)


def test_leads_to():
    weak = Fairness.per_label(3)
    # 0 -> 1 (P) -> 2 -> 0, Q = {0}: from 1 the ring returns to 0.
    ring = graph(3, [(0, 0, 1), (1, 1, 2), (2, 2, 0)])
    assert check_leads_to(ring, mask(3, 1), mask(3, 0), weak) is None
    # From P = {2} the ring reaches Q = {1}.
    assert check_leads_to(ring, mask(3, 2), mask(3, 1), weak) is None
    # Add 2 <-> 3 that never returns to Q = {0} (the step to 0 is enabled only at 2).
    g = graph(4, [(0, 0, 1), (1, 1, 2), (2, 2, 0), (2, 1, 3), (3, 1, 2)])
    lasso = check_leads_to(g, mask(4, 1), mask(4, 0), weak)
    # Prefix to the P state 1, then through not-Q states to the cycle {2, 3}: the step
    # 2 -> 0 is disabled at 3, so weak fairness does not force it.
    assert lasso == Lasso((0, 1, 2, 3), (0, 1, 1), loop=2, closing=1, stutter=False)
    validate_lasso(g, lasso, weak)


# reconcile: 1 (desired, stale) -> 2 (desired, converged); fault: 2 -> 1; update: 0 -> 1 (user)
UPDATE, RECONCILE, FAULT, REVERT, BREAK = range(5)


def test_converges_when_faults_stop():
    g = graph(3, [(0, UPDATE, 1), (1, RECONCILE, 2), (2, FAULT, 1), (2, REVERT, 0)], labels=5)
    desired, matches = mask(3, 1, 2), mask(3, 2)
    fair = fairness([-1, 0, -1, -1, -1], [False])
    suffix = np.array([False, True, False, False, False])
    assert check_converges(g, desired, matches, fair, suffix) is None
    # If faults never stop, reconcile and fault alternate forever.
    lasso = check_converges(g, desired, matches, fair, np.array([False, True, True, False, False]))
    assert lasso == Lasso((0, 1, 2), (UPDATE, RECONCILE), loop=1, closing=FAULT, stutter=False)
    validate_lasso(g, lasso, fair, np.array([False, True, True, False, False]), prefix_any=True)
    # A cycle that leaves the desired states is not a violation.
    assert check_converges(g, desired, matches, fair, np.array([True, True, False, True, False])) is None


def test_converges_fails_where_reconcile_is_missing():
    # A fault 2 -> 3 breaks it in a way reconcile has no step for: stuck in desired, not matching.
    g = graph(4, [(0, UPDATE, 1), (1, RECONCILE, 2), (2, FAULT, 1), (2, BREAK, 3)], labels=5)
    desired, matches = mask(4, 1, 2, 3), mask(4, 2)
    fair = fairness([-1, 0, -1, -1, -1], [False])
    suffix = np.array([False, True, False, False, False])
    lasso = check_converges(g, desired, matches, fair, suffix)
    # The prefix uses the fault; the suffix stutters in 3.
    assert lasso == Lasso((0, 1, 2, 3), (UPDATE, RECONCILE, BREAK), loop=3, closing=None, stutter=True)
    validate_lasso(g, lasso, fair, suffix, prefix_any=True)
    with pytest.raises(AssertionError):
        validate_lasso(g, lasso, fair, suffix)           # the prefix's fault is not allowed there
    # Reconcile from 3 too: converges.
    g2 = graph(4, [(0, UPDATE, 1), (1, RECONCILE, 2), (2, FAULT, 1), (2, BREAK, 3), (3, RECONCILE, 2)], labels=5)
    assert check_converges(g2, desired, matches, fair, suffix) is None
    # ... unless reconcile is not fair.
    assert check_converges(g2, desired, matches, Fairness.none(5), suffix) == \
        Lasso((0, 1), (UPDATE,), loop=1, closing=None, stutter=True)


# --------------------------------------------------------------------------- determinism

def test_lasso_does_not_depend_on_edge_order():
    states, g = lock_mutex()
    waiting = np.array([s[0] == WAIT for s in states])
    critical = np.array([s[0] == CRIT for s in states])
    expected = check_leads_to(g, waiting, critical, Fairness.per_label(6))
    rng = np.random.default_rng(7)
    for _ in range(10):
        perm = rng.permutation(g.src.size)
        h = StateGraph(g.n, g.initial, g.src[perm], g.dst[perm].astype(np.int32), g.label[perm], g.labels)
        assert check_leads_to(h, waiting, critical, Fairness.per_label(6)) == expected


def test_bad_inputs_are_refused():
    g = graph(2, [(0, 0, 1)])
    with pytest.raises(ValueError):
        check_eventually(g, np.array([0, 1]), Fairness.per_label(1))
    with pytest.raises(ValueError):
        check_eventually(g, mask(2, 1), Fairness(np.array([3], np.int32), np.array([False])))
    with pytest.raises(ValueError):
        StateGraph(2, np.array([0]), np.array([0]), np.array([2]), np.array([0], np.int32), 1)


# --------------------------------------------------------------------------- brute force

def oracle_sets(n, steps, within, enabled, group, strong):
    """Every fair strongly connected sub-set of ``within`` (a set), as frozensets."""
    out = []
    members = sorted(within)
    for r in range(1, len(members) + 1):
        for S in map(frozenset, itertools.combinations(members, r)):
            inner = [(s, l, t) for (s, l, t) in steps if s in S and t in S and s != t]
            if not inner:
                continue
            succ = {s: {t for (a, _, t) in inner if a == s} for s in S}
            pred = {s: {a for (a, _, t) in inner if t == s} for s in S}

            def reach(adj, start):
                seen, todo = {start}, [start]
                while todo:
                    for t in adj[todo.pop()]:
                        if t not in seen:
                            seen.add(t)
                            todo.append(t)
                return seen

            start = min(S)
            if reach(succ, start) != S or reach(pred, start) != S:
                continue
            taken = {group[l] for (_, l, _) in inner} - {-1}
            ok = True
            for gr in range(len(strong)):
                if gr in taken:
                    continue
                if strong[gr] and any(gr in enabled[s] for s in S):
                    ok = False
                if not strong[gr] and all(gr in enabled[s] for s in S):
                    ok = False
            if ok:
                out.append(S)
    return out


def reach_from(sources, steps, region):
    seen = {s for s in sources if s in region}
    todo = list(seen)
    while todo:
        s = todo.pop()
        for (a, _, t) in steps:
            if a == s and t in region and t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def random_case(rng):
    n = int(rng.integers(2, 8))
    L = int(rng.integers(1, 5))
    e = int(rng.integers(1, 3 * n + 1))
    steps = [(int(rng.integers(n)), int(rng.integers(L)), int(rng.integers(n))) for _ in range(e)]
    initial = sorted(set(rng.choice(n, size=int(rng.integers(1, 3)), replace=True).tolist()))
    G = int(rng.integers(0, 3))
    group = [int(rng.integers(-1, G)) for _ in range(L)]
    strong = [bool(rng.integers(2)) for _ in range(G)]
    allowed = None if rng.random() < 0.5 else rng.random(L) < 0.8
    return n, L, steps, initial, group, strong, allowed


def test_random_graphs_against_brute_force():
    rng = np.random.default_rng(20240611)
    seen_violations = {name: 0 for name in ("ae", "ea", "e", "lt", "cv")}
    for case in range(200):
        n, L, steps, initial, group, strong, allowed = random_case(rng)
        g = graph(n, steps, initial=initial, labels=L)
        fair = fairness(group, strong)
        p = rng.random(n) < 0.4
        q = rng.random(n) < 0.4
        ok = (lambda l: True) if allowed is None else (lambda l: bool(allowed[l]))
        live = [st for st in steps if ok(st[1])]
        enabled = {s: {group[l] for (a, l, t) in live if a == s and a != t and group[l] >= 0} for s in range(n)}
        everything = set(range(n))
        reach = reach_from(initial, live, everything)
        notp = {s for s in range(n) if not p[s]}
        notq = {s for s in range(n) if not q[s]}
        stutter = {s for s in range(n) if not enabled[s]}

        def verdict(region, must=None):
            sets = oracle_sets(n, live, region, enabled, group, strong)
            bad = region if must is None else must
            return any(S & bad for S in sets) or bool(stutter & region & bad)

        # []<>P
        lasso = check_always_eventually(g, p, fair, allowed)
        assert (lasso is not None) == verdict(reach & notp), case
        if lasso:
            validate_lasso(g, lasso, fair, allowed)
            assert set(lasso.cycle) <= notp
            seen_violations["ae"] += 1
        # <>[]P
        lasso = check_eventually_always(g, p, fair, allowed)
        assert (lasso is not None) == verdict(reach, must=notp), case
        if lasso:
            validate_lasso(g, lasso, fair, allowed)
            assert set(lasso.cycle) & notp
            seen_violations["ea"] += 1
        # <>P
        lasso = check_eventually(g, p, fair, allowed)
        assert (lasso is not None) == verdict(reach_from(initial, live, notp)), case
        if lasso:
            validate_lasso(g, lasso, fair, allowed)
            assert set(lasso.states) <= notp
            seen_violations["e"] += 1
        # P ~> Q
        lasso = check_leads_to(g, p, q, fair, allowed)
        triggers = {s for s in reach if p[s] and not q[s]}
        assert (lasso is not None) == verdict(reach_from(triggers, live, notq)), case
        if lasso:
            validate_lasso(g, lasso, fair, allowed)
            assert any(p[s] and set(lasso.states[i:]) <= notq for i, s in enumerate(lasso.states))
            seen_violations["lt"] += 1
        # converges: desired = not q, matches = p; the prefix may use any label
        suffix = np.ones(L, bool) if allowed is None else allowed
        lasso = check_converges(g, ~q, p, fair, suffix)
        anywhere = reach_from(initial, steps, everything)
        bad = notq & notp
        assert (lasso is not None) == verdict(anywhere & notq, must=bad), case
        if lasso:
            validate_lasso(g, lasso, fair, suffix, prefix_any=True)
            assert set(lasso.cycle) <= notq and set(lasso.cycle) & bad
            seen_violations["cv"] += 1
    # The sample exercises both verdicts of every property.
    assert all(20 < v < 180 for v in seen_violations.values()), seen_violations
