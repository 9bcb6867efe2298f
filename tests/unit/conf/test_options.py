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

"""The options are typed and documented, and the sample matches them."""

import os
import re

from oslo_config import cfg
from oslo_config import generator
from oslo_config import types
import pytest

from watcher_predictive.conf import opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SAMPLE = os.path.join(ROOT, 'etc', 'watcher-predictive.conf.sample')
GENERATOR_CONF = os.path.join(ROOT, 'etc', 'oslo-config-generator',
                              'watcher-predictive.conf')
# Every numeric option says what it counts or measures.
UNITS = re.compile(r'\b(seconds?|days?|number of|instances)\b', re.I)


def all_opts():
    return [opt for _group, group_opts in opts.list_opts()
            for opt in group_opts]


@pytest.mark.parametrize('opt', all_opts(), ids=lambda opt: opt.name)
def test_option_is_typed_and_documented(opt):
    assert opt.help and len(opt.help) > 20, opt.name
    if isinstance(opt.type, (types.Integer, types.Float)):
        low, high = opt.type.min, opt.type.max
        assert low is not None and high is not None, (
            '%s needs min and max' % opt.name)
        assert UNITS.search(opt.help), '%s help names no unit' % opt.name
        bounds = re.findall(r'\d+', opt.help.replace(',', ''))
        assert str(low) in bounds and str(high) in bounds, (
            '%s help must state its bounds %s to %s' % (opt.name, low, high))
        assert low <= opt.default <= high


def test_secret_connection_is_not_logged():
    connection = [o for o in all_opts() if o.name == 'connection']
    assert connection and connection[0].secret


def test_sample_matches_the_options(tmp_path):
    """The committed sample is what oslo-config-generator writes today.

    After changing an option: ``tox -e genconfig`` and commit the sample.
    """
    generated = tmp_path / 'sample.conf'
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(['--config-file', GENERATOR_CONF,
          '--output-file', str(generated)])
    generator.generate(conf)
    with open(SAMPLE) as f:
        committed = f.read()
    assert generated.read_text() == committed, (
        '%s is out of date: run "tox -e genconfig" and commit it' % SAMPLE)
