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

"""Options of the Adaptive Learning Module, in ``[watcher_predictive]``."""

from oslo_config import cfg

from watcher_predictive.conf import predictive

LEARNING_OPTS = [
    cfg.BoolOpt('learning_enabled',
                default=True,
                help='Score every stored forecast once its time has come '
                     'and learn from the errors (member weights, interval '
                     'calibration, ARIMA re-selection, Markov forgetting). '
                     'When disabled, every audit profiles from scratch.'),
    cfg.BoolOpt('learning_warm_start',
                default=False,
                help='Keep each instance\'s fitted ensemble in its learned '
                     'state and, at the next audit, update it with the '
                     'samples that came since instead of refitting it on '
                     'the history window: seasonal profiles, member '
                     'weights and calibration then learn over weeks. An '
                     'instance is refitted when its ARIMA member drifts or '
                     'the refit has lately forecast it clearly better. '
                     'When disabled (the default: on the Bitbrains '
                     'replay the continued ensemble did not beat the '
                     'refitted one with its gate), the ensemble is '
                     'refitted at every audit and only the weights and '
                     'calibration on top of it are learned.'),
    cfg.FloatOpt('learning_gate',
                 default=0.0, min=0, max=10,
                 help='Number of standard errors (0 to 10) by which a '
                      'member\'s median, or the learned mixture of the '
                      'members, must have beaten the profiler\'s median '
                      'on an instance, over the forecasts of earlier '
                      'audits scored once their time came, before that '
                      'instance\'s forecast follows it; otherwise it '
                      'follows the profiler\'s median.'),
    cfg.IntOpt('learning_gate_memory',
               default=100, min=1, max=10000,
               help='Number of scored forecasts (1 to 10000) the choice '
                    'above remembers: each past one keeps a weight of '
                    '1 - 1/memory per newer one, so that a change of '
                    'behaviour is followed (100: about four days of '
                    'hourly audits).'),
    cfg.IntOpt('learning_gate_min_scorings',
               default=24, min=1, max=10000,
               help='Number of scored forecasts of an instance (1 to '
                    '10000) before its forecast may follow another median '
                    'than the profiler\'s.'),
    cfg.FloatOpt('learning_rate',
                 default=0.5, min=0, max=100,
                 help='Step of the exponentiated gradient that learns the '
                      'ensemble members\' weights, as the number of '
                      'log-weight units per unit of pinball loss of the '
                      'combined median divided by the instance\'s mean '
                      'absolute error (0 to 100; 0 freezes the weights).'),
    cfg.FloatOpt('calibration_rate',
                 default=0.2, min=0, max=10,
                 help='Change of the logarithm of an interval\'s width '
                      'factor per scored forecast, as the number of units '
                      'per unit of coverage error (nominal minus observed '
                      'coverage, a fraction) (0 to 10; 0 disables the '
                      'calibration).'),
    cfg.FloatOpt('drift_tolerance',
                 default=0.3, min=0, max=10,
                 help='Relative rise of a model\'s recent error over its '
                      'long-run error that counts as drift, as a number of '
                      'times the long-run error (0 to 10): the ARIMA order '
                      'is then re-selected and the Markov chain forgets '
                      'faster.'),
    cfg.IntOpt('arima_max_age',
               default=86400, min=3600, max=30 * 86400,
               help='Seconds (3600 to 2592000) after which ARIMA '
                    'coefficients are re-estimated even without drift; in '
                    'between they are kept and the model only moves with '
                    'the new observations.'),
    cfg.IntOpt('errors_kept_per_instance',
               default=10000, min=1, max=1000000,
               help='Number of forecast scores (1 to 1000000; one per '
                    'forecast, model and resource) kept per instance; '
                    'older ones are deleted when new ones are stored. '
                    '"watcher-predictive-db-manage purge" deletes them by '
                    'age.'),
]


def register_opts(conf):
    conf.register_group(predictive._group())
    conf.register_opts(LEARNING_OPTS, group=predictive.GROUP_NAME)


def list_opts():
    return [(predictive.GROUP, LEARNING_OPTS)]
