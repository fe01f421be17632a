"""A local Slack for tests and the ``make run`` sandbox: the Web API stand-in and a signed sender.

async with SlackStandIn() as slack:
    app = create_app(settings, session_factory, client=AsyncWebClient(token=slack.bot_token,
                                                                       base_url=slack.api_url))
    sender = SlackSender(app_url, settings.signing_secret, slack.workspace.team_id, slack)
"""

from slack_sandbox.blockkit_limits import message_block_errors, view_errors
from slack_sandbox.errors import SlackError
from slack_sandbox.signed import AppReply, SlackSender
from slack_sandbox.standin import SlackStandIn

__all__ = ["AppReply", "SlackError", "SlackSender", "SlackStandIn", "message_block_errors", "view_errors"]
