"""The [tool.ci-toolkit.services.NAME] tables: one ServiceSpec per service, every key checked."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from ci_toolkit.config.checks import Checks
from ci_toolkit.config.keypath import KeyPath, show_value
from ci_toolkit.config.keys import SERVICE
from ci_toolkit.services import kinds, templates
from ci_toolkit.services.base import BACKENDS, KINDS, TEMPLATE_FIELDS, ServiceSpec
from ci_toolkit.services.kinds import Kind

SERVICE_KEYS = SERVICE.names  # the rows of config/keys.py
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_SETTING_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_COMMAND_FIELDS = ("port", "host", "data_dir")


class ServiceTables(Checks):
    """Parses the services tables; a subclass of the generic checks, used by the config parser."""

    def services(self, value: Any, path: KeyPath) -> dict[str, ServiceSpec]:
        if not isinstance(value, Mapping):
            self.expected(path, "a table of services ([tool.ci-toolkit.services.NAME])", value)
        specs: dict[str, ServiceSpec] = {}
        exported: dict[str, str] = {}
        for name, table in value.items():
            spec = self.service(name, table, (*path, name))
            for var in templates.exports(spec):
                if var in exported:
                    # Two services writing one variable: whichever started last would silently win.
                    self.fail(
                        (*path, name, "export"),
                        f'variable {var} is also exported by service "{exported[var]}"; set export '
                        "so that each variable comes from one service",
                    )
                exported[var] = name
            specs[name] = spec
        return specs

    def service(self, name: str, value: Any, path: KeyPath) -> ServiceSpec:
        if not _SERVICE_NAME.fullmatch(name):
            self.fail(path, "expected a service name matching [A-Za-z0-9][A-Za-z0-9_-]*")
        table = self.table(value, path, SERVICE_KEYS)
        kind = self.kind(name, table, path)
        info = kinds.get(kind)
        kwargs: dict[str, Any] = {}
        if "backend" in table:
            backend = table["backend"]
            if backend not in BACKENDS:
                self.expected((*path, "backend"), f"one of {', '.join(BACKENDS)}", backend)
            kwargs["backend"] = backend
        if "version" in table:
            kwargs["version"] = self.version(table["version"], (*path, "version"))
        if "image" in table:
            kwargs["image"] = self.word(table["image"], (*path, "image"), "a docker image name")
        if "host" in table:
            kwargs["host"] = self.word(table["host"], (*path, "host"), "a host name or IP address")
        for key in ("user", "database"):
            if key in table:
                kwargs[key] = self.credential(info, key, table[key], (*path, key))
        if "password" in table:
            kwargs["password"] = self.password(table["password"], (*path, "password"))
        if "port" in table:
            port = table["port"]
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                self.expected((*path, "port"), "a port number 1-65535", port)
            kwargs["port"] = port
        if kwargs.get("backend") == "external" and "port" not in kwargs:
            self.fail(path, 'missing required key "port" (backend "external" connects to a running service)')
        if "settings" in table:
            kwargs["settings"] = self.settings(info, table["settings"], (*path, "settings"))
        if "env" in table:
            env = self.env_names(table["env"], (*path, "env"))
            for var, text in env.items():
                self.string(text, (*path, "env", var))
            kwargs["env"] = dict(env)
        if "export" in table:
            kwargs["export"] = self.export(table["export"], (*path, "export"))
        elif not info.url_template:
            self.fail(path, f'missing required key "export" (kind {kind} has no default URL to export)')
        elif not templates.ENV_NAME.fullmatch(templates.default_var(name)):
            self.fail(
                path,
                f'the default variable name "{templates.default_var(name)}" is not a valid environment '
                "variable name; set export",
            )
        if "database_per_worker" in table:
            per_worker = self.boolean(table["database_per_worker"], (*path, "database_per_worker"))
            if per_worker and not info.has_databases:
                with_databases = ", ".join(k for k in KINDS if kinds.get(k).has_databases)
                self.fail(
                    (*path, "database_per_worker"),
                    f"kind {kind} has no databases to create per worker; only {with_databases} do",
                )
            kwargs["database_per_worker"] = per_worker
        if "ready_timeout" in table:
            timeout = table["ready_timeout"]
            if (
                isinstance(timeout, bool)
                or not isinstance(timeout, (int, float))
                or not 0 < timeout < math.inf
            ):
                self.expected((*path, "ready_timeout"), "a number of seconds > 0", timeout)
            kwargs["ready_timeout"] = float(timeout)
        if "command" in table:
            kwargs["command"] = self.command(info, table["command"], (*path, "command"))
        return ServiceSpec(name=name, kind=kind, **kwargs)

    def kind(self, name: str, table: Mapping[str, Any], path: KeyPath) -> str:
        if "kind" not in table:
            if name in KINDS:
                return name
            self.fail(
                path,
                f'missing required key "kind" ("{name}" is not a kind); valid kinds: {", ".join(KINDS)}',
            )
        kind = table["kind"]
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, KINDS, n=1) if isinstance(kind, str) else []
            hint = f'did you mean "{close[0]}"? ' if close else ""
            self.fail(
                (*path, "kind"), f"unknown kind {show_value(kind)}; {hint}valid kinds: {', '.join(KINDS)}"
            )
        return kind

    def word(self, value: Any, path: KeyPath, what: str) -> str:
        if not isinstance(value, str) or not value or any(char.isspace() for char in value):
            self.expected(path, f"{what} without spaces", value)
        return value

    def version(self, value: Any, path: KeyPath) -> str:
        # `version = 16` and `version = 8.4` are what people write; both mean the string.
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            value = str(value)
        if not isinstance(value, str) or not _VERSION.fullmatch(value):
            self.expected(path, 'a version such as "17" or "8.4"', value)
        return value

    def password(self, value: Any, path: KeyPath) -> str:
        text = self.string(value, path)
        # A server reads its password from a line of a file (initdb --pwfile) or an argument: a control
        # character would cut it short there and leave a password nobody typed.
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
            self.expected(path, "a password without line breaks or other control characters", value)
        return text

    def credential(self, kind: Kind, key: str, value: Any, path: KeyPath) -> str:
        text = self.string(value, path)
        problem = kind.credential_problem(key, text)
        if problem is not None:
            self.expected(path, problem, value)
        return text

    def settings(self, kind: Kind, value: Any, path: KeyPath) -> dict[str, str]:
        if not kind.takes_settings:
            self.fail(path, f"kind {kind.name} takes no settings; put the server's options in command")
        if not isinstance(value, Mapping):
            self.expected(path, "a table of setting = value", value)
        settings: dict[str, str] = {}
        for key, item in value.items():
            if not _SETTING_KEY.fullmatch(key):
                self.fail((*path, key), "expected a setting name matching [A-Za-z0-9_][A-Za-z0-9_.-]*")
            if isinstance(item, bool):
                settings[key] = kind.setting_text(item)  # each server spells booleans its own way
            elif isinstance(item, (int, float)) and math.isfinite(item):
                settings[key] = str(item)
            elif isinstance(item, str) and "\n" not in item:
                settings[key] = item
            else:
                self.expected((*path, key), "a string, number or true/false", item)
        return settings

    def env_names(self, value: Any, path: KeyPath) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.expected(path, 'a table of VAR = "value"', value)
        for var in value:
            if not templates.ENV_NAME.fullmatch(var):
                self.expected(
                    (*path, var), "an environment variable name matching [A-Za-z_][A-Za-z0-9_]*", var
                )
        return value

    def export(self, value: Any, path: KeyPath) -> dict[str, str]:
        export = self.env_names(value, path)
        if not export:
            self.expected(path, "at least one VAR = template", value)
        for var, template in export.items():
            self.template(template, (*path, var), TEMPLATE_FIELDS)
        return dict(export)

    def template(self, value: Any, path: KeyPath, fields: tuple[str, ...]) -> str:
        if not isinstance(value, str):
            self.expected(path, "a template string", value)
        try:
            names = templates.template_fields(value)
        except ValueError as exc:
            self.fail(path, f"invalid template {show_value(value)}: {exc}")
        for name in names:
            if name not in fields:
                close = difflib.get_close_matches(name, fields, n=1)
                hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                self.fail(
                    path, f"unknown field {{{name}}} in the template{hint}; valid fields: {', '.join(fields)}"
                )
        return value

    def command(self, kind: Kind, value: Any, path: KeyPath) -> tuple[str, ...]:
        if not kind.takes_command:
            takers = " or ".join(k for k in KINDS if kinds.get(k).takes_command)
            self.fail(
                path, f"only kind {takers} takes a command; ci-toolkit runs the {kind.name} server itself"
            )
        argv = self.strings(value, path)
        if not argv:
            self.expected(path, "a non-empty list of strings (the program and its arguments)", value)
        for index, arg in enumerate(argv):
            self.template(arg, (*path, index), _COMMAND_FIELDS)
        return argv
