# Shared by scripts/up, scripts/test, scripts/lock and scripts/audit: find Python 3.11+,
# make .venv, install the project from the lock files in requirements/.
# shellcheck shell=bash

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "mash needs Python 3.11 or newer (apt-get install python3)" >&2
    return 1
}

ensure_venv() {
    if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys' 2>/dev/null; then
        return 0
    fi
    local python
    python=$(find_python)
    if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
        # Debian and Ubuntu ship venv separately.
        local version
        version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && apt-get install -y -qq "python${version}-venv" || apt-get install -y -qq python3-venv
        else
            echo "Python's venv module is missing: run  sudo apt-get install python${version}-venv" >&2
            return 1
        fi
    fi
    "$python" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
}

# Install the locked versions (requirements/runtime.txt, or requirements/test.txt for
# "[test]": every package pinned with its hashes, so pip refuses anything else), then the
# project itself without dependencies; again only when the lock or pyproject.toml changed.
# pip check fails when pyproject.toml asks for a package the lock lacks: run scripts/lock.
install_project() {
    local extras=$1 lock
    case "$extras" in
        "") lock=requirements/runtime.txt ;;
        "[test]") lock=requirements/test.txt ;;
        *) echo "install_project: no lock for extras $extras" >&2; return 1 ;;
    esac
    local stamp=".venv/.installed-$(basename "$lock" .txt)"
    if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install -q --require-hashes -r "$lock"
        .venv/bin/python -m pip install -q --no-deps -e .
        local unmet
        if ! unmet=$(.venv/bin/python -m pip check 2>&1); then
            echo "$unmet" >&2
            echo "$lock lacks what pyproject.toml asks for: run scripts/lock" >&2
            return 1
        fi
        touch "$stamp"
    fi
}

# A separate environment (.venv-audit) for the supply-chain tools of requirements/audit.txt
# (uv, pip-audit, cyclonedx-py), so that they never change what the project's .venv holds.
ensure_audit_tools() {
    local venv=.venv-audit
    if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' 2>/dev/null; }; then
        rm -rf "$venv"
        "$(find_python)" -m venv "$venv"
    fi
    local stamp="$venv/.installed"
    if [ -f requirements/audit.txt ]; then
        if [ ! -f "$stamp" ] || [ requirements/audit.txt -nt "$stamp" ]; then
            "$venv/bin/python" -m pip install -q --require-hashes -r requirements/audit.txt
            touch "$stamp"
        fi
    elif [ ! -x "$venv/bin/uv" ]; then
        # No lock yet: scripts/lock is making the first one.
        "$venv/bin/python" -m pip install -q uv
    fi
}
