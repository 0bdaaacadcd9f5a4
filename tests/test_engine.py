"""The engine stands alone: no cnn_demo module imports streamlit (README: "never imports streamlit")."""

import json
import subprocess
import sys
from pathlib import Path

import cnn_demo

PACKAGE = Path(cnn_demo.__file__).resolve().parent

# In a fresh interpreter: import every module pkgutil finds in the package (a new one is
# covered as soon as it is there), then report them and any streamlit module they pulled in.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
import cnn_demo
names = sorted(m.name for m in pkgutil.walk_packages(cnn_demo.__path__, "cnn_demo."))
for name in names:
    importlib.import_module(name)
streamlit = sorted(m for m in sys.modules if m == "streamlit" or m.startswith("streamlit."))
print(json.dumps({"modules": names, "streamlit": streamlit}))
"""


def module_names() -> set[str]:
    """Every module of the package from its files, to check that pkgutil missed none."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names.add(".".join(("cnn_demo", *parts)))
    return names


def test_no_engine_module_imports_streamlit():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["modules"]) == module_names() and "cnn_demo.training.live" in report["modules"]
    assert report["streamlit"] == [], f"importing the engine pulled in streamlit: {report['streamlit'][:5]}"
