"""A click group that imports each subcommand's module only when that command runs, so that
``taxreport gains`` never pays for ccxt, pandas, matplotlib or weasyprint."""

from __future__ import annotations

import importlib
import importlib.util

import click

from taxreport.errors import TaxreportError


class CliFailure(click.ClickException):
    """A :class:`TaxreportError` shown as one line, with its exit code."""

    def __init__(self, error: TaxreportError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:  # noqa: ANN001
        from taxreport.cli.fit import echo_line  # on a terminal, wrapped between words; piped, as it is

        echo_line(f"error: {self.format_message()}", err=True)


class LazyGroup(click.Group):
    """``lazy`` maps a command name to ``("package.module:attr", "one-line help")``."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def _available(self, name: str) -> bool:
        module = self.lazy[name][0].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(n for n in self.lazy if self._available(n))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and self._available(cmd_name):
            module_name, attr = self.lazy[cmd_name][0].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the table, so ``--help`` imports no command module.
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name][1]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=80)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except TaxreportError as exc:
            raise CliFailure(exc) from exc
        except BrokenPipeError:  # `taxreport gains -y all | head`: the reader has gone; click's main stops
            raise  # quietly (as it does when the pipe breaks at its final flush), not an "error: Broken pipe"
        except OSError as exc:  # a path the user gave: missing folder, no permission, a file not a folder
            if exc.strerror is None:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise CliFailure(TaxreportError(f"{where}{exc.strerror}")) from exc

