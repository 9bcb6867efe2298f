# shellcheck shell=bash
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

# Stand-ins for the DevStack functions devstack/plugin.sh calls.
#
# Each appends one line to $CALLS: its name and arguments, separated by
# tabs. iniset also writes the value into the file, as DevStack's does, so
# that the resulting watcher.conf can be read by oslo.config; die exits
# like DevStack's. Everything else only records. Needs CALLS, PYTHON,
# ENABLED_SERVICES (comma-separated) and DEVSTACK_PLUGINS.

function _record {
    local IFS=$'\t'
    echo "$*" >> "$CALLS"
}

function echo_summary {
    _record echo_summary "$@"
}

function die {
    _record die "$@"
    exit 1
}

function is_service_enabled {
    local service
    for service in "$@"; do
        if [[ ",$ENABLED_SERVICES," == *",$service,"* ]]; then
            return 0
        fi
    done
    return 1
}

function is_plugin_enabled {
    [[ ",$DEVSTACK_PLUGINS," == *",$1,"* ]]
}

function get_python_exec_prefix {
    _record get_python_exec_prefix
    dirname "$PYTHON"
}

function setup_develop {
    _record setup_develop "$@"
}

function pip_install {
    _record pip_install "$@"
}

function iniset {
    _record iniset "$@"
    "$PYTHON" - "$@" <<'PY'
import configparser
import sys

path, section, option, value = sys.argv[1:5]
parser = configparser.RawConfigParser()
parser.optionxform = str
parser.read(path)
if section != 'DEFAULT' and not parser.has_section(section):
    parser.add_section(section)
parser.set(section, option, value)
with open(path, 'w') as f:
    parser.write(f)
PY
}

function stop_process {
    _record stop_process "$@"
}

function run_process {
    _record run_process "$@"
}
