"""Model constants: the numbers that size a model, and their values in one configuration.

A model declares each constant as a class attribute with a default and a one-line
description; ``kubecheck check --config pods=5`` overrides it. Types may be sized by
constants (``Int(0, max_failures)``, ``Domain("pod", size=pods)``); they are resolved
when the model is built for one configuration.

For example::

    class Counter(Model):
        limit = Constant(3, "how far the counter may go", min=0)
        n = Var(Int(0, limit), init=0)     # the counter
"""

from __future__ import annotations


from typing import Any, Callable, Mapping

from .errors import ConfigError

__all__ = ["Constant", "ConstExpr", "resolve", "parse_config_value"]


class _Lazy:
    """Arithmetic on constants before their values are known (``max_failures + 1``)."""

    def _combine(self, other: Any, fn: Callable[[int, int], int], sym: str, flip: bool = False) -> "ConstExpr":
        a, b = (other, self) if flip else (self, other)
        return ConstExpr(lambda values: fn(resolve(a, values), resolve(b, values)), f"({_show(a)} {sym} {_show(b)})")

    def __add__(self, o: Any) -> "ConstExpr":
        return self._combine(o, lambda x, y: x + y, "+")

    def __radd__(self, o: Any) -> "ConstExpr":
        return self._combine(o, lambda x, y: x + y, "+", flip=True)

    def __sub__(self, o: Any) -> "ConstExpr":
        return self._combine(o, lambda x, y: x - y, "-")

    def __rsub__(self, o: Any) -> "ConstExpr":
        return self._combine(o, lambda x, y: x - y, "-", flip=True)

    def __mul__(self, o: Any) -> "ConstExpr":
        return self._combine(o, lambda x, y: x * y, "*")

    def __rmul__(self, o: Any) -> "ConstExpr":
        return self._combine(o, lambda x, y: x * y, "*", flip=True)


class ConstExpr(_Lazy):
    """An arithmetic expression over constants, evaluated once a configuration is known."""

    def __init__(self, fn: Callable[[Mapping[str, Any]], int], text: str) -> None:
        self._fn = fn
        self.text = text

    def value(self, values: Mapping[str, Any]) -> int:
        return self._fn(values)

    def __repr__(self) -> str:
        return self.text


class Constant(_Lazy):
    """A model constant: a default value, a description, and optional bounds.

    Read on a model instance it is the configured value (``self.replicas`` is an ``int``).
    """

    def __init__(self, default: int | bool, doc: str = "", *, min: int | None = None, max: int | None = None) -> None:
        if not isinstance(default, (int, bool)):
            raise TypeError("Constant default must be an int or a bool")
        self.default = default
        self.doc = doc
        self.min = min
        self.max = max
        self.name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._config[self.name]

    @property
    def kind(self) -> str:
        return "bool" if isinstance(self.default, bool) else "int"

    def check(self, value: Any, model: str) -> Any:
        """The value if it fits this constant, else a ConfigError naming the key."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"config key `{self.name}` of model `{model}` expects true or false "
                                  f"({self.doc}); got {value!r}.")
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key `{self.name}` of model `{model}` expects an integer "
                              f"({self.doc}); got {value!r}.")
        if self.min is not None and value < self.min:
            raise ConfigError(f"config key `{self.name}` of model `{model}` must be at least {self.min} "
                              f"({self.doc}); got {value}.")
        if self.max is not None and value > self.max:
            raise ConfigError(f"config key `{self.name}` of model `{model}` must be at most {self.max} "
                              f"({self.doc}); got {value}.")
        return value

    def value(self, values: Mapping[str, Any]) -> int:
        return values[self.name]

    def __repr__(self) -> str:
        return self.name


def resolve(x: Any, values: Mapping[str, Any]) -> Any:
    """The concrete value of ``x``: itself, or a constant's configured value."""
    if isinstance(x, (Constant, ConstExpr)):
        return x.value(values)
    return x


def _show(x: Any) -> str:
    return repr(x)


def parse_config_value(text: str, const: Constant, model: str) -> Any:
    """Parse ``--config KEY=TEXT`` for one constant, with a clear error on a wrong type."""
    t = text.strip()
    if const.kind == "bool":
        low = t.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"config key `{const.name}` of model `{model}` expects true or false "
                          f"({const.doc}); got {text!r}.")
    try:
        v = int(t, 10)
    except ValueError:
        raise ConfigError(f"config key `{const.name}` of model `{model}` expects an integer "
                          f"({const.doc}); got {text!r}.") from None
    return const.check(v, model)


