"""Create the sightings table.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sightings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("photo_sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(32), nullable=True),
        sa.Column("taken_at", sa.String(32), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("position_source", sa.String(8), nullable=True),
        sa.Column("verdict", sa.String(24), nullable=False),
        sa.Column("model_species", sa.String(100), nullable=True),
        sa.Column("taxon_rank", sa.String(16), nullable=True),
        sa.Column("taxon_name", sa.String(100), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("top_k", sa.JSON(), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("species", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_sightings_created_at", "sightings", ["created_at"])
    op.create_index("ix_sightings_photo_sha256", "sightings", ["photo_sha256"])


def downgrade() -> None:
    op.drop_index("ix_sightings_photo_sha256", table_name="sightings")
    op.drop_index("ix_sightings_created_at", table_name="sightings")
    op.drop_table("sightings")
