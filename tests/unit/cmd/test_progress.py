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


def test_demo_progress_on_a_terminal_and_quiet(tmp_path):
    shown = _demo(tmp_path / 'a', tty=True)
    assert 'demo: auditing: profiling, forecasting and planning' in shown
    assert 'demo: scheduling the action plan' in shown
    assert 'demo: ' not in _demo(tmp_path / 'b', '--quiet', tty=True)
    assert 'demo: ' not in _demo(tmp_path / 'c')
