"""The Models page in a real browser: the list, refused and good uploads, use, delete.

Uploads go through the page's own file input (set_input_files), as a file a user picks.
Screenshots go to $E2E_SHOTS (default /tmp/shots).
"""

import pickle
from pathlib import Path

import torch

from cnn_demo.network.model import build
from cnn_demo.storage import checkpoint


class WritesAFile:
    """Unpickling this on the server would create a file: proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def open_models(app) -> None:
    app.goto("models")


def listed(app) -> list[str]:
    """The model names in the table's first column."""
    app.page.locator("[data-testid='stTable']").wait_for()
    return [c.strip() for c in app.page.locator("[data-testid='stTable'] tbody tr td:first-child").all_inner_texts()]


def upload(app, path, outcome: str) -> None:
    """Pick a file in the uploader, as a user does, and wait for the page to say `outcome`."""
    app.page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    app.page.get_by_text(outcome).first.wait_for(timeout=30_000)
    app.wait_idle()


def pick(app, name: str) -> None:
    app.page.get_by_label("Model", exact=True).click()  # the selectbox of the actions
    app.page.keyboard.type(name)  # filters the list: a long one (other tests' runs) shows only some options
    app.page.get_by_role("option", name=name, exact=True).click()
    app.wait_idle()


def shot(app, name: str, height: int = 1500) -> None:
    app.page.set_viewport_size({"width": 1400, "height": height})
    app.page.wait_for_timeout(300)
    app.screenshot(name)
    app.page.set_viewport_size({"width": 1400, "height": 1000})


def test_refused_uploads_change_nothing(app, tmp_path):
    open_models(app)
    before = listed(app)
    assert before[0] == "default"
    target = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(WritesAFile(str(target))))
    notes = tmp_path / "notes.safetensors"
    notes.write_text("These are my lesson notes, not a model.\n")
    app.expected_errors = ["Refused: evil.pt", "Refused: notes.safetensors"]

    upload(app, evil, "Refused: evil.pt")
    error = app.errors()
    assert len(error) == 1 and "pickle" in error[0] and "nothing was saved" in error[0], error
    shot(app, "models_refused_pickle", 1200)
    upload(app, notes, "Refused: notes.safetensors")
    error = app.errors()
    assert len(error) == 1 and "not a checkpoint file" in error[0], error
    # a file of another type never reaches the server: the uploader itself says no
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    app.page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(text))
    app.page.get_by_text("text/plain files are not allowed").wait_for()
    app.wait_idle()
    assert listed(app) == before
    assert not target.exists()  # the pickle's payload never ran on the server
    assert not any(p.name.startswith(("evil", "notes")) for p in app.server.runs_dir.glob("*"))


def test_upload_use_and_delete(app, tmp_path):
    torch.manual_seed(5)
    made = checkpoint.save(
        build(),
        tmp_path / "class model.safetensors",
        {"recipe": "seed", "epochs_done": 3, "device": "cpu", "test_accuracy": 0.97},
    )
    open_models(app)
    before = listed(app)
    upload(app, made, "was checked and saved as class-model")
    assert listed(app) == before[:1] + ["class-model"] + before[1:]  # the newest run first, after the default
    assert (app.server.runs_dir / "class-model.safetensors").read_bytes() == made.read_bytes()
    row = app.page.locator("[data-testid='stTable'] tbody tr", has_text="class-model")
    assert "97.00%" in row.inner_text() and "seed" in row.inner_text()

    pick(app, "class-model")
    app.wait_idle()  # the pick reruns the page; click the new button, not the old one
    app.button("Use for everyone").click()
    app.page.get_by_text("class-model is now in use").wait_for()
    app.wait_idle()
    sidebar = app.page.locator("[data-testid='stSidebar']")
    assert "class-model · recipe seed" in sidebar.inner_text()
    assert "✓" in app.page.locator("[data-testid='stTable'] tbody tr", has_text="class-model").inner_text()
    shot(app, "models_uploaded_in_use")

    pick(app, "class-model")
    app.button("Delete…").click()
    dialog = app.page.get_by_role("dialog")
    dialog.get_by_text("Delete class-model from this server?").wait_for()
    shot(app, "models_delete_dialog", 1000)
    dialog.get_by_role("button", name="Delete", exact=True).click()
    app.page.get_by_text("Deleted class-model.").wait_for()
    app.wait_idle()
    assert listed(app) == before
    assert not (app.server.runs_dir / "class-model.safetensors").exists()
    # it was in use: the shipped default is in use again
    assert "✓" in app.page.locator("[data-testid='stTable'] tbody tr", has_text="default").inner_text()
    assert "default · recipe best" in sidebar.inner_text()


def test_the_default_cannot_be_deleted_but_downloads(app):
    open_models(app)
    pick(app, "default")
    assert app.button("Delete…").is_disabled()
    assert app.page.get_by_text("cannot be deleted").is_visible()
    assert checkpoint.DEFAULT.exists()
    with app.page.expect_download() as download:  # and it can be downloaded, byte for byte
        app.page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "default.safetensors"
    assert Path(download.value.path()).read_bytes() == checkpoint.DEFAULT.read_bytes()
