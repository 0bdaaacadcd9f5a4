"""Draw: a digit on the canvas (or a photo of one), what the model sees, and how sure it is.

Thin on purpose: the preprocessing, the probe and the prediction live in cnn_demo; this
page only lays out widgets and pictures. The canvas and everything that depends on it sit
in one fragment, so a stroke reruns the fragment, not the page.
"""

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from cnn_demo.predict import predict_proba
from cnn_demo.preprocess import CENTRE, ImageError, Steps, decode_image, preprocess_steps
from cnn_demo.probe import ERASE_REGIONS, MAX_THICKNESS, probe
from pages.common import active, heatmap, remember_drawing, send_to_inspect

UNSURE = 0.6  # below this probability the page says "unsure" instead of presenting a guess
CANVAS = 280  # pixels a side, ten times MNIST's 28
PROBE_DEFAULTS = {"probe_dx": 0, "probe_dy": 0, "probe_turn": 0, "probe_thickness": 0, "probe_erase": "nothing"}

st.title("Draw")
st.write(
    "Draw a digit with the mouse (or a finger) and the network reads it after every stroke. "
    "Below, see the exact 28 × 28 picture it was given, how your drawing became that picture, "
    "and how small changes move its answer."
)


def reset_probe() -> None:
    for key, value in PROBE_DEFAULTS.items():
        st.session_state[key] = value


def probability_chart(probs: np.ndarray) -> go.Figure:
    best = int(probs.argmax())
    colours = ["#1f6feb" if d == best else "#9db4d3" for d in range(10)]
    fig = go.Figure(go.Bar(x=list(range(10)), y=probs, marker_color=colours,
                           text=[f"{p:.0%}" for p in probs], textposition="outside", cliponaxis=False))
    fig.update_xaxes(tickmode="array", tickvals=list(range(10)), title="digit")
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", title="probability")
    fig.update_layout(height=280, margin=dict(l=4, r=4, t=8, b=4))
    return fig


def pixels(image: np.ndarray, title: str = "", height: int = 260) -> go.Figure:
    """A small image with every pixel visible: grey squares with thin gaps."""
    fig = heatmap(image, title=title, zmin=0, zmax=1, height=height)
    fig.update_traces(xgap=1, ygap=1, hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>")
    fig.update_layout(plot_bgcolor="#3a3f47")
    return fig


def ink_with_box(steps: Steps, title: str) -> go.Figure:
    """The input in the model's polarity, with the ink's bounding box drawn on it."""
    fig = px.imshow(steps.ink, binary_string=True)  # sent as one PNG: light even for a photo
    x0, y0, x1, y1 = steps.box
    fig.add_shape(type="rect", x0=x0 - 0.5, y0=y0 - 0.5, x1=x1 - 0.5, y1=y1 - 0.5, line=dict(color="#ff7b00", width=2))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=260, margin=dict(l=4, r=4, t=32, b=4))
    return fig


def with_centre(fig: go.Figure) -> go.Figure:
    """Mark pixel (14, 14), where MNIST puts every digit's centre of mass."""
    fig.add_scatter(x=[CENTRE], y=[CENTRE], mode="markers", marker=dict(symbol="cross-thin", size=16, line=dict(color="#ff7b00", width=2)),
                    hoverinfo="skip", showlegend=False)
    return fig


def show_steps(steps: Steps, fit: bool) -> None:
    st.subheader("Step by step: from your drawing to the model's 28 × 28")
    if not fit:
        left, right = st.columns(2)
        left.plotly_chart(ink_with_box(steps, "1. Your drawing"), key="step_raw")
        right.plotly_chart(pixels(steps.image28, "2. The whole canvas squeezed to 28 × 28"), key="step_plain")
        st.warning(
            "MNIST-style fitting is off: the whole canvas is shrunk as it is. A small digit stays small and "
            "off to the side, a big one fills the frame. The network never saw digits like that while it learned, "
            "so its answer can go wrong even though the drawing is clear. Switch the fitting back on and compare."
        )
        return
    cols = st.columns(4)
    x0, y0, x1, y1 = steps.box
    cols[0].plotly_chart(ink_with_box(steps, f"1. The ink's box: {x1 - x0} × {y1 - y0} px"), key="step_box")
    cols[1].plotly_chart(pixels(steps.fit20, "2. Scaled to fit 20 × 20"), key="step_fit")
    cols[2].plotly_chart(with_centre(pixels(steps.image28, "3. Centred in 28 × 28")), key="step_28")
    cols[3].markdown(
        """
**Why these steps?** The network learned from MNIST, where every digit was scaled so its longer
side is 20 pixels, then placed in a 28 × 28 frame with its centre of mass (the average position
of its ink, the orange cross) in the middle. It has never seen a tiny digit in a corner or one
that fills the frame. So before it sees your drawing, the app does what MNIST did:

1. find the box around the ink,
2. shrink it to fit 20 × 20 without squashing it, smoothing the edges into greys,
3. move it so that its centre of mass lands on pixel (14, 14).

Big or small, left or right, your digit then looks like the ones the network knows.
"""
    )


@st.fragment
def workbench() -> None:
    from streamlit_drawable_canvas import st_canvas  # a Streamlit component: import it only inside the app

    loaded = active()
    canvas_col, answer_col, seen_col = st.columns([1.1, 1.3, 1.0], gap="medium")

    with canvas_col:
        brush = st.slider("Stroke width", 6, 40, 20, key="brush")
        result = st_canvas(
            stroke_width=brush, stroke_color="#FFFFFF", background_color="#000000",
            width=CANVAS, height=CANVAS, drawing_mode="freedraw", return_image_data=True, key="draw_canvas",
        )
        st.caption("Undo, redo and clear are in the canvas's toolbar (top right, when the pointer is over it).")
        fit = st.toggle("MNIST-style fitting", value=True, key="fit",
                        help="Off: the whole canvas is shrunk to 28 × 28 as it is, with no box, no scaling, no centring.")
        upload = st.file_uploader("…or upload a picture of one digit (PNG or JPEG)", type=["png", "jpg", "jpeg"], key="upload")

    # The input: an uploaded picture when there is one, else the canvas.
    image, source = result.image_data, "drawing"
    if upload is not None:
        try:
            image, source = decode_image(upload.getvalue()), "uploaded picture"
        except ImageError as e:
            canvas_col.error(f"{upload.name}: {e}")
            image = None

    steps = None if image is None else preprocess_steps(image, fit=fit)
    if steps is None or steps.image28 is None:
        with answer_col:
            if upload is not None and image is not None:
                st.info("No digit found in the uploaded picture: it looks empty. Try a darker, larger digit.")
            else:
                st.info("✏️ Draw a digit on the black canvas, as large or as small as you like.")
        return

    with st.expander("Probe the model: shift, turn, thicken or erase the digit", expanded=True):
        for key, value in PROBE_DEFAULTS.items():  # set here, not as the widgets' value=: no double default
            st.session_state.setdefault(key, value)
        st.button("Reset", on_click=reset_probe, help="Back to the digit as drawn")
        a, b, c = st.columns(3)
        dx = a.slider("Shift right (pixels)", -8, 8, key="probe_dx")
        dy = a.slider("Shift down (pixels)", -8, 8, key="probe_dy")
        turn = b.slider("Turn anticlockwise (degrees)", -90, 90, key="probe_turn", step=5)
        thickness = b.slider("Thinner ← → thicker", -MAX_THICKNESS, MAX_THICKNESS, key="probe_thickness")
        erase = c.select_slider("Erase", options=list(ERASE_REGIONS), key="probe_erase")
        c.caption("The changes act on the 28 × 28 image after the fitting, and nothing re-centres it: "
                  "a CNN's filters find a stroke anywhere, but the layers after them learned where strokes "
                  "usually are.")

    model_input = probe(steps.image28, shift=(dx, dy), rotate_deg=turn, thickness=thickness, erase=ERASE_REGIONS[erase])
    probs = predict_proba(loaded.model, model_input)
    remember_drawing(model_input)  # the Train page can watch this digit while a model learns
    digit, confidence = int(probs.argmax()), float(probs.max())

    with answer_col:
        if confidence >= UNSURE:
            st.metric("Prediction", f"{digit}", f"{confidence:.0%} sure", delta_color="off", delta_arrow="off")
        else:
            runner_up = int(np.argsort(probs)[-2])
            st.metric("Prediction", f"{digit}?", f"only {confidence:.0%} sure", delta_color="off", delta_arrow="off")
            st.warning(f"The model is unsure: {confidence:.0%} for {digit}, {probs[runner_up]:.0%} for {runner_up}. "
                       "It is guessing; draw the digit more clearly, or see below what confuses it.")
        st.plotly_chart(probability_chart(probs), key="probs")
        st.caption(f"Model: {loaded.name}. Reading your {source}.")

    with seen_col:
        st.plotly_chart(pixels(model_input, "What the model sees (28 × 28)", height=300), key="seen")
        if st.button("Send to Inspect", help="Look inside the network with this digit", width="stretch"):
            send_to_inspect(model_input)
            st.switch_page("pages/inspect.py")

    show_steps(steps, fit)


workbench()
