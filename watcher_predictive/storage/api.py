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

"""The plugin's persistent state: profiles, forecasts and throttles.

Up to two audits run at once, on any decision-engine host, so learned state
is never kept in memory between audits. An audit loads the profiles of its
instances, works, then saves everything it learned in one transaction with
``save_audit``. Profiles carry a version: a save whose expected version no
longer matches raises ConcurrentUpdate and writes nothing, and the caller
reloads and retries. Every database error is raised as StorageError.
"""

import datetime
import json
import time
import typing

from oslo_config import cfg
from oslo_log import log
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from watcher_predictive import exception
from watcher_predictive.storage import engine as storage_engine
from watcher_predictive.storage import histories
from watcher_predictive.storage import learning as learning_store
from watcher_predictive.storage import migration
from watcher_predictive.storage import models
from watcher_predictive.storage import records
from watcher_predictive.storage.records import ForecastRecord  # noqa: F401
from watcher_predictive.storage.records import ProfileRecord  # noqa: F401
from watcher_predictive.storage.records import ProfileUpdate  # noqa: F401
from watcher_predictive.storage.records import ThrottleRecord  # noqa: F401
from watcher_predictive.storage import tasks
from watcher_predictive.storage.tasks import TaskRecord  # noqa: F401

LOG = log.getLogger(__name__)

# Rows per IN (...) list or executemany batch: far below every backend's
# limit on bound parameters.
BATCH = 500


def _chunks(items, size=BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def configured_url(conf=None):
    """``[watcher_predictive] connection``, else ``[database] connection``.

    :param conf: oslo.config object, ``cfg.CONF`` by default, on which
        Watcher registers ``[database]`` when ``watcher.conf`` is imported.
    """
    conf = cfg.CONF if conf is None else conf
    if conf is cfg.CONF:
        import watcher.conf  # noqa: F401
    from watcher_predictive.conf import predictive
    predictive.register_opts(conf)
    url = conf.watcher_predictive.connection
    if not url:
        try:
            url = conf.database.connection
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            url = None
    if not url:
        raise exception.StorageError(
            reason='no database is configured; set [database] connection '
                   '(Watcher\'s database, where the plugin keeps its '
                   'tables) or [watcher_predictive] connection in '
                   'watcher.conf.')
    return url


class Store(tasks.TaskQueries, learning_store.LearningStore,
            histories.HistoryStore):
    """Access to the plugin's tables in one database.

    :param url: SQLAlchemy URL of the database.
    :param timeout: seconds allowed to connect and to run one statement.
    :param forecasts_kept: forecasts kept per instance and resource.
    """

    def __init__(self, url, timeout=30, forecasts_kept=48,
                 errors_kept=10000):
        if timeout <= 0:
            raise exception.StorageError(
                reason='timeout must be positive, got %r seconds' % timeout)
        if forecasts_kept < 1:
            raise exception.StorageError(
                reason='forecasts_kept must be at least 1, got %r'
                       % forecasts_kept)
        self._url = storage_engine.parse_url(url)
        self.safe_url = storage_engine.safe_url(self._url)
        self.timeout = timeout
        self.forecasts_kept = int(forecasts_kept)
        if errors_kept < 1:
            raise exception.StorageError(
                reason='errors_kept must be at least 1, got %r'
                       % errors_kept)
        self.errors_kept = int(errors_kept)
        self._engine = storage_engine.create_engine(
            self._url, connect_timeout=timeout, statement_timeout=timeout)

    @classmethod
    def from_config(cls, conf=None, timeout=30):
        """The store of the database configured in watcher.conf.

        See ``configured_url``; the number of forecasts kept comes from
        ``[watcher_predictive] forecasts_kept_per_instance``.
        """
        url = configured_url(conf)
        conf = cfg.CONF if conf is None else conf
        group = conf.watcher_predictive
        return cls(url, timeout=timeout,
                   forecasts_kept=group.forecasts_kept_per_instance,
                   errors_kept=getattr(group, 'errors_kept_per_instance',
                                       10000))

    def dispose(self):
        """Close the pooled connections."""
        self._engine.dispose()

    def _errors(self, operation):
        return storage_engine.wrap_errors(operation, self._url)

    def check_schema(self):
        """Raise StorageError unless the plugin tables are at head."""
        with self._errors('schema check'):
            with self._engine.connect() as conn:
                current = migration.current_revisions(conn)
        expected = migration.head_revisions()
        if current == expected:
            return
        todo = ('Run "watcher-predictive-db-manage upgrade" on a host with '
                'this watcher.conf.')
        if not current:
            reason = 'the plugin tables are missing from %s. %s' % (
                self.safe_url, todo)
        elif set(current) - migration.known_revisions():
            reason = ('the plugin tables in %s are at revision %s, newer '
                      'than this installation of watcher-predictive knows '
                      '(%s); upgrade the plugin on this host.' % (
                          self.safe_url, ','.join(current),
                          ','.join(expected)))
        else:
            reason = ('the plugin tables in %s are at revision %s, this '
                      'plugin needs %s. %s' % (
                          self.safe_url, ','.join(current),
                          ','.join(expected), todo))
        raise exception.StorageError(reason=reason)

    # Profiles and forecasts ------------------------------------------------

    def load_profiles(self, instance_ids: typing.Iterable[str]
                      ) -> dict[str, ProfileRecord]:
        """Stored profiles of these instances; unknown ones are absent."""
        profile = models.Profile
        found = {}
        with self._errors('load_profiles'):
            with self._engine.connect() as conn:
                for chunk in _chunks(sorted(set(instance_ids))):
                    rows = conn.execute(
                        sa.select(profile.instance_uuid, profile.state,
                                  profile.history_end, profile.version)
                        .where(profile.instance_uuid.in_(chunk)))
                    for row in rows:
                        found[row.instance_uuid] = ProfileRecord(
                            instance_uuid=row.instance_uuid,
                            state=records.loads_state(row.state),
                            history_end=int(row.history_end),
                            version=int(row.version))
        return found

    def save_audit(self, audit_uuid, profiles, forecasts, errors=()):
        """Save the profiles and forecasts of one audit, all or nothing.

        :param profiles: iterable of ProfileUpdate.
        :param forecasts: iterable of ForecastRecord; their ``audit_uuid``
            defaults to ``audit_uuid``.
        :param errors: iterable of ErrorRecord, the scores of earlier
            forecasts (adaptive learning).
        :raises ConcurrentUpdate: a profile changed since it was loaded;
            nothing was written.
        :raises StorageError: anything else; nothing was written.
        """
        profile_rows = records.profile_rows(profiles)
        forecast_rows = [records.forecast_row(audit_uuid, forecast)
                         for forecast in forecasts]
        error_rows = [records.error_row(error) for error in errors]
        now = models.utcnow()
        with self._errors('save_audit of audit %s' % audit_uuid):
            with self._engine.begin() as conn:
                self._write_profiles(conn, profile_rows, now)
                for chunk in _chunks(forecast_rows):
                    conn.execute(sa.insert(models.Forecast),
                                 [dict(row, created_at=now) for row in chunk])
                self._trim_forecasts(
                    conn, {row['instance_uuid'] for row in forecast_rows})
                if error_rows:
                    self._write_errors(conn, error_rows, now)
        LOG.debug('Audit %s saved %d profiles and %d forecasts in %s',
                  audit_uuid, len(profile_rows), len(forecast_rows),
                  self.safe_url)

    @staticmethod
    def _conflict(uuid, expected, found, cause):
        def describe(version):
            return 'no profile' if version is None else 'version %s' % version
        return exception.ConcurrentUpdate(
            message='The profile of instance %s changed while the audit was '
                    'running (expected %s, found %s): %s. Nothing was '
                    'written; reload the profiles and retry.' % (
                        uuid, describe(expected), describe(found), cause),
            what='profile of instance %s' % uuid,
            expected=expected, found=found, attempts=0)

    def _write_profiles(self, conn, rows, now):
        profile = models.Profile
        created = [row for row in rows if row['expected_version'] is None]
        existing = {}
        for chunk in _chunks(row['instance_uuid'] for row in created):
            existing.update(conn.execute(
                sa.select(profile.instance_uuid, profile.version)
                .where(profile.instance_uuid.in_(chunk))).all())
        for row in created:
            if row['instance_uuid'] in existing:
                raise self._conflict(row['instance_uuid'], None,
                                     existing[row['instance_uuid']],
                                     'another audit created it')
        try:
            for chunk in _chunks(created):
                conn.execute(sa.insert(profile), [
                    {'instance_uuid': row['instance_uuid'],
                     'state': row['state'],
                     'history_end': row['history_end'],
                     'version': 1, 'created_at': now} for row in chunk])
        except sa_exc.IntegrityError as error:
            # Only the unique instance_uuid can fail (the values were
            # checked): a concurrent audit created one of these profiles
            # since the lookup above.
            raise exception.ConcurrentUpdate(
                message='A profile of one of %d new instances was created '
                        'by a concurrent audit (%s). Nothing was written; '
                        'reload the profiles and retry.' % (
                            len(created),
                            storage_engine.describe(error, self._url)),
                what='new profiles', expected=None, found=None,
                attempts=0)
        for row in rows:
            if row['expected_version'] is None:
                continue
            result = conn.execute(
                sa.update(profile)
                .where(profile.instance_uuid == row['instance_uuid'],
                       profile.version == row['expected_version'])
                .values(state=row['state'], history_end=row['history_end'],
                        version=profile.version + 1, updated_at=now))
            if result.rowcount != 1:
                found = conn.execute(
                    sa.select(profile.version)
                    .where(profile.instance_uuid == row['instance_uuid'])
                ).scalar_one_or_none()
                raise self._conflict(row['instance_uuid'],
                                     row['expected_version'], found,
                                     'another audit updated it')

    def _trim_forecasts(self, conn, instance_uuids):
        """Keep the newest ``forecasts_kept`` per instance and resource."""
        forecast = models.Forecast
        for chunk in _chunks(sorted(instance_uuids)):
            rank = sa.func.row_number().over(
                partition_by=(forecast.instance_uuid, forecast.resource),
                order_by=(forecast.issued_at.desc(), forecast.id.desc()),
            ).label('rank')
            ranked = (sa.select(forecast.id, rank)
                      .where(forecast.instance_uuid.in_(chunk))
                      .subquery())
            old = conn.execute(
                sa.select(ranked.c.id)
                .where(ranked.c.rank > self.forecasts_kept)).scalars().all()
            for ids in _chunks(old):
                conn.execute(sa.delete(forecast)
                             .where(forecast.id.in_(ids)))

    def latest_forecasts(self, instance_uuid=None, resource=None,
                         limit=10) -> list[ForecastRecord]:
        """Stored forecasts, newest first, optionally filtered."""
        if limit < 1:
            raise exception.StorageError(
                reason='limit must be at least 1, got %r' % limit)
        forecast = models.Forecast
        query = sa.select(forecast)
        if instance_uuid is not None:
            query = query.where(forecast.instance_uuid == instance_uuid)
        if resource is not None:
            query = query.where(forecast.resource == resource)
        query = query.order_by(forecast.issued_at.desc(),
                               forecast.id.desc()).limit(limit)
        with self._errors('latest_forecasts'):
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
        return [records.forecast_from_row(row) for row in rows]

    def profile_heads(self, instance_ids: typing.Iterable[str]
                      ) -> dict[str, tuple[int, int]]:
        """uuid -> (history_end, version) of the stored profiles, without
        their state (reading every state of a shard costs seconds).
        """
        profile = models.Profile
        found = {}
        with self._errors('profile_heads'):
            with self._engine.connect() as conn:
                for chunk in _chunks(sorted(set(instance_ids))):
                    found.update(
                        (row.instance_uuid, (int(row.history_end),
                                             int(row.version)))
                        for row in conn.execute(
                            sa.select(profile.instance_uuid,
                                      profile.history_end, profile.version)
                            .where(profile.instance_uuid.in_(chunk))))
        return found

    def save_summaries(self, summaries: dict[str, tuple[int, dict]]):
        """Replace the summaries of these instances.

        :param summaries: uuid -> (history_end of the profile, summary)
        """
        table = models.ProfileSummary
        now = models.utcnow()
        rows = [{'instance_uuid': uuid, 'history_end': int(end),
                 'summary': records.dumps(summary, 'summary of %s' % uuid),
                 'created_at': now}
                for uuid, (end, summary) in sorted(summaries.items())]
        with self._errors('save_summaries'):
            with self._engine.begin() as conn:
                for chunk in _chunks(rows):
                    conn.execute(sa.delete(table).where(
                        table.instance_uuid.in_(
                            [row['instance_uuid'] for row in chunk])))
                    conn.execute(sa.insert(table), chunk)

    def load_summaries(self, instance_ids: typing.Iterable[str]
                       ) -> dict[str, tuple[int, dict]]:
        """uuid -> (history_end, summary) of ``save_summaries``."""
        table = models.ProfileSummary
        found = {}
        with self._errors('load_summaries'):
            with self._engine.connect() as conn:
                for chunk in _chunks(sorted(set(instance_ids))):
                    for row in conn.execute(
                            sa.select(table.instance_uuid, table.history_end,
                                      table.summary)
                            .where(table.instance_uuid.in_(chunk))):
                        found[row.instance_uuid] = (int(row.history_end),
                                                    json.loads(row.summary))
        return found

    def forecasts_starting(self, starts: dict[str, int]
                           ) -> dict[str, list[ForecastRecord]]:
        """Forecasts of many instances, each starting at a given time.

        :param starts: instance uuid -> epoch seconds of the first step
            (the end of the history its stored profile was made from).
        :returns: instance uuid -> its forecasts with that start, newest
            issued first; instances without any are absent. Read in
            batches, for the profiler workers that reuse fresh profiles.
        """
        forecast = models.Forecast
        found = {}
        with self._errors('forecasts_starting'):
            with self._engine.connect() as conn:
                for chunk in _chunks(sorted(starts)):
                    rows = conn.execute(
                        sa.select(forecast)
                        .where(forecast.instance_uuid.in_(chunk),
                               forecast.start >= min(starts[uuid]
                                                     for uuid in chunk))
                        .order_by(forecast.issued_at.desc(),
                                  forecast.id.desc()))
                    for row in rows:
                        if int(row.start) == starts[row.instance_uuid]:
                            found.setdefault(row.instance_uuid, []).append(
                                records.forecast_from_row(row))
        return found

    # Throttles ---------------------------------------------------------------

    def record_throttle(self, instance_uuid, host, driver, limits, previous,
                        action_uuid=None, window_end=None) -> int:
        """Record an applied throttle; returns its id for the revert."""
        what = 'throttle of instance %s' % instance_uuid
        values = {
            'instance_uuid': instance_uuid, 'host': host, 'driver': driver,
            'action_uuid': action_uuid,
            'limits': records.dumps(limits, 'limits of the ' + what),
            'previous': records.dumps(previous,
                                      'previous limits of the ' + what),
            'state': models.THROTTLE_APPLIED,
            'window_end': (
                None if window_end is None
                else records.integer(window_end, 'window_end of ' + what)),
            'created_at': models.utcnow(),
        }
        with self._errors('record_throttle of instance %s' % instance_uuid):
            with self._engine.begin() as conn:
                result = conn.execute(sa.insert(models.Throttle)
                                      .values(**values))
                return int(result.inserted_primary_key[0])

    def active_throttle(self, instance_uuid) -> ThrottleRecord | None:
        """The latest throttle of the instance still applied, if any."""
        throttle = models.Throttle
        query = (sa.select(throttle)
                 .where(throttle.instance_uuid == instance_uuid,
                        throttle.state == models.THROTTLE_APPLIED)
                 .order_by(throttle.created_at.desc(), throttle.id.desc())
                 .limit(1))
        with self._errors('active_throttle of instance %s' % instance_uuid):
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
        if row is None:
            return None
        return records.throttle_from_row(row)

    def applied_throttles(self, instance_uuid) -> list[ThrottleRecord]:
        """Throttles of the instance still applied, newest first."""
        throttle = models.Throttle
        query = (sa.select(throttle)
                 .where(throttle.instance_uuid == instance_uuid,
                        throttle.state == models.THROTTLE_APPLIED)
                 .order_by(throttle.created_at.desc(), throttle.id.desc()))
        with self._errors('applied_throttles of instance %s'
                          % instance_uuid):
            with self._engine.connect() as conn:
                return [records.throttle_from_row(row)
                        for row in conn.execute(query)]

    def move_throttles(self, instance_uuid, host) -> int:
        """Record that the applied throttles of an instance moved to
        ``host`` (a live migration takes a throttle along with the guest).

        :returns: the number of throttles moved
        """
        throttle = models.Throttle
        with self._errors('move_throttles of instance %s' % instance_uuid):
            with self._engine.begin() as conn:
                result = conn.execute(
                    sa.update(throttle)
                    .where(throttle.instance_uuid == instance_uuid,
                           throttle.state == models.THROTTLE_APPLIED,
                           throttle.host != host)
                    .values(host=host, updated_at=models.utcnow()))
        return int(result.rowcount)

    def mark_throttle_reverted(self, throttle_id):
        """Mark a throttle reverted; doing it twice is harmless."""
        throttle = models.Throttle
        with self._errors('mark_throttle_reverted of throttle %s'
                          % throttle_id):
            with self._engine.begin() as conn:
                result = conn.execute(
                    sa.update(throttle).where(throttle.id == throttle_id)
                    .values(state=models.THROTTLE_REVERTED,
                            updated_at=models.utcnow()))
        if result.rowcount != 1:
            raise exception.StorageError(
                reason='there is no throttle with id %s in %s'
                       % (throttle_id, self.safe_url))

    # Maintenance -------------------------------------------------------------

    def purge(self, older_than_days, now=None):
        """Delete forecasts issued, throttles reverted, and stored
        histories last read, before then.

        :returns: (forecasts deleted, throttles deleted)
        """
        if older_than_days < 0:
            raise exception.StorageError(
                reason='the age must not be negative, got %r days'
                       % older_than_days)
        now = time.time() if now is None else now
        cutoff = int(now - older_than_days * 86400)
        cutoff_time = (datetime.datetime.fromtimestamp(
            cutoff, datetime.timezone.utc).replace(tzinfo=None))
        forecast, throttle = models.Forecast, models.Throttle
        with self._errors('purge'):
            with self._engine.begin() as conn:
                forecasts = conn.execute(
                    sa.delete(forecast)
                    .where(forecast.issued_at < cutoff)).rowcount
                throttles = conn.execute(
                    sa.delete(throttle)
                    .where(throttle.state == models.THROTTLE_REVERTED,
                           throttle.updated_at < cutoff_time)).rowcount
        stale = self.purge_histories(older_than_days, now)
        LOG.info('Purged %d forecasts, %d reverted throttles and %d '
                 'histories not read for %s days from %s', forecasts,
                 throttles, stale, older_than_days, self.safe_url)
        return forecasts, throttles
