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

"""The store's side of adaptive learning: forecast scores and the reads of
the operator's commands. Mixed into ``api.Store`` (same engine, same
error handling).
"""

import time

from oslo_log import log
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from watcher_predictive import exception
from watcher_predictive.storage import engine as storage_engine
from watcher_predictive.storage import models
from watcher_predictive.storage import records

LOG = log.getLogger(__name__)
BATCH = 500


def _chunks(items, size=BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


class LearningStore:
    """Needs ``_engine``, ``_errors``, ``_url``, ``safe_url`` and
    ``errors_kept`` from the class it is mixed into.
    """

    def all_profiles(self) -> list[records.ProfileRecord]:
        """Every stored profile (for the operator's commands)."""
        profile = models.Profile
        with self._errors('all_profiles'):
            with self._engine.connect() as conn:
                return [records.ProfileRecord(
                    instance_uuid=row.instance_uuid,
                    state=records.loads_state(row.state),
                    history_end=int(row.history_end),
                    version=int(row.version))
                    for row in conn.execute(sa.select(
                        profile.instance_uuid, profile.state,
                        profile.history_end, profile.version)
                        .order_by(profile.instance_uuid))]

    def _write_errors(self, conn, rows, now):
        try:
            for chunk in _chunks(rows):
                conn.execute(sa.insert(models.ForecastError),
                             [dict(row, created_at=now) for row in chunk])
        except sa_exc.IntegrityError as error:
            # The unique (instance, resource, model, issued_at): another
            # audit scored the same forecast; its profile version changed
            # too, so reloading and scoring again skips it.
            raise exception.ConcurrentUpdate(
                message='A forecast was scored by a concurrent audit (%s). '
                        'Nothing was written; reload the profiles and '
                        'retry.' % storage_engine.describe(error, self._url),
                what='forecast errors', expected=None, found=None,
                attempts=0)
        error = models.ForecastError
        for chunk in _chunks(sorted({row['instance_uuid'] for row in rows})):
            rank = sa.func.row_number().over(
                partition_by=error.instance_uuid,
                order_by=(error.issued_at.desc(), error.id.desc()),
            ).label('rank')
            ranked = (sa.select(error.id, rank)
                      .where(error.instance_uuid.in_(chunk)).subquery())
            old = conn.execute(
                sa.select(ranked.c.id)
                .where(ranked.c.rank > self.errors_kept)).scalars().all()
            for ids in _chunks(old):
                conn.execute(sa.delete(error).where(error.id.in_(ids)))

    def forecasts_to_score(self, instance_ids, issued_after=None,
                           model='ensemble') -> list[records.ForecastRecord]:
        """Stored forecasts of these instances, oldest first.

        :param issued_after: epoch seconds; only forecasts issued later.
        """
        forecast = models.Forecast
        found = []
        with self._errors('forecasts_to_score'):
            with self._engine.connect() as conn:
                for chunk in _chunks(sorted(set(instance_ids))):
                    query = sa.select(forecast).where(
                        forecast.instance_uuid.in_(chunk),
                        forecast.model == model)
                    if issued_after is not None:
                        query = query.where(
                            forecast.issued_at > int(issued_after))
                    found.extend(records.forecast_from_row(row) for row in
                                 conn.execute(query.order_by(
                                     forecast.issued_at, forecast.id)))
        return found

    def forecast_errors(self, instance_uuid=None, resource=None,
                        since=None) -> list[records.ErrorRow]:
        """Stored scores, oldest first, optionally filtered."""
        error = models.ForecastError
        query = sa.select(error)
        if instance_uuid is not None:
            query = query.where(error.instance_uuid == instance_uuid)
        if resource is not None:
            query = query.where(error.resource == resource)
        if since is not None:
            query = query.where(error.issued_at >= int(since))
        query = query.order_by(error.issued_at, error.id)
        with self._errors('forecast_errors'):
            with self._engine.connect() as conn:
                return [records.error_from_row(row)
                        for row in conn.execute(query)]

    def purge_errors(self, older_than_days, now=None):
        """Delete scores of forecasts issued before then; their number."""
        if older_than_days < 0:
            raise exception.StorageError(
                reason='the age must not be negative, got %r days'
                       % older_than_days)
        now = time.time() if now is None else now
        cutoff = int(now - older_than_days * 86400)
        error = models.ForecastError
        with self._errors('purge_errors'):
            with self._engine.begin() as conn:
                deleted = conn.execute(
                    sa.delete(error).where(error.issued_at < cutoff)).rowcount
        LOG.info('Purged %d forecast errors older than %s days from %s',
                 deleted, older_than_days, self.safe_url)
        return deleted
