#!/usr/bin/env bash
# `make demo`: taxreport end to end on a fresh embedded SQLite ledger, in the order a user works:
#   1. ledger     import a year of manual trades (canonical CSV), idempotently; verify the audit chain
#   1b. events    a real-looking OKX history (events CSV): deposit -> review -> ledger basis -> gains
#   2. basket     define a 50/30/20 BTC/ETH/SOL basket; dry-run plan (the worked example)
#   3. rebalance  a year (2024) of weekly paper rebalances; every order and fill lands in the ledger
#   3c/3d. tax    tax preview of a plan; a tax-aware run whose US policies change the trades (loss harvest)
#   4. OKX        reconcile OKX's CSV history of that account against the ledger, then import it
#   5. gains      US 2024 and UK 2024-25 summaries (USD->GBP from the sample rates)
#   6. exports    Koinly, CoinTracker, Form 8949, HMRC computation, XLSX, PDF for both years
#   7. backtest   buy-and-hold vs daily vs weekly vs threshold, before and after tax; weekly vs weekly+tax-aware
#   8. live       a short live run through ccxt's real okx class and HTTP against the local OKX venue
# All sample data is SYNTHETIC (see sample_exports/*/README.md). Outputs land in
# sample_exports/demo-output/; the ledger itself in demo-out/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=sample_exports/demo-output
chmod -R u+w demo-out 2>/dev/null || true
rm -rf demo-out "$OUT" && mkdir -p demo-out "$OUT"
export TAXREPORT_DB="$PWD/demo-out/demo.sqlite3"
export TAXREPORT_HOME="$PWD/demo-out/home"
# Reproducible outputs: every run, on any machine, writes the same bytes to $OUT (the committed files, so the
# tree stays clean). SOURCE_DATE_EPOCH (reproducible-builds.org) is the time the reports and charts say they
# were generated instead of now; TAXREPORT_RECORDED_AT pins the demo ledger's recorded_at (hashed into the
# audit chain the reports show), which follows no other variable: never set it for a ledger of real records.
export SOURCE_DATE_EPOCH=1746057600              # 2025-05-01T00:00:00Z: after both demo tax years
export TAXREPORT_RECORDED_AT=2025-05-01T00:00:00Z
export COLUMNS="${COLUMNS:-120}"
tr() { echo; echo "\$ taxreport $*"; "$BIN/taxreport" "$@"; }
# JSON goes to a file without the echoed command line, so the file stays valid JSON.
tr_json() { local out=$1; shift; echo; echo "\$ taxreport $* > $out"; "$BIN/taxreport" "$@" > "$out"; }
section() { echo; echo "================ $* ================"; }

section "1. ledger: ledger at $TAXREPORT_DB"
tr import csv sample_exports/demo_trades.csv
tr import csv sample_exports/demo_trades.csv   # again: idempotent, adds nothing
tr ledger list --limit 4
tr prices import sample_exports/demo_rates.csv  # SYNTHETIC daily USD->GBP rates for the UK figures
tr ledger verify

section "1b. a real-looking OKX history: deposit -> review -> basis -> trades (SYNTHETIC rows, events CSV)"
# A USDT deposit imported without its cost basis, trades, a withdrawal to Kraken matched to its deposit,
# staking income. review lists what blocks the year with the command that fixes it; gains refuses until then.
tr import csv sample_exports/events/okx-events.csv sample_exports/events/kraken-events.csv
tr prices import sample_exports/events/btc-usd.csv
tr review -j us -y 2024 --peg USDT=USD \
    || echo "(exit status $? — expected: the USDT deposit has no cost basis yet)"
tr gains -j us -y 2024 --peg USDT=USD || echo "(exit status $? — expected: gains points to review)"
tr ledger basis deposit:csv:okx:main/D-2001 --cost 10000 --cost-currency USD --acquired-at 2024-06-03T09:00:00Z
tr review -j us -y 2024 --peg USDT=USD
tr ledger add income --time 2024-09-01T00:00:00Z --account okx:main --asset ETH --quantity 0.002 \
    --kind staking --value 4.90 --value-currency USD --id S-2002

section "2. basket core (50% BTC / 30% ETH / 20% SOL, weekly, 3pp gate) and a dry-run plan"
tr basket create core --weights BTC=50,ETH=30,SOL=20 --mode weekly --force
# The issue's worked example: holdings BTC $5,500 + ETH $2,850 + SOL $2,100 = $10,450, target 50/30/20
# -> SELL $275 of BTC, SELL $10 of SOL, BUY $285 of ETH (no fees here; sells are placed first).
tr rebalance plan --basket core --paper --balances BTC=0.1,ETH=1,SOL=10.5,USDT=0 \
    --prices BTC=55000,ETH=2850,SOL=200 --fee-rate 0
tr_json "$OUT/rebalance-plan.json" rebalance plan --basket core --paper --balances BTC=0.1,ETH=1,SOL=10.5 \
    --prices BTC=55000,ETH=2850,SOL=200 --format json

section "3. a year of weekly paper rebalances (simulated time 2024, seeded price walk)"
# Keep these arguments in step with tests/test_demo_samples.py (the OKX samples are made from this run).
tr basket invest 10000 --basket core --paper --prices BTC=42000,ETH=2300,SOL=100 --at 2024-01-08T00:00:00Z --yes
"$BIN/taxreport" rebalance run --basket core --paper --loop --interval 604800 --checks 50 --walk 6 --seed 7 \
    --at 2024-01-15T00:00:00Z > demo-out/paper-loop.txt
echo; echo "\$ taxreport rebalance run --basket core --paper --loop --interval 604800 --checks 50 --walk 6 --seed 7 --at 2024-01-15T00:00:00Z"
echo "$(grep -c ' skipped (' demo-out/paper-loop.txt) weekly checks skipped inside the 3pp gate," \
     "$(grep -c ' completed (' demo-out/paper-loop.txt) rebalanced; $(tail -n 1 demo-out/paper-loop.txt)"
echo "(full output in demo-out/paper-loop.txt)"
tr basket history --basket core --limit 12
tr_json "$OUT/rebalance-history.json" basket history --basket core --format json
tr basket status --basket core --paper
tr ledger balances --account paper:core

section "3b. two baskets on ONE paper account that also holds 1 BTC of its own (isolation)"
tr basket create alpha --weights BTC=50,ETH=50 --paper-account shared --gate 0 --force
tr basket create beta --weights ETH=50,SOL=50 --paper-account shared --gate 0 --force
tr basket invest 1000 --basket alpha --paper --prices BTC=29500,ETH=2000 --paper-deposit BTC=1 \
    --at 2024-01-08T00:00:00Z --yes
tr basket invest 2000 --basket beta --paper --prices SOL=100 --at 2024-01-08T00:10:00Z --yes
tr rebalance run --basket alpha --paper --prices BTC=36000 --at 2024-01-15T00:00:00Z --yes
tr rebalance run --basket beta --paper --prices SOL=80 --at 2024-01-15T00:10:00Z --yes
tr basket status --basket alpha --paper
tr basket stop --basket alpha --paper --yes --at 2024-01-15T01:00:00Z
tr basket list
tr ledger balances --account paper:shared
echo "(the account still holds its own 1 BTC and all of beta's coins: alpha sold only what it owned)"

section "3c. tax preview: what the next rebalance of that paper basket would cost in US tax"
# The same account with a [tax] table: the sells' lots (chosen to minimise tax, US specific
# identification), gain, term and an ESTIMATED tax at 24%, from the real tax engine over the ledger.
cat > "$TAXREPORT_HOME/config/baskets/core-us.toml" <<'TOML'
name = "core-us"
account = "paper:core"
mode = "weekly"
[weights]
BTC = 50
ETH = 30
SOL = 20
[tax]
jurisdiction = "us"
marginal_rate = 0.24
choose_lots = true
defer_short_term = 30
TOML
CORE_BAL=$("$BIN/taxreport" ledger balances --account paper:core --format json | "$BIN/python" -c \
  'import json,sys; print(",".join(r["asset"] + "=" + r["quantity"] for r in json.load(sys.stdin) if r["asset"] != "USDT"))')
tr rebalance plan --basket core-us --paper --balances "$CORE_BAL" --prices BTC=60000,ETH=2300,SOL=100 --at 2024-12-30

section "3d. a tax-aware RUN: the policies change what the bot trades (US loss harvest, tax budget)"
# A paper basket with every US policy on. Invested at BTC 60,000; a week later BTC is 40,000 (down 33%).
# `rebalance plan` shows the plan the policies make and why; `rebalance run` trades exactly that plan
# (the same function): the rebalance sells ETH and buys BTC, and harvest_losses adds a sale of the losing
# BTC lot and its rebuy (no wash-sale rule for crypto in the US, IRC §1091), the lot identified at the sale.
cat > "$TAXREPORT_HOME/config/baskets/taxed.toml" <<'TOML'
name = "taxed"
account = "paper:taxed"
mode = "weekly"
[weights]
BTC = 50
ETH = 50
[tax]
jurisdiction = "us"
marginal_rate = 0.24
choose_lots = true
defer_short_term = 30
tax_budget = 0.5
harvest_losses = 20
TOML
tr basket invest 10000 --basket taxed --paper --prices BTC=60000,ETH=3000 --at 2024-01-08T00:00:00Z --yes
TAXED_BAL=$("$BIN/taxreport" ledger balances --account paper:taxed --format json | "$BIN/python" -c \
  'import json,sys; print(",".join(r["asset"] + "=" + r["quantity"] for r in json.load(sys.stdin)))')
TAXED_CASH=$("$BIN/taxreport" ledger balances --account paper:taxed --format json | "$BIN/python" -c \
  'import json,sys; print(next((r["quantity"] for r in json.load(sys.stdin) if r["asset"] == "USDT"), "0"))')
tr rebalance plan --basket taxed --paper --balances "$TAXED_BAL" --invest "$TAXED_CASH" \
    --prices BTC=40000,ETH=3000 --at 2024-01-15T00:00:00Z
tr rebalance run --basket taxed --paper --prices BTC=40000,ETH=3000 --at 2024-01-15T00:00:00Z
echo; echo "\$ taxreport ledger list --kind record --account paper:taxed --format json   # the run's rebalance.plan audit record"
"$BIN/taxreport" ledger list --kind record --account paper:taxed --format json | "$BIN/python" -c '
import json, sys
for e in json.load(sys.stdin):
    if e["record_type"] == "rebalance.plan" and e["data"].get("tax", {}).get("decisions"):
        t = e["data"]["tax"]
        print(e["key"], "changed_by_policies:", t["changed_by_policies"], "| realised", t["realised_gain"], t["currency"])
        for d in t["decisions"]:
            print("  decision:", d["policy"], d["action"], d["asset"] or "")
        for o in t["orders"]:
            print("  sell", o["asset"], o["quantity"], "lots", [(lot["acquired"], lot["quantity"]) for lot in o["lots"]])'

tr gains --jurisdiction us --year 2024 --peg USDT=USD --include-simulated --account paper:taxed

section "4. OKX: reconcile OKX's CSV history against the ledger, then import it"
# sample_exports/okx holds SYNTHETIC OKX exports (real T4/F2 layouts, UTC+8 metadata line) of this paper
# account with three deliberate differences: a fill missing, a manual trade added, one fee raised.
OKX=(sample_exports/okx/okx-trading-history.csv sample_exports/okx/okx-funding-history.csv)
tr reconcile okx "${OKX[@]}" --account paper:core --out "$OUT/reconcile-okx.csv" \
    || echo "(exit status $? — expected: reconcile names each deliberate difference and fails the gate)"
tr import okx "${OKX[@]}" --account paper:core    # the bot's own fills are recognised, not doubled
tr import okx "${OKX[@]}" --account paper:core --no-show-ignored   # again: adds nothing

section "4b. real-shaped OKX exports (separate ledger demo-out/okx-real.sqlite3)"
# Real published rows (sample_exports/okx/real) and SYNTHETIC files in OKX's current layouts: the
# 22-column Trading History with a Convert row, a funding export with a BOM on every line, an Amount-EUR
# column, Simple Earn, Deposit yield and dust. OKX's 1e-8 roundings and the gap in its own balance
# chain are reported; Simple Earn moves become transfers to okx:real:earn; importing again adds nothing.
REAL=(sample_exports/okx/okx-trading-22col.csv sample_exports/okx/okx-funding-earn.csv
      sample_exports/okx/real/everytrade-t4-ada-sell.csv sample_exports/okx/real/everytrade-f2-btc.csv)
tr --db "sqlite:///$PWD/demo-out/okx-real.sqlite3" import okx "${REAL[@]}" --account okx:real
tr --db "sqlite:///$PWD/demo-out/okx-real.sqlite3" import okx "${REAL[@]}" --account okx:real --no-show-ignored
tr --db "sqlite:///$PWD/demo-out/okx-real.sqlite3" ledger balances

section "5. capital gains: US 2024 and UK 2024-25"
# The paper basket (paper:core) is SIMULATED: left out of every tax figure below (add --include-simulated
# to see it, marked SIMULATED). These figures are the imported kraken:main and okx:main histories.
# The paper basket trades against USDT: value it 1:1 in USD, explicitly (never assumed silently).
tr gains --jurisdiction us --year 2024 --peg USDT=USD
tr gains --jurisdiction uk --year 2024-25 --via USD --peg USDT=USD
tr gains --jurisdiction us --year all --peg USDT=USD  # every tax year of the ledger in one command, with totals
tr_json "$OUT/gains-us-2024.json" gains --jurisdiction us --year 2024 --peg USDT=USD --format json
tr_json "$OUT/gains-uk-2024-25.json" gains --jurisdiction uk --year 2024-25 --via USD --peg USDT=USD --format json
# Issue 14: the same call again on the unchanged ledger prints the document stored by the first one (the derived
# cache, keyed by the verified ledger state; any write, even a row edited behind the chain, makes it a miss):
# the same bytes, with no ledger read and no recomputation.
echo; echo "\$ taxreport gains --jurisdiction us --year 2024 --peg USDT=USD --format json   # again, unchanged ledger"
t0=$(date +%s%N)
"$BIN/taxreport" gains --jurisdiction us --year 2024 --peg USDT=USD --format json > demo-out/gains-us-2024.again.json
t1=$(date +%s%N)
cmp "$OUT/gains-us-2024.json" demo-out/gains-us-2024.again.json
echo "same bytes as the first call, in $(( (t1 - t0) / 1000000 )) ms (served from the derived cache)"
# Issue 14, round 4: the first computing call on this ledger state walked and hashed the whole chain and left a
# verified-state record under that state; the later computing calls on it (the UK year, `--year all`) read the
# payloads without hashing again (taxreport/ledger/derived.py, "A verified state"; `ledger verify` always walks).
echo "verified-state records in the derived cache: $(find "$TAXREPORT_HOME/cache" -name '*.verified' | wc -l)"

section "6. year-end exports"
tr export all --year 2024 --jurisdiction us --peg USDT=USD --out "$OUT" \
    --reconcile-okx "${OKX[0]}" --reconcile-okx "${OKX[1]}" --reconcile-account paper:core
tr export all --year 2024-25 --jurisdiction uk --via USD --peg USDT=USD --out "$OUT" \
    --reconcile-okx "${OKX[0]}" --reconcile-okx "${OKX[1]}" --reconcile-account paper:core

section "6b. Koinly round trip: the US 2024 Koinly file into an empty ledger gives the same gains"
KDB="sqlite:///$PWD/demo-out/koinly-roundtrip.sqlite3"
tr --db "$KDB" import koinly "$OUT/koinly-2024.csv"
# the same rates as the demo ledger: every sample rate file the steps above imported
for rates in sample_exports/demo_rates.csv sample_exports/*/*-usd.csv; do
  if [ -e "$rates" ]; then tr --db "$KDB" prices import "$rates"; fi
done
for db in "sqlite:///$TAXREPORT_DB" "$KDB"; do
  echo; echo "\$ taxreport --db ${db##*/} gains --jurisdiction us --year 2024 --peg USDT=USD --format json  # total gain"
  "$BIN/taxreport" --db "$db" gains --jurisdiction us --year 2024 --peg USDT=USD --format json > demo-out/roundtrip.json
  "$BIN/python" -c 'import json; d=json.load(open("demo-out/roundtrip.json")); print("gain", d["gain"], "over", len(d["disposals"]), "disposals")'
done

section "7. backtest on the SYNTHETIC price set: which rebalancing frequency, before and after tax?"
tr prices import sample_exports/prices/synthetic_ohlcv_1d.csv --source synthetic  # OHLCV: recognised by its header
BASKET="$TAXREPORT_HOME/config/baskets/core.toml"
tr backtest --basket "$BASKET" --from 2023-01-01 --to 2024-12-31 \
    --compare buy-and-hold,daily,weekly,threshold:5,hybrid:weekly:5 --fee-rate 0.001 --slippage 0.0005 \
    --jurisdiction us,uk --fx GBP=0.79 --out "$OUT/backtest"
tr_json "$OUT/backtest.json" backtest --basket "$BASKET" --from 2023-01-01 --to 2024-12-31 \
    --compare buy-and-hold,daily,weekly,threshold:5,hybrid:weekly:5 --fee-rate 0.001 --slippage 0.0005 \
    --jurisdiction us,uk --fx GBP=0.79 --format json
# Naive weekly versus tax-aware weekly: the tax-aware row is replayed once per country through the same
# policy code as rebalance plan/run (tax budget, deferral, allowance, US loss harvest, lots chosen at sale):
tr backtest --basket "$BASKET" --from 2023-01-01 --to 2024-12-31 --compare weekly,weekly+tax-aware \
    --initial 100000 --fee-rate 0.001 --slippage 0.0005 --jurisdiction us,uk,de,au --fx GBP=0.79 --fx EUR=0.92 \
    --fx AUD=1.5

section "8. live on the local OKX venue (ccxt's real okx class over HTTP; injected faults)"
# `taxreport venue okx` speaks OKX's v5 REST API on 127.0.0.1 (free port), keeps its books in
# demo-out/okx-venue and writes its generated API keys to okx-venue/okx.env. It is stopped below.
VENUE=demo-out/okx-venue
echo; echo "\$ taxreport venue okx --state $VENUE --fund USDT=10000 --faults drop_response=0.05,rate_limit=0.05,fill_lag=0.5 &"
"$BIN/taxreport" venue okx --state "$VENUE" --port 0 --fund USDT=10000 --seed 3 \
    --faults drop_response=0.05,rate_limit=0.05,fill_lag=0.5 2> demo-out/venue.log &
VENUE_PID=$!
trap 'kill "$VENUE_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$VENUE/url" ] && break; sleep 0.1; done
URL=$(cat "$VENUE/url")
# shellcheck disable=SC1091
source "$VENUE/okx.env"   # TAXREPORT_OKX_API_KEY/_SECRET/_PASSWORD of the venue (never printed)
printf 'name = "rehearsal"\nexchange = "okx"\naccount = "okx:rehearsal"\napi_url = "%s"\ngate = 0\n[weights]\nBTC = 50\nETH = 30\nSOL = 20\n' \
    "$URL" > demo-out/rehearsal.toml
echo "(basket demo-out/rehearsal.toml: api_url = \"$URL\"; --exchange-url or TAXREPORT_EXCHANGE_URL work too)"
tr basket invest 1000 --basket demo-out/rehearsal.toml --live --yes --fill-timeout 2 --reprices 1
tr basket status --basket demo-out/rehearsal.toml --live
# a stop whose sale does not fully fill leaves the basket running (it says so); stopping again sells the rest
tr basket stop --basket demo-out/rehearsal.toml --live --yes --fill-timeout 2 --reprices 1 --market-finish \
  || tr basket stop --basket demo-out/rehearsal.toml --live --yes --fill-timeout 2 --reprices 1 --market-finish \
  || tr basket stop --basket demo-out/rehearsal.toml --live --yes --fill-timeout 2 --reprices 1 --market-finish
kill "$VENUE_PID"; wait "$VENUE_PID" 2>/dev/null || true; trap - EXIT
echo; echo "\$ taxreport venue okx --state $VENUE --show   # the venue's own books (summarised)"
"$BIN/taxreport" venue okx --state "$VENUE" --show > demo-out/venue-books.json
"$BIN/python" -c 'import json,sys; b=json.load(open(sys.argv[1])); print(len(b["orders"]), "venue orders,", len(b["fills"]), "fills; balances", b["balances"])' demo-out/venue-books.json
tr ledger list --kind trade --account okx:rehearsal --limit 6
# the venue's own record as OKX's Trading history export, and the ledger reconciled against it
echo; echo "\$ taxreport venue okx --state $VENUE --export-trades demo-out/venue-trades.csv --export-funding demo-out/venue-funding.csv"
"$BIN/taxreport" venue okx --state "$VENUE" --export-trades demo-out/venue-trades.csv --export-funding demo-out/venue-funding.csv
tr reconcile okx demo-out/venue-trades.csv --basket demo-out/rehearsal.toml

section "the audit chain after everything"
tr ledger verify

section "an accountant's read-only copy of the ledger (read-only folder and file): verified and reported from"
mkdir -p demo-out/accountant && cp "$TAXREPORT_DB" demo-out/accountant/ledger.sqlite3
chmod 444 demo-out/accountant/ledger.sqlite3 && chmod 555 demo-out/accountant
tr --db demo-out/accountant/ledger.sqlite3 ledger verify
tr --db demo-out/accountant/ledger.sqlite3 gains -j us -y 2024 --peg USDT=USD  # the paper basket trades against USDT
chmod 755 demo-out/accountant
echo
echo "== demo finished; outputs in $OUT/:"
ls -1 "$OUT" "$OUT/backtest"
