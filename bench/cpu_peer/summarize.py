#!/usr/bin/env python3
"""bench/cpu_peer.sh's table: each variant's wall seconds (median and range over the rounds), its
ratio to the farm's, and whether each trial's selection accuracy is the same in the farm and in
every peer run. Its last line is JSON.
  summarize.py RUN_DIR ROUNDS"""
import json
import os
import statistics
import sys

run, rounds = sys.argv[1], int(sys.argv[2])
AXES = ("epochs", "step_size", "issue_rate", "data_size", "seed", "architecture")


def seconds(name):
    return [float(open(os.path.join(run, "%s-%d.seconds" % (name, r))).read())
            for r in range(1, rounds + 1)]


def key(params):
    return tuple((k, str(params[k]) if k == "architecture" else float(params[k]))
                 for k in AXES if k in params)


def accuracies(name, r):
    d = json.load(open(os.path.join(run, "%s-%d.json" % (name, r))))
    if name == "farm":
        trials = d["trials"] if isinstance(d, dict) else d
        return {key(t["params"]): t["selection_accuracy"] for t in trials
                if t.get("status", "succeeded") == "succeeded"}
    return {key({k: t[k] for k in AXES if k in t}): t["selection_accuracy"] for t in d["trials"]}


farm_acc = accuracies("farm", 1)
names = {"farm": "farm (submit -> last result)", "optuna": "Optuna + PyTorch, 2 processes",
         "pool": "process pool of 2", "poolshare": "pool of 2 sharing epochs"}
times = {n: seconds(n) for n in names}
med = {n: statistics.median(t) for n, t in times.items()}
print("| variant | runs (s) | median (s) | farm / it | trials | same selection accuracy as the farm |")
print("|---|---|---|---|---|---|")
same_all = True
agree = {}
for n in names:
    same, total, worst = 0, 0, 0.0
    for r in range(1, rounds + 1):
        acc = accuracies(n, r)
        # Keys the farm has that this run lacks count as different.
        for k, a in farm_acc.items():
            total += 1
            b = acc.get(k)
            if b is not None and abs(a - b) < 1e-9:
                same += 1
            else:
                worst = max(worst, abs(a - b) if b is not None else 1.0)
    agree[n] = (same, total)
    same_all = same_all and same == total
    print("| %s | %s | %.2f | %.2f | %d | %d of %d%s |" % (
        names[n], ", ".join("%.1f" % t for t in times[n]), med[n], med["farm"] / med[n],
        len(farm_acc), same, total, "" if same == total else " (largest difference %.3f)" % worst))
fastest = min((n for n in names if n != "farm"), key=lambda n: med[n])
print("\nfarm / fastest peer (%s): %.2f (goal: at most 0.75)" % (names[fastest],
                                                                  med["farm"] / med[fastest]))
print(json.dumps({
    "farm_s": round(med["farm"], 2), "optuna_s": round(med["optuna"], 2),
    "pool_s": round(med["pool"], 2), "pool_shared_epochs_s": round(med["poolshare"], 2),
    "same_accuracies": same_all, "farm_over_fastest_peer": round(med["farm"] / med[fastest], 3),
    "trials": len(farm_acc), "rounds": rounds}))
