"""The saved scenarios: a name and an ordered list of changes (JSON), per account.

The changes are stored as ``tamio.scenarios.changes.Scenario`` dumps, not as results: a saved
scenario is evaluated on today's data each time it is shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, JSONType, created_at_column, new_id, updated_at_column


class SavedScenario(Base):
    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_scenarios_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("scn"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
