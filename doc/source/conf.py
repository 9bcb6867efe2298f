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

"""Sphinx configuration of the watcher-predictive documentation.

Plain Sphinx, so that ``tox -e docs`` builds without OpenStack's theme;
the layout (doc/source, index.rst, one page per operator task) is the one
OpenStack projects use, so openstackdocstheme can be added unchanged.
"""

project = 'watcher-predictive'
copyright = '2026, watcher-predictive developers'
author = 'watcher-predictive developers'

extensions = []
source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'
exclude_patterns = []
pygments_style = 'sphinx'
html_theme = 'alabaster'
nitpicky = True
