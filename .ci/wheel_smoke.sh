#!/usr/bin/env bash
# The installed package, not the checkout: build a wheel, install it into a fresh virtual environment and
# run every command once from a directory outside the checkout. Catches data files that only exist in the
# source tree (device profiles, references, schemas), and imports that only work from the repository.
# The venv sees the system site-packages so that torch (and rich, typer, fvcore) are reused, not fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Build from a copy of the files git knows (tracked or new, not ignored): a stale build/ directory in the
# checkout must not be able to supply a file the source tree no longer has.
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$tmp/src"
python -m pip wheel --quiet --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/src"
python -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --no-deps --force-reinstall "$tmp"/dist/flopcount-*.whl

mkdir "$tmp/run" "$tmp/config"
cd "$tmp/run"
# Nothing may come from the checkout or the user's own profiles: no PYTHONPATH, an empty config home.
export XDG_CONFIG_HOME="$tmp/config"
unset PYTHONPATH
fc="$tmp/venv/bin/flopcount"
py="$tmp/venv/bin/python"

installed=$("$py" -c "import flopcount; print(flopcount.__file__)")
case "$installed" in
  "$tmp/venv/"*) ;;
  *) echo "wheel smoke: flopcount imported from $installed, not from the wheel" >&2; exit 1 ;;
esac
"$py" -c "import flopcount.data, importlib.resources as r; \
assert r.files('flopcount.data').joinpath('references.toml').is_file(); \
assert r.files('flopcount.data').joinpath('devices', 'cpu_measured.toml').is_file()"

run() { echo "+ flopcount $*"; "$fc" "$@" > "$tmp/out.txt" || { cat "$tmp/out.txt"; exit 1; }; }
run --help
run analyze mobilenet_v2 -f json
"$py" -c "import json, sys; json.load(open(sys.argv[1]))" "$tmp/out.txt"
run analyze mobilenet_v2 -f html -o report.html  # the page's CSS/JS and the roofline profile from the wheel
grep -q '"roofline":{"device"' report.html || { echo "wheel smoke: report.html has no roofline" >&2; exit 1; }
run diff alexnet squeezenet1_0 --depth 1
run list
run roofline mobilenet_v2
run guidelines mobilenet_v2
run compare mobilenet_v2
run bench mobilenet_v2 --repeats 1
cat > budgets.toml <<'EOF'
[models.mobilenet_v2]
max_params = "3.6M"
max_flops = "310M"
EOF
run check budgets.toml
echo "wheel smoke: every command ran from the installed wheel ($installed)"
cd "$repo"
