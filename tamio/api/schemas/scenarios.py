"""What-if scenarios over the API: changes in the same inline syntax as ``tamio forecast --what-if``
and ``/tamio whatif`` (one string per change), and the scenario's forecast beside the baseline
(``ScenarioResult.to_json``, the shape ``tamio forecast --json --what-if`` prints)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from tamio.api.schemas.money import ForecastOut, ForecastWeekOut
from tamio.api.types import BODY_CONFIG, OUT_CONFIG, DecimalOut, MoneyOut, Name
from tamio.scenarios.changes import MAX_CHANGES

WhatIf = Annotated[str, Field(min_length=1, max_length=1000, examples=['late "Acme Corp" 30'])]


class WhatIfIn(BaseModel):
    """Changes to try, each in the inline syntax (``late "Acme Corp" 30``, ``expense "New hire" 8000 monthly from 2027-03-01``)."""

    model_config = BODY_CONFIG
    what_if: list[WhatIf] = Field(min_length=1, max_length=MAX_CHANGES)
    weeks: int = Field(13, ge=1, le=52)


class ScenarioIn(BaseModel):
    model_config = BODY_CONFIG
    name: Name
    what_if: list[WhatIf] = Field(min_length=1, max_length=MAX_CHANGES)


class ScenarioWeekOut(ForecastWeekOut):
    baseline_closing_balance: MoneyOut
    difference: MoneyOut


class ScenarioForecastOut(ForecastOut):
    """The forecast with the changes, each week's baseline closing balance and difference beside it."""

    weeks: list[ScenarioWeekOut]  # type: ignore[assignment]
    baseline_lowest_closing_balance: MoneyOut
    baseline_lowest_week_start: date
    baseline_runway_weeks: DecimalOut | None
    changes: list[str]


class ScenarioOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    name: str
    changes: list[dict[str, Any]]
    described: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime
    forecast: ScenarioForecastOut | None = Field(None, description="the scenario on today's data (when one scenario is read)")


class ScenarioList(BaseModel):
    model_config = OUT_CONFIG
    scenarios: list[ScenarioOut]
