"""Structured JSON logs, one object per line, in the shape KubeVirt components print.

Each line has `timestamp`, `level`, `component`, `pos` (file:line) and `msg`, plus any fields
passed with `extra={...}`, and `reason` with the traceback text when an exception is logged.
Fields whose names clash with `logging.LogRecord` attributes (`name`, ...) go in `extra={"fields":
{...}}`, which is merged into the line; `object_fields(obj)` builds that for the object concerned
(`kind`, `namespace`, `name`, `uid`).

Invariant: a log line is always valid JSON; values that are not JSON become their `str()`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import orjson

from virt_client.api.times import rfc3339_micro

FIELDS = "fields"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": rfc3339_micro(record.created),
            "level": record.levelname.lower(),
            "component": self.component,
            "pos": f"{record.filename}:{record.lineno}",
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k == FIELDS and isinstance(v, Mapping):
                line.update(v)
            elif k not in _STANDARD and not k.startswith("_"):
                line[k] = v
        if record.exc_info:
            line["reason"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def setup_logging(component: str, level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Route the root logger to JSON lines on `stream` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(component))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("aiohttp.access", "kubernetes_asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def object_fields(obj: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """`extra=` for a log call naming a Kubernetes object (kind, namespace, name, uid)."""
    metadata = obj.get("metadata") or {}
    fields = {
        "kind": obj.get("kind"),
        "namespace": metadata.get("namespace"),
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
    }
    return {FIELDS: {k: str(v) for k, v in fields.items() if v}}
