#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it): install what the
# suite needs on a fresh machine, then run the suite through ci-toolkit itself, so our own
# coverage gate (config, gate and globs modules at 100%) is enforced on every run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The services tests start real servers from system packages as well as from wheels.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]} (apt-get)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        # Debian starts the packaged servers; the tests start their own, so stop these.
        service redis-server stop >/dev/null 2>&1 || true
        service postgresql stop >/dev/null 2>&1 || true
        service mariadb stop >/dev/null 2>&1 || true
    else
        echo "note: ${missing[*]} not installed; the tests that need them will be skipped" >&2
    fi
fi

# The example project (examples/fastapi-postgres) is run end to end by the suite: its requirements too.
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]' -r examples/fastapi-postgres/requirements.txt

# The full suite on this interpreter, with the newest releases pip resolved; then the version matrix
# (tests/matrix.py): the smoke set on every other supported Python and at the declared floors.
# CI_TOOLKIT_MATRIX=0 skips the matrix, for a quick run while working.
status=0
ci-toolkit local "$@" || status=$?
if [ "${CI_TOOLKIT_MATRIX:-1}" != 0 ]; then
    python3 tests/matrix.py || status=$((status ? status : 1))
fi
exit "$status"
