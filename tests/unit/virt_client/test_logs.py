"""JSON log lines: level, message, component, object fields and the caller position."""

from __future__ import annotations

import io
import logging

import orjson

from virt_client.logs import JsonFormatter, object_fields


def test_json_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("virt-controller"))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        vmi = {"kind": "VirtualMachineInstance", "metadata": {"namespace": "ns", "name": "v", "uid": "u"}}
        logger.warning("sync %s failed", "v", extra=object_fields(vmi))
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("crashed")
    finally:
        logger.removeHandler(handler)
    first, second = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "warning" and first["msg"] == "sync v failed"
    assert first["component"] == "virt-controller"
    assert (first["kind"], first["namespace"], first["name"], first["uid"]) == ("VirtualMachineInstance", "ns", "v", "u")
    assert first["pos"].startswith("test_logs.py:")
    assert "RuntimeError: boom" in second["reason"]

