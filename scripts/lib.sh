# Shared by scripts/up and scripts/test: find Python 3.11+, make .venv, install the project.
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

# Install (again) only when pyproject.toml has changed since the last install.
install_project() {
    local extras=$1
    local stamp=".venv/.installed${extras}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install -q -e ".${extras}"
        touch "$stamp"
    fi
}
