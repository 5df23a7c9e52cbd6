"""Errors that a user can act on: a spec that breaks the rules, a bad configuration, a bad trace.

Every error is one paragraph: where (file and line, or the key), what is wrong, and what
to do instead. The command line prints the message alone, never a traceback.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

__all__ = ["KubecheckError", "SpecError", "ConfigError", "TraceError", "ModelRuntimeError", "user_location"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class KubecheckError(Exception):
    """Base class of every error kubecheck reports to a user."""


class SpecError(KubecheckError):
    """A spec breaks the rules of the spec language (found before or while tracing it)."""


class ConfigError(KubecheckError):
    """A configuration, a model name or a command-line value is wrong."""


class TraceError(KubecheckError):
    """A trace file is malformed or does not fit the model."""


class ModelRuntimeError(KubecheckError):
    """A spec did something illegal in a reachable state (a value left its interval,
    an out-of-domain read was used, a location was written twice).

    ``trace`` holds the counterexample that reaches the offending step, when known.
    """

    def __init__(self, message: str, trace: object | None = None) -> None:
        super().__init__(message)
        self.trace = trace


def user_location(frame: FrameType | None = None) -> str:
    """``file:line`` of the innermost stack frame outside the kubecheck engine package.

    Errors found while tracing a spec point at the spec's own line, not at ours.
    """
    f = frame if frame is not None else sys._getframe(1)
    while f is not None:
        path = os.path.abspath(f.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep):
            return f"{_shorten(path)}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>"


def _shorten(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith(".." + os.sep + ".." + os.sep) else path
