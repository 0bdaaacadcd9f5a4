"""Inspect's "Where it looks" tab: saliency and Grad-CAM for the predicted digit and another, over
the input."""

import numpy as np
import streamlit as st

from app_pages.common import dims
from app_pages.i18n import t
from app_pages.inspect.figures import overlay_figure, show
from cnn_demo.inside.attribution import cam_stages, grad_cam, saliency
from cnn_demo.inside.predict import runner_up
from cnn_demo.network.arithmetic import stage_geometry
from cnn_demo.network.model import Net


def where_tab(model: Net, image28: np.ndarray, maps: dict[str, np.ndarray], probs: np.ndarray, predicted: int) -> None:
    """image28: the digit shown (28, 28); maps: its outputs by stage name; probs: (10,)."""
    other = st.segmented_control(
        t("inspect.compare"), list(range(10)), key="inspect_other_class", help=t("inspect.compare_help")
    )
    other = runner_up(probs) if other is None else other  # (None when nothing is picked)
    options = cam_stages(model)  # each conv stage's activation; none without convs
    panels = [(predicted, "saliency"), (other, "saliency")]
    if options:
        if st.session_state.get("inspect_cam_stage") not in options:  # first visit, or kept from another network
            st.session_state.inspect_cam_stage = options[-1]  # grad_cam's own default: the last conv stage
        cam_stage = st.radio(
            t("inspect.cam_on"),
            options,
            horizontal=True,
            key="inspect_cam_stage",
            format_func=lambda stage: f"{stage} ({dims(maps[stage].shape)})",
        )
        panels += [(predicted, "cam"), (other, "cam")]
    for n, (col, (target, kind)) in enumerate(zip(st.columns(4), panels)):
        with col:
            if kind == "saliency":
                heat, label = saliency(model, image28, target), t("inspect.saliency")
            else:
                heat, label = grad_cam(model, image28, target, stage=cam_stage), "Grad-CAM"
            show(overlay_figure(image28, heat, f"{label} · {target} ({100 * probs[target]:.1f}%)"), f"where_{n}")
    if not options:
        st.caption(t("inspect.where_fc"))
        return
    which = t(
        "inspect.where_last" if cam_stage == options[-1] else "inspect.where_earlier", stage=cam_stage, last=options[-1]
    )
    st.caption(
        t(
            "inspect.where_caption",
            stage=cam_stage,
            shape=dims(maps[cam_stage].shape),
            rf=stage_geometry(model)[cam_stage].receptive_field,
            which=which,
        )
    )
