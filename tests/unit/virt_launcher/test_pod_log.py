"""The launcher's Pod log: JSON lines in the components' shape, levels of forwarded lines, and a file
forwarded line by line as it grows (and from its start again when recreated)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from virt_launcher import pod_log


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    pod_log.setup(out)
    try:
        yield out
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_line_shape(stream: io.StringIO) -> None:
    pod_log.log.info("domain %s defined", "ns_vm", extra=pod_log.vmi_fields({"namespace": "ns", "name": "vm",
                                                                              "uid": ""}))
    pod_log.log.error("boom", extra={"exitCode": 1, "odd": object()})
    first, second = lines(stream)
    assert {k: first[k] for k in ("level", "component", "msg", "kind", "namespace", "name")} == {
        "level": "info", "component": "virt-launcher", "msg": "domain ns_vm defined",
        "kind": "VirtualMachineInstance", "namespace": "ns", "name": "vm"}
    assert "uid" not in first and str(first["pos"]).startswith("test_pod_log.py:")
    assert str(first["timestamp"]).endswith("Z") and len(str(first["timestamp"])) == len("2026-01-01T00:00:00.000000Z")
    assert (second["level"], second["exitCode"]) == ("error", 1) and str(second["odd"]).startswith("<object")


@pytest.mark.parametrize(("text", "level"), [
    ("2026-12-04 18:18:03.242+0000: Domain id=1 is tainted: high-privileges", logging.INFO),
    ("-smp 1,sockets=1,dies=1,cores=1,threads=1 \\", logging.INFO),
    ("LC_ALL=C PATH=/usr/bin /usr/bin/qemu-system-x86_64 \\", logging.INFO),
    ("2026-12-04T18:18:19.940602Z qemu-system-x86_64: terminating on signal 15 from pid 5545", logging.INFO),
    ("2026-12-04T18:18:19.94Z qemu-system-x86_64: -drive file=/x: Could not open '/x': Permission denied",
     logging.ERROR),
    ("qemu-system-x86_64: warning: host doesn't support requested feature", logging.WARNING),
    ("2026-12-04 18:18:21.803+0000: 5545: error : qemuMonitorIO:578 : internal error: End of file", logging.ERROR),
    ("2026-12-04 18:18:21.803+0000: 5545: warning : virSecurityValidateTimestamp:205 : Invalid XATTR", logging.WARNING),
], ids=["libvirt-note", "command-line", "command-line-start", "stopped-by-signal", "qemu-error", "qemu-warning",
        "libvirt-error", "libvirt-warning"])
def test_forwarded_line_level(text: str, level: int) -> None:
    assert pod_log.line_level(text) == level


def test_forwarder_follows_a_growing_and_recreated_file(stream: io.StringIO, tmp_path: Path) -> None:
    path = tmp_path / "qemu.log"
    forwarder = pod_log.LineForwarder(path, "qemu")

    async def steps() -> None:
        await forwarder.drain()  # no file yet
        path.write_bytes(b"first\nsecond half")
        await forwarder.drain()
        with path.open("ab") as f:
            f.write(b"-line\n\nqemu-system-x86_64: boom\n")
        await forwarder.drain()
        path.write_bytes(b"again\n")  # recreated, shorter
        await forwarder.drain()

    asyncio.run(steps())
    got = [(line["msg"], line["level"], line["subcomponent"]) for line in lines(stream)]
    assert got == [("first", "info", "qemu"), ("second half-line", "info", "qemu"),
                   ("qemu-system-x86_64: boom", "error", "qemu"), ("again", "info", "qemu")]
