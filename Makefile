# Scones MLOps — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# uv does not read pip's configuration: hand it pip's find-links (a local torch wheel) when set.
FIND_LINKS := $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS),)
export PYTHONPATH := $(CURDIR)
export AWS_EC2_METADATA_DISABLED := true

DAYS ?= 3

.PHONY: soak install demo test test-fast lint airflow stop benchmarks lock mwaa-bundle mwaa-deploy infra-check clean \
	stack-parameters analyzer-image-tag aws-preflight

## Create .venv (with $(PYTHON); e.g. `make PYTHON=/usr/bin/python3.11 install`) and install the lock, quietly.
install: $(VENV)/.installed

$(VENV)/.installed: requirements/lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)" \
	  || echo "uv unavailable: installing with pip (slower)"
	@started=$$(date +%s); \
	if [ -x $(BIN)/uv ]; then \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python $(FIND_LINKS) -r requirements/lock.txt; \
	else \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt; \
	fi && \
	echo "$(VENV) ready: $$(grep -c '==' requirements/lock.txt) packages from requirements/lock.txt" \
	  "($$($(BIN)/python -V), $$(( $$(date +%s) - started )) s)"
	@touch $@

## Run the whole lifecycle offline through a real Airflow scheduler.
demo: $(VENV)/.installed
	$(BIN)/python -m devtools.cli demo

## Run the test suite (unit, contract and end-to-end).
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## The quick loop: everything but the end-to-end runs.
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not e2e"

## A month of operation, compressed: DAYS simulated days through a real Airflow, with faults; fails on a broken invariant.
soak: $(VENV)/.installed
	nice -n 10 $(BIN)/python -m devtools.soak --days $(DAYS) $(SOAK_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

## Keep Airflow running with the UI on http://127.0.0.1:8080 (Ctrl-C, or `make stop` elsewhere, stops it).
airflow: $(VENV)/.installed
	$(BIN)/python -m devtools.cli airflow

## Stop everything of the local environment: Airflow, its tasks and jobs, the local model server.
stop:
	@test -x $(BIN)/python || { echo "no $(VENV): nothing was started"; exit 0; }; \
	$(BIN)/python -m devtools.cli stop

benchmarks: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py

## Recompile requirements/lock.txt from requirements/local.in under MWAA's constraints.
lock:
	test -x $(BIN)/uv || $(PYTHON) -m pip install "uv==$(UV_VERSION)"
	grep -vE '^(numpy|scipy|pandas)==' requirements/airflow-constraints-3.3.1-python3.12.txt > requirements/.constraints-py311.txt
	# Compile afresh: an existing lock's plain torch pin would steer uv to the CUDA build on PyPI.
	rm -f requirements/lock.txt
	$(BIN)/uv pip compile requirements/local.in --python-version 3.11 $(FIND_LINKS) \
	  -c requirements/.constraints-py311.txt --no-header -o requirements/lock.txt
	# Keep torch a plain release pin: the +cpu local build comes from find-links where it lies.
	sed -i 's/^torch==\([0-9.]*\)+cpu/torch==\1/' requirements/lock.txt
	rm requirements/.constraints-py311.txt

## Build the Amazon MWAA bundle: build/mwaa/{dags/,plugins.zip,requirements.txt,startup.sh}.
mwaa-bundle: $(VENV)/.installed
	$(BIN)/python -m deploy.mwaa.bundle --out build/mwaa

## Show what the MWAA deployment would change; APPLY=1 uploads and updates the environment.
mwaa-deploy: mwaa-bundle
	$(BIN)/python -m deploy.mwaa.deploy --bundle build/mwaa $(if $(APPLY),--apply,)

## Lint the CloudFormation template and check its IAM statements for wildcards.
infra-check: $(VENV)/.installed
	$(BIN)/cfn-lint deploy/cloudformation/template.yaml
	$(BIN)/python -m deploy.cloudformation.policy_check deploy/cloudformation/template.yaml

## Write the stack parameters the settings decide: build/cloudformation/{parameters.json,parameter-overrides.txt}.
stack-parameters: $(VENV)/.installed
	$(BIN)/python -m deploy.cloudformation.stack_parameters --out build/cloudformation

## Print the drift analyzer image's tag: the code version of programs/monitor.
analyzer-image-tag: $(VENV)/.installed
	@$(BIN)/python -m deploy.cloudformation.stack_parameters --image-tag

## Check the AWS account holds what the settings expect (read-only calls; one line per check, with the fix).
aws-preflight: $(VENV)/.installed
	$(BIN)/python -m deploy.preflight

clean:
	rm -rf $(VENV) .airflow .data .pytest_cache .cache build
