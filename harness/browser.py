"""Drive the app as a user does: `streamlit run app.py` on a free port, Debian's Chromium.

Used by the end-to-end tests (through the fixtures in conftest.py) and by the browser
benchmarks in benchmarks/. Set CHROMIUM_PATH to use another Chromium.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository: app.py is there
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# True when the app is on screen and its script is not running; elements whose code is still
# loading show a skeleton in their place.
SCRIPT_IDLE = (
    "() => { const a = document.querySelector(\"[data-testid='stApp']\");"
    " return a && a.getAttribute('data-test-script-state') === 'notRunning'"
    " && !document.querySelector(\"[data-testid='stSkeleton']\"); }"
)


# A chart's title: Plotly's own (.gtitle), or the text above an Inspect chart (.chart-title).
CHART_TITLES = ".gtitle, .chart-title"

# True once the script has finished and one of the page's chart titles contains `expect`.
CHART_TITLE_SHOWN = (
    "expect => { const a = document.querySelector(\"[data-testid='stApp']\");"
    f" const titles = [...document.querySelectorAll('{CHART_TITLES}')].map(t => t.textContent);"
    " return a.getAttribute('data-test-script-state') === 'notRunning' && titles.some(t => t.includes(expect)); }"
)


# A warning a page caused: Python's, from a line of the app's own code (app_pages/, cnn_demo/,
# app.py), or Streamlit's own about a widget (it logs those with a stack, not a traceback: "The
# widget with key ... was created with a default value but also had its value set via the
# Session State API"). Not the interpreter's own at shutdown (multiprocessing's resource tracker).
APP_WARNING = re.compile(r"(/(app_pages|cnn_demo)/\S+|/app)\.py:\d+: \w*Warning|Stack \(most recent call last\)")


# What a failed test reports of a page: its script's state, skeletons, the status widget's words
# ("Running...", "Connecting" when the websocket dropped), and the error boxes' first words.
STATE_SEEN = (
    "() => { const a = document.querySelector(\"[data-testid='stApp']\");"
    " const errs = [...document.querySelectorAll(\"[data-testid='stAlertContentError']\")].map(e => e.innerText.slice(0, 120));"
    " return { script: a ? a.getAttribute('data-test-script-state') : 'no app',"
    " skeletons: document.querySelectorAll(\"[data-testid='stSkeleton']\").length,"
    " status: (document.querySelector(\"[data-testid='stStatusWidget']\") || {}).innerText || '',"
    " errors: errs,"
    " main: ((document.querySelector(\"[data-testid='stMain']\") || {}).innerText || '').slice(0, 600) }; }"
)


class Server:
    def __init__(self, runs_dir: Path, log_path: Path):
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}"
        self.runs_dir, self.log_path = runs_dir, log_path
        env = {**os.environ, "CNN_DEMO_RUNS_DIR": str(runs_dir), "PYTHONUNBUFFERED": "1"}
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(self.port),
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"streamlit did not answer within {timeout}s:\n{self.log_text()}")

    def log_text(self, start: int = 0) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[start:]

    def training_workers(self) -> list[int]:
        """The pids of the training worker processes this server has running now (Linux).

        A run's worker is spawned by multiprocessing (cnn_demo.training.live) and stays in the server's
        process group; each run has its own, so this counts the runs that are training."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                group = os.getpgid(int(entry.name))
            except (OSError, ProcessLookupError):
                continue  # ended while we looked
            if group == self.proc.pid and b"spawn_main" in cmdline:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the pid we started, and its children
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


WORKER_READY = re.compile(r"^Training process ready")  # locales/en.toml, train.worker_ready


class App:
    """One browser session on the app, with the waits and checks every test needs."""

    open_now: "list[App]" = []  # every session not yet closed: a failed test reports on each
    closed_failing: list[str] = []  # reports of sessions closed as an exception went by (close())

    def __init__(self, server: Server, browser, viewport=(1400, 1000), touch: bool = False):
        """touch: a phone's or a tablet's browser (touch events, a mobile viewport)."""
        self.server = server
        self.context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, has_touch=touch, is_mobile=touch
        )
        self.page = self.context.new_page()
        self.expected_errors: list[str] = []  # substrings of error boxes this test provokes
        self._log_start = len(server.log_text())
        App.open_now.append(self)

    def goto(self, path: str = "", timeout: float = 60_000) -> None:
        self.page.goto(f"{self.server.url}/{path.lstrip('/')}")
        # Before its first run the app reads "notRunning" too: wait for the page's title,
        # which every page writes first, then for the run to end.
        self.page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout)
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 60_000) -> None:
        """Until the app is on screen and its script has finished running."""
        self.page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
        # A click's rerun, or a fragment's st.rerun(scope="app"), can begin a moment after the
        # state reads idle: it must still read idle after a pause.
        for _ in range(100):
            self.page.wait_for_function(SCRIPT_IDLE, timeout=timeout)
            self.page.wait_for_timeout(200)
            if self.page.evaluate(SCRIPT_IDLE):
                break
        self.page.wait_for_timeout(150)  # let the last deltas paint

    def wait_worker_ready(self, timeout: float = 180_000) -> None:
        """Until the Train page says its training process is ready (the first time on a machine
        it measures how to train first). The text must begin the caption: matched as a
        substring, "Training process ready" is also in "Getting the training process ready …"."""
        self.page.get_by_text(WORKER_READY).wait_for(timeout=timeout)

    def type_number(self, label: str, value) -> None:
        """Type into the number box with this label and press Enter (a rerun follows)."""
        box = self.page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")

    def wait_for_chart_title(self, text: str, timeout: float = 30_000) -> None:
        """Until the script is idle and a chart's title contains `text` (the page has redrawn)."""
        self.page.wait_for_function(CHART_TITLE_SHOWN, arg=text, timeout=timeout, polling=10)

    def errors(self) -> list[str]:
        boxes = self.page.locator("[data-testid='stAlertContentError']")
        return [boxes.nth(i).inner_text() for i in range(boxes.count())]

    def exceptions(self) -> list[str]:
        boxes = self.page.locator("[data-testid='stException']")
        return [boxes.nth(i).inner_text() for i in range(boxes.count())]

    def lead_class(self, code: str, timeout: float = 60_000) -> None:
        """Open the Class page and lead it with the teacher code, as the teacher does, until the
        teacher's view is there."""
        self.goto("class", timeout)
        self.page.get_by_label("Teacher code").fill(code)
        self.button("Lead the class").click()
        self.page.locator(".st-key-class_code").wait_for(timeout=timeout)  # only the teacher's view has it
        self.wait_idle(timeout)

    def button(self, label: str):
        """A button of the page itself (not Streamlit's own "Stop" in the header while a script runs)."""
        return self.page.locator("[data-testid='stMain']").get_by_role("button", name=label, exact=True)

    def metric(self, label: str) -> str:
        """The value of the st.metric with this label."""
        metric = (
            self.page.locator("[data-testid='stMetric']")
            .filter(has=self.page.locator("[data-testid='stMetricLabel']", has_text=label))
            .first
        )
        return metric.locator("[data-testid='stMetricValue']").inner_text()

    def screenshot(self, name: str) -> Path:
        out = Path(os.environ.get("E2E_SHOTS", "/tmp/shots"))
        out.mkdir(parents=True, exist_ok=True)
        # Streamlit scrolls inside its own container, so a full-page shot would show one screen:
        # grow the window to the content's height for the shot, then put it back.
        size = self.page.viewport_size
        height = self.page.evaluate(
            "() => { const m = document.querySelector('[data-testid=stMain]'); return m ? m.scrollHeight : 0; }"
        )
        self.page.set_viewport_size(
            {"width": size["width"], "height": max(size["height"], min(int(height) + 40, 6000))}
        )
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(out / f"{name}.png"))
        self.page.set_viewport_size(size)
        return out / f"{name}.png"

    def check(self) -> None:
        """No exception on the page, no unexpected error box, no traceback in the server log and
        no warning there from the app's own code or from Streamlit about how a widget is used."""
        log = self.server.log_text(self._log_start)
        # The page shows a redacted message; the server's log has the traceback.
        assert not self.exceptions(), f"Streamlit exception on the page: {self.exceptions()}\n{log[-3000:]}"
        unexpected = [e for e in self.errors() if not any(x in e for x in self.expected_errors)]
        assert not unexpected, f"error box on the page: {unexpected}"
        assert "Traceback" not in log, f"traceback in the server log:\n{log[-3000:]}"
        warned = [line for line in log.splitlines() if APP_WARNING.search(line)]
        assert not warned, "warnings in the server log:\n" + "\n".join(warned)

    def state(self) -> str:
        """Where this session stands, for a failed test's report: the address, the script's state,
        skeletons still on the page, the connection, error boxes, the page's text (its start); a
        screenshot in $E2E_SHOTS/failed."""
        try:
            seen = self.page.evaluate(STATE_SEEN)
            shot = self.screenshot(f"failed/{time.strftime('%H%M%S')}_{id(self) % 10_000}")
        except Exception as e:  # a closed page, a browser gone: say so, and report the rest
            return f"{self.page.url}: not readable ({e})"
        return f"{self.page.url}: {seen}; screenshot {shot}"

    def close(self) -> None:
        """Closes the session; closed while an exception is on its way out (a test's `finally`),
        it first says where it stood, for that test's report (App.closed_failing)."""
        if sys.exc_info()[0] is not None and self in App.open_now:
            try:
                App.closed_failing.append(self.report())
            except Exception as e:  # a report must never hide the failure it reports
                App.closed_failing.append(f"{self.page.url}: not readable ({e!r})")
        if self in App.open_now:
            App.open_now.remove(self)
        self.context.close()

    def report(self) -> str:
        """state(), and the server's log since this session opened (its end)."""
        lines = [self.state()]
        if not self.server.log.closed:
            lines += ["server log since this session opened, its end:", self.server.log_text(self._log_start)[-1500:]]
        return "\n".join(lines)


@contextmanager
def app_in_browser() -> Iterator[App]:
    """For a benchmark's command: a fresh server (its runs in a temporary folder) and one
    Chromium session on it, checked for errors and closed at the end."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"error: no Chromium at {CHROMIUM}; set CHROMIUM_PATH")
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "runs", Path(tmp) / "streamlit.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                app = App(server, browser)
                yield app
                app.check()
                browser.close()
        finally:
            server.stop()
