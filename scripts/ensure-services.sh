#!/usr/bin/env bash
# Make sure RabbitMQ and PostgreSQL answer on localhost; start them (Debian packages) if they do not.
# Used by .ci/run and `make demo`. On a laptop without them, use `docker compose up -d` instead.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # name port seconds
  local name=$1 port=$2 deadline=$((SECONDS + $3))
  until port_open "$port"; do
    if ((SECONDS > deadline)); then echo "ensure-services: $name did not open port $port" >&2; return 1; fi
    sleep 1
  done
  echo "ensure-services: $name is up on 127.0.0.1:$port"
}

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  else
    echo "ensure-services: PostgreSQL is not running and pg_ctlcluster is not installed; run: docker compose up -d postgres" >&2
    exit 1
  fi
fi
wait_for PostgreSQL 5432 60

if ! port_open 5672; then
  if command -v rabbitmq-server >/dev/null; then
    echo "ensure-services: starting RabbitMQ"
    rabbitmq-server -detached
  else
    echo "ensure-services: RabbitMQ is not running and rabbitmq-server is not installed; run: docker compose up -d rabbitmq" >&2
    exit 1
  fi
fi
wait_for RabbitMQ 5672 120
