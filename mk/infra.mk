# Infrastructure as code (CDK Terrain, infra/): synth, plan/apply/destroy per environment, checkov, Lambda zip.
#   make synth ENV=dev            write infra/cdktf.out/stacks/sportscards-dev-{snowflake,aws}/cdk.tf.json
#   make plan ENV=dev             terraform init + plan every stack of ENV in dependency order (needs credentials)
#   make apply ENV=dev            terraform apply them in that order; make destroy ENV=dev in reverse order
#   make destroy ENV=prod CONFIRM=destroy-prod    prod refuses without this explicit confirmation
.PHONY: infra-setup synth synth-all plan apply destroy destroy-guard checkov lambda-package test-infra

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

# terraform runs inside each synthesized stack directory; order comes from infra/cardinfra/app.py.
define tf_each
	for stack in $(1); do \
	  echo "== $$stack: terraform $(2)"; \
	  $(TERRAFORM) -chdir=$(INFRA_OUT)/$$stack init -input=false -upgrade=false >/dev/null; \
	  $(TERRAFORM) -chdir=$(INFRA_OUT)/$$stack $(2); \
	done
endef

plan: synth lambda-package ## terraform plan ENV's stacks in dependency order (run `make mwaa-package ENV=...` first)
	@test -f airflow/build/mwaa/$(ENV)/requirements.txt || { echo "run 'make mwaa-package ENV=$(ENV)' first"; exit 1; }
	$(call tf_each,$$(cd infra && ENV=$(ENV) .venv/bin/python main.py --order),plan -input=false -lock-timeout=5m)

apply: synth lambda-package ## terraform apply ENV's stacks in dependency order (Snowflake, then AWS)
	@test -f airflow/build/mwaa/$(ENV)/requirements.txt || { echo "run 'make mwaa-package ENV=$(ENV)' first"; exit 1; }
	$(call tf_each,$$(cd infra && ENV=$(ENV) .venv/bin/python main.py --order),apply -input=false -lock-timeout=5m)

destroy-guard:
	@if [ "$(ENV)" = "prod" ] && [ "$(CONFIRM)" != "destroy-prod" ]; then \
	  echo "refusing to destroy prod: run 'make destroy ENV=prod CONFIRM=destroy-prod' if you really mean it"; exit 1; fi

destroy: destroy-guard synth ## terraform destroy ENV's stacks in reverse order (prod needs CONFIRM=destroy-prod)
	$(call tf_each,$$(cd infra && ENV=$(ENV) .venv/bin/python main.py --order | tr ' ' '\n' | tac),destroy -input=false -lock-timeout=5m)

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
