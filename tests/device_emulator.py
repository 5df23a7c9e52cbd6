"""A stand-in for a GPU that runs on the host but keeps a GPU's rules, so the device path is tested
without one.

Arrays "on the device" are :class:`DeviceArray`, numpy arrays of their own kind. As with CuPy:
- a host array never mixes with a device array (an operator, a ufunc or an index raises);
- numpy's own functions refuse device arrays (code must use the device's array module);
- ``take`` has no ``mode`` and wraps out-of-range indices;
- upload and download copy, so writing on one side never shows on the other.
So a kernel or an engine step that forgets to upload or download fails here as it would on a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kubecheck.vector.device import Device

__all__ = ["DeviceArray", "emulated_device"]


class DeviceArray(np.ndarray):
    """An array that lives on the emulated device."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, out: Any = None, **kw: Any) -> Any:
        args = tuple(_unwrap(x, ufunc.__name__) for x in inputs)
        if out is not None:
            kw["out"] = tuple(_unwrap(x, ufunc.__name__) for x in out)
        result = getattr(ufunc, method)(*args, **kw)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap_result(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        raise TypeError(f"numpy.{func.__name__} was given a device array: use the device's array module")

    def take(self, indices: Any, axis: Any = None, out: Any = None, **kw: Any) -> Any:  # type: ignore[override]
        if kw:
            raise TypeError(f"take() on the device has no {', '.join(kw)} argument")
        idx = _unwrap(indices, "take")
        base = self.view(np.ndarray)
        n = base.size if axis is None else base.shape[axis]
        return _wrap_result(base.take(np.remainder(idx, n), axis=axis,
                                      out=None if out is None else _unwrap(out, "take")))

    def __getitem__(self, key: Any) -> Any:
        return _wrap_result(self.view(np.ndarray)[_unwrap_key(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self.view(np.ndarray)[_unwrap_key(key)] = _unwrap(value, "an assignment")


def _unwrap(x: Any, where: str) -> Any:
    if isinstance(x, DeviceArray):
        return x.view(np.ndarray)
    if isinstance(x, np.ndarray) and x.ndim > 0:
        raise TypeError(f"a host array reached {where} on the device: upload it first")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, where) for v in x)
    return x


def _unwrap_key(key: Any) -> Any:
    if isinstance(key, tuple):
        return tuple(_unwrap(k, "an index") for k in key)
    return _unwrap(key, "an index")


def _wrap_result(r: Any) -> Any:
    if isinstance(r, tuple):
        return tuple(_wrap_result(x) for x in r)
    if isinstance(r, np.ndarray) and not isinstance(r, DeviceArray):
        return r.view(DeviceArray)
    return r


class _Module:
    """numpy's functions over device arrays, as CuPy offers them."""

    def __getattr__(self, name: str) -> Any:
        obj = getattr(np, name)
        if isinstance(obj, type) or not callable(obj):
            return obj                       # dtypes and constants

        def call(*args: Any, **kw: Any) -> Any:
            a = tuple(_unwrap(x, f"xp.{name}") for x in args)
            k = {key: _unwrap(v, f"xp.{name}") for key, v in kw.items()}
            result = obj(*a, **k)
            return kw["out"] if "out" in kw else _wrap_result(result)
        return call


def _upload(a: np.ndarray) -> DeviceArray:
    if isinstance(a, DeviceArray):
        raise TypeError("upload() was given an array already on the device")
    return np.array(a, copy=True).view(DeviceArray)


def _download(a: Any) -> np.ndarray:
    if not isinstance(a, DeviceArray):
        raise TypeError(f"download() was given {type(a).__name__}, not a device array")
    return np.array(a.view(np.ndarray), copy=True)


def emulated_device() -> Device:
    """A :class:`Device` that runs on the host with a GPU's rules."""
    return Device("emulated", _Module(), _upload, _download, lambda table, index: table.take(index))
