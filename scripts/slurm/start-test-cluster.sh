#!/usr/bin/env bash
# Starts a real single-node Slurm cluster on loopback for the adapter tests and for trying the
# `slurm` adapter by hand: munged, slurmctld and slurmd (as root), one node `gpu-node-1` with
# eight fake H100 GPUs (gres files are symlinks to /dev/null, so jobs get CUDA_VISIBLE_DEVICES
# without any GPU present).
#
#   scripts/slurm/start-test-cluster.sh DIR     writes DIR/slurm.conf, starts the daemons
#   SLURM_CONF=DIR/slurm.conf sbatch ...        talk to it
#   scripts/slurm/stop-test-cluster.sh DIR      stops what this started
set -euo pipefail

dir=${1:?usage: start-test-cluster.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
ctld_port=${SLURMCTLD_PORT:-16817}
slurmd_port=${SLURMD_PORT:-16818}
node=${SLURM_TEST_NODE:-gpu-node-1}
gpus=${SLURM_TEST_GPUS:-8}
host=$(hostname -s)

bash "$(dirname "$0")/install.sh"

mkdir -p "$dir/state" "$dir/spool/$node" "$dir/log" "$dir/dev" "$dir/run"
for i in $(seq 0 $((gpus - 1))); do ln -sfn /dev/null "$dir/dev/nvidia$i"; done

cat >"$dir/slurm.conf" <<CONF
ClusterName=gpumarket-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
# Seconds between SIGTERM and SIGKILL when a job is cancelled; the adapter sends its own
# SIGTERM at notice start, so this only shortens the final cancel.
KillWait=5
MinJobAge=300
SlurmdTimeout=30
# The test node declares more CPUs than the machine has so that several jobs run at once.
SlurmdParameters=config_overrides
InactiveLimit=0
NodeName=$node NodeHostname=$host NodeAddr=127.0.0.1 CPUs=32 RealMemory=1024 Gres=gpu:h100:$gpus State=UNKNOWN
PartitionName=gpu Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

cat >"$dir/gres.conf" <<CONF
AutoDetect=off
NodeName=$node Name=gpu Type=h100 File=$dir/dev/nvidia[0-$((gpus - 1))]
CONF


if ! pgrep -x munged >/dev/null; then
  mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  su -s /bin/sh munge -c /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
fi

export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF" -N "$node"

for _ in $(seq 1 100); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "$SLURM_CONF"
    exit 0
  fi
  sleep 0.1
done
echo "slurm test cluster did not come up; logs in $dir/log" >&2
sinfo -N -l >&2 || true
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
