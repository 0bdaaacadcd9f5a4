"""app.py as `streamlit run app.py` reads it: an st.App that Streamlit finds, imported once as the
module `app` without importing torch, whose lifespan starts the server's training worker before
any page is served."""

import os
import subprocess
import sys
from pathlib import Path

from streamlit.web.server.app_discovery import discover_asgi_app

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_run_finds_the_app():
    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"


def run_python(code: str, **env) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "CNN_DEMO_TRAINING"}, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_server_imports_app_py_without_torch_and_gets_an_st_app():
    out = run_python(
        "import sys, streamlit as st\n"
        "import app\n"
        "assert 'torch' not in sys.modules, 'importing app.py imported torch: the server answers later'\n"
        "print(type(app.app) is st.App)\n"
    )
    assert out.strip() == "True"


def test_the_servers_lifespan_starts_the_training_worker_once():
    """The worker starts when the server does, not with its first page; a session's run of app.py
    then starts no second one."""
    code = (
        "import asyncio\n"
        "from cnn_demo.training import jobs\n"
        "started = []\n"
        "jobs.Worker = lambda target, args, env: started.append((target, args)) or object()\n"
        "import app\n"
        "async def serve():\n"
        "    async with app.server_lifetime(app.app):\n"
        "        print(started)  # the server has started, no page yet\n"
        "        app.start_training_worker()  # what each session's run of app.py does\n"
        "        print(started)\n"
        "asyncio.run(serve())\n"
    )
    once = "[('cnn_demo.training.live:worker_main', (True,))]"
    out = run_python(code, CNN_DEMO_TEACHER_CODE="fixed-7")
    assert [line for line in out.splitlines() if line.startswith("[")] == [once, once]
    assert "Teacher code: FIXED7" in out  # printed in the terminal as the server starts


def test_page_tests_start_no_training_worker():
    code = (
        "from cnn_demo.training import jobs\n"
        "started = []\n"
        "jobs.Worker = lambda *a, **k: started.append(a)\n"
        "import app\n"
        "app.start_training_worker()\n"
        "print(started)\n"
    )
    assert run_python(code, CNN_DEMO_TRAINING="thread").strip() == "[]"
