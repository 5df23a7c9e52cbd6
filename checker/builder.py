"""The checker builder: how to explore a model (engine, limits, properties).

The model says what the system is; the builder says how to explore it; ``run()`` returns
a :class:`~kubecheck.result.CheckResult` that says what was found. Each option returns a
new builder, so a configured builder can be reused::

    result = ReplicaSetAnchor(pods=4).checker().max_states(10**6).first().run()
    print(result.stopped_by, result.distinct_states)
    result.properties["no_over_provision"].verdict    # "violated"
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .errors import ConfigError
from .explicit import Options, ProgressFn, explore
from .result import DEADLOCK, CheckResult

__all__ = ["Checker", "ENGINES"]

ENGINES = ("auto", "explicit", "vector", "hypothesis")
"""``auto`` (the default) uses the vectorized engine where it compiles the model, else the explicit one;
``hypothesis`` runs the model at random (:mod:`kubecheck.hypothesis`): it finds violations, and decides nothing else."""


@dataclasses.dataclass(frozen=True)
class Checker:
    """A builder of checks for one model instance. Start with ``model.checker()``."""

    model: Any
    engine_name: str = "auto"
    options: Options = Options()
    progress_fn: ProgressFn | None = None
    random_runs: Any = None         # kubecheck.hypothesis.HypothesisOptions, for the Hypothesis engine

    def _with(self, **kw: Any) -> "Checker":
        return dataclasses.replace(self, options=dataclasses.replace(self.options, **kw))

    def engine(self, name: str) -> "Checker":
        """Pick the engine: ``"auto"`` (the default: the vectorized engine where it compiles the model, else
        the explicit one, with a warning), ``"explicit"`` (the reference BFS), ``"vector"`` (numpy) or
        ``"hypothesis"`` (random runs; see :meth:`hypothesis`)."""
        if name not in ENGINES:
            raise ConfigError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}.")
        return dataclasses.replace(self, engine_name=name)

    def hypothesis(self, examples: int | None = None, steps: int | None = None, seed: int | None = None,
                   walks: int | None = None) -> "Checker":
        """Run the model at random with Hypothesis instead of exploring it: ``examples`` runs (default 200) of up
        to ``steps`` actions (default 50), then up to ``walks`` fast random walks (default 10,000 on a model small
        enough to compile, else none), derandomized unless a ``seed`` is given. It finds violations (shrunk to
        short traces) and reached goals; every other verdict is unknown."""
        from .hypothesis import DEFAULT_EXAMPLES, DEFAULT_STEPS, HypothesisOptions
        runs = HypothesisOptions(DEFAULT_EXAMPLES if examples is None else examples,
                                 DEFAULT_STEPS if steps is None else steps, seed, walks)
        return dataclasses.replace(self, engine_name="hypothesis", random_runs=runs)

    def max_states(self, n: int | None) -> "Checker":
        """Stop after ``n`` distinct states."""
        return self._with(max_states=_positive("max_states", n))

    def max_depth(self, n: int | None) -> "Checker":
        """Explore at most ``n`` BFS levels (the initial states are the first level)."""
        return self._with(max_depth=_positive("max_depth", n))

    def time_limit(self, seconds: float | None) -> "Checker":
        """Stop after ``seconds`` of exploration."""
        return self._with(time_limit=_positive("time_limit", seconds))

    def max_memory(self, mib: int | None) -> "Checker":
        """Stop when the process's resident memory reaches ``mib`` MiB."""
        return self._with(max_memory=_positive("max_memory", mib))

    def first(self, on: bool = True) -> "Checker":
        """Stop at the first violation (TLC's default) instead of deciding every property."""
        return self._with(first=on)

    def properties(self, *names: str) -> "Checker":
        """Check only the named properties (``deadlock_free`` names deadlock freedom)."""
        ir = self.model.ir
        known = [p.name for p in ir.properties] + ([DEADLOCK] if ir.check_deadlock else [])
        for n in names:
            if n not in known:
                raise ConfigError(f"model `{ir.model}` has no property `{n}`; its properties are: "
                                  f"{', '.join(known)}.")
        return self._with(properties=tuple(names) if names else None)

    def deadlock(self, on: bool) -> "Checker":
        """Check (or do not check) for deadlocks, overriding the model."""
        return self._with(check_deadlock=on)

    def symmetry(self, on: bool = True) -> "Checker":
        """Store one state per orbit of the model's symmetric domains (its ``symmetric`` attribute):
        the same verdicts on fewer states. Refused, naming the spec line, where the model singles out
        an element of such a domain."""
        return self._with(symmetry=on)

    def device(self, name: str) -> "Checker":
        """Where the vectorized engine runs its kernels: ``"cpu"`` (numpy, the default) or ``"cuda"`` (the
        first GPU, through CuPy). Refused in one sentence, before anything is compiled, when CuPy or a
        GPU is missing."""
        from .vector.device import device
        return self._with(device=device(name))

    def liveness(self, on: bool = True) -> "Checker":
        """Record the state graph and decide the temporal properties on it (``eventually``, ``leads_to``,
        ``converges``, ...) under the actions' fairness; a violation is a lasso. Costs memory per transition."""
        return self._with(liveness=on)

    def progress(self, fn: ProgressFn | None) -> "Checker":
        """Call ``fn(Progress)`` about once a second while exploring."""
        return dataclasses.replace(self, progress_fn=fn)

    def run(self) -> CheckResult:
        """Explore and return what was found."""
        ir = self.model.ir
        if self.engine_name == "hypothesis":
            from .hypothesis import HypothesisOptions
            from .hypothesis import explore as run_at_random
            runs = self.random_runs or HypothesisOptions()
            return run_at_random(ir, self.options, self.progress_fn, examples=runs.examples, steps=runs.steps,
                                 seed=runs.seed, walks=runs.walks)
        if self.engine_name == "explicit":
            if self.options.device is not None:
                raise ConfigError(f"--device {self.options.device.name} runs the vectorized engine's kernels; "
                                  "the explicit engine runs on the CPU only: use --engine vector or auto.")
            return explore(ir, self.options, self.progress_fn)
        from .vector import VectorUnsupported
        from .vector import explore as explore_vectorized
        try:
            return explore_vectorized(ir, self.options, self.progress_fn)
        except VectorUnsupported as err:
            if self.engine_name == "vector":
                raise
            result = explore(ir, dataclasses.replace(self.options, device=None), self.progress_fn)
            on = "" if self.options.device is None else ", on the CPU"
            result.warnings.insert(0, f"the vectorized engine does not compile this model ({err}); the explicit "
                                      f"engine explored it instead{on}.")
            return result


def _positive(name: str, v: Any) -> Any:
    if v is not None and v <= 0:
        raise ConfigError(f"`{name}` must be positive; got {v}.")
    return v
