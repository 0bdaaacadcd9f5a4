"""Draw: a digit on the canvas (or a picture of one), what the model sees, and how sure it is.

Thin on purpose: the preprocessing, the probe and the prediction live in cnn_demo; this
page lays out widgets and pictures. The canvas and everything that depends on it sit in
one fragment, so a stroke reruns the fragment, not the page. A stroke redraws ten HTML bars
(the probabilities) and four still pictures: a class draws at once, and a Plotly chart or an
interactive heatmap costs the server and every browser many times what these do.
"""

from html import escape

import numpy as np
import streamlit as st

from app_pages.common import active, remember_drawing, send_to_inspect
from app_pages.figures import ACCENT, PALE, picture
from app_pages.i18n import choice, t
from app_pages.touch import pin_canvas_toolbar
from cnn_demo.drawings.preprocess import CANVAS, CENTRE, FIT, ImageError, Steps, decode_image, preprocess_steps
from cnn_demo.inside.pixels import enlarge, with_box
from cnn_demo.inside.predict import predict_proba, runner_up
from cnn_demo.inside.probe import ERASE_REGIONS, MAX_THICKNESS, probe

UNSURE = 0.6  # below this probability the page says "unsure" instead of presenting a guess
# The answer's column: never narrower than this (it wraps below the canvas instead). The canvas's
# column leaves room above the canvas for its toolbar, pinned there (app_pages/touch.py).
LAYOUT_CSS = """<style>
div:has(> .st-key-answer_col) { min-width: 13rem; flex: 1 1 13rem; }  /* the row's flex item wraps it */
.st-key-canvas_col { padding-top: 3.1rem; }
</style>"""
PROBE_DEFAULTS = {"probe_dx": 0, "probe_dy": 0, "probe_turn": 0, "probe_thickness": 0, "probe_erase": "nothing"}

st.html(LAYOUT_CSS)
pin_canvas_toolbar()
st.title(t("draw.title"))
st.write(t("draw.intro"))


def reset_probe() -> None:
    for key, value in PROBE_DEFAULTS.items():
        st.session_state[key] = value


# The probabilities as ten plain HTML bars, not a Plotly chart: after every stroke of every
# student a Plotly figure cost the server ~3.5 ms of its ~30 ms (built, deep-copied, turned
# to JSON) and each browser a remount of a plot, most of its time to show the answer. Heights
# in % of the plot area; type in em, so projector mode enlarges it. Our own markup, no user text.
BARS_CSS = """<style>
.probs { display: flex; gap: 0.25rem; height: 11rem; align-items: flex-end; padding-top: 1.4rem; }
.probs .col { flex: 1; height: 100%; display: flex; flex-direction: column; justify-content: flex-end; align-items: center; }
.probs .pct { font-size: 0.8rem; line-height: 1.2rem; white-space: nowrap; }
.probs .bar { width: 100%; min-height: 1px; border-radius: 3px 3px 0 0; }
.probs-digits { display: flex; gap: 0.25rem; border-top: 1px solid #9aa1ab; }
.probs-digits span { flex: 1; text-align: center; font-size: 0.9rem; }
.probs-axis { font-size: 0.8rem; opacity: 0.7; text-align: center; }
</style>"""


def probability_bars(probs: np.ndarray) -> str:
    """(10,) probabilities -> the HTML of a bar per digit, the answer in the accent colour."""
    best = int(probs.argmax())
    columns, digits = [], []
    for d, p in enumerate(probs):
        label = f"{p:.0%}" if p >= 0.005 else ""
        colour = ACCENT if d == best else PALE
        hover = escape(
            t("draw.hover_probability", digit=d, probability=f"{p:.1%}")
        )  # the app's words, escaped all the same
        columns.append(
            f'<div class="col" title="{hover}"><span class="pct">{label}</span>'
            f'<div class="bar" style="height: calc((100% - 1.2rem) * {p:.4f}); background: {colour};"></div></div>'
        )
        digits.append(f"<span>{d}</span>")
    return (
        f'{BARS_CSS}<div class="probs-axis">{escape(t("draw.axis_probability"))}</div>'
        f'<div class="probs">{"".join(columns)}</div><div class="probs-digits">{"".join(digits)}</div>'
        f'<div class="probs-axis">{escape(t("draw.axis_digit"))}</div>'
    )


def show_steps(steps: Steps, fit: bool) -> None:
    st.subheader(t("draw.steps_title"))
    first, second, third = st.columns(3)
    if not fit:
        with first:
            picture(with_box(steps.ink, None), "step_box", caption=t("draw.step_drawing"))
        with second:
            picture(enlarge(steps.image28), "step_28", caption=t("draw.step_shrunk"))
        third.warning(t("draw.fit_off"))
        return
    x0, y0, x1, y1 = steps.box
    with first:
        picture(with_box(steps.ink, steps.box), "step_box", caption=t("draw.step_box", width=x1 - x0, height=y1 - y0))
    with second:
        picture(enlarge(steps.fit20, scale=14), "step_fit", caption=t("draw.step_fit", size=FIT))
    with third:
        picture(enlarge(steps.image28, centre=CENTRE), "step_28", caption=t("draw.step_centre"))
    st.markdown(t("draw.why_steps"))


@st.fragment
def workbench() -> None:
    from streamlit_drawable_canvas import st_canvas  # a Streamlit component: importable only inside the app

    loaded = active()
    # Three columns that wrap: the canvas keeps its 280 pixels, the answer takes what is left (at
    # least LAYOUT_CSS's minimum, else it goes below the canvas, full width, as on a tablet or a
    # phone), and the side column holds what the model sees, then the canvas's settings. So on
    # a narrow screen the answer comes straight after the canvas, not after its settings.
    row = st.container(horizontal=True, gap="small")
    canvas_col = row.container(width=CANVAS + 16, key="canvas_col")
    answer_col = row.container(key="answer_col")
    side_col = row.container(width=260, key="side_col")
    seen_box, controls = side_col.container(), side_col.container()

    with controls:
        brush = st.slider(t("draw.stroke_width"), 6, 40, 20, key="brush")
        fit = st.toggle(t("draw.fit"), value=True, key="fit", help=t("draw.fit_help"))
        upload = st.file_uploader(t("draw.upload"), type=["png", "jpg", "jpeg"], key="upload")
    with canvas_col:
        result = st_canvas(
            stroke_width=brush,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=CANVAS,
            height=CANVAS,
            drawing_mode="freedraw",
            return_image_data=True,
            key="draw_canvas",
        )
        st.caption(t("draw.toolbar"))

    # The input: a readable uploaded picture while there is one, else the canvas.
    image, source = result.image_data, "drawing"
    if upload is not None:
        with controls:
            try:
                image, source = decode_image(upload.getvalue()), "upload"
                st.image(image, caption=t("draw.upload_caption", name=upload.name), width=CANVAS)
            except ImageError as e:
                st.error(t("draw.upload_error", name=upload.name, error=e))

    steps = None if image is None else preprocess_steps(image, fit=fit)
    if steps is None or steps.image28 is None:
        with answer_col:
            if source == "upload":
                st.info(t("draw.upload_empty"))
            else:
                st.info(t("draw.prompt"))
        return

    with st.expander(t("draw.probe"), expanded=True):
        for key, value in PROBE_DEFAULTS.items():  # defaults set here, not as value=: the Reset button sets them too
            st.session_state.setdefault(key, value)
        a, b, c = st.columns(3)
        dx = a.slider(t("draw.shift_right"), -8, 8, key="probe_dx")
        dy = a.slider(t("draw.shift_down"), -8, 8, key="probe_dy")
        turn = b.slider(t("draw.turn"), -90, 90, step=5, key="probe_turn")
        thickness = b.slider(t("draw.thickness"), -MAX_THICKNESS, MAX_THICKNESS, key="probe_thickness")
        with c:
            erase = choice(
                st.select_slider,
                t("draw.erase"),
                list(ERASE_REGIONS),
                key="probe_erase",
                format_func=lambda region: t(f"draw.erase_{region.replace(' ', '_')}"),
            )
        c.button(t("draw.reset"), on_click=reset_probe, help=t("draw.reset_help"))
        # A fully connected net has no convolution to find a stroke wherever it is.
        st.caption(t("draw.probe_caption" if loaded.model.spec.convs else "draw.probe_caption_fc"))

    model_input = probe(steps.image28, shift=(dx, dy), rotate_deg=turn, thickness=thickness, erase=ERASE_REGIONS[erase])
    probs = predict_proba(loaded.model, model_input)  # (10,)
    remember_drawing(model_input)  # the Train page can watch this digit while a model learns
    digit, confidence = int(probs.argmax()), float(probs.max())

    with answer_col:
        if confidence >= UNSURE:
            st.metric(
                t("draw.prediction"),
                f"{digit}",
                t("draw.sure", percent=f"{confidence:.0%}"),
                delta_color="off",
                delta_arrow="off",
            )
        else:
            second = runner_up(probs)
            st.metric(
                t("draw.prediction"),
                f"{digit}?",
                t("draw.only_sure", percent=f"{confidence:.0%}"),
                delta_color="off",
                delta_arrow="off",
            )
            st.warning(
                t(
                    "draw.unsure",
                    digit=digit,
                    percent=f"{confidence:.0%}",
                    runner_up=second,
                    runner_up_percent=f"{probs[second]:.0%}",
                )
            )
        with st.container(key="probs"):
            st.html(probability_bars(probs))
        st.caption(t(f"draw.reading_{source}", name=loaded.name))

    with seen_box:
        picture(enlarge(model_input), "seen", caption=t("draw.seen"))
        if st.button(t("draw.send"), help=t("draw.send_help"), width="stretch"):
            send_to_inspect(model_input)
            st.switch_page("app_pages/inspect/page.py")

    show_steps(steps, fit)


workbench()
