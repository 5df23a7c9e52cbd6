"""What a check found: a verdict per property, statistics, why it stopped, counterexamples.

The JSON form (:meth:`CheckResult.to_json`) is a contract that scripts and CI rely on; it
is documented in ``docs/results.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ir import IR

__all__ = ["STOPPED_BY", "VERDICTS", "Step", "Trace", "PropertyResult", "ActionCoverage", "CheckResult",
           "DEADLOCK"]

STOPPED_BY = ("complete", "first_violation", "max_states", "max_depth", "time_limit", "max_memory", "interrupted",
              "examples")
"""Why a run ended. ``examples``: a random engine (Hypothesis) ran every example it was given; it decides nothing
but violations."""
VERDICTS = ("holds", "violated", "unknown", "not_checked", "proved")
DEADLOCK = "deadlock_free"
"""The name under which deadlock freedom is reported (when the model checks deadlocks)."""


@dataclass(frozen=True)
class Step:
    """One state of a trace and the action that led to it (``None`` for an initial state)."""

    action: str | None
    params: tuple[tuple[str, int], ...]
    state: tuple[int, ...]


@dataclass(frozen=True)
class Trace:
    """A behaviour of the model: an initial state and the actions after it.

    ``loop`` is the index of the state where a lasso's cycle starts (None for a finite trace),
    and ``closing`` the step that leads from the last state back to ``steps[loop]`` (its
    state is that one's; None where a file did not say). A lasso whose loop starts at its
    last state ends by stuttering: that state repeats forever, which is a fair behaviour
    only where no fair action is enabled there.
    """

    model: str
    config: dict[str, Any]
    steps: tuple[Step, ...]
    violation: str | None = None   # the property it violates, if any
    loop: int | None = None
    closing: Step | None = None

    @property
    def stutters(self) -> bool:
        """A lasso whose last state repeats forever (a step to itself changes nothing, so none closes it)."""
        return self.loop is not None and self.loop == len(self.steps) - 1

    @property
    def length(self) -> int:
        """The number of actions (not states)."""
        return len(self.steps) - 1

    def labels(self, ir: IR) -> list[str]:
        """``action(param=value, ...)`` for every step after the initial state."""
        out = []
        for st in self.steps[1:]:
            a = ir.action(st.action or "")
            vals = dict(st.params)
            if a.params:
                args = ", ".join(f"{p.data}={p.type.show(vals[p.data])}" for p in a.params)
                out.append(f"{a.name}({args})")
            else:
                out.append(a.name)
        return out


@dataclass
class PropertyResult:
    """The verdict on one property, and its counterexample when violated."""

    name: str
    kind: str
    verdict: str
    counterexample: Trace | None = None
    itf: str | None = None          # path of the ITF file written for it, if any
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        ce = None
        if self.counterexample is not None:
            ce = {"length": self.counterexample.length, "itf": self.itf}
        return {"verdict": self.verdict, "counterexample": ce}


@dataclass
class ActionCoverage:
    """How often an action fired (transitions), and how many new states it found.

    ``dormant`` is why the model says this configuration never fires it ("" when it says nothing).
    """

    name: str
    component: str
    kind: str
    fired: int = 0
    new_states: int = 0
    dormant: str = ""

    @property
    def woke(self) -> bool:
        """The model declared this action dormant, yet it fired: the declaration is wrong."""
        return bool(self.dormant) and self.fired > 0


@dataclass
class CheckResult:
    """The outcome of one run of one engine on one model and configuration."""

    model: str
    config: dict[str, Any]
    engine: str
    stopped_by: str
    distinct_states: int
    total_states: int
    depth: int
    seconds: float
    coverage: list[ActionCoverage]
    properties: dict[str, PropertyResult]
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.stopped_by == "complete"

    def violated(self) -> list[str]:
        return [n for n, p in self.properties.items() if p.verdict == "violated"]

    def exit_code(self) -> int:
        """1 if a property is violated; 2 if an action the model declared dormant fired (an error in the model);
        3 if neither, but a verdict is unknown or not checked; else 0.

        A property this engine could not check is not a pass: the run exits 0 only when every
        property holds (or is proved).
        """
        verdicts = {p.verdict for p in self.properties.values()}
        if "violated" in verdicts:
            return 1
        if any(c.woke for c in self.coverage):
            return 2
        if verdicts - {"holds", "proved"}:
            return 3
        return 0

    def assert_properties(self) -> None:
        """Raise AssertionError unless the run was complete and every property holds."""
        bad = {n: p.verdict for n, p in self.properties.items() if p.verdict not in ("holds", "proved")}
        if not self.complete:
            raise AssertionError(f"model checking is incomplete (stopped by {self.stopped_by} after "
                                 f"{self.distinct_states} distinct states); verdicts: {bad}")
        if bad:
            raise AssertionError(f"properties not holding: {bad}")

    def to_json(self) -> dict[str, Any]:
        """The documented JSON result (``kubecheck check --json``)."""
        return {
            "model": self.model,
            "config": dict(self.config),
            "engine": self.engine,
            "symmetry": self.extra.get("symmetry"),
            "stopped_by": self.stopped_by,
            "distinct_states": self.distinct_states,
            "total_states": self.total_states,
            "depth": self.depth,
            "seconds": round(self.seconds, 3),
            "liveness_seconds": (None if self.extra.get("liveness_seconds") is None
                                 else round(self.extra["liveness_seconds"], 3)),
            "bytes_per_state": self.extra.get("bytes_per_state"),
            "bound": self.extra.get("bound"),
            "canonical": self.extra.get("canonical"),
            "coverage": {c.name: {"component": c.component, "kind": c.kind, "fired": c.fired,
                                  "new_states": c.new_states, "dormant": c.dormant or None}
                         for c in self.coverage},
            "properties": {n: p.to_json() for n, p in self.properties.items()},
            "warnings": list(self.warnings),
        }
