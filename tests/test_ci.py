"""CI's retry of browser tests (tests/e2e/conftest.py), run on tiny test files by pytester: with CI
set a failed browser test runs once more and the summary names it; unit tests never rerun; a test
that fails twice fails the run."""

import pytest

from cnn_demo import ROOT

pytest_plugins = ["pytester"]

# Fails on its first try in a session, passes on the next: a marker file remembers the try.
ONCE = """
from pathlib import Path

def test_fails_once():
    tried = Path(__file__).with_suffix(".tried")
    if not tried.exists():
        tried.touch()
        raise AssertionError("first try")
"""
ALWAYS = """
def test_fails_always():
    raise AssertionError("every try")
"""


@pytest.fixture
def project(pytester):
    """The project's own pytest.ini and e2e hook, in a temporary tree: tests/ and tests/e2e/."""
    pytester.makeini((ROOT / "pytest.ini").read_text())
    e2e = pytester.mkdir("tests") / "e2e"
    e2e.mkdir()
    (e2e / "conftest.py").write_text("from tests.e2e.conftest import pytest_collection_modifyitems  # noqa: F401\n")
    return pytester


def run(project, monkeypatch, ci: str | None, *options: str, **files: str):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    for path, source in files.items():
        (project.path / f"{path}.py").write_text(source)
    # Without the two plugins that take ~2 s to start in every inner session; nothing here uses them.
    return project.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "no:hypothesispytest", *options)


def test_in_ci_a_browser_test_that_fails_once_passes_and_its_rerun_is_listed(project, monkeypatch):
    result = run(project, monkeypatch, "true", **{"tests/e2e/test_once": ONCE})
    assert result.parseoutcomes() == {"passed": 1, "rerun": 1}
    result.stdout.re_match_lines([r".*rerun test summary info.*", r"RERUN tests/e2e/test_once.py::test_fails_once"])
    result.stdout.fnmatch_lines(["*AssertionError: first try*"])  # the first failure, to be fixed


def test_in_ci_a_browser_test_that_fails_twice_fails_the_run(project, monkeypatch):
    result = run(project, monkeypatch, "1", **{"tests/e2e/test_always": ALWAYS})
    assert result.parseoutcomes() == {"failed": 1, "rerun": 1}
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_outside_ci_a_browser_test_is_not_retried(project, monkeypatch):
    for ci in (None, "false"):
        (project.path / "tests/e2e/test_once.tried").unlink(missing_ok=True)
        result = run(project, monkeypatch, ci, **{"tests/e2e/test_once": ONCE})
        assert result.parseoutcomes() == {"failed": 1}


def test_in_ci_a_unit_test_is_never_retried(project, monkeypatch):
    result = run(project, monkeypatch, "true", **{"tests/test_unit_once": ONCE})
    assert result.parseoutcomes() == {"failed": 1}


def test_in_ci_without_the_retry_plugin_the_run_stops_at_once(project, monkeypatch):
    result = run(project, monkeypatch, "true", "-p", "no:rerunfailures", **{"tests/e2e/test_once": ONCE})
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-rerunfailures*"])
