#!/usr/bin/env bash
# `make demo`: the whole platform on one machine, from sources to marts, then a summary.
#   journal (PostgreSQL) --backfill--> bronze <--consume-- RabbitMQ <--publish-- live events
#   bronze --load--> DuckDB RAW --dbt build--> staging + marts --> summary --> dashboards (DEMO_DASHBOARDS=0: not)
# EVENTS is the total number of generated events: LIVE_SHARE of them are published live, the rest are
# history in the journal. Every run starts from nothing (`cardpipe reset-local`: local bronze, DuckDB and the
# queues), so its marts hold exactly its own events, whatever ran before.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${1:-${EVENTS:-100000}}
LIVE_SHARE=${LIVE_SHARE:-0.2}
SEED=${SEED:-42}
LIVE=$(python3 -c "print(int(${EVENTS} * ${LIVE_SHARE}))")
HISTORY=$((EVENTS - LIVE))

export CARDPIPE_DATA_DIR=${CARDPIPE_DATA_DIR:-.data}
export BRONZE_DIR=${BRONZE_DIR:-$CARDPIPE_DATA_DIR/bronze}
export WAREHOUSE_DUCKDB_PATH=${WAREHOUSE_DUCKDB_PATH:-$CARDPIPE_DATA_DIR/warehouse.duckdb}
export DUCKDB_PATH=$WAREHOUSE_DUCKDB_PATH   # read by the dbt profile
export DBT_TARGET=local
mkdir -p "$CARDPIPE_DATA_DIR"

cardpipe=.venv/bin/cardpipe
dbt="$(pwd)/dbt/.venv/bin/dbt"
n_step=0
step() { n_step=$((n_step + 1)); printf '\n\033[1m==> %d. %s\033[0m\n' "$n_step" "$*"; }
start=$SECONDS

step "start from nothing: local bronze, DuckDB warehouse and queues of earlier runs removed"
# A run's marts hold exactly its own events: another EVENTS or SEED, or earlier cardpipe commands, would
# otherwise leave bronze files and RAW rows of other generations (reconciliation fails, cycle times mix).
$cardpipe reset-local --yes

step "seed the journal with $HISTORY historical events (seed $SEED)"
$cardpipe seed-journal --events "$HISTORY" --seed "$SEED" --reset

step "publish $LIVE live events to RabbitMQ while the consumer lands them in bronze"
# A generous idle period: the consumer starts before the publisher and must not exit before it begins.
$cardpipe consume --until-idle --idle-seconds 20 &
consumer=$!
trap 'kill $consumer 2>/dev/null || true' EXIT
$cardpipe publish --events "$LIVE" --seed "$SEED"

step "backfill the journal into bronze"
$cardpipe backfill

wait $consumer
trap - EXIT

step "load new bronze files into DuckDB RAW"
$cardpipe load

step "dbt build (staging + marts + tests) on DuckDB"
(cd dbt && "$dbt" build --target local --profiles-dir . --project-dir .)

step "summary"
$cardpipe summary --published "$LIVE"

if [ "${DEMO_DASHBOARDS:-1}" != "0" ]; then
  step "dashboards: build the Product, Marketing, Operations and Data quality pages from the marts"
  PYTHONPATH=dashboards .venv/bin/python -m dashgen build --duckdb "$WAREHOUSE_DUCKDB_PATH"
  echo "open dashboards/build/index.html, or serve them: make dashboards (http://127.0.0.1:8088/index.html)"
fi
echo
echo "demo finished in $((SECONDS - start)) s (EVENTS=$EVENTS)"
