#!/usr/bin/env bash
# Installs Slurm's controller, node daemon and client tools plus munge (Debian packages) when they
# are missing, so the Slurm adapter's tests run against a real controller instead of being skipped.
set -euo pipefail

if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
  && command -v munged >/dev/null; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "scripts/slurm/install.sh: Slurm is not installed and installing it needs root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# apt-get update is needed once on a fresh machine; a failed install retries after it.
apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null 2>&1 || {
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
}
