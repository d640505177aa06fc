"""Guided tour: four steps for a ten-minute class, one button each (concept, prototype, saliency, stability)."""
from functools import partial

import streamlit as st

from app_pages.ui.figures import chart, figure, interactive_charts, picture
from app_pages.ui.jobs import get_model, run_job, run_jobs, timing_caption
from app_pages.ui.layout import say_verdict, sidebar, user_errors
from app_pages.ui.pickers import test_split_for
from app_pages.ui.state import url_choice
from sem_core.serve.views import (CONCEPT, LIPSCHITZ, PROTOTYPE, SALIENCY, STABILITY, concept_job, lipschitz_job,
                                  nth_of_class, prototype_job, saliency_jobs)
from sem_core.viz.digits import nearest_prototypes
from sem_core.viz import bars_figure, image_figure, image_grid_figure, pair_figure, worst_case
from sem_core.viz.attacks import maps_before_after, senn_figures, senn_ranges
from sem_core.viz.static import explanations_svg, image_pixels, maps_pixels, pair_pixels, titled_grid_pixels
from sem_core.viz.text import SUBTLE_LINF, change_sentence, file_stem, visibility_note
from sem_core.viz.verdicts import lipschitz_verdict, verdict

sidebar()
st.title("Guided tour: four ways to fool an explanation")
st.markdown("Each step shows a model's **explanation** of a handwritten digit, then moves every pixel of the digit by "
            f"a small amount ({visibility_note()}). The prediction stays; the explanation does not. Choose how large "
            "a change to show, then press the buttons in order.")
# how large a change the attack steps (1–3) may make: a subtle one, hard to see, or the papers' (paper 000's ε = 0.3
# for SENN and PrototypeDL, a visible speckle; the saliency page's 0.1). Both attacks still work at the subtle
# ε on the tour's digits, less strongly: the concepts move part of the way (each step's verdict says so). The
# papers' size is the default: its steps are the pages' precomputed default views (served at once from the cache);
# the subtle size computes on first use (about 1 s a step).
SIZES = {"subtle": f"ε = {SUBTLE_LINF:g}: hard to see, a faint grain at most",
         "paper": f"as in the papers: ε = {CONCEPT.defaults()['eps']:g} for steps 1–2, a speckle you can see"}
size = url_choice("How large a change", "tour_eps", list(SIZES), "paper", widget=st.radio, horizontal=True,
                  captions=list(SIZES.values()))
EPS = {name: SUBTLE_LINF if size == "subtle" else view.defaults()["eps"]
       for name, view in (("concept", CONCEPT), ("prototype", PROTOTYPE), ("saliency", SALIENCY))}
st.caption(("Every pixel moves by at most " + ", ".join(f"{e:g} ({n})" for n, e in EPS.items()) + ". ")
           + ("The changed digits look like the originals, a faint grain at most; the explanations move less far "
              "than at the papers' size, and each step's verdict says whether the attack still worked."
              if size == "subtle" else
              f"The changed {CONCEPT.picks['src'][0]} of step 1 shows a speckle. Each step says how far its pixels "
              "really moved: an attack keeps its most effective change, which can be smaller than this limit."))
done = st.session_state.setdefault("tour", {})
if st.session_state.get("_tour_size") != size:  # results of the other size are not this one's
    done.clear()
    st.session_state["_tour_size"] = size
interactive = interactive_charts("tour_interactive")  # off: every step's figures are pictures (no plotly to load)


# every digit and setting is a page's default view (sem_core.serve.views), so steps 1–3 are served from the
# results that precompute stored for those views. Step 2 shows one digit of the prototype view's default digits: no
# view declares the tour's own, so it is that view's third class (the 4) with the view's index.
SRC, TGT = CONCEPT.picks["src"], CONCEPT.picks["tgt"]                        # (class, index): the 9 and the 2
PROTO = (PROTOTYPE.picks["classes"][2], PROTOTYPE.own["which"].default)    # the 4
SAL, STAB = SALIENCY.picks["digit"], STABILITY.picks["digit"]              # the 3, the 7


def digit_of(name: str, pick: tuple[int, int]):
    """The test digit [1,1,28,28] ``pick`` = (class, index) of ``name``'s test split (fixed, so every class sees the
    same digits)."""
    x_all, y_all, _ = test_split_for(name)
    i = nth_of_class(y_all, *pick)
    return x_all[i: i + 1]


def step(n: int, title: str, look: str, button: str, job, show, page: str, query: dict) -> None:
    """One tour step: what to look at, one button, one result and "what just happened" in two sentences.
    ``job()`` builds the step's service job: the result cache serves what any session computed before (steps
    1–3 ask for exactly the attack pages' default views)."""
    st.header(f"{n}. {title}", anchor=f"step-{n}")
    st.markdown(f"**Look at:** {look}")
    if st.button(button, type="primary", key=f"tour_run{n}"):
        with user_errors():
            spec = job()
            if isinstance(spec, dict):  # an attack and its random baseline: {"attack": …, "random": …}
                results, _, times = run_jobs(spec, "Computing")
                done[n] = (results, times)
            else:
                done[n] = run_job(spec, "Computing…")
    if n in done:
        res, times = done[n]
        st.caption(timing_caption(times))
        what = show(res)
        st.success(f"**What just happened.** {what}")
        st.page_link(page, label="Explore this on its own page", icon=":material/arrow_forward:", query_params=query)
    st.divider()


def concept_step():
    m = CONCEPT.picks["model"]
    return concept_job(m, digit_of(m, SRC), SRC[0], digit_of(m, TGT), **{**CONCEPT.defaults(), "eps": EPS["concept"]})


def prototype_step():
    m = PROTOTYPE.picks["model"]
    return prototype_job(m, digit_of(m, PROTO), PROTO[0], **{**PROTOTYPE.defaults(), "eps": EPS["prototype"]})


def saliency_step():
    m = SALIENCY.picks["model"]
    return saliency_jobs(m, SALIENCY.picks["attack"], digit_of(m, SAL), SAL[0],
                         **{**SALIENCY.defaults(), "eps": EPS["saliency"]})


# ---- 1. SENN's concepts ----

def show_concept(res) -> str:
    say_verdict(verdict(res))
    e = [res.explanations[k] for k in ("natural", "adversarial", "target")]
    labels = [f"c{i + 1}" for i in range(e[0].concepts.shape[1])]
    lo = min(float(x.concepts.min()) for x in e) * 1.1
    hi = max(float(x.concepts.max()) for x in e) * 1.1
    titles = [f"the {SRC[0]} as drawn", f"the {SRC[0]}, changed", f"a {TGT[0]}, for comparison"]
    cols = st.columns(3)
    stem = file_stem("tour", model=CONCEPT.picks["model"], digit=SRC[0], target=TGT[0], eps=EPS["concept"])
    kinds = ("natural", "adversarial", "target")

    def bars(j: int):
        fig = bars_figure(e[j].concepts[0], labels, "concepts")
        return fig.update_yaxes(range=[min(lo, 0), hi])

    for j, (col, title) in enumerate(zip(cols, titles)):
        img = [res.x, res.x_adv, res.extras["x_target"]][j][0, 0]
        figure(partial(image_figure, img, title, size=220), partial(image_pixels, img), f"tour_c_img{j}",
               f"{stem}-{kinds[j]}", interactive=interactive, title=title, container=col, width=224)
        if interactive:
            chart(bars(j), f"tour_c_bars{j}", f"{stem}-bars-{kinds[j]}", container=col)
    if not interactive:  # the three digits' concepts as one SVG picture on one scale
        picture(explanations_svg(e, titles, ranges=[(min(lo, 0), hi)], panel_h=150, fields=("concepts",)), "",
                "tour_c_bars", lambda: senn_figures(e, titles, senn_ranges(e)), f"{stem}-bars")
    d_nat, d_adv = float(res.metrics["concept_distance_nat"][0]), float(res.metrics["concept_distance_adv"][0])
    closer = "now look like" if d_adv < d_nat / 2 else "moved toward" if d_adv < d_nat else "did not move toward"
    return (change_sentence(float(res.linf[0]), int(res.pred_after[0]), bool(res.label_kept[0]), "SENN")
            + f" Its concepts {closer} the {TGT[0]}'s: their distance to the {TGT[0]}'s concepts went from "
            f"{d_nat:.2f} to {d_adv:.2f}, so the explanation tells a different story than the answer.")


# ---- 2. PrototypeDL's nearest prototype ----

def show_prototype(res) -> str:
    say_verdict(verdict(res))
    protodl, _ = get_model(PROTOTYPE.picks["model"])
    protos = protodl.prototype_images().cpu()
    classes = res.explanations["natural"].prototype_classes
    j0, j1 = (int(res.explanations[k].distances[0].argmin()) for k in ("natural", "adversarial"))
    grid, titles = nearest_prototypes(res, protos)
    figure(partial(image_grid_figure, grid, titles, cols=4, cell=170),
           partial(titled_grid_pixels, grid, titles, cols=4, scale=6), "tour_p_grid",
           file_stem("tour", model=PROTOTYPE.picks["model"], digit=PROTO[0], eps=EPS["prototype"]),
           interactive=interactive, width="natural",
           caption="the digit, the prototype nearest to it (P number: the class it votes for), the changed digit and "
                   "the prototype nearest to that")
    moved = int(classes[j0]) != int(classes[j1])
    return (change_sentence(float(res.linf[0]), int(res.pred_after[0]), bool(res.label_kept[0]), "PrototypeDL")
            + f" The prototype it points to as its reason went from P{j0 + 1}, a {int(classes[j0])}, to P{j1 + 1}, a "
            f"{int(classes[j1])}" + (". The reason given no longer matches the answer." if moved else
                                     ": the reason still matches the answer."))


# ---- 3. A saliency map ----

def show_saliency(results) -> str:
    res = results["attack"]
    say_verdict(verdict(res, baseline=results["random"]))
    i0, i1 = res.explanations["natural"][0, 0], res.explanations["adversarial"][0, 0]
    titles, digits = (f"map of the {SAL[0]}", f"map of the {SAL[0]}, changed"), (res.x[0, 0], res.x_adv[0, 0])
    figure(partial(maps_before_after, i0, i1, titles, images=digits),
           partial(maps_pixels, i0, i1, titles, images=digits), "tour_s_maps",
           file_stem("tour", model=SALIENCY.picks["model"], digit=SAL[0], eps=EPS["saliency"], extra="maps"),
           interactive=interactive, width="natural",
           caption="bright: important pixels (one scale for both maps); ×: the map's center of mass")
    overlap = float(res.metrics["topk_intersection"][0])
    return (change_sentence(float(res.linf[0]), int(res.pred_after[0]), bool(res.label_kept[0]), "the network")
            + f" Only {overlap:.0%} of the {res.config['k']} pixels it marked as most important are still marked. "
            "A map that moves this easily cannot tell us what the network really looks at.")


# ---- 4. Stability ----
def stability_step():
    m = STABILITY.picks["model"]
    return lipschitz_job(m, STABILITY.picks["explainer"], digit_of(m, STAB), **STABILITY.defaults())


def show_stability(res) -> str:
    say_verdict(lipschitz_verdict({STABILITY.picks["explainer"]: res}))
    w = worst_case(res, 0)
    titles = (f"the {STAB[0]}", f"the {STAB[0]}, worst change", "its map", "map after the change", "what changed")
    figure(partial(pair_figure, w.x, w.x_prime, w.expl, w.expl_prime, titles),
           partial(pair_pixels, w.x, w.x_prime, w.expl, w.expl_prime, titles), "tour_l_pair",
           file_stem("tour", model=STABILITY.picks["model"], digit=STAB[0], extra="stability"),
           interactive=interactive, width="natural",
           caption="the two maps share one scale (bright: important); what changed: red grew, blue shrank")
    return (f"Searching around the {STAB[0]}, the computer found a change for which the map moved {w.value:.1f} "
            f"times as much as the digit did (the local Lipschitz estimate L̂ = {w.value:.3g}). The larger this "
            "number, the less an explanation can be trusted on digits that differ only slightly.")


steps = [  # title, what to look at, button, job, show, its page and a link that reopens the result there
    ("Fool SENN's concepts",
     f"the concept bars of the changed {SRC[0]}: do they look like the {SRC[0]}'s or like the {TGT[0]}'s?",
     "Run step 1: attack SENN's concepts", concept_step, show_concept, "app_pages/concept_attack.py",
     {"src": str(SRC[0]), "tgt": str(TGT[0]), "eps": f"{EPS['concept']:g}", "result": "concept"}),
    ("Fool PrototypeDL's prototypes", "which prototype the model points to, before and after the change.",
     "Run step 2: attack PrototypeDL's prototypes", prototype_step, show_prototype, "app_pages/prototype_attack.py",
     {"digits": str(PROTO[0]), "eps": f"{EPS['prototype']:g}", "result": "proto"}),
    ("Fool a saliency map", "where the bright spots of the map sit on the digit, before and after.",
     "Run step 3: attack the saliency map", saliency_step, show_saliency, "app_pages/saliency_attack.py",
     {"sal_digit": str(SAL[0]), "sal_eps": f"{EPS['saliency']:g}", "result": "sal"}),
    ("Measure stability", "the last panel: how much of the map changed after the worst small change.",
     "Run step 4: measure the map's stability", stability_step, show_stability, "app_pages/lipschitz_stability.py",
     {"lip_n": str(LIPSCHITZ.own["n"].default)}),
]
for n, args in enumerate(steps, start=1):
    step(n, *args)
if len(done) == len(steps):
    st.markdown("That was the whole story: **a correct prediction does not make its explanation trustworthy.** "
                "The pages in the sidebar let you change every setting.")
