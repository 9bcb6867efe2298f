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

"""``forecast show`` on the state of a real demo audit.

The demo runs Watcher's own code on SQLite and leaves Watcher's tables
(audit, action plan, actions) and the plugin's (profiles, forecasts) in
one database; the command reads them through a watcher.conf, in a separate
process as an operator runs it.
"""

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from watcher_predictive.storage import api as storage

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def cli(*args, prelude=''):
    code = (prelude + 'import sys\nfrom watcher_predictive.cmd import cli\n'
            'sys.exit(cli.main(sys.argv[1:]))')
    return subprocess.run([sys.executable, '-c', code] + list(args),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope='module')
def audited(tmp_path_factory):
    """A demo audit's database and one instance with a planned action."""
    state = tmp_path_factory.mktemp('demo')
    result = cli('demo', '--generated', '--instances', '12', '--hosts', '3',
                 '--host-cores', '8', '--state-dir', str(state), '--json')
    assert result.returncode == 0, result.stderr
    actions = json.loads(result.stdout)
    assert actions, 'the demo planned nothing'
    database = state / 'watcher.sqlite'
    return {'state': state, 'url': 'sqlite:///%s' % database,
            'action': actions[0],
            'instance': actions[0]['input_parameters']['resource_id']}


def write_conf(folder, url, watcher_url=None, **options):
    lines = ['[database]', 'connection = %s' % (watcher_url or url),
             '[watcher_predictive]', 'telemetry_timeout = 5']
    if watcher_url:
        lines.append('connection = %s' % url)
    lines += ['%s = %s' % item for item in options.items()]
    path = os.path.join(folder, 'watcher.conf')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def show(audited, conf, *args):
    result = cli('forecast', 'show', audited['instance'], '--config-file',
                 conf, '--json', *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_has_quantiles_lull_and_action(audited, tmp_path):
    conf = write_conf(tmp_path, audited['url'])
    data = show(audited, conf, '--vcpus', '2')
    assert data['instance_uuid'] == audited['instance']
    assert len(data['steps']) == 12          # default horizon / step
    for step in data['steps']:
        values = step['quantiles']
        assert len(values) == len(data['levels'])
        assert values == sorted(values)
        assert 0.0 <= step['lull_probability'] <= 1.0
    # The release probability is the best window's least likely step.
    duration = data['task_duration'] // data['step']
    probabilities = [s['lull_probability'] for s in data['steps']]
    best = max(min(probabilities[k:k + duration])
               for k in range(len(probabilities) - duration + 1))
    assert data['release_probability'] == pytest.approx(best, abs=1e-4)
    starts = [s['start'] for s in data['steps']]
    assert data['lull_window'][0] in starts
    # Every planned action of that instance (a throttle comes with the
    # unthrottle that lifts it), and only those.
    assert audited['action']['uuid'] in [a['uuid'] for a in data['actions']]
    assert {a['input_parameters']['resource_id']
            for a in data['actions']} == {audited['instance']}
    [action] = [a for a in data['actions']
                if a['uuid'] == audited['action']['uuid']]
    assert action['input_parameters']['window_start'] == \
        audited['action']['input_parameters']['window_start']
    assert action['action_plan_state'] == 'RECOMMENDED'


def test_text_output_with_the_demo_watcher_conf(audited):
    # The demo writes a watcher.conf naming its database.
    conf = str(audited['state'] / 'watcher.conf')
    result = cli('forecast', 'show', audited['instance'], '--config-file',
                 conf)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'Forecast of cpu for instance %s' % audited['instance'] in out
    assert '| q0.05' in out and '| q0.95' in out
    assert 'give --vcpus N' in out
    assert audited['action']['uuid'] in out
    assert 'reason: ' in out


def test_unknown_instance_is_a_clear_error(audited, tmp_path):
    conf = write_conf(tmp_path, audited['url'])
    missing = '00000000-0000-0000-0000-000000000000'
    result = cli('forecast', 'show', missing, '--config-file', conf)
    assert result.returncode == 2
    assert 'no cpu forecast of instance %s is stored' % missing \
        in result.stderr


def test_missing_config_file(tmp_path):
    path = str(tmp_path / 'nowhere.conf')
    result = cli('forecast', 'show', 'x', '--config-file', path)
    assert result.returncode == 2
    assert '--config-file' in result.stderr and path in result.stderr


def test_bad_vcpus_refused(audited, tmp_path):
    conf = write_conf(tmp_path, audited['url'])
    result = cli('forecast', 'show', audited['instance'], '--config-file',
                 conf, '--vcpus', '0')
    assert result.returncode == 2 and '--vcpus' in result.stderr


def test_watcher_tables_unreadable_still_shows_forecast(audited, tmp_path):
    """Plugin tables in their own database, Watcher's empty: the forecast
    is shown and the missing actions are explained.
    """
    empty = 'sqlite:///%s' % (tmp_path / 'empty.sqlite')
    conf = write_conf(tmp_path, audited['url'], watcher_url=empty)
    data = show(audited, conf)
    assert data['actions'] == []
    assert any('planned actions unavailable' in n for n in data['notes'])


def _bitbrains_folder(folder, days=2):
    """A Bitbrains-format trace of one guest ending now."""
    os.makedirs(folder)
    now = int(time.time())
    header = ('Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];'
              '\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity '
              'provisioned [KB];\tMemory usage [KB];\tDisk read throughput '
              '[KB/s];\tDisk write throughput [KB/s];\tNetwork received '
              'throughput [KB/s];\tNetwork transmitted throughput [KB/s]')
    rows = [header]
    for t in range(now - days * 86400, now, 300):
        usage = 1000.0 + 500 * np.sin(t / 7200.0)
        rows.append('%d;\t2;\t5000.0;\t%.1f;\t%.2f;\t8388608.0;\t1000000.0;'
                    '\t0.0;\t1.0;\t2.0;\t3.0' % (t, usage, usage / 50))
    with gzip.open(os.path.join(folder, '1.csv.gz'), 'wt') as f:
        f.write('\n'.join(rows) + '\n')


def _plot_pixels(path):
    from matplotlib import image
    with open(path, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    return image.imread(path)


def test_plot_with_history_from_telemetry(audited, tmp_path):
    pytest.importorskip('matplotlib')
    trace = tmp_path / 'trace'
    _bitbrains_folder(str(trace))
    conf = write_conf(tmp_path, audited['url'], telemetry_source='trace',
                      trace_path=str(trace))
    png = tmp_path / 'forecast.png'
    data = show(audited, conf, '--vcpus', '2', '--plot', str(png))
    assert data['history_origin'] == 'telemetry (trace)'
    assert data['history_points'] >= 280     # a day of 5-minute steps
    pixels = _plot_pixels(png)
    assert pixels.shape[:2] == (500, 1100)
    # Something is drawn: far from a blank canvas.
    assert pixels[..., :3].std() > 0.05
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.png')
                and p != 'forecast.png'], 'a temporary file was left'


def test_plot_falls_back_to_stored_forecasts(audited, tmp_path):
    """Telemetry unreachable (no Keystone credentials for Gnocchi): the
    history drawn is the medians of the earlier stored forecasts.
    """
    pytest.importorskip('matplotlib')
    store = storage.Store(audited['url'])
    latest = store.latest_forecasts(instance_uuid=audited['instance'],
                                    resource='cpu', limit=1)[0]
    earlier = [storage.ForecastRecord(
        instance_uuid=latest.instance_uuid, resource='cpu',
        model=latest.model, issued_at=latest.issued_at - k * 300,
        start=latest.start - k * 300, step=latest.step,
        levels=latest.levels, quantiles=latest.quantiles)
        for k in (1, 2, 3)]
    store.save_audit('11111111-2222-3333-4444-555555555555', [], earlier)
    store.dispose()
    conf = write_conf(tmp_path, audited['url'], telemetry_source='gnocchi')
    png = tmp_path / 'fallback.png'
    data = show(audited, conf, '--plot', str(png))
    assert data['history_origin'] == ('first-step medians of 3 earlier '
                                      'stored forecasts')
    assert any('history not read from telemetry' in n and 'gnocchi' in n
               for n in data['notes'])
    assert _plot_pixels(png).shape[:2] == (500, 1100)


def test_plot_without_matplotlib_says_how_to_install(audited, tmp_path):
    conf = write_conf(tmp_path, audited['url'])
    png = tmp_path / 'never.png'
    # matplotlib made unimportable in that process only.
    result = cli('forecast', 'show', audited['instance'], '--config-file',
                 conf, '--plot', str(png),
                 prelude="import sys\nsys.modules['matplotlib'] = None\n")
    assert result.returncode == 2
    assert 'watcher-predictive[plot]' in result.stderr
    assert not png.exists()


def test_only_the_instance_actions_are_read(audited):
    """Actions of other instances of the same plan are not shown."""
    from watcher_predictive.cmd import watcher_db
    database = watcher_db.WatcherDatabase(audited['url'], timeout=5)
    try:
        mine = database.actions_of(audited['instance'])
    finally:
        database.dispose()
    with sqlite3.connect(audited['url'][len('sqlite:///'):]) as conn:
        expected = [uuid for uuid, params in conn.execute(
            'SELECT uuid, input_parameters FROM actions WHERE deleted = 0')
            if json.loads(params)['resource_id'] == audited['instance']]
    assert sorted(a['uuid'] for a in mine) == sorted(expected)


def test_watcher_database_unreachable_still_shows_forecast(audited,
                                                           tmp_path):
    # Nothing listens on port 1: the connection is refused at once.
    refused = 'postgresql+psycopg2://nobody@127.0.0.1:1/watcher'
    conf = write_conf(tmp_path, audited['url'], watcher_url=refused)
    data = show(audited, conf)
    assert len(data['steps']) == 12
    notes = [n for n in data['notes'] if 'planned actions unavailable' in n]
    assert notes and '127.0.0.1:1' in notes[0]


def test_plugin_tables_missing_says_to_upgrade(tmp_path):
    empty = 'sqlite:///%s' % (tmp_path / 'empty.sqlite')
    conf = write_conf(tmp_path, empty)
    result = cli('forecast', 'show', 'a6ae860a-252b-5ae7-862d-8e8794744fe1',
                 '--config-file', conf)
    assert result.returncode == 2
    assert 'plugin tables are missing' in result.stderr
    assert 'watcher-predictive-db-manage upgrade' in result.stderr
