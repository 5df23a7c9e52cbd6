"""The vectorized breadth-first engine: a BFS that expands whole chunks of a level with numpy.

``explore(ir, options, progress)`` has the explicit engine's signature and returns its
result exactly (counts, depth, coverage, verdicts, shortest counterexamples, stops and
runtime errors), with engine ``"vector"``. The modules, one concept each:

- :mod:`.lower`: expressions to straight-line numpy source, three-valued where needed;
- :mod:`.compile`: the IR to kernels (guards, per-instance transitions, state checks);
- :mod:`.fingerprint`: incremental 64-bit fingerprints (exact packing or tabulation);
- :mod:`.visited`: the vectorized hash table of fingerprints;
- :mod:`.visited_numba`: the same table with compiled lookups (numba, optional; large runs only);
- :mod:`.store`: the levels, parent links and trace replay;
- :mod:`.engine`: the search, and the ordering of events that makes it match the explicit engine.
"""

from __future__ import annotations

from ..explicit import Options, Progress
from .compile import CompiledModel, compile_model
from .engine import CHUNK, explore
from .errors import VectorUnsupported

__all__ = ["explore", "Options", "Progress", "VectorUnsupported", "compile_model", "CompiledModel", "CHUNK"]
