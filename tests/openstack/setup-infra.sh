#!/bin/bash -e
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

# Starts the machine's RabbitMQ for the end-to-end tests when it does not
# answer on 127.0.0.1:5672 (MariaDB is started by tools/test-setup.sh).
# The test cloud creates, and removes, a virtual host of its own with
# rabbitmqctl, so this runs as root. Needs the rabbitmq-server package.

answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

if ! command -v rabbitmqctl >/dev/null && [ ! -x /usr/sbin/rabbitmqctl ]; then
    echo "rabbitmq-server is not installed (apt-get install rabbitmq-server)" >&2
    exit 1
fi
export PATH=$PATH:/usr/sbin

if ! answers 5672; then
    echo "Starting RabbitMQ"
    rabbitmq-server -detached
    for _ in $(seq 1 90); do
        answers 5672 && break
        sleep 1
    done
fi
rabbitmqctl await_startup --timeout 90 >/dev/null
rabbitmqctl list_vhosts >/dev/null
echo "RabbitMQ answers on 127.0.0.1:5672"
