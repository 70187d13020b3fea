"""No import cycles inside bot/conversation, and the conversation never reaches a sender.

import-linter checks layers between packages; a cycle between two modules of one
package (engine ↔ templates, runner ↔ timers, as there were) it does not see.
grimp (import-linter's own graph) sees every import, at module level or in a function.
"""

from __future__ import annotations

import grimp

PACKAGE = "bot.conversation"


def cycles(graph, package: str) -> list[list[str]]:
    """Return the strongly connected groups (more than one module) of a package's own imports."""
    modules = sorted(m for m in graph.modules if m.startswith(package + "."))
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & set(modules)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the package is small enough to recurse
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_the_conversation_package_has_no_import_cycles():
    graph = grimp.build_graph("bot", cache_dir=None)
    assert cycles(graph, PACKAGE) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert cycles(graph, "p") == [["p.a", "p.b"]]


PURE = {"bot.channels.sms"}
"""What an SMS body costs: text arithmetic the checker's size warning reads; it imports nothing."""


def test_the_conversation_never_imports_a_sender():
    graph = grimp.build_graph("bot", include_external_packages=True, cache_dir=None)
    assert all(not (graph.find_modules_directly_imported_by(m) - {"__future__", "unicodedata"}) for m in PURE)
    senders = {"bot.outbox", "twilio"} | {m for m in graph.modules if m.startswith("bot.channels")} - PURE
    for module in sorted(m for m in graph.modules if m.startswith(PACKAGE)):
        for sender in senders:
            assert not graph.chain_exists(importer=module, imported=sender), (module, sender)
