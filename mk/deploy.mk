# The deploy path itself: `make plan/apply/destroy/bootstrap` with real terraform on tiny provider-less stacks,
# the account bootstrap, dbt state and the plan store against moto servers, the required-reviewers gate.
#   make test-deploy     (terraform 1.11 on PATH; tests that need it skip with a message otherwise)
.PHONY: test-deploy

test-deploy: .venv/.synced infra-setup dbt-setup ## Deploy path: terraform driver via make, account bootstrap + dbt state on moto
	.venv/bin/pytest tests/deploy
