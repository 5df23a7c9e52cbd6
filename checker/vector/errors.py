"""The one error the vectorized engine adds: a construct it cannot compile.

It is raised while compiling, before any state is explored, so a run never ends half
way because of it; the message names the construct and where it comes from (the action,
property or update), so that the user can switch to ``--engine explicit`` for that model.
"""

from __future__ import annotations

from ..errors import KubecheckError

__all__ = ["VectorUnsupported"]


class VectorUnsupported(KubecheckError):
    """The IR uses a construct the vectorized engine does not compile (the message says which, and where)."""
