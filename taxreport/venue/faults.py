"""The local venue's fault injection: ``--faults SPEC`` and the seeded dice that apply it.

SPEC is a comma-separated list of ``NAME=VALUE``; probabilities are per request of the kinds named:

==================  =====================================================================================
``drop_request``    p: the connection is closed before the request is read: never carried out
``drop_response``   p: the request is carried out, then the connection is closed without an answer
                    (accept-then-drop: the order exists but the client saw a network error)
``delay``           p: the client's connection is closed now and the request reaches the matching
                    engine ``delay_seconds`` later (not carried out if its ``expTime`` has passed)
``delay_seconds``   seconds for ``delay`` (default 3)
``rate_limit``      p: HTTP 429 ``{"code": "50011"}`` — not carried out
``html_5xx``        p: an HTML 502/503 page; the request was carried out or not (a coin flip)
``json_5xx``        p: HTTP 500 with a JSON body without ``code``; carried out or not (a coin flip)
``code_50004``      p: ``{"code": "50004", "msg": "Endpoint request timeout"}``; carried out or not
``cancel_pending``  p (cancels only): ``51410`` "already under cancelling status"; the cancel completes
                    a moment later
``fill_lag``        seconds between an order's filled status and its fills being listed
``clock_skew``      seconds the venue's clock is ahead of this machine's (negative: behind): its
                    ``public/time``, ``expTime`` checks, order and fill times. OKX's clock is not the
                    bot's: OKX v5, REST authentication: "It's recommended to use the time endpoint to
                    query for the API server time if you believe there may be time skew between your
                    server and the API servers." (it accepts a request timestamp up to 30 s off)
==================  =====================================================================================

Faults apply to the private trading and account endpoints (place, cancel, order look-ups, fills,
balance); the public market data (instruments, tickers) is always answered so that a run can start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from taxreport.errors import InputError

PROBABILITIES = ("drop_request", "drop_response", "delay", "rate_limit", "html_5xx", "json_5xx", "code_50004",
                 "cancel_pending")
NUMBERS = ("delay_seconds", "fill_lag", "clock_skew")


@dataclass
class FaultSpec:
    p: dict[str, float] = field(default_factory=dict)
    delay_seconds: float = 3.0
    fill_lag: float = 0.0
    clock_skew: float = 0.0

    @property
    def text(self) -> str:
        parts = [f"{k}={v:g}" for k, v in sorted(self.p.items())]
        if self.p.get("delay"):
            parts.append(f"delay_seconds={self.delay_seconds:g}")
        if self.fill_lag:
            parts.append(f"fill_lag={self.fill_lag:g}")
        if self.clock_skew:
            parts.append(f"clock_skew={self.clock_skew:g}")
        return ",".join(parts) or "none"


def parse_faults(spec: str | None) -> FaultSpec:
    """``"drop_response=0.1,rate_limit=0.05,fill_lag=2"`` -> :class:`FaultSpec` (one-line errors)."""
    out = FaultSpec()
    if not spec or spec.strip() in ("", "none"):
        return out
    for item in spec.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise InputError(f"{item.strip()!r} is not NAME=VALUE", field="--faults")
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"{name}: {value!r} is not a number", field="--faults") from None
        if name in PROBABILITIES:
            if not 0 <= number <= 1:
                raise InputError(f"{name}: a probability is between 0 and 1, got {value}", field="--faults")
            out.p[name] = number
        elif name == "clock_skew":
            if abs(number) > 25:  # beyond OKX's 30 s timestamp window every signed request fails (50102)
                raise InputError(f"clock_skew: at most 25 seconds either way, got {value}", field="--faults")
            out.clock_skew = number
        elif name in NUMBERS:
            if number < 0:
                raise InputError(f"{name}: must be >= 0, got {value}", field="--faults")
            setattr(out, name, number)
        else:
            raise InputError(f"unknown fault {name!r}; one of {', '.join(PROBABILITIES + NUMBERS)}",
                             field="--faults")
    if sum(out.p.values()) > 1:
        raise InputError("the fault probabilities add up to more than 1", field="--faults")
    return out


class Dice:
    """Seeded: the same seed and the same sequence of requests give the same faults."""

    def __init__(self, spec: FaultSpec, seed: int) -> None:
        self.spec = spec
        self.rng = random.Random(seed)

    def roll(self, *, cancel: bool = False) -> str | None:
        """The fault for this request, if any."""
        x = self.rng.random()
        for name in PROBABILITIES:
            p = self.spec.p.get(name, 0.0)
            if name == "cancel_pending" and not cancel:
                continue
            if x < p:
                return name
            x -= p
        return None

    def coin(self) -> bool:
        return self.rng.random() < 0.5
