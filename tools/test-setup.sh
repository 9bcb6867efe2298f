#!/bin/bash -xe
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

# Prepares MariaDB and PostgreSQL for the functional tests (migrations on
# real databases), and a RabbitMQ vhost for the profiler workers' test, the
# way OpenStack CI does: user openstack_citest with
# password openstack_citest, allowed to create databases, and a database
# openstack_citest on both servers. The tests create (and drop) their own
# uniquely named databases with that user.
#
# Run as root on Debian 12 with mariadb-server, postgresql and
# rabbitmq-server installed.
# Safe to run again: every step checks or tolerates what already exists.

DB_USER=openstack_citest
DB_PW=openstack_citest
DB_NAME=openstack_citest

answers() {
    # Whether something listens on 127.0.0.1:$1.
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

wait_for() {
    local port=$1 name=$2
    for _ in $(seq 1 60); do
        answers "$port" && return 0
        sleep 1
    done
    echo "$name does not answer on 127.0.0.1:$port" >&2
    return 1
}

# --- MariaDB -----------------------------------------------------------------

if ! answers 3306; then
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background \
        --chuid mysql --exec /usr/sbin/mariadbd
    wait_for 3306 MariaDB
fi

# root authenticates through the socket (unix_socket) on Debian; fall back
# to TCP for servers where root has an empty password instead.
if mysql -u root -e 'SELECT 1' >/dev/null 2>&1; then
    MYSQL=(mysql -u root)
else
    MYSQL=(mysql -u root -h 127.0.0.1)
fi

"${MYSQL[@]}" <<EOF
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PW';
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PW';
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PW';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PW';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PW';
ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PW';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS $DB_NAME CHARACTER SET utf8mb4;
FLUSH PRIVILEGES;
EOF

mysql -u "$DB_USER" -p"$DB_PW" -h 127.0.0.1 "$DB_NAME" -e 'SELECT 1' \
    >/dev/null

# --- PostgreSQL ----------------------------------------------------------------

if ! answers 5432; then
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    wait_for 5432 PostgreSQL
fi

if psql -h 127.0.0.1 -U postgres -c 'SELECT 1' >/dev/null 2>&1; then
    PSQL=(psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
else
    # Peer authentication over the socket when TCP is not trusted.
    PSQL=(runuser -u postgres -- psql -v ON_ERROR_STOP=1)
fi

"${PSQL[@]}" <<EOF
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
        CREATE ROLE $DB_USER LOGIN;
    END IF;
END
\$\$;
ALTER ROLE $DB_USER WITH LOGIN CREATEDB CREATEROLE PASSWORD '$DB_PW';
EOF

if ! "${PSQL[@]}" -Atc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1
then
    "${PSQL[@]}" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
fi

PGPASSWORD="$DB_PW" psql -h 127.0.0.1 -U "$DB_USER" -d "$DB_NAME" \
    -c 'SELECT 1' >/dev/null

# --- RabbitMQ ------------------------------------------------------------------
# The profiler workers' functional test talks to a real broker, in a vhost
# of its own with the default guest user (loopback only).

RABBIT_VHOST=watcher_predictive_citest

if ! answers 5672; then
    install -d -o rabbitmq -g rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
    # Run as root, Debian's wrapper switches to the rabbitmq user itself
    # (with its home, where the Erlang cookie is).
    start-stop-daemon --start --oknodo --background \
        --exec /usr/sbin/rabbitmq-server
    wait_for 5672 RabbitMQ
fi
rabbitmqctl await_startup --timeout 120
if ! rabbitmqctl -q list_vhosts | grep -qx "$RABBIT_VHOST"; then
    rabbitmqctl add_vhost "$RABBIT_VHOST"
fi
rabbitmqctl set_permissions -p "$RABBIT_VHOST" guest '.*' '.*' '.*'

echo "MariaDB, PostgreSQL and RabbitMQ are ready for user $DB_USER."
