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

"""Clients of the test cloud, as its admin, and what is created with them
(service users and catalog, Gnocchi's Ceilometer schema)."""

import urllib.parse

import pymysql

from tests.openstack import config


class CloudClients:
    """Mixin of ``OpenStackCloud``: needs ``self.layout``."""

    def _db_connection(self):
        url = urllib.parse.urlsplit(
            self.layout.db_url.replace('mysql+pymysql', 'mysql'))
        return pymysql.connect(host=url.hostname, port=url.port or 3306,
                               user=url.username, password=url.password or '',
                               connect_timeout=10)

    def session(self, user='admin', project='admin', timeout=60):
        from keystoneauth1.identity import v3
        from keystoneauth1 import session
        auth = v3.Password(auth_url=self.layout.auth_url, username=user,
                           password=config.PASSWORD, project_name=project,
                           user_domain_name='Default',
                           project_domain_name='Default')
        return session.Session(auth=auth, timeout=timeout)

    def connection(self):
        import openstack
        return openstack.connection.Connection(
            session=self.session(), region_name=config.REGION)

    def watcher(self):
        from watcherclient import client
        return client.Client('1', session=self.session(),
                             region_name=config.REGION,
                             os_infra_optim_api_version='1.latest')

    def gnocchi(self, timeout=60):
        from gnocchiclient import client
        return client.Client('1', session=self.session(timeout=timeout),
                             adapter_options={'region_name': config.REGION})

    def watcher_db(self):
        """A PyMySQL connection to Watcher's database."""
        connection = self._db_connection()
        connection.select_db(self.layout.db_prefix + 'watcher')
        return connection

    def register_catalog(self):
        conn = self.connection()
        identity = conn.identity
        project = identity.create_project(name='service',
                                          domain_id='default')
        admin = identity.find_role('admin')
        service_role = identity.find_role('service') or \
            identity.create_role(name='service')
        for name, (kind, _, _) in config.SERVICES.items():
            if name == 'keystone':
                continue
            user = identity.create_user(
                name=name, password=config.PASSWORD, domain_id='default',
                default_project_id=project.id)
            for role in (admin, service_role):
                identity.assign_project_role_to_user(project, user, role)
            service = identity.create_service(name=name, type=kind)
            for interface in ('public', 'internal', 'admin'):
                identity.create_endpoint(
                    service_id=service.id, interface=interface,
                    url=self.layout.url(name), region_id=config.REGION)

    def create_ceilometer_schema(self):
        from tests.functional.fixtures import gnocchi as gnocchi_fixture
        client = self.gnocchi()
        for name, attributes in gnocchi_fixture.RESOURCE_TYPES.items():
            client.resource_type.create({'name': name,
                                         'attributes': attributes})
        for name, (methods, definition) in \
                gnocchi_fixture.ARCHIVE_POLICIES.items():
            client.archive_policy.create({
                'name': name, 'back_window': 0,
                'aggregation_methods': methods, 'definition': definition})
