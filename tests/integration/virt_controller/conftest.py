"""virt-controller tests run on layer 3 of the test stack: one cluster and one leading controller per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.controller import Cluster, ControllerProcess, controller_cluster, leading_controller


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with controller_cluster(tmp_path_factory.mktemp("ctrl")) as c:
        yield c


@pytest.fixture(scope="module")
def controller(cluster: Cluster) -> Iterator[ControllerProcess]:
    with leading_controller(cluster) as ctrl:
        yield ctrl
