"""Response shapes chosen by the Accept header: plain objects, lists, `Table` and
`PartialObjectMetadata`, as kube-apiserver negotiates them for kubectl.

A Table has a `Name` column first, then the resource's printer columns (a CRD's
additionalPrinterColumns, evaluated with Kubernetes JSONPath); without printer columns a CRD
gets an `Age` column, as kube-apiserver does. Nodes and Pods get the cells kube-apiserver computes
for them (`builtin_printers`: STATUS `Ready`, READY `1/1`, ...).
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from virt_client.api.times import parse_rfc3339

from .builtin_printers import NAME_COLUMN, printer_for
from .httpserver import Request, Response
from .jsonpath import JsonPathError, compile_path, format_printer_value
from .resources import PrinterColumn, ResourceInfo
from .store import Entry

if TYPE_CHECKING:
    from .rest import Call

AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


def _accept_kind(req: Request) -> str:
    accept = req.headers.get("accept", "")
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("g") == "meta.k8s.io" and params.get("as") in ("Table", "PartialObjectMetadata",
                                                                      "PartialObjectMetadataList"):
            return params["as"]
        if part.split(";")[0].strip() in ("application/json", "*/*", "application/*", ""):
            return ""
    return ""


def wants_table(req: Request) -> bool:
    return _accept_kind(req) == "Table"


def columns_of(r: ResourceInfo) -> tuple[PrinterColumn, ...]:
    if r.printer_columns:
        return r.printer_columns
    return (AGE,)


@lru_cache(maxsize=512)
def _compiled(expr: str) -> Any:
    try:
        return compile_path(expr)
    except JsonPathError:
        return None


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration, which kube-apiserver uses for `date` columns."""
    if seconds < -1:
        return "<invalid>"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        return f"{h // (24 * 365)}y{(h // 24) % 365}d"
    return f"{h // (24 * 365)}y"


def _date_cell(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value if value else "<unknown>"
    try:
        t = parse_rfc3339(value)
    except ValueError:
        return value
    return human_duration((datetime.datetime.now(datetime.UTC) - t).total_seconds())


def _age_cell(value: Any) -> str:
    return str(_date_cell(value))


def _cells(r: ResourceInfo, obj: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The row's cells and its conditions (kube-apiserver marks finished Pods `Completed`)."""
    cells: list[Any] = [obj.get("metadata", {}).get("name", "")]
    printer = printer_for(r.group, r.plural)
    if printer is not None:
        more, conditions = printer.row(obj, _age_cell)
        return cells + more, conditions
    for col in columns_of(r):
        path = _compiled(col.json_path)
        if path is None:
            cells.append(None)
            continue
        try:
            values = path.find(obj)
        except Exception:  # noqa: BLE001 - a bad column path renders empty, as kube does
            values = []
        cell = format_printer_value(values, col.type)
        cells.append(_date_cell(cell) if col.type == "date" else cell)
    return cells, []


def _column_defs(r: ResourceInfo) -> list[dict[str, Any]]:
    printer = printer_for(r.group, r.plural)
    if printer is not None:
        return [NAME_COLUMN, *printer.columns]
    defs = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a "
             "namespace.", "priority": 0}]
    for c in columns_of(r):
        defs.append({"name": c.name, "type": c.type, "format": c.format, "description": c.description,
                     "priority": c.priority})
    return defs


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def _row(call: Call, obj: dict[str, Any]) -> dict[str, Any]:
    include = call.req.q("includeObject") or "Metadata"
    cells, conditions = _cells(call.r, obj)
    row: dict[str, Any] = {"cells": cells}
    if conditions:
        row["conditions"] = conditions
    if include == "Object":
        row["object"] = obj
    elif include == "Metadata":
        row["object"] = _partial(obj)
    return row


def table_of(call: Call, objs: list[dict[str, Any]], rv: int | str, cont: str = "",
             remaining: int = 0) -> dict[str, Any]:
    md: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        md["continue"] = cont
        md["remainingItemCount"] = remaining
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md,
            "columnDefinitions": _column_defs(call.r), "rows": [_row(call, o) for o in objs]}


def render_one(call: Call, e: Entry) -> Response:
    kind = _accept_kind(call.req)
    if kind == "Table":
        return Response(body=orjson.dumps(table_of(call, [e.obj()], e.rv)))
    if kind == "PartialObjectMetadata":
        return Response(body=orjson.dumps(_partial(e.obj())))
    return Response(body=e.raw)


def render_list(call: Call, entries: list[Entry], rv: int, cont: str, remaining: int) -> Response:
    kind = _accept_kind(call.req)
    if kind == "Table":
        return Response(body=orjson.dumps(table_of(call, [e.obj() for e in entries], rv, cont, remaining)))
    md: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        md["continue"] = cont
        md["remainingItemCount"] = remaining
    if kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
        return Response(body=orjson.dumps({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                           "metadata": md, "items": [_partial(e.obj()) for e in entries]}))
    head = (b'{"kind":"' + call.r.list_kind.encode() + b'","apiVersion":"' + call.r.api_version.encode() +
            b'","metadata":' + orjson.dumps(md) + b',"items":[')
    return Response(body=head + b",".join(e.raw for e in entries) + b"]}")


def watch_line_as_table(call: Call, line: bytes) -> bytes:
    ev = orjson.loads(line)
    obj = ev.get("object") or {}
    if ev.get("type") in ("ERROR", "BOOKMARK"):
        return line
    tbl = table_of(call, [obj], obj.get("metadata", {}).get("resourceVersion", ""))
    return orjson.dumps({"type": ev["type"], "object": tbl}) + b"\n"
