"""``/api/v1/config/detection``: the detection rules, switched off or re-thresholded by admins.

Read by anyone; changed through ``tamio.detection.rule_settings.update_detection_rule``, the same
function (with its permission check and audit) as ``/tamio detection`` and ``tamio detection set``.
Mirrors ``/automation/rules``.
"""

from __future__ import annotations

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router
from tamio.api.schemas.detection import (
    DetectionRuleList,
    DetectionRuleOut,
    DetectionRuleUpdate,
    detection_rule_out,
)
from tamio.detection.rule_settings import list_detection_rules, read_detection_type, update_detection_rule

router = Router("Detection rules")


@router.route("GET", "/config/detection", response=DetectionRuleList, summary="List the detection rules")
async def list_detection(call: Call) -> DetectionRuleList:
    """Every detection type: on or off, and the threshold it runs at (its own, or the configuration's)."""
    return DetectionRuleList(rules=[detection_rule_out(v) for v in await list_detection_rules(call.db, account_id=call.account.id)])


@router.route("GET", "/config/detection/{detection_type}", response=DetectionRuleOut, errors=(404,), summary="Get a detection rule")
async def get_detection(call: Call) -> DetectionRuleOut:
    kind = read_detection_type(call.path["detection_type"])
    views = await list_detection_rules(call.db, account_id=call.account.id)
    return detection_rule_out(next(v for v in views if v.detection_type == kind))


@router.route(
    "PATCH", "/config/detection/{detection_type}", body=DetectionRuleUpdate, response=DetectionRuleOut,
    permission=Operation.CHANGE_SETTINGS, errors=(404,), summary="Change a detection rule",
)
async def change_detection(call: Call) -> DetectionRuleOut:
    """Admins only; audited. ``{"enabled": false}`` switches it off; ``{"threshold": "10"}`` sets its own threshold."""
    view = await update_detection_rule(call.db, account=call.account, member=call.member, detection_type=call.path["detection_type"],
                                       changes=call.body(DetectionRuleUpdate).changes(), now=call.now, token=True)
    return detection_rule_out(view)
