"""Slack's OAuth installation and state tables, registered on Tamio's metadata.

slack-sdk's AsyncSQLAlchemyInstallationStore and AsyncSQLAlchemyOAuthStateStore create these tables
themselves; declaring them here as well puts them in Alembic's migration history, so one
``tamio db upgrade`` builds the whole schema on SQLite and PostgreSQL.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from tamio.db import Base

INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"

installations = SQLAlchemyInstallationStore.build_installations_table(Base.metadata, INSTALLATIONS_TABLE)
bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, BOTS_TABLE)
oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, OAUTH_STATES_TABLE)
