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

"""The libvirt throttle driver's logic, on a stand-in for a QEMU/KVM host.

libvirt's ``test:///default`` driver (tests/functional/
test_libvirt_throttle.py) has no vCPU quota; the quota path, the roll-back
of a write that fails half-way and the timeout of a host that stops
answering are checked here on a stand-in that behaves as QEMU's driver
does for these calls.
"""

import threading
import types

from watcher.tests.unit import base

from watcher_predictive.plugins.actions.drivers import base as driver_base
from watcher_predictive.plugins.actions.drivers import libvirt_driver

INSTANCE = '6f1f6c2e-9a5b-4a8e-8a51-0c6f4bdfb3a1'
LIVE = 1
BYTES_FIELDS = ('total_bytes_sec', 'total_bytes_sec_max', 'read_bytes_sec',
                'write_bytes_sec', 'read_bytes_sec_max',
                'write_bytes_sec_max')
XML = """<domain type='kvm'><devices>
  <disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
  <disk type='network' device='disk'><target dev='vdb' bus='virtio'/></disk>
  <interface type='bridge'><target dev='tap0'/></interface>
</devices></domain>"""
IOTUNE_KEYS = tuple('%s_%s_sec%s' % (way, kind, suffix)
                    for way in ('total', 'read', 'write')
                    for kind in ('bytes', 'iops') for suffix in ('', '_max'))


class LibvirtError(Exception):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code

    def get_error_code(self):
        return self.code


class Domain:
    """Scheduler and per-disk I/O tuning of a running QEMU guest."""

    def __init__(self, uuid):
        self.uuid = uuid
        self.sched = {'cpu_shares': 1024, 'vcpu_period': 100000,
                      'vcpu_quota': 17592186044415, 'emulator_quota': -1}
        self.iotune = {disk: dict.fromkeys(IOTUNE_KEYS, 0)
                       for disk in ('vda', 'vdb')}
        self.iotune['vdb']['read_bytes_sec'] = 5000
        self.fail = {}
        self.block = None
        self.writes = []

    def _check(self, call):
        if self.block is not None and call in self.block[1]:
            self.block[0].wait(10)
        if call in self.fail:
            raise self.fail[call]

    def isActive(self):
        return 1

    def info(self):
        self._check('info')
        return [1, 4194304, 4194304, 4, 10 ** 9]

    def XMLDesc(self, flags):
        return XML

    def schedulerParametersFlags(self, flags):
        assert flags == LIVE
        self._check('schedinfo')
        return dict(self.sched)

    def setSchedulerParametersFlags(self, params, flags):
        assert flags == LIVE
        self._check('set_schedinfo')
        self.writes.append(('schedinfo', dict(params)))
        self.sched.update(params)

    def blockIoTune(self, disk, flags):
        assert flags == LIVE
        self._check('iotune ' + disk)
        return dict(self.iotune[disk])

    def setBlockIoTune(self, disk, params, flags):
        assert flags == LIVE
        self._check('set_iotune ' + disk)
        self.writes.append((disk, dict(params)))
        self.iotune[disk].update(params)


class Host:
    def __init__(self):
        self.domains = {}
        self.closed = 0

    def lookupByUUIDString(self, uuid):
        if uuid not in self.domains:
            raise LibvirtError('Domain not found: no domain with matching '
                               'uuid', 42)
        return self.domains[uuid]

    def close(self):
        self.closed += 1


def fake_libvirt(hosts):
    def open_(uri):
        if uri not in hosts:
            raise LibvirtError('unable to connect to server at %s: '
                               'Connection refused' % uri, 38)
        return hosts[uri]
    return types.SimpleNamespace(
        VIR_DOMAIN_AFFECT_LIVE=LIVE, VIR_ERR_NO_DOMAIN=42,
        VIR_ERR_NO_SUPPORT=3, VIR_ERR_INVALID_ARG=8,
        VIR_ERR_OPERATION_UNSUPPORTED=84, VIR_ERR_ARGUMENT_UNSUPPORTED=67,
        VIR_ERR_CONFIG_UNSUPPORTED=67, libvirtError=LibvirtError,
        open=open_)


class TestPureParts(base.TestCase):

    def test_disk_targets_leave_out_cdroms_and_nics(self):
        self.assertEqual(['vda', 'vdb'], libvirt_driver.disk_targets(XML))

    def test_vcpu_quota(self):
        self.assertEqual(37500, libvirt_driver.vcpu_quota(100000, 1.5, 4))
        # Never below the 1 ms the kernel accepts.
        self.assertEqual(1000, libvirt_driver.vcpu_quota(100000, 0.01, 8))

    def test_disk_settings(self):
        self.assertEqual({}, libvirt_driver.disk_settings(
            driver_base.ThrottleLimits(1.0)))
        self.assertEqual(
            {'total_iops_sec': 50, 'total_iops_sec_max': 50,
             'read_iops_sec': 0, 'write_iops_sec': 0,
             'read_iops_sec_max': 0, 'write_iops_sec_max': 0},
            libvirt_driver.disk_settings(
                driver_base.ThrottleLimits(1.0, disk_iops_sec=50)))


class TestDriver(base.TestCase):

    def setUp(self):
        super().setUp()
        self.host = Host()
        self.domain = self.host.domains[INSTANCE] = Domain(INSTANCE)
        self.libvirt = fake_libvirt({'qemu+tls://compute-1/system':
                                     self.host})
        self.driver = libvirt_driver.LibvirtThrottleDriver(
            uri_template='qemu+tls://{host}/system', timeout=2,
            cpu_period=100000, libvirt_module=self.libvirt)
        self.addCleanup(self.driver.close)

    def test_quota_and_disks_then_exact_restore(self):
        before_sched = dict(self.domain.sched)
        before_io = {d: dict(v) for d, v in self.domain.iotune.items()}
        previous = self.driver.apply(
            INSTANCE, 'compute-1', driver_base.ThrottleLimits(
                1.5, disk_bytes_sec=10 ** 6), window_end=1)
        self.assertEqual(
            {'schedinfo': {'vcpu_period': 100000,
                           'vcpu_quota': 17592186044415},
             'block_iotune': {
                 'vda': dict.fromkeys(BYTES_FIELDS, 0),
                 'vdb': dict(dict.fromkeys(BYTES_FIELDS, 0),
                             read_bytes_sec=5000)}},
            previous)
        self.assertEqual((100000, 37500), (self.domain.sched['vcpu_period'],
                                           self.domain.sched['vcpu_quota']))
        for disk in ('vda', 'vdb'):
            self.assertEqual(10 ** 6,
                             self.domain.iotune[disk]['total_bytes_sec'])
            self.assertEqual(0, self.domain.iotune[disk]['read_bytes_sec'])
        self.driver.restore(INSTANCE, 'compute-1', previous)
        self.assertEqual(before_sched, self.domain.sched)
        self.assertEqual(before_io, self.domain.iotune)

    def test_guest_allowed_all_its_vcpus_keeps_its_scheduler(self):
        self.domain.fail['schedinfo'] = LibvirtError('must not be read', 1)
        previous = self.driver.apply(INSTANCE, 'compute-1',
                                     driver_base.ThrottleLimits(4.0))
        self.assertEqual({'schedinfo': {}, 'block_iotune': {}}, previous)
        self.assertEqual([], self.domain.writes)

    def test_failed_disk_write_puts_back_what_was_written(self):
        self.domain.fail['set_iotune vdb'] = LibvirtError(
            'Requested operation is not valid: block I/O throttling group '
            'is in use', 55)
        before_sched = dict(self.domain.sched)
        before_vda = dict(self.domain.iotune['vda'])
        e = self.assertRaises(
            driver_base.ThrottleApplyFailed, self.driver.apply, INSTANCE,
            'compute-1', driver_base.ThrottleLimits(1.0,
                                                    disk_iops_sec=100))
        self.assertIn('group is in use', str(e))
        self.assertEqual(before_sched, self.domain.sched)
        self.assertEqual(before_vda, self.domain.iotune['vda'])
        self.assertEqual(['schedinfo', 'vda', 'vda', 'schedinfo'],
                         [w[0] for w in self.domain.writes])

    def test_scheduler_without_quota_is_unsupported(self):
        # Xen's credit scheduler: weight and cap, no CFS quota.
        self.domain.sched = {'weight': 256, 'cap': 0}
        e = self.assertRaises(driver_base.UnsupportedParameter,
                              self.driver.apply, INSTANCE, 'compute-1',
                              driver_base.ThrottleLimits(1.0))
        self.assertIn('schedinfo vcpu_period/vcpu_quota', str(e))
        self.assertIn('offers only cap, weight', str(e))
        self.assertEqual([], self.domain.writes)

    def test_unsupported_error_code_is_unsupported(self):
        self.domain.fail['iotune vda'] = LibvirtError(
            'this function is not supported by the connection driver: '
            'virDomainGetBlockIoTune', 3)
        e = self.assertRaises(
            driver_base.UnsupportedParameter, self.driver.apply, INSTANCE,
            'compute-1', driver_base.ThrottleLimits(1.0, disk_iops_sec=10))
        self.assertIn('blkdeviotune of disk vda', str(e))
        self.assertEqual([], self.domain.writes)

    def test_unknown_domain_and_unreachable_host_are_distinct(self):
        e = self.assertRaises(
            driver_base.DomainNotFound, self.driver.apply,
            'aaaaaaaa-0000-0000-0000-000000000000', 'compute-1',
            driver_base.ThrottleLimits(1.0))
        self.assertIn('has no domain on compute host compute-1', str(e))
        e = self.assertRaises(driver_base.HostUnreachable, self.driver.apply,
                              INSTANCE, 'compute-9',
                              driver_base.ThrottleLimits(1.0))
        self.assertIn('qemu+tls://compute-9/system', str(e))
        self.assertIn('Connection refused', str(e))
        self.assertNotIsInstance(e, driver_base.DomainNotFound)

    def test_host_that_stops_answering_times_out(self):
        release = threading.Event()
        self.addCleanup(release.set)
        self.domain.block = (release, {'set_schedinfo'})
        self.driver.timeout = 0.2
        e = self.assertRaises(driver_base.HostUnreachable, self.driver.apply,
                              INSTANCE, 'compute-1',
                              driver_base.ThrottleLimits(1.0))
        self.assertIn('schedinfo did not answer within 0.2 s', str(e))

    def test_restore_failure_is_a_restore_error(self):
        previous = self.driver.apply(INSTANCE, 'compute-1',
                                     driver_base.ThrottleLimits(2.0))
        self.domain.fail['set_schedinfo'] = LibvirtError('broken pipe', 38)
        e = self.assertRaises(driver_base.ThrottleRestoreFailed,
                              self.driver.restore, INSTANCE, 'compute-1',
                              previous)
        self.assertIn('broken pipe', str(e))
        e = self.assertRaises(driver_base.ThrottleRestoreFailed,
                              self.driver.restore, INSTANCE, 'compute-9',
                              previous)
        self.assertIn('not reachable', str(e))

    def test_one_connection_per_host_closed_once(self):
        limits = driver_base.ThrottleLimits(2.0)
        self.driver.apply(INSTANCE, 'compute-1', limits)
        self.driver.apply(INSTANCE, 'compute-1', limits)
        self.driver.close()
        self.driver.close()
        self.assertEqual(1, self.host.closed)
