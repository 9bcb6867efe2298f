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

import jsonschema
import pytest

from watcher_predictive import exception
from watcher_predictive.plugins import parameters


def test_every_field_has_a_default_and_the_schema_is_strict():
    props = parameters.SCHEMA['properties']
    assert all('default' in p for p in props.values())
    assert parameters.SCHEMA['additionalProperties'] is False
    jsonschema.validate(parameters.defaults(), parameters.SCHEMA)
    with pytest.raises(jsonschema.ValidationError, match='horizn'):
        jsonschema.validate({'horizn': 10}, parameters.SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({'lull_cpu': 0}, parameters.SCHEMA)


def test_defaults_build_engine_parameters():
    params, min_history = parameters.plan_parameters({})
    assert params.horizon == 3600 and params.step == 300
    assert min_history == 86400
    params, _ = parameters.plan_parameters({'horizon': 7200,
                                            'actions_allowed': ['resize']})
    assert params.horizon == 7200 and params.actions_allowed == ('resize',)


@pytest.mark.parametrize('values,name', [
    ({'step': 700}, 'step'),
    ({'horizon': 600, 'step': 900}, 'horizon'),
    ({'task_duration': 7200}, 'task_duration'),
])
def test_rules_between_fields_name_the_parameter(values, name):
    with pytest.raises(exception.InvalidParameter) as err:
        parameters.plan_parameters(values)
    assert str(err.value).startswith('Invalid value')
    assert ' %s:' % name in str(err.value)


def test_instance_horizon_override():
    key = parameters.HORIZON_METADATA_KEY
    assert parameters.instance_horizon({}, 3600) == (3600, None)
    assert parameters.instance_horizon({key: '7200'}, 3600) == (7200, None)
    value, problem = parameters.instance_horizon({key: 'soon'}, 3600)
    assert value == 3600 and key in str(problem)
    value, problem = parameters.instance_horizon({key: '10'}, 3600)
    assert value == 3600 and problem is not None


def test_instance_horizon_from_json_text_metadata():
    key = parameters.HORIZON_METADATA_KEY
    assert parameters.instance_horizon('{"%s": "900"}' % key, 3600) == (
        900, None)
    assert parameters.instance_horizon('not json', 3600) == (3600, None)
    assert parameters.instance_horizon(['odd'], 3600) == (3600, None)
