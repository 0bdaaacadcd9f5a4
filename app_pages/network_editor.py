"""The Train page's network editor: pick a preset, change each conv stage's numbers, and see what
they make (shapes with their formulas, parameters, multiply-adds) before anything trains.

Every number and limit comes from cnn_demo.network.model (SPEC_LIMITS, NetSpec.plan, check): this file only
turns widgets into a NetSpec and a NetSpec into text. Not a page: app_pages/train.py uses it.
"""

import math
from dataclasses import asdict

import pandas as pd
import streamlit as st

from app_pages.common import dims, preset_shows, preset_title
from app_pages.i18n import LANGUAGES, choice, language, strings, t
from cnn_demo.network.model import (
    ACTIVATIONS,
    MAX_CONV_STAGES,
    MAX_MULTIPLY_ADDS_RATIO,
    POOLS,
    PRESETS,
    SEED,
    SPEC_LIMITS,
    ConvStage,
    NetSpec,
    SpecError,
    preset_name,
)

NUMBERS = ("out_channels", "kernel_size", "stride", "padding", "pool_size", "pool_stride")
COLUMNS = ("out_channels", "kernel_size", "stride", "padding", "activation", "pool", "pool_size", "pool_stride")
NEW_STAGE = ConvStage(16)  # what a row added to the table starts as
POOL_CHOICES = (None, *POOLS)  # shown as editor.pool_none, editor.pool_max, editor.pool_avg


def pool_label(pool: str | None, lang: str | None = None) -> str:
    return strings(lang or language())[f"editor.pool_{pool or 'none'}"]


def pool_of(label) -> str | None:
    """The pool a table cell names, in any language (a cell edited before the language changed)."""
    for lang in LANGUAGES:
        for pool in POOL_CHOICES:
            if label == pool_label(pool, lang):
                return pool
    return label if label in POOLS else None


def rows_of(spec: NetSpec) -> list[dict]:
    """The table's rows for a spec: one per conv stage, the pool as its label."""
    return [{**asdict(c), "pool": pool_label(c.pool)} for c in spec.convs]


def _cell(value, default):
    """A table cell as the spec wants it: empty -> the new stage's value, 3.0 -> 3."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def spec_of(rows: list[dict], hidden: int) -> NetSpec:
    """The table's rows and the hidden width as a NetSpec, checked: a SpecError naming the stage and
    the arithmetic when it cannot work or is out of the limits."""
    convs = []
    for row in rows:
        stage = {name: _cell(row.get(name), getattr(NEW_STAGE, name)) for name in COLUMNS}
        stage["pool"] = pool_of(row.get("pool"))
        convs.append(stage)
    return NetSpec.from_dict({"convs": convs, "hidden": _cell(hidden, SEED.hidden)}).check()


def title(spec: NetSpec) -> str:
    """The preset's title in this browser's language, or "Your own network"."""
    name = preset_name(spec)
    return preset_title(name) if name else t("editor.custom")


def _use_preset(prefix: str) -> None:
    """A new preset: the table starts again from its stages (a new key: a data editor keeps its edits)."""
    spec = PRESETS[st.session_state[f"{prefix}_preset"]].spec
    st.session_state[f"{prefix}_version"] = st.session_state.get(f"{prefix}_version", 0) + 1
    st.session_state[f"{prefix}_rows"] = rows_of(spec)  # the table's starting rows
    st.session_state[f"{prefix}_hidden"] = spec.hidden


def restore_values(*keys: str) -> None:
    """Widgets not drawn in a run lose their values (the editor is not drawn while a run trains):
    each value is also saved under "_<key>" (save_values), and put back here, before the widget
    is drawn, when the widget has lost it."""
    for key in keys:
        if key not in st.session_state and f"_{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"_{key}"]


def save_values(*keys: str) -> None:
    """A copy of each widget's value under "_<key>", after the widget is drawn: see restore_values."""
    for key in keys:
        if key in st.session_state:
            st.session_state[f"_{key}"] = st.session_state[key]


def network_picker(prefix: str, label: str, default: str) -> str:
    """The preset choice and its one line; the preset's name."""
    key = f"{prefix}_preset"
    restore_values(f"{prefix}_hidden")
    if key not in st.session_state:
        st.session_state[key] = default
        _use_preset(prefix)
    choice(
        st.selectbox,
        label,
        list(PRESETS),
        key=key,
        format_func=preset_title,
        on_change=_use_preset,
        args=(prefix,),
    )
    st.caption(preset_shows(st.session_state[key]))
    return st.session_state[key]


def _column_config() -> dict:
    number = st.column_config.NumberColumn
    config = {
        name: number(
            t(f"editor.{name}"),
            help=t(f"editor.{name}_help", low=SPEC_LIMITS[name][0], high=SPEC_LIMITS[name][1]),
            min_value=SPEC_LIMITS[name][0],
            max_value=SPEC_LIMITS[name][1],
            step=1,
            default=getattr(NEW_STAGE, name),
            required=True,
        )
        for name in NUMBERS
    }
    config["activation"] = st.column_config.SelectboxColumn(
        t("editor.activation"), options=list(ACTIVATIONS), default=NEW_STAGE.activation, required=True
    )
    config["pool"] = st.column_config.SelectboxColumn(
        t("editor.pool"),
        help=t("editor.pool_help"),
        options=[pool_label(p) for p in POOL_CHOICES],
        default=pool_label(None),
        required=True,
    )
    return config


def numbers_editor(prefix: str) -> NetSpec:
    """Each conv stage's numbers (a row each, up to MAX_CONV_STAGES) and the hidden width; the
    spec they make (a SpecError if it cannot work)."""
    editor = f"{prefix}_stages_{st.session_state[f'{prefix}_version']}"
    if editor not in st.session_state and f"_{prefix}_edited" in st.session_state:
        # The table was not drawn (a run trained): it starts again from the rows it had.
        st.session_state[f"{prefix}_rows"] = st.session_state[f"_{prefix}_edited"]
        st.session_state[f"{prefix}_version"] += 1
        editor = f"{prefix}_stages_{st.session_state[f'{prefix}_version']}"
    rows = [{**row, "pool": pool_label(pool_of(row.get("pool")))} for row in st.session_state[f"{prefix}_rows"]]
    st.caption(t("editor.table_help", stages=MAX_CONV_STAGES))
    edited = st.data_editor(
        pd.DataFrame(rows, columns=list(COLUMNS)),
        key=editor,
        num_rows="dynamic",
        hide_index=True,
        column_config=_column_config(),
        width="stretch",
    )
    st.session_state[f"_{prefix}_edited"] = edited.to_dict("records")
    low, high = SPEC_LIMITS["hidden"]
    hidden = st.slider(t("editor.hidden"), low, high, key=f"{prefix}_hidden", help=t("editor.hidden_help"))
    save_values(f"{prefix}_hidden")
    return spec_of(edited.to_dict("records"), hidden)


def plan_table(spec: NetSpec) -> None:
    """Each stage's output shape with its formula, its parameters and its multiply-adds per image."""
    head = [
        t("editor.col_stage"),
        t("editor.col_in"),
        t("editor.col_conv"),
        t("editor.col_pool"),
        t("editor.col_params"),
    ]
    head.append(t("editor.col_macs"))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---|---|--:|--:|"]
    for row in spec.plan():
        conv = f"{dims(row.conv_shape)}: {row.conv_formula}"
        pool = f"{dims(row.out_shape)}: {row.pool_formula}" if row.pool_formula else "–"
        cells = [f"conv{row.index}", dims(row.in_shape), conv, pool, f"{row.params:,}", f"{row.multiply_adds:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    dense = t("editor.dense", flat=f"{spec.flat_features():,}", hidden=spec.hidden)
    lines.append(f"| {t('editor.fc')} | {dense} | | | {spec.dense_params():,} | {spec.dense_multiply_adds():,} |")
    lines.append(f"| **{t('editor.total')}** | | | | **{spec.params():,}** | **{spec.multiply_adds():,}** |")
    st.markdown("\n".join(lines))


def summary(spec: NetSpec) -> str:
    """One line: the layers, the parameters, the multiply-adds against the tutorial's."""
    ratio = spec.multiply_adds() / SEED.multiply_adds()
    return t(
        "editor.summary",
        layers=spec.describe(),
        params=f"{spec.params():,}",
        macs=f"{spec.multiply_adds():,}",
        ratio=f"{ratio:.2g}",
        most=MAX_MULTIPLY_ADDS_RATIO,
    )


def network_numbers(prefix: str) -> NetSpec | SpecError:
    """Opened: the network's numbers and what they make, as wide as the page. Returns the spec,
    or the SpecError (shown by `outcome`, raised on Start)."""
    name = preset_title(st.session_state[f"{prefix}_preset"])
    with st.expander(t("editor.change", name=name)):
        try:
            spec = numbers_editor(prefix)
        except SpecError as e:
            st.empty()  # where the plan's table is (STEADY)
            return e
        plan_table(spec)
    return spec


def spec_message(error: SpecError) -> str:
    """Why a network cannot work, in this browser's language (the field named as its column is)."""
    values = dict(error.values)
    if "field" in values:
        values["field"] = t(f"editor.{values['field']}")
    return t(f"spec.{error.code}", **values)


def outcome(prefix: str, spec: NetSpec | SpecError) -> None:
    """Under the network's choice: why it cannot work, or what it is."""
    # Two places either way (STEADY in app_pages/train.py's networks_editor)
    if isinstance(spec, SpecError):
        st.error(t("editor.cannot_work", error=spec_message(spec)))
        st.empty()
        return
    if spec != PRESETS[st.session_state[f"{prefix}_preset"]].spec:
        st.caption(t("editor.changed", name=title(spec)))
    else:
        st.empty()
    st.caption(summary(spec))
