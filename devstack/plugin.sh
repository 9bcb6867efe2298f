#!/bin/bash
# plugin.sh - DevStack plugin script of watcher-predictive
#
# Runs after Watcher's own plugin (enable_plugin watcher comes first in
# local.conf). DevStack calls it, in the stack.sh shell, with:
#
#   stack install      install the plugin into Watcher's Python environment
#   stack post-config  write the [watcher_predictive] options into
#                      watcher.conf, which Watcher's post-config just created
#   stack extra        create or upgrade the plugin's tables, then restart
#                      the decision engine and the applier, which Watcher's
#                      extra phase started before the plugin was configured,
#                      so that they load its goal, strategy, planner and
#                      actions

# Save trace setting
_XTRACE_WATCHER_PREDICTIVE_PLUGIN=$(set +o | grep xtrace)
set -o xtrace

# The services whose processes load the plugin.
WATCHER_PREDICTIVE_SERVICES="watcher-decision-engine watcher-applier"

# watcher_predictive_conf - watcher.conf, as Watcher's lib/watcher names it
function watcher_predictive_conf {
    echo "${WATCHER_CONF:-/etc/watcher/watcher.conf}"
}

# watcher_predictive_bin_dir - where the console scripts are installed
function watcher_predictive_bin_dir {
    if [[ -n "${WATCHER_BIN_DIR:-}" ]]; then
        echo "$WATCHER_BIN_DIR"
    else
        get_python_exec_prefix
    fi
}

# install_watcher_predictive - install the plugin next to Watcher
function install_watcher_predictive {
    if ! is_plugin_enabled watcher; then
        die $LINENO "watcher-predictive needs Watcher: put" \
            "'enable_plugin watcher https://opendev.org/openstack/watcher'" \
            "before 'enable_plugin watcher-predictive' in local.conf"
    fi
    setup_develop "$WATCHER_PREDICTIVE_DIR"
}

# configure_watcher_predictive - write our options into watcher.conf
function configure_watcher_predictive {
    local conf
    conf=$(watcher_predictive_conf)
    local group=watcher_predictive

    iniset "$conf" $group telemetry_source "$WATCHER_PREDICTIVE_TELEMETRY_SOURCE"
    iniset "$conf" $group telemetry_timeout "$WATCHER_PREDICTIVE_TELEMETRY_TIMEOUT"
    iniset "$conf" $group history_days "$WATCHER_PREDICTIVE_HISTORY_DAYS"
    case "$WATCHER_PREDICTIVE_TELEMETRY_SOURCE" in
        prometheus)
            iniset "$conf" $group prometheus_url "$WATCHER_PREDICTIVE_PROMETHEUS_URL"
            iniset "$conf" $group prometheus_instance_label \
                "$WATCHER_PREDICTIVE_PROMETHEUS_INSTANCE_LABEL"
            iniset "$conf" $group prometheus_metric_prefix \
                "$WATCHER_PREDICTIVE_PROMETHEUS_METRIC_PREFIX"
            ;;
        trace)
            if [[ -z "$WATCHER_PREDICTIVE_TRACE_PATH" ]]; then
                die $LINENO "WATCHER_PREDICTIVE_TELEMETRY_SOURCE=trace" \
                    "needs WATCHER_PREDICTIVE_TRACE_PATH"
            fi
            iniset "$conf" $group trace_path "$WATCHER_PREDICTIVE_TRACE_PATH"
            ;;
        gnocchi)
            ;;
        *)
            die $LINENO "unknown WATCHER_PREDICTIVE_TELEMETRY_SOURCE" \
                "'$WATCHER_PREDICTIVE_TELEMETRY_SOURCE':" \
                "use gnocchi, prometheus or trace"
            ;;
    esac
    if [[ -n "$WATCHER_PREDICTIVE_DATABASE_CONNECTION" ]]; then
        iniset "$conf" $group connection "$WATCHER_PREDICTIVE_DATABASE_CONNECTION"
    fi
}

# init_watcher_predictive - create or upgrade the plugin's tables where
# Watcher creates its own schema
function init_watcher_predictive {
    # DATABASE_BACKENDS lists several services: leave it unquoted.
    # shellcheck disable=SC2086
    if is_service_enabled $DATABASE_BACKENDS && is_service_enabled watcher-api; then
        "$(watcher_predictive_bin_dir)/watcher-predictive-db-manage" \
            --config-file "$(watcher_predictive_conf)" upgrade
    fi
}

# restart_watcher_predictive_services - restart the processes that load
# the plugin, with the command lines Watcher starts them with
function restart_watcher_predictive_services {
    local service
    local bin_dir
    bin_dir=$(watcher_predictive_bin_dir)
    for service in $WATCHER_PREDICTIVE_SERVICES; do
        if is_service_enabled "$service"; then
            stop_process "$service"
            run_process "$service" \
                "$bin_dir/$service --config-file $(watcher_predictive_conf)"
        fi
    done
}

if is_service_enabled watcher-api watcher-decision-engine watcher-applier; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing watcher-predictive"
        install_watcher_predictive
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring watcher-predictive"
        configure_watcher_predictive
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Initializing watcher-predictive"
        init_watcher_predictive
        restart_watcher_predictive_services
    fi
fi

# Restore xtrace
$_XTRACE_WATCHER_PREDICTIVE_PLUGIN
