#!/usr/bin/env bash
# Saved-plan terraform for promotions: `plan` writes tfplan into every synthesized stack of $ENV (in
# dependency order, recorded in apply-order.txt); `apply` applies exactly those saved plans, in that order.
# The plan job uploads the stacks + plans + the MWAA/Lambda artifacts they reference; the deploy job applies
# them after review, so what reviewers read is byte for byte what runs.
#   ENV=dev bash airflow/scripts/ci_terraform.sh plan|apply
set -euo pipefail
: "${ENV:?set ENV (dev|staging|prod)}"
cd "$(dirname "$0")/../.."
stacks=infra/cdktf.out/stacks
tf=${TERRAFORM:-terraform}

case "${1:-}" in
  plan)
    (cd infra && ENV="$ENV" .venv/bin/python main.py --order) | tr ' ' '\n' | sed '/^$/d' > "$stacks/apply-order.txt"
    while read -r stack; do
      echo "== $stack: terraform plan"
      "$tf" -chdir="$stacks/$stack" init -input=false >/dev/null
      "$tf" -chdir="$stacks/$stack" plan -input=false -lock-timeout=5m -out=tfplan
    done < "$stacks/apply-order.txt"
    ;;
  apply)
    test -s "$stacks/apply-order.txt" || { echo "no saved plans in $stacks: run the plan job first" >&2; exit 1; }
    while read -r stack; do
      echo "== $stack: terraform apply (saved plan)"
      "$tf" -chdir="$stacks/$stack" init -input=false >/dev/null
      "$tf" -chdir="$stacks/$stack" apply -input=false -lock-timeout=5m tfplan
    done < "$stacks/apply-order.txt"
    ;;
  *) echo "usage: ENV=<env> $0 plan|apply" >&2; exit 2 ;;
esac
