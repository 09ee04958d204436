"""Notifications of the basket bot through apprise (Telegram, e-mail, Slack, Discord, webhooks …:
https://github.com/caronc/apprise/wiki): failed or incomplete runs, stranded cash, an account that
holds less than the basket, ``basket stop``, and a weekly summary.

Configured per basket, with the secrets kept like the exchange keys (never in the basket file, the
ledger, the audit trail or a log line):

* the environment: ``TAXREPORT_NOTIFY_<BASKET>`` (basket name upper-cased, ``-`` as ``_``), one or
  more apprise URLs separated by spaces or commas, e.g.
  ``TAXREPORT_NOTIFY_CORE="tgram://BOT_TOKEN/CHAT_ID"``;
* else ``secrets.toml`` in the config directory (``chmod 600``, refused otherwise)::

      [notify]
      core = ["tgram://BOT_TOKEN/CHAT_ID", "mailto://user:pass@example.com"]

A failed delivery is logged (without the URL) and never stops the bot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from taxreport.errors import InputError

KINDS = ("failed", "incomplete", "stranded_cash", "shortfall", "stop", "summary")


def notify_urls(basket: str, *, environ: dict[str, str] | None = None) -> list[str]:
    """The apprise URLs configured for ``basket`` (see the module docstring); [] when none."""
    env = os.environ if environ is None else environ
    raw = env.get(f"TAXREPORT_NOTIFY_{basket.upper().replace('-', '_')}")
    if raw:
        return [u for u in re.split(r"[\s,]+", raw) if u]
    from taxreport.config import read_secrets

    secrets = read_secrets()
    if secrets is None:
        return []
    path, data = secrets
    urls = (data.get("notify") or {}).get(basket)
    if urls is None:
        return []
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
        raise InputError("must be a list of apprise URLs (strings)", file=str(path), field=f"notify.{basket}")
    return list(urls)


class Notifier:
    """Sends (kind, title, body) to every configured URL. ``log`` gets a LogLine per delivery,
    naming the service (the URL's scheme), never the URL (it carries tokens)."""

    def __init__(self, basket: str, urls: list[str], *, log: Callable | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        import apprise

        self.basket, self.log = basket, log
        self.clock = clock or (lambda: datetime.now(UTC))
        # Sent in the caller's thread, one URL after another (async_mode off, no apprise-wide deadline): apprise 2
        # otherwise sends through a process-wide thread pool whose worker outlives the call, and a bot process
        # with another thread never again forks the derived cache's writer (taxreport.ledger.derived._threads).
        # Each request is still bounded by the service's own socket timeouts (apprise URLBase: 4 s to connect,
        # 4 s to read, by default); apprise 1.x has no service_timeout and sends in the caller's thread anyway.
        limits: dict[str, Any] = {"service_timeout": 0} if hasattr(apprise.AppriseAsset, "_service_timeout") else {}
        self.apprise = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False, **limits))
        self.services: list[str] = []
        for url in urls:
            if not self.apprise.add(url):
                raise InputError(f"not an apprise URL (service {url.split(':', 1)[0]!r} unknown or malformed)",
                                 field=f"notify.{basket}")
            self.services.append(url.split(":", 1)[0])
        self.sent: list[tuple[str, str, bool]] = []

    def __call__(self, kind: str, title: str, body: str) -> bool:
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        ok = bool(self.apprise.notify(title=title, body=body))
        self.sent.append((kind, title, ok))
        if self.log is not None:
            from taxreport.rebalance.runner import LogLine

            where = ", ".join(self.services)
            self.log(LogLine(self.clock(), "info" if ok else "warning", "notify",
                             f"{self.basket}: notified {kind} via {where}" if ok else
                             f"{self.basket}: notification {kind} via {where} FAILED (the bot goes on)",
                             {"kind": kind, "delivered": ok}))
        return ok


def notifier_for(basket: str, *, log: Callable | None = None,
                 clock: Callable[[], datetime] | None = None) -> Notifier | None:
    urls = notify_urls(basket)
    return Notifier(basket, urls, log=log, clock=clock) if urls else None
