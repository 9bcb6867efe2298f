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

"""The ``libvirt`` throttle driver: live vCPU quota and disk I/O limits.

It connects to the libvirt of the instance's compute host (the URI comes
from ``[watcher_predictive] libvirt_uri_template`` with ``{host}``
replaced), finds the guest by its UUID (Nova names a domain by the
instance UUID) and, on the running guest only (``VIR_DOMAIN_AFFECT_LIVE``:
a restart drops the throttle, as does Nova rebuilding the domain):

* when ``cpu_limit`` is below the guest's vCPUs, sets ``vcpu_period`` and
  ``vcpu_quota`` (``virsh schedinfo``) so that the guest's vCPUs together
  get ``cpu_limit`` host CPUs: each vCPU thread gets
  ``period * cpu_limit / vcpus`` microseconds of every period;
* when disk limits are asked for, sets ``total_bytes_sec`` and/or
  ``total_iops_sec`` (and zeroes the read/write split of the same kind,
  which QEMU refuses beside a total) with ``virsh blkdeviotune`` on every
  disk of the guest.

Everything is read before anything is written, so a parameter the
hypervisor does not support fails the throttle with nothing changed; a
write that fails half-way puts back what was already changed. The values
replaced are returned, and ``restore`` writes exactly those back.

Every libvirt call, including the connection, runs in a worker thread and
is given up after ``libvirt_timeout`` seconds: a remote libvirt that stops
answering blocks its caller indefinitely otherwise. The ``libvirt``
Python package is imported only when this driver is used.
"""

import concurrent.futures
import threading
from xml.etree import ElementTree

from oslo_config import cfg
from oslo_log import log

from watcher_predictive.conf import throttle as throttle_conf
from watcher_predictive.plugins.actions.drivers import base

LOG = log.getLogger(__name__)
CONF = cfg.CONF

# The Linux CFS refuses a quota below 1 ms.
MIN_QUOTA_US = 1000
SCHED_KEYS = ('vcpu_period', 'vcpu_quota')
# libvirt error codes that say "this hypervisor cannot do that".
UNSUPPORTED_CODES = ('VIR_ERR_NO_SUPPORT', 'VIR_ERR_ARGUMENT_UNSUPPORTED',
                     'VIR_ERR_OPERATION_UNSUPPORTED', 'VIR_ERR_INVALID_ARG',
                     'VIR_ERR_CONFIG_UNSUPPORTED')


def _ignore_error(context, error):
    """libvirt prints every error on stderr unless given a handler; the
    driver raises them, with their message, instead.
    """


def import_libvirt():
    """The ``libvirt`` module; DriverDependencyMissing when absent."""
    try:
        import libvirt
    except ImportError as e:
        raise base.DriverDependencyMissing(name='libvirt',
                                           package='libvirt-python',
                                           reason=e)
    libvirt.registerErrorHandler(_ignore_error, None)
    return libvirt


def disk_targets(domain_xml):
    """Target names (``vda``, ``sdb``) of the guest's disks, in order.

    CD-ROMs and floppies are left out: they take no I/O limits.
    """
    root = ElementTree.fromstring(domain_xml)
    targets = []
    for disk in root.findall('./devices/disk'):
        if disk.get('device', 'disk') not in ('disk', 'lun'):
            continue
        target = disk.find('target')
        if target is not None and target.get('dev'):
            targets.append(target.get('dev'))
    return targets


def vcpu_quota(period, cpu_limit, vcpus):
    """Quota of each vCPU, in microseconds, for ``cpu_limit`` host CPUs."""
    return max(MIN_QUOTA_US, int(period * cpu_limit / vcpus))


def disk_settings(limits):
    """block_iotune fields to set on each disk for ``limits``.

    The burst ceiling (``*_max``) is set to the limit itself: the guest
    gets no burst above it, and libvirt refuses a limit above a ceiling
    left lower. libvirt refuses a total beside a read or write value of
    the same kind, so those are zeroed (and restored with the rest).
    """
    settings = {}
    for kind, value in (('bytes', limits.disk_bytes_sec),
                        ('iops', limits.disk_iops_sec)):
        if not value:
            continue
        for field in ('total_%s_sec', 'total_%s_sec_max'):
            settings[field % kind] = int(value)
        for field in ('read_%s_sec', 'write_%s_sec', 'read_%s_sec_max',
                      'write_%s_sec_max'):
            settings[field % kind] = 0
    return settings


class _Timeout(Exception):
    pass


class LibvirtThrottleDriver(base.ThrottleDriver):
    """Throttles guests through the libvirt of their compute host.

    :param uri_template: libvirt URI with ``{host}``; from watcher.conf
        when None.
    :param timeout: seconds for the connection and for each call.
    :param cpu_period: CFS period in microseconds.
    :param libvirt_module: the ``libvirt`` module, imported when None
        (tests give a stand-in for what only a real hypervisor does).
    """

    name = 'libvirt'

    def __init__(self, uri_template=None, timeout=None, cpu_period=None,
                 libvirt_module=None):
        throttle_conf.register_opts(CONF)
        group = CONF.watcher_predictive
        self.uri_template = (group.libvirt_uri_template
                             if uri_template is None else uri_template)
        self.timeout = group.libvirt_timeout if timeout is None else timeout
        self.cpu_period = (group.libvirt_cpu_period if cpu_period is None
                           else cpu_period)
        self.libvirt = (import_libvirt() if libvirt_module is None
                        else libvirt_module)
        self._connections = {}
        self._lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------

    def uri(self, host):
        try:
            return self.uri_template.format(host=host)
        except (KeyError, IndexError, ValueError) as e:
            raise base.ThrottleApplyFailed(
                instance='-', host=host,
                reason='[watcher_predictive] libvirt_uri_template %r is not '
                       'a valid template (%s); the only field is {host}'
                       % (self.uri_template, e))

    def _call(self, what, func, *args):
        """``func(*args)`` in a worker thread, given up after the timeout.

        A call given up keeps its (daemon) thread until libvirt returns;
        the caller is not held.
        """
        result = concurrent.futures.Future()

        def run():
            try:
                result.set_result(func(*args))
            except BaseException as e:  # handed to the caller
                result.set_exception(e)

        threading.Thread(target=run, name='libvirt-' + what,
                         daemon=True).start()
        try:
            return result.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise _Timeout('%s did not answer within %s s '
                           '([watcher_predictive] libvirt_timeout)'
                           % (what, self.timeout))

    def _connection(self, instance_uuid, host):
        uri = self.uri(host)
        with self._lock:
            conn = self._connections.get(uri)
        if conn is not None:
            return conn, uri
        try:
            conn = self._call('connection to ' + uri, self.libvirt.open, uri)
        except (_Timeout, self.libvirt.libvirtError) as e:
            raise base.HostUnreachable(instance=instance_uuid, host=host,
                                       uri=uri, reason=e)
        with self._lock:
            self._connections[uri] = conn
        return conn, uri

    def _domain(self, instance_uuid, host):
        conn, uri = self._connection(instance_uuid, host)
        try:
            domain = self._call('lookup of domain ' + instance_uuid,
                                conn.lookupByUUIDString, instance_uuid)
        except _Timeout as e:
            raise base.HostUnreachable(instance=instance_uuid, host=host,
                                       uri=uri, reason=e)
        except self.libvirt.libvirtError as e:
            if e.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
                raise base.DomainNotFound(instance=instance_uuid, host=host,
                                          uri=uri, reason=e)
            raise self._classify(e, instance_uuid, host, uri, 'lookup')
        return domain, uri

    def _is_unsupported(self, error):
        code = error.get_error_code()
        return any(code == getattr(self.libvirt, name, None)
                   for name in UNSUPPORTED_CODES)

    def _classify(self, error, instance_uuid, host, uri, parameter):
        if isinstance(error, _Timeout):
            return base.HostUnreachable(instance=instance_uuid, host=host,
                                        uri=uri, reason=error)
        if self._is_unsupported(error):
            return base.UnsupportedParameter(
                instance=instance_uuid, host=host, parameter=parameter,
                reason=error)
        if error.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
            return base.DomainNotFound(instance=instance_uuid, host=host,
                                       uri=uri, reason=error)
        return base.ThrottleApplyFailed(instance=instance_uuid, host=host,
                                        reason='%s: %s' % (parameter, error))

    # -- reading -----------------------------------------------------------

    def _read(self, instance_uuid, host, domain, uri, limits):
        """Current values of everything ``limits`` changes, and vCPUs.

        The scheduler is read only when the CPU is to be capped: a guest
        allowed all its vCPUs keeps its scheduler settings.
        """
        live = self.libvirt.VIR_DOMAIN_AFFECT_LIVE
        errors = (_Timeout, self.libvirt.libvirtError)
        try:
            running = self._call('state', domain.isActive)
            vcpus = int(self._call('info', domain.info)[3])
            xml = self._call('XML description', domain.XMLDesc, 0)
        except errors as e:
            raise self._classify(e, instance_uuid, host, uri, 'info')
        if not running:
            raise base.ThrottleApplyFailed(
                instance=instance_uuid, host=host,
                reason='its domain on %s is not running, and a throttle '
                       'applies to the running guest only' % uri)
        previous = {'schedinfo': {}, 'block_iotune': {}}
        if limits.cpu_limit < vcpus:
            try:
                sched = self._call('schedinfo',
                                   domain.schedulerParametersFlags, live)
            except errors as e:
                raise self._classify(e, instance_uuid, host, uri,
                                     'schedinfo vcpu_quota/vcpu_period')
            missing = [k for k in SCHED_KEYS if k not in sched]
            if missing:
                raise base.UnsupportedParameter(
                    instance=instance_uuid, host=host,
                    parameter='schedinfo ' + '/'.join(missing),
                    reason='its scheduler offers only %s'
                           % (', '.join(sorted(sched)) or 'nothing'))
            previous['schedinfo'] = {k: int(sched[k]) for k in SCHED_KEYS}
        wanted = disk_settings(limits)
        if wanted:
            for disk in disk_targets(xml):
                try:
                    current = self._call('blkdeviotune ' + disk,
                                         domain.blockIoTune, disk, live)
                except errors as e:
                    raise self._classify(e, instance_uuid, host, uri,
                                         'blkdeviotune of disk ' + disk)
                missing = [k for k in wanted if k not in current]
                if missing:
                    raise base.UnsupportedParameter(
                        instance=instance_uuid, host=host,
                        parameter='blkdeviotune %s of disk %s' % (
                            '/'.join(missing), disk),
                        reason='the disk offers only %s'
                               % ', '.join(sorted(current)))
                previous['block_iotune'][disk] = {
                    k: int(current[k]) for k in wanted}
        return previous, vcpus

    # -- writing -----------------------------------------------------------

    def _write(self, domain, previous_values, new_values):
        """Write ``new_values``; on failure put back what was written."""
        live = self.libvirt.VIR_DOMAIN_AFFECT_LIVE
        done = []
        try:
            if new_values['schedinfo']:
                self._call('schedinfo', domain.setSchedulerParametersFlags,
                           new_values['schedinfo'], live)
                done.append(('schedinfo', None))
            for disk, values in new_values['block_iotune'].items():
                self._call('blkdeviotune ' + disk, domain.setBlockIoTune,
                           disk, values, live)
                done.append(('block_iotune', disk))
        except BaseException:
            for kind, disk in reversed(done):
                try:
                    if kind == 'schedinfo':
                        self._call('schedinfo',
                                   domain.setSchedulerParametersFlags,
                                   previous_values['schedinfo'], live)
                    else:
                        self._call('blkdeviotune ' + disk,
                                   domain.setBlockIoTune, disk,
                                   previous_values['block_iotune'][disk],
                                   live)
                except Exception:
                    LOG.exception('Could not put back %s %s after a failed '
                                  'throttle', kind, disk or '')
            raise

    def apply(self, instance_uuid, host, limits, *, window_end=None):
        domain, uri = self._domain(instance_uuid, host)
        previous, vcpus = self._read(instance_uuid, host, domain, uri,
                                     limits)
        new_values = {'schedinfo': {}, 'block_iotune': {}}
        if previous['schedinfo']:
            new_values['schedinfo'] = {
                'vcpu_period': int(self.cpu_period),
                'vcpu_quota': vcpu_quota(self.cpu_period, limits.cpu_limit,
                                         vcpus)}
        settings = disk_settings(limits)
        new_values['block_iotune'] = {
            disk: dict(settings) for disk in previous['block_iotune']}
        try:
            self._write(domain, previous, new_values)
        except (_Timeout, self.libvirt.libvirtError) as e:
            raise self._classify(e, instance_uuid, host, uri, 'throttle')
        LOG.info('libvirt throttle of instance %s on %s: %s replaced %s.',
                 instance_uuid, uri, new_values, previous)
        return previous

    def restore(self, instance_uuid, host, previous):
        live = self.libvirt.VIR_DOMAIN_AFFECT_LIVE
        try:
            domain, uri = self._domain(instance_uuid, host)
        except base.ThrottleApplyFailed as e:
            raise base.ThrottleRestoreFailed(instance=instance_uuid,
                                             host=host, reason=e)
        try:
            if (previous or {}).get('schedinfo'):
                self._call('schedinfo', domain.setSchedulerParametersFlags,
                           previous['schedinfo'], live)
            for disk, values in sorted(
                    (previous or {}).get('block_iotune', {}).items()):
                self._call('blkdeviotune ' + disk, domain.setBlockIoTune,
                           disk, values, live)
        except (_Timeout, self.libvirt.libvirtError) as e:
            raise base.ThrottleRestoreFailed(
                instance=instance_uuid, host=host,
                reason='%s on %s' % (e, uri))
        LOG.info('libvirt throttle of instance %s on %s lifted: %s '
                 'restored.', instance_uuid, uri, previous)

    def close(self):
        with self._lock:
            connections, self._connections = self._connections, {}
        for uri, conn in connections.items():
            try:
                self._call('close of ' + uri, conn.close)
            except Exception as e:
                LOG.warning('Closing the libvirt connection to %s failed: '
                            '%s', uri, e)
