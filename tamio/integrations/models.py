"""Links between Tamio entities and integrations, and the connections (OAuth tokens) behind them.

IntegrationMapping replaces the scattered legacy id columns (``clients.xero_contact_id``): reads
come from the mapping, writes go to both during the transition. Tokens are stored encrypted
(``tamio.integrations.crypto``). ``xero_connections`` and ``xero_sync_logs`` are the legacy tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, JSONType, created_at_column, new_id, updated_at_column


class IntegrationMapping(Base):
    __tablename__ = "integration_mappings"
    __table_args__ = (
        # entity_type is part of the key: one Xero contact that is both a customer and a supplier
        # maps to a client and to an expense bucket.
        UniqueConstraint(
            "user_id", "integration_type", "external_type", "external_id", "entity_type",
            name="uq_integration_mappings_external",
        ),
        Index("ix_integration_mappings_external", "integration_type", "external_id", "external_type"),
        Index("ix_integration_mappings_entity", "entity_type", "entity_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("map"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(40))  # client, expense_bucket, obligation_schedule, payment_event
    entity_id: Mapped[str] = mapped_column(String(40))
    integration_type: Mapped[str] = mapped_column(String(20))  # xero, quickbooks
    external_id: Mapped[str] = mapped_column(String(100))
    external_type: Mapped[str] = mapped_column(String(40))  # contact, invoice, payment
    sync_status: Mapped[str] = mapped_column(String(20), default="synced")
    last_synced_at: Mapped[datetime | None]
    sync_error: Mapped[str | None] = mapped_column(Text())
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class IntegrationConnection(Base):
    __tablename__ = "integration_connections"
    __table_args__ = (UniqueConstraint("user_id", "integration_type", name="uq_integration_connections_type"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("con"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    integration_type: Mapped[str] = mapped_column(String(20))
    tenant_id: Mapped[str | None] = mapped_column(String(100))
    tenant_name: Mapped[str | None] = mapped_column(String(200))
    access_token_encrypted: Mapped[str | None] = mapped_column(Text())
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text())
    expires_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, needs_reconnect, disconnected
    reconnect_notified_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    sync_cursor: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class XeroConnection(Base):
    """Legacy: Xero-specific connection rows, kept for the migration path."""

    __tablename__ = "xero_connections"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("xco"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(100))
    tenant_name: Mapped[str | None] = mapped_column(String(200))
    access_token_encrypted: Mapped[str | None] = mapped_column(Text())
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text())
    token_expires_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class XeroSyncLog(Base):
    """Legacy: one row per Xero sync operation."""

    __tablename__ = "xero_sync_logs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("xsl"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # push, pull
    entity_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # running, success, partial, failed
    records_processed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text())
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
