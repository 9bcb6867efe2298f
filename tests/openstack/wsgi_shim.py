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

"""WSGI entry point that gunicorn can serve for any OpenStack service.

Several services parse ``sys.argv`` with oslo.config when their WSGI
application is imported, and fail on gunicorn's own arguments; this module
replaces ``sys.argv`` (``WP_WSGI_ARGV``) before it imports the application
named by ``WP_WSGI_APP`` (``module:attribute``). With
``WP_WSGI_CONFIGURE_MAPPERS`` set, SQLAlchemy's mappers are configured once
loaded: Neutron's port listing reads a relationship that only exists then,
and fails when it is the first query of the process.
"""

import importlib
import os
import sys

sys.argv = os.environ.get('WP_WSGI_ARGV', 'wsgi').split()
_module, _attribute = os.environ['WP_WSGI_APP'].split(':')
application = getattr(importlib.import_module(_module), _attribute)
if os.environ.get('WP_WSGI_CONFIGURE_MAPPERS'):
    import sqlalchemy.orm
    sqlalchemy.orm.configure_mappers()
