"""The one decorator every qengine kernel uses, and the registry ``warm_up`` walks.

Options are chosen once here: nopython (``njit``), ``cache=True`` (on-disk cache, so a
second process loads machine code instead of compiling), ``nogil=True`` and *no* fastmath (IEEE
semantics, so kernels and their pure-Python twins agree bit for bit where the maths allows).
Every kernel gives an explicit signature, and is compiled (or loaded from the cache) for it, and
only it, when it is first needed: called from Python, bound with :func:`entry_point`, loaded by
:func:`load` / ``kernels.warm_up``, or typed by a kernel that calls it and is being compiled. A
kernel only ever called from other kernels is then never loaded by a process whose callers
come from the cache (their machine code contains it): a start loads what it runs, not all 80.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
from numba.core import typeinfer
from numba.core.registry import CPUDispatcher

#: Every dispatcher created through :func:`kernel`, in definition order.
REGISTRY: list[Any] = []

_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}
_TARGET_OPTIONS = {"nopython": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


class _Kernel(CPUDispatcher):
    """A dispatcher that compiles (or loads) its one declared signature when first needed, then
    compiles nothing else: what ``numba.njit(signature)`` does at import, deferred."""

    _qengine_signature: Any = None
    _qengine_loading = False

    def load(self) -> None:
        """Compile or load the declared signature now (once); later calls do nothing."""
        if self._can_compile and not self._qengine_loading:
            self._qengine_loading = True  # numba's compile asks for our signatures itself
            try:
                with typeinfer.register_dispatcher(self):
                    self.compile(self._qengine_signature)
                self.disable_compile()
            finally:
                self._qengine_loading = False

    # What numba and callers read of the compiled signatures (first-class function arguments,
    # signature checks) loads the declared one first.
    @property
    def signatures(self) -> list[Any]:
        self.load()
        return super().signatures

    @property
    def nopython_signatures(self) -> list[Any]:
        self.load()
        return super().nopython_signatures

    def get_compile_result(self, sig: Any) -> Any:
        self.load()
        return super().get_compile_result(sig)

    def get_overload(self, sig: Any) -> Any:
        self.load()
        return super().get_overload(sig)

    def get_call_template(self, args: Any, kws: Any) -> Any:
        # A kernel being compiled calls this one: the declared signature, never another.
        self.load()
        return super().get_call_template(args, kws)

    def _compile_for_args(self, *args: Any, **kws: Any) -> Any:
        # The first call from Python (no overload yet): load; numba then calls what this
        # returns with the arguments, i.e. dispatches again, now to the declared signature only.
        self.load()
        return self


def _deferred(fn: Callable[..., Any], signature: Any) -> _Kernel:
    dispatcher = _Kernel(py_func=fn, locals={}, targetoptions=dict(_TARGET_OPTIONS))
    dispatcher.enable_caching()
    dispatcher._qengine_signature = signature
    return dispatcher


def load(*dispatchers: Any) -> None:
    """Compile or load these kernels now (before the first tick needs them)."""
    for dispatcher in dispatchers:
        dispatcher.load()


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
        dispatcher = _deferred(fn, signature)
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
        dispatcher = _deferred(fn, signature)
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
    dispatcher.load()
    (signature,) = dispatcher.signatures
    got = tuple(dispatcher.typeof_pyval(arg) for arg in args)
    if got != tuple(signature):
        wrong = [i for i, (a, b) in enumerate(zip(got, signature, strict=False)) if a != b]
        raise TypeError(f"{dispatcher.__name__}: arguments {wrong or 'count'} do not match its "
                        f"signature {signature}")
    return dispatcher.get_overload(signature)
