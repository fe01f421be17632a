"""manifest.yml against the manifest's documented keys and limits, and against what the app serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from bot.commands.parse import USAGES
from bot.oauth import BOT_SCOPES, INSTALL_PATH, REDIRECT_PATH
from bot.server import EVENTS_PATH
from bot.shortcuts import ADD_SHORTCUT, PAYMENT_SHORTCUT

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

# The keys Slack's manifest reference documents (schema version 1), by section.
DOCUMENTED: dict[str, set[str]] = {
    "": {"_metadata", "display_information", "features", "oauth_config", "settings", "functions", "workflows",
         "datastores", "outgoing_domains", "types", "external_auth_providers", "compliance", "app_directory"},
    "_metadata": {"major_version", "minor_version"},
    "display_information": {"name", "description", "long_description", "background_color"},
    "features": {"app_home", "bot_user", "shortcuts", "slash_commands", "unfurl_domains", "workflow_steps", "assistant_view",
                 "rich_previews"},
    "features.app_home": {"home_tab_enabled", "messages_tab_enabled", "messages_tab_read_only_enabled"},
    "features.bot_user": {"display_name", "always_online"},
    "features.slash_commands[]": {"command", "url", "description", "usage_hint", "should_escape"},
    "features.shortcuts[]": {"name", "type", "callback_id", "description"},
    "oauth_config": {"redirect_urls", "scopes", "token_management_enabled"},
    "oauth_config.scopes": {"bot", "user"},
    "settings": {"allowed_ip_address_ranges", "event_subscriptions", "incoming_webhooks", "interactivity", "org_deploy_enabled",
                 "socket_mode_enabled", "token_rotation_enabled", "function_runtime", "siws_links", "is_hosted"},
    "settings.event_subscriptions": {"request_url", "bot_events", "user_events", "metadata_subscriptions"},
    "settings.interactivity": {"is_enabled", "request_url", "message_menu_options_url"},
}


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


def section(data: dict[str, Any], path: str) -> list[dict[str, Any]]:
    node: Any = data
    for part in [p for p in path.split(".") if p]:
        node = node.get(part.removesuffix("[]"), {})
    return node if path.endswith("[]") else [node]


def urls(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [u for value in node.values() for u in urls(value)]
    if isinstance(node, list):
        return [u for value in node for u in urls(value)]
    return [node] if isinstance(node, str) and node.startswith(("http://", "https://")) else []


def test_only_documented_keys() -> None:
    data = manifest()
    for path, allowed in DOCUMENTED.items():
        for node in section(data, path):
            assert set(node) <= allowed, f"{path or 'top level'}: undocumented {sorted(set(node) - allowed)}"


def test_documented_limits_and_required_fields() -> None:
    data = manifest()
    info = data["display_information"]
    assert 0 < len(info["name"]) <= 35 and len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])
    assert data["features"]["bot_user"]["display_name"] and len(data["features"]["bot_user"]["display_name"]) <= 80
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert "app_home_opened" in data["settings"]["event_subscriptions"]["bot_events"]


def test_the_tamio_command_has_a_usage_hint_naming_every_subcommand() -> None:
    (command,) = manifest()["features"]["slash_commands"]
    assert command["command"] == "/tamio" and len(command["command"]) <= 32
    assert command["should_escape"] is True  # @mentions arrive as <@U123|name> for `role`
    hint = command["usage_hint"]
    assert 0 < len(hint) <= 1000 and 0 < len(command["description"]) <= 2000
    for name in USAGES:
        assert name in hint


def test_least_privilege_bot_scopes_match_what_the_install_asks_for() -> None:
    scopes = manifest()["oauth_config"]["scopes"]
    assert scopes["bot"] == ["commands", "chat:write", "chat:write.public", "channels:join", "files:write", "files:read",
                             "users:read", "users:read.email", "im:write", "im:history"]
    assert not {"channels:history", "groups:history", "channels:read", "groups:read"} & set(scopes["bot"])
    assert tuple(scopes["bot"]) == BOT_SCOPES and "user" not in scopes


def test_every_url_points_at_the_bolt_endpoint_or_the_oauth_routes() -> None:
    data = manifest()
    found = urls(data)
    assert len(found) >= 5
    hosts = {urlparse(u).netloc for u in found}
    assert len(hosts) == 1
    for url in found:
        assert urlparse(url).path in (EVENTS_PATH, REDIRECT_PATH, INSTALL_PATH), url
    assert {urlparse(u).path for u in data["oauth_config"]["redirect_urls"]} == {REDIRECT_PATH}


def test_shortcuts_and_events_are_the_ones_the_app_listens_for() -> None:
    data = manifest()
    shortcuts = {(s["type"], s["callback_id"]): s for s in data["features"]["shortcuts"]}
    assert set(shortcuts) == {("global", ADD_SHORTCUT), ("message", PAYMENT_SHORTCUT)}
    for shortcut in shortcuts.values():
        assert 0 < len(shortcut["name"]) <= 25 and 0 < len(shortcut["description"]) <= 80
    events = data["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == {"app_home_opened", "app_uninstalled", "tokens_revoked", "message.im"}
    assert "im:history" in data["oauth_config"]["scopes"]["bot"]  # message.im needs it
    assert data["features"]["app_home"]["messages_tab_read_only_enabled"] is False  # people may write to Tamio
    assert data["settings"]["org_deploy_enabled"] is True
