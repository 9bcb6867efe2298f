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

"""Add predictive_history, the last gridded history read per instance.

Revision ID: c7d5e2a91f60
Revises: a41c7e9d3b52
Create Date: 2026-11-25 15:30:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = 'c7d5e2a91f60'
down_revision = 'a41c7e9d3b52'
branch_labels = None
depends_on = None

TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def upgrade():
    op.create_table(
        'predictive_history',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('history_start', sa.BigInteger(), nullable=False),
        sa.Column('history_end', sa.BigInteger(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('resources', sa.String(255), nullable=False),
        sa.Column('cells', sa.LargeBinary().with_variant(
            mysql.LONGBLOB(), 'mysql', 'mariadb'), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            'instance_uuid', name='uniq_predictive_history0instance_uuid'),
        **TABLE_ARGS)


def downgrade():
    op.drop_table('predictive_history')
