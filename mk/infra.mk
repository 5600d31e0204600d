# Infrastructure as code (CDK Terrain, infra/): synth, plan/apply/destroy per environment, checkov, Lambda zip.
#   make synth ENV=dev            write infra/cdktf.out/stacks/sportscards-dev-{snowflake,aws}/cdk.tf.json
#   make bootstrap ENV=dev        first deploy: state bucket + GitHub OIDC roles, then each stack planned and applied
#   make plan ENV=dev             save a plan per stack (dependency order) and print a summary (needs credentials)
#   make apply ENV=dev            apply exactly those saved plans; make destroy ENV=dev in reverse order
#   make apply|destroy ENV=prod CONFIRM=apply-prod|destroy-prod    prod refuses without explicit confirmation
.PHONY: infra-setup synth synth-all plan apply apply-guard destroy destroy-guard bootstrap bootstrap-account \
  mwaa-built checkov lambda-package test-infra

INFRA_PY := infra/.venv/bin/python
INFRA_OUT := infra/cdktf.out/stacks
LAMBDA_BUILD := infra/build/lambda
TERRAFORM ?= terraform
# jsii unpacks ~600 MB of provider bindings on first use: keep them in a cache CI can restore.
export JSII_RUNTIME_PACKAGE_CACHE_ROOT ?= $(HOME)/.cache/jsii
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export BC_SKIP_MAPPING ?= TRUE

infra/.venv/.synced: $(UV) infra/pyproject.toml infra/uv.lock
	cd infra && ../$(UV) sync --locked
	@touch $@

infra-setup: infra/.venv/.synced ## Infra venv (infra/.venv): cdktn, AWS + Snowflake providers, checkov, pytest

synth: infra-setup ## Synthesize ENV's stacks (dev|staging|prod) into infra/cdktf.out/stacks
	cd infra && ENV=$(ENV) .venv/bin/python main.py

synth-all: infra-setup ## Synthesize all three environments
	cd infra && ENV=all .venv/bin/python main.py

# plan/apply/destroy/bootstrap all go through one driver, infra/scripts/tf.py (the promotion workflow runs these
# same targets): stacks in the order `main.py --order` prints, saved plans, checksums, prod confirmation.
# TF_STACKS_DIR / TF_STACK_ORDER point it elsewhere (tests: tiny provider-less stacks); PLAN_DEPS / DESTROY_DEPS
# are what is built first (empty in those tests). TF_PLAN_BUCKET + TF_PLAN_ID: store the binary plans in S3.
TF_STACKS_DIR ?= $(INFRA_OUT)
TF_STACK_ORDER ?=
TF_PLAN_BUCKET ?=
TF_PLAN_ID ?=
# What a plan reads besides the stack JSON: applying after either changed would apply something nobody planned.
TF_PLAN_INPUTS ?= $(LAMBDA_BUILD)/cardpipe-ingest.zip airflow/build/mwaa/$(ENV)
PLAN_DEPS ?= synth lambda-package mwaa-built
DESTROY_DEPS ?= synth lambda-package mwaa-built
TF = $(INFRA_PY) infra/scripts/tf.py --env $(ENV) --stacks-dir $(TF_STACKS_DIR) --terraform $(TERRAFORM) \
  $(if $(strip $(TF_STACK_ORDER)),--order "$(TF_STACK_ORDER)")
TF_PLAN_ARGS = $(foreach input,$(TF_PLAN_INPUTS),--input $(input)) \
  $(if $(TF_PLAN_BUCKET),--plan-bucket $(TF_PLAN_BUCKET) --plan-id $(TF_PLAN_ID))

mwaa-built:
	@test -f airflow/build/mwaa/$(ENV)/requirements.txt || { echo "run 'make mwaa-package ENV=$(ENV)' first"; exit 1; }

plan: infra-setup $(PLAN_DEPS) ## Save a terraform plan per stack of ENV (tfplan + tfplan.txt) and print a summary
	$(TF) plan $(TF_PLAN_ARGS)

apply-guard:
	@if [ "$(ENV)" = "prod" ] && [ "$(CONFIRM)" != "apply-prod" ]; then \
	  echo "refusing to apply prod: run 'make apply ENV=prod CONFIRM=apply-prod' if you really mean it"; exit 1; fi

apply: apply-guard infra-setup ## Apply exactly the plans `make plan` saved (prod needs CONFIRM=apply-prod)
	$(TF) apply --confirm "$(CONFIRM)"

destroy-guard:
	@if [ "$(ENV)" = "prod" ] && [ "$(CONFIRM)" != "destroy-prod" ]; then \
	  echo "refusing to destroy prod: run 'make destroy ENV=prod CONFIRM=destroy-prod' if you really mean it"; exit 1; fi

destroy: destroy-guard infra-setup $(DESTROY_DEPS) ## terraform destroy ENV's stacks in reverse order (prod needs CONFIRM=destroy-prod)
	$(TF) destroy --confirm "$(CONFIRM)"

bootstrap-account: infra-setup ## Account bootstrap for ENV: state bucket, GitHub OIDC provider, plan + deploy roles (idempotent)
	$(INFRA_PY) infra/scripts/bootstrap_account.py --env $(ENV)

# First deploy of a fresh environment: the AWS stack reads the Snowflake stack's outputs, so each stack is planned
# only after the one before it is applied (plain `make plan` would plan the AWS stack against missing state).
bootstrap: apply-guard bootstrap-account $(PLAN_DEPS) ## First deploy: account bootstrap, then plan + apply each stack in turn (prod: CONFIRM=apply-prod)
	order=$$($(TF) order); for stack in $$order; do \
	  $(TF) plan --only $$stack $(TF_PLAN_ARGS) && $(TF) apply --confirm "$(CONFIRM)"; \
	done

checkov: synth-all ## checkov over every synthesized stack (skips justified in .checkov.yaml); fails on any failed check
	$(INFRA_PY) -m checkov.main --config-file .checkov.yaml

lambda-package: $(UV) ## Lambda zip: cardpipe + runtime deps for manylinux x86_64 / CPython 3.12 -> infra/build/lambda/
	rm -rf $(LAMBDA_BUILD) && mkdir -p $(LAMBDA_BUILD)/dist $(LAMBDA_BUILD)/package
	$(UV) build --wheel --out-dir $(LAMBDA_BUILD)/dist pipeline
	$(UV) pip install --quiet --target $(LAMBDA_BUILD)/package --python-version 3.12 \
	  --python-platform x86_64-manylinux_2_28 --only-binary :all: $(LAMBDA_BUILD)/dist/cardpipe-*.whl
	$(INFRA_PY) infra/scripts/zip_lambda.py $(LAMBDA_BUILD)/package $(LAMBDA_BUILD)/cardpipe-ingest.zip

test-infra: infra-setup ## Infra tests: synth all envs, security properties, env differences, checkov 0 failed
	$(INFRA_PY) -m pytest -c infra/pyproject.toml --rootdir infra tests/infra
