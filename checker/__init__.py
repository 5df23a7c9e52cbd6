"""kubecheck: write a system as a Python state machine, and check it exhaustively.

The spec language (what the system is)::

    from kubecheck import Model, Constant, Domain, Var, Int, Array, action, require, always

The checker (how to explore it, and what was found)::

    result = MyModel(pods=3).checker().max_states(10**6).run()
    result.assert_properties()

Importing ``kubecheck`` imports only the spec language and the checker front end; engines
load when they are used.
"""

from .config import Constant
from .errors import ConfigError, KubecheckError, ModelRuntimeError, SpecError, TraceError
from .expr import Expr, all_of, any_of, count, implies, maximum, minimum, sum_of, when
from .model import (ANY, Component, Model, Var, action, always, always_eventually, constraint, converges,
                    eventually, eventually_always, initially, invariant, leads_to, one_of, require, sometimes, step_invariant, unchanged)
from .types import NONE, Array, Bool, Domain, Int, Option, Queue, Record, Ref, Set

__all__ = [
    "Constant", "ConfigError", "KubecheckError", "ModelRuntimeError", "SpecError", "TraceError",
    "Expr", "all_of", "any_of", "count", "implies", "maximum", "minimum", "sum_of", "when",
    "ANY", "Component", "Model", "Var", "action", "always", "always_eventually", "constraint", "converges",
    "eventually", "eventually_always", "initially", "invariant", "leads_to", "one_of", "require", "sometimes", "step_invariant",
    "unchanged",
    "NONE", "Array", "Bool", "Domain", "Int", "Option", "Queue", "Record", "Ref", "Set",
]

__version__ = "0.1.0"
