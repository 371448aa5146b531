"""reviews: kind (review | undo | adjudication) and seconds spent

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reviews') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), server_default='review', nullable=False))
        batch.add_column(sa.Column('seconds', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reviews') as batch:
        batch.drop_column('seconds')
        batch.drop_column('kind')
