"""The Defenses page: the same attack on the natural and the robust model, side by side."""
from app_helpers import open_page


def test_the_prototype_attack_runs_on_both_models_and_the_table_compares_them():
    at = open_page("defense_comparison.py", {"def_family": "PrototypeDL: prototype attack", "def_steps": "5"})
    assert not at.exception
    at = next(b for b in at.button if b.label.startswith("Run")).click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["model"]) == ["protodl", "protodl-adv"]
    assert (table["label kept"] == 1.0).all()
    assert set(table.columns) >= {"nearest_consistent_nat", "nearest_consistent_adv"}
    assert sum("nearest prototype: class" in m.value for m in at.markdown) == 2


def test_a_family_without_a_robust_model_says_how_to_train_one(monkeypatch):
    import sem_core

    real = sem_core.list_shipped
    monkeypatch.setattr(sem_core, "list_shipped", lambda family=None: [n for n in real(family) if "-" not in n])
    at = open_page("defense_comparison.py")
    assert not at.exception
    assert any("--defense adversarial" in i.value for i in at.info)


def test_the_senn_defenses_run_beside_their_natural_model_senn_k5():
    at = open_page("defense_comparison.py", {"def_family": "SENN: concept attack", "def_model": "senn-lip",
                                             "def_steps": "3"})
    assert not at.exception
    assert at.selectbox(key="def_model").options == ["senn-adv", "senn-lip"]   # senn and senn-k5 are not robust models
    at = next(b for b in at.button if b.label.startswith("Run")).click().run()
    assert not at.exception
    assert list(at.dataframe[0].value["model"]) == ["senn-k5", "senn-lip"]
