#!/usr/bin/env bash
# The whole test suite: content check, model (trained once, reused while the
# training data is unchanged), then pytest - which also runs `rasa data
# validate`, the `rasa test` conversation stories and the real-server tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
"$PY" -m firstpoint.cli kb check
"$PY" -m firstpoint.cli train
set +e
"$PY" -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
