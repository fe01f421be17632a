"""How an obligation recurs, as entered (a frequency and a day) and as stored (an RRULE string).

    spec = RecurrenceSpec(Frequency.MONTHLY, start_date=date(2026, 12, 15), day=15)
    spec.rrule()                # 'FREQ=MONTHLY;BYMONTHDAY=15'
    spec.to_config()            # the JSON kept in a client's or expense bucket's billing_config
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

from tamio.obligations.models import ObligationType
from tamio.obligations.recurrence import BusinessDayConvention, Frequency, Recurrence, build_rrule

# The words a person uses for what an obligation is, the same in Slack (`/tamio add vendor ...`),
# the CSV import's ``kind`` column and the CLI: each names the obligation's type.
KIND_WORDS: Final[dict[str, ObligationType]] = {
    "client": ObligationType.REVENUE, "revenue": ObligationType.REVENUE, "income": ObligationType.REVENUE,
    "customer": ObligationType.REVENUE,
    "expense": ObligationType.EXPENSE, "vendor": ObligationType.EXPENSE, "bill": ObligationType.EXPENSE,
    "supplier": ObligationType.EXPENSE,
    "payroll": ObligationType.PAYROLL, "salaries": ObligationType.PAYROLL,
    "tax": ObligationType.TAX, "taxes": ObligationType.TAX,
}


@dataclass(frozen=True)
class RecurrenceSpec:
    frequency: Frequency
    start_date: date
    end_date: date | None = None
    count: int | None = None
    day: int | None = None
    interval: int = 1
    custom_rrule: str | None = None
    convention: BusinessDayConvention = BusinessDayConvention.NONE
    calendar: str | None = None
    last_business_day: bool = False

    def rrule(self) -> str:
        if self.frequency == Frequency.CUSTOM:
            if not self.custom_rrule:
                raise ValueError("a custom recurrence needs an RRULE")
            rule = self.custom_rrule.strip()
            return rule[len("RRULE:") :] if rule.upper().startswith("RRULE:") else rule
        return build_rrule(
            self.frequency,
            start=self.start_date,
            day=self.day,
            interval=self.interval,
            end=self.end_date,
            count=self.count,
            last_business_day=self.last_business_day,
        )

    def recurrence(self) -> Recurrence:
        return Recurrence(rrule=self.rrule(), start=self.start_date, convention=self.convention, calendar=self.calendar)

    def with_start(self, start: date) -> RecurrenceSpec:
        return replace(self, start_date=start)

    def to_config(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency.value,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "count": self.count,
            "day": self.day,
            "interval": self.interval,
            "rrule": self.rrule(),
            "convention": self.convention.value,
            "calendar": self.calendar,
            "last_business_day": self.last_business_day,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RecurrenceSpec:
        frequency = Frequency(config["frequency"])
        return cls(
            frequency=frequency,
            start_date=date.fromisoformat(config["start_date"]),
            end_date=date.fromisoformat(config["end_date"]) if config.get("end_date") else None,
            count=config.get("count"),
            day=config.get("day"),
            interval=int(config.get("interval") or 1),
            custom_rrule=config.get("rrule") if frequency == Frequency.CUSTOM else None,
            convention=BusinessDayConvention(config.get("convention") or "none"),
            calendar=config.get("calendar"),
            last_business_day=bool(config.get("last_business_day")),
        )
