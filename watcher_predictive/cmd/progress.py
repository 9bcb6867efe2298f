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

"""Progress lines of the long commands (backtest, demo), on stderr.

By default they are shown when stderr is a terminal, so that an operator
sees a long command is alive while scripts and logs get only the result;
``--quiet`` hides them and ``--progress`` shows them anywhere.
"""

import sys
import time


def add_arguments(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--quiet', '-q', action='store_true',
                       help='Print no progress lines.')
    group.add_argument('--progress', action='store_true',
                       help='Print progress lines to stderr even when it '
                            'is not a terminal (default: only on a '
                            'terminal).')


class Progress:
    """Callable writing ``<command>: <line> (<elapsed> s)`` to stderr."""

    def __init__(self, command, quiet=False, force=False, stream=None):
        self.command = command
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, 'isatty', lambda: False)
        self.enabled = not quiet and (force or isatty())
        self.began = time.monotonic()

    @classmethod
    def from_args(cls, command, args):
        return cls(command, quiet=getattr(args, 'quiet', False),
                   force=getattr(args, 'progress', False))

    def __call__(self, line):
        if self.enabled:
            print('%s: %s (%.0f s)' % (self.command, line,
                                       time.monotonic() - self.began),
                  file=self.stream, flush=True)
