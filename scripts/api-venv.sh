#!/usr/bin/env bash
# Make (or reuse) the Python virtualenv the API suite runs in, with the pinned packages of
# tests/api/requirements.txt, and print the path of its python.
#
# The venv lives outside the clone (BATON_API_VENV, default ~/.cache/baton/api-venv) and is
# rebuilt only when the requirements or the Python version change, so a second run needs no
# network.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=tests/api/requirements.txt
venv="${BATON_API_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/baton/api-venv}"
python="${PYTHON:-python3}"

command -v "$python" >/dev/null || { echo "error: $python not found; the API tests need Python 3" >&2; exit 1; }

stamp_of() {
  { "$python" --version 2>&1; cat "$requirements"; } | sha256sum | cut -d' ' -f1
}
want="$(stamp_of)"

if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.baton-stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi

echo "setting up $venv from $requirements" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
if ! "$python" -m venv "$venv" >&2; then
  echo "error: '$python -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2
  exit 1
fi
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" >&2
echo "$want" >"$venv/.baton-stamp"
echo "$venv/bin/python"
