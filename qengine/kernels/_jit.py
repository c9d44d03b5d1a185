"""The one decorator every qengine kernel uses, and the registry ``warm_up`` walks.

Options are chosen once here: nopython (``njit``), ``cache=True`` (on-disk cache, so a
second process
loads machine code instead of compiling), ``nogil=True`` and *no* fastmath (IEEE semantics, so
kernels and their pure-Python twins agree bit for bit where the maths allows). Every kernel gives
an explicit signature, which compiles it eagerly at import: the first market tick never pays for
compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba

#: Every dispatcher created through :func:`kernel`, in definition order.
REGISTRY: list[Any] = []

_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def _options(inline: bool) -> dict[str, Any]:
    return {**_OPTIONS, "inline": "always"} if inline else _OPTIONS


def kernel(signature: Any, *, inline: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """Compile ``fn`` with the house options and the explicit ``signature``.

    Parameters
    ----------
    signature : numba signature or str
        The single signature the kernel accepts, e.g. ``"f8(f8, f8)"`` or a
        ``numba.types`` signature built from the record types in ``dtypes.py``.
    inline : bool
        Also inline it into jitted callers (numba IR inlining). For small functions called per
        event with many array arguments: a call boundary costs a reference count per array.
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        if inline:
            return _inline(fn, signature)
        dispatcher = numba.njit(signature, **_OPTIONS)(fn)
        REGISTRY.append(dispatcher)
        return dispatcher

    return decorate


def _inline(fn: Callable[..., Any], signature: Any) -> Any:
    """An inlined function is compiled into its callers' (cached) code, so it is not compiled on
    its own at import: a second process then loads only the callers. Called from Python (tests),
    it compiles for its arguments, which must match ``signature`` (kept as documentation)."""
    dispatcher = numba.njit(**_options(True))(fn)
    dispatcher._qengine_signature = signature
    return dispatcher


def helper(signature: Any, *, inline: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """Compile an inline helper shared by several kernels (same options, not a public kernel).

    Helpers are registered too (so ``warm_up`` and the cache test see them) but are marked so the
    twin rule applies to the kernels that call them, not to the helper itself. ``inline`` as for
    :func:`kernel`.
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        if inline:
            return _inline(fn, signature)
        dispatcher = numba.njit(signature, **_OPTIONS)(fn)
        dispatcher._qengine_helper = True
        REGISTRY.append(dispatcher)
        return dispatcher

    return decorate


def entry_point(dispatcher: Any, *args: Any) -> Callable[..., Any]:
    """The compiled function of ``dispatcher``'s one signature, to call without dispatch.

    A call through the dispatcher types every argument first (about 0.6 us per structured
    array, more than the kernel's own work for a quote cycle); the entry point only unboxes.
    It does not check what it unboxes, so ``args`` (a sample call, the same arrays the caller
    will pass) are checked against the signature here, once: the caller must then pass these
    very arrays (or arrays of the same dtype and layout) on every call.

    Raises
    ------
    TypeError
        When ``args`` do not have the signature's types.
    """
    (signature,) = dispatcher.signatures
    got = tuple(dispatcher.typeof_pyval(arg) for arg in args)
    if got != tuple(signature):
        wrong = [i for i, (a, b) in enumerate(zip(got, signature, strict=False)) if a != b]
        raise TypeError(f"{dispatcher.__name__}: arguments {wrong or 'count'} do not match its "
                        f"signature {signature}")
    return dispatcher.get_overload(signature)
