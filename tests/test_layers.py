"""The package's shape: no import circles, and a core that loads without the web stack."""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest


def _cycles(package: str) -> list[list[str]]:
    """Every import circle among ``package``'s modules, function-level imports included."""
    graph = grimp.build_graph(package)
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in modules}
    found, state, stack = [], dict.fromkeys(modules, 0), []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in edges[module]:
            if state[target] == 1:
                found.append([*stack[stack.index(target) :], target])
            elif state[target] == 0:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in modules:
        if state[module] == 0:
            visit(module)
    return found


@pytest.mark.parametrize("package", ["mock_server", "contract_tests"])
def test_no_import_circles(package: str) -> None:
    assert _cycles(package) == []


def test_the_cycle_finder_sees_a_circle(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "circled"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from circled import b\n")
    (pkg / "b.py").write_text("from circled import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles("circled") == [["circled.a", "circled.b", "circled.a"]]


@pytest.mark.parametrize(
    "module",
    ["mock_server.core.lifecycle", "mock_server.core.render", "mock_server.core.scenarios"],
)
def test_the_core_loads_without_the_web_stack(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "print(sorted(m for m in ('flask', 'werkzeug', 'jsonschema', 'granian') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_face_still_offers_its_names() -> None:
    import mock_server

    for name in mock_server.__all__:
        assert getattr(mock_server, name) is not None
    with pytest.raises(AttributeError):
        _ = mock_server.no_such_name  # type: ignore[attr-defined]
