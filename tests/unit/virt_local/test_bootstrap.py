"""virt-local's manifest reader: the order in which `up` applies the install manifests."""

from __future__ import annotations

from pathlib import Path

from virt_local.bootstrap import read_manifests


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_namespaces_of_every_file_come_first_and_kustomization_is_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "crds" / "a.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
                                         "metadata: {name: as.example.io}\n")
    # a.yaml sorts first but uses the Namespace that z.yaml creates
    _write(tmp_path / "a.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: kv}\n")
    _write(tmp_path / "z.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sb, namespace: kv}\n---\n"
                                "apiVersion: v1\nkind: Namespace\nmetadata: {name: kv}\n")
    _write(tmp_path / "kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                            "resources: [a.yaml, z.yaml]\n")
    crds, others = read_manifests(tmp_path)
    assert [d["metadata"]["name"] for d in crds] == ["as.example.io"]
    order = [(d["kind"], d["metadata"]["name"]) for _, docs in others for d in docs]
    assert order == [("Namespace", "kv"), ("ServiceAccount", "sa"), ("ServiceAccount", "sb")]
