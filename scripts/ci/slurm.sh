#!/usr/bin/env bash
# CI for the Slurm executor of `mlgym sweep`: installs Debian's slurm-wlm, starts a
# one-node Slurm by hand (auth none, no systemd, no munge, no slurmdbd; job completions go
# to a text file), runs the Slurm sweep test (a small sweep of game-theory episodes with a
# failing element), and stops the daemons it started, whatever happens.
#
#   scripts/ci/slurm.sh            (as root; `.ci/run` calls it)
#
# MLGYM_REQUIRE_SLURM=1 makes the test fail rather than skip if sbatch is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v slurmctld >/dev/null || ! command -v sbatch >/dev/null; then
  apt-get install -y -qq --no-install-recommends slurm-wlm >/dev/null
fi

work=$(mktemp -d /tmp/mlgym-slurm.XXXXXX)
chmod 755 "$work" # the episodes' sandboxes run as an unprivileged uid that must traverse it
host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$work/state" "$work/spool" "$work/log"
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=mlgym-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$work/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
MaxArraySize=10001
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

pids=()
stop() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    echo "--- slurmctld.log (tail)"; tail -n 30 "$work/log/slurmctld.log" 2>/dev/null || true
    echo "--- slurmd.log (tail)"; tail -n 30 "$work/log/slurmd.log" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap stop EXIT INT TERM
slurmctld -D -i -f "$SLURM_CONF" &
pids+=($!)
slurmd -D -f "$SLURM_CONF" &
pids+=($!)

# Wait (at most 60 s) for the node to be idle.
for _ in $(seq 60); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle; then break; fi
  sleep 1
done
sinfo -N -l
sinfo -h -N -o '%T' | grep -qx idle || { echo "the Slurm node did not come up" >&2; exit 1; }

# The sweep directory must be readable by the daemons: keep it out of private temp dirs.
export MLGYM_SLURM_DIR=$work
export MLGYM_REQUIRE_SLURM=1
cargo test --release -p mlgym-tests --test sweep a_slurm_sweep -- --nocapture
