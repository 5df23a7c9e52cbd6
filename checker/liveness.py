"""Liveness on an explored state graph: fair cycles, stuttering, and lasso counterexamples.

The engines explore the reachable states breadth-first and can record every step as an
edge ``src --label--> dst``, where a *label* is an action instance. This module decides
the temporal properties ``<>P``, ``[]<>P``, ``<>[]P``, ``P ~> Q`` and Anvil's
eventually-stable reconciliation on that graph, under weak and strong fairness, and
returns a counterexample as a *lasso*: a finite path from an initial state followed by a
cycle repeated forever (or by stuttering forever in the last state).

Semantics (TLA+, Lamport, *Specifying Systems*, 2002, ch. 8)
------------------------------------------------------------
A behaviour is an infinite sequence of states. Between two steps of the system it may
stutter (repeat a state), so:

- Only state-changing steps count. An edge ``s -> s`` is a stuttering step, not a step:
  it never takes a group, and a label whose only edges from ``s`` are self-loops is not
  *enabled* at ``s``.
- Labels are put in fairness groups (an action is a group of action instances). A group
  is enabled at ``s`` when some allowed label of the group has a step from ``s``,
  anywhere in the graph (a step that leaves the region being searched still enables it).
- ``WF(g)``: g may not be enabled continuously from some point on without being taken
  infinitely often. ``SF(g)``: g may not be enabled infinitely often without being taken
  infinitely often.
- A behaviour may stutter forever at ``s`` iff no fair group is enabled at ``s``
  (deadlocks included: nothing is enabled there).

A behaviour that does not stutter forever visits, from some point on, a set of states
``C`` and uses a set of steps inside it infinitely often; ``C`` with those steps is
strongly connected. Taking more steps of ``C`` never hurts fairness, and every
strongly connected sub-set of the graph is visited, with all its steps, by some
behaviour. So a fair violation exists iff a strongly connected set ``C`` with at least
one step exists such that, over all steps inside ``C``:

- every weak group is taken inside ``C`` or disabled at some state of ``C``;
- every strong group is taken inside ``C`` or disabled at every state of ``C``.

Finding such sets (Emerson and Lei)
-----------------------------------
The strongly connected components (SCCs) of the subgraph are computed with
:func:`scipy.sparse.csgraph.connected_components` (``connection="strong"``), which
implements Pearce's space-efficient variant of Tarjan's algorithm: D. J. Pearce, "An
Improved Algorithm for Finding the Strongly Connected Components of a Directed Graph",
technical report, 2005; published as "A space-efficient algorithm for finding strongly
connected components", *Information Processing Letters* 116(1), 2016. Then:

- An SCC where a *weak* group is enabled at every state and never taken is dropped
  whole: every sub-set of it has the group enabled everywhere and not taken either, so
  weak fairness needs no refinement.
- An SCC where a *strong* group is enabled somewhere and never taken is not fair, but a
  sub-set avoiding the states where the group is enabled may be. Those states are
  removed and the SCCs of the rest are examined again. This is the recursive SCC
  decomposition for Streett (strong fairness) conditions of E. A. Emerson and C.-L. Lei,
  "Modalities for model checking: branching time logic strikes back", *Science of
  Computer Programming* 8(3), 1987; see also C. Baier and J.-P. Katoen, *Principles of
  Model Checking*, MIT Press 2008, sec. 6.5 (fair SCCs), and TLC's liveness checker,
  which decomposes its behaviour graph the same way. It terminates: each round removes
  states, and a group removed from an SCC is disabled in all of its sub-SCCs.
- An SCC that must visit a bad state (``<>[]P``, convergence) is dropped when it has
  none; so are its sub-SCCs.

All rounds are vectorized over every SCC at once: a round is one SCC computation on the
states still in question, then per-SCC counts from ``(scc, group)`` pairs with numpy.

The properties and their violations
-----------------------------------
With ``fair cycle in R`` meaning a fair strongly connected set inside the states ``R``,
and ``stutter in R`` a state of ``R`` where no fair group is enabled:

==================  ============================================================
``<>P``             from a not-P initial state, through not-P states only, a fair
                    cycle in not-P or a stutter in not-P
``[]<>P``           a reachable fair cycle in not-P, or stutter in not-P
``<>[]P``           a reachable fair cycle containing a not-P state, or stutter in
                    not-P
``P ~> Q``          a reachable P-and-not-Q state, then through not-Q states a fair
                    cycle in not-Q or a stutter in not-Q
converges           (:func:`check_converges`) any path to a desired state, then only
                    suffix-allowed labels: a fair cycle in desired containing a
                    not-matches state, or a stutter in a desired, not-matches state
==================  ============================================================

Lassos
------
:class:`Lasso` is ``states[0] -> ... -> states[loop] -> ... -> states[-1]`` with
``labels[i]`` the label of step ``states[i] -> states[i+1]``; the cycle is
``states[loop:]`` and closes by the step ``states[-1] --closing--> states[loop]``,
which is not repeated in ``states``. A stuttering lasso has ``loop == len(states) - 1``,
``closing is None`` and ``stutter`` True. Lassos are deterministic and short:

1. *Prefix.* A breadth-first search from the initial states, through the states the
   property allows, level by level; a state's parent is the lowest-id state of the
   previous level with a step to it, by its lowest label. Among the *target* states
   (states of fair components, stuttering states), the one at the lowest distance, then
   of the lowest id, is the *entry*; the prefix is the search's path to it. For
   ``P ~> Q`` the same search first picks the P-and-not-Q state from which a target is
   reachable through not-Q states (lowest distance, lowest id), then searches through
   not-Q states from it to the entry.
2. If the entry is a stuttering target, the lasso stutters there (the shortest lasso).
3. *Cycle.* Otherwise the cycle starts at the entry and stays inside the entry's fair
   component ``C``. Its *duties*, in this order: visit a bad state (when one is
   required); then, by group id, for every weak group enabled somewhere in ``C``, take a
   step of it or visit a state of ``C`` where it is disabled, and for every strong group
   enabled somewhere in ``C``, take a step of it. States visited and steps taken discharge
   every duty they meet. For each duty still pending, in order, the cycle walks the
   shortest path inside ``C`` (same tie rule as the prefix) to the nearest state (lowest
   id on ties) where the duty can be discharged, and there, unless arriving discharged
   it, takes the duty's step with the lowest label (then lowest target). Finally it walks
   the shortest path to the nearest predecessor of the entry (lowest id) and closes by
   that predecessor's lowest-label step to the entry (unless the last step already
   returned to it).

Every violation is found iff it exists in the graph given, and every lasso is a real
fair behaviour (:func:`validate_lasso` checks one). The functions are pure and take
numpy arrays; no Python loop runs over states or edges (loops run over refinement
rounds, fairness groups and lasso steps), so they scale to tens of millions of edges.

Example: a process that may wait forever, unless ``enter`` is weakly fair::

    >>> g = StateGraph.from_steps(2, [0], [(0, 0, 1), (1, 1, 0)])   # 0 -request-> 1 -enter-> 0
    >>> waiting = np.array([False, True])
    >>> entered = np.array([True, False])
    >>> check_leads_to(g, waiting, entered, Fairness.none(2))
    Lasso(states=(0, 1), labels=(0,), loop=1, closing=None, stutter=True)
    >>> check_leads_to(g, waiting, entered, Fairness.per_label(2)) is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "StateGraph", "Fairness", "Lasso",
    "check_eventually", "check_always_eventually", "check_eventually_always", "check_leads_to", "check_converges",
    "fair_components", "may_stutter", "validate_lasso",
]


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class StateGraph:
    """The explored state graph: states ``0..n-1`` in BFS discovery order, and its edges.

    ``src[i] --label[i]--> dst[i]`` for every edge ``i``; edges may repeat and may be
    self-loops (stuttering, not steps). ``label`` is the action instance, ``0..labels-1``.

    >>> g = StateGraph.from_steps(2, [0], [(0, 0, 1)])
    >>> g.n, g.src.tolist(), g.label.tolist()
    (2, [0], [0])
    """

    n: int
    initial: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    label: np.ndarray
    labels: int

    def __post_init__(self) -> None:
        if not (self.src.shape == self.dst.shape == self.label.shape) or self.src.ndim != 1:
            raise ValueError("src, dst and label must be 1-d arrays of the same length")
        for name, a, hi in (("src", self.src, self.n), ("dst", self.dst, self.n), ("label", self.label, self.labels),
                            ("initial", self.initial, self.n)):
            if a.dtype.kind not in "iu":
                raise ValueError(f"{name} must be an integer array, not {a.dtype}")
            if a.size and (int(a.min()) < 0 or int(a.max()) >= hi):
                raise ValueError(f"{name} has values outside 0..{hi - 1}")

    @classmethod
    def from_steps(cls, n: int, initial: Iterable[int], edges: Iterable[tuple[int, int, int]],
                   labels: int | None = None) -> "StateGraph":
        """A graph from ``(src, label, dst)`` triples (for tests and small examples)."""
        e = np.array(list(edges), dtype=np.int64).reshape(-1, 3)
        labels = int(e[:, 1].max()) + 1 if labels is None and len(e) else (labels or 0)
        return cls(n, np.unique(np.asarray(list(initial), dtype=np.int64)), e[:, 0].copy(), e[:, 2].copy(),
                   e[:, 1].astype(np.int32), labels)


@dataclass(frozen=True)
class Fairness:
    """Fairness groups: ``group[label]`` is the label's group id (``-1``: no fairness);
    ``strong[group]`` is True for strong fairness, False for weak.

    >>> f = Fairness(np.array([0, -1, 0], np.int32), np.array([False]))
    >>> f.groups
    1
    """

    group: np.ndarray
    strong: np.ndarray

    @property
    def groups(self) -> int:
        return int(len(self.strong))

    @classmethod
    def none(cls, labels: int) -> "Fairness":
        """No label is fair: every behaviour may stop (stutter) anywhere."""
        return cls(np.full(labels, -1, np.int32), np.zeros(0, bool))

    @classmethod
    def per_label(cls, labels: int, strong: bool = False) -> "Fairness":
        """Every label is its own group, all weak (or all strong)."""
        return cls(np.arange(labels, dtype=np.int32), np.full(labels, strong, bool))


@dataclass(frozen=True)
class Lasso:
    """A behaviour ``states[:loop]`` then ``states[loop:]`` forever.

    ``labels[i]`` takes ``states[i] -> states[i+1]``. The cycle ``states[loop:]`` closes
    by the step ``states[-1] --closing--> states[loop]`` (the first cycle state is not
    repeated at the end). When ``stutter`` is True the behaviour stops in ``states[-1]``
    and repeats it forever: ``loop == len(states) - 1`` and ``closing`` is None.

    >>> Lasso((0, 1, 2), (5, 6), loop=1, closing=7, stutter=False).cycle
    (1, 2)
    """

    states: tuple[int, ...]
    labels: tuple[int, ...]
    loop: int
    closing: int | None
    stutter: bool

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.states) - 1 or not 0 <= self.loop < len(self.states):
            raise ValueError(f"malformed lasso {self}")
        if self.stutter != (self.closing is None) or (self.stutter and self.loop != len(self.states) - 1):
            raise ValueError(f"malformed lasso {self}")

    @property
    def prefix(self) -> tuple[int, ...]:
        """The states before the cycle."""
        return self.states[:self.loop]

    @property
    def cycle(self) -> tuple[int, ...]:
        """The states repeated forever (one state when stuttering)."""
        return self.states[self.loop:]


# --------------------------------------------------------------------------- steps and fairness

@dataclass(frozen=True)
class _Steps:
    """The graph's steps (edges with ``src != dst``) sorted by ``(src, label)``.

    The order makes every choice below deterministic, whatever the order in which the
    engine recorded the edges: choices look at the lowest ``(src, label)`` and, where
    parallel steps differ only in their target, pick the lowest target explicitly.
    """

    n: int
    src: np.ndarray
    dst: np.ndarray
    label: np.ndarray


def _node_dtype(n: int) -> type:
    return np.int32 if n < 2**31 - 1 else np.int64


def _steps(g: StateGraph) -> _Steps:
    keep = g.src != g.dst
    dt = _node_dtype(g.n)
    src, dst, label = g.src[keep].astype(dt), g.dst[keep].astype(dt), g.label[keep].astype(np.int32)
    del keep
    # One int64 key sorts faster than a lexsort. An engine that records each state's
    # successors in action order emits them sorted already, and then nothing is sorted.
    key = src.astype(np.int64) * max(g.labels, 1) + label
    if key.size > 1 and not bool(np.all(key[1:] >= key[:-1])):
        order = np.argsort(key)
        del key
        src, dst, label = src[order], dst[order], label[order]
    return _Steps(g.n, src, dst, label)


@dataclass(frozen=True)
class _Context:
    """Steps with the labels a behaviour (or its suffix) may use, and fairness on them.

    ``ekey``: ``state * G + group`` for every state and group enabled there, sorted and
    unique; ``stutter``: the states where no fair group is enabled.
    """

    steps: _Steps
    ok: np.ndarray        # bool per step: its label is allowed
    group: np.ndarray     # int64 per label
    strong: np.ndarray    # bool per group
    G: int                # number of groups (at least 1, so keys c * G + g stay distinct)
    ekey: np.ndarray
    stutter: np.ndarray

    @property
    def n(self) -> int:
        return self.steps.n


def _context(g: StateGraph, steps: _Steps, fairness: Fairness, allowed: np.ndarray | None) -> _Context:
    group = np.asarray(fairness.group, dtype=np.int64)
    strong = np.asarray(fairness.strong, dtype=bool)
    if group.shape != (g.labels,):
        raise ValueError(f"fairness.group has shape {group.shape}, expected ({g.labels},)")
    if group.size and (group.min() < -1 or group.max() >= len(strong)):
        raise ValueError("fairness.group names a group outside fairness.strong")
    ok = np.ones(steps.src.size, bool) if allowed is None else allowed[steps.label]
    G = max(len(strong), 1)
    lg = group[steps.label]
    fair = ok & (lg >= 0)
    # Computed on every allowed step, not only on the region searched: a step that
    # leaves the region still enables its group.
    ekey = _uniq(steps.src[fair].astype(np.int64) * G + lg[fair])
    del lg, fair
    stutter = np.ones(g.n, bool)
    stutter[ekey // G] = False
    return _Context(steps, ok, group, strong, G, ekey, stutter)


def _uniq(x: np.ndarray) -> np.ndarray:
    """Sorted unique values. (``np.unique`` of numpy >= 2.3 uses a hash table when asked
    for values only, several times slower than sorting on tens of millions of ints.)

    >>> _uniq(np.array([3, 1, 3])).tolist()
    [1, 3]
    """
    x = np.sort(x)
    if x.size > 1:
        keep = np.empty(x.size, bool)
        keep[0] = True
        np.not_equal(x[1:], x[:-1], out=keep[1:])
        x = x[keep]
    return x


def _member(x: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin`` for a sorted set, in O(len(x) log len(set))."""
    if sorted_set.size == 0:
        return np.zeros(x.shape, bool)
    pos = np.searchsorted(sorted_set, x)
    return sorted_set[np.minimum(pos, sorted_set.size - 1)] == x


# --------------------------------------------------------------------------- breadth-first search

@dataclass(frozen=True)
class _Adj:
    """Compressed adjacency (CSR): the steps out of ``s`` are ``indptr[s]:indptr[s+1]``."""

    indptr: np.ndarray
    dst: np.ndarray
    label: np.ndarray

    @property
    def n(self) -> int:
        return self.indptr.size - 1


def _adj(n: int, src: np.ndarray, dst: np.ndarray, label: np.ndarray) -> _Adj:
    """``src`` must be sorted; the order of steps out of one state is kept."""
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return _Adj(indptr, dst, label)


@dataclass(frozen=True)
class _Tree:
    """A BFS tree: distance (-1: not reached), parent and the label from the parent."""

    dist: np.ndarray
    parent: np.ndarray
    via: np.ndarray

    def path(self, t: int) -> tuple[list[int], list[int]]:
        states, labels = [int(t)], []
        while self.dist[t] > 0:
            labels.append(int(self.via[t]))
            t = self.parent[t]
            states.append(int(t))
        return states[::-1], labels[::-1]


def _bfs(adj: _Adj, sources: np.ndarray,
         stop: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[_Tree, np.ndarray]:
    """Level-synchronous BFS from ``sources``; a state's parent is the lowest-id state of
    the previous level with a step to it, by its lowest label.

    With ``stop`` (a mask over a level's states), stops at the first level where it
    holds somewhere and returns those states too (ascending).

    >>> a = _adj(3, np.array([0, 0, 1]), np.array([2, 1, 2]), np.array([4, 3, 5]))
    >>> _bfs(a, np.array([0]))[0].path(2)
    ([0, 2], [4])
    """
    n = adj.n
    dist = np.full(n, -1, np.int32)
    parent = np.full(n, -1, adj.dst.dtype)
    via = np.full(n, -1, np.int32)
    tree = _Tree(dist, parent, via)
    frontier = _uniq(np.asarray(sources, dtype=adj.dst.dtype))
    dist[frontier] = 0
    level = 0
    while frontier.size:
        if stop is not None:
            hit = frontier[stop(frontier)]
            if hit.size:
                return tree, hit
        start = adj.indptr[frontier]
        count = adj.indptr[frontier + 1] - start
        total = int(count.sum())
        if total == 0:
            break
        # Indices of all steps out of the frontier, in (source, label) order.
        eidx = np.repeat(start - (np.cumsum(count) - count), count) + np.arange(total)
        t = adj.dst[eidx]
        fresh = dist[t] < 0
        eidx, t = eidx[fresh], t[fresh]
        owner = np.repeat(frontier, count)[fresh]
        # return_index gives first occurrences (numpy sorts stably for it): the lowest
        # (source, label) reaching each new state.
        frontier, first = np.unique(t, return_index=True)
        level += 1
        dist[frontier] = level
        parent[frontier] = owner[first]
        via[frontier] = adj.label[eidx[first]]
    return tree, np.zeros(0, np.int64)


def _subgraph_adj(ctx: _Context, edges: np.ndarray, region: np.ndarray | None) -> _Adj:
    st = ctx.steps
    m = edges if region is None else edges & region[st.src] & region[st.dst]
    return _adj(ctx.n, st.src[m], st.dst[m], st.label[m])


# --------------------------------------------------------------------------- fair components

def _fair_components(ctx: _Context, region: np.ndarray, must: np.ndarray | None) -> np.ndarray:
    """Component id per state (-1: none) of the maximal fair strongly connected sets in
    ``region`` (each containing a ``must`` state when given), numbered by lowest state."""
    n, st, G = ctx.n, ctx.steps, ctx.G
    comp = np.full(n, -1, np.int64)
    next_id = 0
    node = region.copy()
    loc = np.zeros(n, _node_dtype(n))              # global -> local id in this round
    while True:
        idx = np.flatnonzero(node)
        m = idx.size
        if m < 2:
            break
        loc[idx] = np.arange(m)
        em = ctx.ok & node[st.src] & node[st.dst]
        ls, ld, lab = loc[st.src[em]], loc[st.dst[em]], st.label[em]
        del em
        if ls.size == 0:
            break
        # The CSR is built directly (ls is sorted): no COO copy and no duplicate summing;
        # csgraph still makes a float64 copy of the data.
        it = np.int32 if max(m, ls.size) < 2**31 - 1 else np.int64
        indptr = np.zeros(m + 1, it)
        np.cumsum(np.bincount(ls, minlength=m), out=indptr[1:])
        graph = csr_matrix((np.ones(ls.size, np.int8), ld.astype(it, copy=False), indptr), shape=(m, m))
        k, cl = connected_components(graph, directed=True, connection="strong")
        del graph, indptr
        inner = cl[ls] == cl[ld]
        ci = cl[ls[inner]]
        candidate = np.zeros(k, bool)
        candidate[ci] = True                       # at least one step inside: nontrivial
        if must is not None:
            has_bad = np.zeros(k, bool)
            has_bad[cl[must[idx]]] = True
            candidate &= has_bad
        if not candidate.any():
            break
        size = np.bincount(cl, minlength=k)
        gi = ctx.group[lab[inner]]
        taken = _uniq(ci[gi >= 0].astype(np.int64) * G + gi[gi >= 0])
        del ls, ld, lab, inner, ci, gi
        # Enabled (scc, group) pairs, with the number of the scc's states enabling it.
        es = ctx.ekey // G
        sel = node[es]
        s_loc = loc[es[sel]]
        c_ = cl[s_loc]
        keep = candidate[c_]
        s_loc, key = s_loc[keep], c_[keep].astype(np.int64) * G + ctx.ekey[sel][keep] % G
        del es, sel, c_, keep
        sk = np.sort(key)
        head = np.ones(sk.size, bool)
        head[1:] = sk[1:] != sk[:-1]
        start = np.flatnonzero(head)
        ukey, cnt = sk[start], np.diff(np.append(start, sk.size))
        del sk, head, start
        uc, ug = ukey // G, ukey % G
        not_taken = ~_member(ukey, taken)
        weak_fail = not_taken & ~ctx.strong[ug] & (cnt == size[uc])
        strong_fail = not_taken & ctx.strong[ug]
        bad_weak = np.zeros(k, bool)
        bad_weak[uc[weak_fail]] = True
        bad_strong = np.zeros(k, bool)
        bad_strong[uc[strong_fail]] = True
        fair = candidate & ~bad_weak & ~bad_strong
        fs = fair[cl]
        comp[idx[fs]] = next_id + cl[fs].astype(np.int64)
        next_id += k
        # Streett refinement: drop the states enabling a strong group the scc never takes.
        refine = candidate & ~bad_weak & bad_strong
        if not refine.any():
            break
        nxt = refine[cl]
        nxt[s_loc[_member(key, ukey[strong_fail])]] = False
        node[:] = False
        node[idx[nxt]] = True
    valid = comp >= 0
    if valid.any():
        _, first, inv = np.unique(comp[valid], return_index=True, return_inverse=True)
        rank = np.empty(first.size, np.int64)
        rank[np.argsort(first)] = np.arange(first.size)
        comp[valid] = rank[inv.reshape(-1)]
    return comp


def fair_components(g: StateGraph, fairness: Fairness, states: np.ndarray | None = None,
                    allowed: np.ndarray | None = None, must_visit: np.ndarray | None = None) -> np.ndarray:
    """The fair strongly connected sets inside ``states``, as a component id per state.

    Components are the maximal sets ``C`` with at least one step inside that a fair
    behaviour may visit forever (using only ``allowed`` labels), each containing a
    ``must_visit`` state when given; ids are ``0..k-1`` in order of their lowest state,
    ``-1`` for the other states.

    >>> g = StateGraph.from_steps(3, [0], [(0, 0, 1), (1, 1, 0), (1, 2, 2)])
    >>> fair_components(g, Fairness.none(3)).tolist()
    [0, 0, -1]
    >>> fair_components(g, Fairness.per_label(3)).tolist()      # label 2 is enabled at 1, never taken: 1 may leave
    [0, 0, -1]
    >>> fair_components(g, Fairness.per_label(3, strong=True)).tolist()
    [-1, -1, -1]
    """
    steps = _steps(g)
    ctx = _context(g, steps, fairness, _labels(g, allowed, "allowed"))
    region = np.ones(g.n, bool) if states is None else _states(g, states, "states")
    must = None if must_visit is None else _states(g, must_visit, "must_visit")
    return _fair_components(ctx, region, must)


def may_stutter(g: StateGraph, fairness: Fairness, allowed: np.ndarray | None = None) -> np.ndarray:
    """Per state: True where a behaviour may stop (no fair group is enabled there).

    >>> g = StateGraph.from_steps(2, [0], [(0, 0, 1), (1, 0, 1)])     # 1's only edge is a self-loop
    >>> may_stutter(g, Fairness.per_label(1)).tolist()
    [False, True]
    """
    return _context(g, _steps(g), fairness, _labels(g, allowed, "allowed")).stutter


# --------------------------------------------------------------------------- lasso construction

@dataclass(frozen=True, eq=False)          # compared by identity
class _Duty:
    """Something the cycle must do inside its component.

    ``group == -1``: visit one of the (local, sorted) states ``visit``. Otherwise take a
    step of ``group``, or, for a weak group, visit a state where it is disabled.
    """

    group: int
    weak: bool = False
    visit: np.ndarray | None = None


def _cycle(ctx: _Context, comp: np.ndarray, entry: int,
           must: np.ndarray | None) -> tuple[list[int], list[int], int]:
    """A fair cycle from ``entry`` inside its component: (states, labels, closing label)."""
    st, G = ctx.steps, ctx.G
    inside = comp == comp[entry]
    members = np.flatnonzero(inside)
    m = members.size
    loc = np.full(ctx.n, -1, _node_dtype(ctx.n))   # global -> local id (a lookup beats searchsorted)
    loc[members] = np.arange(m)
    em = ctx.ok & inside[st.src] & inside[st.dst]
    adj = _adj(m, loc[st.src[em]], loc[st.dst[em]], st.label[em])
    del em
    step_group = ctx.group[adj.label]
    es = ctx.ekey // G
    on = np.bincount(ctx.ekey[inside[es]] % G, minlength=G) > 0      # groups enabled somewhere in C
    del es
    duties: list[_Duty] = []
    if must is not None:
        duties.append(_Duty(-1, visit=np.flatnonzero(must[members])))
    # A fair component takes every strong group it enables, and every weak group it
    # enables it either takes or disables at some state.
    duties += [_Duty(int(gr), weak=not bool(ctx.strong[gr])) for gr in np.flatnonzero(on)]

    def arrives(d: _Duty, lv: np.ndarray) -> np.ndarray:
        """Per local state: arriving there discharges ``d``."""
        if d.group < 0:
            return _member(lv, d.visit)
        if d.weak:
            return ~_member(members[lv].astype(np.int64) * G + d.group, ctx.ekey)
        return np.zeros(lv.shape, bool)

    def takes(d: _Duty, lv: np.ndarray) -> np.ndarray:
        """Per local state: it has a step of ``d``'s group inside C."""
        if d.group < 0:
            return np.zeros(lv.shape, bool)
        start = adj.indptr[lv]
        count = adj.indptr[lv + 1] - start
        eidx = np.repeat(start - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
        owner = np.repeat(np.arange(lv.size), count)
        out = np.zeros(lv.shape, bool)
        out[owner[step_group[eidx] == d.group]] = True
        return out

    e = int(loc[entry])
    states, labels = [e], []

    def arrive(s: int) -> None:
        a = np.array([s])
        duties[:] = [d for d in duties if not arrives(d, a)[0]]

    def step(label: int, t: int) -> None:
        labels.append(int(label))
        states.append(int(t))
        gr = int(ctx.group[label])
        duties[:] = [d for d in duties if d.group != gr or gr < 0]
        arrive(t)

    def walk(target: int, tree: _Tree) -> None:
        ss, ll = tree.path(target)
        for lbl, t in zip(ll, ss[1:]):
            step(lbl, t)

    def take(s: int, ok: np.ndarray) -> None:
        """Take the step out of ``s`` where ``ok`` with the lowest (label, target)."""
        lo = adj.indptr[s]
        j = lo + np.flatnonzero(ok[lo:adj.indptr[s + 1]])
        j = j[np.lexsort((adj.dst[j], adj.label[j]))[0]]
        step(int(adj.label[j]), int(adj.dst[j]))

    arrive(e)
    for duty in list(duties):
        if duty not in duties:
            continue                                 # discharged on the way to an earlier one
        # The nearest state (lowest id on ties) where arriving, or taking a step of the
        # duty's group, discharges it.
        tree, hit = _bfs(adj, np.array([states[-1]]), lambda lv: arrives(duty, lv) | takes(duty, lv))
        assert hit.size, "a fair component can discharge every duty"
        walk(int(hit[0]), tree)
        if duty in duties:
            take(states[-1], step_group == duty.group)
    if not (len(states) > 1 and states[-1] == e):
        # Back to the entry: the nearest predecessor of it, then its lowest-label step.
        into = adj.dst == e
        src_of = np.repeat(np.arange(m), np.diff(adj.indptr))
        preds = _uniq(src_of[into])
        del src_of
        tree, hit = _bfs(adj, np.array([states[-1]]), lambda lv: _member(lv, preds))
        walk(int(hit[0]), tree)
        take(states[-1], into)
    glob = members[np.array(states)].tolist()
    return glob[:-1], labels[:-1], labels[-1]


def _lasso(ctx: _Context, tree: _Tree, comp: np.ndarray, stutter: np.ndarray, must: np.ndarray | None,
           head: tuple[list[int], list[int]] | None = None) -> Lasso | None:
    """The lasso to the target (fair component state or stuttering state) that ``tree``
    reaches first (lowest distance, then lowest id); ``head`` is a path before the tree's
    source."""
    target = ((comp >= 0) | stutter) & (tree.dist >= 0)
    cand = np.flatnonzero(target)
    if cand.size == 0:
        return None
    entry = int(cand[np.argmin(tree.dist[cand])])     # argmin: first, so lowest id among the nearest
    states, labels = tree.path(entry)
    if head is not None:
        states, labels = head[0] + states[1:], head[1] + labels
    if stutter[entry]:
        return Lasso(tuple(states), tuple(labels), len(states) - 1, None, True)
    cs, cl, closing = _cycle(ctx, comp, entry, must)
    return Lasso(tuple(states + cs[1:]), tuple(labels + cl), len(states) - 1, closing, False)


# --------------------------------------------------------------------------- the checks

def _states(g: StateGraph, x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.shape != (g.n,) or x.dtype != bool:
        raise ValueError(f"{name} must be a bool array of shape ({g.n},), not {x.dtype} {x.shape}")
    return x


def _labels(g: StateGraph, x: np.ndarray | None, name: str) -> np.ndarray | None:
    if x is None:
        return None
    x = np.asarray(x)
    if x.shape != (g.labels,) or x.dtype != bool:
        raise ValueError(f"{name} must be a bool array of shape ({g.labels},), not {x.dtype} {x.shape}")
    return x


def _check(g: StateGraph, fairness: Fairness, allowed: np.ndarray | None, sources: np.ndarray,
           path_region: np.ndarray | None, cycle_region: np.ndarray, must: np.ndarray | None,
           stutter_region: np.ndarray) -> Lasso | None:
    """Search from ``sources`` through ``path_region`` (None: anywhere) for a fair cycle in
    ``cycle_region`` (through a ``must`` state) or a stutter in ``stutter_region``."""
    ctx = _context(g, _steps(g), fairness, allowed)
    tree, _ = _bfs(_subgraph_adj(ctx, ctx.ok, path_region), sources)
    reach = tree.dist >= 0
    comp = _fair_components(ctx, cycle_region & reach, must)
    return _lasso(ctx, tree, comp, stutter_region & ctx.stutter & reach, must)


def check_eventually(g: StateGraph, p: np.ndarray, fairness: Fairness,
                     allowed: np.ndarray | None = None) -> Lasso | None:
    """``<>P``: every fair behaviour reaches a P state. None when it holds, else a lasso
    that stays in not-P states.

    >>> g = StateGraph.from_steps(2, [0], [(0, 0, 1)])
    >>> check_eventually(g, np.array([False, True]), Fairness.none(1))        # may stop in 0
    Lasso(states=(0,), labels=(), loop=0, closing=None, stutter=True)
    >>> check_eventually(g, np.array([False, True]), Fairness.per_label(1)) is None
    True
    """
    notp = ~_states(g, p, "p")
    allowed = _labels(g, allowed, "allowed")
    return _check(g, fairness, allowed, g.initial[notp[g.initial]], notp, notp, None, notp)


def check_always_eventually(g: StateGraph, p: np.ndarray, fairness: Fairness,
                            allowed: np.ndarray | None = None) -> Lasso | None:
    """``[]<>P``: every fair behaviour visits P states infinitely often. A violation ends in
    a cycle of not-P states (or stutters in one).

    >>> g = StateGraph.from_steps(3, [0], [(0, 0, 1), (1, 0, 0), (1, 1, 2), (2, 1, 1)])
    >>> check_always_eventually(g, np.array([False, False, True]), Fairness.per_label(2))
    Lasso(states=(0, 1), labels=(0,), loop=0, closing=0, stutter=False)
    >>> check_always_eventually(g, np.array([False, False, True]), Fairness.per_label(2, strong=True)) is None
    True
    """
    notp = ~_states(g, p, "p")
    allowed = _labels(g, allowed, "allowed")
    return _check(g, fairness, allowed, g.initial, None, notp, None, notp)


def check_eventually_always(g: StateGraph, p: np.ndarray, fairness: Fairness,
                            allowed: np.ndarray | None = None) -> Lasso | None:
    """``<>[]P``: every fair behaviour ends up in P for good. A violation ends in a cycle
    through a not-P state (or stutters in one).

    >>> g = StateGraph.from_steps(2, [0], [(0, 0, 1), (1, 1, 0)])
    >>> check_eventually_always(g, np.array([False, True]), Fairness.per_label(2))
    Lasso(states=(0, 1), labels=(0,), loop=0, closing=1, stutter=False)
    """
    notp = ~_states(g, p, "p")
    allowed = _labels(g, allowed, "allowed")
    return _check(g, fairness, allowed, g.initial, None, np.ones(g.n, bool), notp, notp)


def check_leads_to(g: StateGraph, p: np.ndarray, q: np.ndarray, fairness: Fairness,
                   allowed: np.ndarray | None = None) -> Lasso | None:
    """``P ~> Q`` (``[](P => <>Q)``): from every P state, every fair behaviour reaches a Q
    state (possibly the same one). A violation reaches a P-and-not-Q state, then never Q.

    >>> g = StateGraph.from_steps(3, [0], [(0, 0, 1), (1, 1, 2), (2, 2, 0)])
    >>> check_leads_to(g, np.array([False, True, False]), np.array([True, False, False]), Fairness.per_label(3))
    """
    p = _states(g, p, "p")
    notq = ~_states(g, q, "q")
    allowed = _labels(g, allowed, "allowed")
    ctx = _context(g, _steps(g), fairness, allowed)
    st = ctx.steps
    tree, _ = _bfs(_subgraph_adj(ctx, ctx.ok, None), g.initial)
    region = notq & (tree.dist >= 0)
    comp = _fair_components(ctx, region, None)
    stutter = region & ctx.stutter
    target = (comp >= 0) | stutter
    if not target.any():
        return None
    # The not-Q states from which a target is reachable through not-Q states.
    m = ctx.ok & region[st.src] & region[st.dst]
    rs, rd, rl = st.dst[m], st.src[m], st.label[m]
    order = np.argsort(rs, kind="stable")
    back, _ = _bfs(_adj(g.n, rs[order], rd[order], rl[order]), np.flatnonzero(target))
    del rs, rd, rl, order
    trigger = np.flatnonzero(p & region & (back.dist >= 0))
    if trigger.size == 0:
        return None
    r = int(trigger[np.argmin(tree.dist[trigger])])
    after, _ = _bfs(_adj(g.n, st.src[m], st.dst[m], st.label[m]), np.array([r]))
    return _lasso(ctx, after, comp, stutter, None, head=tree.path(r))


def check_converges(g: StateGraph, desired: np.ndarray, matches: np.ndarray, fairness: Fairness,
                    suffix_allowed: np.ndarray) -> Lasso | None:
    """Anvil's eventually-stable reconciliation ``[]desired ~> []matches``, with the
    labels outside ``suffix_allowed`` (environment, faults) eventually off.

    A violation is any path from an initial state (any labels) to a desired state, then
    an infinite suffix that uses only suffix-allowed labels, stays in desired states and
    is in a not-matches state infinitely often (or stutters in a desired, not-matches
    state). Fairness and enabledness in the suffix count suffix-allowed labels only.

    >>> g = StateGraph.from_steps(2, [0], [(0, 0, 1), (1, 1, 0)])     # 1 = fault breaks it again
    >>> desired, matches = np.array([True, True]), np.array([False, True])
    >>> check_converges(g, desired, matches, Fairness.per_label(2), np.array([True, False])) is None
    True
    >>> check_converges(g, desired, matches, Fairness.per_label(2), np.array([True, True]))
    Lasso(states=(0, 1), labels=(0,), loop=0, closing=1, stutter=False)
    """
    desired = _states(g, desired, "desired")
    bad = desired & ~_states(g, matches, "matches")
    suffix_allowed = _labels(g, suffix_allowed, "suffix_allowed")
    steps = _steps(g)
    ctx = _context(g, steps, fairness, suffix_allowed)
    # The prefix may use any label: search over every step, not just the allowed ones.
    tree, _ = _bfs(_adj(g.n, steps.src, steps.dst, steps.label), g.initial)
    reach = tree.dist >= 0
    comp = _fair_components(ctx, desired & reach, bad)
    return _lasso(ctx, tree, comp, bad & ctx.stutter & reach, bad)


# --------------------------------------------------------------------------- validation

def validate_lasso(g: StateGraph, lasso: Lasso, fairness: Fairness, allowed: np.ndarray | None = None,
                   *, prefix_any: bool = False) -> None:
    """Assert that ``lasso`` is a fair behaviour of ``g``.

    It starts in an initial state; every step (and the closing one) is an edge of ``g``
    with that label, changes the state and has an allowed label (prefix steps may use any
    label when ``prefix_any``, as in :func:`check_converges`); on the cycle, every weak
    group enabled at every cycle state and every strong group enabled at some cycle state
    is taken; a stuttering end has no fair group enabled. Enabledness counts allowed
    labels only.

    >>> g = StateGraph.from_steps(2, [0], [(0, 0, 1), (1, 0, 0)])
    >>> validate_lasso(g, Lasso((0, 1), (0,), 0, 0, False), Fairness.per_label(1))
    """
    allowed = _labels(g, allowed, "allowed")
    ok = (lambda lbl: True) if allowed is None else (lambda lbl: bool(allowed[lbl]))
    assert lasso.states[0] in set(g.initial.tolist()), f"{lasso.states[0]} is not an initial state"
    near = np.isin(g.src, np.array(lasso.states))
    edges = set(zip(g.src[near].tolist(), g.label[near].tolist(), g.dst[near].tolist()))
    steps = list(zip(lasso.states, lasso.labels, lasso.states[1:]))
    if not lasso.stutter:
        steps.append((lasso.states[-1], lasso.closing, lasso.states[lasso.loop]))
    for i, (s, lbl, t) in enumerate(steps):
        assert (s, lbl, t) in edges, f"step {i}: {s} --{lbl}--> {t} is not an edge"
        assert s != t, f"step {i}: {s} --{lbl}--> {t} is a self-loop, not a step"
        assert (i < lasso.loop and prefix_any) or ok(lbl), f"step {i}: label {lbl} is not allowed"
    cycle = set(lasso.cycle)

    def enabled(s: int) -> set[int]:
        return {int(fairness.group[lbl]) for (a, lbl, b) in edges
                if a == s and a != b and ok(lbl) and fairness.group[lbl] >= 0}

    en = {s: enabled(s) for s in cycle}
    if lasso.stutter:
        last = lasso.states[-1]
        assert not en[last], f"stutters in {last} where groups {en[last]} are enabled"
        return
    taken = {int(fairness.group[lbl]) for (_, lbl, _) in steps[lasso.loop:]} - {-1}
    for gr in range(fairness.groups):
        if gr in taken:
            continue
        if fairness.strong[gr]:
            assert not any(gr in en[s] for s in cycle), f"strong group {gr} enabled on the cycle, never taken"
        else:
            assert not all(gr in en[s] for s in cycle), f"weak group {gr} always enabled on the cycle, never taken"
