#!/usr/bin/env python3
"""The data side of bench/feedback_loop.sh (standard library only).

  split  EXPORT.csv OUT_DIR BATCHES SIZE SEED   the simulator's data cut into the loop's parts
  label  PREDICT.json LABELS.txt ERROR SEED OUT  a simulated engineer's feedback file
  score  PREDICT.json LABELS.txt                 accuracy of predictions against the truth
  plot   RESULTS.json OUT.svg                    holdout accuracy by night against all the data

`split` reads a telemetry version exported by `sweepctl data export` (split, label, values) and
writes: start.csv (night 1: 20% of the lab data to train on, 300 escalations to select and 300 to
hold out on), all.csv (the same, plus every night's batch correctly labelled, each batch sample
placed 60/20/20 as the farm places feedback), test.txt / test.labels (1,000 escalations that no
night ever sees: every figure is measured on them), and batch-N.txt / batch-N.labels (the
escalations the service answers after night N, for N = 1 .. BATCHES).
"""
import csv
import gzip
import json
import random
import sys


def read_export(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        assert header[:2] == ["split", "label"], header
        lab, esc = [], []
        for r in rows:
            (lab if r[0] == "train" else esc).append((r[1], r[2:]))
    return lab, esc


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["split", "label"] + ["v%d" % i for i in range(len(rows[0][2]))])
        for split, label, values in rows:
            w.writerow([split, label] + values)


def write_inputs(prefix, samples):
    with open(prefix + ".txt", "w") as f:
        for _, values in samples:
            f.write(" ".join(values) + "\n")
    with open(prefix + ".labels", "w") as f:
        for label, _ in samples:
            f.write(label + "\n")


def split(export, out, nights, batch, seed):
    lab, esc = read_export(export)
    rng = random.Random(seed)
    rng.shuffle(lab)
    rng.shuffle(esc)
    need = 1000 + 600 + nights * batch
    if len(esc) < need:
        sys.exit("feedback_loop.py: %d escalations, %d needed" % (len(esc), need))
    test, esc = esc[:1000], esc[1000:]
    selection, holdout, esc = esc[:300], esc[300:600], esc[600:]
    start_lab = lab[: len(lab) // 5]
    start = ([("train", l, v) for l, v in start_lab] + [("selection", l, v) for l, v in selection]
             + [("holdout", l, v) for l, v in holdout])
    write_csv(out + "/start.csv", start)
    write_inputs(out + "/test", test)
    everything = list(start)
    for n in range(nights):
        b = esc[n * batch:(n + 1) * batch]
        write_inputs("%s/batch-%d" % (out, n + 1), b)
        for label, values in b:
            u = rng.random()
            everything.append(("train" if u < 0.6 else "selection" if u < 0.8 else "holdout",
                               label, values))
    write_csv(out + "/all.csv", everything)
    print(json.dumps({"start_train": len(start_lab), "lab": len(lab), "selection": len(selection),
                      "holdout": len(holdout), "test": len(test), "batch": batch,
                      "nights": nights, "all": len(everything)}))


def predictions(path):
    out = []
    with open(path) as f:
        for line in f:
            p = json.loads(line)
            if "sample" in p:
                out.append(p)
    return out


def truth(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


CLASSES = ["healthy", "faulty"]


def label(predict_json, labels, error, seed, out):
    rng = random.Random(seed)
    preds, true = predictions(predict_json), truth(labels)
    assert len(preds) == len(true), (len(preds), len(true))
    wrong = 0
    with open(out, "w") as f:
        f.write("# prediction id, what a (simulated) engineer said it is\n")
        for p, t in zip(preds, true):
            if "id" not in p:
                continue
            said = t
            if rng.random() < error:
                said = CLASSES[1 - CLASSES.index(t)]
                wrong += 1
            f.write("%s,%s\n" % (p["id"], said))
    print(json.dumps({"labelled": len(preds), "wrong": wrong}))


def score(predict_json, labels):
    preds, true = predictions(predict_json), truth(labels)
    assert len(preds) == len(true), (len(preds), len(true))
    right = sum(1 for p, t in zip(preds, true) if CLASSES[p["label"]] == t)
    print("%.4f" % (right / len(true)))


def plot(results, out):
    r = json.load(open(results))
    nights, all_data = r["nights"], r["all_data"]
    w, h, left, bottom, top, right = 560, 340, 60, 50, 30, 20
    lo = min(nights + [all_data]) - 0.02
    hi = max(nights + [all_data]) + 0.02
    lo, hi = max(0.0, round(lo, 2)), min(1.0, round(hi, 2) + 0.01)
    x = lambda i: left + (w - left - right) * (i / max(1, len(nights) - 1))
    y = lambda a: top + (h - top - bottom) * (1 - (a - lo) / (hi - lo))
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (w, h), '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="14">Holdout accuracy by night (%d escalations never '
           'seen by the loop)</text>' % (left, r.get("test_samples", 1000))]
    for k in range(6):
        a = lo + (hi - lo) * k / 5
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (left, w - right, y(a), y(a)))
        svg.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>' % (left - 6, y(a) + 4, a))
    for i in range(len(nights)):
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(i), h - bottom + 18, i + 1))
    svg.append('<text x="%d" y="%d" text-anchor="middle">night (the data grows by the answers '
               'labelled the day before)</text>' % ((left + w - right) // 2, h - 12))
    svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#c33" stroke-dasharray="6 4"/>'
               % (left, w - right, y(all_data), y(all_data)))
    svg.append('<text x="%d" y="%.1f" fill="#c33" text-anchor="end">all the data at once: %.3f</text>'
               % (w - right, y(all_data) - 6, all_data))
    pts = " ".join("%.1f,%.1f" % (x(i), y(a)) for i, a in enumerate(nights))
    svg.append('<polyline points="%s" fill="none" stroke="#36c" stroke-width="2"/>' % pts)
    for i, a in enumerate(nights):
        svg.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="#36c"><title>night %d: %.4f</title></circle>'
                   % (x(i), y(a), i + 1, a))
    svg.append('<text x="%d" y="%d" fill="#36c">the champion each night</text>' % (left + 6, top + 14))
    svg.append("</svg>")
    open(out, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "split":
        split(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    elif cmd == "label":
        label(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif cmd == "score":
        score(sys.argv[2], sys.argv[3])
    elif cmd == "plot":
        plot(sys.argv[2], sys.argv[3])
    else:
        sys.exit("feedback_loop.py: unknown command " + cmd)
