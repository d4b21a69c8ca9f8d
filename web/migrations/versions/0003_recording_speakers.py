"""Recordings remember who the uploader said speaks in them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``recordings.speakers`` (``2``, the two parties, for every existing recording)."""
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("speakers", sa.String(8), nullable=False, server_default="2"))


def downgrade() -> None:
    """Drop ``recordings.speakers``."""
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("speakers")
