"""Models: the models saved on this server. Choose the one every browser uses, download one,
upload one, delete a run. The shipped default is always there and cannot be deleted.

Thin on purpose: cnn_demo.storage.store checks, writes and deletes; this page asks and shows.
"""

from datetime import datetime
from pathlib import Path

import streamlit as st

from app_pages.class_digits import scored
from app_pages.classroom import class_store, is_teacher, teacher_action, teacher_only_note
from app_pages.common import MODEL_PICK, accuracy_text, model_store, net_title
from app_pages.i18n import t
from cnn_demo.storage.checkpoint import CheckpointError
from cnn_demo.storage.store import UPLOAD_SUFFIXES, StoreError

NOTICE = "models_notice"  # session_state: (kind, text) to show once after a rerun
state = st.session_state
store = model_store()


def when(iso: str | None) -> str:
    """'2026-11-29T03:06:30+00:00' -> '2026-11-29 03:06' in the server's time zone."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return ""


def on_our_digits(loaded, digits_version: tuple) -> str:
    """The model's accuracy on the class's own digits (the Class page's rounds)."""
    if not digits_version[0]:
        return ""
    _, result = scored(loaded.version, digits_version, None, loaded.model)
    return accuracy_text(result.accuracy)


def row(path: Path, server_active: Path | None, digits_version: tuple) -> dict:
    """One line of the table: what the checkpoint's metadata says about how it was made."""
    try:
        loaded = store.get(path)
    except CheckpointError as e:
        return {
            t("models.col_model"): path.stem,
            t("models.col_in_use"): "",
            t("models.col_recipe"): t("models.unreadable"),
            t("models.col_note"): str(e),
        }
    meta, spec = loaded.meta, loaded.model.spec
    seconds, epochs = meta.get("seconds"), meta.get("epochs_done")
    columns = {
        t("models.col_model"): path.stem,
        t("models.col_in_use"): "✓" if server_active == path else "",
        t("models.col_network"): net_title(spec),
        t("models.col_layers"): spec.describe(),
        t("models.col_recipe"): meta.get("recipe", "?"),
        t("models.col_epochs"): "" if epochs is None else str(epochs),
        t("models.col_accuracy"): accuracy_text(meta.get("test_accuracy")),
        t("models.col_ours", count=digits_version[0]): on_our_digits(loaded, digits_version),
        t("models.col_trained"): when(meta.get("date")),
        t("models.col_device"): meta.get("device", ""),
        t("models.col_time"): ""
        if seconds is None
        else (
            t("models.minutes", minutes=f"{seconds / 60:.1f}")
            if seconds >= 60
            else t("models.seconds", seconds=f"{seconds:.0f}")
        ),
        t("models.col_note"): t("models.shipped")
        if store.is_default(path)
        else (t("models.uploaded", source=meta["source"]) if meta.get("source") else ""),
    }
    if not digits_version[0]:  # no class digits yet: no column of blanks
        del columns[t("models.col_ours", count=0)]
    return columns


def upload() -> None:
    """Runs when a file is dropped in: check it, save it, then empty the uploader."""
    key = f"models_upload_{state.get('models_upload_n', 0)}"
    file = state.get(key)
    if file is None:
        return
    if not is_teacher():  # checked here, in the server: a student's browser can still send a file
        state[NOTICE] = ("error", t("class.refused"))
        state.models_upload_n = state.get("models_upload_n", 0) + 1
        return
    try:
        path = store.add_upload(file.getvalue(), file.name)
        state[NOTICE] = ("success", t("models.upload_saved", file=file.name, name=path.stem))
    except (CheckpointError, StoreError) as e:
        state[NOTICE] = ("error", t("models.upload_refused", error=e))
    state.models_upload_n = state.get("models_upload_n", 0) + 1  # a new, empty uploader


@st.dialog(t("models.delete_title"))
def confirm_delete(path: Path) -> None:
    st.write(t("models.delete_question", name=path.stem))
    c1, c2 = st.columns(2)
    if teacher_action(c1.button(t("models.delete"), type="primary", width="stretch")):
        try:
            store.delete(path)
            state[NOTICE] = ("success", t("models.deleted", name=path.stem))
        except StoreError as e:
            state[NOTICE] = ("error", t("models.not_deleted", error=e))
        st.rerun()
    if c2.button(t("models.cancel"), width="stretch"):
        st.rerun()


st.title(t("models.title"))
st.caption(t("models.caption"))

if NOTICE in state:
    kind, text = state.pop(NOTICE)
    (st.success if kind == "success" else st.error)(text)

paths = store.saved()
server_active = store.active().path
ours = class_store().digits_version()  # every model scored on the class's digits: which reads our handwriting best
st.table([row(p, server_active, ours) for p in paths], hide_index=True, border="horizontal")

with st.container(border=True):
    st.subheader(t("models.use_title"))
    index = paths.index(server_active) if server_active in paths else 0
    picked = st.selectbox(t("models.model"), paths, index=index, format_func=lambda p: p.stem, key="models_pick")
    lead = is_teacher()  # the class's model, uploads and deletes are the teacher's (checked at each press)
    c1, c2, c3, _ = st.columns([1.6, 1, 1, 2])
    if teacher_action(
        c1.button(t("models.use"), type="primary", disabled=picked == server_active or not lead, width="stretch")
    ):
        try:
            store.activate(picked)
            state.pop(MODEL_PICK, None)  # this browser follows the server's choice again
            state[NOTICE] = ("success", t("models.in_use", name=picked.stem))
        except (CheckpointError, OSError) as e:
            state[NOTICE] = ("error", t("models.cannot_use", error=e))
        st.rerun()
    c2.download_button(
        t("models.download"),
        data=lambda path=picked: store.file_bytes(path),
        file_name=picked.name,
        mime="application/octet-stream",
        on_click="ignore",
        width="stretch",
    )
    is_default = store.is_default(picked)
    if teacher_action(c3.button(t("models.delete_button"), disabled=is_default or not lead, width="stretch")):
        confirm_delete(picked)
    if is_default:
        st.caption(t("models.default_kept"))
    teacher_only_note("models")

with st.container(border=True):
    st.subheader(t("models.upload_title"))
    st.caption(t("models.upload_caption"))
    st.file_uploader(
        t("models.upload"),
        type=[s.lstrip(".") for s in UPLOAD_SUFFIXES],
        key=f"models_upload_{state.get('models_upload_n', 0)}",
        on_change=upload,
        disabled=not lead,
    )
