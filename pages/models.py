"""Models: the models saved on this server. Choose the one every browser uses, download one,
upload one, delete a run. The shipped default is always there and cannot be deleted.

Thin on purpose: cnn_demo.store checks, writes and deletes; this page asks and shows.
"""

from datetime import datetime
from pathlib import Path

import streamlit as st

from cnn_demo.checkpoint import CheckpointError
from cnn_demo.store import UPLOAD_SUFFIXES, StoreError
from pages.common import MODEL_PICK, accuracy_text, model_store

NOTICE = "models_notice"  # session_state: (kind, text) to show once after a rerun
state = st.session_state
store = model_store()


def when(iso: str | None) -> str:
    """'2026-11-29T03:06:30+00:00' -> '2026-11-29 03:06' in the server's time zone."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return ""


def row(path: Path, server_active: Path | None) -> dict:
    """One line of the table: what the checkpoint's metadata says about how it was made."""
    try:
        meta = store.get(path).meta
    except CheckpointError as e:
        return {"Model": path.stem, "In use": "", "Recipe": "cannot be read", "Note": str(e)}
    seconds, epochs = meta.get("seconds"), meta.get("epochs_done")
    return {
        "Model": path.stem,
        "In use": "✓" if server_active == path else "",
        "Recipe": meta.get("recipe", "?"),
        "Epochs": "" if epochs is None else str(epochs),
        "Test accuracy": accuracy_text(meta.get("test_accuracy")),
        "Trained": when(meta.get("date")),
        "Device": meta.get("device", ""),
        "Training time": "" if seconds is None else (f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"),
        "Note": "shipped with the app" if store.is_default(path) else (f"uploaded: {meta['source']}" if meta.get("source") else ""),
    }


def upload() -> None:
    """Runs when a file is dropped in: check it, save it, then empty the uploader."""
    key = f"models_upload_{state.get('models_upload_n', 0)}"
    file = state.get(key)
    if file is None:
        return
    try:
        path = store.add_upload(file.getvalue(), file.name)
        state[NOTICE] = ("success", f"**{file.name}** was checked and saved as **{path.stem}**.")
    except (CheckpointError, StoreError) as e:
        state[NOTICE] = ("error", f"Refused: {e}. Nothing in the file was run, and nothing was saved.")
    state.models_upload_n = state.get("models_upload_n", 0) + 1  # a new, empty uploader


@st.dialog("Delete a saved model")
def confirm_delete(path: Path) -> None:
    st.write(f"Delete **{path.stem}** from this server? Every browser loses it, and it cannot be undone.")
    c1, c2 = st.columns(2)
    if c1.button("Delete", type="primary", width="stretch"):
        try:
            store.delete(path)
            state[NOTICE] = ("success", f"Deleted **{path.stem}**.")
        except StoreError as e:
            state[NOTICE] = ("error", f"Not deleted: {e}.")
        st.rerun()
    if c2.button("Cancel", width="stretch"):
        st.rerun()


st.title("Saved models")
st.caption(
    "The models this server knows: the one shipped with the app, the runs trained on the Train page, and uploads. "
    "The one **in use** is what every browser starts with; the sidebar lets one browser try another."
)

if NOTICE in state:
    kind, text = state.pop(NOTICE)
    (st.success if kind == "success" else st.error)(text)

paths = store.saved()
server_active = store.active().path
st.table([row(p, server_active) for p in paths], hide_index=True, border="horizontal")

with st.container(border=True):
    st.subheader("Use, download or delete")
    index = paths.index(server_active) if server_active in paths else 0
    picked = st.selectbox("Model", paths, index=index, format_func=lambda p: p.stem, key="models_pick")
    c1, c2, c3, _ = st.columns([1.6, 1, 1, 2])
    if c1.button("Use for everyone", type="primary", disabled=picked == server_active, width="stretch"):
        try:
            store.activate(picked)
            state.pop(MODEL_PICK, None)  # this browser follows the server's choice again
            state[NOTICE] = ("success", f"**{picked.stem}** is now in use on every browser that has not picked its own.")
        except (CheckpointError, OSError) as e:
            state[NOTICE] = ("error", f"Cannot use it: {e}")
        st.rerun()
    c2.download_button(
        "Download", data=lambda path=picked: store.file_bytes(path), file_name=picked.name,
        mime="application/octet-stream", on_click="ignore", width="stretch",
    )
    is_default = store.is_default(picked)
    if c3.button("Delete…", disabled=is_default, width="stretch"):
        confirm_delete(picked)
    if is_default:
        st.caption("The default model ships with the app and cannot be deleted: there is always one good model.")

with st.container(border=True):
    st.subheader("Upload a model")
    st.caption(
        "A file downloaded from this app (.safetensors), or a state_dict of this network saved with "
        "`torch.save(model.state_dict(), ...)` in the tutorial's notebook (.pt, .pth). The file is checked "
        "before anything is kept: files that could run code (Python pickles), other networks and damaged files are refused."
    )
    st.file_uploader(
        "Model file", type=[s.lstrip(".") for s in UPLOAD_SUFFIXES],
        key=f"models_upload_{state.get('models_upload_n', 0)}", on_change=upload,
    )
