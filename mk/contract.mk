# The cross-tool contract (tests/contract): every name that crosses a tool boundary agrees with
# pipeline/src/cardpipe/contracts/names.py in each tool's own artifact (synthesized stacks, dbt's parsed manifest,
# workflows, DDL, settings), each comparison is proven to bite, and no code spells a name names.py owns.
.PHONY: test-contract

test-contract: .venv/.synced infra-setup dbt-setup ## Cross-tool names: infra, dbt, pipeline, DAGs and workflows agree (and it bites)
	.venv/bin/pytest tests/contract
