"""sem_core is the engine: no Streamlit import anywhere in it, and no print in library code."""
import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "sem_core"
FILES = sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_no_streamlit_and_no_print(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "streamlit" for a in node.names), path
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] != "streamlit", path
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            assert path.parent.name == "cli", f"print() in library code: {path}"
