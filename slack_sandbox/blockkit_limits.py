"""Block Kit limits, checked the way Slack checks them, so the stand-in refuses what Slack refuses.

Slack answers ``invalid_blocks`` (messages) or ``invalid_arguments`` (views) with one message per
problem, each ending in a JSON pointer to the offending field. The stand-in returns the same list,
so a test failure says exactly which block broke which limit:

    >>> message_block_errors([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}])
    ['header text is 151 characters; Slack allows at most 150 [json-pointer:/blocks/0/text/text]']

The numbers are slack_sdk's: its Block Kit models carry Slack's published limits (``SectionBlock.
text_max_length`` and so on), and each block is also run through the models' own validation, so a
limit slack_sdk learns is a limit the stand-in enforces. Only what the models leave out is written
here (a message's 50 blocks and 40,000 characters, a section field's 2,000, radio buttons' and
checkboxes' 10 options, uniqueness). Uniqueness follows Slack's reference: a ``block_id`` is unique
within the message or view, an ``action_id`` within its block (the same "approve" button may
appear on several cards). The app's builders (``bot/blocks``) read the same numbers from slack_sdk.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    ImageBlock,
    InputBlock,
    InputInteractiveElement,
    InteractiveElement,
    MarkdownBlock,
    Option,
    OverflowMenuElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View

# What slack_sdk's models do not carry (Slack's reference: chat.postMessage, section fields, radio buttons).
MAX_MESSAGE_BLOCKS = 50
MAX_MESSAGE_TEXT = 40_000
MAX_FIELD_TEXT = 2000
MAX_CHOICE_OPTIONS = 10  # radio buttons and checkboxes
MAX_INPUT_LENGTH = 3000  # a plain_text_input's max_length
MAX_VIEW_BYTES = 250_000

MAX_VIEW_BLOCKS = View.blocks_max_length
MAX_VIEW_TITLE = View.title_max_length
MAX_PRIVATE_METADATA = View.private_metadata_max_length
MAX_SECTION_TEXT = SectionBlock.text_max_length
MAX_SECTION_FIELDS = SectionBlock.fields_max_length
MAX_HEADER_TEXT = HeaderBlock.text_max_length
MAX_ACTIONS_ELEMENTS = ActionsBlock.elements_max_length
MAX_CONTEXT_ELEMENTS = ContextBlock.elements_max_length
MAX_BLOCK_ID = SdkBlock.block_id_max_length
MAX_ACTION_ID = InteractiveElement.action_id_max_length
MAX_BUTTON_TEXT = ButtonElement.text_max_length
MAX_BUTTON_VALUE = ButtonElement.value_max_length
MAX_OPTION_TEXT = Option.label_max_length
MAX_OPTION_VALUE = Option.value_max_length

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
    "radio_buttons": MAX_CHOICE_OPTIONS,
    "checkboxes": MAX_CHOICE_OPTIONS,
    "overflow": OverflowMenuElement.options_max_length,
    "static_select": StaticSelectElement.options_max_length,
    "multi_static_select": StaticSelectElement.options_max_length,
}


def sdk_block_error(block: dict[str, Any]) -> str | None:
    """What slack_sdk's model of this block says is wrong with it (its validators), if anything."""
    try:
        model = SdkBlock.parse(block)
        if model is not None:
            model.to_dict()  # validates the block and everything in it
    except SlackObjectFormationError as error:
        return f"slack_sdk: {error}"
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        return f"slack_sdk cannot read this block: {error}"
    return None


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
        self.length(block_id, MAX_BLOCK_ID, "block_id", pointer + "/block_id")
        if block_id in self.block_ids:
            self.add(f"block_id {block_id!r} is used twice; it must be unique", pointer + "/block_id")
        self.block_ids.add(block_id)

    def confirm(self, confirm: Any, pointer: str) -> None:
        if not isinstance(confirm, dict):
            self.add("confirm must be an object", pointer)
            return
        self.text_object(confirm.get("title"), ConfirmObject.title_max_length, "confirm title", pointer + "/title", plain_only=True)
        self.text_object(confirm.get("text"), ConfirmObject.text_max_length, "confirm text", pointer + "/text")
        self.text_object(confirm.get("confirm"), ConfirmObject.confirm_max_length, "confirm button", pointer + "/confirm", plain_only=True)
        self.text_object(confirm.get("deny"), ConfirmObject.deny_max_length, "deny button", pointer + "/deny", plain_only=True)

    def option(self, option: Any, pointer: str) -> None:
        if not isinstance(option, dict):
            self.add("option must be an object", pointer)
            return
        self.text_object(option.get("text"), MAX_OPTION_TEXT, "option text", pointer + "/text")
        value = option.get("value")
        if value is not None:
            self.length(value, MAX_OPTION_VALUE, "option value", pointer + "/value")
        self.text_object(
            option.get("description"), MAX_OPTION_TEXT, "option description", pointer + "/description", required=False
        )

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        """An interactive element (button, select, radio buttons, input, ...)."""
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.add("element must be an object with a type", pointer)
            return
        kind = element["type"]
        action_id = element.get("action_id")
        if action_id is not None:
            self.length(action_id, MAX_ACTION_ID, "action_id", pointer + "/action_id")
            if action_id in action_ids:
                self.add(
                    f"action_id {action_id!r} is used twice in this block; it must be unique",
                    pointer + "/action_id",
                )
            action_ids.add(action_id)
        if kind == "button":
            self.text_object(element.get("text"), MAX_BUTTON_TEXT, "button text", pointer + "/text", plain_only=True)
            self.length(element.get("value"), MAX_BUTTON_VALUE, "button value", pointer + "/value")
            self.length(element.get("url"), ButtonElement.url_max_length, "button url", pointer + "/url")
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
                element["placeholder"], InputInteractiveElement.placeholder_max_length, "placeholder", pointer + "/placeholder", plain_only=True
            )
        if "confirm" in element:
            self.confirm(element["confirm"], pointer + "/confirm")
        if kind == "plain_text_input":
            max_length = element.get("max_length")
            if isinstance(max_length, int) and max_length > MAX_INPUT_LENGTH:
                self.add(f"max_length is {max_length}; Slack allows at most {MAX_INPUT_LENGTH}", pointer + "/max_length")

    def block(self, block: Any, pointer: str) -> None:
        if not isinstance(block, dict):
            self.add("block must be an object", pointer)
            return
        kind = block.get("type")
        if kind not in KNOWN_BLOCK_TYPES:
            self.add(f"unknown block type {kind!r}", pointer + "/type")
            return
        found_before = len(self.errors)
        self.block_id(block, pointer)
        self._block_fields(block, kind, pointer)
        if len(self.errors) == found_before:  # nothing found by hand: what does slack_sdk's model say?
            problem = sdk_block_error(block)
            if problem is not None:
                self.add(problem, pointer)

    def _block_fields(self, block: dict[str, Any], kind: str, pointer: str) -> None:
        action_ids: set[str] = set()
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                self.add("section needs text or fields", pointer)
            if text is not None:
                self.text_object(text, MAX_SECTION_TEXT, "section text", pointer + "/text")
            if fields is not None:
                if not isinstance(fields, list):
                    self.add("section fields must be a list", pointer + "/fields")
                else:
                    if len(fields) > MAX_SECTION_FIELDS:
                        self.add(
                            f"section has {len(fields)} fields; Slack allows at most {MAX_SECTION_FIELDS}", pointer + "/fields"
                        )
                    for index, field in enumerate(fields):
                        self.text_object(field, MAX_FIELD_TEXT, "section field", f"{pointer}/fields/{index}")
            if "accessory" in block:
                self.element(block["accessory"], pointer + "/accessory", action_ids)
        elif kind == "header":
            self.text_object(block.get("text"), MAX_HEADER_TEXT, "header text", pointer + "/text", plain_only=True)
        elif kind in ("actions", "context"):
            limit = MAX_ACTIONS_ELEMENTS if kind == "actions" else MAX_CONTEXT_ELEMENTS
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
                        self.text_object(element, MAX_SECTION_TEXT, "context text", element_pointer)
                    elif not (isinstance(element, dict) and element.get("type") == "image"):
                        self.add("context elements must be text objects or images", element_pointer)
                else:
                    self.element(element, element_pointer, action_ids)
        elif kind == "input":
            self.text_object(block.get("label"), InputBlock.label_max_length, "input label", pointer + "/label", plain_only=True)
            self.text_object(
                block.get("hint"), InputBlock.hint_max_length, "input hint", pointer + "/hint", plain_only=True, required=False
            )
            if "element" not in block:
                self.add("input block needs an element", pointer + "/element")
            else:
                self.element(block["element"], pointer + "/element", action_ids)
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                self.add("image needs image_url or slack_file", pointer)
            self.length(block.get("image_url"), ImageBlock.image_url_max_length, "image_url", pointer + "/image_url")
            if not isinstance(block.get("alt_text"), str):
                self.add("image needs alt_text", pointer + "/alt_text")
            self.length(block.get("alt_text"), ImageBlock.alt_text_max_length, "alt_text", pointer + "/alt_text")
            self.text_object(
                block.get("title"), ImageBlock.title_max_length, "image title", pointer + "/title", plain_only=True, required=False
            )
        elif kind == "markdown":
            self.length(block.get("text"), MarkdownBlock.text_max_length, "markdown text", pointer + "/text")

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
        checker.text_object(view.get("title"), MAX_VIEW_TITLE, "modal title", "/view/title", plain_only=True)
        for button in ("submit", "close"):
            checker.text_object(
                view.get(button), getattr(View, f"{button}_max_length"), f"modal {button}", f"/view/{button}", plain_only=True, required=False
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
    checker.length(view.get("private_metadata"), MAX_PRIVATE_METADATA, "private_metadata", "/view/private_metadata")
    checker.length(view.get("callback_id"), MAX_BLOCK_ID, "callback_id", "/view/callback_id")
    checker.length(view.get("external_id"), MAX_BLOCK_ID, "external_id", "/view/external_id")
    return checker.errors
