# The two commands of README.md. Both set up everything they need first.
.PHONY: demo test setup lint

PYTEST := .venv/bin/pytest

## demo: bring up the minimal stack, run the example resilience tests, print the SLO verdicts
demo: setup
	$(PYTEST) examples/tests -p no:cacheprovider --azchaos-env=environments/minimal.yaml -v

## test: lint, type-check and run the project's own tests (unit, plugin, integration)
test: setup lint
	$(PYTEST) tests -p no:cacheprovider -v -rfE --durations=10

setup:
	@./scripts/setup.sh

lint:
	.venv/bin/ruff check pytest_azchaos tests examples bench
	.venv/bin/mypy
	.venv/bin/lint-imports
