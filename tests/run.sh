#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it): install what the
# suite needs on a fresh machine, then run the suite through ci-toolkit itself, so our own
# coverage gate (config and gate modules at 100%) is enforced on every run.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

exec ci-toolkit local "$@"
