"""The commands of `ci-toolkit`: one module per command or group, each a click command with its options,
made of the classes in ci_toolkit.commands.base (every outcome mapped onto an exit code); the options
several commands take are in ci_toolkit.commands.options, ci_toolkit.cli adds them all to its group.

`ci-toolkit --help` imports every module here, so at module level they import only click, the standard
library and ci_toolkit.errors and ci_toolkit.commands; the stages (pytest, coverage, services) are imported
inside the command bodies (tests/commands/test_layout.py checks).
"""
