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

"""The libvirt throttle driver and actions on libvirt's ``test:///default``.

``test:///default`` is libvirt's in-process test hypervisor: real
connections, domains, XML and errors, no daemon. It supports the per-disk
I/O tuning (``virDomainGetBlockIoTune``/``SetBlockIoTune``), which is
exercised here end to end, and refuses the live vCPU quota (its
scheduler has only a weight), which is how the driver's "unsupported
parameter" path is checked. The quota itself, on QEMU/KVM, is covered by
tests/unit/plugins/test_drivers_libvirt.py. An unreachable host is a
closed port; a host that stops answering is a socket that accepts and
never replies.
"""

import socket
from unittest import mock
import uuid

import libvirt
import pytest
from watcher.common import exception as watcher_exception

from watcher_predictive.plugins.actions.drivers import base as driver_base
from watcher_predictive.plugins.actions.drivers import libvirt_driver
from watcher_predictive.plugins.actions import throttle
from watcher_predictive.plugins.actions import unthrottle
from watcher_predictive.storage import api as storage
from watcher_predictive.storage import migration

URI = 'test:///default'
LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
DOMAIN_XML = """<domain type='test'>
  <name>guest-{uuid}</name>
  <uuid>{uuid}</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/{uuid}-a'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/guest/{uuid}-b'/><target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/guest/{uuid}.iso'/><target dev='hdc' bus='ide'/>
    </disk>
  </devices>
</domain>"""
# Set on vdb before the throttle: what a restore must bring back.
EARLIER = {'read_bytes_sec': 5000, 'read_bytes_sec_max': 5000,
           'write_iops_sec': 40, 'write_iops_sec_max': 40}
FIELDS = ('total_bytes_sec', 'read_bytes_sec', 'write_bytes_sec',
          'total_iops_sec', 'read_iops_sec', 'write_iops_sec',
          'total_bytes_sec_max', 'total_iops_sec_max', 'read_bytes_sec_max',
          'write_iops_sec_max')


@pytest.fixture
def guest():
    """A running guest of test:///default with two disks and a CD-ROM."""
    conn = libvirt.open(URI)
    instance = str(uuid.uuid4())
    domain = conn.defineXML(DOMAIN_XML.format(uuid=instance))
    domain.create()
    domain.setBlockIoTune('vdb', EARLIER, LIVE)
    yield instance, domain
    domain.destroy()
    domain.undefine()
    conn.close()


def iotune(domain):
    return {disk: {k: domain.blockIoTune(disk, LIVE)[k] for k in FIELDS}
            for disk in ('vda', 'vdb')}


def driver(**kwargs):
    kwargs.setdefault('uri_template', URI)
    kwargs.setdefault('timeout', 10)
    return libvirt_driver.LibvirtThrottleDriver(**kwargs)


def test_disk_limits_on_every_disk_then_exact_restore(guest):
    instance, domain = guest
    before = iotune(domain)
    assert before['vdb']['read_bytes_sec'] == 5000
    throttler = driver()
    try:
        previous = throttler.apply(
            instance, 'compute-1', driver_base.ThrottleLimits(
                2.0, disk_bytes_sec=2 * 10 ** 6, disk_iops_sec=300))
    finally:
        throttler.close()
    assert previous['schedinfo'] == {}
    assert sorted(previous['block_iotune']) == ['vda', 'vdb']
    assert previous['block_iotune']['vdb']['read_bytes_sec'] == 5000
    during = iotune(domain)
    for disk in ('vda', 'vdb'):
        assert during[disk]['total_bytes_sec'] == 2 * 10 ** 6
        assert during[disk]['total_iops_sec'] == 300
        assert during[disk]['read_bytes_sec'] == 0
        assert during[disk]['write_iops_sec'] == 0
    # Another driver object, another connection: nothing is kept between.
    restorer = driver()
    try:
        restorer.restore(instance, 'compute-1', previous)
    finally:
        restorer.close()
    assert iotune(domain) == before


def test_vcpu_quota_unsupported_changes_nothing(guest):
    instance, domain = guest
    before = iotune(domain)
    throttler = driver()
    try:
        with pytest.raises(driver_base.UnsupportedParameter) as e:
            throttler.apply(instance, 'compute-1',
                            driver_base.ThrottleLimits(
                                1.0, disk_bytes_sec=10 ** 6))
    finally:
        throttler.close()
    assert 'schedinfo vcpu_quota/vcpu_period' in str(e.value)
    assert 'compute-1' in str(e.value)
    assert iotune(domain) == before


def test_guest_not_running(guest):
    instance, domain = guest
    domain.destroy()
    try:
        throttler = driver()
        try:
            with pytest.raises(driver_base.ThrottleApplyFailed) as e:
                throttler.apply(instance, 'compute-1',
                                driver_base.ThrottleLimits(
                                    2.0, disk_iops_sec=10))
        finally:
            throttler.close()
        assert 'is not running' in str(e.value)
    finally:
        domain.create()


def test_unknown_domain():
    throttler = driver()
    try:
        with pytest.raises(driver_base.DomainNotFound) as e:
            throttler.apply(str(uuid.uuid4()), 'compute-1',
                            driver_base.ThrottleLimits(1.0))
    finally:
        throttler.close()
    assert 'has no domain on compute host compute-1 (test:///default)' \
        in str(e.value)
    assert not isinstance(e.value, driver_base.HostUnreachable)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_unreachable_host():
    port = _free_port()
    throttler = driver(uri_template='qemu+tcp://{host}:%d/system' % port)
    try:
        with pytest.raises(driver_base.HostUnreachable) as e:
            throttler.apply(str(uuid.uuid4()), '127.0.0.1',
                            driver_base.ThrottleLimits(1.0))
    finally:
        throttler.close()
    assert 'qemu+tcp://127.0.0.1:%d/system' % port in str(e.value)
    assert 'Connection refused' in str(e.value)


def test_host_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    throttler = driver(uri_template='qemu+tcp://{host}:%d/system' % port,
                       timeout=1)
    try:
        with pytest.raises(driver_base.HostUnreachable) as e:
            throttler.apply(str(uuid.uuid4()), '127.0.0.1',
                            driver_base.ThrottleLimits(1.0))
        assert 'did not answer within 1 s' in str(e.value)
    finally:
        # Closing the socket ends the connection attempt left behind.
        listener.close()
        throttler.close()


def test_throttle_then_unthrottle_actions(guest, tmp_path):
    instance, domain = guest
    before = iotune(domain)
    url = 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
    migration.upgrade(url)
    store = storage.Store(url)
    try:
        action = throttle.Throttle(mock.Mock(), osc=mock.Mock())
        action.input_parameters = {
            'resource_id': instance, 'host': 'compute-1', 'cpu_limit': 2.0,
            'disk_iops_sec': 250, 'window_start': '2026-11-25T10:00:00Z',
            'window_end': '2026-11-25T10:30:00Z'}
        action.driver = driver()
        action.store = store
        assert action.execute() is True
        [row] = store.applied_throttles(instance)
        assert (row.driver, row.limits['disk_iops_sec']) == ('libvirt', 250)
        assert row.previous['block_iotune']['vdb']['write_iops_sec'] == 40
        assert iotune(domain)['vdb']['total_iops_sec'] == 250

        lift = unthrottle.Unthrottle(mock.Mock(), osc=mock.Mock())
        lift.input_parameters = {
            'resource_id': instance, 'host': 'compute-1',
            'window_start': '2026-11-25T10:30:00Z',
            'window_end': '2026-11-26T10:30:00Z'}
        lift.store = store
        lift.get_driver = lambda name: driver()
        lift.clock = lambda: row.window_end + 1
        assert lift.execute() is True
        assert store.applied_throttles(instance) == []
        assert iotune(domain) == before
    finally:
        store.dispose()


def test_failed_throttle_action_records_nothing(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'watcher.sqlite')
    migration.upgrade(url)
    store = storage.Store(url)
    instance = str(uuid.uuid4())
    try:
        action = throttle.Throttle(mock.Mock(), osc=mock.Mock())
        action.input_parameters = {
            'resource_id': instance, 'host': 'compute-1', 'cpu_limit': 1.0,
            'window_start': '2026-11-25T10:00:00Z',
            'window_end': '2026-11-25T10:30:00Z'}
        action.driver = driver()
        action.store = store
        with pytest.raises(watcher_exception.ActionExecutionFailure) as e:
            action.execute()
        assert 'has no domain on compute host compute-1' in str(e.value)
        assert store.applied_throttles(instance) == []
    finally:
        store.dispose()
