#!/usr/bin/env bash
# `dbt build --target $DBT_TARGET` on Snowflake for a promotion, with state-based selection: only models changed
# since this environment's last successful deploy (state:modified+) are built, deferring unchanged parents to
# that deploy. The manifest lives in the environment's own artifacts bucket (names.DBT_STATE_KEY; each
# environment is a separate AWS account, so nothing is read across accounts) and is published after every
# successful build. No manifest yet -> full build; any other error reading it fails the deploy
# (infra/scripts/dbt_state.py). The private key arrives in SNOWFLAKE_PRIVATE_KEY (a GitHub secret); it goes to a
# 0600 temp file, never the log.
set -euo pipefail
: "${DBT_TARGET:?set DBT_TARGET (dev|staging|prod)}"
: "${DBT_STATE_BUCKET:?set DBT_STATE_BUCKET (the environment artifacts bucket: terraform output artifacts_bucket)}"
: "${SNOWFLAKE_PRIVATE_KEY:?set the SNOWFLAKE_DBT_PRIVATE_KEY secret of this environment}"

cd "$(dirname "$0")/../.."
state_py=${DBT_STATE_PYTHON:-infra/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
printf '%s\n' "$SNOWFLAKE_PRIVATE_KEY" > "$work/dbt_key.p8"
export SNOWFLAKE_PRIVATE_KEY_PATH="$work/dbt_key.p8"
unset SNOWFLAKE_PRIVATE_KEY

make dbt-setup
selection=()
rc=0
"$state_py" infra/scripts/dbt_state.py fetch --bucket "$DBT_STATE_BUCKET" --dest "$work/state/manifest.json" || rc=$?
case "$rc" in
  0) selection=(--select "state:modified+" --defer --state "$work/state") ;;
  3) ;; # first deploy of this environment: build everything
  *) echo "ci_dbt_build: reading the previous manifest failed (exit $rc); not building" >&2; exit "$rc" ;;
esac
dbt/.venv/bin/dbt build --project-dir dbt --profiles-dir dbt --target "$DBT_TARGET" "${selection[@]}"

# Only reached after a green build: the next deploy of this environment defers to what is deployed now.
"$state_py" infra/scripts/dbt_state.py publish --bucket "$DBT_STATE_BUCKET" --src dbt/target/manifest.json
