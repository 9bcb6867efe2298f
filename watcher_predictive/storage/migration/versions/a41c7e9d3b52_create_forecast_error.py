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

"""Create the forecast error table of the adaptive learning module

Revision ID: a41c7e9d3b52
Revises: 9d2f61c0a8e4
Create Date: 2026-11-25 13:00:00
"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'a41c7e9d3b52'
down_revision = '9d2f61c0a8e4'
branch_labels = None
depends_on = None

# Frozen copies of the types in models.py at this revision.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def upgrade():
    op.create_table(
        'predictive_forecast_error',
        sa.Column('id', BIG_ID, primary_key=True, autoincrement=True),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('resource', sa.String(16), nullable=False),
        sa.Column('model', sa.String(64), nullable=False),
        sa.Column('issued_at', sa.BigInteger(), nullable=False),
        sa.Column('start', sa.BigInteger(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('steps', sa.Integer(), nullable=False),
        sa.Column('abs_error', sa.Float(), nullable=False),
        sa.Column('pinball', sa.Float(), nullable=False),
        sa.Column('inside_80', sa.Integer(), nullable=False),
        sa.Column('steps_80', sa.Integer(), nullable=False),
        sa.Column('inside_90', sa.Integer(), nullable=False),
        sa.Column('steps_90', sa.Integer(), nullable=False),
        sa.Column('lull_tp', sa.Integer(), nullable=False),
        sa.Column('lull_fp', sa.Integer(), nullable=False),
        sa.Column('lull_fn', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('instance_uuid', 'resource', 'model',
                            'issued_at',
                            name='uniq_predictive_forecast_error0forecast'),
        **TABLE_ARGS)
    op.create_index('ix_predictive_forecast_error_issued_at',
                    'predictive_forecast_error', ['issued_at'])


def downgrade():
    op.drop_index('ix_predictive_forecast_error_issued_at',
                  table_name='predictive_forecast_error')
    op.drop_table('predictive_forecast_error')
