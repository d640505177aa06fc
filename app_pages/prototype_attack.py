"""Prototype attack (PrototypeDL): the nearest prototype changes class, the label stays (paper 000, Table 1)."""
from functools import partial

import streamlit as st

from app_pages.ui.downloads import downloads, provenance_json, provenance_npz
from app_pages.ui.figures import figure, interactive_charts
from app_pages.ui.jobs import get_model, run_job, timing_caption
from app_pages.ui.layout import attack_status, details, presenting, say_verdict, sidebar, user_errors
from app_pages.ui.pickers import model_choice, test_split_for
from app_pages.ui.settings import setting_control, settings_controls
from app_pages.ui.state import keep_result, link_wants_result, result_or_stop, url_classes
from sem_core.serve.views import PROTOTYPE, nth_of_class, prototype_job
from sem_core.viz.digits import nearest_prototypes
from sem_core.digit_io import digits_to_png
from sem_core.viz import image_grid_figure, prototypes_figure, protodl_digit_frame, prototype_frame, prototype_table
from sem_core.viz.images import prototype_titles
from sem_core.viz.static import titled_grid_pixels
from sem_core.viz.text import change_look, change_sentence, file_stem, visibility_note
from sem_core.viz.verdicts import batch_verdict, verdict, verdicts

sidebar()
st.title("Prototype attack (PrototypeDL)")
st.markdown("PrototypeDL explains a prediction by pointing at the **prototype** it resembles most: *this digit is "
            "a 4 because it looks like this prototype of a 4*. Watch the nearest prototype: after a small change to "
            f"every pixel ({visibility_note()}), it belongs to **another class**, while the prediction stays the same.")
with details():
    st.markdown("PrototypeDL classifies a digit by its distances h_j(x) to 15 learnt prototypes P1…P15. Naturally, the "
                "nearest prototypes belong to the predicted class. The attack pushes the digit away from its own "
                "class's prototypes (D) and toward the others (R) while a cross-entropy term keeps the prediction "
                "(paper 000, eqs. 2–3), by projected gradient steps within an ε-ball:")
    st.latex(r"D(x,y) = \sqrt{\frac{\sum_{Y(j)=y} h_j(x)^2}{\sum_j \mathbb{1}[Y(j)=y]}}, \qquad "
             r"R(x,y) = \sqrt{\frac{\sum_{Y(j)\neq y} h_j(x)^2}{\sum_j \mathbb{1}[Y(j)\neq y]}}")
    st.latex(r"x^* = \arg\max_{x^* \in B_\varepsilon(x)} \; D(x^*,y) - \lambda R(x^*,y) - \xi L_y\big(f(x^*),y\big) "
             r"- \alpha \|h(x^*)\|_2^2")

interactive, params, chosen = False, None, []
with user_errors():
    name = model_choice(PROTOTYPE.picks["model"])
    model, card = get_model(name)
    x_all, y_all, source = test_split_for(name)
    classes = model.prototype_classes().cpu()
    st.subheader("The prototypes")
    st.markdown(f"The {len(classes)} prototypes P1…P{len(classes)} decoded back to images, each with the class it "
                "votes for.")
    interactive = interactive_charts("proto_interactive")
    protos = model.prototype_images()
    # a picture by default: the page opens without plotly (≈ 1.2 s of a browser's CPU for its first chart)
    figure(partial(prototypes_figure, protos, classes),
           partial(titled_grid_pixels, protos, prototype_titles(classes), cols=8), "proto_grid",
           file_stem("prototype", model=name, extra="prototypes"),
           interactive=interactive, width="natural")

    st.subheader("Attack")
    settings = settings_controls(PROTOTYPE, containers={"eps": st.columns(4)[0]})
    c5, c6 = st.columns([3, 1])
    chosen = url_classes("Digit classes (one test digit each; Table 1 uses 0, 2, 4, 6, 8)", "digits",
                         list(PROTOTYPE.picks["classes"]), container=c5)
    which = setting_control(PROTOTYPE.own["which"], "which", c6)

    params = dict(model=name, **settings, digits=sorted(chosen), which=which)


@st.fragment
def run_and_show() -> None:
    """The Run button and the result, as a fragment (as on the concept page): a click reruns this part alone, with
    the controls' values of the last whole-page run."""
    with user_errors():
        if (st.button("Run prototype attack", type="primary", disabled=not chosen)
                or link_wants_result("proto", params, bool(chosen))) and chosen:
            idx = [nth_of_class(y_all, c, which) for c in sorted(chosen)]
            res, times = run_job(prototype_job(name, x_all[idx], y_all[idx], **settings))
            keep_result("proto", params, res=res, idx=idx, model=name, times=times)
    show_result()


def show_result() -> None:
    """The result this session holds (the last run), or a hint and a stop."""
    out = result_or_stop("proto", "Choose the digits and press **Run prototype attack**.")
    res = out["res"]
    nat, adv = res.explanations["natural"], res.explanations["adversarial"]  # prototype distances before/after
    h_nat, h_adv, classes = nat.distances, adv.distances, nat.prototype_classes
    names = [f"{int(c)} (#{i})" for c, i in zip(res.y, out["idx"])]
    st.caption(f"ε = {res.config['eps']:g}, {res.config['steps']} steps, λ = {res.config['lam']:g}, "
               f"ξ = {res.config['xi']:g}; test digits {', '.join(names)}; {timing_caption(out['times'])}")
    attack_status(res)
    say_verdict(verdict(res) if len(res.y) == 1 else batch_verdict(res))
    n = len(res.y)
    kept, moved = int(res.label_kept.sum()), int((adv.nearest_class != res.pred_before).sum())
    linf = float(res.linf.max())
    change = (change_sentence(linf, int(res.pred_after[0]), bool(res.label_kept[0]), "PrototypeDL") if n == 1 else
              f"Every pixel of every digit moved by at most {linf:.2f}: {change_look(linf)}.")
    st.markdown(f"{change} **{kept} of {n}** predictions stay the same; for **{moved} of {n}** digits the nearest "
                "prototype now belongs to another class. Each row: the digit, the prototype nearest to it (P number: "
                "the class it votes for), the changed digit and the prototype nearest to that:")
    grid, titles = nearest_prototypes(res, get_model(out["model"])[0].prototype_images())
    stem = file_stem("prototype", model=out["model"], digit=",".join(str(int(c)) for c in res.y),
                     eps=res.config["eps"])
    figure(partial(image_grid_figure, grid, titles, cols=4, cell=110),
           partial(titled_grid_pixels, grid, titles, cols=4), "proto_pairs", stem, interactive=interactive,
           width="natural")

    st.subheader("Prototype distances (Table 1)")
    st.markdown("Rows are prototypes, columns the digits before (Nat.) and after (Adv.) the attack. **Bold**: prototypes "
                "of the digit's class; red: the smallest distance in the column, i.e. the nearest prototype.")
    st.table(prototype_table(h_nat, h_adv, classes, res.y, names=names))

    st.subheader("Per digit")
    st.markdown("D(x,y) should grow and R(x,y) shrink; the prediction stays while the nearest prototype changes class.")
    digits = protodl_digit_frame(res, h_nat, h_adv, classes)
    digits["Did the attack work?"] = [v.short for v in verdicts(res)]
    # two tables that fit a 1280-px window without scrolling sideways: what decides the verdict, then D and R
    deciding = ["label", "pred before", "pred after", "label kept", "nearest class before", "nearest class after",
                "Did the attack work?"]
    st.dataframe(digits[deciding], hide_index=True, key="proto_digits")
    two_decimals = st.column_config.NumberColumn(format="%.2f")
    distances = ["label"] + [c for c in digits.columns if c.startswith(("D(", "R("))]
    st.dataframe(digits[distances], hide_index=True, key="proto_dr",
                 column_config={c: two_decimals for c in distances[1:]})
    m1, m2 = st.columns(2)
    m1.metric("labels kept", f"{kept}/{n}")
    m2.metric("nearest prototype of a wrong class after the attack", f"{moved}/{n}")

    if not presenting():
        prov = dict(model=out["model"], digits=out["idx"], attack="protodl_prototype", config=res.config)
        tensors = provenance_npz(**prov, x=res.x, x_adv=res.x_adv, y=res.y, h_nat=h_nat, h_adv=h_adv, classes=classes)
        distances = prototype_frame(h_nat, h_adv, classes, res.y, names).to_csv().encode()
        downloads({"adversarial digits (PNG)": (f"{stem}-x-adv.png", digits_to_png(res.x_adv), "image/png"),
                   "tensors (NPZ)": ("prototype_attack.npz", tensors, "application/octet-stream"),
                   "metrics (JSON)": ("prototype_attack.json", provenance_json(res.to_dict(), **prov), "application/json"),
                   "distances (CSV)": ("prototype_attack.csv", distances, "text/csv")}, key="proto")


run_and_show()
