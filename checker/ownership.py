"""Ownership: who may write what, decided from the IR before any state is explored.

Every component declares what it owns (``owns``; a component that declares nothing owns the
variables it declares), and the IR records every action's component and write set. Two
checks follow, both static, so they hold for every state and not only the reachable ones
a search happened to visit:

- **Frame properties.** A step property of the form ``step.by(C...) | unchanged(pre, post,
  V...)`` (the Kubernetes model's ``single_writer_etcd``: only the API server writes etcd)
  says that only components ``C`` change ``V``. It is *proved* when no action of another
  component writes ``V``, or when each such write is conditional and Z3 shows that the
  condition cannot hold where the action is enabled (in a type-correct state); else it is
  *violated*, and the finding names the action, the variable and the spec line.
- **Declarations.** Every other write must be to a variable the action's component owns
  (or the component of the class that declares the action, where ``@action(component=...)``
  names another). A write outside both, that Z3 cannot show to be a no-op, is a
  :class:`~kubecheck.errors.SpecError`: the spec breaks the rule it declares.

Example::

    report = check_ownership(ClusterModel().ir)
    report.verdicts["single_writer_etcd"]      # "proved"
    for v in report.violations:                # a non-owner's write, with its spec line
        print(v.describe())
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SpecError
from .expr import Expr
from .ir import IR, Action, Property, Update

__all__ = ["FrameProperty", "Violation", "OwnershipReport", "frame_property", "check_ownership"]


@dataclass(frozen=True)
class FrameProperty:
    """``step.by(*owners) | unchanged(pre, post, *leaves)``: only ``owners`` change ``leaves``."""

    name: str
    owners: tuple[str, ...]
    leaves: frozenset[str]
    variables: tuple[str, ...]     # the variables those leaves make up, in declaration order


@dataclass(frozen=True)
class Violation:
    """An action that can change a variable its component may not write."""

    action: str
    component: str
    variable: str
    source: str                  # the spec line of the write
    owners: tuple[str, ...]      # who may write it
    property: str | None         # the frame property it breaks (None: the ``owns`` declarations)

    def describe(self) -> str:
        by = " or ".join(f"`{o}`" for o in self.owners) or "no component"
        return (f"{self.source}: action `{self.action}` of component `{self.component}` writes `{self.variable}`, "
                f"which only {by} may write")


@dataclass
class OwnershipReport:
    """What the ownership checks found: a verdict per frame property, and every violation."""

    frames: dict[str, FrameProperty] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)          # frame property -> "proved" | "violated"
    violations: list[Violation] = field(default_factory=list)
    conditional: list[tuple[str, str]] = field(default_factory=list)  # (action, variable) writes proved no-ops

    def note(self, name: str) -> str:
        """One paragraph for the report: why the frame property ``name`` got its verdict."""
        frame = self.frames[name]
        owners = ", ".join(frame.owners)
        found = [v for v in self.violations if v.property == name]
        if not found:
            n = len(frame.variables)
            return (f"proved for every state, before exploring: only {owners} actions write its "
                    f"{n} variable{'s' if n > 1 else ''}")
        return "; ".join(v.describe() for v in found)


def frame_property(ir: IR, prop: Property) -> FrameProperty | None:
    """``prop`` as a frame property, or None where it has another shape."""
    if prop.kind != "step" or len(prop.exprs) != 1:
        return None
    e = prop.exprs[0]
    if e.op != "or" or len(e.args) != 2:
        return None
    acting = [a for a in e.args if a.op == "acting"]
    if len(acting) != 1:
        return None
    rest = e.args[1] if e.args[0] is acting[0] else e.args[0]
    leaves: set[str] = set()
    if not _unchanged_leaves(rest, leaves):
        return None
    variables = tuple(v.name for v in ir.variables if any(lf.name in leaves for lf in v.leaves))
    return FrameProperty(prop.name, tuple(acting[0].data), frozenset(leaves), variables)


def _unchanged_leaves(e: Expr, into: set[str]) -> bool:
    """Collect the leaves of a conjunction of ``post[l][i...] == pre[l][i...]``; False for any other shape."""
    if e.op == "and":
        return all(_unchanged_leaves(a, into) for a in e.args)
    if e.op == "reduce" and e.data == "all":
        return _unchanged_leaves(e.args[1], into)
    if e.op == "eq" and all(a.op == "read" for a in e.args):
        (la, pa), (lb, pb) = (a.data for a in e.args)
        if la == lb and pa != pb and e.args[0].args == e.args[1].args:
            into.add(la)
            return True
    return False


def check_ownership(ir: IR) -> OwnershipReport:
    """Decide the frame properties and the ``owns`` declarations of ``ir`` (see the module docstring).

    Raises :class:`SpecError` for a write that breaks the declarations and no frame property names.
    """
    report = OwnershipReport()
    for p in ir.properties:
        frame = frame_property(ir, p)
        if frame is not None:
            report.frames[p.name] = frame
            report.verdicts[p.name] = "proved"
    variable_of = {lf.name: v.name for v in ir.variables for lf in v.leaves}
    prover = _NoOpProver(ir)
    undeclared: list[Violation] = []
    for action in ir.actions:
        declared = [ir.components.get(action.component, ()), ir.components.get(action.declared_by, ())]
        unrestricted = any(d is None for d in declared)
        allowed = {n for d in declared if d is not None for n in d}
        for update in action.updates:
            variable = variable_of[update.leaf]
            frames = [f for f in report.frames.values()
                      if update.leaf in f.leaves and action.component not in f.owners]
            if not frames and (unrestricted or variable in allowed):
                continue
            if prover.never_changes(action, update.leaf):
                report.conditional.append((action.name, variable))
                continue
            for f in frames:
                report.violations.append(Violation(action.name, action.component, variable, _line(action, update),
                                                   f.owners, f.name))
                report.verdicts[f.name] = "violated"
            if not frames:
                owners = tuple(c for c, names in ir.components.items() if names is not None and variable in names)
                undeclared.append(Violation(action.name, action.component, variable, _line(action, update),
                                            owners, None))
    if undeclared:
        v = undeclared[0]
        more = f" ({len(undeclared) - 1} more such writes)" if len(undeclared) > 1 else ""
        raise SpecError(f"{v.describe()}{more}. A component writes only what it owns: add `{v.variable}` to the "
                        f"`owns` of component `{v.component}` if it is its to write, or send the change to an owner "
                        "instead (as controllers ask the API server to write etcd).")
    return report


def _line(action: Action, update: Update) -> str:
    return update.source or action.source


class _NoOpProver:
    """Z3 proofs that an action, where enabled in a type-correct state, leaves a leaf as it was."""

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self._encoder = None

    def never_changes(self, action: Action, leaf: str) -> bool:
        import z3   # only a write outside its component's declarations needs a proof; most models have none

        from .z3encode import Encoder, fresh_state
        if self._encoder is None:
            self._encoder = Encoder(self.ir)
        enc = self._encoder
        pre, post = fresh_state(self.ir, "pre"), fresh_state(self.ir, "post")
        rel = enc.action_relation(action, pre, post)
        lf = self.ir.leaf(leaf)
        changed = z3.Or(*[post[k] != pre[k] for k in range(lf.offset, lf.offset + lf.size)])
        solver = z3.Solver()
        solver.set("random_seed", 0)
        solver.add(*(z3.BoolVal(t) if isinstance(t, bool) else t for t in (enc.type_invariant(pre), rel.relation)),
                   changed)
        return solver.check() == z3.unsat
