"""The launcher's Pod log: JSON lines on stderr, so `kubectl logs virt-launcher-…` says what happened.

Lines have the shape of every component's log (`virt_client.logs`): `timestamp`, `level`,
`component` (`virt-launcher`), `pos` (file:line), `msg`, plus the fields given with `extra=` (the VMI's
`namespace`/`name`/`uid` go in `extra={"fields": {...}}`, as their names clash with LogRecord's).
What is logged: the launcher's lifecycle (started, libvirtd started/died/restarted, domain defined,
started, each state change, shutdown requested, exit and its reason), every command that failed with
libvirt's message, and the lines QEMU (its stderr, via libvirt's per-domain log) and libvirtd write,
forwarded by `LineForwarder` with `subcomponent` `qemu` or `libvirt`.

Memory: the launcher's import set is kept small on purpose, so this module uses only `json`, `re`, `time`
and `logging`, which the launcher loads anyway (`virt_client.logs` would add orjson and datetime).
Invariant: a line is always valid JSON; values that are not JSON become their `str()`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

COMPONENT = "virt-launcher"
FIELDS = "fields"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
log = logging.getLogger("virt_launcher")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {"timestamp": f"{stamp}.{int(record.created % 1 * 1e6):06d}Z",
                                "level": record.levelname.lower(), "component": COMPONENT,
                                "pos": f"{record.filename}:{record.lineno}", "msg": record.getMessage()}
        for key, value in record.__dict__.items():
            if key == FIELDS and isinstance(value, Mapping):
                line.update(value)
            elif key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["reason"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False, separators=(",", ":"))


def setup(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Route the root logger to JSON lines on `stream` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def vmi_fields(ref: Mapping[str, str]) -> dict[str, Any]:
    """`extra=` naming the VMI (`namespace`, `name`, `uid`) of a log line."""
    return {FIELDS: {"kind": "VirtualMachineInstance", **{k: v for k, v in ref.items() if v}}}


_QEMU_MESSAGE = re.compile(r"(^|\s)qemu-[\w.-]+: ")  # QEMU's own messages, after `-msg timestamp=on`'s stamp


def line_level(text: str) -> int:
    """The level of a forwarded line: libvirt's `error :`/`warning :` markers, QEMU's `qemu-system-…:
    <message>` (an error unless it says warning, or notes a stop by signal), else info."""
    lowered = text.lower()
    if " error : " in lowered or lowered.startswith("error"):
        return logging.ERROR
    if " warning : " in lowered or "warning:" in lowered:
        return logging.WARNING
    if _QEMU_MESSAGE.search(lowered) and ": terminating on signal" not in lowered:
        return logging.ERROR
    return logging.INFO


def _read_from(path: Path, offset: int) -> tuple[int, bytes]:
    """(the file's size, the bytes after `offset`); a file smaller than `offset` is read from its start."""
    size = path.stat().st_size
    start = 0 if size < offset else offset
    if size == start:
        return size, b""
    with path.open("rb") as f:
        f.seek(start)
        return start, f.read(size - start)


class LineForwarder:
    """Logs each line appended to a file (which may not exist yet); a file that shrinks (recreated) is
    read again from its start. `run()` polls until cancelled; `drain()` forwards what is left, once."""

    def __init__(self, path: Path, subcomponent: str, *, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self._offset = 0
        self._pending = b""
        self._extra = {FIELDS: {"subcomponent": subcomponent}}

    async def drain(self) -> None:
        try:
            start, chunk = await asyncio.to_thread(_read_from, self.path, self._offset)
        except OSError:
            return  # not created yet, or gone with the domain
        if start < self._offset:
            self._pending = b""
        self._offset = start + len(chunk)
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                log.log(line_level(text), text, extra=self._extra)

    async def run(self) -> None:
        while True:
            await self.drain()
            await asyncio.sleep(self.interval)
