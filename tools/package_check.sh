#!/usr/bin/env bash
# Build the sdist and the wheel as a user or PyPI would, install each into its own scratch venv and run it there.
#
# Everything happens under one temporary folder: the build works on a copy of the checkout (tracked files and
# untracked ones git does not ignore), so no dist/, build/ or *.egg-info is written into the repository.
# The wheel is built from the sdist (python -m build's default), which proves the sdist is complete.
# The venvs see this environment's packages (--system-site-packages), so torch and the rest are not downloaded
# again; medpix_kd itself goes into the venv with --no-deps --ignore-installed, and is then imported from a
# folder outside the checkout to show it is the venv's copy and not the editable one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/medpix_kd_package.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir "$scratch/src" "$scratch/dist" "$scratch/cwd"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf - | tar -xf - -C "$scratch/src"
"$PY" -m build --outdir "$scratch/dist" "$scratch/src" >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; fail "python -m build failed"; }
tail -n 1 "$scratch/build.log"
sdist=("$scratch"/dist/*.tar.gz); wheel=("$scratch"/dist/*.whl)

listing="$(tar -tzf "${sdist[0]}")"
for f in settings.ini LICENSE README.md setup.py pyproject.toml nbs/run.ipynb nbs/compare.ipynb medpix_kd/papermill_io.py; do
  grep -qx "[^/]*/$f" <<<"$listing" || fail "the sdist $(basename "${sdist[0]}") lacks $f"
done
echo "sdist holds settings.ini, LICENSE, README.md and the papermill templates"

check_install() {  # $1: a name for the venv, $2: the sdist or wheel to install
  local venv="$scratch/venv-$1"
  "$PY" -m venv --system-site-packages --without-pip "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --ignore-installed "$2"
  echo "== $(basename "$2") in a scratch venv: medpix-kd --help"
  usage="$(cd "$scratch/cwd" && "$venv/bin/medpix-kd" --help)" || fail "medpix-kd --help failed in the venv"
  head -n 3 <<<"$usage"
  (cd "$scratch/cwd" && "$venv/bin/python" - "$venv" <<'EOF'
import sys, medpix_kd
from pathlib import Path
from importlib.metadata import entry_points
from medpix_kd.batch import template
venv = Path(sys.argv[1]).resolve()
print('medpix_kd.__file__ =', medpix_kd.__file__)
print('run template =', template('run.ipynb'))
assert Path(medpix_kd.__file__).resolve().is_relative_to(venv), f"medpix_kd was imported from outside {venv}"
assert Path(template('run.ipynb')).resolve().is_relative_to(venv), "the run template is not the venv's copy"
assert 'papermill_io' in str(entry_points(group='papermill.io')), "papermill does not see medpix_kd's I/O handler"
EOF
  ) || fail "$(basename "$2") does not work from its venv"
}
check_install wheel "${wheel[0]}"
check_install sdist "${sdist[0]}"
echo "package check: ok"
