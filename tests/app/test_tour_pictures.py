"""The guided tour draws every step's figures as pictures (no plotly for a class to load), with the plotly figures
as downloads; its Interactive charts switch brings the charts back."""
import numpy as np
from app_helpers import open_page, pictures, svgs

from sem_core.viz.static import image_pixels

STEPS = ("Run step 1: attack SENN's concepts", "Run step 2: attack PrototypeDL's prototypes",
         "Run step 3: attack the saliency map", "Run step 4: measure the map's stability")
KEYS = ("tour_c_img0", "tour_c_img1", "tour_c_img2", "tour_c_bars", "tour_p_grid", "tour_s_maps", "tour_l_pair")


def test_every_step_is_drawn_as_pictures_and_charts_on_request(media):
    at = open_page("tour.py", timeout=240)
    for label in STEPS:
        next(b for b in at.button if b.label == label).click().run()
        assert not at.exception and not at.error, label
    assert not at.get("plotly_chart")
    pics = pictures(at, media)
    assert len(pics) == 6                                          # 3 digits, the prototypes, the maps, the pair
    res = at.session_state["tour"][1][0]
    assert np.array_equal(pics[1], image_pixels(res.x_adv[0, 0]))   # step 1's changed 9, pixel for pixel
    (bars,) = svgs(at)                                             # the three digits' concepts, one scale
    assert bars.count("<rect") == 3 * (1 + res.explanations["natural"].concepts.shape[1])   # frames + bars
    assert "concepts h(x)" in bars and "relevances" not in bars
    buttons = {b.proto.id.split("-", 2)[-1] for b in at.get("download_button")}
    assert all(f"{k}_dl_{fmt}" in buttons for k in KEYS for fmt in ("png", "svg", "html"))
    at.toggle(key="tour_interactive").set_value(True).run()
    assert not at.exception and len(at.get("plotly_chart")) == 9 and not pictures(at, media) and not svgs(at)


def test_the_tour_says_how_visible_the_change_is_at_either_size():
    """Subtle (the default): ε 0.1, hard to see, and the attack still works; the papers' size: ε 0.3, a speckle."""
    for size, eps, look in (("subtle", 0.1, "the change is hard to see"), ("paper", 0.3, "you can see the speckle")):
        at = open_page("tour.py", {"tour_eps": size}, timeout=240)
        next(b for b in at.button if b.label == STEPS[0]).click().run()
        assert not at.exception and not at.error, size
        res = at.session_state["tour"][1][0]
        assert res.config["eps"] == eps and bool(res.label_kept[0])
        said = next(s.value for s in at.success if s.value.startswith("**What just happened.**"))
        assert f"at most {float(res.linf[0]):.2f}: {look}" in said, said
        assert any(s.value.startswith("The attack worked") for s in at.success), size   # still works when subtle
