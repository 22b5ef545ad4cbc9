#!/usr/bin/env bash
# A private one-node Slurm cluster on this machine (Debian's slurm-wlm and munge), for the tests
# and for trying deploy/slurm/ without a cluster: munged, slurmctld and slurmd with their keys,
# configuration, state, sockets and logs all under RUN_DIR, on free ports; nothing in /etc or
# /var is used or changed. Run as root (the daemons run as root here; a real cluster runs them as
# the slurm and munge users).
#   deploy/slurm/local-cluster.sh start RUN_DIR [CPUS]   (prints: export SLURM_CONF=RUN_DIR/slurm.conf)
#   deploy/slurm/local-cluster.sh stop RUN_DIR
set -euo pipefail
cmd=${1:?start or stop}
run=${2:?RUN_DIR}
case "$cmd" in
  stop)
    [ -f "$run/slurm.conf" ] || exit 0
    run=$(cd "$run" && pwd)
    export SLURM_CONF=$run/slurm.conf
    # Jobs first (their workers drain), while the daemons still run them.
    if [ -f "$run/slurmctld.pid" ] && kill -0 "$(cat "$run/slurmctld.pid")" 2>/dev/null; then
      scancel --user="$(id -un)" 2>/dev/null || true
      for _ in $(seq 350); do
        [ -z "$(squeue -h 2>/dev/null)" ] && break
        sleep 0.2
      done
    fi
    for d in slurmd slurmctld munged; do
      [ -f "$run/$d.pid" ] && kill "$(cat "$run/$d.pid")" 2>/dev/null || true
    done
    for d in slurmd slurmctld munged; do
      for _ in $(seq 50); do
        [ -f "$run/$d.pid" ] && kill -0 "$(cat "$run/$d.pid")" 2>/dev/null || break
        sleep 0.1
      done
      [ -f "$run/$d.pid" ] && kill -9 "$(cat "$run/$d.pid")" 2>/dev/null || true
    done
    # What this cluster started that outlived it (a job step, a job's processes): a slurmstepd
    # or a process of a job, with this cluster's SLURM_CONF.
    for env in /proc/[0-9]*/environ; do
      pid=${env#/proc/}; pid=${pid%/environ}
      vars=$(tr '\0' '\n' <"$env" 2>/dev/null) || continue
      grep -qx "SLURM_CONF=$SLURM_CONF" <<<"$vars" || continue
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ] || grep -q '^SLURM_JOB_ID=' <<<"$vars"; then
        kill -9 "$pid" 2>/dev/null || true
      fi
    done
    exit 0 ;;
  start) ;;
  *) echo "local-cluster.sh: start or stop, not $cmd" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "local-cluster.sh: run as root" >&2; exit 1; }
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null ||
    { echo "local-cluster.sh: $b not found: deploy/local/setup.sh slurmctld slurmd slurm-client munge" >&2; exit 1; }
done
cpus=${3:-$(getconf _NPROCESSORS_ONLN)}
mkdir -p "$run/state" "$run/spool" "$run/munge"
chmod 700 "$run/munge"
run=$(cd "$run" && pwd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# munge: its own key and socket.
[ -f "$run/munge/munge.key" ] || { head -c 1024 /dev/urandom >"$run/munge/munge.key"; chmod 400 "$run/munge/munge.key"; }
munged --force --key-file="$run/munge/munge.key" --socket="$run/munge/munge.socket" \
  --pid-file="$run/munged.pid" --log-file="$run/munged.log" --seed-file="$run/munge/munge.seed"
node=$(hostname -s)
cat >"$run/slurm.conf" <<CONF
ClusterName=sweepfarm-local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$run/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$run/state
SlurmdSpoolDir=$run/spool
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$run/slurmctld.log
SlurmdLogFile=$run/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
KillWait=60
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1024 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$run/slurm.conf
slurmctld -i
slurmd
for _ in $(seq 100); do
  if sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$run/slurm.conf"
    exit 0
  fi
  sleep 0.2
done
echo "local-cluster.sh: the node did not come up; logs in $run" >&2
tail -5 "$run/slurmctld.log" "$run/slurmd.log" >&2 || true
exit 1
