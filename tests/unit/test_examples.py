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

"""The examples under etc/examples stay true to the code."""

import copy
import os

import jsonschema
import pytest
from watcher.decision_engine.model.collector import nova
import yaml

from watcher_predictive.plugins import parameters
from watcher_predictive.telemetry import gnocchi

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'etc', 'examples')


def load(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return yaml.safe_load(f)


def test_audit_parameters_are_every_default():
    example = load('audit-parameters.yaml')
    assert example == parameters.defaults()
    jsonschema.validate(example, parameters.SCHEMA)


def _scope_schema():
    # What Watcher's API checks an audit template's scope against.
    return {'type': 'array', 'items': {
        'type': 'object',
        'properties': {'compute': nova.NovaClusterDataModelCollector.SCHEMA},
        'additionalProperties': False}}


def test_scope_is_accepted_by_watcher():
    scope = load('audit-template-scope.yaml')
    jsonschema.Draft4Validator(_scope_schema()).validate(scope)


def test_scope_check_is_real():
    scope = copy.deepcopy(load('audit-template-scope.yaml'))
    scope[0]['compute'].append({'no_such_rule': []})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(_scope_schema()).validate(scope)


def test_metric_map_matches_the_gnocchi_source():
    example = load('metric-map.yaml')
    expected = {}
    for kind in gnocchi.KINDS:
        for meter in kind.meters:
            expected.setdefault(meter.resource, []).append({
                'resource_type': kind.resource_type,
                'id_attribute': kind.instance_attribute,
                'metric': meter.metric,
                'kind': 'cumulative' if meter.cumulative else 'gauge',
                'scale': meter.scale})
    assert {r: e['gnocchi'] for r, e in example.items()} == expected
    for entry in example.values():
        assert entry['prometheus'] == [
            'ceilometer_' + m['metric'].replace('.', '_')
            for m in entry['gnocchi']]
