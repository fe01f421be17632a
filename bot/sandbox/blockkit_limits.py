"""Block Kit limits, checked the way Slack checks them, so the stand-in refuses what Slack refuses.

Slack answers ``invalid_blocks`` (messages) or ``invalid_arguments`` (views) with one message per
problem, each ending in a JSON pointer to the offending field. The stand-in returns the same list,
so a test failure says exactly which block broke which limit:

    >>> message_block_errors([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}])
    ['header text is 151 characters; Slack allows at most 150 [json-pointer:/blocks/0/text/text]']

The limits are Slack's published ones (Block Kit reference, checked against FIELD_NOTES.md).
Uniqueness follows the reference too: a ``block_id`` is unique within the message or view, an
``action_id`` within its block (the same "approve" button may appear on several cards).
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_BYTES = 250_000

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
        "call",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
OPTION_LIMITS = {
    "radio_buttons": 10,
    "checkboxes": 10,
    "overflow": 5,
    "static_select": 100,
    "multi_static_select": 100,
}


class _Checker:
    """Collects problems while walking one surface (a message's blocks or a view)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()

    def add(self, message: str, pointer: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def length(self, value: Any, limit: int, what: str, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(f"{what} is {len(value)} characters; Slack allows at most {limit}", pointer)

    def text_object(
        self,
        obj: Any,
        limit: int,
        what: str,
        pointer: str,
        *,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.add(f"{what} is missing", pointer)
            return
        if not isinstance(obj, dict):
            self.add(f"{what} must be a text object", pointer)
            return
        kind = obj.get("type")
        allowed = {"plain_text"} if plain_only else TEXT_TYPES
        if kind not in allowed:
            self.add(
                f"{what} must be of type {' or '.join(sorted(allowed))}, not {kind!r}", pointer + "/type"
            )
        text = obj.get("text")
        if not isinstance(text, str) or (required and not text):
            self.add(f"{what} must be a non-empty string", pointer + "/text")
            return
        self.length(text, limit, what, pointer + "/text")

    def block_id(self, block: dict[str, Any], pointer: str) -> None:
        block_id = block.get("block_id")
        if block_id is None:
            return
        if not isinstance(block_id, str):
            self.add("block_id must be a string", pointer + "/block_id")
            return
        self.length(block_id, 255, "block_id", pointer + "/block_id")
        if block_id in self.block_ids:
            self.add(f"block_id {block_id!r} is used twice; it must be unique", pointer + "/block_id")
        self.block_ids.add(block_id)

    def confirm(self, confirm: Any, pointer: str) -> None:
        if not isinstance(confirm, dict):
            self.add("confirm must be an object", pointer)
            return
        self.text_object(confirm.get("title"), 100, "confirm title", pointer + "/title", plain_only=True)
        self.text_object(confirm.get("text"), 300, "confirm text", pointer + "/text")
        self.text_object(confirm.get("confirm"), 30, "confirm button", pointer + "/confirm", plain_only=True)
        self.text_object(confirm.get("deny"), 30, "deny button", pointer + "/deny", plain_only=True)

    def option(self, option: Any, pointer: str) -> None:
        if not isinstance(option, dict):
            self.add("option must be an object", pointer)
            return
        self.text_object(option.get("text"), 75, "option text", pointer + "/text")
        value = option.get("value")
        if value is not None:
            self.length(value, 150, "option value", pointer + "/value")
        self.text_object(
            option.get("description"), 75, "option description", pointer + "/description", required=False
        )

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        """An interactive element (button, select, radio buttons, input, ...)."""
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.add("element must be an object with a type", pointer)
            return
        kind = element["type"]
        action_id = element.get("action_id")
        if action_id is not None:
            self.length(action_id, 255, "action_id", pointer + "/action_id")
            if action_id in action_ids:
                self.add(
                    f"action_id {action_id!r} is used twice in this block; it must be unique",
                    pointer + "/action_id",
                )
            action_ids.add(action_id)
        if kind == "button":
            self.text_object(element.get("text"), 75, "button text", pointer + "/text", plain_only=True)
            self.length(element.get("value"), 2000, "button value", pointer + "/value")
            self.length(element.get("url"), 3000, "button url", pointer + "/url")
            style = element.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.add(f"button style must be primary or danger, not {style!r}", pointer + "/style")
        if kind in OPTION_LIMITS:
            options = element.get("options")
            limit = OPTION_LIMITS[kind]
            if options is None and kind.endswith("static_select") and element.get("option_groups"):
                options = [o for group in element["option_groups"] for o in group.get("options", [])]
            if not isinstance(options, list) or not options:
                self.add(f"{kind} needs at least one option", pointer + "/options")
            else:
                if len(options) > limit:
                    self.add(
                        f"{kind} has {len(options)} options; Slack allows at most {limit}",
                        pointer + "/options",
                    )
                for index, option in enumerate(options):
                    self.option(option, f"{pointer}/options/{index}")
        if "placeholder" in element:
            self.text_object(
                element["placeholder"], 150, "placeholder", pointer + "/placeholder", plain_only=True
            )
        if "confirm" in element:
            self.confirm(element["confirm"], pointer + "/confirm")
        if kind == "plain_text_input":
            max_length = element.get("max_length")
            if isinstance(max_length, int) and max_length > 3000:
                self.add(f"max_length is {max_length}; Slack allows at most 3000", pointer + "/max_length")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.add("block must be an object", pointer)
            return
        kind = block.get("type")
        if kind not in KNOWN_BLOCK_TYPES:
            self.add(f"unknown block type {kind!r}", pointer + "/type")
            return
        self.block_id(block, pointer)
        action_ids: set[str] = set()
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                self.add("section needs text or fields", pointer)
            if text is not None:
                self.text_object(text, 3000, "section text", pointer + "/text")
            if fields is not None:
                if not isinstance(fields, list):
                    self.add("section fields must be a list", pointer + "/fields")
                else:
                    if len(fields) > 10:
                        self.add(
                            f"section has {len(fields)} fields; Slack allows at most 10", pointer + "/fields"
                        )
                    for index, field in enumerate(fields):
                        self.text_object(field, 2000, "section field", f"{pointer}/fields/{index}")
            if "accessory" in block:
                self.element(block["accessory"], pointer + "/accessory", action_ids)
        elif kind == "header":
            self.text_object(block.get("text"), 150, "header text", pointer + "/text", plain_only=True)
        elif kind in ("actions", "context"):
            limit = 25 if kind == "actions" else 10
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.add(f"{kind} block needs at least one element", pointer + "/elements")
                return
            if len(elements) > limit:
                self.add(
                    f"{kind} block has {len(elements)} elements; Slack allows at most {limit}",
                    pointer + "/elements",
                )
            for index, element in enumerate(elements):
                element_pointer = f"{pointer}/elements/{index}"
                if kind == "context":
                    if isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                        self.text_object(element, 3000, "context text", element_pointer)
                    elif not (isinstance(element, dict) and element.get("type") == "image"):
                        self.add("context elements must be text objects or images", element_pointer)
                else:
                    self.element(element, element_pointer, action_ids)
        elif kind == "input":
            self.text_object(block.get("label"), 2000, "input label", pointer + "/label", plain_only=True)
            self.text_object(
                block.get("hint"), 2000, "input hint", pointer + "/hint", plain_only=True, required=False
            )
            if "element" not in block:
                self.add("input block needs an element", pointer + "/element")
            else:
                self.element(block["element"], pointer + "/element", action_ids)
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                self.add("image needs image_url or slack_file", pointer)
            self.length(block.get("image_url"), 3000, "image_url", pointer + "/image_url")
            if not isinstance(block.get("alt_text"), str):
                self.add("image needs alt_text", pointer + "/alt_text")
            self.length(block.get("alt_text"), 2000, "alt_text", pointer + "/alt_text")
            self.text_object(
                block.get("title"), 2000, "image title", pointer + "/title", plain_only=True, required=False
            )
        elif kind == "markdown":
            self.length(block.get("text"), 12_000, "markdown text", pointer + "/text")

    def blocks(self, blocks: Any, limit: int, pointer: str) -> None:
        if blocks is None:
            return
        if not isinstance(blocks, list):
            self.add("blocks must be a list", pointer)
            return
        if len(blocks) > limit:
            self.add(f"{len(blocks)} blocks; Slack allows at most {limit}", pointer)
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}")


def message_block_errors(blocks: Any) -> list[str]:
    """The problems Slack would report for these message blocks; empty when Slack accepts them."""
    checker = _Checker()
    checker.blocks(blocks, MAX_MESSAGE_BLOCKS, "/blocks")
    return checker.errors


def view_errors(view: Any) -> list[str]:
    """The problems Slack would report for a modal or Home tab view; empty when Slack accepts it."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.add("view must be an object", "/view")
        return checker.errors
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.add(f"view type must be modal or home, not {kind!r}", "/view/type")
        return checker.errors
    if kind == "modal":
        checker.text_object(view.get("title"), 24, "modal title", "/view/title", plain_only=True)
        for button in ("submit", "close"):
            checker.text_object(
                view.get(button), 24, f"modal {button}", f"/view/{button}", plain_only=True, required=False
            )
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            checker.add("a modal with input blocks needs a submit button", "/view/submit")
    if "blocks" not in view:
        checker.add("view needs blocks", "/view/blocks")
    checker.blocks(view.get("blocks"), MAX_VIEW_BLOCKS, "/view/blocks")
    checker.length(view.get("private_metadata"), 3000, "private_metadata", "/view/private_metadata")
    checker.length(view.get("callback_id"), 255, "callback_id", "/view/callback_id")
    checker.length(view.get("external_id"), 255, "external_id", "/view/external_id")
    return checker.errors
