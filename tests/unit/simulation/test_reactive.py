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

"""Watcher's reactive rules as the replay reproduces them."""

from watcher_predictive.simulation import reactive


def hosts(*names, disabled=()):
    return [dict(name=n, cores=4, vcpu_capacity=16, memory_capacity=8192,
                 disabled=n in disabled) for n in names]


VCPUS = {'a': 1, 'b': 1, 'c': 1, 'd': 1}
MEMORY = {'a': 1024, 'b': 1024, 'c': 1024, 'd': 1024}


def test_workload_balance_moves_the_guest_closest_to_the_excess():
    placement = {'a': 'h1', 'b': 'h1', 'c': 'h1', 'd': 'h2'}
    usage = {'a': 1.0, 'b': 0.9, 'c': 1.5, 'd': 0.1}
    # h1 at 85% of 4 cores, h2 at 2.5%; average load 1.75 cores, so the
    # excess of h1 is 1.65: c (1.5) comes closest without exceeding it.
    move = reactive.workload_balance(hosts('h1', 'h2'), placement, usage,
                                     VCPUS, MEMORY, threshold=80)
    assert move == ('c', 'h1', 'h2')


def test_workload_balance_does_nothing_under_the_threshold():
    placement = {'a': 'h1', 'b': 'h2'}
    usage = {'a': 1.0, 'b': 1.0}
    assert reactive.workload_balance(hosts('h1', 'h2'), placement, usage,
                                     VCPUS, MEMORY, threshold=80) is None


def test_workload_balance_ignores_disabled_hosts():
    placement = {'a': 'h1', 'b': 'h1', 'c': 'h1', 'd': 'h1'}
    usage = dict.fromkeys(placement, 0.9)
    assert reactive.workload_balance(
        hosts('h1', 'h2', disabled=('h2',)), placement, usage, VCPUS,
        MEMORY, threshold=80) is None


def test_basic_consolidation_packs_by_allocation_and_disables():
    placement = {'a': 'h1', 'b': 'h1', 'c': 'h2', 'd': 'h3'}
    host_usage = {'h1': 3.0, 'h2': 1.0, 'h3': 0.1}
    usage = {'a': 1.5, 'b': 1.5, 'c': 1.0, 'd': 0.1}
    moves, disabled = reactive.basic_consolidation(
        hosts('h1', 'h2', 'h3'), placement, host_usage, usage, VCPUS,
        MEMORY)
    # The least used host is released first, onto the most used host
    # that has room by allocation (usage is not checked), then the next.
    assert moves[0] == ('d', 'h3', 'h1')
    assert ('c', 'h2', 'h1') in moves
    assert disabled[:2] == ['h3', 'h2']
