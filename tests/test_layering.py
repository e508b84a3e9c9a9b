"""The house rule, read from the code itself (ast, every import including ones inside
functions): the foundation imports no project package, a stage imports the foundation, schemas
and only the stages its data contract needs, apps/ sits on top, and no modules import each
other in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOUNDATION = "outreach"
CONTRACTS = "schemas"
STAGES = ("streams", "generation", "workers", "mail", "engagement", "training", "quantize",
          "releases", "bench", "sequences", "sending")
TOP = "apps"
PACKAGES = (FOUNDATION, CONTRACTS, *STAGES, TOP)
# Stage -> stage imports a data contract demands (the stage on the right owns the contract):
ALLOWED_STAGE_PAIRS = {
    ("workers", "generation"),   # the Kafka runtime serves the inference library
    ("training", "generation"),  # the prompt, draft format and checks a miniature is trained on
    ("quantize", "generation"),  # the trim report and fold score drafts through the engine
    ("quantize", "training"),    # the trim report reads held-out rows and the rubric
    ("releases", "generation"),  # the gate scores a candidate through the serving engine
    ("releases", "training"),    # retrain runs the training stage (dataset, LoRA, merge)
    ("releases", "quantize"),    # retrain converts, quantizes and trims with the GGUF tools
    ("bench", "generation"),     # the benchmark harness measures the inference library
    ("quantize", "bench"),       # the trim report measures decode ceilings with the harness
    ("engagement", "streams"),   # the dashboard reads the KPI and A/B state the feedback stream keeps
    ("sequences", "streams"),    # a reply stops a sequence by its class (the reply classifier)
    ("mail", "sequences"),       # the sender asks the sequence gate (stopped contact, contact cap)
    ("sending", "mail"),         # the engine renders and hands over messages like the sender
    ("sending", "sequences"),    # ...and asks the same gate, on the same virtual clock
    ("engagement", "sending"),   # the dashboard's banner: paused campaigns and mailboxes
}
# No stage imports the Kafka runtime (workers) for inference: only apps/ starts workers.


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((REPO / package).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules imported by ``path`` (``from pkg import mod`` resolves to pkg.mod)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    # "from pkg import mod" also yields "pkg": keep the package only when nothing under it matched
    return {name for name in found
            if not any(other.startswith(name + ".") for other in found)}


def allowed(source: str, target: str) -> bool:
    if source == target or source == TOP:
        return True
    if source == FOUNDATION:
        return False
    if target in (FOUNDATION, CONTRACTS):
        return True
    if source == CONTRACTS or target == TOP:
        return False
    return (source, target) in ALLOWED_STAGE_PAIRS


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_every_package_is_checked(graph: dict[str, set[str]]) -> None:
    top_level = {path.name for path in REPO.iterdir()
                 if (path / "__init__.py").is_file()}
    assert top_level == set(PACKAGES)
    assert len(graph) > 100


def test_imports_follow_the_layers(graph: dict[str, set[str]]) -> None:
    wrong = sorted(f"{source} imports {target}" for source, targets in graph.items()
                   for target in targets
                   if not allowed(source.split(".")[0], target.split(".")[0]))
    assert wrong == []


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_checker_sees_violations() -> None:
    assert not allowed("outreach", "streams")
    assert not allowed("schemas", "workers")
    assert not allowed("workers", "training")
    assert not allowed("streams", "apps")
    assert not allowed("training", "workers") and not allowed("quantize", "workers")
    assert not allowed("generation", "workers")
    assert allowed("apps", "workers") and allowed("training", "generation")


def test_no_stage_imports_the_runtime_for_inference(graph: dict[str, set[str]]) -> None:
    """Only the CLI/orchestration layer starts workers; inference lives in generation/."""
    users = sorted(source for source, targets in graph.items()
                   if any(t.split(".")[0] == "workers" for t in targets)
                   and source.split(".")[0] not in ("workers", TOP))
    assert users == []
