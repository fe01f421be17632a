"""``POST /api/v1/pipeline/actions/{action_id}/delay-agreed``: the vendor agreed to the delay the action asked for.

The same core function (``tamio.execution.delays.agree_delay``) as the card's "Vendor agreed" and
``tamio actions agreed``: the payments move to the dates asked for, the card and App Home update.
409 when nothing of this action waits for agreement (never asked, or already agreed).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router
from tamio.api.types import OUT_CONFIG, MoneyOut
from tamio.execution.delays import agree_delay

router = Router("Pipeline")


class MovedPayment(BaseModel):
    model_config = OUT_CONFIG
    schedule_id: str
    from_date: date = Field(description="the date it was due")
    to_date: date = Field(description="the date the vendor agreed to")
    amount: MoneyOut
    currency: str
    vendor_id: str | None


class DelayAgreedOut(BaseModel):
    model_config = OUT_CONFIG
    action_id: str
    moved: list[MovedPayment] = Field(description="the payments moved to the dates the vendor was asked for")


@router.route(
    "POST", "/pipeline/actions/{action_id}/delay-agreed", response=DelayAgreedOut, permission=Operation.APPROVE, errors=(404, 409),
    summary="Mark a requested delay agreed",
)
async def delay_agreed(call: Call) -> DelayAgreedOut:
    """The vendor agreed: the payments this action asked to delay move now (until then the forecast keeps their dates)."""
    moved = await agree_delay(call.db, account=call.account, member=call.member, action_id=call.path["action_id"], today=call.today,
                              now=call.now, token=True)
    return DelayAgreedOut(action_id=call.path["action_id"], moved=[
        MovedPayment(schedule_id=m["schedule_id"], from_date=date.fromisoformat(m["from"]), to_date=date.fromisoformat(m["to"]),
                     amount=m["amount"], currency=m["currency"], vendor_id=m.get("vendor_id")) for m in moved])
