# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Create the profile, forecast and throttle tables

Revision ID: 5b3d0f4c21a7
Revises:
Create Date: 2025-11-25 10:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '5b3d0f4c21a7'
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the types in models.py at this revision.
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), 'mysql', 'mariadb')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def upgrade():
    op.create_table(
        'predictive_profile',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('state', LONG_TEXT, nullable=False),
        sa.Column('history_end', sa.BigInteger(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.UniqueConstraint('instance_uuid',
                            name='uniq_predictive_profile0instance_uuid'),
        **TABLE_ARGS)

    op.create_table(
        'predictive_forecast',
        sa.Column('id', BIG_ID, primary_key=True, autoincrement=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('audit_uuid', sa.String(36), nullable=True),
        sa.Column('resource', sa.String(16), nullable=False),
        sa.Column('model', sa.String(64), nullable=False),
        sa.Column('issued_at', sa.BigInteger(), nullable=False),
        sa.Column('start', sa.BigInteger(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('levels', sa.Text(), nullable=False),
        sa.Column('quantiles', LONG_TEXT, nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        **TABLE_ARGS)
    op.create_index('ix_predictive_forecast_instance_resource_issued',
                    'predictive_forecast',
                    ['instance_uuid', 'resource', 'issued_at'])

    op.create_table(
        'predictive_throttle',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('driver', sa.String(32), nullable=False),
        sa.Column('action_uuid', sa.String(36), nullable=True),
        sa.Column('limits', sa.Text(), nullable=False),
        sa.Column('previous', sa.Text(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('window_end', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        **TABLE_ARGS)
    op.create_index('ix_predictive_throttle_instance_uuid',
                    'predictive_throttle', ['instance_uuid'])


def downgrade():
    op.drop_index('ix_predictive_throttle_instance_uuid',
                  table_name='predictive_throttle')
    op.drop_table('predictive_throttle')
    op.drop_index('ix_predictive_forecast_instance_resource_issued',
                  table_name='predictive_forecast')
    op.drop_table('predictive_forecast')
    op.drop_table('predictive_profile')
