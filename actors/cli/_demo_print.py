"""How ``kubetwin demo`` prints: kubectl's and etcdctl's output formats, from API objects.

What it is:
- ``Out``: where the demo writes — prompt lines (``$ kubectl …``), output lines and notes
  (``# …``), styled when colour is on, or swallowed (``silent``: a prerequisite section run
  only for its effect on the cluster).
- ``TabWriter``: kubectl's ``printers.GetNewTabWriter`` — Go's text/tabwriter with minwidth 6,
  padding 3 and ``RememberWidths`` (column widths only grow across flushes, which is how
  ``kubectl get --watch`` keeps later rows in line with the header). Trailing blanks of a
  line are dropped (kubectl pads the cell before an empty last column; nobody sees it).
- ``table_lines``: ``kubectl get`` of a resource, the columns of the server-side Table
  (``actors.live._tables``, the printers the apiserver uses for the real kubectl), headers
  upper-cased, priority-1 columns only with ``-o wide``.
- ``custom_columns``: ``-o custom-columns=NAME:path,…`` with kubectl's JSONPath subset used
  here (dotted fields, ``[i]`` indexes, ``\\.`` inside a field), ``<none>`` when absent.
- ``to_yaml``: ``-o yaml`` as kubectl prints it (sigs.k8s.io/yaml over go-yaml v2): keys
  sorted, strings that would read back as another type double-quoted, strings that need
  quoting single-quoted, everything else plain.

Concurrency model: none; plain functions and a writer object, used from the driver.

Invariants: output is a pure function of the objects and ``now`` (the cluster's wall clock),
so the same seed prints the same bytes.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click
import yaml

from actors.live._tables import column_definitions, table_row

__all__ = ["Out", "TabWriter", "custom_columns", "table_lines", "to_yaml"]

Obj = dict[str, Any]


class Out:
    """The demo's terminal (module docstring)."""

    def __init__(self, *, color: bool | None = None, silent: bool = False,
                 echo: Callable[..., None] = click.echo) -> None:
        self.color = color
        self.silent = silent
        self._echo = echo

    def _put(self, text: str) -> None:
        if not self.silent:
            self._echo(text, color=self.color)

    def prompt(self, command: str) -> None:
        self._put(click.style("$ ", fg="green", bold=True) + click.style(command, bold=True))

    def line(self, text: str = "") -> None:
        self._put(text)

    def lines_of(self, texts: Iterable[str]) -> None:
        for t in texts:
            self._put(t)

    def note(self, text: str) -> None:
        self._put(click.style(f"# {text}", fg="cyan"))

    def title(self, text: str) -> None:
        self._put("")
        self._put(click.style(f"## {text}", fg="yellow", bold=True))


class TabWriter:
    """Go's tabwriter as kubectl configures it (minwidth 6, padding 3, RememberWidths)."""

    MINWIDTH = 6
    PADDING = 3

    def __init__(self) -> None:
        self.widths: list[int] = []

    def format(self, rows: Sequence[Sequence[str]]) -> list[str]:
        """One flush: the rows aligned with every column width seen so far."""
        for row in rows:
            for i, cell in enumerate(row[:-1]):  # the last cell is not tab-terminated
                w = max(self.MINWIDTH, len(cell) + self.PADDING)
                if i < len(self.widths):
                    self.widths[i] = max(self.widths[i], w)
                else:
                    self.widths.append(w)
        out = []
        for row in rows:
            cells = [cell.ljust(self.widths[i]) for i, cell in enumerate(row[:-1])]
            out.append(("".join(cells) + (row[-1] if row else "")).rstrip())
        return out


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def table_header(resource: str, *, wide: bool = False) -> list[str]:
    return [c["name"].upper() for c in column_definitions(resource)
            if wide or c["priority"] == 0]


def table_rows(resource: str, objs: Iterable[Obj], now: float, *,
               wide: bool = False) -> list[list[str]]:
    keep = [wide or c["priority"] == 0 for c in column_definitions(resource)]
    rows = []
    for obj in objs:
        cells = table_row(resource, obj, now, include_object="None")["cells"]
        rows.append([_cell(c) for c, k in zip(cells, keep) if k])
    return rows


def table_lines(resource: str, objs: Iterable[Obj], now: float, *, wide: bool = False,
                writer: TabWriter | None = None) -> list[str]:
    """``kubectl get <resource>`` (``-o wide``): the header and one line per object."""
    writer = writer or TabWriter()
    return writer.format([table_header(resource, wide=wide),
                          *table_rows(resource, objs, now, wide=wide)])


_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def _path_parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in re.split(r"(?<!\\)\.", path.lstrip(".")):
        field = raw.replace("\\.", ".")
        m = _INDEX.match(field)
        if m:
            if m.group(1):
                parts.append(m.group(1))
            parts.append(int(m.group(2)))
        elif field:
            parts.append(field)
    return parts


def json_path(obj: Any, path: str) -> Any:
    """The value at a kubectl custom-columns path (None when absent)."""
    for part in _path_parts(path):
        if isinstance(part, int):
            obj = obj[part] if isinstance(obj, list) and len(obj) > part else None
        else:
            obj = obj.get(part) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def custom_columns(spec: str, objs: Iterable[Obj]) -> list[str]:
    """``-o custom-columns=HEADER:path,…``."""
    columns = [c.split(":", 1) for c in spec.split(",")]
    rows = [[h for h, _ in columns]]
    for obj in objs:
        row = []
        for _, path in columns:
            v = json_path(obj, path)
            row.append("<none>" if v is None else
                       v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
        rows.append(row)
    return TabWriter().format(rows)


# -- -o yaml ---------------------------------------------------------------------------------

def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return json.dumps(v)
    s = str(v)
    try:
        read_back: Any = yaml.safe_load(s)
    except yaml.YAMLError:
        read_back = []  # not a plain scalar: quoted below
    if s == "" or read_back is None or isinstance(
            read_back, bool | int | float | datetime.date):
        return json.dumps(s)  # would read back as a number, bool, null or timestamp
    if not isinstance(read_back, str) or yaml.safe_dump(s, width=10**9).startswith(("'", '"')):
        return "'" + s.replace("'", "''") + "'"
    return s


def _yaml_lines(v: Any, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(v, dict):
        for k in sorted(v):
            item = v[k]
            if isinstance(item, dict) and item:
                out.append(f"{pad}{k}:")
                out.extend(_yaml_lines(item, indent + 2))
            elif isinstance(item, list) and item:
                out.append(f"{pad}{k}:")
                out.extend(_yaml_lines(item, indent))  # go-yaml: "- " at the key's indent
            else:
                out.append(f"{pad}{k}: {_empty(item) if isinstance(item, dict | list) else _scalar(item)}")
        return out
    for item in v:
        sub = _yaml_lines(item, indent + 2) if isinstance(item, dict | list) and item else \
            [f"{pad}  {_empty(item) if isinstance(item, dict | list) else _scalar(item)}"]
        out.append(f"{pad}- {sub[0].lstrip()}")
        out.extend(sub[1:])
    return out


def _empty(v: dict[str, Any] | list[Any]) -> str:
    return "{}" if isinstance(v, dict) else "[]"


def to_yaml(obj: Obj) -> list[str]:
    """``kubectl get … -o yaml`` of one object, as lines."""
    return _yaml_lines(obj, 0)
