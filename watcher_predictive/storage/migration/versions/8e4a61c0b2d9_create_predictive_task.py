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

"""Create the operator task table

Revision ID: 8e4a61c0b2d9
Revises: 5b3d0f4c21a7
Create Date: 2026-11-25 13:00:00
"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '8e4a61c0b2d9'
down_revision = '5b3d0f4c21a7'
branch_labels = None
depends_on = None

TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def upgrade():
    op.create_table(
        'predictive_task',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('flavor', sa.String(255), nullable=True),
        sa.Column('deadline', sa.BigInteger(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('audit_uuid', sa.String(36), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        **TABLE_ARGS)
    op.create_index('ix_predictive_task_state_deadline', 'predictive_task',
                    ['state', 'deadline'])


def downgrade():
    op.drop_index('ix_predictive_task_state_deadline',
                  table_name='predictive_task')
    op.drop_table('predictive_task')
