# The AWS stack executed on an emulator (tests/infra_e2e): synthesized for dev pointed at a moto server on
# 127.0.0.1, then real terraform init (local provider mirror) / validate / plan / apply / empty re-plan / destroy,
# and between apply and destroy the platform's code run under the roles terraform created, moto's IAM
# enforcement on. Needs terraform on PATH and a filesystem mirror of hashicorp/aws (skips, saying which is missing).
.PHONY: infra-e2e

infra-e2e: .venv/.synced infra-setup ## AWS stack on moto: terraform apply, empty re-plan, destroy; code under its IAM roles
	bash scripts/ensure-services.sh
	.venv/bin/pytest tests/infra_e2e
