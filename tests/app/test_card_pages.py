"""The Robustness card and Leaderboard pages (issue 31): the shipped card at once, Make the card on a chosen N, the
three downloads, an edited card refused; the leaderboard ranks the verified shipped cards."""
import json

from app_helpers import content, open_page


def test_card_page_makes_a_card_and_offers_its_three_files(tmp_path, monkeypatch, media):
    monkeypatch.setenv("SEM_RESULTS_DIR", str(tmp_path))
    at = open_page("robustness_card.py", {"card_model": "senn-k5"}, timeout=300)
    assert not at.exception
    at.number_input(key="card_n").set_value(1).run()
    at.button(key="card_run").click().run()
    assert not at.exception and not at.error
    folder = tmp_path / "cards" / "card-senn-k5-n1"
    assert (folder / "manifest.json").is_file()
    assert any("fragile" in h.value.lower() or "robust" in h.value.lower() for h in at.subheader)
    assert any("Concepts" in str(t.value) for t in at.table)
    buttons = {b.proto.label: b for b in at.get("download_button")}
    doc = json.loads(content(media, buttons["Download card.json"]))
    assert doc["model"]["name"] == "senn-k5" and doc["run"]["n"] == 1
    assert b"Plotly.newPlot" in content(media, buttons["Download card.html"])
    # an edited result is refused, not shown
    results = folder / "results.json"
    results.write_text(results.read_text().replace("senn-k5", "senn-k6", 1))
    at.run()
    assert at.error and not at.exception


def test_leaderboard_page_ranks_the_shipped_cards():
    at = open_page("leaderboard.py", timeout=120)
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    table = at.table[0].value
    assert list(table["Rank"])[:2] == [1, 2] and "cnn" in list(table["Model"])
    assert any("[" in str(v) for v in table.iloc[:, 3])       # intervals
