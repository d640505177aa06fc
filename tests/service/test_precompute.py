"""python -m sem_core precompute: the default views go into the result cache; bad view names exit 2."""
import json

from sem_core.cli.main import main


def test_precompute_fills_the_cache_once(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SEM_CACHE_DIR", str(tmp_path))
    assert main(["precompute", "--views", "concept", "--device", "cpu", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["views"]["concept"]["cached"] is False and first["cache_dir"] == str(tmp_path)
    assert any(p.suffix == ".safetensors" for p in tmp_path.iterdir())
    assert main(["precompute", "--views", "concept", "--device", "cpu", "--json"]) == 0   # a new process would
    assert json.loads(capsys.readouterr().out)["views"]["concept"]["cached"] is True      # read the same files


def test_unknown_view_is_a_one_line_error(capsys):
    assert main(["precompute", "--views", "tour"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown view(s) tour") and "\n" not in err
