"""pytest's JUnit classname back into a node id, by walking the test tree (see `NodeIds`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class NodeIds:
    """pytest's JUnit classname back into a node id.

    pytest writes classname = the node id's file path with "/" -> "." and ".py" dropped, then the classes,
    all joined by "."; name = the function name with its parameters. Directory names may contain dots
    themselves, so the split between path and classes is found by walking the real tree under root:
    only names that are there are tried, each (directory, position) once, so a classname of thousands
    of parts, or a tree with symlink loops, costs no more than the tree it walks.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._cache: dict[str, _Split | None] = {}
        self._listings: dict[str, list[_Entry]] = {}

    def nodeid(self, classname: str, name: str, file: str | None) -> str | None:
        located = None
        if file:  # xunit1; may name the file a test was inherited from, so it must agree with classname
            path = file.replace("\\", "/")
            module = path[:-3].replace("/", ".") if path.endswith(".py") else ""
            if module and (classname == module or classname.startswith(module + ".")):
                located = (path, tuple(filter(None, classname[len(module) :].split("."))))
        if located is None:
            if classname not in self._cache:
                self._cache[classname] = self._locate(classname.split("."))
            located = self._cache[classname]
        if located is None:
            return None
        path, classes = located
        return "::".join((path, *classes, name))

    def _locate(self, parts: list[str]) -> _Split | None:
        """The split of `parts` into an existing .py file (reached through directories) and classes: at
        each level the entry that takes the most parts first, a directory before a module of that name.
        Depth first, with a stack of its own (a deep tree must not reach the recursion limit)."""
        stack: list[_Step] = [_Step(self._root, 0, "")]
        seen: set[tuple[tuple[int, int], int]] = set()
        while stack:
            step = stack.pop()
            if step.found is not None:
                return step.found
            options: list[tuple[int, int, _Step]] = []
            for entry in self._listing(step.directory):
                end = step.taken + len(entry.words)
                if tuple(parts[step.taken : end]) != entry.words:
                    continue
                name, prefix = ".".join(entry.words), step.prefix
                if entry.identity is None:
                    options.append((end, 0, _Step(found=(f"{prefix}{name}.py", tuple(parts[end:])))))
                elif end < len(parts) and (entry.identity, end) not in seen:
                    seen.add((entry.identity, end))  # reached again by another way: it fails again
                    options.append((end, 1, _Step(step.directory / name, end, f"{prefix}{name}/")))
            # The most parts, and then a directory, must come off the stack first.
            stack.extend(option for _, _, option in sorted(options, key=lambda o: (o[0], o[1])))
        return None

    def _listing(self, directory: Path) -> list[_Entry]:
        """The subdirectories and .py files in `directory`; none when it cannot be listed (gone, a path
        too long, a symlink loop)."""
        key = str(directory)
        if key not in self._listings:
            try:
                with os.scandir(directory) as entries:
                    self._listings[key] = [found for entry in entries if (found := _entry(entry))]
            except OSError:
                self._listings[key] = []
        return self._listings[key]


_Split = tuple[str, tuple[str, ...]]  # (the test file's path, the classes in it)


class _Entry(NamedTuple):
    words: tuple[str, ...]  # the name split at dots (a module's without ".py")
    identity: tuple[int, int] | None  # a directory's (device, inode); None: a module


class _Step(NamedTuple):
    directory: Path = Path()
    taken: int = 0  # parts of the classname that `directory` accounts for
    prefix: str = ""  # `directory` relative to the root, with a trailing "/"
    found: _Split | None = None  # the answer, once a module is reached


def _entry(entry: os.DirEntry[str]) -> _Entry | None:
    try:
        if entry.is_dir():
            info = entry.stat()
            return _Entry(tuple(entry.name.split(".")), (info.st_dev, info.st_ino))
        if entry.name.endswith(".py") and entry.is_file():
            return _Entry(tuple(entry.name[:-3].split(".")), None)
    except OSError:
        pass
    return None
