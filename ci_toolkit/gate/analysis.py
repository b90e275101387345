"""Analysis by coverage.py itself, so ``# pragma: no cover``, ``exclude_lines`` / ``exclude_also``, ``omit``
/ ``include``, ``[paths]`` and plugins from the project's coverage configuration all apply exactly as
``coverage report`` would apply them.

The analysis runs as ``coverage json`` with the project root as working directory, so coverage.py finds its
configuration (.coveragerc, setup.cfg, tox.ini, pyproject.toml, or $COVERAGE_RCFILE) the way it always does:
in this process when that is safe, else in a child process, because coverage.py keeps the directory that
reported paths are relative to in module globals, and changing them (and the cwd) inside a process that may
itself be measured by coverage would corrupt that measurement.

A large data file is analysed in parts, one process per core, each reporting every n-th of the files
(coverage.py's analysis is one process on one core); the parts' reports are put back together in
coverage.py's own order, so the result is the serial one.

Fail closed: data that names a source file which no longer exists (or no longer parses) is an error telling
the user to re-run the tests, not a file silently left out of the gate. (A project that set coverage.py's
own ``ignore_errors = true`` has asked for such files to be skipped, and coverage.py does so.)
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.errors import DataError
from ci_toolkit.gate.inputfile import one_line
from ci_toolkit.gate.source import elsewhere, foreign, real, within


def analyse(data_file: str, out: str, rcfile: str, scope_file: str = "", part: str = "") -> dict[str, str]:
    """coverage.py's own JSON report of `data_file`, written to `out`; run with cwd = the project root
    so coverage finds the project's configuration exactly as `coverage report` would there.

    With `scope_file` (JSON: "source", the absolute source paths, and "known", real paths already
    reported elsewhere), only measured files under the source are reported, plus the Python files under
    it that coverage.py would have listed as unexecuted had it measured with that source, less "known".
    With `part` ("i/n"), only every n-th of those files from the i-th on.
    """
    import coverage
    from coverage.exceptions import CoverageException, NoDataError, NoSource, NotPython

    try:
        cov = coverage.Coverage(data_file=data_file, config_file=rcfile or True)
        cov.load()
        morfs: list[str] | None = None
        if scope_file:
            morfs, facts = _scoped_files(cov, json.loads(Path(scope_file).read_text(encoding="utf-8")))
            if facts is not None:
                return {"status": "foreign", "message": json.dumps(facts)}
            if not morfs:
                return _empty(cov, out)
        if part:
            index, count = (int(n) for n in part.split("/"))
            every = sorted(cov.get_data().measured_files()) if morfs is None else morfs
            morfs = every[index::count]
            if not morfs:  # coverage.py would take an empty list for "every file"
                return _empty(cov, out)
        from ci_toolkit.gate.parsed import PARSES

        with _without_regions(), _one_connection(cov.get_data()), PARSES.reused():
            cov.json_report(morfs=morfs, outfile=out)
    except NoDataError as exc:
        return {"status": "nodata", "message": str(exc)}
    except NoSource as exc:
        return {"status": "source", "message": str(exc)}
    except NotPython as exc:
        return {"status": "notpython", "message": str(exc)}
    except CoverageException as exc:
        return {"status": "error", "message": str(exc)}
    except Exception as exc:  # a broken coverage plugin or config: the user's to fix, so one line
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok"}


@contextlib.contextmanager
def _without_regions() -> Iterator[None]:
    """coverage.py >= 7.5 adds each function's and class's own numbers to a JSON report: a second parse
    of every file and a report several times larger, for numbers the gate never reads. Python files
    report no regions meanwhile; the file's own numbers do not depend on them."""
    from coverage.python import PythonFileReporter

    if not hasattr(PythonFileReporter, "code_regions"):  # pragma: no cover - coverage.py < 7.5
        yield
        return
    saved = PythonFileReporter.__dict__["code_regions"], PythonFileReporter.__dict__["code_region_kinds"]
    PythonFileReporter.code_regions = lambda self: []  # type: ignore[method-assign]
    PythonFileReporter.code_region_kinds = lambda self: []  # type: ignore[method-assign]
    try:
        yield
    finally:
        PythonFileReporter.code_regions, PythonFileReporter.code_region_kinds = saved  # type: ignore[method-assign]


def _one_connection(data: Any) -> contextlib.AbstractContextManager[Any]:
    """The data file held open for the whole report: coverage.py opens and closes it for each query
    (several per file) unless a connection is already open, a seventh of the analysis. Its connection
    is not public API: without one, the report is the same, only slower."""
    connect = getattr(data, "_connect", None)
    return contextlib.nullcontext() if connect is None else connect()


def _empty(cov: Any, out: str) -> dict[str, str]:
    empty = {"meta": {"branch_coverage": cov.get_data().has_arcs()}, "files": {}}
    Path(out).write_text(json.dumps(empty), encoding="utf-8")
    return {"status": "ok"}


def _scoped_files(cov: Any, scope: Mapping[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """(the files to report, None or what shows the data was measured somewhere else)."""
    measured = sorted(cov.get_data().measured_files())
    sources = [real(s) for s in scope["source"]]
    inside = [m for m in measured if within(real(m), sources)]
    facts = elsewhere(measured, len(inside), os.path.exists)
    if facts is not None:
        return [], facts
    seen = {real(m) for m in measured} | {real(k) for k in scope.get("known", ())}
    return inside + [f for f in _unexecuted(sources, cov.config) if f not in seen], None


def _unexecuted(sources: Sequence[str], config: Any) -> list[str]:
    """What coverage.py adds as unexecuted when it measures with `source`: its own file finder, its own
    rule for directories without __init__.py, and [run] omit (coverage.inorout)."""
    from coverage.files import GlobMatcher, canonical_filename, find_python_files, prep_patterns

    omit = GlobMatcher(prep_patterns(config.run_omit), "run_omit") if config.run_omit else None
    found: list[str] = []
    for src in sources:
        files = find_python_files(src, config.include_namespace_packages) if os.path.isdir(src) else [src]
        found += [canonical_filename(f) for f in files if os.path.isfile(f)]
    return sorted({f for f in found if omit is None or not omit.match(f)})


# The child's first line drops the cwd from sys.path, so a project module called "coverage" or "json"
# cannot shadow the real ones. It prints one JSON status line on stdout.
_ANALYSE = """\
import sys
if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]
import json
from ci_toolkit.gate.analysis import analyse
print(json.dumps(analyse(*sys.argv[1:6])))
"""

# Below this many files a part costs more in interpreter start-up than it saves.
_PART_FILES = 100

# Variables that would make the child measure itself (and write data files into the project).
_CHILD_ENV_DROP = (
    "COVERAGE_PROCESS_START",
    "COVERAGE_PROCESS_CONFIG",
    "COV_CORE_SOURCE",
    "COV_CORE_CONFIG",
    "COV_CORE_DATAFILE",
)


def safe_here() -> bool:
    """Whether the analysis may run in this process, saving an interpreter start-up.

    coverage.py fixes its idea of the current directory when a Coverage object is made, and a process
    being measured (our own test suite) must not have its cwd moved under it: then a child does it.
    """
    import coverage

    return coverage.Coverage.current() is None and not os.environ.get("CI_TOOLKIT_ANALYSE_IN_CHILD")


def _analyse_here(args: Sequence[str], root: Path) -> dict[str, Any] | None:
    """Analyse in this process when that is safe (`safe_here`); None when it is not."""
    if not safe_here():
        return None
    before = Path.cwd()
    os.chdir(root)
    try:
        return analyse(*args)
    finally:
        os.chdir(before)


def _analyse_in_child(path: Path, args: Sequence[str], root: Path) -> dict[str, Any]:
    return _child_status(_wait(path, _start_child(path, args, root)))


def _start_child(path: Path, args: Sequence[str], root: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in _CHILD_ENV_DROP}
    try:
        return subprocess.Popen(
            [sys.executable, "-c", _ANALYSE, *args],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        raise DataError(f"{path}: could not run coverage.py to analyse it ({exc})") from None


def _wait(path: Path, proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _analyse_parts(path: Path, jobs: Sequence[Sequence[str]], root: Path) -> list[dict[str, Any]]:
    """Each job's status, the jobs run side by side: all but the first in children, the first here
    when that is safe (else in a child too)."""
    if len(jobs) == 1:
        status = _analyse_here(jobs[0], root)
        return [status if status is not None else _analyse_in_child(path, jobs[0], root)]
    children: list[subprocess.Popen[str]] = []
    try:
        for job in jobs[1:]:
            children.append(_start_child(path, job, root))
        first = _analyse_here(jobs[0], root)
        if first is None:
            first = _analyse_in_child(path, jobs[0], root)
        return [first, *(_child_status(_wait(path, child)) for child in children)]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def _child_status(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        try:
            status = json.loads(lines[-1])
        except ValueError:
            status = None
        if isinstance(status, dict):
            return status
    # The child died before reporting (e.g. a broken coverage plugin); keep its last words on one line.
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"status": "error", "message": f"exit code {proc.returncode}: {tail}"}


def analysis(
    path: Path,
    data_file: Path,
    root: Path,
    config_file: Path | None,
    scope: Mapping[str, Any] | None,
    *,
    parts: int = 1,
) -> dict[str, Any] | None:
    """coverage.py's JSON report of *data_file* (see `analyse`); None when it has nothing to report.

    *path* names the input in messages; *scope* ("source" and "known", see `analyse`) limits the report
    to the coverage source; *config_file* overrides coverage.py's own configuration discovery; *parts*
    processes share the files between them (see `parts_for`).
    """
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-cov-") as tmp:
        scope_file = ""
        if scope is not None:
            scope_file = str(Path(tmp) / "scope.json")
            Path(scope_file).write_text(json.dumps(scope), encoding="utf-8")
        rcfile = str(Path(config_file).resolve()) if config_file is not None else ""
        outs = [Path(tmp) / f"coverage-{index}.json" for index in range(max(1, parts))]
        jobs = [(str(data_file), str(outs[0]), rcfile, scope_file)]
        if len(outs) > 1:
            jobs = [
                (str(data_file), str(out), rcfile, scope_file, f"{index}/{len(outs)}")
                for index, out in enumerate(outs)
            ]
        statuses = _analyse_parts(path, jobs, root)
        for status in statuses:
            kind, message = status.get("status"), str(status.get("message", "")).strip()
            if kind != "nodata":
                _raise_for(path, kind, message, root, scope)
        answered = [
            out for out, status in zip(outs, statuses, strict=True) if status.get("status") != "nodata"
        ]
        reports = [_read_report(path, out) for out in answered]
    if not reports:
        return None
    return reports[0] if len(reports) == 1 else _joined(reports, root)


def _read_report(path: Path, out: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: coverage.py wrote no usable JSON report ({exc})") from None
    return data


def _joined(reports: Sequence[Mapping[str, Any]], root: Path) -> dict[str, Any]:
    """The parts' reports as one, files in coverage.py's order (by absolute file name). The parts'
    totals are left out rather than added up: they are optional, and the model sums the files."""
    files = {name: entry for report in reports for name, entry in report["files"].items()}
    order = sorted(files, key=lambda name: os.path.join(root, name))
    return {"meta": dict(reports[0]["meta"]), "files": {name: files[name] for name in order}}


def parts_for(files: int) -> int:
    """How many processes analyse `files` files: one per core, each with at least _PART_FILES files."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, files // _PART_FILES))


def _raise_for(path: Path, kind: Any, message: str, root: Path, scope: Mapping[str, Any] | None) -> None:
    if kind == "ok":
        return
    if kind == "foreign" and scope is not None:
        source = [Path(s) for s in scope["source"]]
        raise DataError(foreign(path, source, root, json.loads(message)))
    if kind == "source":
        raise DataError(
            f"{path}: {message} (the data names a source file that is gone or changed); "
            "re-run the tests to refresh the coverage data"
        )
    if kind == "notpython":
        raise DataError(
            f"{path}: {one_line(message)}; fix that file, or leave it out with coverage.py's `omit` setting"
        )
    raise DataError(f"{path}: coverage.py could not analyse it: {message or 'unknown error'}")
