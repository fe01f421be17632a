"""``send_email``: the drafted reminder, follow-up or escalation, sent to the counterparty.

The message is the approver's edited draft when there is one for this option (an edit of option 1's
email is not sent when option 2 is approved), else the option's draft. It goes to
the option's ``recipient_email``, else ``params["to"]``, else the contact address of the client
(``params["client_id"]`` or the option's/action's client) or vendor (``params["vendor_id"]``).
Sending itself (once per key, Message-ID from the execution record) is the service's job; this
module only says what to send. The forecast does not change: money is counted when it arrives.
"""

from __future__ import annotations

from typing import Any

from tamio.execution.executors.base import ExecutionContext, ExecutionProblem, OutgoingEmail, contact_email


def drafted_message(ctx: ExecutionContext, params: dict[str, Any], *, primary: bool) -> tuple[str, str]:
    """(subject, body): the approver's edit of the option's draft wins over the draft itself."""
    if primary:
        subject = ctx.edited_subject or ctx.option.draft_subject or params.get("subject")
        body = ctx.edited_body or ctx.option.draft_body or params.get("body")
    else:  # a step of a plan carries its own message
        subject, body = params.get("subject"), params.get("body")
    if not subject or not body:
        raise ExecutionProblem(f"Option {ctx.option.rank} has no drafted message to send.")
    return str(subject), str(body)


class NoRecipient(ExecutionProblem):
    """Whom the message is for has no address: says who, so a card can offer to add one."""

    def __init__(self, message: str, *, hint: str, name: str, client_id: str | None, vendor_id: str | None) -> None:
        super().__init__(message, hint=hint)
        self.name, self.client_id, self.vendor_id = name, client_id, vendor_id


def _counterparty_ids(ctx: ExecutionContext, params: dict[str, Any]) -> tuple[str | None, str | None]:
    client_id = params.get("client_id")
    vendor_id = params.get("vendor_id")
    for kind, ident in ((ctx.option.counterparty_type, ctx.option.counterparty_id), (ctx.action.counterparty_type, ctx.action.counterparty_id)):
        if kind == "client" and not client_id:
            client_id = ident
        if kind in ("expense_bucket", "vendor", "expense") and not vendor_id:
            vendor_id = ident
    return client_id, vendor_id


async def recipient(ctx: ExecutionContext, params: dict[str, Any], *, explicit: str | None) -> tuple[str, str]:
    """(address, name) of whom the message goes to, or ``ExecutionProblem`` naming who has no address."""
    client_id, vendor_id = _counterparty_ids(ctx, params)
    found, name = await contact_email(ctx, client_id=client_id, vendor_id=vendor_id)
    address = explicit or found
    name = name or ctx.option.counterparty_name or ctx.action.counterparty_name or "the counterparty"
    if not address or "@" not in address:
        where = f"clients/{client_id}" if client_id else (f"expense-buckets/{vendor_id}" if vendor_id else None)
        typed = f'"{name}" EMAIL'
        how = f" (`/tamio contact {typed}` in Slack, `tamio contact {typed}`, `PATCH /api/v1/data/{where}` with `contact_email`, or from Xero)" if where else ""
        raise NoRecipient(
            f"There is no email address for {name}, so the message was not sent.",
            hint=f"Add a contact email to them{how}, then retry the action (`tamio actions retry {ctx.action.id} --as YOU`).",
            name=name, client_id=client_id, vendor_id=vendor_id,
        )
    return address.strip(), name


class SendEmail:
    kind = "send_email"

    async def emails(self, ctx: ExecutionContext, params: dict[str, Any], *, path: str) -> list[OutgoingEmail]:
        primary = path == "0"
        explicit = (ctx.option.recipient_email if primary else None) or params.get("to")
        to, name = await recipient(ctx, params, explicit=explicit)
        subject, body = drafted_message(ctx, params, primary=primary)
        return [OutgoingEmail(key=ctx.email_key(path), to=to, subject=subject, body=body, counterparty=name)]

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"kind": self.kind, "template": params.get("template"), "schedule_id": params.get("schedule_id")}
