"""Pages write no number of their own for a setting: every default and range of an algorithm's setting or of a view's
own number (how many digits, which digit) comes from its declaration (``sem_core.params`` via the views of
``sem_core.serve.views``). Checked on the source (AST): a numeric literal passed to a control or a job builder, or
given to a setting's name anywhere, fails."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sem_core.attacks import ATTACKS
from sem_core.lipschitz.search import ContinuousSearch
from sem_core.serve import views

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "app_pages").glob("*.py"))
HELPERS = sorted((ROOT / "app_pages" / "ui").glob("*.py"))   # generic controls: image geometry (0..28) is theirs
CONTROLS = {"url_number", "number_input", "slider", "select_slider", "digit_picker", "url_classes", "setting_control"}


def setting_names() -> set[str]:
    names = {p.name for a in ATTACKS.names() for p in ATTACKS.get(a).settings}
    names |= {p.name for p in ContinuousSearch.settings}
    names |= {p.name for v in vars(views).values() if isinstance(v, views.View) for p in v.own}
    return names


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def own_numbers(source: str, names: set[str], controls: bool = True) -> list[str]:
    """'line: what' for every number the source writes for a setting: given to a setting's name anywhere, or (with
    ``controls``) passed to a control or a job builder."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        builder = controls and name.endswith(("_job", "_jobs"))
        if controls and name in CONTROLS or builder:
            found += [f"{node.lineno}: {ast.unparse(a)} in {name}()" for a in node.args if _is_number(a)]
        found += [f"{node.lineno}: {kw.arg}={ast.unparse(kw.value)} in {name}()" for kw in node.keywords
                  if _is_number(kw.value) and (controls and name in CONTROLS or builder or kw.arg in names)]
    return found


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_writes_no_default_of_its_own(path):
    found = own_numbers(path.read_text(), setting_names())
    assert not found, f"{path.relative_to(ROOT)} writes numbers the declarations own:\n" + "\n".join(found)


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_helper_names_no_setting_with_a_number(path):
    found = own_numbers(path.read_text(), setting_names(), controls=False)
    assert not found, f"{path.relative_to(ROOT)} writes numbers the declarations own:\n" + "\n".join(found)


@pytest.mark.parametrize("source", [
    'url_number("ε", "eps", 0.3, 0.01, 1.0)',
    'digit_picker("src", "Source", 9, x_all, y_all)',
    'concept_job(name, x, y, x_t, eps=0.3, steps=100, lam=1.0)',
    'lipschitz_job("cnn", "saliency", x, budget=20)',
    'st.number_input("steps", min_value=1, max_value=1000, value=100)',
    'run(foo, steps=-5)',
])
def test_the_check_finds_a_planted_default(source):
    assert own_numbers(source, {"steps"})


def test_the_check_lets_wiring_through():
    source = ('settings = settings_controls(CONCEPT, containers={"eps": st.columns(3)[0]})\n'
              'spec = concept_job(name, x, y, x_t, **settings)\n'
              'x, y, c = digit_picker("src", "Source", CONCEPT.picks["src"][0], x_all, y_all)\n'
              'cols = st.columns([1, 2]); img = res.x_adv[0, 0]')
    assert own_numbers(source, setting_names()) == []
