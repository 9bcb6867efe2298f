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

"""Audit parameters given on the command line (``-p NAME=VALUE``), read
and checked as Watcher's API checks an audit's parameters."""

import argparse
import json

from watcher_predictive import exception


def parameter(text):
    """``argparse`` type of ``-p NAME=VALUE``.

    VALUE is read as JSON when it parses as JSON, else as a string.
    """
    name, sep, value = text.partition('=')
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            'audit parameter %r must be NAME=VALUE, for example '
            'horizon=7200' % text)
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def checked(pairs):
    """The parameters as a dict, validated against the strategy's schema.

    :raises InvalidParameter: naming the parameter and what is wrong.
    """
    import jsonschema

    from watcher_predictive.plugins import parameters
    values = dict(pairs or [])
    try:
        jsonschema.validate(values, parameters.SCHEMA)
    except jsonschema.ValidationError as e:
        where = '.'.join(str(p) for p in e.path) or 'parameters'
        raise exception.InvalidParameter(name=where, value=e.instance,
                                         reason=e.message)
    return values
