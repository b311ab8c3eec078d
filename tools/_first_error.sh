#!/usr/bin/env bash
# Sourced by _torchrun.sh and _srun.sh: run a distributed launch so that its cause is printed last.
#
# Each rank that stops on an error records its `error: ...` line in SMT_MM_ERROR_DIR instead of
# printing it (smt_mm.apis.command_line.record_launch_error); once the launcher (torchrun, srun)
# has exited and printed its own report, the first recorded line is printed, once.

# Usage: run_with_first_error ERROR_DIR COMMAND [ARGS...]; returns the command's exit status.
# The command runs in the background so that SIGTERM, SIGINT and SIGHUP sent to this script reach
# it (as with exec), and it gets SIGTERM when this script dies; ERROR_DIR is removed at the end.
run_with_first_error() {
    FIRST_ERROR_DIR=$1
    shift
    # The launcher dies with this script, even when it is SIGKILLed (as it did when it was exec'd):
    # setpriv (util-linux) asks the kernel for a SIGTERM when the parent dies; without setpriv a
    # SIGKILL of this script leaves the launcher running.
    if command -v setpriv >/dev/null 2>&1; then
        set -- setpriv --pdeathsig TERM "$@"
    fi
    SMT_MM_ERROR_DIR="$FIRST_ERROR_DIR" "$@" &
    FIRST_ERROR_PID=$!
    for sig in TERM INT HUP; do
        # shellcheck disable=SC2064  # the signal's name is expanded now, the pid when it fires
        trap "kill -s $sig \"\$FIRST_ERROR_PID\" 2>/dev/null" "$sig"
    done
    local status=0
    wait "$FIRST_ERROR_PID" || status=$?
    while kill -0 "$FIRST_ERROR_PID" 2>/dev/null; do  # a signal interrupted the wait
        status=0
        wait "$FIRST_ERROR_PID" || status=$?
    done
    trap - TERM INT HUP
    local records=("$FIRST_ERROR_DIR"/*)
    if [ "$status" != 0 ] && [ -e "${records[0]}" ]; then
        echo >&2
        cat "${records[0]}" >&2
        echo "  (rank ${records[0]##*.rank}: the first of ${#records[@]} rank(s) that stopped" \
            "on an error; the launcher's report is above)" >&2
    fi
    rm -rf "$FIRST_ERROR_DIR"
    return "$status"
}
