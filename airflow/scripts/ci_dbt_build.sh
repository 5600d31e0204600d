#!/usr/bin/env bash
# `dbt build --target $DBT_TARGET` on Snowflake for a promotion, with state-based selection:
# only models changed since production (state:modified+) are built; unchanged parents are read from
# production (--defer) using prod's manifest at $DBT_STATE_URI. No production manifest yet -> full build.
# The private key arrives in SNOWFLAKE_PRIVATE_KEY (a GitHub secret); it goes to a 0600 temp file, never the log.
set -euo pipefail
: "${DBT_TARGET:?set DBT_TARGET (dev|staging|prod)}" "${DBT_STATE_URI:?set DBT_STATE_URI (s3://.../dbt-state/prod)}"
: "${SNOWFLAKE_PRIVATE_KEY:?set the SNOWFLAKE_DBT_PRIVATE_KEY secret of this environment}"

cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
printf '%s\n' "$SNOWFLAKE_PRIVATE_KEY" > "$work/dbt_key.p8"
export SNOWFLAKE_PRIVATE_KEY_PATH="$work/dbt_key.p8"
unset SNOWFLAKE_PRIVATE_KEY

make dbt-setup
mkdir -p "$work/state"
selection=()
if aws s3 cp --only-show-errors "$DBT_STATE_URI/manifest.json" "$work/state/manifest.json"; then
  selection=(--select "state:modified+" --defer --state "$work/state")
else
  echo "ci_dbt_build: no production manifest at $DBT_STATE_URI yet; building everything"
fi
dbt/.venv/bin/dbt build --project-dir dbt --profiles-dir dbt --target "$DBT_TARGET" "${selection[@]}"

if [[ "${PUBLISH_DBT_STATE:-false}" == "true" ]]; then
  aws s3 cp --only-show-errors dbt/target/manifest.json "$DBT_STATE_URI/manifest.json"
  echo "ci_dbt_build: published the $DBT_TARGET manifest to $DBT_STATE_URI"
fi
