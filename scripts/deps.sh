#!/usr/bin/env bash
# Installs the Debian packages the tests use, only those missing: SLURM + munge (a real single-node
# cluster), MariaDB and PostgreSQL 15 (the DataJoint databases), shellcheck (checks generated scripts),
# python3-venv, openssl.
set -euo pipefail
need=()
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
command -v mariadbd >/dev/null || need+=(mariadb-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)   # off PATH on Debian
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v openssl >/dev/null || need+=(openssl)   # the Kubernetes harness's API server certificate
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if (( ${#need[@]} )); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
