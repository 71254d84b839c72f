"""The one way tests wait: poll a condition until it holds or a deadline passes.

`wait_for` (threads, subprocesses, kubectl) and `wait_for_async` (inside the event loop) call
`predicate` every `interval` seconds until it returns something truthy, and return that value. The
deadline is fixed when the wait starts (`timeout` seconds later); the predicate is always called at
least once and once more at the deadline, so a slow call near the end is not wasted. On timeout an
`AssertionError` says what was awaited (`message`) and the last value the predicate returned.
An exception raised by the predicate (an `AssertionError` because a process died, say) ends the wait
at once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


def _timed_out(message: str, timeout: float, last: object) -> AssertionError:
    return AssertionError(f"timed out after {timeout:g}s waiting for {message}; last value: {last!r}")


def wait_for(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.1,
             message: str = "condition") -> T:
    """Call `predicate` until it returns something truthy; return it, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timed_out(message, timeout, last)
        time.sleep(min(interval, remaining))


@overload
async def wait_for_async(predicate: Callable[[], Awaitable[T]], *, timeout: float = ...,  # noqa: ASYNC109
                         interval: float = ..., message: str = ...) -> T: ...
@overload
async def wait_for_async(predicate: Callable[[], T], *, timeout: float = ...,  # noqa: ASYNC109
                         interval: float = ..., message: str = ...) -> T: ...
async def wait_for_async(predicate: Callable[[], Any], *, timeout: float = 30.0,  # noqa: ASYNC109
                         interval: float = 0.05, message: str = "condition") -> Any:
    """`wait_for` inside the event loop; `predicate` may be a plain function or a coroutine function.

    With `interval=0` it yields to the loop between calls (for conditions other tasks make true).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise _timed_out(message, timeout, last)
        await asyncio.sleep(min(interval, remaining))
