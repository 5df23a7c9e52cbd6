"""Where the vectorized engine's kernels run: the host (numpy) or a CUDA GPU (CuPy).

The compiled kernels (:mod:`kubecheck.vector.compile`) are straight-line array code over one
array module. On a GPU the same source is executed again with CuPy, whose API follows numpy's,
in place of numpy: guards, successors' writes and incremental fingerprints are computed on the
device, one chunk of parents at a time. What follows them (the visited set, de-duplication,
building the new states, invariants, traces) stays on the host, so each chunk crosses the bus
twice: its parents up, and the transitions' fingerprints and writes down.

A :class:`Device` is the array module, the two copies (``upload``, ``download``) and the table
lookup that wraps out-of-range slots; :func:`device` resolves a name from the command line and
refuses one this machine cannot run, in one sentence, before anything is compiled.

Example::

    >>> device("cpu") is None        # numpy: the default, and no device path at all
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError

__all__ = ["Device", "DEVICES", "device", "cupy_device"]

DEVICES = ("cpu", "cuda")
"""The names ``--device`` accepts."""


@dataclass(frozen=True)
class Device:
    """An array module the kernels run over, and the copies between it and the host."""

    name: str                                   # "cuda", or what a test calls its stand-in
    xp: Any                                     # the array module, used in place of numpy
    upload: Callable[[np.ndarray], Any]         # host array -> device array (a copy)
    download: Callable[[Any], np.ndarray]       # device array -> host array (a copy)
    wrap: Callable[[Any, Any], Any]             # table[index mod len(table)], on the device

    def host(self, value: Any) -> Any:
        """``value`` on the host: a device array is copied down; ints and None pass through."""
        if value is None or isinstance(value, (int, np.generic)):
            return value
        return self.download(value)


def cupy_device() -> Device:
    """The first CUDA GPU, through CuPy; a ConfigError saying what is missing otherwise."""
    try:
        import cupy  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError("--device cuda runs the kernels through CuPy, which is not installed: install the "
                          "build for this machine's CUDA (for example `pip install cupy-cuda12x`), or leave "
                          "--device out to run on the CPU.") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:                 # no driver, or a driver CuPy cannot talk to
        raise ConfigError(f"--device cuda: CuPy finds no usable CUDA driver ({err}); leave --device out to "
                          "run on the CPU.") from None
    if count < 1:
        raise ConfigError("--device cuda: CuPy is installed but this machine has no CUDA GPU; leave --device "
                          "out to run on the CPU.")

    def wrap(table: Any, index: Any) -> Any:
        # CuPy's take has no ``mode``; the residue makes the lookup wrap as numpy's mode="wrap" does.
        return table.take(cupy.remainder(index, len(table)))

    return Device("cuda", cupy, cupy.asarray, cupy.asnumpy, wrap)


def device(name: str | Device | None) -> Device | None:
    """The device called ``name`` (None or ``"cpu"``: numpy on the host, which needs no device path)."""
    if name is None or isinstance(name, Device):
        return name
    if name == "cpu":
        return None
    if name == "cuda":
        return cupy_device()
    raise ConfigError(f"unknown device {name!r}; available: {', '.join(DEVICES)}.")
