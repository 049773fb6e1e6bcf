"""A small layered DAG layout for lineage and pipeline graphs, drawn as inline SVG by the
templates: each node goes in the column of its longest path from a source, nodes in a
column are stacked in the order given, and edges are horizontal Bézier curves. Enough for
the tens of nodes a lineage or a pipeline has; no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 156, 46, 36, 18, 8


@dataclass
class Node:
    id: str
    label: str
    kind: str
    detail: str = ""
    href: str | None = None
    status: str = ""
    layer: int | None = None  # fixed column, else from the edges
    x: int = 0
    y: int = 0


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        if all(n.id != node.id for n in self.nodes):
            self.nodes.append(node)
        return node

    def link(self, source: str, target: str) -> None:
        if (source, target) not in self.edges and source != target:
            self.edges.append((source, target))


def _layers(graph: Graph) -> dict[str, int]:
    incoming: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for a, b in graph.edges:
        if a in incoming and b in incoming:
            incoming[b].append(a)
    layer: dict[str, int] = {}

    def depth(node_id: str, seen: frozenset[str]) -> int:
        if node_id in layer:
            return layer[node_id]
        parents = [p for p in incoming[node_id] if p not in seen]
        value = 0 if not parents else 1 + max(depth(p, seen | {node_id}) for p in parents)
        layer[node_id] = value
        return value

    for node in graph.nodes:
        layer[node.id] = node.layer if node.layer is not None else depth(node.id, frozenset())
    return layer


def layout(graph: Graph) -> dict[str, Any]:
    """Positions, edge paths and the SVG size, ready for ``graph.html``."""
    layers = _layers(graph)
    columns: dict[int, list[Node]] = {}
    for node in graph.nodes:
        columns.setdefault(layers[node.id], []).append(node)
    tallest = max((len(c) for c in columns.values()), default=0)
    height = PAD * 2 + tallest * (NODE_H + GAP_Y) - GAP_Y if tallest else NODE_H
    for index, column in sorted(columns.items()):
        used = len(column) * (NODE_H + GAP_Y) - GAP_Y
        top = PAD + (height - 2 * PAD - used) // 2
        for row, node in enumerate(column):
            node.x = PAD + index * (NODE_W + GAP_X)
            node.y = top + row * (NODE_H + GAP_Y)
    by_id = {n.id: n for n in graph.nodes}
    paths = []
    for a, b in graph.edges:
        if a not in by_id or b not in by_id:
            continue
        s, t = by_id[a], by_id[b]
        x1, y1 = s.x + NODE_W, s.y + NODE_H // 2
        x2, y2 = t.x, t.y + NODE_H // 2
        bend = max((x2 - x1) // 2, 20)
        paths.append(f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}")
    width = PAD * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    return {
        "width": width,
        "height": height,
        "node_w": NODE_W,
        "node_h": NODE_H,
        "nodes": [
            {"id": n.id, "label": n.label[:21], "title": n.label, "kind": n.kind, "detail": n.detail[:24],
             "href": n.href, "status": n.status, "x": n.x, "y": n.y}
            for n in graph.nodes
        ],
        "edges": paths,
    }
