"""Shared test support (see docs/testing.md).

`wait`: the one `wait_for` / `wait_for_async`. The test stack, in layers, each a context manager that
stops what it started: `apiserver` (1: the API server), `virt_api` (2: + virt-api), `controller`
(3: + virt-controller), `virtlocal` (4: the whole `virt-local up`); beside them `handler_node`
(virt-handler and launchers on a Node), `launcher` (one launcher process) and `process` (starting,
stopping and finding processes).
"""
