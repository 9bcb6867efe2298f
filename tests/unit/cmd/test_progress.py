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

"""Progress lines: on a terminal by default, never with --quiet."""

import io
import json
import os
import pty
import subprocess
import sys

import pytest

from watcher_predictive.cmd import cli
from watcher_predictive.cmd import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_shown_on_a_terminal_only():
    on_tty, piped = Terminal(), io.StringIO()
    progress.Progress('demo', stream=on_tty)('profiling')
    progress.Progress('demo', stream=piped)('profiling')
    assert on_tty.getvalue().startswith('demo: profiling (')
    assert piped.getvalue() == ''


def test_quiet_and_forced():
    quiet, forced = Terminal(), io.StringIO()
    progress.Progress('demo', quiet=True, stream=quiet)('x')
    progress.Progress('demo', force=True, stream=forced)('x')
    assert quiet.getvalue() == ''
    assert forced.getvalue().startswith('demo: x')


def test_quiet_and_progress_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(['demo', '--quiet', '--progress'])
    assert 'not allowed with' in capsys.readouterr().err


def _demo(tmp_path, *flags, tty=False):
    command = [sys.executable, '-m', 'watcher_predictive.cmd.cli', 'demo',
               '--generated', '--instances', '6', '--hosts', '2',
               '--host-cores', '8', '--state-dir', str(tmp_path), '--json']
    command += list(flags)
    if not tty:
        return subprocess.run(command, capture_output=True, text=True,
                              timeout=300).stderr
    # stderr on a real pseudo-terminal, as an operator's shell gives it.
    leader, follower = pty.openpty()
    try:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=follower,
                       timeout=300, check=True)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks).decode()
    finally:
        os.close(leader)


def test_demo_progress_on_a_terminal(tmp_path):
    shown = _demo(tmp_path / 'a', tty=True)
    assert 'demo: auditing: profiling, forecasting and planning' in shown
    assert 'demo: scheduling the action plan' in shown


def test_demo_quiet_hides_progress_even_on_a_terminal():
    args = cli.build_parser().parse_args(['demo', '--quiet'])
    terminal = Terminal()
    reporter = progress.Progress.from_args('demo', args)
    reporter.stream = terminal
    reporter('auditing')
    assert terminal.getvalue() == ''


def _wide_trace(folder):
    """Two days of two guests, one CSV column each."""
    lines = ['step,web,db']
    for k in range(2 * 288):
        busy = 8 <= (k * 300 % 86400) / 3600 < 20
        lines.append('%d,%.1f,%.1f' % (k, 5 + 50 * busy, 3 + 30 * busy))
    path = folder / 'guests.csv'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@pytest.mark.parametrize('flag,shown', [('--progress', True),
                                        ('--quiet', False)])
def test_backtest_progress(capsys, tmp_path, flag, shown):
    code = cli.main(['backtest', '--trace', _wide_trace(tmp_path),
                     '--format', 'wide', '--holdout-days', '1', '--models',
                     'last_value', '--json', flag])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert ('backtest: 2 series of' in err) is shown
    assert ('backtest: last_value: 2 series, 24 origins' in err) is shown
    assert json.loads(out)['series'] == 2
