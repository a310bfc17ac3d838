#!/usr/bin/env bash
# Create benchmarks/.venv-mlserver holding MLServer 1.7.1 from PyPI (idempotent).
# MLServer's pins (starlette, protobuf, ...) do not fit the project's virtualenv, so it
# lives in its own and is driven by benchmarks/mlserver_worker.py in a subprocess.
# Only its codecs are used (no server is started).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-mlserver"
python="${PYTHON:-python3}"
check='import importlib.metadata as m, sys, numpy, pandas, mlserver.codecs; sys.exit(m.version("mlserver") != "1.7.1")'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "mlserver 1.7.1 already installed in $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mlserver==1.7.1" pandas numpy
"$venv/bin/python" -c "$check"
echo "installed mlserver 1.7.1 (+ numpy, pandas) in $venv"
