#!/usr/bin/env bash
# The demo: runs taxreport end to end on a fresh embedded SQLite ledger. Outputs land in
# sample_exports/demo-output/ (the ledger itself in demo-out/, which git ignores).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=sample_exports/demo-output
rm -rf demo-out && mkdir -p demo-out "$OUT"
export TAXREPORT_DB="$PWD/demo-out/demo.sqlite3"
export TAXREPORT_HOME="$PWD/demo-out/home"
tr() { echo; echo "\$ taxreport $*"; "$BIN/taxreport" "$@"; }

echo "== taxreport demo: ledger at $TAXREPORT_DB"
tr import csv sample_exports/demo_trades.csv
tr import csv sample_exports/demo_trades.csv   # again: idempotent, adds nothing
tr ledger list --limit 5
tr ledger verify
tr ledger balances
echo
echo "== demo finished; outputs in $OUT/"
