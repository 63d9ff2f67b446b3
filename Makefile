# The two commands of README.md. Both set up everything they need first.
.PHONY: demo test setup lint examples

PYTEST := .venv/bin/pytest

## demo: bring up the minimal stack, run the example resilience tests, print the SLO verdicts
demo: setup
	$(PYTEST) examples/tests -p no:cacheprovider --azchaos-env=environments/minimal.yaml -v

## test: lint, type-check and run the project's own tests (unit, plugin, integration)
test: setup lint
	$(PYTEST) tests -p no:cacheprovider -v -rfE --durations=10

## examples: every seed scenario of examples/scenarios on the default region (8 on its DB cluster and 10 on its encrypted bucket, by their markers; 9 on its auto scaling region)
examples: setup
	$(PYTEST) examples/scenarios -p no:cacheprovider -v -m 'not autoscaling' --azchaos-env=default --azchaos-report=azchaos-report/scenarios
	$(PYTEST) examples/scenarios -p no:cacheprovider -v -m autoscaling --azchaos-env=examples/scenarios/autoscaling.yaml --azchaos-report=azchaos-report/autoscaling

setup:
	@./scripts/setup.sh

lint:
	.venv/bin/ruff check pytest_azchaos tests examples bench
	.venv/bin/mypy
	.venv/bin/lint-imports
