#!/usr/bin/env bash
# The fault campaign: N randomized live runs of the real CLI through ccxt and HTTP against the local OKX
# venue, with injected faults and kill -9 of the bot at random moments, each checked from the venue's
# own books (no duplicated order, no lost or doubled fill, ledger balances == venue balances,
# `ledger verify` passes, no traceback). See taxreport/venue/campaign.py.
#
#   scripts/fault-campaign.sh 500                 # the README's campaign
#   scripts/fault-campaign.sh 20 --quick          # what `make test` runs
#   scripts/fault-campaign.sh 50 --jobs 4 --seed 7 --dir /tmp/campaign --summary /tmp/campaign.json
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:?usage: scripts/fault-campaign.sh N [--jobs J] [--seed S] [--dir DIR] [--quick] [--summary FILE]}"
shift
PY=".venv/bin/python"
[ -x "$PY" ] || PY="python3"
exec "$PY" -m taxreport.venue.campaign "$N" "$@"
