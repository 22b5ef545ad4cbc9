#!/usr/bin/env python3
"""The peer: what a Python user would write to run one of sweepfarm's grid sweeps on CPUs.

Optuna (GridSampler over the sweep's configurations) + PyTorch, one training per trial, N worker
processes (one per core, torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1) sharing one Optuna
study in a storage file (--storage sqlite|journal), or, with --mode pool, a multiprocessing pool of
N over the same configurations (no Optuna); --share-epochs trains each configuration once for its
largest epoch count and scores it at every count, as the farm does. Adapted from issue 26's peer
(written against the engine of c1313c9) to the farm's exported data, its standardised inputs,
its three model kinds and any grid sweep file; bench/cpu_peer.sh runs it beside the farm.

The data are the farm's own: `sweepctl data export NAME@V FILE.csv` (split, label, values in
channels-first order), turned once into arrays by `--prepare CSV DIR` (not timed). The model and
training follow sweepfarm's engine exactly (engine/architecture.cc, trainer.cc, sampler.cc,
dataset.cc), one model at a time as its CPU workers train:
  inputs standardised per channel with the train split's mean and (biased) deviation, computed in
    float64 over every step of every training sample, applied in float32;
  cnn1d (channels c1, c2, kernel k): Conv1d(16,c1,k) -> ReLU -> MaxPool1d(2) -> Conv1d(c1,c2,k)
    -> ReLU -> mean over time -> Linear(c2, 2);
  mlp (hidden h...): flatten (channels first) -> [Linear -> ReLU]... -> Linear(., 2);
  logistic: flatten -> Linear(1024, 2);
  init: U(-1/sqrt(fan_in), +1/sqrt(fan_in)) for weights and biases, drawn by torch.rand from a CPU
    generator seeded with the trial seed, layer by layer, weight then bias (InitStandardWeights);
  loss: cross entropy (mean over the batch); SGD, momentum 0.9, no dampening/nesterov/decay;
  data: subset = round(data_size * N) samples (seeded partial Fisher-Yates, xoshiro256**);
    every step draws 64 indices with replacement: issue with probability issue_rate, uniform in
    the subset's samples of that class (splitmix64 hash of (seed, step, lane)); an epoch is
    ceil(subset / 64) steps;
  score: accuracy on the test split's selection part (first) and holdout part (the rest).
--sampler torch replaces the farm's exact random streams by torch's own RNG (same distributions).

Usage:
  python3 peer_sweep.py --prepare EXPORT.csv DATA_DIR
  python3 peer_sweep.py --sweep FILE.yaml --data DATA_DIR --workdir DIR [--workers 2]
      [--mode optuna|pool] [--share-epochs] [--storage sqlite|journal] [--sampler exact|torch]
      [--limit-trials N] [--epochs-scale F] [--out results.json]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

M64 = (1 << 64) - 1
SPACE = {}  # axis -> values, in the sweep file's order (--sweep)
FIXED = {}  # parameters the sweep fixes (scalars in search.space; seed 1 unless given)
ARCH = {}  # the sweep's architecture: section (channels, kernel_size, hidden)
BATCH = 64
MOMENTUM = 0.9
AXES = ("epochs", "step_size", "issue_rate", "data_size", "seed", "architecture")


# ---------------------------------------------------------------------------------------------
# sweepfarm's random streams (common/rng.h, worker/engine/sampler.cc), bit for bit.
def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def mix_key(a, b, c=0):
    return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c)


class Xoshiro:
    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = splitmix64(seed)
            self.s.append(seed)

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def np_splitmix64(z):
    import numpy as np
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


_SUBSETS = {}


def farm_subset(labels, seed, data_size):
    """(subset size, issue pool, no-issue pool) as IndexSampler::Create picks them."""
    key = (seed, data_size)
    if key not in _SUBSETS:
        n = len(labels)
        subset = max(1, int(math.floor(data_size * n + 0.5)))  # llround, positive values
        perm = list(range(n))
        rng = Xoshiro(mix_key(seed, 0x5B5E7))
        for i in range(subset):
            j = i + rng.next() % (n - i)
            perm[i], perm[j] = perm[j], perm[i]
        pos = [p for p in perm[:subset] if labels[p] != 0]
        neg = [p for p in perm[:subset] if labels[p] == 0]
        _SUBSETS[key] = (subset, pos, neg)
    return _SUBSETS[key]


def farm_indices(labels, seed, issue_rate, data_size, steps):
    """[steps, BATCH] int64 sample indices of steps 0..steps-1 (IndexSampler::Indices)."""
    import numpy as np
    subset, pos, neg = farm_subset(labels, seed, data_size)
    pos = np.asarray(pos, dtype=np.int64)
    neg = np.asarray(neg, dtype=np.int64)
    threshold = np.uint64(int(math.floor(issue_rate * (1 << 24) + 0.5)))
    key = np.uint64(mix_key(seed, 0x1D5EED))
    step = np.arange(steps, dtype=np.uint64).reshape(-1, 1)
    lane = np.arange(BATCH, dtype=np.uint64).reshape(1, -1)
    with np.errstate(over="ignore"):
        z = key + step * np.uint64(0xD1342543DE82EF95) + lane * np.uint64(0x2545F4914F6CDD1D)
    z = np_splitmix64(z)
    pick_issue = (z >> np.uint64(40)) < threshold
    r = np_splitmix64(z ^ np.uint64(0x5851F42D4C957F2D)) >> np.uint64(1)
    from_pos = pos[(r % np.uint64(max(1, len(pos)))).astype(np.int64)]
    from_neg = neg[(r % np.uint64(max(1, len(neg)))).astype(np.int64)]
    return np.where(pick_issue, from_pos, from_neg), subset


def torch_indices(labels, seed, issue_rate, data_size, steps, torch):
    """The same distributions from torch's own RNG (what a user would more likely write)."""
    import numpy as np
    g = torch.Generator().manual_seed(seed)
    n = len(labels)
    subset = max(1, int(math.floor(data_size * n + 0.5)))
    chosen = torch.randperm(n, generator=g)[:subset].numpy()
    lab = np.asarray(labels)[chosen]
    pos, neg = torch.from_numpy(chosen[lab != 0]), torch.from_numpy(chosen[lab == 0])
    pick = torch.rand(steps, BATCH, generator=g) < issue_rate
    ip = pos[torch.randint(len(pos), (steps, BATCH), generator=g)]
    ineg = neg[torch.randint(len(neg), (steps, BATCH), generator=g)]
    return torch.where(pick, ip, ineg).numpy(), subset


# ---------------------------------------------------------------------------------------------
def prepare(csv_path, out_dir):
    """The farm's CSV export to arrays: train and test x (float32, channels-first values) and y
    (int64 class index: healthy 0, faulty 1 for the telemetry, else the sorted label names); the
    test split is selection then holdout, meta.json records the selection size."""
    import csv
    import numpy as np
    rows = {"train": [], "selection": [], "holdout": []}
    labels = {"train": [], "selection": [], "holdout": []}
    with open(csv_path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        if header[:2] != ["split", "label"]:
            sys.exit("%s: line 1: expected the columns split, label, v0, ... (sweepctl data "
                     "export), got %s" % (csv_path, header[:3]))
        for line, row in enumerate(r, start=2):
            if row[0] not in rows:
                sys.exit("%s: line %d: split %r is not train, selection or holdout" %
                         (csv_path, line, row[0]))
            labels[row[0]].append(row[1])
            rows[row[0]].append(np.asarray(row[2:], dtype=np.float32))
    names = sorted(set(labels["train"]))
    if set(names) == {"healthy", "faulty"}:
        names = ["healthy", "faulty"]  # the telemetry's class order (issue = 1)
    os.makedirs(out_dir, exist_ok=True)
    for split in ("train", "test"):
        parts = ["train"] if split == "train" else ["selection", "holdout"]
        x = np.stack([v for p in parts for v in rows[p]])
        y = np.asarray([names.index(l) for p in parts for l in labels[p]], dtype=np.int64)
        np.save(os.path.join(out_dir, split + "_x.npy"), x)
        np.save(os.path.join(out_dir, split + "_y.npy"), y)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump({"classes": names, "selection": len(rows["selection"]),
                   "channels_first_values": len(rows["train"][0])}, f)
    print("prepared %s: %d train, %d selection, %d holdout samples of %d values" % (
        out_dir, len(rows["train"]), len(rows["selection"]), len(rows["holdout"]),
        len(rows["train"][0])))


class Data:
    def __init__(self, args, torch):
        import numpy as np
        meta = json.load(open(os.path.join(args.data, "meta.json")))
        channels = 16  # the telemetry: 16 channels x 64 steps
        xtr = torch.from_numpy(np.load(os.path.join(args.data, "train_x.npy")))
        xte = torch.from_numpy(np.load(os.path.join(args.data, "test_x.npy")))
        xtr = xtr.reshape(len(xtr), channels, -1)
        xte = xte.reshape(len(xte), channels, -1)
        # The engine's Standardized(): statistics of the channels-last train split in float64.
        flat = xtr.permute(0, 2, 1).contiguous().reshape(-1, channels).double()
        mean = flat.mean(0)
        std = flat.std(0, unbiased=False)
        std = torch.where(std > 1e-6, std, torch.ones_like(std))
        mean, std = mean.float().view(1, -1, 1), std.float().view(1, -1, 1)
        self.xtr = ((xtr - mean) / std).contiguous()
        self.xte = ((xte - mean) / std).contiguous()
        self.ytr = torch.from_numpy(np.load(os.path.join(args.data, "train_y.npy")))
        self.yte = torch.from_numpy(np.load(os.path.join(args.data, "test_y.npy")))
        self.labels = self.ytr.tolist()
        self.sel = meta["selection"]


def make_model(torch, cfg, data):
    nn = torch.nn
    kind = cfg.get("architecture", ARCH.get("name", "cnn1d"))
    channels, length = data.xtr.shape[1], data.xtr.shape[2]
    if kind == "cnn1d":
        c1, c2 = ARCH.get("channels", [16, 32])
        k = ARCH.get("kernel_size", 5)

        class Cnn1d(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Conv1d(channels, c1, k), nn.Conv1d(c1, c2, k),
                                             nn.Linear(c2, 2)])

            def forward(self, x):  # x: [B, C, L]
                x = torch.max_pool1d(torch.relu(self.layers[0](x)), 2)
                x = torch.relu(self.layers[1](x)).mean(2)
                return self.layers[2](x)

        model = Cnn1d()
    elif kind in ("mlp", "logistic"):
        hidden = ARCH.get("hidden", [256]) if kind == "mlp" else []
        widths = [channels * length] + list(hidden) + [2]

        class Mlp(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(widths, widths[1:])])

            def forward(self, x):
                x = x.flatten(1)
                for i, layer in enumerate(self.layers):
                    x = layer(x)
                    if i + 1 < len(self.layers):
                        x = torch.relu(x)
                return x

        model = Mlp()
    else:
        sys.exit("peer_sweep.py: architecture %r is not cnn1d, mlp or logistic" % kind)
    # sweepfarm's InitStandardWeights: PyTorch's default bounds, drawn from the trial's seed.
    g = torch.Generator().manual_seed(int(cfg["seed"]))
    with torch.no_grad():
        for layer in model.layers:
            fan_in = layer.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=g) * 2 - 1) * bound)
            layer.bias.copy_((torch.rand(layer.bias.shape, generator=g) * 2 - 1) * bound)
    return model


def train_one(data, torch, cfg, args, eval_epochs=None):
    """One configuration, one model, one process. Returns the metrics (a list of them, one per
    epoch count, with eval_epochs: one run evaluated at each, as the farm shares them)."""
    t0 = time.perf_counter()
    F = torch.nn.functional
    evals = [max(1, int(round(e * args.epochs_scale))) for e in (eval_epochs or [cfg["epochs"]])]
    epochs = max(evals)
    seed = int(cfg["seed"])
    n = len(data.labels)
    subset = max(1, int(math.floor(cfg["data_size"] * n + 0.5)))
    spe = -(-subset // BATCH)
    steps = spe * epochs
    if args.sampler == "exact":
        idx, _ = farm_indices(data.labels, seed, cfg["issue_rate"], cfg["data_size"], steps)
    else:
        idx, _ = torch_indices(data.labels, seed, cfg["issue_rate"], cfg["data_size"], steps, torch)
    idx = torch.from_numpy(idx)
    model = make_model(torch, cfg, data)
    opt = torch.optim.SGD(model.parameters(), lr=cfg["step_size"], momentum=MOMENTUM)
    t_train = time.perf_counter()
    loss_sum = 0.0
    out = []
    eval_seconds = 0.0
    for s in range(steps):
        b = idx[s]
        logits = model(data.xtr.index_select(0, b))
        loss = F.cross_entropy(logits, data.ytr.index_select(0, b))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (s % spe) == 0:
            loss_sum = 0.0
        loss_sum += loss.item()
        if (s + 1) % spe == 0 and (s + 1) // spe in evals:
            t_eval = time.perf_counter()
            with torch.no_grad():
                pred = model(data.xte).argmax(1)
            hit = (pred == data.yte).numpy()
            sel = data.sel
            out.append({
                "eval_epochs": (s + 1) // spe,
                "selection_accuracy": float(hit[:sel].mean()),
                "holdout_accuracy": float(hit[sel:].mean()),
                "test_accuracy": float(hit.mean()),
                "train_loss": loss_sum / spe,
                "steps": s + 1,
            })
            eval_seconds += time.perf_counter() - t_eval
    t_end = time.perf_counter()
    for r in out:
        r.update({"seconds": t_end - t0, "train_seconds": t_end - t_train - eval_seconds,
                  "eval_seconds": eval_seconds, "setup_seconds": t_train - t0})
    return out if eval_epochs else out[0]


def load_sweep(path):
    """SPACE, FIXED and ARCH from a sweep file: a grid over the axes the peer knows."""
    import yaml
    doc = yaml.safe_load(open(path))
    search = doc.get("search", {})
    if search.get("method", "grid") != "grid":
        sys.exit("%s: search.method: the peer runs grid sweeps only" % path)
    FIXED.update({"seed": 1})
    for k, v in search.get("space", {}).items():
        if k not in AXES:
            sys.exit("%s: search.space.%s: the peer knows only %s" % (path, k, ", ".join(AXES)))
        if isinstance(v, list):
            SPACE[k] = v
        else:
            FIXED[k] = v
    ARCH.update(doc.get("architecture", {}))
    training = doc.get("training", {})
    if training.get("batch_size", BATCH) != BATCH or training.get("momentum", MOMENTUM) != MOMENTUM:
        sys.exit("%s: training: the peer trains with batch_size %d and momentum %g" %
                 (path, BATCH, MOMENTUM))


def config_key(cfg):
    return tuple((k, cfg.get(k, FIXED.get(k))) for k in AXES)


def grid():
    out = [dict(FIXED)]
    for k, values in SPACE.items():
        out = [dict(c, **{k: v}) for c in out for v in values]
    return out


# ---------------------------------------------------------------------------------------------
def storage_of(args):
    import optuna
    if args.storage == "sqlite":
        return "sqlite:///" + os.path.join(args.workdir, "study.db")
    from optuna.storages import JournalFileStorage, JournalStorage
    return JournalStorage(JournalFileStorage(os.path.join(args.workdir, "study.journal")))


def worker_main(args):
    t_start = time.time()
    import torch
    import optuna
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = Data(args, torch)
    study = optuna.load_study(study_name="peer", storage=storage_of(args),
                              sampler=optuna.samplers.GridSampler(SPACE, seed=args.worker_id))

    def objective(trial):
        cfg = dict(FIXED, **{k: trial.suggest_categorical(k, v) for k, v in SPACE.items()})
        r = train_one(data, torch, cfg, args)
        for k, v in r.items():
            if k != "selection_accuracy":
                trial.set_user_attr(k, v)
        trial.set_user_attr("worker", args.worker_id)
        return r["selection_accuracy"]

    ready = time.time()
    study.optimize(objective, n_trials=args.limit_trials or None)
    print(json.dumps({"worker": args.worker_id, "started": t_start, "ready": ready,
                      "ended": time.time()}), flush=True)


def pool_init():
    import torch
    torch.set_num_threads(1)


def pool_task(a):
    global _POOL_DATA
    import torch
    args, cfg, evals = a
    if "_POOL_DATA" not in globals():
        _POOL_DATA = Data(args, torch)
    if evals:
        rs = train_one(_POOL_DATA, torch, cfg, args, eval_epochs=evals)
    else:
        rs = [train_one(_POOL_DATA, torch, cfg, args)]
    for r in rs:
        r.update(cfg)
        if evals:
            r["epochs"] = r["eval_epochs"]
        r["pid"] = os.getpid()
        r["ended"] = time.time()
    return rs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prepare", nargs=2, metavar=("CSV", "DIR"),
                    help="turn the farm's data export into the arrays --data reads, and exit")
    ap.add_argument("--sweep", help="the sweep file (a grid over " + ", ".join(AXES) + ")")
    ap.add_argument("--data", help="what --prepare wrote")
    ap.add_argument("--workdir")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mode", choices=["optuna", "pool"], default="optuna")
    ap.add_argument("--storage", choices=["sqlite", "journal"], default="sqlite")
    ap.add_argument("--sampler", choices=["exact", "torch"], default="exact")
    ap.add_argument("--limit-trials", type=int, default=0, help="debug: trials per worker")
    ap.add_argument("--epochs-scale", type=float, default=1.0, help="debug: fewer epochs")
    ap.add_argument("--share-epochs", action="store_true",
                    help="pool mode: train each configuration once for the most epochs and "
                         "evaluate it at every epoch count (as the farm does)")
    ap.add_argument("--out", default="")
    ap.add_argument("--worker-id", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        return prepare(*args.prepare)
    if not (args.sweep and args.data and args.workdir):
        ap.error("--sweep, --data and --workdir are required")
    load_sweep(args.sweep)
    if args.worker_id >= 0:
        return worker_main(args)

    t0 = time.time()
    os.makedirs(args.workdir, exist_ok=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    summary = {"share_epochs": args.share_epochs, "mode": args.mode,
               "storage": args.storage if args.mode == "optuna" else None,
               "sampler": args.sampler, "workers": args.workers}
    if args.mode == "optuna":
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        for f in ("study.db", "study.journal"):
            p = os.path.join(args.workdir, f)
            if os.path.exists(p):
                os.remove(p)
        optuna.create_study(study_name="peer", storage=storage_of(args), direction="maximize",
                            sampler=optuna.samplers.GridSampler(SPACE))
        cmd = [sys.executable, os.path.abspath(__file__)] + [a for a in sys.argv[1:]]
        procs = [subprocess.Popen(cmd + ["--worker-id", str(i)], env=env, stdout=subprocess.PIPE,
                                  text=True) for i in range(args.workers)]
        infos = []
        for p in procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                sys.exit("worker failed with %d" % p.returncode)
            infos.append(json.loads(out.strip().splitlines()[-1]))
        t1 = time.time()
        study = optuna.load_study(study_name="peer", storage=storage_of(args))
        trials = []
        for t in study.get_trials(deepcopy=False):
            r = dict(FIXED, **t.params)
            r.update(t.user_attrs)
            r["selection_accuracy"] = t.value
            r["state"] = t.state.name
            r["number"] = t.number
            r["ended"] = t.datetime_complete.timestamp() if t.datetime_complete else None
            trials.append(r)
        summary["workers_info"] = infos
    else:
        import multiprocessing as mp
        tasks = []
        if args.share_epochs:  # one run per configuration but epochs, scored at each count
            groups = {}
            for c in grid():
                rest = dict(c)
                e = rest.pop("epochs")
                groups.setdefault(config_key(rest), (rest, []))[1].append(e)
            tasks = [(args, dict(rest, epochs=max(es)), sorted(es)) for rest, es in groups.values()]
        else:
            tasks = [(args, c, None) for c in grid()]
        if args.limit_trials:
            tasks = tasks[:args.limit_trials * args.workers]
        # The longest first, as a user sorting a pool's work would (the tail stays busy).
        tasks.sort(key=lambda t: -t[1]["epochs"] * t[1]["data_size"])
        with mp.get_context("fork").Pool(args.workers, initializer=pool_init) as pool:
            trials = [r for rs in pool.imap_unordered(pool_task, tasks, chunksize=1) for r in rs]
        t1 = time.time()
    done = [t for t in trials if t.get("state", "COMPLETE") == "COMPLETE"]
    keys = {config_key(t) for t in done}
    best = max(done, key=lambda t: t["selection_accuracy"])
    summary.update({
        "wall_seconds": t1 - t0,
        "t0": t0,
        "trials_run": len(trials),
        "distinct_configs_done": len(keys),
        "duplicates": len(done) - len(keys),
        "best": best,
        "trials": sorted(trials, key=lambda t: str(config_key(t))),
        "train_seconds_sum": sum(t.get("train_seconds", 0) for t in trials),
        "trial_seconds_sum": sum(t.get("seconds", 0) for t in trials),
    })
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1)
    print("peer %s%s: %d trials (%d distinct, %d duplicates) in %.2f s; best selection %.4f %s" % (
        args.mode, " sharing epochs" if args.share_epochs else "", len(trials), len(keys),
        summary["duplicates"], t1 - t0, best["selection_accuracy"],
        {k: best.get(k) for k in AXES}))


if __name__ == "__main__":
    main()
