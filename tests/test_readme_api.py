"""The README's Python API section runs as printed (one example per algorithm family)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_the_python_api_example_runs_and_shows_each_family():
    section = README.read_text().split("### Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, str(README), "exec"), ns)  # noqa: S102 - our own README
    assert ns["res"].x_adv.shape == (4, 1, 28, 28) and ns["res"].label_kept.all()
    assert ns["maps"].shape == (4, 1, 28, 28)
    assert ns["lip"].values.shape == (2,) and ns["lip"].search == "bayesopt"
