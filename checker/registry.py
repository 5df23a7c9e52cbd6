"""The shipped models, and loading a model by name or from a user's spec file.

``kubecheck check MODEL`` names a model in one of two ways:

- a shipped model's name (``replicaset-anchor``), looked up in :data:`MODELS`;
- a spec file and a class in it, ``path/to/file.py:ClassName``. The class may be left
  out (``path/to/file.py``) when the file defines exactly one model.

``--config KEY=VALUE`` sets the model's constants (:func:`parse_config`). Every mistake
is a :class:`~kubecheck.errors.ConfigError` of one paragraph that says what to do instead.
For example::

    model = build_model("replicaset-anchor", ["pods=4"])
    model.config["pods"]        # 4
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import sys
import traceback
from types import ModuleType
from typing import Any

from .config import parse_config_value
from .errors import ConfigError, KubecheckError, _shorten
from .model import Model

__all__ = ["MODELS", "DEFAULT_MODEL", "load_model", "parse_config", "build_model", "show_config_value"]

MODELS: dict[str, str] = {
    "replicaset-anchor": "kubecheck.spec.replicaset_anchor:ReplicaSetAnchor",
    "mutex": "kubecheck.spec.examples.mutex:Mutex",
    "two-phase-commit": "kubecheck.spec.examples.two_phase:TwoPhaseCommit",
    "water-jugs": "kubecheck.spec.examples.water_jugs:WaterJugs",
    "replicaset": "kubecheck.spec.controllers.replicaset:ReplicaSetModel",
    "leader-election": "kubecheck.spec.leader_model:LeaderElectionModel",
    "namespace": "kubecheck.spec.namespace_model:NamespaceModel",
    "scheduler": "kubecheck.spec.scheduling_model:SchedulingModel",
    "endpoints": "kubecheck.spec.endpoints_model:EndpointsModel",
    "deployment": "kubecheck.spec.deployment_model:DeploymentModel",
    "node-lifecycle": "kubecheck.spec.node_model:NodeLifecycleModel",
    "cluster": "kubecheck.spec.cluster:ClusterModel",
}
"""Shipped model name -> ``"module:Class"``."""

DEFAULT_MODEL = "cluster"
"""The model ``kubecheck check`` checks when none is named (with ``--symmetry``: one state per orbit)."""

_FILE_FORM = "path/to/file.py:ClassName"
_counter = itertools.count(1)


def load_model(spec: str) -> type[Model]:
    """The model class named by ``spec``: a shipped name, or ``path/to/file.py:ClassName``."""
    if spec in MODELS:
        module, _, name = MODELS[spec].partition(":")
        try:
            mod = importlib.import_module(module)
        except KubecheckError:
            raise
        except Exception as err:
            raise ConfigError(f"the shipped model `{spec}` cannot be loaded ({module}: {_first_line(err)}); "
                              "this is a bug in kubecheck, please report it.") from None
        return _model_class(mod, name, f"{module}:{name}")
    path, sep, name = spec.rpartition(":")
    if not sep or not path.endswith(".py"):
        path, name = spec, ""
    if not path.endswith(".py"):
        raise ConfigError(f"unknown model `{spec}`; the shipped models are: {', '.join(MODELS)}. To check a spec "
                          f"of your own, name its file and class: {_FILE_FORM}.")
    mod = _import_file(path)
    if not name:
        found = _defined_models(mod)
        if len(found) != 1:
            which = f"defines {len(found)}: {', '.join(found)}" if found else "defines none"
            raise ConfigError(f"`{path}` must define exactly one Model subclass to be named without a class, but "
                              f"it {which}; name the class: {path}:ClassName.")
        name = found[0]
    return _model_class(mod, name, f"{path}:{name}")


def parse_config(cls: type[Model], items: list[str]) -> dict[str, Any]:
    """The constants set by ``--config KEY=VALUE`` items (a repeated key: the last wins).

    A key may be written with dashes for underscores (``max-failures=2``).
    """
    consts = cls.constants()
    model = cls.model_name()
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--config expects KEY=VALUE; got `{item}`. The keys of model `{model}` are: "
                              f"{_keys(cls)}.")
        if key not in consts and key.replace("-", "_") in consts:
            key = key.replace("-", "_")
        if key not in consts:
            raise ConfigError(f"model `{model}` has no config key `{key}`; its keys are: {_keys(cls)}.")
        out[key] = parse_config_value(text, consts[key], model)
    return out


def build_model(spec: str, items: list[str]) -> Model:
    """Load the model named by ``spec`` and instantiate it with the ``--config`` items."""
    cls = load_model(spec)
    return cls(**parse_config(cls, items))


def _keys(cls: type[Model]) -> str:
    consts = cls.constants()
    if not consts:
        return "(none)"
    return ", ".join(f"{n} (default {show_config_value(c.default)})" for n, c in consts.items())


def show_config_value(v: Any) -> str:
    """A constant's value as ``--config`` takes it: ``3``, ``true``."""
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _packaged_module(path: str) -> str | None:
    """``kubecheck.spec.x.y`` for a file inside the installed ``kubecheck.spec`` package, else None."""
    import kubecheck.spec
    root = os.path.dirname(os.path.realpath(kubecheck.spec.__file__))
    real = os.path.realpath(path)
    if not real.startswith(root + os.sep) or not os.path.isfile(real):
        return None
    rel = os.path.splitext(os.path.relpath(real, root))[0]
    return "kubecheck.spec." + rel.replace(os.sep, ".")


def _import_file(path: str) -> ModuleType:
    """Import a spec file by path, as a module of its own with a unique name."""
    if not os.path.exists(path):
        raise ConfigError(f"spec file `{path}` does not exist; give the path of a Python file that defines the "
                          f"model, as {_FILE_FORM}.")
    if not os.path.isfile(path):
        raise ConfigError(f"`{path}` is not a file; give the path of a Python file that defines the model, as "
                          f"{_FILE_FORM}.")
    packaged = _packaged_module(path)
    if packaged is not None:
        # One of kubecheck's own spec files: import it as part of its package, so that its
        # relative imports work and its classes are the ones the registry names.
        return importlib.import_module(packaged)
    stem = os.path.splitext(os.path.basename(path))[0]
    modname = f"kubecheck_user_{next(_counter)}_{''.join(c if c.isalnum() else '_' for c in stem)}"
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import `{path}` as a Python module; give a `.py` file, as {_FILE_FORM}.")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod          # dataclasses and typing look a class's module up here
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)          # the spec may import modules that sit beside it
    try:
        spec.loader.exec_module(mod)
    except KubecheckError:
        del sys.modules[modname]
        raise                           # a SpecError already names the spec's line
    except SyntaxError as err:
        del sys.modules[modname]
        other = err.filename and os.path.abspath(err.filename) != os.path.abspath(path)
        where = f"{_shorten(err.filename)}, line {err.lineno}" if other else f"line {err.lineno}"
        raise ConfigError(f"cannot import spec file `{path}`: {type(err).__name__} at {where}: {err.msg}. "
                          "Fix the file and run again.") from None
    except BaseException as err:
        del sys.modules[modname]
        if isinstance(err, KeyboardInterrupt):
            raise
        line = _line_in(err, path)
        where = f" at line {line}" if line else ""
        raise ConfigError(f"cannot import spec file `{path}`: {_first_line(err)} (raised{where} while the file "
                          "ran). Fix the file and run again.") from None
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    return mod


def _line_in(err: BaseException, path: str) -> int | None:
    """The line of ``path`` where ``err`` was raised (the innermost frame in that file)."""
    target = os.path.abspath(path)
    line = None
    for frame in traceback.extract_tb(err.__traceback__):
        if os.path.abspath(frame.filename) == target:
            line = frame.lineno
    return line


def _defined_models(mod: ModuleType) -> list[str]:
    """The Model subclasses a module defines (not those it imports), in source order."""
    return [n for n, v in vars(mod).items()
            if isinstance(v, type) and issubclass(v, Model) and v is not Model and v.__module__ == mod.__name__]


def _model_class(mod: ModuleType, name: str, where: str) -> type[Model]:
    file = where.rpartition(":")[0]
    if not hasattr(mod, name):
        found = _defined_models(mod)
        has = f"the Model subclasses it defines are: {', '.join(found)}" if found else \
            "it defines no Model subclass (a model is a class that subclasses kubecheck.Model)"
        raise ConfigError(f"`{file}` has no class `{name}`; {has}.")
    value = getattr(mod, name)
    if not (isinstance(value, type) and issubclass(value, Model)) or value is Model:
        if value is Model:
            what = "kubecheck.Model itself, not a model"
        elif isinstance(value, type):
            what = "a class that does not subclass kubecheck.Model"
        else:
            what = f"a {type(value).__name__}, not a model class"
        raise ConfigError(f"`{where}` is {what}; name a class that subclasses kubecheck.Model (the file "
                          f"defines: {', '.join(_defined_models(mod)) or 'none'}).")
    return value
