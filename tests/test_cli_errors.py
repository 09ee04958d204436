"""CLI quality sweep: every command in the tree (lazy groups included) has ``--help`` with an
Examples block, and typical user mistakes (a missing file, a directory, garbage content, a bad date,
an unknown jurisdiction/basket/asset, a negative or non-numeric amount, an empty ledger) end with a
non-zero exit, an ``error:`` line (or click's usage error) and never an unhandled exception.

Nothing here touches the network: ``prices fetch``, ``prices candles fetch``, ``--live`` and
``--sandbox`` appear only in cases that fail before any exchange is contacted."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from taxreport.cli.main import root

SAMPLES = Path(__file__).parent.parent / "sample_exports"
GARBAGE = "\x00\x01garbage;;;\n\xff\xfe not,a,real,header\n1,2\n"


def _walk(cmd: click.Command, path: list[str], ctx: click.Context):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path + [name])} is listed but cannot be loaded"
            yield from _walk(sub, path + [name], click.Context(sub, info_name=name, parent=ctx))


COMMAND_PATHS = [p for p, _ in _walk(root, [], click.Context(root, info_name="taxreport"))]


def test_the_tree_has_every_group_and_its_subcommands():
    names = {" ".join(p) for p in COMMAND_PATHS}
    for expected in ("ledger add", "import okx", "prices candles import", "gains", "basket invest",
                     "rebalance run", "reconcile okx", "export pdf", "backtest"):
        assert expected in names
    assert len(names) >= 40


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "taxreport")
def test_help_exits_zero_with_examples(path):
    result = CliRunner().invoke(root, [*path, "--help"], catch_exceptions=True)
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Example" in result.output, f"`taxreport {' '.join(path)} --help` has no Examples block"


def _examples(path: list[str]) -> list[str]:
    out = CliRunner().invoke(root, [*path, "--help"]).output
    block = out[out.find("Example"):].split("\n\n")[0].replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in block.splitlines()[1:]
            if line.strip().startswith("taxreport ")]


EXAMPLES = sorted({(" ".join(p), ex) for p in COMMAND_PATHS for ex in _examples(p)})


@pytest.mark.parametrize("where,example", EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_every_help_example_parses(where, example):
    """Each example's options and arguments are accepted by the command line parser (nothing runs;
    files the example names need not exist)."""
    words = shlex.split(example)[1:]
    try:
        ctx = root.make_context("taxreport", list(words))
        command = root
        while isinstance(command, click.Group):
            pending = [*getattr(ctx, "_protected_args", []), *ctx.args]
            name, command, rest = command.resolve_command(ctx, pending)
            assert command is not None, example
            ctx = command.make_context(name, rest, parent=ctx)
    except click.UsageError as exc:
        if "does not exist" not in str(exc):
            pytest.fail(f"example in `{where} --help` does not parse: {example}\n{exc}")


# ---------------------------------------------------------------------------------------------------
# User mistakes. Placeholders: {missing} a path that does not exist, {dir} a directory, {garbage} a
# file of binary/CSV junk, {empty} an empty file. ``needs``: "basket" creates a paper basket ``core``
# first, "data" imports two trades into the ledger first.

CASES: list[tuple[str, list[str], str | None]] = [
    # ledger
    ("ledger add bad time", ["ledger", "add", "--time", "yesterday", "--account", "k:main", "--side", "buy",
                             "--base", "BTC", "--quote", "USD", "--quantity", "1", "--price", "100"], None),
    ("ledger add negative quantity", ["ledger", "add", "--time", "2024-03-01T12:00:00Z", "--account", "k:main",
                                      "--side", "buy", "--base", "BTC", "--quote", "USD", "--quantity", "-1",
                                      "--price", "100"], None),
    ("ledger add non-numeric price", ["ledger", "add", "--time", "2024-03-01T12:00:00Z", "--account", "k:main",
                                      "--side", "buy", "--base", "BTC", "--quote", "USD", "--quantity", "1",
                                      "--price", "abc"], None),
    ("ledger add bad fee", ["ledger", "add", "--time", "2024-03-01T12:00:00Z", "--account", "k:main",
                            "--side", "buy", "--base", "BTC", "--quote", "USD", "--quantity", "1",
                            "--price", "100", "--fee", "1e", "--fee-asset", "USD"], None),
    ("ledger add bad side", ["ledger", "add", "--time", "2024-03-01T12:00:00Z", "--account", "k:main",
                             "--side", "hold", "--base", "BTC", "--quote", "USD", "--quantity", "1",
                             "--price", "100"], None),
    ("ledger list bad from", ["ledger", "list", "--from", "yesterday"], None),
    ("ledger list bad to", ["ledger", "list", "--to", "20x4-01-01"], None),
    ("ledger list bad limit", ["ledger", "list", "--limit", "-3"], None),
    ("ledger balances bad at", ["ledger", "balances", "--at", "20x4"], None),
    ("ledger reverse unknown key", ["ledger", "reverse", "trade:manual:nope", "--reason", "typo"], None),
    # import
    ("import csv missing file", ["import", "csv", "{missing}", "--account", "k:main"], None),
    ("import csv directory", ["import", "csv", "{dir}", "--account", "k:main"], None),
    ("import csv garbage", ["import", "csv", "{garbage}", "--account", "k:main"], None),
    ("import csv empty file", ["import", "csv", "{empty}", "--account", "k:main"], None),
    ("import okx missing file", ["import", "okx", "{missing}"], None),
    ("import okx directory", ["import", "okx", "{dir}"], None),
    ("import okx garbage", ["import", "okx", "{garbage}"], None),
    ("import okx empty file", ["import", "okx", "{empty}"], None),
    ("import mapped missing mapping", ["import", "mapped", "{garbage}", "--mapping", "{missing}",
                                       "--account", "k:main"], None),
    ("import mapped garbage mapping", ["import", "mapped", "{garbage}", "--mapping", "{garbage}",
                                       "--account", "k:main"], None),
    ("import mapped directory mapping", ["import", "mapped", "{garbage}", "--mapping", "{dir}",
                                         "--account", "k:main"], None),
    ("import mapped garbage file", ["import", "mapped", "{garbage}", "--mapping", "{mapping}",
                                    "--account", "k:main"], None),
    ("import mapped directory file", ["import", "mapped", "{dir}", "--mapping", "{mapping}",
                                      "--account", "k:main"], None),
    # prices
    ("prices import missing file", ["prices", "import", "{missing}"], None),
    ("prices import directory", ["prices", "import", "{dir}"], None),
    ("prices import garbage", ["prices", "import", "{garbage}"], None),
    ("prices import empty file", ["prices", "import", "{empty}"], None),
    ("prices fetch bad since", ["prices", "fetch", "--exchange", "okx", "--symbol", "BTC/USDT",
                                "--since", "yesterday"], None),
    ("prices candles import missing", ["prices", "candles", "import", "{missing}"], None),
    ("prices candles import directory", ["prices", "candles", "import", "{dir}"], None),
    ("prices candles import garbage", ["prices", "candles", "import", "{garbage}"], None),
    ("prices candles import empty", ["prices", "candles", "import", "{empty}"], None),
    ("prices candles fetch bad since", ["prices", "candles", "fetch", "--symbols", "BTC/USDT",
                                        "--since", "yesterday"], None),
    ("prices candles fetch bad timeframe", ["prices", "candles", "fetch", "--symbols", "BTC/USDT",
                                            "--since", "2024-01-01", "--timeframe", "7q"], None),
    # gains
    ("gains bad year", ["gains", "-j", "us", "-y", "20x4"], None),
    ("gains unknown jurisdiction", ["gains", "-j", "xx", "-y", "2024"], None),
    ("gains unknown method", ["gains", "-j", "us", "-y", "2024", "--method", "nosuch"], None),
    ("gains bad currency", ["gains", "-j", "us", "-y", "2024", "--currency", "NOTACOIN"], "data"),
    ("gains missing lots file", ["gains", "-j", "us", "-y", "2024", "--method", "specific",
                                 "--lots", "{missing}"], None),
    ("gains garbage lots file", ["gains", "-j", "us", "-y", "2024", "--method", "specific",
                                 "--lots", "{garbage}"], "data"),
    ("gains bad peg", ["gains", "-j", "us", "-y", "2024", "--peg", "USDT"], None),
    ("gains bad universal-until", ["gains", "-j", "us", "-y", "2024", "--universal-until", "yesterday"], None),
    ("gains bad option", ["gains", "-j", "us", "-y", "2024", "--option", "nonsense"], None),
    ("gains bad timezone", ["gains", "-j", "us", "-y", "2024", "--timezone", "Mars/Olympus"], None),
    # export
    ("export koinly bad year", ["export", "koinly", "--year", "20x4", "--out", "{out}/k.csv"], None),
    ("export koinly unknown jurisdiction", ["export", "koinly", "--year", "2024", "-j", "xx",
                                            "--out", "{out}/k.csv"], None),
    ("export koinly out is a file's child", ["export", "koinly", "--year", "2024",
                                             "--out", "{garbage}/k.csv"], "data"),
    ("export cointracker bad year", ["export", "cointracker", "--year", "20x4", "--out", "{out}/c.csv"], None),
    ("export form8949 bad year", ["export", "form8949", "--year", "20x4", "--out", "{out}/f.csv"], None),
    ("export form8949 unknown method", ["export", "form8949", "--year", "2024", "--method", "nosuch",
                                        "--out", "{out}/f.csv"], None),
    ("export form8949 wrong jurisdiction", ["export", "form8949", "--year", "2024", "-j", "uk",
                                            "--out", "{out}/f.csv"], None),
    ("export hmrc bad year", ["export", "hmrc", "--year", "20x4", "--out", "{out}/h.csv"], None),
    ("export hmrc wrong jurisdiction", ["export", "hmrc", "--year", "2024", "-j", "us",
                                       "--out", "{out}/h.csv"], None),
    ("export xlsx unknown jurisdiction", ["export", "xlsx", "--year", "2024", "-j", "xx",
                                          "--out", "{out}/x.xlsx"], None),
    ("export xlsx bad year", ["export", "xlsx", "--year", "20x4", "-j", "us", "--out", "{out}/x.xlsx"], None),
    ("export pdf bad year", ["export", "pdf", "--year", "20x4", "-j", "us", "--out", "{out}/p.pdf"], None),
    ("export pdf garbage reconcile file", ["export", "pdf", "--year", "2024", "-j", "us",
                                           "--reconcile-okx", "{garbage}", "--out", "{out}/p.pdf"], "data"),
    ("export all bad year", ["export", "all", "--year", "20x4", "-j", "us", "--out", "{out}"], None),
    ("export all unknown jurisdiction", ["export", "all", "--year", "2024", "-j", "xx", "--out", "{out}"], None),
    ("export all out is a file", ["export", "all", "--year", "2024", "-j", "us", "--out", "{garbage}"], "data"),
    # basket
    ("basket create non-numeric weight", ["basket", "create", "b1", "--weights", "BTC=abc,ETH=50"], None),
    ("basket create negative weight", ["basket", "create", "b1", "--weights", "BTC=-50,ETH=150"], None),
    ("basket create weights not 100", ["basket", "create", "b1", "--weights", "BTC=50,ETH=20"], None),
    ("basket create garbage weights", ["basket", "create", "b1", "--weights", "BTC"], None),
    ("basket create unknown asset", ["basket", "create", "b1", "--weights", "NOT_A_COIN!=50,ETH=50"], None),
    ("basket create bad threshold", ["basket", "create", "b1", "--weights", "BTC=50,ETH=50",
                                     "--mode", "threshold", "--threshold", "-5"], None),
    ("basket create bad daily-at", ["basket", "create", "b1", "--weights", "BTC=50,ETH=50",
                                    "--mode", "daily", "--daily-at", "25:99"], None),
    ("basket create bad weekly-on", ["basket", "create", "b1", "--weights", "BTC=50,ETH=50",
                                     "--mode", "weekly", "--weekly-on", "funday"], None),
    ("basket create bad min-notional", ["basket", "create", "b1", "--weights", "BTC=50,ETH=50",
                                        "--min-notional", "ten"], None),
    ("basket create garbage markets", ["basket", "create", "b1", "--weights", "BTC=50,ETH=50",
                                       "--markets", "{garbage}", "--check-markets"], None),
    ("basket create file under a file", ["basket", "create", "b1", "--weights", "BTC=50,ETH=50",
                                         "--file", "{garbage}/b1.toml"], None),
    ("basket create exists", ["basket", "create", "core", "--weights", "BTC=50,ETH=50"], "basket"),
    ("basket show unknown", ["basket", "show", "nosuch"], None),
    ("basket show garbage file", ["basket", "show", "{garbage}"], None),
    ("basket show directory", ["basket", "show", "{dir}"], None),
    ("basket history unknown", ["basket", "history", "--basket", "nosuch"], None),
    ("basket status unknown", ["basket", "status", "--basket", "nosuch", "--paper"], None),
    ("basket status no paper state", ["basket", "status", "--basket", "core", "--paper"], "basket"),
    ("basket status no venue", ["basket", "status", "--basket", "core"], "basket"),
    ("basket status bad at", ["basket", "status", "--basket", "core", "--paper", "--at", "yesterday"], "basket"),
    ("basket invest non-numeric", ["basket", "invest", "lots", "--basket", "core", "--paper",
                                   "--prices", "BTC=60000,ETH=3000,SOL=150"], "basket"),
    ("basket invest negative", ["basket", "invest", "--basket", "core", "--paper",
                                "--prices", "BTC=60000,ETH=3000,SOL=150", "--", "-100"], "basket"),
    ("basket invest zero", ["basket", "invest", "0", "--basket", "core", "--paper",
                            "--prices", "BTC=60000,ETH=3000,SOL=150"], "basket"),
    ("basket invest bad price", ["basket", "invest", "100", "--basket", "core", "--paper",
                                 "--prices", "BTC=abc"], "basket"),
    ("basket invest negative price", ["basket", "invest", "100", "--basket", "core", "--paper",
                                      "--prices", "BTC=-1,ETH=3000,SOL=150"], "basket"),
    ("basket invest unknown asset price", ["basket", "invest", "100", "--basket", "core", "--paper",
                                           "--prices", "DOGE=1"], "basket"),
    ("basket invest garbage paper state", ["basket", "invest", "100", "--basket", "core", "--paper",
                                           "--paper-state", "{garbage}"], "basket"),
    ("basket invest live declined", ["basket", "invest", "100", "--basket", "core", "--live"], "basket"),
    ("basket invest paper and live", ["basket", "invest", "100", "--basket", "core", "--paper",
                                      "--live"], "basket"),
    ("basket stop unknown", ["basket", "stop", "--basket", "nosuch", "--paper", "--yes"], None),
    ("basket stop no paper state", ["basket", "stop", "--basket", "core", "--paper", "--yes"], "basket"),
    ("basket stop never started", ["basket", "stop", "--basket", "core", "--paper", "--yes",
                                   "--prices", "BTC=60000,ETH=3000,SOL=150"], "basket"),
    ("basket stop live declined", ["basket", "stop", "--basket", "core", "--live"], "basket"),
    # rebalance
    ("rebalance plan unknown basket", ["rebalance", "plan", "--basket", "nosuch", "--paper",
                                       "--balances", "BTC=1", "--prices", "BTC=1"], None),
    ("rebalance plan bad balance", ["rebalance", "plan", "--basket", "core", "--paper",
                                    "--balances", "BTC=abc", "--prices", "BTC=60000,ETH=3000,SOL=150"], "basket"),
    ("rebalance plan negative balance", ["rebalance", "plan", "--basket", "core", "--paper", "--balances",
                                         "BTC=-1,USDT=10", "--prices", "BTC=60000,ETH=3000,SOL=150"], "basket"),
    ("rebalance plan negative price", ["rebalance", "plan", "--basket", "core", "--paper", "--balances",
                                       "USDT=1000", "--prices", "BTC=-60000,ETH=3000,SOL=150"], "basket"),
    ("rebalance plan missing prices", ["rebalance", "plan", "--basket", "core", "--paper",
                                       "--balances", "USDT=1000"], "basket"),
    ("rebalance plan bad fee rate", ["rebalance", "plan", "--basket", "core", "--paper", "--balances",
                                     "USDT=1000", "--prices", "BTC=60000,ETH=3000,SOL=150",
                                     "--fee-rate", "-0.1"], "basket"),
    ("rebalance plan garbage markets", ["rebalance", "plan", "--basket", "core", "--paper", "--balances",
                                        "USDT=1000", "--prices", "BTC=60000,ETH=3000,SOL=150",
                                        "--markets", "{garbage}"], "basket"),
    ("rebalance plan bad invest", ["rebalance", "plan", "--basket", "core", "--paper", "--balances",
                                   "USDT=1000", "--prices", "BTC=60000,ETH=3000,SOL=150",
                                   "--invest", "much"], "basket"),
    ("rebalance run unknown basket", ["rebalance", "run", "--basket", "nosuch", "--paper"], None),
    ("rebalance run no mode", ["rebalance", "run", "--basket", "core"], "basket"),
    ("rebalance run bad paper balances", ["rebalance", "run", "--basket", "core", "--paper",
                                          "--paper-balances", "USDT=ten",
                                          "--prices", "BTC=60000,ETH=3000,SOL=150"], "basket"),
    ("rebalance run bad at", ["rebalance", "run", "--basket", "core", "--paper", "--paper-balances",
                              "USDT=1000", "--prices", "BTC=60000,ETH=3000,SOL=150", "--at", "20x4"], "basket"),
    ("rebalance run bad walk", ["rebalance", "run", "--basket", "core", "--paper", "--paper-balances",
                                "USDT=1000", "--prices", "BTC=60000,ETH=3000,SOL=150", "--walk", "far"], "basket"),
    ("rebalance run garbage paper state", ["rebalance", "run", "--basket", "core", "--paper",
                                           "--paper-state", "{garbage}"], "basket"),
    ("rebalance run no prices", ["rebalance", "run", "--basket", "core", "--paper",
                                 "--paper-balances", "USDT=1000"], "basket"),
    ("rebalance run live declined", ["rebalance", "run", "--basket", "core", "--live"], "basket"),
    # reconcile
    ("reconcile okx missing file", ["reconcile", "okx", "{missing}", "--account", "okx:main"], None),
    ("reconcile okx directory", ["reconcile", "okx", "{dir}", "--account", "okx:main"], None),
    ("reconcile okx garbage", ["reconcile", "okx", "{garbage}", "--account", "okx:main"], None),
    ("reconcile okx no files", ["reconcile", "okx", "--account", "okx:main"], None),
    ("reconcile okx bad from", ["reconcile", "okx", "{okx}", "--account", "okx:main", "--from", "yesterday"], None),
    ("reconcile okx bad tolerance", ["reconcile", "okx", "{okx}", "--account", "okx:main",
                                     "--tolerance", "abc"], None),
    ("reconcile okx negative tolerance", ["reconcile", "okx", "{okx}", "--account", "okx:main",
                                          "--tolerance", "-1"], None),
    ("reconcile okx unknown basket", ["reconcile", "okx", "{okx}", "--basket", "nosuch"], None),
    ("reconcile okx csv under a file", ["reconcile", "okx", "{okx}", "--account", "okx:main",
                                        "--csv", "{garbage}/r.csv"], None),
    # backtest
    ("backtest unknown basket", ["backtest", "--basket", "nosuch"], None),
    ("backtest empty ledger", ["backtest", "--basket", "core"], "basket"),
    ("backtest bad from", ["backtest", "--basket", "core", "--from", "yesterday"], "basket"),
    ("backtest unknown strategy", ["backtest", "--basket", "core", "--compare", "nosuch"], "basket"),
    ("backtest bad fee rate", ["backtest", "--basket", "core", "--compare", "weekly", "--fee-rate", "-1"],
     "candles"),
    ("backtest bad slippage", ["backtest", "--basket", "core", "--compare", "weekly", "--slippage", "2"],
     "candles"),
    ("backtest negative gate", ["backtest", "--basket", "core", "--compare", "weekly", "--gate", "-3"], "candles"),
    ("backtest unknown method", ["backtest", "--basket", "core", "--compare", "weekly", "--method", "nosuch"],
     "candles"),
    ("backtest unknown jurisdiction with data", ["backtest", "--basket", "core", "--compare", "weekly",
                                                 "--jurisdiction", "us,xx"], "candles"),
    ("backtest garbage markets with data", ["backtest", "--basket", "core", "--compare", "weekly",
                                            "--markets", "{garbage}"], "candles"),
    ("backtest period without candles", ["backtest", "--basket", "core", "--compare", "weekly",
                                         "--from", "2030-01-01"], "candles"),
    ("backtest to before from", ["backtest", "--basket", "core", "--from", "2024-05-01", "--to", "2024-01-01"],
     "candles"),
    ("backtest non-numeric initial", ["backtest", "--basket", "core", "--initial", "lots"], "basket"),
    ("backtest unknown jurisdiction", ["backtest", "--basket", "core", "--jurisdiction", "xx"], "basket"),
    ("backtest bad fx", ["backtest", "--basket", "core", "--fx", "GBP"], "basket"),
    ("backtest garbage prices file", ["backtest", "--basket", "core", "--prices", "{garbage}"], "basket"),
    ("backtest garbage markets", ["backtest", "--basket", "core", "--markets", "{garbage}"], "basket"),
]

TRADES = ("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
          "2024-01-05T10:00:00Z,k:main,buy,BTC,USD,1,40000,10,USD,t1\n"
          "2024-06-05T10:00:00Z,k:main,sell,BTC,USD,0.5,60000,10,USD,t2\n")
MAPPING = """\
[mapping]
name = "test"
version = 1
"""


@pytest.fixture
def env(tmp_path):
    folder = tmp_path / "a-directory"
    folder.mkdir()
    (folder / "inside.csv").write_text("x\n")
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(GARBAGE.encode("latin-1"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING)
    out = tmp_path / "out"
    out.mkdir()
    okx = SAMPLES / "okx" / "okx-trading-history.csv"
    return {"db": str(tmp_path / "ledger.sqlite3"), "missing": str(tmp_path / "no-such-file.csv"),
            "dir": str(folder), "garbage": str(garbage), "empty": str(empty), "mapping": str(mapping),
            "out": str(out), "okx": str(okx), "tmp": tmp_path}


def invoke(env, args, input=None):  # noqa: A002
    return CliRunner().invoke(root, ["--db", env["db"], *args], input=input, catch_exceptions=True)


def _assert_clean_failure(result, args):
    shown = f"args={args}\nexit={result.exit_code}\noutput:\n{result.output}\nexception={result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert result.exit_code != 0, shown
    out = result.output
    assert "error" in out.lower() or "Usage:" in out or "Aborted" in out, shown
    assert "Traceback" not in out, shown
    if "error:" in out and "Usage:" not in out:
        lines = [line for line in out.splitlines() if line.strip()]
        errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
        assert len(errors) == 1, shown
        assert "error:" in result.stderr and "error:" not in result.stdout, shown  # scripts read stdout
        # one error line; only a list of gaps (MissingDataError) may follow it, indented
        assert all(line.startswith(" ") for line in lines[errors[0] + 1:]), shown


@pytest.mark.parametrize("name,args,needs", CASES, ids=[c[0] for c in CASES])
def test_user_mistake_is_one_clean_error(env, name, args, needs):
    if needs in ("basket", "candles"):
        made = invoke(env, ["basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--mode", "weekly"])
        assert made.exit_code == 0, made.output
    if needs == "candles":
        done = invoke(env, ["prices", "candles", "import", str(SAMPLES / "prices" / "synthetic_ohlcv_1d.csv"),
                            "--source", "synthetic"])
        assert done.exit_code == 0, done.output
    if needs == "data":
        trades = env["tmp"] / "trades.csv"
        trades.write_text(TRADES)
        done = invoke(env, ["import", "csv", str(trades), "--account", "k:main"])
        assert done.exit_code == 0, done.output
    filled = [a.format(**env) for a in args]
    result = invoke(env, filled, input="n\n")
    _assert_clean_failure(result, filled)


# ---------------------------------------------------------------------------------------------------
# A database that cannot be opened.

def test_db_that_is_not_sqlite_is_one_line(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a database, just some notes\n" * 50)
    result = CliRunner().invoke(root, ["--db", str(bogus), "ledger", "list"], catch_exceptions=True)
    _assert_clean_failure(result, ["--db", str(bogus)])
    assert "cannot open the ledger" in result.output


def test_db_that_is_a_directory_is_one_line(tmp_path):
    result = CliRunner().invoke(root, ["--db", str(tmp_path), "ledger", "list"], catch_exceptions=True)
    _assert_clean_failure(result, ["--db", str(tmp_path)])


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores permissions")
def test_db_in_a_directory_without_permission_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR)
    try:
        target = locked / "sub" / "ledger.sqlite3"
        result = CliRunner().invoke(root, ["--db", str(target), "ledger", "list"], catch_exceptions=True)
        _assert_clean_failure(result, ["--db", str(target)])
        result = CliRunner().invoke(root, ["--db", f"sqlite:///{target}", "ledger", "list"],
                                    catch_exceptions=True)
        _assert_clean_failure(result, ["--db", f"sqlite:///{target}"])
    finally:
        locked.chmod(stat.S_IRWXU)


def test_db_under_a_file_is_one_line(tmp_path):
    afile = tmp_path / "plain.txt"
    afile.write_text("x")
    target = afile / "sub" / "ledger.sqlite3"
    for db in (str(target), f"sqlite:///{target}"):
        result = CliRunner().invoke(root, ["--db", db, "ledger", "list"], catch_exceptions=True)
        _assert_clean_failure(result, ["--db", db])
        assert "ledger" in result.output


def test_db_from_a_newer_schema_is_one_line(tmp_path):
    import sqlite3

    path = tmp_path / "newer.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    conn.close()
    result = CliRunner().invoke(root, ["--db", str(path), "ledger", "list"], catch_exceptions=True)
    _assert_clean_failure(result, ["--db", str(path)])
    assert "newer taxreport" in result.output


def test_db_with_an_unknown_url_scheme_is_one_line(tmp_path):
    result = CliRunner().invoke(root, ["--db", "nosuchdb://x/y", "ledger", "list"], catch_exceptions=True)
    _assert_clean_failure(result, ["--db", "nosuchdb://x/y"])


def test_db_whose_driver_is_not_installed_is_one_line():
    import importlib.util

    if importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("MySQLdb is installed")
    result = CliRunner().invoke(root, ["--db", "mysql://me:pw@localhost/tax", "ledger", "list"],
                                catch_exceptions=True)
    _assert_clean_failure(result, ["--db", "mysql://…"])
    assert "driver is not installed" in result.output and "pw" not in result.output


def test_db_postgres_that_refuses_connections_is_one_line(tmp_path):
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/nope?connect_timeout=2"
    result = CliRunner().invoke(root, ["--db", url, "ledger", "list"], catch_exceptions=True)
    _assert_clean_failure(result, ["--db", url])
    assert "secret" not in result.output


def test_a_reader_that_closes_the_pipe_is_not_an_error(tmp_path, monkeypatch):
    """`taxreport ledger verify --format json | head`: the pipe broke while the command wrote. Click's main
    stops quietly on EPIPE, exit 1; the command must not turn it into
    'error: Broken pipe' (it did: the OSError handler of the command group caught it first)."""
    import taxreport.cli.ledger_cmds as ledger_cmds

    def broken(value):  # noqa: ANN001, ANN202
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    (tmp_path / "t.csv").write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                                    "2024-01-05T10:00:00Z,kraken:main,buy,BTC,USD,0.50,44000,22.00,USD,K-1\n")
    db = str(tmp_path / "l.sqlite3")
    runner = CliRunner()
    assert runner.invoke(root, ["--db", db, "import", "csv", str(tmp_path / "t.csv")]).exit_code == 0
    monkeypatch.setattr(ledger_cmds, "echo_json", broken)
    result = runner.invoke(root, ["--db", db, "ledger", "verify", "--format", "json"])
    assert result.output == ""  # no 'error: Broken pipe', no traceback
    assert result.exit_code == 1  # click's EPIPE exit (as Python's "Note on SIGPIPE" advises)
