"""Kubeconfig reading: merging, the user's credentials (token, token file, basic, exec plugin, client
certificate), TLS options and the errors for incomplete files."""

from __future__ import annotations

import base64
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from virt_client.tls import generate_ca, issue_certificate
from virtctl.credentials import context_entries, credentials, load_merged
from virtctl.errors import CommandError


def write(path: Path, users: dict[str, Any], *, current: str = "ctx", cluster: dict[str, Any] | None = None,
          namespace: str | None = None) -> Path:
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://127.0.0.1:6443/",
                                                          "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": name,
                                                **({"namespace": namespace} if namespace else {})}}
                     for name in users],
        "users": [{"name": name, "user": user} for name, user in users.items()],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_token_and_server(tmp_path: Path) -> None:
    creds = credentials(load_merged([str(write(tmp_path / "k", {"ctx": {"token": "abc"}}))]), None)
    assert creds.server == "https://127.0.0.1:6443"
    assert creds.headers == {"Authorization": "Bearer abc"}
    assert creds.ssl_context is not None and creds.ssl_context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(("user", "header"), [
    ({"tokenFile": "tok"}, "Bearer from-file"),
    ({"username": "u", "password": "p"}, "Basic " + base64.b64encode(b"u:p").decode()),
    ({}, None),
], ids=["token-file", "basic", "anonymous"])
def test_other_credentials(tmp_path: Path, user: dict[str, Any], header: str | None) -> None:
    (tmp_path / "tok").write_text("from-file\n")
    creds = credentials(load_merged([str(write(tmp_path / "k", {"ctx": user}))]), None)
    assert creds.headers.get("Authorization") == header


def test_exec_plugin_token(tmp_path: Path) -> None:
    script = tmp_path / "plugin.py"
    script.write_text("import json, os\ninfo = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
                      "print(json.dumps({'status': {'token': 'exec-' + info['spec']['cluster']['server'][-4:] "
                      "+ os.environ['EXTRA']}}))\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(script)], "env": [{"name": "EXTRA", "value": "!"}]}}
    creds = credentials(load_merged([str(write(tmp_path / "k", {"ctx": user}))]), None)
    assert creds.headers == {"Authorization": "Bearer exec-6443!"}


def test_client_certificate_and_ca_data(tmp_path: Path) -> None:
    ca = generate_ca("test-ca")
    ca.write(tmp_path / "ca.crt", tmp_path / "ca.key")
    issue_certificate(ca, "alice", server=False).write(tmp_path / "alice.crt", tmp_path / "alice.key")
    cluster = {"server": "https://127.0.0.1:6443",
               "certificate-authority-data": base64.b64encode((tmp_path / "ca.crt").read_bytes()).decode(),
               "tls-server-name": "kubernetes"}
    user = {"client-certificate": "alice.crt", "client-key-data":
            base64.b64encode((tmp_path / "alice.key").read_bytes()).decode()}
    creds = credentials(load_merged([str(write(tmp_path / "k", {"ctx": user}, cluster=cluster))]), None)
    assert creds.ssl_context is not None and creds.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert creds.server_hostname == "kubernetes" and creds.headers == {}


def test_merge_first_definition_and_current_context_win(tmp_path: Path) -> None:
    first = write(tmp_path / "a", {"one": {"token": "first"}}, current="one", namespace="ns1")
    second = write(tmp_path / "b", {"one": {"token": "second"}, "two": {"token": "t2"}}, current="two")
    config = load_merged([str(first), str(second)])
    assert config.current_context == "one"
    assert credentials(config, None).headers["Authorization"] == "Bearer first"
    assert credentials(config, "two").headers["Authorization"] == "Bearer t2"
    assert {c["name"]: c["context"].get("namespace") for c in context_entries(config)} == {"one": "ns1", "two": None}


@pytest.mark.parametrize(("context", "message"), [
    ("missing", "context was not found for specified context: missing"),
    ("", "no configuration has been provided"),
], ids=["unknown-context", "no-current-context"])
def test_errors(tmp_path: Path, context: str, message: str) -> None:
    path = write(tmp_path / "k", {"ctx": {"token": "x"}}, current="")
    with pytest.raises(CommandError, match=message):
        credentials(load_merged([str(path)]), context or None)


def test_auth_provider_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "k", {"ctx": {"auth-provider": {"name": "gcp"}}})
    with pytest.raises(CommandError, match="auth-provider"):
        credentials(load_merged([str(path)]), None)


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("{not yaml")
    with pytest.raises(CommandError, match="error loading config file"):
        load_merged([str(tmp_path / "k")])
