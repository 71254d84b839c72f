"""Generated CRDs: committed files are current, schemas are structural, and examples validate."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from virt_client.api.crdgen import CRDS, main, render_all, render_crd
from virt_client.api.datavolume import DataVolume
from virt_client.api.features import unsupported_fields
from virt_client.api.meta import KubeModel
from virt_client.api.migration import VirtualMachineInstanceMigration
from virt_client.api.replicaset import VirtualMachineInstanceReplicaSet
from virt_client.api.vm import VirtualMachine
from virt_client.api.vmi import VirtualMachineInstance

ROOT = Path(__file__).resolve().parents[4]
CRD_DIR = ROOT / "manifests" / "crds"
EXAMPLES = ROOT / "examples"

KIND_MODELS: dict[str, type[KubeModel]] = {
    "VirtualMachine": VirtualMachine,
    "VirtualMachineInstance": VirtualMachineInstance,
    "VirtualMachineInstanceMigration": VirtualMachineInstanceMigration,
    "VirtualMachineInstanceReplicaSet": VirtualMachineInstanceReplicaSet,
    "DataVolume": DataVolume,
}


# --- a minimal validator for the structural-schema subset the generator emits -------------


def _type_ok(expected: str, value: Any) -> bool:
    match expected:
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
    raise AssertionError(f"unknown schema type {expected}")


def validate(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Errors for ``value`` against a structural schema; unknown fields count as errors."""
    where = path or "<root>"
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null not allowed"]
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            return [f"{where}: must be an integer or a string"]
    elif not _type_ok(schema["type"], value):
        return [f"{where}: expected {schema['type']}, got {type(value).__name__}"]
    if path == "metadata":
        return []  # the API server validates object metadata itself
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and isinstance(value, int) and value < schema["minimum"]:
        errors.append(f"{where}: {value} below minimum {schema['minimum']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}.{name}: required" if path else f"{name}: required")
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else key
            if props is not None and key in props:
                errors += validate(props[key], child, child_path)
            elif extra is not None:
                errors += validate(extra, child, child_path)
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{child_path}: unknown field")
    if isinstance(value, list):
        for index, item in enumerate(value):
            errors += validate(schema["items"], item, f"{path}[{index}]")
    return errors


def _schema_of(kind: str) -> dict[str, Any]:
    spec = next(s for s in CRDS if s.kind == kind)
    schema: dict[str, Any] = render_crd(spec)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


# --- committed files ------------------------------------------------------------------------


def test_committed_crds_match_generation(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    generated = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in CRD_DIR.glob("*.yaml")}
    assert sorted(generated) == sorted(committed), (
        "CRD file set differs; run python -m virt_client.api.crdgen"
    )
    stale = [name for name in generated if generated[name] != committed[name]]
    assert not stale, f"stale CRDs {stale}; run python -m virt_client.api.crdgen --out manifests/crds"


def test_expected_crd_files() -> None:
    assert sorted(render_all()) == [
        "datavolumes.cdi.kubevirt.io.yaml",
        "virtualmachineinstancemigrations.kubevirt.io.yaml",
        "virtualmachineinstancereplicasets.kubevirt.io.yaml",
        "virtualmachineinstances.kubevirt.io.yaml",
        "virtualmachines.kubevirt.io.yaml",
    ]


# --- CRD shape against upstream -------------------------------------------------------------

CRD_SHAPES = [
    pytest.param(
        "VirtualMachineInstance",
        ["vmi", "vmis"],
        None,
        ["Age", "Phase", "IP", "NodeName", "Ready", "Live-Migratable", "Paused"],
        id="vmi",
    ),
    pytest.param("VirtualMachine", ["vm", "vms"], {"status": {}}, ["Age", "Status", "Ready"], id="vm"),
    pytest.param(
        "VirtualMachineInstanceMigration", ["vmim", "vmims"], {"status": {}}, ["Phase", "VMI"], id="vmim"
    ),
    pytest.param(
        "VirtualMachineInstanceReplicaSet",
        ["vmirs", "vmirss"],
        {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.labelSelector",
            },
        },
        ["Desired", "Current", "Ready", "Age"],
        id="vmirs",
    ),
    pytest.param(
        "DataVolume", ["dv", "dvs"], {"status": {}}, ["Phase", "Progress", "Restarts", "Age"], id="dv"
    ),
]


@pytest.mark.parametrize(("kind", "short_names", "subresources", "columns"), CRD_SHAPES)
def test_crd_shape(
    kind: str, short_names: list[str], subresources: dict[str, Any] | None, columns: list[str]
) -> None:
    crd = render_crd(next(s for s in CRDS if s.kind == kind))
    assert crd["spec"]["names"]["shortNames"] == short_names
    assert crd["spec"]["names"]["categories"] == ["all"]
    assert crd["spec"]["scope"] == "Namespaced"
    storage = [v for v in crd["spec"]["versions"] if v["storage"]]
    assert len(storage) == 1 and all(v["served"] for v in crd["spec"]["versions"])
    for version in crd["spec"]["versions"]:
        assert version.get("subresources") == subresources
        assert [c["name"] for c in version["additionalPrinterColumns"]] == columns


@pytest.mark.parametrize(
    ("kind", "labels", "versions"),
    [
        pytest.param("VirtualMachine", {"kubevirt.io": ""}, ["v1", "v1alpha3"], id="kubevirt"),
        pytest.param("DataVolume", {"cdi.kubevirt.io": ""}, ["v1beta1"], id="cdi"),
    ],
)
def test_crd_labels_and_versions(kind: str, labels: dict[str, str], versions: list[str]) -> None:
    crd = render_crd(next(s for s in CRDS if s.kind == kind))
    assert crd["metadata"]["labels"] == labels
    assert [v["name"] for v in crd["spec"]["versions"]] == versions
    assert crd["spec"]["versions"][0]["storage"] is True


def test_vmi_columns_json_paths() -> None:
    crd = render_crd(next(s for s in CRDS if s.kind == "VirtualMachineInstance"))
    columns = {c["name"]: c for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["IP"]["jsonPath"] == ".status.interfaces[0].ipAddress"
    assert columns["Ready"]["jsonPath"] == ".status.conditions[?(@.type=='Ready')].status"
    assert columns["Paused"]["priority"] == 1 and columns["Live-Migratable"]["priority"] == 1
    assert columns["Age"]["type"] == "date"


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, schema)]
    for key, child in schema.get("properties", {}).items():
        out += _walk(child, f"{path}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        out += _walk(schema["additionalProperties"], f"{path}.*")
    if "items" in schema:
        out += _walk(schema["items"], f"{path}[]")
    return out


@pytest.mark.parametrize("kind", list(KIND_MODELS), ids=list(KIND_MODELS))
def test_schema_is_structural(kind: str) -> None:
    schema = _schema_of(kind)
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert "spec" in schema["required"]
    for path, node in _walk(schema):
        text = yaml.safe_dump(node)
        assert "$ref" not in text and "anyOf" not in node and "oneOf" not in node, path
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, path
        else:
            assert node.get("type") in {"object", "array", "string", "integer", "boolean", "number"}, path
        if node.get("type") == "array":
            assert "items" in node, path


@pytest.mark.parametrize(
    ("kind", "path", "required"),
    [
        pytest.param("VirtualMachine", ("spec",), ["template"], id="vm-template"),
        pytest.param("VirtualMachineInstance", ("spec",), ["domain"], id="vmi-domain"),
        pytest.param("VirtualMachineInstance", ("spec", "domain"), ["devices"], id="domain-devices"),
        pytest.param("VirtualMachineInstanceReplicaSet", ("spec",), ["selector", "template"], id="vmirs"),
        pytest.param("DataVolume", ("spec", "source", "http"), ["url"], id="dv-http-url"),
    ],
)
def test_required_is_honest(kind: str, path: tuple[str, ...], required: list[str]) -> None:
    node = _schema_of(kind)
    for part in path:
        node = node["properties"][part]
    assert node["required"] == required


def test_quantities_are_int_or_string() -> None:
    vmi = _schema_of("VirtualMachineInstance")
    requests = vmi["properties"]["spec"]["properties"]["domain"]["properties"]["resources"]["properties"][
        "requests"
    ]
    assert requests["additionalProperties"]["x-kubernetes-int-or-string"] is True


# --- the validator itself, and examples ------------------------------------------------------

INVALID = [
    pytest.param(
        "VirtualMachine", {"spec": {"runStrategy": "Always"}}, "spec.template: required", id="no-template"
    ),
    pytest.param(
        "VirtualMachine",
        {"spec": {"runStrategy": "Sometimes", "template": {}}},
        "spec.runStrategy: 'Sometimes' not one of",
        id="bad-enum",
    ),
    pytest.param(
        "VirtualMachineInstance",
        {"spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "lots"}}}}},
        "does not match",
        id="bad-quantity",
    ),
    pytest.param(
        "VirtualMachineInstance",
        {"spec": {"domain": {"devices": {}, "cpu": {"cores": "two"}}}},
        "spec.domain.cpu.cores: expected integer",
        id="wrong-type",
    ),
    pytest.param(
        "VirtualMachineInstance",
        {"spec": {"domain": {"devices": {"frobnicator": {}}}}},
        "spec.domain.devices.frobnicator: unknown field",
        id="unknown-field",
    ),
    pytest.param("DataVolume", {"spec": {"contentType": "tar"}}, "spec.contentType", id="dv-enum"),
]


@pytest.mark.parametrize(("kind", "manifest", "message"), INVALID)
def test_schema_rejects(kind: str, manifest: dict[str, Any], message: str) -> None:
    errors = validate(_schema_of(kind), manifest)
    assert any(message in e for e in errors), errors


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_examples_cover_the_kinds_and_run_strategies() -> None:
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLE_FILES]
    assert {d["kind"] for d in docs} == set(KIND_MODELS)
    strategies = {d["spec"].get("runStrategy") for d in docs if d["kind"] == "VirtualMachine"}
    assert {"Always", "Manual", "Halted", "RerunOnFailure", "Once"} <= strategies


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_example_validates_and_round_trips(path: Path) -> None:
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    kind = manifest["kind"]
    assert validate(_schema_of(kind), manifest) == []
    model = KIND_MODELS[kind].model_validate(copy.deepcopy(manifest))
    assert model.model_dump(by_alias=True, exclude_unset=True) == manifest
    assert model.model_extra == {}


def _vmi_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    if manifest["kind"] == "VirtualMachineInstance":
        spec: dict[str, Any] = manifest["spec"]
        return spec
    template_spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return template_spec


VMI_BEARING = [
    p
    for p in EXAMPLE_FILES
    if yaml.safe_load(p.read_text(encoding="utf-8"))["kind"]
    in {"VirtualMachine", "VirtualMachineInstance", "VirtualMachineInstanceReplicaSet"}
]


@pytest.mark.parametrize("path", VMI_BEARING, ids=[p.name for p in VMI_BEARING])
def test_example_uses_only_supported_fields(path: Path) -> None:
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert unsupported_fields(_vmi_spec(manifest)) == []


def test_kernelboot_demo_example() -> None:
    vm = VirtualMachine.model_validate(
        yaml.safe_load((EXAMPLES / "vm-kernelboot.yaml").read_text(encoding="utf-8"))
    )
    assert vm.metadata is not None and vm.metadata.name == "tiny"
    vmi_spec = vm.spec.template.spec
    assert vmi_spec is not None
    kernel_boot = vmi_spec.domain.firmware.kernel_boot if vmi_spec.domain.firmware else None
    assert kernel_boot is not None and kernel_boot.container is not None
    assert kernel_boot.container.image == "kubevirt-py/tiny-guest-kernel:latest"
    assert kernel_boot.container.kernel_path == "/boot/vmlinuz"
    assert kernel_boot.container.initrd_path == "/boot/initrd.gz"
    assert kernel_boot.kernel_args == "console=ttyS0 quiet panic=-1"
    assert vmi_spec.domain.resources is not None and vmi_spec.domain.resources.requests == {"memory": "256Mi"}
    assert not vmi_spec.domain.devices.disks and not vmi_spec.volumes
