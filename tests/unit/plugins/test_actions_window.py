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

"""The window gate: skip when the window has passed, wait when early."""

import datetime

from watcher.common import exception as watcher_exception
from watcher.tests.unit import base

from watcher_predictive import exception
from watcher_predictive.plugins.actions import window

START = datetime.datetime(2026, 11, 25, 10, 5, tzinfo=datetime.timezone.utc)
END = datetime.datetime(2026, 11, 25, 10, 35, tzinfo=datetime.timezone.utc)
WINDOW = window.Window(START, END)
T_START = START.timestamp()
T_END = END.timestamp()


class FakeClock:
    """A clock that only moves when slept on (``oversleep`` extra)."""

    def __init__(self, now, oversleep=0):
        self.now = now
        self.oversleep = oversleep
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep


class TestWindowGate(base.TestCase):

    def gate(self, clock, **kwargs):
        return window.WindowGate(clock=clock.time, sleep=clock.sleep,
                                 **kwargs)

    def test_inside_the_window_proceeds_at_once(self):
        clock = FakeClock(T_START + 60)
        self.gate(clock).wait('throttle of instance i-1', WINDOW)
        self.assertEqual([], clock.sleeps)

    def test_at_window_start_proceeds(self):
        clock = FakeClock(T_START)
        self.gate(clock).wait('x', WINDOW)
        self.assertEqual([], clock.sleeps)

    def test_passed_window_is_skipped(self):
        clock = FakeClock(T_END + 125)
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.gate(clock).wait,
                              'predictive_migrate of instance i-1', WINDOW)
        message = str(e)
        self.assertIn('predictive_migrate of instance i-1', message)
        self.assertIn('ended at 2026-11-25T10:35:00Z', message)
        self.assertIn('125 s ago', message)
        self.assertIn('skipped rather than executed late', message)
        self.assertEqual([], clock.sleeps)

    def test_window_end_itself_is_too_late(self):
        clock = FakeClock(T_END)
        self.assertRaises(watcher_exception.ActionSkipped,
                          self.gate(clock).wait, 'x', WINDOW)

    def test_early_waits_in_poll_steps_until_the_window_opens(self):
        clock = FakeClock(T_START - 100)
        self.gate(clock, poll_interval=30, max_wait=3600).wait('x', WINDOW)
        self.assertEqual([30, 30, 30, 10], clock.sleeps)
        self.assertEqual(T_START, clock.now)

    def test_poll_interval_and_max_wait_come_from_the_config(self):
        self.flags(window_poll_interval=45, max_window_wait=600,
                   group='watcher_predictive')
        clock = FakeClock(T_START - 100)
        self.gate(clock).wait('x', WINDOW)
        self.assertEqual([45, 45, 10], clock.sleeps)
        clock = FakeClock(T_START - 601)
        self.assertRaises(watcher_exception.ActionSkipped,
                          self.gate(clock).wait, 'x', WINDOW)

    def test_wait_beyond_max_window_wait_is_skipped_without_waiting(self):
        clock = FakeClock(T_START - 7200)
        e = self.assertRaises(watcher_exception.ActionSkipped,
                              self.gate(clock, poll_interval=30,
                                        max_wait=3600).wait, 'x', WINDOW)
        self.assertIn('max_window_wait', str(e))
        self.assertIn('7200 s', str(e))
        self.assertEqual([], clock.sleeps)

    def test_window_missed_while_waiting_is_skipped(self):
        # The process was suspended for an hour in one sleep.
        clock = FakeClock(T_START - 10, oversleep=3600)
        self.assertRaises(watcher_exception.ActionSkipped,
                          self.gate(clock, poll_interval=30,
                                    max_wait=3600).wait, 'x', WINDOW)
        self.assertEqual([10], clock.sleeps)


class TestParseWindow(base.TestCase):

    def test_parses_utc_times(self):
        parsed = window.parse_window('throttle', {
            'window_start': '2026-11-25T10:05:00Z',
            'window_end': '2026-11-25T10:35:00+00:00'})
        self.assertEqual(WINDOW, parsed)
        self.assertEqual('2026-11-25T10:05:00Z', window.iso(parsed.start))
        self.assertEqual('2026-11-25T10:35:00Z', window.iso(T_END))

    def test_errors_name_the_parameter(self):
        cases = [
            ({'window_start': '2026-11-25T10:05:00Z',
              'window_end': '2026-11-25T10:05:00Z'}, 'window_end',
             'must end after it starts'),
            ({'window_start': '2026-13-25T10:05:00Z',
              'window_end': '2026-11-25T10:35:00Z'}, 'window_start',
             'not a valid ISO 8601 time'),
            ({'window_start': '2026-11-25T10:05:00+02:00',
              'window_end': '2026-11-25T10:35:00Z'}, 'window_start',
             'UTC'),
            ({'window_start': 1764065100,
              'window_end': '2026-11-25T10:35:00Z'}, 'window_start',
             'ISO 8601 UTC string'),
        ]
        for params, name, reason in cases:
            e = self.assertRaises(exception.ActionParameterError,
                                  window.parse_window, 'throttle', params)
            self.assertEqual(name, e.kwargs['name'])
            self.assertIn('parameter %s=' % name, str(e))
            self.assertIn(reason, str(e))
            self.assertIn('throttle', str(e))
