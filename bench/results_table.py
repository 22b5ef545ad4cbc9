"""Combines sweepfarm-bench JSON files and the Python peer's outputs in one folder into a table.
Usage: python3 bench/results_table.py OUT_DIR"""
import json, os, re, sys

out = sys.argv[1]
card = open(os.path.join(out, 'card.txt')).read().strip() if os.path.exists(os.path.join(out, 'card.txt')) else '?'
commit = open(os.path.join(out, 'commit.txt')).read().strip() if os.path.exists(os.path.join(out, 'commit.txt')) else '?'
print(f"Card: {card}; commit {commit}\n")
print("| source | workload | precision | run | model-epochs/s | TFLOP/s | x one-at-a-time | MiB/model |")
print("|---|---|---|---|---:|---:|---:|---:|")
for name in sorted(os.listdir(out)):
    if not (name.startswith('ours_') and name.endswith('.json')):
        continue
    r = json.load(open(os.path.join(out, name)))
    variant = ' (patches saved)' if 'saved' in name else (' (patches recomputed)' if 'recompute' in name else '')
    for row in r['rows']:
        mib = row['bytes_per_model'] / 2**20
        print(f"| sweepfarm | {r['workload']} | {r['precision']} | {row['name']}{' (graph)' if row['cuda_graph'] else ''}{variant} "
              f"| {row['model_epochs_per_s']:.1f} | {row['tflops']:.2f} | {row['ratio_to_sequential']:.1f} | "
              f"{mib:.2f} |")
peer = os.path.join(out, 'peer.json')
if os.path.exists(peer):
    for name, row in json.load(open(peer)).items():
        wl = 'telemetry' if name.startswith('1d') else 'lenet'
        print(f"| python peer | {wl} | tf32 | {name} | {row['model_epochs_per_s']:.1f} | {row['tflops']:.2f} | | |")
study = os.path.join(out, 'study.txt')
if os.path.exists(study):
    print("\n" + open(study).read().strip())
variants = os.path.join(out, 'peer_variants.log')
if os.path.exists(variants):
    for line in open(variants):
        m = re.match(r"K=\s*(\d+) graph=(\d) bf16=(\d)\s+model-epochs/s\s+([\d.]+)\s+([\d.]+) TFLOP/s\s+peak\s+([\d.]+)", line)
        if m:
            k, g, bf, me, tf, mib = m.groups()
            print(f"| python peer (variants) | telemetry | {'bf16' if bf == '1' else 'tf32'} | fused K={k}{' (graph)' if g == '1' else ''} "
                  f"| {float(me):.1f} | {float(tf):.2f} | | {float(mib):.2f} |")
