"""Who may use Tamio, and who may see its figures.

A business's cash is private. Members of the workspace get access as viewers; approvers and admins
see every figure; viewers see cash, runway, amounts and alerts' details only when the account says
so (``UserConfiguration.viewers_see_figures``, off by default): otherwise only that something needs
attention. Guests (single- and multi-channel) and people from other organisations (in a Slack
Connect channel) never get access, whatever their Slack role; a workspace admin is not a Tamio
admin unless made one (the first admin of an account is its installer, or, with one workspace, the
first Slack admin who uses it).

    if not may_see_figures(member.role, viewers_see_figures=config.viewers_see_figures): ...
    refusal = outsider_refusal(is_guest=True, is_external=False)   # the message, or None
"""

from __future__ import annotations

from tamio.accounts.models import Role
from tamio.errors import PermissionDenied

FIGURES_FOR_VIEWERS_HINT = (
    "Cash, runway and amounts are shown to approvers and admins here. An admin can show them to viewers "
    "with `/tamio config set viewers_see_figures on`."
)


def may_see_figures(role: Role | None, *, viewers_see_figures: bool) -> bool:
    if role is None:
        return False
    return role != Role.VIEWER or viewers_see_figures


def outsider_refusal(*, is_guest: bool, is_external: bool) -> PermissionDenied | None:
    """Why a guest or someone from another organisation gets no access (None: they may)."""
    if is_external:
        return PermissionDenied("Tamio works only for members of this workspace's organisation, not for people "
                                "from other organisations in shared channels.")
    if is_guest:
        return PermissionDenied("Tamio works only for full members of this workspace; guests can't use it.",
                                hint="A workspace admin can make you a full member.")
    return None


def attention_line(*, open_alerts: int, pending_actions: int) -> str:
    """What a viewer who may not see figures is told: whether something needs attention."""
    parts = []
    if open_alerts:
        parts.append(f"{open_alerts} open alert{'s' if open_alerts != 1 else ''}")
    if pending_actions:
        parts.append(f"{pending_actions} action{'s' if pending_actions != 1 else ''} waiting for a decision")
    if not parts:
        return ":white_check_mark: Nothing needs attention right now."
    return ":eyes: Something needs attention: " + " and ".join(parts) + "."
