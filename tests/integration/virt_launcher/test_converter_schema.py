"""Every golden domain XML passes libvirt's own schema validation (test driver, VALIDATE flag)."""

from __future__ import annotations

import re
from pathlib import Path

import libvirt
import pytest

GOLDEN = sorted((Path(__file__).parents[2] / "unit" / "virt_launcher" / "golden").glob("*.xml"))


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> libvirt.virConnect:
    libvirt.registerErrorHandler(lambda *_: None, None)
    node = tmp_path_factory.mktemp("schema") / "node.xml"
    node.write_text("<node/>\n")
    c = libvirt.open(f"test://{node}")
    yield c
    c.close()


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_xml_is_valid_for_libvirt(conn: libvirt.virConnect, path: Path) -> None:
    xml = re.sub(r'(<domain [^>]*?)type="\w+"', r'\1type="test"', path.read_text(), count=1)
    dom = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    assert dom.name() == "demo_vm1"
    dom.undefine()
