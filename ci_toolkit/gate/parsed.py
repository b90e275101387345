"""coverage.py's parse of the source files, made while the tests run rather than after them.

Most of the gate's analysis (ci_toolkit.gate.analysis) is coverage.py parsing each source file (tokens, the
AST, the possible arcs), and none of that depends on the coverage data. `ci-toolkit local` knows the files
before its first test runs, so it parses them in a background thread meanwhile: first on the core that
pytest's single-threaded start-up leaves idle, and by the end of any run worth timing. After the run, the
analysis takes a file's parse from here only if coverage.py would have made exactly that parse: same file,
same text now, same exclusion regex. Anything else (a file changed during the run, another configuration,
a coverage.py without the expected internals) is parsed again, as it would have been without this module.

The parser objects are coverage.py's own (coverage.parser.PythonParser), reached through the attributes
coverage.py 7.4 onwards gives PythonFileReporter; where those are missing nothing is reused.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

# Beyond this many files the parses would hold more memory than the minutes of analysis they save are
# worth on a laptop; a project that large is analysed in parts by several processes anyway.
MAX_FILES = 2000


class _Parsed(NamedTuple):
    exclude: str  # coverage.py's exclusion regex the parse was made with
    parser: Any  # coverage.parser.PythonParser, parsed; its .text is what it parsed


class Parses:
    """Parses made by `parse` (in a background thread), taken by the analysis under `reused()`."""

    def __init__(self) -> None:
        self._by_file: dict[str, _Parsed] = {}
        self._stop = threading.Event()
        self.complete = False  # every file asked for was parsed

    def parse(self, files: Callable[[], Sequence[str]], root: Path, branch: bool) -> None:
        """Parse `files()` (real paths), with the exclusions of the coverage configuration found from
        `root` and, when `branch`, their arcs, until `stop()`. Does nothing where the analysis will not run
        in this process (see analysis._analyse_here). Meant for a background thread."""
        try:
            if not _here(root):
                return
            from coverage.config import read_coverage_config
            from coverage.misc import join_regex
            from coverage.parser import PythonParser

            # What Coverage(config_file=True) reads from the working directory, without its warnings: the
            # analysis reads it again and says whatever is to be said.
            config = read_coverage_config(config_file=True, warn=lambda *args, **kwargs: None)
            exclude = join_regex(config.exclude_list)
            names = files()
        except Exception:  # nothing prepared: the analysis parses as it always did
            return
        if len(names) > MAX_FILES:
            return
        for name in names:
            if self._stop.is_set():
                return
            try:
                parser = PythonParser(filename=name, exclude=exclude)
                parser.parse_source()
                if branch:
                    parser.arcs()
            except Exception:  # not Python, unreadable: the analysis meets it and reports it
                continue
            self._by_file[name] = _Parsed(exclude, parser)
        self.complete = True

    def stop(self) -> None:
        """`parse` returns after the file it is parsing."""
        self._stop.set()

    def begin(self) -> None:
        """Forget an earlier run's parses and stop (a process that runs `local` more than once): called
        before the thread that will `parse` starts."""
        self._by_file.clear()
        self._stop.clear()
        self.complete = False

    def take(self, filename: str, exclude: str) -> Any | None:
        """The parse of `filename` if it is the one coverage.py would make now, else None."""
        parsed = self._by_file.get(filename)
        if parsed is None or parsed.exclude != exclude:
            return None
        from coverage.python import get_python_source

        try:
            text = get_python_source(filename)
        except Exception:  # coverage.py's own parse will raise what it raises
            return None
        return parsed.parser if text == parsed.parser.text else None

    @contextlib.contextmanager
    def reused(self) -> Iterator[None]:
        """coverage.py's file reporters take their parse from here, where there is the right one."""
        from coverage.python import PythonFileReporter

        original = PythonFileReporter.__dict__.get("parser")
        if not self._by_file or not isinstance(original, property) or original.fget is None:
            yield
            return
        parses, build = self, original.fget

        def parser(reporter: Any) -> Any:
            if getattr(reporter, "_parser", None) is None and reporter.coverage is not None:
                found = parses.take(reporter.filename, reporter.coverage._exclude_regex("exclude"))
                if found is not None:
                    reporter._parser = found
            return build(reporter)

        PythonFileReporter.parser = property(parser)  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            PythonFileReporter.parser = original  # type: ignore[method-assign]


def _here(root: Path) -> bool:
    """Whether coverage.py, asked from this process now, would read the configuration the analysis reads:
    the analysis runs in this process with `root` as working directory (see analysis._analyse_here)."""
    from ci_toolkit.gate.analysis import safe_here

    if not safe_here():
        return False
    try:
        return os.path.samefile(os.getcwd(), root)
    except OSError:
        return False


# The one set of parses of this process: `ci-toolkit local` starts it, the analysis of its data uses it.
PARSES = Parses()
