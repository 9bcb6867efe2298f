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

"""Bad input to ``watcher-predictive simulate`` is named, not a trace."""

import pytest

from watcher_predictive.cmd import cli


def write_wide(path, vms=2, steps=600):
    with open(path, 'w') as out:
        out.write('step,' + ','.join('vm-%d' % i for i in range(vms)) +
                  '\n')
        for t in range(steps):
            out.write('%d,%s\n' % (t, ','.join(['10'] * vms)))


@pytest.mark.parametrize('extra, named', [
    (['--audit-interval', '100'], 'audit_interval'),
    (['--reactive-strategies', 'noisy_neighbor'], '--reactive-strategies'),
    (['-p', 'host_cpu_threshold=2'], 'host_cpu_threshold'),
    (['--hosts', '0'], '--hosts'),
    (['--warmup-days', '30'], 'warmup_days'),
])
def test_bad_input_is_named(tmp_path, capsys, extra, named):
    path = str(tmp_path / 'w.csv')
    write_wide(path)
    args = ['simulate', '--trace', path, '--format', 'wide', '--hosts',
            '1', '--warmup-days', '1', '--policy', 'none']
    assert cli.main(args + extra) == 2
    err = capsys.readouterr().err
    assert named in err


def test_missing_trace_is_named(capsys):
    assert cli.main(['simulate', '--trace', '/nonexistent', '--format',
                     'bitbrains', '--hosts', '2']) == 2
    assert '/nonexistent' in capsys.readouterr().err


def test_capped_telemetry_reaches_the_replay(tmp_path, capsys):
    import argparse

    from watcher_predictive.cmd import simulate
    parser = argparse.ArgumentParser()
    simulate.add_parser(parser.add_subparsers())
    path = str(tmp_path / 'w.csv')
    for flag, expected in (([], False), (['--capped-telemetry'], True)):
        args = parser.parse_args(['simulate', '--trace', path, '--format',
                                  'wide', '--hosts', '1'] + flag)
        assert simulate.settings(args).capped_telemetry is expected
    write_wide(path)
    assert cli.main(['simulate', '--trace', path, '--format', 'wide',
                     '--hosts', '1', '--warmup-days', '1', '--policy',
                     'predictive', '--capped-telemetry', '--json']) == 0
    assert '"overload_minutes"' in capsys.readouterr().out
