"""Writing a model: components, state variables, actions and properties.

A model is a Python class. It declares constants (its configuration), domains of
interchangeable objects, state variables with finite types and initial values, actions
(guards first, then updates) and properties. Components are mixin classes, so a cluster
is the composition of its parts. For example::

    class Counter(Model):
        '''A counter that a worker increments up to a limit.'''
        limit = Constant(3, "how far the counter may go", min=0)

        n = Var(Int(0, limit), init=0)          # the counter's value

        @action
        def worker_increment(self, s):
            require(s.n < self.limit)
            s.n = s.n + 1

        @always
        def bounded(self, s):
            return s.n <= self.limit

        @sometimes
        def reaches_limit(self, s):
            return s.n == self.limit

An action body runs once, on symbolic values, and records a guard (every
``require(...)``) and simultaneous updates that all read the pre-state. The result is the
:class:`~kubecheck.ir.IR` that every engine reads.
"""

from __future__ import annotations

import inspect
import itertools
import os
import re
from typing import Any, Callable, Sequence

from .config import Constant
from .errors import ConfigError, SpecError, _shorten, user_location
from .expr import Expr, const, count, current_trace, lift, param, show, spec_error, tracing, when, all_of, any_of
from .expr import bind_domain as _bind_domain
from .expr import _a_kind, _comparable, a_  # shared type-compatibility rules
from .ir import ACTION_KINDS, FAIRNESS, IR, Action, Property, Update, Variable
from .types import (ArrayType, Bool, BoolType, Domain, EmptyTypeError, Leaf, OptionType, QueueType, RecordType, RefType, ScalarType,
                    Type, _NoneValue, as_type, flatten)

__all__ = [
    "Component", "Model", "Var", "ANY", "one_of", "require", "unchanged",
    "action", "always", "invariant", "sometimes", "step_invariant", "eventually", "eventually_always",
    "always_eventually", "leads_to", "converges", "initially", "constraint",
]


# ---- declarations -----------------------------------------------------------------------

class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()
"""Initial value: every value of the type (a nondeterministic initial state)."""


class one_of:
    """Initial value: any one of the given values, for example ``init=one_of(0, 1)``."""

    def __init__(self, *values: Any) -> None:
        if not values:
            raise SpecError(f"{user_location()}: one_of() needs at least one value.")
        self.values = values


class Var:
    """A state variable: a finite type and an initial value.

    ``init`` is a value (broadcast to every element of an array), a function of the index
    for arrays (``lambda i: i == 0``), a dict for records, ``ANY`` or ``one_of(...)``.
    """

    def __init__(self, type: Any, init: Any = None, doc: str = "") -> None:
        self.type = as_type(type)
        self.init = init
        self.doc = doc
        self.name = "?"
        self.owner: type | None = None
        self.source = user_location()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.owner = owner


class _Decl:
    """A decorated method: an action or a property."""

    counter = itertools.count()

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.owner: type | None = None
        code = fn.__code__
        self.source = f"{_short(code.co_filename)}:{code.co_firstlineno}"
        self.doc = inspect.getdoc(fn) or ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner = owner
        self.name = name


def _short(path: str) -> str:
    return _shorten(path)


class ActionDecl(_Decl):
    def __init__(self, fn: Callable[..., Any], params: dict[str, Any], kind: str, fairness: str | None,
                 component: str | None) -> None:
        super().__init__(fn)
        if kind not in ACTION_KINDS:
            raise SpecError(f"{self.source}: action `{fn.__name__}` has kind {kind!r}; use one of "
                            f"{', '.join(ACTION_KINDS)}.")
        if fairness not in FAIRNESS:
            raise SpecError(f"{self.source}: action `{fn.__name__}` has fairness {fairness!r}; use None, "
                            "'weak' or 'strong'.")
        sig = list(inspect.signature(fn).parameters)
        if len(sig) < 2:
            raise SpecError(f"{self.source}: action `{fn.__name__}` must take (self, s, <parameters>).")
        declared = sig[2:]
        if set(declared) != set(params):
            raise SpecError(f"{self.source}: action `{fn.__name__}` declares parameters {sorted(params)} in "
                            f"@action(...) but its signature takes {declared}; give each parameter a "
                            "domain, for example @action(pod=Pods).")
        self.params = {p: params[p] for p in declared}  # signature order decides instance order
        self.kind = kind
        self.fairness = fairness
        self.component = component


class PropertyDecl(_Decl):
    def __init__(self, fn: Callable[..., Any], kind: str) -> None:
        super().__init__(fn)
        self.kind = kind


def action(fn: Callable[..., Any] | None = None, *, kind: str = "system", fairness: str | None = None,
           component: str | None = None, **params: Any) -> Any:
    """Declare an action: ``def actor_verb(self, s, **params)``, guards first, then updates.

    ``params`` map each parameter to its finite domain (a Domain, an IntEnum, ``Int(lo, hi)``
    or ``bool``). ``kind`` is ``"system"`` (the default), ``"environment"`` (users, the world)
    or ``"fault"``; ``fairness`` is ``None``, ``"weak"`` or ``"strong"``. For example::

        @action(pod=Pods, node=Nodes)
        def scheduler_bind_pod(self, s, pod, node):
            require(s.node[pod] == NONE)
            s.node[pod] = node
    """
    def wrap(f: Callable[..., Any]) -> ActionDecl:
        if isinstance(f, _Decl):
            raise SpecError(f"{f.source}: `{f.name}` is declared twice (a method cannot be both an action and "
                            "a property).")
        return ActionDecl(f, params, kind, fairness, component)
    if fn is not None:
        return wrap(fn)
    return wrap


def _property(kind: str, doc: str) -> Callable[[Callable[..., Any]], PropertyDecl]:
    def deco(fn: Callable[..., Any]) -> PropertyDecl:
        if isinstance(fn, _Decl):
            raise SpecError(f"{fn.source}: `{fn.name}` is declared twice (a method cannot be both an action and "
                            "a property, or two properties).")
        decl = PropertyDecl(fn, kind)
        if kind == "converges" and not decl.name.endswith("_converges"):
            raise SpecError(f"{decl.source}: convergence property `{decl.name}` must be named after its "
                            f"controller, `<controller>_converges` (for example `{decl.name}_converges`), so that "
                            "a failure says which controller does not converge.")
        return decl
    deco.__doc__ = doc
    deco.__name__ = kind
    return deco


always = _property("always", "An invariant: ``def name(self, s)`` returns a Bool that holds in every reachable state.")
invariant = always
sometimes = _property("sometimes", "A reachability goal: some reachable state satisfies it (a spec in which "
                                   "nothing happens cannot pass vacuously).")
step_invariant = _property("step", "A step property: ``def name(self, pre, post)`` holds on every step.")
eventually = _property("eventually", "Temporal: every behaviour eventually reaches a state where it holds.")
eventually_always = _property("eventually_always", "Temporal: every behaviour eventually holds it forever.")
always_eventually = _property("always_eventually", "Temporal: it holds infinitely often on every behaviour.")
leads_to = _property("leads_to", "Temporal: ``def name(self, s)`` returns (p, q); every p-state is followed by a q-state.")
converges = _property("converges", """Convergence of one controller: ``def <controller>_converges(self, s)`` returns
(desired, matches). Once faults and users stop, and for as long as the desired state stays put,
reconciliation makes the current state match it and keep matching (Anvil's eventually stable
reconciliation, ``[]desired ~> []matches``, with environment and fault actions eventually off).
For example::

    @converges
    def replicaset_converges(self, s):
        return s.spec_replicas == 2, count(s.pods, lambda p: p == RUNNING) == 2
""")
initially = _property("initially", "An initial-state condition: only initial states satisfying it are explored.")
constraint = _property("constraint", "A state constraint: states violating it are not explored (as TLC's CONSTRAINT).")


# ---- components and models ----------------------------------------------------------------

def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Component:
    """A part of a system: constants, domains, state variables, actions and properties.

    ``owns`` names the variables this component's actions may write (``None``: the ones it
    declares). ``component`` is its name in reports (default: the class name, snake_case).
    """

    owns: tuple[str, ...] | None = None
    component: str | None = None
    fairness: str | None = None
    """The fairness of this component's system actions that declare none: ``"weak"`` says the component is a
    process that keeps running, so a step it can take continuously is eventually taken (a controller, the API
    server, a kubelet). Environment and fault actions never get it."""

    @classmethod
    def component_name(cls) -> str:
        return cls.__dict__.get("component") or _snake(cls.__name__)

    actions_paid_by: dict[str, tuple[str, ...]] = {}
    """For each budget (a Constant's name), the actions of this component that only it pays for: at 0, they are
    dormant (see ``dormant_actions``). For example ``{"lease_losses": ("elector_step_down",)}``."""

    def dormant_actions(self) -> dict[str, str]:
        """The actions this configuration gives no cause to fire, each with the reason.

        A budget of 0 leaves the actions it pays for, and the ones that follow from them, with
        nothing to do. Coverage lists them apart instead of flagging them as never fired, and
        every run confirms the claim: a dormant action that fires is an error in the model.
        By default, the actions that every component's ``actions_paid_by`` names under a
        budget of 0. A model overrides this for what follows from several settings::

            def dormant_actions(self):
                dormant = super().dormant_actions()
                if self.user_scales == 0 and self.image_updates == 0:
                    dormant["replicaset_controller_delete_pod"] = "user_scales = image_updates = 0"
                return dormant
        """
        dormant: dict[str, str] = {}
        for klass in reversed(type(self).__mro__):
            for budget, actions in klass.__dict__.get("actions_paid_by", {}).items():
                if getattr(self, budget) == 0:
                    dormant.update((action, f"{budget} = 0") for action in actions)
        return dormant


def _members(cls: type) -> list[tuple[str, Any, type]]:
    """(name, most-derived value, first defining class), in source order, base components first."""
    order: dict[str, type] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, Component, Model):
            continue
        for name in klass.__dict__:
            if name not in order:
                order[name] = klass
    return [(n, getattr(cls, n), k) for n, k in order.items()]


class Model(Component):
    """A whole system to check. Instantiate with a configuration: ``Model(pods=4)``.

    Class attributes: ``name`` (the model's name in ``kubecheck list``, default from the
    class name), ``check_deadlock`` (default True), ``symmetric`` (the domains whose
    elements the model treats alike, which ``--symmetry`` may then reduce: ``(Pods,)``).
    """

    name: str | None = None
    check_deadlock: bool = True
    symmetric: tuple[Any, ...] = ()    # domains whose elements are interchangeable (for --symmetry)

    def __init__(self, **config: Any) -> None:
        consts = self.constants()
        model = self.model_name()
        unknown = sorted(set(config) - set(consts))
        if unknown:
            keys = ", ".join(consts) or "(none)"
            raise ConfigError(f"model `{model}` has no config key `{unknown[0]}`; its keys are: {keys}.")
        values: dict[str, Any] = {}
        for name, c in consts.items():
            values[name] = c.check(config.get(name, c.default), model)
        self._config = values
        self.validate_config()
        self._ir: IR | None = None
        # Domains read on the instance are the configured ones.
        for name, value, _ in _members(type(self)):
            if isinstance(value, Domain):
                object.__setattr__(self, name, value.bind(values))

    def validate_config(self) -> None:
        """Override to refuse impossible configurations with a ConfigError."""

    def gate(self, s: Any, component: str) -> Any:
        """An extra guard for every action of ``component``, or None (the default).

        A composed model uses it to say when a whole component may act, without touching the
        component's own spec. For example, controllers act only while their replica leads::

            def gate(self, s, component):
                if component in ("replicaset_controller", "deployment_controller"):
                    return self.some_replica_leads(s, Role.CONTROLLER_MANAGER)
                return None
        """
        return None

    @classmethod
    def model_name(cls) -> str:
        return cls.__dict__.get("name") or re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()

    @classmethod
    def constants(cls) -> dict[str, Constant]:
        return {n: v for n, v, _ in _members(cls) if isinstance(v, Constant)}

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._config)

    @property
    def ir(self) -> IR:
        if self._ir is None:
            self._ir = _build(self)
        return self._ir

    def checker(self) -> Any:
        """A checker builder for this model: ``model.checker().max_states(10**6).run()``."""
        from .builder import Checker
        return Checker(self)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args})"


# ---- tracing ----------------------------------------------------------------------------

class _Recorder:
    """Collects the guard and updates of one action while its body runs."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.guards: list[Expr] = []
        self.sources: list[str] = []      # the spec line of each require(...)
        self.updates: list[Update] = []
        self.queues: dict[tuple, "_QueueOps"] = {}

    def require(self, cond: Any) -> None:
        e = lift(cond)
        if not isinstance(e.type, BoolType):
            hint = ""
            if e.op == "const" and e.data in (-1, -2):
                hint = (" Python's `~` on a plain bool gives an int (~True is -2): a helper returned a Python "
                        "bool where a kubecheck expression was expected; return an expression, or use `not`.")
            raise spec_error(f"require(...) needs a Bool condition; got {_a_kind(e.type)} ({show(e)}).{hint}")
        self.guards.append(e)
        self.sources.append(user_location())

    def add(self, leaf: Leaf, index: tuple[Expr, ...], value: Any, binders: tuple[Expr, ...] = ()) -> None:
        v = lift(value, leaf.elem)
        _check_assign(leaf, v)
        for i, (ix, d) in enumerate(zip(index, leaf.dims)):
            _check_index(leaf, i, ix, d)
        self.updates.append(Update(leaf.name, index, v, binders, user_location()))


_RECORDERS: list[_Recorder] = []


def require(cond: Any) -> None:
    """A guard: the action is enabled only in states where ``cond`` holds."""
    if not _RECORDERS:
        raise SpecError(f"{user_location()}: require(...) is only meaningful inside an action.")
    _RECORDERS[-1].require(cond)


def _check_assign(leaf: Leaf, v: Expr) -> None:
    t = leaf.elem
    try:
        _comparable("eq", const(0, t) if isinstance(t, (RefType, OptionType)) else _typed_probe(t), v)
    except SpecError:
        raise spec_error(f"assigns {_a_kind(v.type)} ({show(v)}) to `{leaf.name}`, which holds "
                         f"{a_(t.describe())}; assign {a_(t.describe())} value instead, or change the variable's "
                         "type.") from None
    if isinstance(t, RefType) and isinstance(v.type, OptionType):
        raise spec_error(f"assigns an Option ({show(v)}) to `{leaf.name}`, which holds {a_(t.describe())} and "
                         "cannot be NONE; declare it Option(...) or assign a reference.")
    if v.op == "const" and not (t.lo <= v.data <= t.hi):
        raise spec_error(f"assigns {v.data} to `{leaf.name}`, outside its type {t.describe()}; widen the "
                         "type or change the value.")


def _typed_probe(t: ScalarType) -> Expr:
    if isinstance(t, BoolType):
        return const(False)
    from .types import EnumType
    if isinstance(t, EnumType):
        return const(t.enum(t.lo))
    return const(t.lo)


def _check_index(leaf: Leaf, pos: int, ix: Expr, dim: ScalarType) -> None:
    ok = True
    if isinstance(dim, RefType):
        ok = isinstance(ix.type, (RefType, OptionType)) and ix.type.domain.name == dim.domain.name \
            or (ix.op == "const" and type(ix.type).__name__ == "IntType")
    else:
        try:
            _comparable("eq", _typed_probe(dim), ix)
        except SpecError:
            ok = False
    if not ok:
        raise spec_error(f"indexes `{leaf.name}` (dimension {pos + 1}, over {dim.describe()}) with "
                         f"{_a_kind(ix.type)} ({show(ix)}).")
    if ix.op == "const" and not (dim.lo <= ix.data <= dim.hi):
        raise spec_error(f"indexes `{leaf.name}` with {ix.data}, outside its domain {dim.describe()}.")


class _Builder:
    """Knows the leaves of every variable while a model is traced."""

    def __init__(self, variables: dict[str, Variable]) -> None:
        self.variables = variables
        self.leaf_by_name = {lf.name: lf for v in variables.values() for lf in v.leaves}


class StateProxy:
    """The state as spec code sees it: ``s.status[i]``, ``s.failures = s.failures + 1``."""

    def __init__(self, builder: _Builder, recorder: _Recorder | None, primed: bool = False) -> None:
        object.__setattr__(self, "_b", builder)
        object.__setattr__(self, "_r", recorder)
        object.__setattr__(self, "_primed", primed)

    def __getattr__(self, name: str) -> Any:
        b: _Builder = object.__getattribute__(self, "_b")
        var = b.variables.get(name)
        if var is None:
            raise spec_error(f"reads `s.{name}`, which is not a state variable; declared: "
                             f"{', '.join(b.variables) or '(none)'}. Declare it with Var(...) in the model.")
        return _view(self, name, var.type, ())

    def __setattr__(self, name: str, value: Any) -> None:
        b: _Builder = object.__getattribute__(self, "_b")
        r: _Recorder | None = object.__getattribute__(self, "_r")
        var = b.variables.get(name)
        if var is None:
            raise spec_error(f"writes `s.{name}`, which is not a declared state variable (declared: "
                             f"{', '.join(b.variables) or '(none)'}). Declare it with Var(...) in the model, "
                             "or fix the name.")
        if r is None:
            raise spec_error(f"writes `s.{name}`; properties, constraints and initial conditions only read "
                             "the state.")
        _assign(self, name, var.type, (), value, ())

    def __bool__(self) -> bool:
        raise spec_error("the state itself has no truth value.")


def _read(sp: StateProxy, leaf_name: str, index: tuple[Expr, ...]) -> Expr:
    b: _Builder = object.__getattribute__(sp, "_b")
    leaf = b.leaf_by_name[leaf_name]
    for i, (ix, d) in enumerate(zip(index, leaf.dims)):
        _check_index(leaf, i, ix, d)
    primed = object.__getattribute__(sp, "_primed")
    return Expr("read", (leaf_name, primed), index, leaf.elem, leaf.elem.lo, leaf.elem.hi)


def _view(sp: StateProxy, path: str, t: Type, index: tuple[Expr, ...]) -> Any:
    if isinstance(t, ScalarType):
        return _read(sp, path, index)
    if isinstance(t, ArrayType):
        return ArrayProxy(sp, path, t, index)
    if isinstance(t, RecordType):
        return RecordProxy(sp, path, t, index)
    if isinstance(t, QueueType):
        return QueueProxy(sp, path, t, index)
    raise AssertionError(t)


def _recorder(sp: StateProxy, what: str) -> _Recorder:
    r = object.__getattribute__(sp, "_r")
    if r is None:
        raise spec_error(f"{what}; properties, constraints and initial conditions only read the state.")
    return r


def _assign(sp: StateProxy, path: str, t: Type, index: tuple[Expr, ...], value: Any,
            binders: tuple[Expr, ...]) -> None:
    r = _recorder(sp, f"writes `{path}`")
    b: _Builder = object.__getattribute__(sp, "_b")
    if isinstance(t, ScalarType):
        if isinstance(value, (ArrayProxy, RecordProxy, QueueProxy)):
            raise spec_error(f"assigns a {type(value).__name__[:-5].lower()} to `{path}`, which holds a "
                             f"{t.describe()}.")
        r.add(b.leaf_by_name[path], index, value, binders)
        return
    if isinstance(t, ArrayType):
        ctx = current_trace()
        dom = _bind_domain(t.index)
        level = ctx.depth if ctx else 0
        bnd = Expr("bound", level, (), dom, dom.lo, dom.hi)
        if ctx:
            ctx.depth += 1
        try:
            if isinstance(value, ArrayProxy):
                if value._t.index != t.index:
                    raise spec_error(f"assigns an array indexed by {value._t.index.describe()} to `{path}`, "
                                     f"which is indexed by {t.index.describe()}.")
                sub = value[bnd]
            elif callable(value) and not isinstance(value, Expr):
                sub = value(bnd)
            else:
                sub = value   # broadcast a scalar (or record/dict) to every element
            _assign(sp, path, t.elem, index + (bnd,), sub, binders + (bnd,))
        finally:
            if ctx:
                ctx.depth -= 1
        return
    if isinstance(t, RecordType):
        for fname, ftype in t.fields:
            if isinstance(value, RecordProxy):
                fv = getattr(value, fname)
            elif isinstance(value, dict):
                if fname not in value:
                    raise spec_error(f"assigns a record to `{path}` without field `{fname}`; give every field.")
                fv = value[fname]
            else:
                raise spec_error(f"assigns {value!r} to the record `{path}`; assign a dict of its fields.")
            _assign(sp, f"{path}.{fname}", ftype, index, fv, binders)
        return
    if isinstance(t, QueueType):
        if not isinstance(value, QueueProxy):
            raise spec_error(f"assigns {value!r} to the queue `{path}`; use push/pop, or assign another queue.")
        _assign(sp, f"{path}.len", _len_type(t), index, value.len, binders)
        arr = ArrayType(_slot_type(t), t.elem)
        _assign(sp, f"{path}.items", arr, index, ArrayProxy(value._sp, f"{value._path}.items", arr, value._index),
                binders)
        return
    raise AssertionError(t)


def _len_type(t: QueueType) -> ScalarType:
    from .types import IntType
    return IntType(0, t.capacity)


def _slot_type(t: QueueType) -> ScalarType:
    from .types import IntType
    return IntType(0, t.capacity - 1)


class _Composite:
    def __bool__(self) -> bool:
        raise spec_error("an array, record or queue has no truth value; compare elements, or use "
                         ".any()/.all()/.count() on it.")

    def __iter__(self) -> Any:
        raise spec_error("a state array cannot be iterated with a Python loop; use .all(fn), .any(fn), "
                         ".count(fn), set_all(...), or all_of/any_of/count over its domain.")

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        raise spec_error("compare arrays, records and queues element by element, for example "
                         "`all_of(Pods, lambda p: s.a[p] == s.b[p])`.")

    __hash__ = object.__hash__


def unchanged(pre: "StateProxy", post: "StateProxy", *names: str) -> Expr:
    """True where the named variables (all of them, element by element) keep their value.

    TLA+'s ``UNCHANGED``, for step properties::

        @step_invariant
        def only_the_api_server_writes(self, pre, post, step):
            return step.by("apiserver") | unchanged(pre, post, "etcd_pod_phase", "etcd_pod_node")
    """
    b: _Builder = object.__getattribute__(pre, "_b")
    out = const(True)
    for name in names:
        var = b.variables.get(name)
        if var is None:
            raise spec_error(f"unchanged(...) names `{name}`, which is not a state variable.")
        for lf in var.leaves:
            out = out & _leaf_unchanged(pre, post, lf)
    return out


def _leaf_unchanged(pre: "StateProxy", post: "StateProxy", leaf: Leaf) -> Expr:
    def at(index: tuple[Expr, ...]) -> Expr:
        k = len(index)
        if k == len(leaf.dims):
            return _read(pre, leaf.name, index) == _read(post, leaf.name, index)
        return all_of(leaf.dims[k], lambda i: at(index + (i,)))
    return at(())


class StepProxy:
    """The step itself, for step properties that ask who acted: ``step.by("apiserver")``.

    For example, "only the API server writes etcd"::

        @step_invariant
        def single_writer_etcd(self, pre, post, step):
            return step.by("apiserver") | (post.etcd_phase == pre.etcd_phase)
    """

    def __init__(self, components: set[str]) -> None:
        self._components = components

    def by(self, *components: str) -> Expr:
        """True where the acting action belongs to one of ``components``."""
        for c in components:
            if c not in self._components:
                raise spec_error(f"step.by({c!r}) names no component of this model; its components are "
                                 f"{', '.join(sorted(self._components))}.")
        return Expr("acting", tuple(sorted(components)), (), Bool, 0, 1)


class ArrayProxy(_Composite):
    """An array (or set) as spec code sees it."""

    def __init__(self, sp: StateProxy, path: str, t: ArrayType, index: tuple[Expr, ...]) -> None:
        self._sp, self._path, self._t, self._index = sp, path, t, index

    def _ix(self, i: Any) -> Expr:
        dom = self._t.index
        return lift(i, dom if isinstance(dom, RefType) else None)

    def __getitem__(self, i: Any) -> Any:
        return _view(self._sp, self._path, self._t.elem, self._index + (self._ix(i),))

    def __setitem__(self, i: Any, value: Any) -> None:
        _assign(self._sp, self._path, self._t.elem, self._index + (self._ix(i),), value, ())

    def set_all(self, value: Any) -> None:
        """Assign every element at once: a value, or a function of the index (``lambda i: ...``)."""
        _assign(self._sp, self._path, self._t, self._index, value, ())

    def all(self, fn: Callable[[Any], Any] | None = None) -> Expr:
        """Every element satisfies ``fn`` (for a set: every member is in it)."""
        return all_of(self._t.index, lambda i: self[i] if fn is None else fn(self[i]))

    def any(self, fn: Callable[[Any], Any] | None = None) -> Expr:
        """Some element satisfies ``fn`` (for a set: it is non-empty)."""
        return any_of(self._t.index, lambda i: self[i] if fn is None else fn(self[i]))

    def count(self, fn: Callable[[Any], Any] | None = None) -> Expr:
        """How many elements satisfy ``fn`` (for a set: its size)."""
        return count(self._t.index, lambda i: self[i] if fn is None else fn(self[i]))

    # set vocabulary
    def contains(self, x: Any) -> Expr:
        return self[x]

    def add(self, x: Any) -> None:
        self[x] = True

    def remove(self, x: Any) -> None:
        self[x] = False

    def size(self) -> Expr:
        return self.count()

    def is_empty(self) -> Expr:
        return ~self.any()


class RecordProxy(_Composite):
    """A record as spec code sees it: ``s.pods[i].phase``."""

    def __init__(self, sp: StateProxy, path: str, t: RecordType, index: tuple[Expr, ...]) -> None:
        object.__setattr__(self, "_sp", sp)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_index", index)

    def _field(self, name: str) -> Type:
        for n, ft in self._t.fields:
            if n == name:
                return ft
        raise spec_error(f"record `{self._path}` has no field `{name}`; its fields are "
                         f"{', '.join(n for n, _ in self._t.fields)}.")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _view(self._sp, f"{self._path}.{name}", self._field(name), self._index)

    def __setattr__(self, name: str, value: Any) -> None:
        _assign(self._sp, f"{self._path}.{name}", self._field(name), self._index, value, ())


class _QueueOps:
    def __init__(self, q: "QueueProxy") -> None:
        self.q = q
        self.pops = 0
        self.pushes: list[Any] = []


class QueueProxy(_Composite):
    """A bounded FIFO queue: ``push``, ``pop``, ``head``, ``len``, ``is_empty``, ``is_full``.

    ``pop`` on an empty queue and ``push`` on a full one are errors when they happen; guard
    them with ``require(~s.q.is_empty)`` / ``require(~s.q.is_full)``.
    """

    def __init__(self, sp: StateProxy, path: str, t: QueueType, index: tuple[Expr, ...]) -> None:
        self._sp, self._path, self._t, self._index = sp, path, t, index

    @property
    def len(self) -> Expr:
        return _read(self._sp, f"{self._path}.len", self._index)

    @property
    def is_empty(self) -> Expr:
        return self.len == 0

    @property
    def is_full(self) -> Expr:
        return self.len == self._t.capacity

    def __getitem__(self, k: Any) -> Any:
        return _view(self._sp, f"{self._path}.items", self._t.elem, self._index + (lift(k),))

    @property
    def head(self) -> Any:
        return self[0]

    def contains(self, x: Any) -> Expr:
        from .types import IntType
        return any_of(IntType(0, self._t.capacity - 1), lambda k: (k < self.len) & (self[k] == x))

    def _ops(self) -> _QueueOps:
        r = _recorder(self._sp, f"changes the queue `{self._path}`")
        key = (self._path, tuple(id(i) for i in self._index))
        ops = r.queues.get(key)
        if ops is None:
            ops = r.queues[key] = _QueueOps(self)
        return ops

    def push(self, value: Any) -> None:
        """Append ``value`` at the tail."""
        self._ops().pushes.append(value)

    def pop(self) -> Any:
        """Remove the head and return it (its pre-state value)."""
        ops = self._ops()
        if ops.pushes or ops.pops:
            raise spec_error(f"queue `{self._path}`: pop at most once per action, before any push.")
        ops.pops = 1
        return self.head


def _lower_queue(ops: _QueueOps) -> None:
    """Turn one action's pops and pushes on a queue into simultaneous slot updates.

    Slots at or past the length always hold the element type's default (canonical form),
    so shifting left after a pop needs no condition.
    """
    q = ops.q
    if not ops.pops and not ops.pushes:
        return
    cap, p = q._t.capacity, ops.pops
    sp, path, index = q._sp, q._path, q._index
    _assign(sp, f"{path}.len", _len_type(q._t), index, q.len - p + len(ops.pushes), ())
    base = q.len - p
    for k in range(cap):
        value = q[k + p] if k + p < cap else _default_value(q._t.elem)
        for j in reversed(range(len(ops.pushes))):
            value = _when_value(base + j == k, ops.pushes[j], value, q._t.elem)
        _assign(sp, f"{path}.items", q._t.elem, index + (const(k),), value, ())


def _default_value(t: Type) -> Any:
    if isinstance(t, ScalarType):
        return const(t.default(), t) if isinstance(t, (RefType, OptionType)) else _typed_default(t)
    if isinstance(t, RecordType):
        return {n: _default_value(ft) for n, ft in t.fields}
    raise spec_error("queues hold scalars or records of scalars.")


def _typed_default(t: ScalarType) -> Expr:
    from .types import EnumType
    if isinstance(t, BoolType):
        return const(False)
    if isinstance(t, EnumType):
        return const(t.enum(t.default()))
    return const(t.default())


def _when_value(c: Any, a: Any, b: Any, t: Type) -> Any:
    if isinstance(t, RecordType):
        return {n: _when_value(c, _field_of(a, n), _field_of(b, n), ft) for n, ft in t.fields}
    return when(c, a, b)


def _field_of(v: Any, n: str) -> Any:
    return v[n] if isinstance(v, dict) else getattr(v, n)


# ---- building the IR ----------------------------------------------------------------------

def _layout(variables: list[Variable]) -> tuple[list[Variable], list[Leaf], int]:
    out_vars, leaves, offset = [], [], 0
    for v in variables:
        placed = []
        for lf in v.leaves:
            strides, s = [], 1
            for d in reversed(lf.dims):
                strides.append(s)
                s *= d.size
            placed.append(Leaf(lf.name, lf.dims, lf.elem, offset, tuple(reversed(strides))))
            offset += lf.size
        nv = Variable(v.name, v.type, tuple(placed), v.component, v.doc, v.source)
        out_vars.append(nv)
        leaves += placed
    return out_vars, leaves, offset


def _encode_init(leaf: Leaf, var: Var, value: Any) -> tuple[int, ...]:
    t = leaf.elem
    if value is ANY:
        return tuple(t.values())
    if isinstance(value, one_of):
        out: list[int] = []
        for v in value.values:
            out += _encode_init(leaf, var, v)
        return tuple(dict.fromkeys(out))
    if isinstance(value, _NoneValue):
        if not isinstance(t, OptionType):
            raise SpecError(f"{var.source}: the initial value of `{var.name}` is NONE, but `{leaf.name}` holds a "
                            f"{t.describe()}; only Option(...) values can be NONE.")
        return (-1,)
    if isinstance(value, bool):
        if not isinstance(t, BoolType):
            raise SpecError(f"{var.source}: the initial value of `{var.name}` is {value}, but `{leaf.name}` holds "
                            f"a {t.describe()}.")
        return (int(value),)
    import enum as _enum
    if isinstance(value, _enum.Enum):
        from .types import EnumType
        if not isinstance(t, EnumType) or not isinstance(value, t.enum):
            raise SpecError(f"{var.source}: the initial value of `{var.name}` is {value!r}, but `{leaf.name}` "
                            f"holds a {t.describe()}.")
        return (int(value.value),)
    if isinstance(value, int):
        if isinstance(t, (BoolType,)) or not (t.lo <= value <= t.hi):
            raise SpecError(f"{var.source}: the initial value of `{var.name}` is {value}, outside its type "
                            f"{t.describe()}; change the value or widen the type.")
        from .types import EnumType
        if isinstance(t, EnumType):
            raise SpecError(f"{var.source}: the initial value of `{var.name}` is the integer {value}; write the "
                            f"{t.describe()} member instead.")
        return (value,)
    raise SpecError(f"{var.source}: cannot use {value!r} as the initial value of `{var.name}`; give a value, "
                    "a function of the index, a dict for records, ANY or one_of(...).")


def _init_positions(var: Var, t: Type, path: str, index: tuple[int, ...], value: Any,
                    leaves: dict[str, Leaf], out: dict[int, tuple[int, ...]]) -> None:
    if isinstance(t, ScalarType):
        leaf = leaves[path]
        pos = leaf.position(index)
        assert pos is not None
        out[pos] = (t.default(),) if value is None else _encode_init(leaf, var, value)
        return
    if isinstance(t, ArrayType):
        for iv in t.index.values():
            if callable(value) and not isinstance(value, (one_of, _Any)) and not isinstance(value, type):
                sub = value(iv)
            elif isinstance(value, dict) and not isinstance(t.elem, RecordType):
                sub = value.get(iv)
            else:
                sub = value
            _init_positions(var, t.elem, path, index + (iv,), sub, leaves, out)
        return
    if isinstance(t, RecordType):
        for fname, ft in t.fields:
            sub = value.get(fname) if isinstance(value, dict) else (None if value is None else value)
            _init_positions(var, ft, f"{path}.{fname}", index, sub, leaves, out)
        return
    if isinstance(t, QueueType):
        if value not in (None, [], ()):
            raise SpecError(f"{var.source}: queue `{var.name}` starts empty; remove its init.")
        _init_positions(var, _len_type(t), f"{path}.len", index, 0, leaves, out)
        arr = ArrayType(_slot_type(t), t.elem)
        _init_positions(var, arr, f"{path}.items", index, None, leaves, out)
        return
    raise AssertionError(t)


def _build(model: Model) -> IR:
    cls = type(model)
    values = model._config
    members = _members(cls)
    name = cls.model_name()

    # Variables, in declaration order.
    decls: list[tuple[Var, type]] = [(v, k) for n, v, k in members if isinstance(v, Var)]
    raw_vars: list[Variable] = []
    for v, owner in decls:
        try:
            t = v.type.bind(values)
        except EmptyTypeError as e:
            raise SpecError(f"{v.source}: `{v.name}` has type {e}") from None
        comp = owner.component_name() if issubclass(owner, Component) else name
        raw_vars.append(Variable(v.name, t, tuple(flatten(v.name, t)), comp, v.doc, v.source))
    variables, leaves, width = _layout(raw_vars)
    builder = _Builder({v.name: v for v in variables})
    leaf_map = {lf.name: lf for lf in leaves}

    # Initial values.
    choices: dict[int, tuple[int, ...]] = {}
    for (decl, _), var in zip(decls, variables):
        _init_positions(decl, var.type, var.name, (), decl.init, leaf_map, choices)
    init_choices = tuple(choices[i] for i in range(width))

    actions: list[Action] = []
    properties: list[Property] = []
    init_conditions: list[Expr] = []
    constraints: list[Expr] = []
    seen_names: set[str] = set()
    for mname, value, owner in members:
        if isinstance(value, ActionDecl):
            actions.append(_trace_action(model, builder, value, owner, values))
        elif isinstance(value, PropertyDecl):
            if value.kind in ("initially", "constraint"):
                e = _trace_predicate(model, builder, value, values)
                (init_conditions if value.kind == "initially" else constraints).append(e)
                continue
            if mname in seen_names:
                continue
            seen_names.add(mname)
            properties.append(_trace_property(model, builder, value, values))
    if not actions:
        raise SpecError(f"{_class_line(cls)}: model `{name}` declares no actions; add at least one method "
                        "decorated with @action.")
    dormant = model.dormant_actions()
    # A name the model removed (``action_name = None``) is no error: a component may declare it dormant.
    unknown = sorted(n for n in set(dormant) - {a.name for a in actions} if getattr(cls, n, 0) is not None)
    if unknown:
        raise SpecError(f"{_class_line(cls)}: `dormant_actions` of model `{name}` names `{unknown[0]}`, which is not "
                        "one of its actions; name an action the model declares (see its coverage).")
    components = _owned_variables(cls, actions)
    return IR(name, dict(values), tuple(variables), tuple(leaves), width, init_choices, tuple(init_conditions),
              tuple(actions), tuple(properties), tuple(constraints), bool(getattr(cls, "check_deadlock", True)),
              components, _class_file(cls), cls.__qualname__, _symmetric(cls, leaves, actions),
              {a.name: dormant[a.name] for a in actions if a.name in dormant})


def _symmetric(cls: type, leaves: list[Leaf], actions: list[Action]) -> tuple[str, ...]:
    """The names of the domains the model declares symmetric (``symmetric = (Pods, ...)``)."""
    used: dict[str, None] = {}
    for t in [t for lf in leaves for t in lf.dims + (lf.elem,)] + [p.type for a in actions for p in a.params]:
        if isinstance(t, (RefType, OptionType)):
            used[t.domain.name] = None
    out: list[str] = []
    for d in getattr(cls, "symmetric", ()) or ():
        name = d.name if isinstance(d, Domain) else d
        if not isinstance(name, str) or name not in used:
            known = ", ".join(used) or "none"
            raise SpecError(f"{_class_line(cls)}: `symmetric` names {d!r}, which is not a domain of model "
                            f"`{cls.model_name()}`; its domains are: {known}.")
        if name not in out:
            out.append(name)
    return tuple(out)


PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The folder holding ``checker/`` and ``spec/``; project files are named relative to it."""


def _owned_variables(cls: type, actions: Sequence[Action]) -> dict[str, tuple[str, ...] | None]:
    """What each component owns: the union, over the classes that make it up, of their ``owns`` (or, where a
    mixin declares none, of the variables it declares), in source order. A model class that declares no ``owns``
    is one process that writes what it likes (None); a component that only actions name
    (``@action(component=...)``) owns nothing of its own."""
    owned: dict[str, list[str] | None] = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, Component) and klass not in (Component, Model):
            names = klass.__dict__.get("owns")
            name = klass.component_name()
            if names is None and issubclass(klass, Model):
                owned[name] = None
                continue
            if names is None:
                names = [n for n, v in vars(klass).items() if isinstance(v, Var)]
            into = owned.setdefault(name, [])
            if into is not None:
                into += [n for n in names if n not in into]
    for a in actions:
        owned.setdefault(a.component, [])
    return {c: None if names is None else tuple(names) for c, names in owned.items()}


def _component_names(cls: type) -> list[str]:
    """Every component an action of ``cls`` can belong to (mixins and explicit ``component=``)."""
    names = [k.component_name() for k in cls.__mro__
             if isinstance(k, type) and issubclass(k, Component) and k not in (Component, Model)]
    names += [v.component for _, v, _ in _members(cls) if isinstance(v, ActionDecl) and v.component]
    return names


def _class_line(cls: type) -> str:
    """``file:line`` of a class statement, as errors show it."""
    try:
        return f"{_short(inspect.getsourcefile(cls) or '<interactive>')}:{inspect.getsourcelines(cls)[1]}"
    except (OSError, TypeError):
        return "<interactive>"


def _class_file(cls: type) -> str:
    """The file a model class is defined in, independent of the working directory.

    Relative to the project root for the project's own files (``spec/replicaset_anchor.py``),
    absolute otherwise, ``<interactive>`` when there is none: traces record it, and the
    same run must write the same bytes wherever it is started.
    """
    try:
        path = inspect.getsourcefile(cls)
    except (OSError, TypeError):
        path = None
    if path is None:
        return "<interactive>"
    path = os.path.abspath(path)
    root = PROJECT_ROOT
    if path.startswith(root + os.sep):
        return os.path.relpath(path, root)
    return path


def _trace_action(model: Model, builder: _Builder, decl: ActionDecl, owner: type, values: dict[str, Any]) -> Action:
    rec = _Recorder(decl.name)
    comp = decl.component or (owner.component_name() if issubclass(owner, Component) else model.model_name())
    with tracing(f"action `{decl.name}`", values):
        params = []
        for pname, dom in decl.params.items():
            d = getattr(model, dom) if isinstance(dom, str) else dom
            params.append(param(pname, _bind_domain(d)))
        sp = StateProxy(builder, rec)
        _RECORDERS.append(rec)
        try:
            gate = model.gate(sp, comp)
            if gate is not None:
                rec.require(gate)
            ret = decl.fn(model, sp, *params)
            for ops in list(rec.queues.values()):
                _lower_queue(ops)
        finally:
            _RECORDERS.pop()
    if ret is not None:
        raise SpecError(f"{decl.source}: action `{decl.name}` returns {ret!r}; an action states its guard with "
                        "require(...) and returns nothing.")
    guard = const(True)
    for g in rec.guards:
        guard = guard & g
    updates = tuple(rec.updates)
    _check_double_writes(decl, updates)
    writes = frozenset(u.leaf for u in updates)
    fairness = decl.fairness
    if fairness is None and decl.kind == "system" and isinstance(owner, type) and issubclass(owner, Component):
        fairness = getattr(owner, "fairness", None)
        if fairness not in FAIRNESS:
            raise SpecError(f"{decl.source}: component `{comp}` has fairness {fairness!r}; use None, \"weak\" "
                            "or \"strong\".")
    declared_by = owner.component_name() if isinstance(owner, type) and issubclass(owner, Component) else comp
    return Action(decl.name, comp, decl.kind, fairness, tuple(params), guard, updates, writes,
                  decl.source, decl.doc, tuple(zip(rec.guards, rec.sources)), declared_by)


def _check_double_writes(decl: ActionDecl, updates: tuple[Update, ...]) -> None:
    by_leaf: dict[str, list[Update]] = {}
    for u in updates:
        by_leaf.setdefault(u.leaf, []).append(u)
    for leaf, us in by_leaf.items():
        for a, b in itertools.combinations(us, 2):
            if _same_location(a, b):
                where = f"{b.source}: " if b.source else f"{decl.source}: "
                idx = "".join(f"[{show(i)}]" for i in b.index)
                raise SpecError(f"{where}action `{decl.name}` writes `{leaf}{idx}` twice (also at {a.source}); "
                                "updates are simultaneous, so write each location once, combining the values "
                                "with when(...).")


def _same_location(a: Update, b: Update) -> bool:
    for x, y in zip(a.index, b.index):
        if x.op == "bound" or y.op == "bound":
            continue   # a forall covers every value, so it meets the other write there
        if x is y:
            continue
        return False   # different expressions: maybe different locations (checked when explored)
    return True


def _trace_property(model: Model, builder: _Builder, decl: PropertyDecl, values: dict[str, Any]) -> Property:
    with tracing(f"property `{decl.name}`", values):
        if decl.kind == "step":
            args = [model, StateProxy(builder, None), StateProxy(builder, None, primed=True)]
            if len(inspect.signature(decl.fn).parameters) >= 4:
                args.append(StepProxy(set(_component_names(type(model)))))
            out = decl.fn(*args)
        else:
            out = decl.fn(model, StateProxy(builder, None))
        if decl.kind in ("leads_to", "converges"):
            pair = "(p, q)" if decl.kind == "leads_to" else "(desired, matches)"
            if not (isinstance(out, tuple) and len(out) == 2):
                raise SpecError(f"{decl.source}: {decl.kind} property `{decl.name}` must return a pair {pair}.")
            exprs = tuple(_as_bool(decl, x) for x in out)
        else:
            exprs = (_as_bool(decl, out),)
    return Property(decl.name, decl.kind, exprs, decl.source, decl.doc)


def _trace_predicate(model: Model, builder: _Builder, decl: PropertyDecl, values: dict[str, Any]) -> Expr:
    with tracing(f"{decl.kind} `{decl.name}`", values):
        return _as_bool(decl, decl.fn(model, StateProxy(builder, None)))


def _as_bool(decl: PropertyDecl, x: Any) -> Expr:
    if x is None:
        raise SpecError(f"{decl.source}: `{decl.name}` returns nothing; return a Bool expression.")
    e = lift(x)
    if not isinstance(e.type, BoolType):
        raise SpecError(f"{decl.source}: `{decl.name}` returns {_a_kind(e.type)} ({show(e)}); return a Bool.")
    return e

