"""contracts scored in the background (progress, error) and log-in sessions that survive a refresh

contracts.progress: share of clauses the worker has scored (existing contracts were scored when stored: 1).
contracts.error: why scoring failed. login_sessions: one row per browser log-in; the cookie holds a random
token, the table its SHA-256, its expiry and when it was ended by a log-out.

Columns are added and dropped with plain ALTER TABLE (no batch copy of `contracts`), and neither table
carries the append-only triggers of 0003, so those are untouched.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('contracts', sa.Column('progress', sa.Float(), server_default='1', nullable=False))
    op.add_column('contracts', sa.Column('error', sa.Text(), nullable=True))
    op.create_table(
        'login_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
        sa.UniqueConstraint('token_sha256', name=op.f('uq_login_sessions_token_sha256')),
    )
    op.create_index(op.f('ix_login_sessions_user_id'), 'login_sessions', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_login_sessions_user_id'), table_name='login_sessions')
    op.drop_table('login_sessions')
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): batch mode would copy and drop `contracts`, which the
    # foreign keys of `clauses` refuse once there are contracts.
    op.drop_column('contracts', 'error')
    op.drop_column('contracts', 'progress')
