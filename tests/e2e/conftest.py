"""End-to-end fixtures: the app as a user runs it, driven in a real Chromium.

`streamlit run app.py` is started once per test session on a free port (its own runs
folder in a temp dir, so tests never touch checkpoints/runs), and stopped by its pid
at the end. Each test gets a fresh browser context (a new Streamlit session) through
the `app` fixture, which fails the test on any Streamlit exception shown on the page,
any error box the test did not expect (list them in `app.expected_errors`), and any
traceback in the server's log. See harness.py for the App helper's methods.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, App, Server


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m filter, so that -m "not e2e" leaves these out
def pytest_collection_modifyitems(config, items):
    # In CI (CI set, as .ci/run's caller sets it) a browser test that fails runs once more, as
    # Playwright's own CI default does: a busy 2-core machine misses a wait now and then. Only
    # browser tests, never the unit tests; pytest.ini's -rfER lists every rerun with its first failure.
    retry = os.environ.get("CI", "").lower() not in ("", "0", "false")
    if retry and not config.pluginmanager.hasplugin("rerunfailures"):
        raise pytest.UsageError(
            "CI is set: browser tests are retried once by pytest-rerunfailures (requirements-test.txt)"
        )
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
        if retry and item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.flaky(reruns=1))
    if retry:
        config.option.rerun_show_tracebacks = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A browser test that fails says where each of its browser sessions stood (the script's
    state, the status widget, skeletons, a screenshot), the server's log since, and how busy the
    machine was: a timeout on a busy CI machine is otherwise a bare "Timeout 60000ms". Only the
    sessions this test opened, still open or closed by its `finally` on the way out; whatever
    cannot be read is said so, and never fails the run."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or item.get_closest_marker("e2e") is None:
        return
    before = item.stash.get(APPS_BEFORE, set())
    try:
        lines = [f"load average {os.getloadavg()}; {busiest_processes()}"]
        lines += App.closed_failing  # sessions the test's own `finally` closed, as they stood
        lines += [a.report() for a in App.open_now if id(a) not in before]
        report.sections.append(("browser sessions at the failure", "\n".join(lines)))
    except Exception as e:  # a report of a failure must not become a failure of the run
        report.sections.append(("browser sessions at the failure", f"not readable: {e!r}"))


APPS_BEFORE = pytest.StashKey[set]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[APPS_BEFORE] = {id(a) for a in App.open_now}  # before the test's fixtures open theirs
    App.closed_failing.clear()


def busiest_processes(n: int = 5) -> str:
    ps = subprocess.run(["ps", "-eo", "pcpu,rss,args", "--sort=-pcpu"], capture_output=True, text=True)
    return "busiest processes:\n" + "\n".join(line[:160] for line in ps.stdout.splitlines()[: n + 1])


@pytest.fixture(scope="session", autouse=True)
def measured_machine():
    """This machine's training settings, measured once (about 20 s, the first time only) before
    any server starts, so that every server's worker trains with them and none measures them
    in the background beside a test (a server with nothing kept does: test_fresh_server.py)."""
    subprocess.run([sys.executable, "-m", "cnn_demo", "calibrate"], cwd=ROOT, check=True, capture_output=True)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)")
    tmp = tmp_path_factory.mktemp("app")
    srv = Server(tmp / "runs", tmp / "streamlit.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def app(server, browser):
    a = App(server, browser)
    yield a
    try:
        a.check()
    finally:
        a.close()


@pytest.fixture
def new_app(server, browser):
    """A factory for more browser sessions in one test (a second student, say)."""
    made = []

    def make() -> App:
        made.append(App(server, browser))
        return made[-1]

    yield make
    try:
        for a in made:
            a.check()
    finally:
        for a in made:
            a.close()
