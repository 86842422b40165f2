"""The package's shape: one namespace on install, and every module importable on its own.

The layer rules themselves are import-linter contracts (``make lint`` runs ``lint-imports``;
they live in ``pyproject.toml``). These tests cover what a contract cannot see.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "eventrouter": "eventrouter",
    "eventrouter.router": "router",
    "eventrouter.workers": "workers",
}


def _modules() -> list[str]:
    names = ["eventrouter"]
    for package, folder in FOLDERS.items():
        if package == "eventrouter":
            continue
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT / folder).with_suffix("")
            if "migrations" in relative.parts:
                continue  # Alembic loads these by file path, not by import
            parts = [p for p in relative.parts if p != "__init__"]
            names.append(".".join([package, *parts]))
    return names


def test_every_package_folder_is_listed_for_installation() -> None:
    """A package missing from pyproject's list works in a checkout and is absent on install."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == FOLDERS
    on_disk = set()
    for package, folder in FOLDERS.items():
        base = ROOT / folder
        for init in base.rglob("*.py"):
            directory = init.parent
            if directory.name == "__pycache__" or directory.is_symlink():
                continue
            relative = directory.relative_to(base).parts
            if any(part in ("router", "workers") for part in relative) and package == "eventrouter":
                continue  # the checkout's symlinks to router/ and workers/
            on_disk.add(".".join([package, *relative]))
    assert sorted(on_disk) == sorted(config["packages"])


def test_no_code_imports_the_folders_by_their_checkout_names() -> None:
    """``import router`` would load a second copy of a module beside ``eventrouter.router``."""
    pattern = re.compile(r"^\s*(from|import)\s+(router|workers)(\.|\s)", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for top in ("eventrouter", "router", "workers", "tests", "bench", "examples")
        for path in (ROOT / top).rglob("*.py")
        if ".venv" not in path.parts and pattern.search(path.read_text())
    ]
    assert offenders == []


# Runs in a fresh interpreter: the third-party modules the project imports are loaded once,
# then each module is imported first in its own forked child, so a child pays only for the
# project's own code (the check must not depend on how busy the machine is).
_IMPORT_EACH_FIRST = """
import importlib, os, sys, traceback
split = sys.argv.index("--")
for library in sys.argv[1:split]:
    try:
        importlib.import_module(library)
    except Exception:
        pass  # an optional extra; a module that needs it reports it below
running = 0
for module in sys.argv[split + 1:]:
    if running == os.cpu_count():
        os.wait()
        running -= 1
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(module)
        except BaseException:
            print(module + ": " + traceback.format_exc().strip().splitlines()[-1], flush=True)
            os._exit(1)
        os._exit(0)
    running += 1
while running:
    os.wait()
    running -= 1
"""


def _third_party_imports() -> list[str]:
    """Every non-project module named by an import in router/ and workers/."""
    found: set[str] = set()
    for folder in ("router", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module)
    return sorted(m for m in found if m.split(".")[0] not in ("eventrouter", "__future__"))


def test_every_module_imports_first() -> None:
    """Each module imported first, in a fresh interpreter, works: no hidden import cycle."""
    modules = _modules()
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_FIRST, *_third_party_imports(), "--", *modules],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": ""},
        timeout=300,
    )
    assert len(modules) > 40
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == []
