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

"""The demo: a real audit with Watcher's code on SQLite, end to end.

Each run is a separate process, as an operator runs it: Watcher's database
layer keeps one engine per process.
"""

import json
import os
import subprocess
import sys
import tempfile

import testtools

from tests import traces


def demo(*args):
    state = tempfile.mkdtemp()
    result = subprocess.run(
        [sys.executable, '-m', 'watcher_predictive.cmd.cli', 'demo',
         '--state-dir', state] + list(args),
        capture_output=True, text=True, timeout=300)
    return result, state


class TestDemo(testtools.TestCase):

    def test_generated_guests_as_json(self):
        result, state = demo('--generated', '--instances', '16', '--hosts',
                             '3', '--host-cores', '8', '--json')
        self.assertEqual(0, result.returncode, result.stderr)
        actions = json.loads(result.stdout)
        self.assertTrue(actions)
        for action in actions:
            self.assertIn(action['action_type'], (
                'predictive_migrate', 'predictive_resize', 'throttle',
                'unthrottle'))
            for key in ('window_start', 'window_end', 'release_probability',
                        'expected_benefit', 'reason'):
                self.assertIn(key, action['input_parameters'])
        self.assertTrue(os.path.exists(os.path.join(state,
                                                    'watcher.sqlite')))

    def test_trace_replay_plans_in_lulls(self):
        folder = traces.trace_path()
        if folder is None:
            self.skipTest(traces.missing_message())
        result, _ = demo('--trace', folder)
        self.assertEqual(0, result.returncode, result.stderr)
        text = result.stdout
        self.assertIn('busiest to idlest', text)
        for kind in ('predictive_migrate', 'predictive_resize'):
            self.assertIn('| %s' % kind, text)
        self.assertIn('instances_profiled               40', text)
        indicators = dict(line.split() for line in text.splitlines()
                          if line.startswith('  ') and len(line.split()) == 2)
        self.assertEqual(
            int(indicators['tasks_in_predicted_lull']),
            int(indicators['migrations_planned']) +
            int(indicators['resizes_planned']))
        self.assertIn('window_start: ', text)
        self.assertIn('release_probability: ', text)

    def test_bad_input_is_named(self):
        result, _ = demo('--generated', '-p', 'horizon=soon')
        self.assertEqual(2, result.returncode)
        self.assertIn('horizon', result.stderr)
        self.assertIn("'soon'", result.stderr)
        result, _ = demo('--trace', '/nonexistent')
        self.assertEqual(2, result.returncode)
        self.assertIn('--trace', result.stderr)
