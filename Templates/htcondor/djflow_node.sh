#!/bin/sh
# The executable of every djflow HTCondor node: checks the credentials, then runs the populate runner.
#
# usage: djflow_node.sh ATTEMPT RESTRICTION PYTHON RUNNER-ARGUMENTS...
#   ATTEMPT      DAGMan's $(RETRY): 0 for the first attempt; a retry passes --clear-errors so the
#                table's failed keys are attempted again
#   RESTRICTION  a DataJoint key restriction (JSON), empty for every key
#   PYTHON       the interpreter that runs djflow_populate.py (found next to this script: HTCondor
#                transfers both into the job's scratch folder)
#
# DJFLOW_RETRY_FAILED (set by djflow_restrict.py --retry-failed on the first node of each table) passes
# --clear-errors on the first attempt too: the table's failed keys go back to the queue before it runs.
#
# Credentials come from the job environment, by name: the variables DJFLOW_USER_ENV and
# DJFLOW_PASSWORD_ENV name (the submit file's getenv copies them where DAGMan submits the node),
# or the password from the file DJFLOW_PASSWORD_FILE names (targets.htcondor.password_file).
# Exit 2 (usage error: DAGMan does not retry it and aborts the DAG) when they are missing.
set -u

if [ "$#" -lt 3 ]; then
  echo "djflow_node.sh: usage: djflow_node.sh ATTEMPT RESTRICTION PYTHON RUNNER-ARGUMENTS..." >&2
  exit 2
fi
attempt=$1
restriction=$2
python=$3
shift 3

# DJFLOW_USER_ENV / DJFLOW_PASSWORD_ENV name the variables (copied by the submit file's getenv) that
# hold the credentials; the runner reads DJ_USER and DJ_PASS.
user_env=${DJFLOW_USER_ENV:-DJ_USER}
password_env=${DJFLOW_PASSWORD_ENV:-DJ_PASS}
for name in "$user_env" "$password_env"; do
  case $name in
    '' | [0-9]* | *[!A-Za-z0-9_]*)
      echo "djflow_node.sh: not a variable name: $name" >&2
      exit 2 ;;
  esac
done
eval "DJ_USER=\${$user_env:-}"
if [ -n "${DJFLOW_PASSWORD_FILE:-}" ]; then
  password_env=DJFLOW_PASSWORD_FILE
  if ! DJ_PASS=$(cat -- "$DJFLOW_PASSWORD_FILE"); then
    echo "djflow_node.sh: cannot read the password file DJFLOW_PASSWORD_FILE names" >&2
    exit 2
  fi
else
  eval "DJ_PASS=\${$password_env:-}"
fi
export DJ_USER DJ_PASS
if [ -z "$DJ_USER" ] || [ -z "$DJ_PASS" ]; then
  echo "djflow_node.sh: $user_env or $password_env is empty: export them before condor_submit_dag and pass them with -include_env $user_env,$password_env" >&2
  exit 2
fi

here=$(dirname -- "$0")
# exec takes options in bash (also as /bin/sh) and '--' is a command name in dash: an interpreter named
# -... is made a path first (./-x/python for a relative path, where PATH finds it for a bare name).
case $python in
  -*/*) python=./$python ;;
  -*)
    if ! found=$(command -v -- "$python"); then
      echo "djflow_node.sh: interpreter not found: $python" >&2
      exit 2
    fi
    case $found in
      -*) python=./$found ;;
      *) python=$found ;;
    esac ;;
esac
set -- "$python" "$here/djflow_populate.py" "$@"
if [ -n "$restriction" ]; then
  set -- "$@" --restriction "$restriction"
fi
case $attempt in
  0 | '')
    if [ -n "${DJFLOW_RETRY_FAILED:-}" ]; then
      set -- "$@" --clear-errors
    fi ;;
  *[!0-9]*)
    echo "djflow_node.sh: ATTEMPT must be a number, got: $attempt" >&2
    exit 2 ;;
  *) set -- "$@" --clear-errors ;;
esac
# exec: the runner receives HTCondor's SIGTERM itself (removal, preemption) and releases its key.
exec "$@"
