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

"""The documentation parses, and says what the code does.

``tox -e docs`` builds it with Sphinx; this test needs only docutils, so
it runs with the unit tests.
"""

import glob
import io
import os
import re

import docutils.core
import docutils.utils
import pytest
import yaml

from watcher_predictive.cmd import cli
from watcher_predictive.conf import predictive
from watcher_predictive.plugins import parameters

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'doc', 'source')
PAGES = sorted(glob.glob(os.path.join(DOC, '*.rst')))
# Sphinx roles and directives that plain docutils does not know.
SPHINX_ONLY = re.compile(r':doc:`([^`]*)`|^\.\. toctree::.*?(?=^\S|\Z)',
                         re.M | re.S)


def read(path):
    with open(path) as f:
        return f.read()


def parse(text, source):
    errors = io.StringIO()
    docutils.core.publish_doctree(
        text, source_path=source,
        settings_overrides={'report_level': docutils.utils.Reporter.INFO_LEVEL
                            + 1, 'halt_level': 5, 'warning_stream': errors})
    return errors.getvalue()


@pytest.mark.parametrize('path', PAGES + [os.path.join(ROOT, 'README.rst')],
                         ids=os.path.basename)
def test_page_parses_without_warning(path):
    text = SPHINX_ONLY.sub(lambda m: m.group(1) or '', read(path))
    assert parse(text, path) == ''


def test_release_notes_parse():
    notes = glob.glob(os.path.join(ROOT, 'releasenotes', 'notes', '*.yaml'))
    assert notes
    for path in notes:
        note = yaml.safe_load(read(path))
        assert isinstance(note, dict) and note, path
        for section, entries in note.items():
            for entry in entries if isinstance(entries, list) else [entries]:
                assert parse(entry, path) == '', (path, section)


def test_every_page_is_in_the_index():
    index = read(os.path.join(DOC, 'index.rst'))
    listed = set(re.findall(r'^   (\w[\w-]*)$', index, re.M))
    pages = {os.path.basename(p)[:-4] for p in PAGES} - {'index'}
    assert listed == pages


def test_documented_commands_exist():
    text = '\n'.join(read(p) for p in PAGES)
    # In literal blocks and inline literals, where commands are written.
    used = set(re.findall(r'(?:^ +|``)watcher-predictive (\w[\w-]*)', text,
                          re.M))
    parser = cli.build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    assert used and used <= commands, used - commands


def test_every_option_is_documented():
    text = read(os.path.join(DOC, 'configuration.rst'))
    for opt in predictive.ALL_OPTS:
        assert '``%s``' % opt.name in text, opt.name


def test_tuning_table_has_every_parameter_and_default():
    text = read(os.path.join(DOC, 'tuning.rst'))
    for name, default in parameters.defaults().items():
        row = re.search(r'^%s +(\S+)' % name, text, re.M)
        assert row, name
        shown = row.group(1)
        if isinstance(default, bool):
            assert shown == str(default).lower(), name
        elif isinstance(default, list):
            assert shown == ('all' if default else 'none'), name
        else:
            assert float(shown) == default, name
