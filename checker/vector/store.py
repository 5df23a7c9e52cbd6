"""Every stored state, level by level, with its parent and the action instance that found it.

States are kept column-major, one (width, n) array per BFS level in the engine's narrow
dtype, so the frontier is expanded straight from them; each state also keeps its parent's
index inside the previous level (int32) and the instance that discovered it. That is all
a counterexample needs: walk the parents back to an initial state, then replay the
instances forward with the reference evaluator, checking that every step reproduces the
stored state, so a trace is never reported that the semantics does not confirm.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..evaluate import Evaluator
from ..ir import IR
from ..result import Step, Trace

__all__ = ["StateStore"]


class StateStore:
    """The levels of a breadth-first search (see the module docstring)."""

    def __init__(self, ir: IR, dtype: np.dtype, inst_dtype: Any) -> None:
        self.ir = ir
        self.width = ir.width
        self.dtype = dtype
        self.inst_dtype = inst_dtype
        self.states: list[np.ndarray | None] = []  # per level: (width, n); None once expanded and forgotten
        self.sizes: list[int] = []              # per level: how many states it holds
        self.parents: list[np.ndarray] = []     # per level: int32 index into the previous level (-1: initial)
        self.via: list[np.ndarray] = []         # per level: instance id (-1: initial)
        self.starts: list[int] = [0]            # global index of each level's first state, then the total

    def __len__(self) -> int:
        return self.starts[-1]

    @property
    def depth(self) -> int:
        """The number of non-empty levels."""
        return sum(1 for n in self.sizes if n)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for lv in (self.states, self.parents, self.via) for a in lv if a is not None)

    def forget(self, level: int) -> None:
        """Drop an expanded level's states (never the initial ones): a trace through it is rebuilt by replaying
        the parent links' actions from an initial state, so only parents and actions stay."""
        if level > 0:
            self.states[level] = None

    def add_level(self, states: np.ndarray, parents: np.ndarray, via: np.ndarray) -> None:
        self.states.append(states)
        self.sizes.append(states.shape[1])
        self.parents.append(parents.astype(np.int32, copy=False))
        self.via.append(via.astype(self.inst_dtype, copy=False))
        self.starts.append(self.starts[-1] + states.shape[1])

    def locate(self, g: int) -> tuple[int, int]:
        """(level, index in the level) of the state with global index ``g``."""
        for lv in range(len(self.starts) - 1):
            if g < self.starts[lv + 1]:
                return lv, g - self.starts[lv]
        raise IndexError(g)

    def state(self, g: int) -> tuple[int, ...] | None:
        """A stored state, or None where its level has been forgotten."""
        lv, j = self.locate(g)
        X = self.states[lv]
        return None if X is None else tuple(int(x) for x in X[:, j])

    def level_of(self, g: int) -> int:
        return self.locate(g)[0]

    def path(self, g: int) -> list[tuple[int, tuple[int, ...] | None]]:
        """(instance, state or None where forgotten) from an initial state (instance -1) to ``g``."""
        lv, j = self.locate(g)
        out: list[tuple[int, tuple[int, ...] | None]] = []
        while True:
            X = self.states[lv]
            out.append((int(self.via[lv][j]), None if X is None else tuple(int(x) for x in X[:, j])))
            if lv == 0:
                break
            j = int(self.parents[lv][j])
            lv -= 1
        out.reverse()
        return out

    def trace(self, g: int | None, extra: list[tuple[int, tuple[int, ...]]], name: str | None,
              instances: list[tuple[int, tuple[int, ...]]], ev: Evaluator,
              finish: Callable[[Trace], Trace] | None = None,
              canonical: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None) -> Trace:
        """The trace to stored state ``g`` and then through ``extra`` steps (instance, state), replayed.

        Every step is replayed with the reference evaluator; where the state is still stored it must be
        reproduced (up to ``canonical``, for symmetry reduction where states are orbit representatives), and where
        its level was forgotten the replayed state (its representative) takes its place.
        ``finish`` post-processes the trace (renaming representatives back into a real behaviour).
        """
        path = (self.path(g) if g is not None else []) + list(extra)
        steps = []
        cur: tuple[int, ...] | None = None
        for inst, st in path:
            if inst < 0:
                steps.append(Step(None, (), st))
            else:
                ai, vals = instances[inst]
                a = self.ir.actions[ai]
                assert cur is not None
                nxt = ev.successor(a, cur, vals)
                rep = canonical if canonical is not None else (lambda x: x)
                if nxt is not None and st is None:
                    st = rep(nxt)
                if nxt is None or rep(nxt) != rep(st):
                    raise AssertionError(f"vector engine: replaying {ev.label(a, vals)} does not reproduce the "
                                         "stored state; this is a bug in kubecheck, please report it.")
                steps.append(Step(a.name, tuple(zip(a.param_names(), vals)), st))
            cur = st
        tr = Trace(self.ir.model, dict(self.ir.config), tuple(steps), name)
        return finish(tr) if finish is not None else tr
