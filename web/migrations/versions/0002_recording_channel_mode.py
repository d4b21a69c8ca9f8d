"""Recordings remember how their stereo channels were to be handled.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``recordings.channel_mode`` (``auto`` for every existing recording)."""
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(
            sa.Column("channel_mode", sa.String(8), nullable=False, server_default="auto")
        )


def downgrade() -> None:
    """Drop ``recordings.channel_mode``."""
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("channel_mode")
