"""What preparation needs to know about a client or vendor, in the words people use, set from any edge.

A strategic client gets the gentler tone when chased; a vendor that can delay (or negotiate) and is
not critical is a candidate when cash runs short. ``/tamio client``, ``/tamio vendor``, the add form,
App Home and the API all set these through ``set_relationship`` and ``set_vendor_terms`` (audited,
approvers and admins).

    await set_relationship(db, account=account, member=maria, name="Acme", relationship="strategic", settings=settings, today=today, now=now)
    await set_vendor_terms(db, account=account, member=maria, name="Cloud Host", flexibility="can-delay", critical=True,
                           settings=settings, today=today, now=now)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.accounts.permissions import Operation, check
from tamio.config import Settings
from tamio.data.models import Client, Criticality, ExpenseBucket, FlexibilityLevel, RelationshipType
from tamio.errors import NotFound, ValidationError
from tamio.obligations.counterparties import CounterpartyService, find_client, find_expense

# "standard" is the word people use for an ordinary client: the design's transactional relationship.
RELATIONSHIPS: Final[dict[str, RelationshipType]] = {
    "strategic": RelationshipType.STRATEGIC, "standard": RelationshipType.TRANSACTIONAL,
    "transactional": RelationshipType.TRANSACTIONAL, "managed": RelationshipType.MANAGED,
}
FLEXIBILITIES: Final[dict[str, FlexibilityLevel]] = {
    "can-delay": FlexibilityLevel.CAN_DELAY, "negotiable": FlexibilityLevel.NEGOTIABLE, "cannot-delay": FlexibilityLevel.CANNOT_DELAY,
}
RELATIONSHIP_WORD: Final = {RelationshipType.STRATEGIC: "strategic", RelationshipType.TRANSACTIONAL: "standard",
                            RelationshipType.MANAGED: "managed"}
FLEXIBILITY_WORD: Final = {level: word for word, level in FLEXIBILITIES.items()}


def read_relationship(word: str) -> RelationshipType:
    found = RELATIONSHIPS.get(word.strip().lower().replace("_", "-"))
    if found is None:
        message = f"`{word[:40]}` is not a kind of client I know: say `strategic` or `standard`."
        raise ValidationError(message, field_errors={"relationship_type": message})
    return found


def read_flexibility(word: str) -> FlexibilityLevel:
    found = FLEXIBILITIES.get(word.strip().lower().replace("_", "-"))
    if found is None:
        message = f"`{word[:40]}` is not how a payment can move: say `can-delay`, `negotiable` or `cannot-delay`."
        raise ValidationError(message, field_errors={"flexibility_level": message})
    return found


def describe_vendor(bucket: ExpenseBucket) -> str:
    """"can-delay · critical", or "flexibility not set" (then it is never a delay candidate)."""
    flexibility = FLEXIBILITY_WORD[bucket.flexibility_level] if bucket.flexibility_level else "flexibility not set"
    return f"{flexibility} · critical" if bucket.criticality == Criticality.CRITICAL else flexibility


def _service(db: AsyncSession, account: Account, member: Member, settings: Settings, today: date, now: datetime) -> CounterpartyService:
    return CounterpartyService(db, account=account, settings=settings, today=today, actor=member.id, now=now)


async def set_relationship(
    db: AsyncSession, *, account: Account, member: Member | None, name: str, relationship: str | RelationshipType,
    settings: Settings, today: date, now: datetime,
) -> tuple[Client, RelationshipType | None]:
    """The client's relationship (``strategic``/``standard``); returns the client and what it was."""
    check(member.role if member else None, Operation.MANAGE_DATA, doing="set how a client is treated")
    assert member is not None
    kind = relationship if isinstance(relationship, RelationshipType) else read_relationship(relationship)
    client = await find_client(db, account_id=account.id, name=name)
    if client is None:
        raise NotFound(f"There is no client called `{name}`.", hint=f'Check the spelling, or add it with `/tamio add client "{name}" 1000`.')
    old = client.relationship_type
    if old != kind:
        await _service(db, account, member, settings, today, now).update_client(client, relationship_type=kind)
    return client, old


async def set_vendor_terms(
    db: AsyncSession, *, account: Account, member: Member | None, name: str, flexibility: str | FlexibilityLevel | None, critical: bool | None,
    settings: Settings, today: date, now: datetime,
) -> ExpenseBucket:
    """How a vendor's payments may move, and whether the business cannot do without it (``None``: unchanged)."""
    check(member.role if member else None, Operation.MANAGE_DATA, doing="set how a vendor can be paid")
    assert member is not None
    bucket = await find_expense(db, account_id=account.id, name=name)
    if bucket is None:
        raise NotFound(f"There is no vendor called `{name}`.", hint=f'Check the spelling, or add it with `/tamio add expense "{name}" 1000`.')
    fields: dict[str, Any] = {}
    if flexibility is not None:
        fields["flexibility_level"] = flexibility if isinstance(flexibility, FlexibilityLevel) else read_flexibility(flexibility)
    if critical is not None:
        wanted = Criticality.CRITICAL if critical else (
            bucket.criticality if bucket.criticality not in (None, Criticality.CRITICAL) else Criticality.IMPORTANT)
        fields["criticality"] = wanted
    changed = {k: v for k, v in fields.items() if getattr(bucket, k) != v}
    if changed:
        await _service(db, account, member, settings, today, now).update_expense(bucket, **changed)
    return bucket
