"""Cache store: read-only objects, thaw, keys, indexes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from virt_client.indexer import (
    NAMESPACE_INDEX,
    FrozenDict,
    FrozenList,
    Store,
    by_label,
    by_namespace,
    freeze,
    object_key,
    split_key,
    thaw,
)

NODE_LABEL = "kubevirt.io/nodeName"


def vmi(ns: str, name: str, node: str | None = None, rv: str = "1") -> dict[str, Any]:
    labels = {NODE_LABEL: node} if node else {}
    return {"kind": "VirtualMachineInstance", "metadata": {"namespace": ns, "name": name, "resourceVersion": rv,
            "labels": labels}, "spec": {"domain": {"devices": {"disks": [{"name": "d"}]}}}}


def store() -> Store:
    return Store({NAMESPACE_INDEX: by_namespace, "node": by_label(NODE_LABEL)})


@pytest.mark.parametrize(
    ("mutate"),
    [
        lambda o: o.__setitem__("spec", {}),
        lambda o: o["metadata"].__setitem__("name", "x"),
        lambda o: o["spec"]["domain"]["devices"]["disks"].append({}),
        lambda o: o["spec"]["domain"]["devices"]["disks"][0].__setitem__("name", "x"),
        lambda o: o.pop("spec"),
        lambda o: o["metadata"]["labels"].update(a="b"),
    ],
    ids=["top-level", "nested", "list-append", "list-item", "pop", "update"],
)
def test_cached_objects_are_read_only(mutate: Any) -> None:
    s = store()
    s.put("ns/a", vmi("ns", "a"))
    obj = s.get("ns/a")
    assert obj is not None
    with pytest.raises((TypeError, AttributeError)):
        mutate(obj)
    assert s.get("ns/a") == vmi("ns", "a")


def test_thaw_gives_an_independent_mutable_copy() -> None:
    frozen = freeze(vmi("ns", "a"))
    copy = thaw(frozen)
    copy["metadata"]["name"] = "b"
    assert frozen["metadata"]["name"] == "a"
    nested = thaw(frozen["spec"])
    assert nested == {"domain": {"devices": {"disks": [{"name": "d"}]}}}


def test_frozen_views_behave_like_json() -> None:
    frozen = freeze(vmi("ns", "a", "n1"))
    disks = frozen["spec"]["domain"]["devices"]["disks"]
    assert isinstance(disks, FrozenList) and len(disks) == 1 and disks[0]["name"] == "d"
    assert frozen.get("status", {}) == {}
    assert "spec" in frozen and list(frozen)[0] == "kind"
    assert orjson.loads(frozen.to_json()) == vmi("ns", "a", "n1")
    assert isinstance(FrozenDict({"a": {"b": 1}})["a"], FrozenDict)


@pytest.mark.parametrize(
    ("obj", "key"),
    [({"metadata": {"namespace": "ns", "name": "a"}}, "ns/a"), ({"metadata": {"name": "node1"}}, "node1")],
    ids=["namespaced", "cluster-scoped"],
)
def test_keys(obj: dict[str, Any], key: str) -> None:
    assert object_key(obj) == key
    ns, name = split_key(key)
    assert (ns, name) == (obj["metadata"].get("namespace"), obj["metadata"]["name"])


def test_indexes_follow_updates_and_deletes() -> None:
    s = store()
    s.put("ns1/a", vmi("ns1", "a", "n1"))
    s.put("ns1/b", vmi("ns1", "b", "n1"))
    s.put("ns2/c", vmi("ns2", "c", "n2"))
    assert s.index_keys("node", "n1") == ["ns1/a", "ns1/b"]
    assert s.index_keys(NAMESPACE_INDEX, "ns2") == ["ns2/c"]
    s.put("ns1/a", vmi("ns1", "a", "n2", rv="2"))  # migrated
    assert s.index_keys("node", "n1") == ["ns1/b"]
    assert s.index_keys("node", "n2") == ["ns1/a", "ns2/c"]
    assert s.resource_version("ns1/a") == "2"
    s.delete("ns2/c")
    assert [o["metadata"]["name"] for o in s.by_index("node", "n2")] == ["a"]
    assert len(s) == 2 and "ns2/c" not in s
    with pytest.raises(KeyError):
        s.index_keys("missing", "x")


def test_added_indexer_indexes_existing_objects() -> None:
    s = Store()
    s.put("ns/a", vmi("ns", "a", "n1"))
    s.add_indexers({"node": by_label(NODE_LABEL)})
    assert s.index_keys("node", "n1") == ["ns/a"]
