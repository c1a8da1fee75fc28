#!/usr/bin/env bash
# Usage: slurm_array_test.sh VIZRUN PLUGIN_DIR WORK_DIR
# Starts a one-node SLURM cluster, runs a vizrun sweep as a job array, compares it
# with a sequential local run, then kills one task with SIGTERM, resubmits and
# checks that merge finds everything complete with nothing lost or duplicated.
# Tears the cluster down by PID.
set -euo pipefail
vizrun=$1; plugins=$2; work=$3

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null || [ -n "${VIZRUN_SKIP_SLURM:-}" ]; then
  echo "skipped: needs root and apt-get to install and start SLURM"; exit 77
fi
log() { echo "[slurm-test $(date +%T)] $*"; }

# --- cluster -------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm and munge"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi
pids=()
teardown() {
  log "teardown"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; done
  rm -f /run/slurmctld.pid /run/slurmd.pid
}
trap teardown EXIT

[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  pids+=("$(cat /run/munge/munged.pid)")
fi
host=$(hostname -s)
grep -q "[[:space:]]$host\$\|[[:space:]]$host[[:space:]]" /etc/hosts || echo "127.0.0.1 $host" >> /etc/hosts
mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm
install -d /var/spool/slurmd /etc/slurm
cat > /etc/slurm/slurm.conf <<EOC
ClusterName=vizrunci
SlurmctldHost=${host}(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=slurm
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
NodeName=${host} NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOC
/usr/sbin/slurmctld -D -c >/var/log/slurm/slurmctld.console 2>&1 & pids+=($!)
/usr/sbin/slurmd -D >/var/log/slurm/slurmd.console 2>&1 & pids+=($!)
for _ in $(seq 150); do sinfo -h -N -o %T 2>/dev/null | grep -qx idle && break; sleep 0.2; done
sinfo -h -N -o %T | grep -qx idle || { sinfo -N; tail -20 /var/log/slurm/*.log; exit 1; }
log "cluster up"

wait_for() {  # job id: poll until nothing of it is pending or running
  while [ -n "$(squeue -h -j "$1" -t PD,R,CG,CF,S 2>/dev/null)" ]; do sleep 0.5; done
}
hashes() {  # job outputs with their sha256, as merge records them
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1]));
print("\n".join(sorted(o["path"]+" "+o["sha256"] for j in m["jobs"] for o in j.get("outputs", []))))' "$1/sweep_manifest.json"
}

# --- a sweep through the cluster, against the same sweep run locally -------------
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cat > sweep.yaml <<EOC
experiment: slurm_ci
threads: 1
device: cpu
model: {plugin: tiny_model, weights: random}
techniques:
  - plugin: layer_means
    options: {noise_images: 2}
sweep:
  seed: [0, 1, 2]
  model.options.size: [8, 16]
EOC
export VIZRUN_PLUGIN_PATH=$plugins
out=$("$vizrun" slurm sweep.yaml --out "$work/array" --tasks 3 --cpus 1 --submit)
job=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
[ -n "$job" ] || { echo "no job id in: $out"; exit 1; }
log "submitted array job $job"
wait_for "$job"
"$vizrun" merge "$work/array" || { cat "$work"/array/slurm-*.out; exit 1; }
"$vizrun" run sweep.yaml --out "$work/local" -q
"$vizrun" merge "$work/local" >/dev/null
hashes "$work/array" > array.txt; hashes "$work/local" > local.txt
[ "$(wc -l < array.txt)" -eq 48 ] || { echo "expected 48 outputs, got $(wc -l < array.txt)"; exit 1; }
diff array.txt local.txt || { echo "array outputs differ from the local run"; exit 1; }
log "array run is bit-identical to the local run (48 files)"

# --- a task killed mid-run with SIGTERM, then resubmitted ----------------------------
"$vizrun" slurm sweep.yaml --out "$work/killed" --tasks 2 --cpus 1 --set techniques.0.options.sleep_ms=400 >/dev/null
job=$(sbatch --parsable "$work/killed/vizrun-array.sbatch")
log "submitted slow array job $job"
for _ in $(seq 600); do
  ls -d "$work"/killed/.*.tmp-* >/dev/null 2>&1 && break; sleep 0.1
done
sleep 1
scancel --signal=TERM --full "${job}_0"
log "sent SIGTERM to task ${job}_0"
wait_for "$job"
if "$vizrun" merge "$work/killed" > merge1.txt; then echo "merge should report the interrupted job"; cat merge1.txt; exit 1; fi
grep -q "interrupted\|missing" merge1.txt || { cat merge1.txt; exit 1; }
log "merge reports: $(grep -c 'job ' merge1.txt) unfinished"
job=$(sbatch --parsable "$work/killed/vizrun-array.sbatch")
wait_for "$job"
"$vizrun" merge "$work/killed"
folders=$(find "$work/killed" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$folders" -eq 6 ] || { echo "expected 6 job folders, found $folders"; ls -la "$work/killed"; exit 1; }
hashes "$work/killed" > killed.txt
[ "$(wc -l < killed.txt)" -eq 48 ] || { echo "expected 48 outputs after resubmission"; exit 1; }
# Same work (sleep_ms changes only the pace): the same multiset of files, bit for bit.
sed 's/^[0-9a-f]*\///' local.txt | sort > a.txt; sed 's/^[0-9a-f]*\///' killed.txt | sort > b.txt
diff a.txt b.txt || { echo "outputs after the kill differ from the local run"; exit 1; }
log "after SIGTERM and resubmission: 6 jobs complete, 48 outputs, no duplicates"
