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

"""Add predictive_profile_summary, read by the profiler workers.

Revision ID: 9d2f61c0a8e4
Revises: 8e4a61c0b2d9
Create Date: 2026-11-25 13:00:00
"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '9d2f61c0a8e4'
down_revision = '8e4a61c0b2d9'
branch_labels = None
depends_on = None

TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def upgrade():
    op.create_table(
        'predictive_profile_summary',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('history_end', sa.BigInteger(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            'instance_uuid',
            name='uniq_predictive_profile_summary0instance_uuid'),
        **TABLE_ARGS)


def downgrade():
    op.drop_table('predictive_profile_summary')
