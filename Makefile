# FirstPoint: two commands do all the set-up.
#   make run    install if needed, train if the data changed, start everything
#   make test   install if needed, train if needed, run every test
PY := .venv/bin/python
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test lint bench kb-check run-production bench-load

install:
	@bash scripts/install.sh

run: install
	$(PY) -m firstpoint.cli run

# The production stack on this machine: nginx, 2 Rasa replicas + 2 action servers,
# PostgreSQL, Redis lock store, RabbitMQ -> contact-log consumer (README "Production path").
run-production: install
	$(PY) -m firstpoint.cli production

test: install
	@bash scripts/test.sh

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy firstpoint knowledge bot connectors

kb-check: install
	$(PY) -m firstpoint.cli kb check

bench: install
	$(PY) benchmarks/search_benchmark.py
	$(PY) benchmarks/report_benchmark.py
	$(PY) benchmarks/risk_benchmark.py --turns 150

# Load test: FirstPoint and a bare Rasa starter bot (trained in the run), 1 and 2 replicas.
bench-load: install
	$(PY) benchmarks/load_benchmark.py
