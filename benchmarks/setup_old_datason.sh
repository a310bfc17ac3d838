#!/usr/bin/env bash
# Create benchmarks/.venv-datason013 holding datason 0.13.0 from PyPI (idempotent).
# datason 0.13 shares the import name with the new package, so it lives in its own
# virtualenv and is driven by benchmarks/old_datason_worker.py in a subprocess.
# numpy and pandas go in too, as a typical ML user has them: without them 0.13's
# loads() retries a failing `import numpy`/`import pandas` for every list (3-4x slower).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-datason013"
python="${PYTHON:-python3}"
check='import importlib.metadata as m, sys, numpy, pandas; sys.exit(m.version("datason") != "0.13.0")'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "datason 0.13.0 already installed in $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "datason==0.13.0" numpy pandas
"$venv/bin/python" -c "$check"
echo "installed datason 0.13.0 (+ numpy, pandas) in $venv"
