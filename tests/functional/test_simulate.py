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

"""``watcher-predictive simulate`` end to end: the command line, the
trace readers, the replay, the online ensemble and the engine."""

import json
import os

import numpy as np
import pytest

from watcher_predictive.cmd import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TRACES = os.environ.get('WATCHER_PREDICTIVE_TRACES',
                        os.path.join(ROOT, '..', 'shared', 'traces'))
BITBRAINS = os.path.join(TRACES, 'bitbrains_rnd_2013-8')
KEYS = ('overload_minutes', 'migrations', 'migrations_in_lull',
        'migration_cost', 'resizes', 'throttled_minutes',
        'active_host_hours')


def simulate(capsys, *args):
    assert cli.main(['simulate', '--json'] + list(args)) == 0
    return json.loads(capsys.readouterr().out)


def check_consistent(result, hosts, days):
    for key in KEYS:
        assert result[key] >= 0, key
    assert result['migrations_in_lull'] <= result['migrations']
    assert (result['migration_cost'] > 0) == (result['migrations'] > 0)
    assert sum(result['migrations_by_source'].values()) == \
        result['migrations']
    # Never more hosts in use than exist, never fewer than one.
    assert 0 < result['active_host_hours'] <= hosts * days * 24 + 1e-6
    assert result['overload_minutes'] <= hosts * days * 24 * 60


@pytest.mark.skipif(not os.path.isdir(BITBRAINS),
                    reason='the Bitbrains trace is not at %s' % BITBRAINS)
@pytest.mark.parametrize('policy', ['none', 'reactive', 'predictive'])
def test_bitbrains_slice(capsys, policy):
    result = simulate(capsys, '--trace', BITBRAINS, '--format', 'bitbrains',
                      '--hosts', '4', '--limit', '20', '--warmup-days', '2',
                      '--days', '0.5', '--host-cores', '8', '--policy',
                      policy)
    assert set(KEYS) <= set(result)
    assert result['policy'] == policy
    check_consistent(result, 4, 0.5)
    if policy == 'none':
        assert result['migrations'] == result['resizes'] == 0
        assert result['throttled_minutes'] == 0


def write_constructed(path, days=8, step=300, seed=3):
    """Eight one-vCPU guests: two always busy, one half busy, three idle,
    and two that burst together every day from 10:00 to 12:00 UTC. Packed
    on one host of four cores they overload it two hours a day; a second
    host is empty.
    """
    rng = np.random.default_rng(seed)
    n = days * 86400 // step
    times = np.arange(n) * step
    hour = (times % 86400) / 3600.0
    burst = (hour >= 10) & (hour < 12)
    columns = {
        'busy-1': np.full(n, 97.0), 'busy-2': np.full(n, 97.0),
        'half': np.full(n, 50.0),
        'idle-1': np.full(n, 2.0), 'idle-2': np.full(n, 2.0),
        'idle-3': np.full(n, 2.0),
        'burst-1': np.where(burst, 98.0, 1.0),
        'burst-2': np.where(burst, 98.0, 1.0),
    }
    with open(path, 'w') as out:
        out.write('timestamp,' + ','.join(columns) + '\n')
        for t in range(n):
            values = [min(100.0, max(0.0, v[t] + rng.normal(0, 1.0)))
                      for v in columns.values()]
            out.write('%d,%s\n' % (times[t] + 1700006400, ','.join(
                '%.1f' % v for v in values)))


def test_predictive_beats_reactive_on_a_daily_burst(capsys, tmp_path):
    """Where the bursts come back at the same hour every day, acting on
    the forecast moves a burster before 10:00, in its lull, once; acting
    on the present waits for the overload, and Watcher's consolidation
    packs the guests back on the first host as soon as they calm down.
    """
    path = str(tmp_path / 'daily.csv')
    write_constructed(path)
    common = ['--trace', path, '--format', 'wide', '--hosts', '2',
              '--host-cores', '4', '--warmup-days', '6', '--days', '2']
    none = simulate(capsys, *common, '--policy', 'none')
    reactive = simulate(capsys, *common, '--policy', 'reactive')
    predictive = simulate(capsys, *common, '--policy', 'predictive')
    for result in (none, reactive, predictive):
        check_consistent(result, 2, 2)
    # Without a policy the host overloads about two hours a day.
    assert none['overload_minutes'] >= 2 * 100
    assert reactive['migrations'] > 0
    assert predictive['overload_minutes'] <= \
        0.5 * reactive['overload_minutes']
    assert predictive['migrations'] <= reactive['migrations']
    assert predictive['migrations_in_lull'] == predictive['migrations']
