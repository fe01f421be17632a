"""Safety mode's factors (the design's "Safety Mode Effects" table), below detection so the forecast
can measure runway against the same buffer alerts use (``configuration.apply_safety_mode`` applies
the whole table)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tamio.accounts.models import SafetyMode

CENT = Decimal("0.01")
UP = Decimal("1.25")
DOWN = Decimal("0.75")


def factors(mode: SafetyMode | str | None) -> tuple[Decimal, Decimal]:
    """(stricter, looser): "stricter" raises what must be kept (buffer, runway); "looser" scales how much slack is allowed."""
    return {
        SafetyMode.CONSERVATIVE: (UP, DOWN),
        SafetyMode.NORMAL: (Decimal(1), Decimal(1)),
        SafetyMode.AGGRESSIVE: (DOWN, UP),
    }[SafetyMode(mode or SafetyMode.NORMAL)]


def effective_buffer(amount: Decimal | None, mode: SafetyMode | str | None) -> Decimal:
    """The buffer after safety mode (rounded half up to cents): what alerts and the runway measure against."""
    return ((amount or Decimal(0)) * factors(mode)[0]).quantize(CENT, rounding=ROUND_HALF_UP)
