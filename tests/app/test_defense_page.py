"""The Defenses page: the same attack on the natural and the robust model, side by side."""
from app_helpers import open_page


def test_the_prototype_attack_runs_on_both_models_and_the_table_compares_them():
    at = open_page("defense_comparison.py", {"def_family": "PrototypeDL: prototype attack", "def_steps": "5"})
    assert not at.exception
    at = next(b for b in at.button if b.label.startswith("Run")).click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Model"]) == ["protodl", "protodl-adv"]
    assert set(table["Label kept"]) <= {"yes", "no"}               # one digit: yes/no, not 1.0 (issue 29)
    assert set(table.columns) >= {"Nearest prototype has the right class (before)",
                                  "Nearest prototype has the right class (after)", "Did the attack work?"}
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
    assert at.selectbox(key="def_model").options == ["senn-adv", "senn-lip", "senn-madry"]   # senn, senn-k5: not robust
    at = next(b for b in at.button if b.label.startswith("Run")).click().run()
    assert not at.exception
    assert list(at.dataframe[0].value["Model"]) == ["senn-k5", "senn-lip"]


def test_each_family_shows_its_attacks_declared_settings_and_switching_keeps_the_page_whole():
    from sem_core.serve.views import DEFENSES, attack_view_of

    at = open_page("defense_comparison.py")
    assert not at.exception
    yes_no = {"no": False, "yes": True}                # a yes/no setting's menu spells its value
    values = {w.key: yes_no.get(w.value, w.value) for w in [*at.number_input, *at.selectbox]
              if w.key and w.key.startswith("def_")}
    assert {k: values[f"def_{k}"] for k in DEFENSES.defaults()} == DEFENSES.defaults()     # the precomputed view
    assert values["def_model"] == "senn-adv" and at.selectbox(key="def_src").value == DEFENSES.picks["src"][0]
    at.selectbox(key="def_family").set_value("PrototypeDL: prototype attack").run()
    assert not at.exception
    protodl = attack_view_of(DEFENSES, "protodl_prototype")
    assert {f"def_{k}" for k in protodl.defaults()} <= {w.key for w in [*at.number_input, *at.selectbox]}
    assert at.number_input(key="def_xi").value == protodl.defaults()["xi"]
    at.selectbox(key="def_family").set_value("SENN: concept attack").run()
    assert not at.exception and not [w for w in at.number_input if w.key == "def_xi"]
