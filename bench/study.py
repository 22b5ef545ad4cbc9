#!/usr/bin/env python3
"""The study's figures as SVG from bench/study.sh's table.json (no plotting library needed).

    bench/study.py TABLE.json OUTDIR

Writes OUTDIR/data_size.svg, epochs.svg, step_size.svg, issue_rate.svg (holdout accuracy, mean
and standard deviation over seeds, against each parameter; the all-"issue" baseline dashed),
time.svg (each trial's training seconds against data size x epochs, with a least-squares line)
and architecture.svg (the CNN against the other model kinds).
"""
import json
import math
import sys

W, H = 560, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 36, 52


def nice_ticks(lo, hi, count=5):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.floor(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) < 0.01:
        return "%g" % v
    return ("%.4f" % v).rstrip("0").rstrip(".")


class Plot:
    def __init__(self, title, xlabel, ylabel, xs, ys, log_x=False, categories=None):
        self.log_x = log_x
        self.categories = categories
        self.svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                    'font-family="sans-serif" font-size="12">' % (W, H),
                    '<rect width="100%" height="100%" fill="white"/>',
                    '<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>' % (LEFT, title)]
        self.yt = nice_ticks(min(ys), max(ys))
        self.y0, self.y1 = self.yt[0], self.yt[-1]
        if categories is None:
            fx = [math.log10(x) for x in xs] if log_x else xs
            if log_x:
                self.x0, self.x1 = min(fx) - 0.1, max(fx) + 0.1
                self.xt = sorted(set(xs))
            else:
                self.xt = nice_ticks(min(0, min(xs)), max(xs))
                self.x0, self.x1 = self.xt[0], self.xt[-1]
        else:
            self.x0, self.x1 = -0.5, len(categories) - 0.5
            self.xt = list(range(len(categories)))
        for t in self.yt:
            y = self.y(t)
            self.svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>'
                            % (LEFT, W - RIGHT, y, y))
            self.svg.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (LEFT - 6, y + 4, fmt(t)))
        last, last_len = None, 0
        for t in self.xt:
            x = self.x(t)
            label = categories[t] if categories is not None else fmt(t)
            if last is not None and x - last < 3.5 * (last_len + len(label)) + 6:
                label = ""  # Would overlap the last label.
            else:
                last, last_len = x, len(label)
            self.svg.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>'
                            % (x, x, H - BOTTOM, H - BOTTOM + 4))
            self.svg.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, H - BOTTOM + 17, label))
        self.svg.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>'
                        % (LEFT, W - RIGHT, H - BOTTOM, H - BOTTOM))
        self.svg.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>' % (LEFT, LEFT, TOP, H - BOTTOM))
        self.svg.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
                        % ((LEFT + W - RIGHT) // 2, H - 12, xlabel))
        self.svg.append('<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">%s</text>'
                        % ((TOP + H - BOTTOM) // 2, ylabel))

    def x(self, v):
        if self.log_x and self.categories is None:
            v = math.log10(v)
        return LEFT + (v - self.x0) / (self.x1 - self.x0) * (W - LEFT - RIGHT)

    def y(self, v):
        return H - BOTTOM - (v - self.y0) / (self.y1 - self.y0) * (H - TOP - BOTTOM)

    def series(self, pts, color, label, line=True):
        """pts: (x, y, sd) with x a value (or a category index)."""
        if line:
            self.svg.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>'
                            % (" ".join("%.1f,%.1f" % (self.x(x), self.y(y)) for x, y, _ in pts), color))
        for x, y, sd in pts:
            if sd:
                self.svg.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>'
                                % (self.x(x), self.x(x), self.y(y - sd), self.y(y + sd), color))
            self.svg.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s (sd %s)</title>'
                            '</circle>' % (self.x(x), self.y(y), color, fmt(x), fmt(y), fmt(sd)))
        self.legend(color, label, line)

    def bars(self, pts, color, label):
        for i, y, sd in pts:
            x = self.x(i)
            self.svg.append('<rect x="%.1f" y="%.1f" width="40" height="%.1f" fill="%s" opacity="0.8">'
                            '<title>%s</title></rect>' % (x - 20, self.y(y), self.y(self.y0) - self.y(y),
                                                          color, fmt(y)))
            self.svg.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#333"/>'
                            % (x, x, self.y(y - sd), self.y(y + sd)))
            self.svg.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>'
                            % (x, self.y(y) - 6, fmt(round(y, 3))))
        self.legend(color, label, False)

    def hline(self, value, color, label):
        y = self.y(value)
        self.svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 4"/>'
                        % (LEFT, W - RIGHT, y, y, color))
        self.legend(color, label, True, dashed=True)

    legends = 0

    def legend(self, color, label, line, dashed=False):
        # Bottom right, above the axis (the accuracy curves rise to the top); a bar chart's in the
        # title line.
        if self.categories is not None:
            x, y = W - RIGHT - 200, 16
        else:
            x, y = W - RIGHT - 200, H - BOTTOM - 14 - 16 * self.legends
        self.legends += 1
        if line:
            self.svg.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                            % (x, x + 22, y, y, color, ' stroke-dasharray="6 4"' if dashed else ""))
        else:
            self.svg.append('<circle cx="%d" cy="%d" r="4" fill="%s"/>' % (x + 11, y, color))
        self.svg.append('<text x="%d" y="%d">%s</text>' % (x + 28, y + 4, label))

    def write(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.svg + ["</svg>"]) + "\n")


def accuracy_figure(table, key, title, xlabel, out, log_x=False):
    pts = [(float(p["x"]), p["mean"], p["sd"]) for p in table[key]]
    base = sum(p["baseline"] for p in table[key]) / len(table[key])
    ys = [y - sd for _, y, sd in pts] + [y + sd for _, y, sd in pts] + [base]
    plot = Plot(title, xlabel, "holdout accuracy", [x for x, _, _ in pts], ys, log_x=log_x)
    plot.series(pts, "#36c", "CNN, mean of %d seeds" % len(table["seeds"]))
    plot.hline(base, "#c33", "all \u201cissue\u201d: %.3f" % base)
    plot.write(out)


def main():
    table = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    accuracy_figure(table, "data_size", "Accuracy against the training data's size",
                    "fraction of the lab training data", out + "/data_size.svg")
    accuracy_figure(table, "epochs", "Accuracy against epochs", "epochs (log scale)",
                    out + "/epochs.svg", log_x=True)
    accuracy_figure(table, "step_size", "Accuracy against step size", "SGD step size (log scale)",
                    out + "/step_size.svg", log_x=True)
    accuracy_figure(table, "issue_rate", "Accuracy against the training mix's issue rate",
                    "share of \u201cissue\u201d samples in training", out + "/issue_rate.svg")
    t = table["time"]
    xs, ys = [p["x"] for p in t], [p["seconds"] for p in t]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-12, sum((x - mx) ** 2 for x in xs))
    icept = my - slope * mx
    plot = Plot("Training time against data size x epochs", "data size x epochs (passes over all the data)",
                "seconds per trial", xs + [0], ys + [0])
    plot.series([(x, y, 0) for x, y in zip(xs, ys)], "#36c", "one trial", line=False)
    lo, hi = 0, max(xs)
    plot.svg.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#c33" stroke-width="1.5"/>'
                    % (plot.x(lo), plot.x(hi), plot.y(icept + slope * lo), plot.y(icept + slope * hi)))
    plot.legend("#c33", "%.3f s + %.3f s per pass" % (icept, slope), True)
    plot.write(out + "/time.svg")
    kinds = table["architecture"]
    pts = [(i, p["mean"], p["sd"]) for i, p in enumerate(kinds)]
    ys = [y - sd for _, y, sd in pts] + [y + sd for _, y, sd in pts]
    plot = Plot("The CNN against the other model kinds", "model kind", "holdout accuracy",
                None, ys + [min(ys) - 0.02], categories=[p["x"] for p in kinds])
    plot.bars(pts, "#36c", "mean of %d seeds (sd bars)" % len(table["seeds"]))
    plot.write(out + "/architecture.svg")


if __name__ == "__main__":
    main()
