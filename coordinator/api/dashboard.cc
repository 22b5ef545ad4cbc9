#include "coordinator/api/dashboard.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "cli/export.h"
#include "cli/importance.h"
#include "common/sha256.h"

namespace sweepfarm::api {

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

constexpr char kStyle[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "h1 a{color:inherit;text-decoration:none}.note{color:#666}.bad{color:#a00}"
    "code{font-size:12px}";

std::string Head(const std::string& title, bool refresh) {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + HtmlEscape(title) +
         " - sweepfarm</title>" +
         (refresh ? "<meta http-equiv=\"refresh\" content=\"10\">" : std::string()) + "<style>" +
         kStyle + "</style></head><body><h1><a href=\"/\">sweepfarm</a></h1>\n";
}

constexpr char kTail[] = "</body></html>\n";

std::string Fixed(double v, int digits = 4) {
  if (!std::isfinite(v)) return "";
  char b[32];
  std::snprintf(b, sizeof(b), "%.*f", digits, v);
  return b;
}

std::string SweepLink(int64_t id) {
  return "<a href=\"/sweeps/" + std::to_string(id) + "\">" + std::to_string(id) + "</a>";
}

std::string ModelLink(const std::string& model) {
  // Model names are [A-Za-z0-9._-] (validated at submission): safe in a path as they are.
  return "<a href=\"/models/" + HtmlEscape(model) + "\">" + HtmlEscape(model) + "</a>";
}

std::string Params(const v1::TrialParams& p) {
  std::ostringstream out;
  out << "epochs=" << p.epochs() << " step_size=" << p.step_size()
      << " issue_rate=" << (p.issue_rate() < 0 ? std::string("natural") : Fixed(p.issue_rate(), 3))
      << " data_size=" << p.data_size() << " seed=" << p.seed();
  if (p.channels_size() > 0) {
    out << " channels=";
    for (int i = 0; i < p.channels_size(); ++i) out << (i ? "x" : "") << p.channels(i);
  }
  if (p.kernel_size() > 0) out << " kernel_size=" << p.kernel_size();
  if (!p.architecture().empty()) out << " architecture=" << p.architecture();
  if (!p.optimizer().empty()) out << " optimizer=" << p.optimizer();
  if (p.has_weight_decay()) out << " weight_decay=" << p.weight_decay();
  if (p.has_smoothing()) out << " smoothing=" << p.smoothing();
  return out.str();
}

// A horizontal grid line of a plot at height `y`, labelled `value` on the left.
void GridLine(std::ostream& out, double left, double right, double y, double value) {
  out << "<line x1=\"" << left << "\" x2=\"" << right << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#eee\"/><text x=\"" << left - 4 << "\" y=\"" << y + 4
      << "\" font-size=\"11\" text-anchor=\"end\">" << Fixed(value, 3) << "</text>\n";
}

// The frame of an accuracy plot: `n` points spread over the width, accuracies from `lo` to `hi`
// (rounded outwards to 0.05, within [0, 1]) up the height; Open writes the <svg> element's start
// and the grid (and sets `out` to one decimal), Close the caption and the end.
struct AccuracyFrame {
  AccuracyFrame(double height, double lo_value, double hi_value, size_t points)
      : h(height), n(points) {
    lo = std::max(0.0, std::floor(lo_value * 20 - 0.5) / 20);
    hi = std::min(1.0, std::ceil(hi_value * 20 + 0.5) / 20);
    if (hi <= lo) hi = lo + 0.05;
  }
  double x(size_t i) const {
    return left + (n == 1 ? 0.5 : static_cast<double>(i) / (n - 1)) * (w - left - right);
  }
  double y(double a) const { return top + (hi - a) / (hi - lo) * (h - top - bottom); }
  void Open(std::ostream& out, const char* label) const {
    out.setf(std::ios::fixed);
    out.precision(1);
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
        << "\" role=\"img\" aria-label=\"" << label << "\">\n";
    for (int i = 0; i <= 4; ++i) {
      const double a = lo + (hi - lo) * i / 4;
      GridLine(out, left, w - right, y(a), a);
    }
  }
  // The caption under the plot; closes the <svg>.
  void Close(std::ostream& out, const std::string& caption) const {
    out << "<text x=\"" << (left + w - right) / 2 << "\" y=\"" << h - 6
        << "\" font-size=\"11\" text-anchor=\"middle\">" << caption << "</text>\n</svg>\n";
  }

  const double w = 720, left = 48, right = 12, top = 12, bottom = 28;
  const double h;
  const size_t n;
  double lo = 0, hi = 1;
};

// The objective's name in words ("selection accuracy", "selection balanced accuracy").
std::string ObjectiveWords(const std::string& objective) {
  std::string words = objective.empty() ? "selection_accuracy" : objective;
  std::replace(words.begin(), words.end(), '_', ' ');
  return words;
}

// Each succeeded trial's score by the sweep's objective, in trial order (dots, with the trial in a
// tooltip), the best so far (a step line) and, for accuracy, the majority-class baseline
// (dashed; 0: none): Optuna's history plot.
std::string HistoryPlot(const std::vector<const v1::Trial*>& done, double baseline,
                        const std::string& objective) {
  if (done.empty()) return "<p class=\"note\">No finished trials yet.</p>\n";
  double lo = baseline > 0 ? baseline : 1, hi = 0;
  for (const auto* t : done) {
    lo = std::min(lo, t->result().selection_score());
    hi = std::max(hi, t->result().selection_score());
  }
  const AccuracyFrame f(260, lo, hi, done.size());
  const size_t n = done.size();
  std::ostringstream out;
  f.Open(out, (ObjectiveWords(objective) + " by trial").c_str());
  if (baseline > f.lo && baseline < f.hi) {
    out << "<line class=\"baseline\" x1=\"" << f.left << "\" x2=\"" << f.w - f.right << "\" y1=\""
        << f.y(baseline) << "\" y2=\"" << f.y(baseline)
        << "\" stroke=\"#999\" stroke-dasharray=\"4 3\"><title>majority-class baseline "
        << Fixed(baseline) << "</title></line>\n";
  }
  out << "<polyline class=\"best\" fill=\"none\" stroke=\"#c60\" stroke-width=\"1.5\" points=\"";
  double best = -1;
  for (size_t i = 0; i < n; ++i) {
    const double a = done[i]->result().selection_score();
    if (best >= 0 && a > best) out << f.x(i) << "," << f.y(best) << " ";
    best = std::max(best, a);
    out << f.x(i) << "," << f.y(best) << " ";
  }
  out << "\"/>\n";
  for (size_t i = 0; i < n; ++i) {
    const auto& t = *done[i];
    out << "<circle class=\"trial\" cx=\"" << f.x(i) << "\" cy=\""
        << f.y(t.result().selection_score()) << "\" r=\"2.5\" fill=\"#36c\"><title>trial "
        << t.trial_id() << ": " << Fixed(t.result().selection_score()) << " ("
        << HtmlEscape(Params(t.params())) << ")</title></circle>\n";
  }
  f.Close(out, "finished trials in trial order (" + std::to_string(n) + "); line: best so far");
  return out.str();
}

// The learning curves of `trials` (the leaderboard's best): mean training loss per epoch, one
// line each, as W&B or Determined chart a metric over training.
std::string CurvesPlot(const std::vector<const v1::Trial*>& trials) {
  double hi = 0;
  int64_t last = 1;
  size_t drawn = 0;
  for (const auto* t : trials) {
    const auto& r = t->result();
    for (float v : r.train_loss_curve()) {
      if (std::isfinite(v)) hi = std::max(hi, static_cast<double>(v));
    }
    last = std::max<int64_t>(last, r.resumed_epochs() + r.train_loss_curve_size());
    drawn += r.train_loss_curve_size() > 0;
  }
  if (drawn == 0) return "<p class=\"note\">No learning curves recorded.</p>\n";
  if (hi <= 0) hi = 1;
  const double w = 720, h = 260, left = 48, right = 12, top = 12, bottom = 28;
  auto x = [&](double epoch) {
    return left + (epoch - 1) / std::max<double>(1, last - 1) * (w - left - right);
  };
  auto y = [&](double loss) { return top + (hi - loss) / hi * (h - top - bottom); };
  static const char* kColours[] = {"#36c", "#c60", "#393", "#939", "#c33",
                                   "#099", "#663", "#f90", "#69c", "#999"};
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" role=\"img\" aria-label=\"training loss by epoch\">\n";
  for (int i = 0; i <= 4; ++i) GridLine(out, left, w - right, y(hi * i / 4), hi * i / 4);
  size_t i = 0;
  for (const auto* t : trials) {
    const auto& r = t->result();
    if (r.train_loss_curve_size() == 0) continue;
    out << "<polyline class=\"curve\" fill=\"none\" stroke-width=\"1.5\" stroke=\""
        << kColours[i++ % std::size(kColours)] << "\" points=\"";
    for (int e = 0; e < r.train_loss_curve_size(); ++e) {
      const float v = r.train_loss_curve(e);
      if (!std::isfinite(v)) break;  // A diverged model: drawn up to where it diverged.
      out << x(r.resumed_epochs() + e + 1) << "," << y(v) << " ";
    }
    out << "\"><title>trial " << t->trial_id() << ": " << HtmlEscape(Params(t->params()))
        << "</title></polyline>\n";
  }
  out << "<text x=\"" << (left + w - right) / 2 << "\" y=\"" << h - 6
      << "\" font-size=\"11\" text-anchor=\"middle\">mean training loss by epoch (1 to " << last
      << "), the " << drawn << " best trials</text>\n</svg>\n";
  return out.str();
}

// Parallel coordinates (W&B Sweeps' and Optuna's plot): one vertical axis per searched
// parameter whose values vary among the finished trials (epochs, step size on a log scale when
// it spans 10x or more, issue rate with the natural mix below the rest, data size, kernel size,
// the first layer's channels), then the objective; each trial a line across them, coloured from
// grey (worst) to orange (best) and drawn best last, so the region the winners share stands out.
// A searched parameter as a plot axis: its value per trial (categorical ones, the model kind and
// the optimizer, as the index of the trial's name among the sorted names seen), its range over the
// finished trials, and whether it is drawn on a log scale.
struct Axis {
  std::string name;
  std::function<double(const v1::Trial&)> value;
  bool log = false;
  double lo = 0, hi = 0;
  std::vector<std::string> categories;  // Categorical axes: the names, by index.

  void Span(const std::vector<const v1::Trial*>& done) {
    lo = hi = value(*done.front());
    for (const auto* t : done) {
      lo = std::min(lo, value(*t));
      hi = std::max(hi, value(*t));
    }
  }
  std::string Label(double v) const {
    if (!categories.empty()) return categories.at(static_cast<size_t>(std::lround(v)));
    if (name == "issue_rate" && v < 0) return "natural";
    char b[32];
    std::snprintf(b, sizeof(b), "%g", v);
    return b;
  }
  // Where `v` lies between lo and hi, from 0 to 1.
  double Fraction(double v) const {
    return log ? (std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo))
               : (v - lo) / (hi - lo);
  }
};

// A categorical axis over the names `name_of` gives the finished trials ("" shown as "sweep's").
Axis CategoryAxis(const std::string& name, const std::vector<const v1::Trial*>& done,
                  std::function<std::string(const v1::Trial&)> name_of) {
  std::set<std::string> names;
  for (const auto* t : done) names.insert(name_of(*t).empty() ? "sweep's" : name_of(*t));
  Axis a;
  a.name = name;
  a.categories.assign(names.begin(), names.end());
  a.value = [categories = a.categories, name_of](const v1::Trial& t) {
    const std::string n = name_of(t).empty() ? "sweep's" : name_of(t);
    return static_cast<double>(std::lower_bound(categories.begin(), categories.end(), n) -
                               categories.begin());
  };
  return a;
}

// The searched parameters that vary among the finished trials (at least one).
std::vector<Axis> SearchedAxes(const std::vector<const v1::Trial*>& done) {
  std::vector<Axis> axes = {
      CategoryAxis("architecture", done,
                   [](const v1::Trial& t) { return t.params().architecture(); }),
      CategoryAxis("optimizer", done, [](const v1::Trial& t) { return t.params().optimizer(); }),
      {"epochs", [](const v1::Trial& t) { return static_cast<double>(t.params().epochs()); }},
      {"step_size", [](const v1::Trial& t) { return t.params().step_size(); }},
      // The natural mix (no resampling: -1) sits below every rate.
      {"issue_rate", [](const v1::Trial& t) { return t.params().issue_rate(); }},
      {"data_size", [](const v1::Trial& t) { return t.params().data_size(); }},
      {"weight_decay", [](const v1::Trial& t) { return t.params().weight_decay(); }},
      {"smoothing", [](const v1::Trial& t) { return t.params().smoothing(); }},
      {"kernel_size",
       [](const v1::Trial& t) { return static_cast<double>(t.params().kernel_size()); }},
      {"channels",
       [](const v1::Trial& t) {
         return t.params().channels_size() > 0 ? static_cast<double>(t.params().channels(0)) : 0.0;
       }},
  };
  std::vector<Axis> shown;
  for (auto& a : axes) {
    a.Span(done);
    if (a.hi <= a.lo) continue;  // Not searched (or one value): no information.
    a.log = a.name == "step_size" && a.lo > 0 && a.hi / a.lo >= 10;
    shown.push_back(a);
  }
  return shown;
}

// The objective's axis over the finished trials (never of zero height).
Axis ScoreAxis(const std::vector<const v1::Trial*>& done, const std::string& objective) {
  Axis score{ObjectiveWords(objective),
             [](const v1::Trial& t) { return t.result().selection_score(); }};
  score.Span(done);
  if (score.hi <= score.lo) score.hi = score.lo + 1e-9;
  return score;
}

std::string ParallelPlot(const std::vector<const v1::Trial*>& done, const std::string& objective) {
  std::vector<Axis> shown = SearchedAxes(done);
  if (shown.empty()) return "";
  const Axis score = ScoreAxis(done, objective);
  shown.push_back(score);
  const double w = 720, h = 260, left = 60, right = 60, top = 28, bottom = 28;
  const size_t n = shown.size();
  auto x = [&](size_t i) { return left + static_cast<double>(i) / (n - 1) * (w - left - right); };
  auto y = [&](const Axis& a, double v) { return top + (1 - a.Fraction(v)) * (h - top - bottom); };
  std::vector<const v1::Trial*> order = done;
  std::stable_sort(order.begin(), order.end(), [](const v1::Trial* a, const v1::Trial* b) {
    return a->result().selection_score() < b->result().selection_score();
  });
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" role=\"img\" aria-label=\"parameters and " << HtmlEscape(score.name)
      << " of each trial\">\n";
  for (const auto* t : order) {
    // Grey (153,153,153) to orange (204,102,0) with the score.
    const double f = (t->result().selection_score() - score.lo) / (score.hi - score.lo);
    char colour[8];
    std::snprintf(colour, sizeof(colour), "#%02x%02x%02x", static_cast<int>(153 + 51 * f),
                  static_cast<int>(153 - 51 * f), static_cast<int>(153 * (1 - f)));
    out << "<polyline class=\"pc\" fill=\"none\" stroke=\"" << colour << "\" stroke-opacity=\""
        << (f > 0.9 ? "0.9" : "0.35") << "\" points=\"";
    for (size_t i = 0; i < n; ++i) out << x(i) << "," << y(shown[i], shown[i].value(*t)) << " ";
    out << "\"><title>trial " << t->trial_id() << ": " << Fixed(t->result().selection_score())
        << " (" << HtmlEscape(Params(t->params())) << ")</title></polyline>\n";
  }
  for (size_t i = 0; i < n; ++i) {
    const Axis& a = shown[i];
    out << "<line class=\"axis\" x1=\"" << x(i) << "\" x2=\"" << x(i) << "\" y1=\"" << top
        << "\" y2=\"" << h - bottom << "\" stroke=\"#333\"/><text x=\"" << x(i) << "\" y=\""
        << top - 14 << "\" font-size=\"11\" text-anchor=\"middle\">" << HtmlEscape(a.name)
        << (a.log ? " (log)" : "") << "</text><text x=\"" << x(i) << "\" y=\"" << top - 2
        << "\" font-size=\"10\" text-anchor=\"middle\">"
        << (i + 1 == n ? Fixed(a.hi) : HtmlEscape(a.Label(a.hi))) << "</text><text x=\"" << x(i)
        << "\" y=\"" << h - bottom + 12 << "\" font-size=\"10\" text-anchor=\"middle\">"
        << (i + 1 == n ? Fixed(a.lo) : HtmlEscape(a.Label(a.lo))) << "</text>\n";
  }
  out << "</svg>\n";
  return out.str();
}

// One small plot per searched parameter that varies: the objective of each finished trial against
// the parameter's value (as optuna-dashboard's slice plot), titled axes, ticks at the ends and
// the middle (categories: each name), the best trial in orange.
std::string SlicePlots(const std::vector<const v1::Trial*>& done, const std::string& objective) {
  const std::vector<Axis> shown = SearchedAxes(done);
  if (shown.empty()) return "";
  const Axis score = ScoreAxis(done, objective);
  const v1::Trial* best = done.front();
  for (const auto* t : done) {
    if (t->result().selection_score() > best->result().selection_score()) best = t;
  }
  const double w = 240, h = 180, left = 44, right = 10, top = 10, bottom = 40;
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << "<div class=\"slices\">\n";
  for (const Axis& a : shown) {
    // Categories sit at their index, padded half a step from each side.
    const double pad = a.categories.empty() ? 0 : 0.5;
    auto x = [&](double v) {
      const double f =
          a.categories.empty() ? 0.05 + 0.9 * a.Fraction(v) : (v + pad) / (a.hi - a.lo + 2 * pad);
      return left + f * (w - left - right);
    };
    auto y = [&](double v) { return top + (1 - score.Fraction(v)) * (h - top - bottom); };
    out << "<svg class=\"slice\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
        << "\" height=\"" << h << "\" role=\"img\" aria-label=\"" << HtmlEscape(score.name)
        << " against " << HtmlEscape(a.name) << "\">\n";
    out << "<line x1=\"" << left << "\" x2=\"" << left << "\" y1=\"" << top << "\" y2=\""
        << h - bottom << "\" stroke=\"#333\"/><line x1=\"" << left << "\" x2=\"" << w - right
        << "\" y1=\"" << h - bottom << "\" y2=\"" << h - bottom << "\" stroke=\"#333\"/>\n";
    for (double v : {score.lo, (score.lo + score.hi) / 2, score.hi}) {
      out << "<text x=\"" << left - 3 << "\" y=\"" << y(v) + 4
          << "\" font-size=\"10\" text-anchor=\"end\">" << Fixed(v, 3) << "</text>\n";
    }
    std::vector<double> ticks;
    if (!a.categories.empty()) {
      for (size_t i = 0; i < a.categories.size(); ++i) ticks.push_back(static_cast<double>(i));
    } else {
      // The middle tick rounded to two significant digits (where it is drawn, too).
      char mid[32];
      std::snprintf(mid, sizeof(mid), "%.2g", a.log ? std::sqrt(a.lo * a.hi) : (a.lo + a.hi) / 2);
      ticks = {a.lo, std::strtod(mid, nullptr), a.hi};
    }
    for (double v : ticks) {
      out << "<text x=\"" << x(v) << "\" y=\"" << h - bottom + 13
          << "\" font-size=\"10\" text-anchor=\"middle\">" << HtmlEscape(a.Label(v)) << "</text>\n";
    }
    out << "<text x=\"" << (left + w - right) / 2 << "\" y=\"" << h - 6
        << "\" font-size=\"11\" text-anchor=\"middle\">" << HtmlEscape(a.name)
        << (a.log ? " (log)" : "") << "</text>\n";
    for (const auto* t : done) {
      const double v = a.value(*t), sc = t->result().selection_score();
      out << "<circle class=\"dot\" cx=\"" << x(v) << "\" cy=\"" << y(sc) << "\" r=\"3\" fill=\""
          << (t == best ? "#cc6600" : "#4a7ab5") << "\" fill-opacity=\"0.6\"><title>trial "
          << t->trial_id() << ": " << Fixed(sc) << "</title></circle>\n";
    }
    out << "</svg>\n";
  }
  out << "</div>\n";
  return out.str();
}

// Which parameters mattered (cli/importance.h, as `sweepctl importance`): a bar per parameter
// that varied, its rank correlation with the objective from -1 to 1, strongest first, and a table
// of where each one's best values lay. Empty below two succeeded trials.
std::string ImportancePlot(const std::vector<v1::Trial>& trials, const std::string& objective) {
  bool first_rung_only = false;
  const std::vector<cli::Observation> obs = cli::ObservationsOf(trials, &first_rung_only);
  if (obs.size() < 2) return "";
  const std::vector<cli::ParamEffect> effects = cli::ParamEffects(obs);
  if (effects.empty()) return "";
  const double w = 720, left = 130, right = 60, top = 8, row = 20, bottom = 36;
  const double h = top + row * static_cast<double>(effects.size()) + bottom;
  const double zero = (left + w - right) / 2, half = (w - left - right) / 2;
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\" role=\"img\" aria-label=\"parameter importance\">\n";
  for (double r : {-1.0, -0.5, 0.0, 0.5, 1.0}) {
    const double x = zero + r * half;
    out << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << top << "\" y2=\"" << h - bottom
        << "\" stroke=\"" << (r == 0 ? "#333" : "#eee") << "\"/><text x=\"" << x << "\" y=\""
        << h - bottom + 13 << "\" font-size=\"10\" text-anchor=\"middle\">" << Fixed(r, 1)
        << "</text>\n";
  }
  for (size_t i = 0; i < effects.size(); ++i) {
    const cli::ParamEffect& e = effects[i];
    const double y = top + row * static_cast<double>(i);
    const double x = e.spearman >= 0 ? zero : zero + e.spearman * half;
    out << "<text x=\"" << left - 6 << "\" y=\"" << y + 14
        << "\" font-size=\"11\" text-anchor=\"end\">" << HtmlEscape(e.name) << "</text>\n"
        << "<rect x=\"" << x << "\" y=\"" << y + 4 << "\" width=\""
        << std::max(1.0, std::abs(e.spearman) * half) << "\" height=\"" << row - 8 << "\" fill=\""
        << (e.spearman >= 0 ? "#4a7ab5" : "#cc6600") << "\"><title>" << HtmlEscape(e.name)
        << ": Spearman " << Fixed(e.spearman, 2) << " over " << e.distinct
        << " values</title></rect>\n<text x=\"" << w - right + 4 << "\" y=\"" << y + 14
        << "\" font-size=\"11\">" << (e.spearman >= 0 ? "+" : "") << Fixed(e.spearman, 2)
        << "</text>\n";
  }
  out << "<text x=\"" << zero << "\" y=\"" << h - 6
      << "\" font-size=\"11\" text-anchor=\"middle\">rank correlation (Spearman) with "
      << HtmlEscape(ObjectiveWords(objective)) << "</text>\n</svg>\n";
  out << "<p>" << obs.size() << " succeeded trial(s)"
      << (first_rung_only ? " of the first rung (later rungs hold promoted trials, not a sample)"
                          : "")
      << "; blue: higher values scored better, orange: lower. Where the best values lay:</p>\n"
      << "<table><tr><th>parameter</th><th>values tried</th><th>best values</th><th>their mean "
         "score</th><th>trials there</th></tr>\n";
  out.precision(6);
  out.unsetf(std::ios::fixed);
  for (const auto& e : effects) {
    const cli::ValueGroup& g = e.groups[static_cast<size_t>(e.best_group)];
    out << "<tr><td>" << HtmlEscape(e.name) << "</td><td class=\"n\">" << e.distinct
        << "</td><td class=\"n\">" << g.min;
    if (g.max != g.min) out << " - " << g.max;
    out << "</td><td class=\"n\">" << Fixed(g.mean_score) << "</td><td class=\"n\">" << g.trials
        << "</td></tr>\n";
  }
  out << "</table>\n";
  return out.str();
}

// Each version's holdout accuracy, oldest first (promoted: filled, rejected: hollow), beside its
// sweep's best single trial: is the nightly loop improving the model?
std::string VersionsPlot(const v1::ListVersionsResponse& r) {
  std::vector<const v1::ModelVersion*> versions;
  for (const auto& v : r.versions()) versions.push_back(&v);
  std::sort(versions.begin(), versions.end(),
            [](const auto* a, const auto* b) { return a->version() < b->version(); });
  double lo = 1, hi = 0;
  for (const auto* v : versions) {
    for (double a : {v->holdout_accuracy(), v->best_single_holdout_accuracy()}) {
      lo = std::min(lo, a);
      hi = std::max(hi, a);
    }
  }
  const AccuracyFrame f(220, lo, hi, versions.size());
  const size_t n = versions.size();
  std::ostringstream out;
  f.Open(out, "holdout accuracy by version");
  for (size_t i = 0; i < n; ++i) {
    const auto& v = *versions[i];
    const bool promoted = v.decision() == "promoted";
    out << "<circle class=\"single\" cx=\"" << f.x(i) << "\" cy=\""
        << f.y(v.best_single_holdout_accuracy()) << "\" r=\"2\" fill=\"#999\"><title>v"
        << v.version() << ": best single trial " << Fixed(v.best_single_holdout_accuracy())
        << "</title></circle>\n<circle class=\"version\" cx=\"" << f.x(i) << "\" cy=\""
        << f.y(v.holdout_accuracy()) << "\" r=\"4\" stroke=\"#36c\" stroke-width=\"1.5\" fill=\""
        << (promoted ? "#36c" : "white") << "\"><title>v" << v.version() << " ("
        << HtmlEscape(v.decision()) << "): holdout " << Fixed(v.holdout_accuracy())
        << "</title></circle>\n";
  }
  f.Close(out, "holdout accuracy of v1 to v" + std::to_string(n) +
                   " (filled: promoted; grey: the sweep's best single trial)");
  return out.str();
}

}  // namespace

std::string RenderHomePage(
    const std::vector<v1::SweepStatus>& sweeps,
    const std::vector<std::pair<std::string, v1::ListVersionsResponse>>& models,
    const std::vector<v1::WorkerInfo>& workers) {
  std::ostringstream out;
  out << Head("farm", true) << "<h2>Sweeps</h2>\n";
  if (sweeps.empty()) {
    out << "<p class=\"note\">No sweeps yet.</p>\n";
  } else {
    out << "<table><tr><th>id</th><th>name</th><th>model</th><th>state</th><th>priority</th>"
           "<th>progress</th><th>best selection</th><th>its holdout</th><th>created</th></tr>\n";
    for (const auto& s : sweeps) {
      const int64_t finished = s.succeeded() + s.failed() + s.cancelled();
      std::string state = HtmlEscape(s.state());
      if (!s.ended_early().empty()) {
        state +=
            " <span class=\"note\" title=\"" + HtmlEscape(s.ended_early()) + "\">(limit)</span>";
      }
      out << "<tr><td>" << SweepLink(s.sweep_id()) << "</td><td>" << HtmlEscape(s.name())
          << "</td><td>" << ModelLink(s.model()) << "</td><td>" << state << "</td><td class=\"n\">"
          << s.priority() << "</td><td><progress max=\"" << std::max<int64_t>(1, s.total())
          << "\" value=\"" << finished << "\"></progress> " << finished << "/" << s.total()
          << "</td><td class=\"n\">"
          << (s.best_trial_id() > 0 ? Fixed(s.best_selection_score()) : "")
          << "</td><td class=\"n\">"
          << (s.best_trial_id() > 0 ? Fixed(s.best_holdout_accuracy()) : "") << "</td><td>"
          << HtmlEscape(s.created_at().substr(0, 19)) << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  out << "<h2>Models</h2>\n";
  if (models.empty()) {
    out << "<p class=\"note\">No models yet.</p>\n";
  } else {
    out << "<table><tr><th>model</th><th>champion</th><th>its holdout</th><th>versions</th></tr>\n";
    for (const auto& [name, m] : models) {
      auto it = m.aliases().find("champion");
      std::string champion, holdout;
      if (it != m.aliases().end()) {
        champion = "v" + std::to_string(it->second);
        for (const auto& v : m.versions()) {
          if (v.version() == it->second) holdout = Fixed(v.holdout_accuracy());
        }
      }
      out << "<tr><td>" << ModelLink(name) << "</td><td>" << champion << "</td><td class=\"n\">"
          << holdout << "</td><td class=\"n\">" << m.versions_size() << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  out << "<h2>Workers</h2>\n";
  if (workers.empty()) {
    out << "<p class=\"note\">No worker seen in the last hour.</p>\n";
  } else {
    out << "<table><tr><th>worker</th><th>host</th><th>device</th><th>capacity</th><th>state</th>"
           "<th>leases</th><th>results (1 h)</th><th>model-epochs (1 h)</th></tr>\n";
    for (const auto& k : workers) {
      out << "<tr><td>" << HtmlEscape(k.worker_id()) << "</td><td>" << HtmlEscape(k.host())
          << "</td><td>" << HtmlEscape(k.device()) << "</td><td class=\"n\">" << k.capacity()
          << "</td><td" << (k.alive() ? ">alive" : " class=\"bad\">lost") << "</td><td class=\"n\">"
          << k.running_trials() << "</td><td class=\"n\">" << k.results_last_hour()
          << "</td><td class=\"n\">" << k.model_epochs_last_hour() << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  out << "<p class=\"note\">Refreshes every 10 s. <a href=\"/predictions\">Predictions served"
         "</a> (confirm or correct them); metrics: <a href=\"/metrics\">/metrics</a>.</p>\n"
      << kTail;
  return out.str();
}

std::string FormToken(const Credential& holder) {
  return Sha256Hex("sweepfarm dashboard form\n" + holder.token).substr(0, 32);
}

std::string RenderPredictionsPage(const std::vector<v1::ServedPrediction>& predictions,
                                  const std::string& model, const std::string& form_token,
                                  const std::string& note) {
  std::ostringstream out;
  out << Head("predictions", false) << "<h2>Predictions served"
      << (model.empty() ? "" : " by " + ModelLink(model)) << "</h2>\n";
  if (!note.empty()) out << "<p>" << HtmlEscape(note) << "</p>\n";
  out << "<p class=\"note\">Newest first. Confirm or correct each diagnosis: the data set the "
         "model learned from grows by the labelled ones (<code>sweepctl data grow NAME "
         "--from-feedback</code>, or the nightly sweep with <code>dataset.feedback: true</code>). "
         "<a href=\"/predictions?unlabelled=1"
      << (model.empty() ? "" : "&amp;model=" + HtmlEscape(model)) << "\">Only unlabelled</a>.";
  if (form_token.empty()) {
    out << " Labelling here needs the coordinator's <code>--metrics-auth</code> and a labeller, "
           "operator or admin token; <code>sweepctl feedback ID LABEL</code> works always.";
  }
  out << "</p>\n";
  if (predictions.empty()) {
    out << "<p class=\"note\">No predictions recorded.</p>\n" << kTail;
    return out.str();
  }
  out << "<table><tr><th>served</th><th>id</th><th>model</th><th>data</th><th>answer</th>"
         "<th>probability</th><th>label</th><th>by</th>"
      << (form_token.empty() ? "" : "<th>confirm or correct</th>") << "</tr>\n";
  for (const auto& p : predictions) {
    auto name = [&](int label) {
      return label >= 0 && label < p.classes_size() ? p.classes(label) : std::to_string(label);
    };
    const float prob =
        p.label() >= 0 && p.label() < p.probabilities_size() ? p.probabilities(p.label()) : NAN;
    out << "<tr><td>" << HtmlEscape(p.served_at().substr(0, 19)) << "</td><td><code>"
        << HtmlEscape(p.id()) << "</code></td><td>" << ModelLink(p.model()) << " v" << p.version()
        << "</td><td>" << HtmlEscape(p.dataset()) << "</td><td>" << HtmlEscape(name(p.label()))
        << "</td><td class=\"n\">" << Fixed(prob, 3) << "</td><td"
        << (p.true_label() >= 0 && p.true_label() != p.label() ? " class=\"bad\"" : "") << ">"
        << (p.true_label() >= 0 ? HtmlEscape(name(p.true_label())) : "-") << "</td><td>"
        << HtmlEscape(p.labelled_by()) << "</td>";
    if (!form_token.empty()) {
      out << "<td><form method=\"post\" action=\"/predictions/" << HtmlEscape(p.id())
          << "/label\"><input type=\"hidden\" name=\"form_token\" value=\"" << form_token
          << "\"><select name=\"label\">";
      for (int c = 0; c < p.classes_size(); ++c) {
        const int selected = p.true_label() >= 0 ? p.true_label() : p.label();
        out << "<option value=\"" << HtmlEscape(p.classes(c)) << "\""
            << (c == selected ? " selected" : "") << ">" << HtmlEscape(p.classes(c)) << "</option>";
      }
      out << "</select> <button type=\"submit\">save</button></form></td>";
    }
    out << "</tr>\n";
  }
  out << "</table>\n" << kTail;
  return out.str();
}

namespace {

// The leaderboard's sortable columns: key (for ?sort=), heading, value, and whether higher is
// better (the first click sorts that way).
struct LeaderboardColumn {
  const char* key;
  const char* heading;
  double (*value)(const v1::Trial&);
  bool higher_is_better;
};
constexpr LeaderboardColumn kLeaderboardColumns[] = {
    {"trial", "trial", [](const v1::Trial& t) { return static_cast<double>(t.trial_id()); }, false},
    {"selection", "selection", [](const v1::Trial& t) { return t.result().selection_accuracy(); },
     true},
    {"holdout", "holdout", [](const v1::Trial& t) { return t.result().holdout_accuracy(); }, true},
    {"selection_balanced", "selection balanced",
     [](const v1::Trial& t) { return t.result().selection_balanced_accuracy(); }, true},
    {"holdout_balanced", "holdout balanced",
     [](const v1::Trial& t) { return t.result().holdout_balanced_accuracy(); }, true},
    {"test_loss", "test loss", [](const v1::Trial& t) { return t.result().test_loss(); }, false},
};
constexpr size_t kLeaderboardRows = 1000;  // Beyond: the CSV.

std::string TrialLink(int64_t sweep_id, int64_t trial_id) {
  return "<a href=\"/sweeps/" + std::to_string(sweep_id) + "/trials/" + std::to_string(trial_id) +
         "\">" + std::to_string(trial_id) + "</a>";
}

// The trial's origin, with the trial it derives from.
std::string Origin(const v1::Trial& t) {
  std::string origin = HtmlEscape(t.origin());
  if (t.parent_trial_id() > 0) origin += " &lt;" + std::to_string(t.parent_trial_id());
  return origin;
}

}  // namespace

std::string RenderSweepPage(const v1::SweepStatus& s, const std::vector<v1::Trial>& trials,
                            const std::vector<v1::ModelVersion>& versions,
                            const std::string& sort) {
  std::ostringstream out;
  out << Head("sweep " + std::to_string(s.sweep_id()), s.state() == "running");
  out << "<h2>Sweep " << s.sweep_id() << ": " << HtmlEscape(s.name()) << "</h2>\n<p>Model "
      << ModelLink(s.model()) << ", " << HtmlEscape(s.state()) << ", priority " << s.priority()
      << ", created " << HtmlEscape(s.created_at().substr(0, 19));
  if (s.parent_sweep_id() > 0) {
    out << ", seeded from " << HtmlEscape(s.seeded_from()) << " (sweep "
        << SweepLink(s.parent_sweep_id()) << ")";
  }
  out << ".</p>\n";
  std::string produced;
  for (const auto& v : versions) {
    if (v.sweep_id() != s.sweep_id()) continue;
    produced += std::string(produced.empty() ? "" : ", ") + "<a href=\"/models/" +
                HtmlEscape(v.model()) + "\">" + HtmlEscape(v.model()) + " v" +
                std::to_string(v.version()) + "</a> (" + HtmlEscape(v.decision()) + ")";
  }
  if (!produced.empty()) out << "<p>Registered as " << produced << ".</p>\n";
  if (s.state() == "cancelled") {
    out << "<p class=\"bad\">Cancelled: " << HtmlEscape(s.cancel_reason()) << "</p>\n";
  } else if (!s.ended_early().empty()) {
    out << "<p class=\"bad\">Ended early: " << HtmlEscape(s.ended_early()) << "</p>\n";
  }
  out << "<table><tr><th>total</th><th>queued</th><th>running</th><th>succeeded</th>"
         "<th>failed</th><th>cancelled</th><th>retried</th><th>lost leases</th>"
         "<th>baseline</th></tr>\n<tr>";
  for (int64_t v : {s.total(), s.queued(), s.running(), s.succeeded(), s.failed(), s.cancelled(),
                    s.retried(), s.lost_leases()}) {
    out << "<td class=\"n\">" << v << "</td>";
  }
  out << "<td class=\"n\">" << Fixed(s.baseline_accuracy()) << "</td></tr></table>\n";
  if (s.history_size() > 0) {
    out << "<table><tr><th>when</th><th>action</th><th>by</th><th>detail</th></tr>\n";
    for (const auto& e : s.history()) {
      out << "<tr><td>" << HtmlEscape(e.at().substr(0, 19)) << "</td><td>" << HtmlEscape(e.action())
          << "</td><td>" << HtmlEscape(e.actor()) << "</td><td>" << HtmlEscape(e.detail())
          << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  std::vector<const v1::Trial*> done;
  for (const auto& t : trials) {
    if (t.state() == "succeeded") done.push_back(&t);
  }
  std::sort(done.begin(), done.end(),
            [](const v1::Trial* a, const v1::Trial* b) { return a->trial_id() < b->trial_id(); });
  const bool by_accuracy = s.objective().empty() || s.objective() == "selection_accuracy";
  out << "<h3>History</h3>\n"
      << HistoryPlot(done, by_accuracy ? s.baseline_accuracy() : 0.0, s.objective());
  // The leaderboard: by the objective, holdout beside it (never used to rank).
  std::vector<const v1::Trial*> ranked = done;
  std::stable_sort(ranked.begin(), ranked.end(), [](const v1::Trial* a, const v1::Trial* b) {
    return a->result().selection_score() > b->result().selection_score();
  });
  std::vector<const v1::Trial*> best(ranked.begin(),
                                     ranked.begin() + std::min<size_t>(ranked.size(), 10));
  if (!done.empty()) {
    if (const std::string plot = ParallelPlot(done, s.objective()); !plot.empty()) {
      out << "<h3>Parameters</h3>\n"
          << plot << "<h3>Slices: " << HtmlEscape(ObjectiveWords(s.objective()))
          << " against each parameter</h3>\n"
          << SlicePlots(done, s.objective());
    }
    if (const std::string plot = ImportancePlot(trials, s.objective()); !plot.empty()) {
      out << "<h3>Which parameters mattered</h3>\n" << plot;
    }
  }
  out << "<h3>Learning curves</h3>\n" << CurvesPlot(best);
  // The whole leaderboard: ranked by the objective, or sorted by a column.
  std::map<int64_t, size_t> rank;
  for (size_t i = 0; i < ranked.size(); ++i) rank[ranked[i]->trial_id()] = i + 1;
  std::vector<const v1::Trial*> rows = ranked;
  const bool descending = !sort.empty() && sort[0] == '-';
  const std::string sort_key = descending ? sort.substr(1) : sort;
  const LeaderboardColumn* sorted_by = nullptr;
  for (const auto& c : kLeaderboardColumns) {
    if (sort_key == c.key) sorted_by = &c;
  }
  if (sorted_by != nullptr) {
    std::stable_sort(rows.begin(), rows.end(), [&](const v1::Trial* a, const v1::Trial* b) {
      const double x = sorted_by->value(*a), y = sorted_by->value(*b);
      return descending ? x > y : x < y;
    });
  }
  const size_t shown = std::min(rows.size(), kLeaderboardRows);
  const std::string base = "/sweeps/" + std::to_string(s.sweep_id());
  out << "<h3>Leaderboard (" << shown << " of " << rows.size() << ")</h3>\n";
  if (shown > 0) {
    out << "<p>Ranked by " << HtmlEscape(ObjectiveWords(s.objective()))
        << "; holdout figures are never used to rank. "
        << (sorted_by != nullptr ? "Sorted by " + std::string(sorted_by->heading) +
                                       (descending ? ", highest first" : ", lowest first") +
                                       " (<a href=\"" + base + "\">by rank</a>). "
                                 : std::string("Click a heading to sort. "))
        << "<a href=\"" << base << "/trials.csv\">Every trial as CSV</a>.</p>\n"
        << "<table><tr><th>rank</th>";
    for (const auto& c : kLeaderboardColumns) {
      // A click sorts by the column, best first; on the column already sorted, the other way.
      bool desc = c.higher_is_better;
      if (sorted_by == &c) desc = !descending;
      out << "<th><a href=\"" << base << "?sort=" << (desc ? "-" : "") << c.key << "\">"
          << c.heading << (sorted_by == &c ? (descending ? " &#9660;" : " &#9650;") : "")
          << "</a></th>";
    }
    out << "<th>origin</th><th>parameters</th></tr>\n";
    for (size_t i = 0; i < shown; ++i) {
      const auto& t = *rows[i];
      out << "<tr><td class=\"n\">" << rank[t.trial_id()] << "</td><td class=\"n\">"
          << TrialLink(s.sweep_id(), t.trial_id()) << "</td>";
      for (size_t c = 1; c < std::size(kLeaderboardColumns); ++c) {
        out << "<td class=\"n\">" << Fixed(kLeaderboardColumns[c].value(t)) << "</td>";
      }
      out << "<td>" << Origin(t) << "</td><td><code>" << HtmlEscape(Params(t.params()))
          << "</code></td></tr>\n";
    }
    out << "</table>\n";
  }
  std::vector<const v1::Trial*> problems;
  for (const auto& t : trials) {
    if (t.state() == "failed") problems.push_back(&t);
  }
  if (!problems.empty()) {
    out << "<h3>Failed trials (" << problems.size()
        << ")</h3>\n<table><tr><th>trial</th>"
           "<th>attempts</th><th>last error</th></tr>\n";
    for (size_t i = 0; i < problems.size() && i < 50; ++i) {
      out << "<tr><td class=\"n\">" << problems[i]->trial_id() << "</td><td class=\"n\">"
          << problems[i]->attempts() << "</td><td>" << HtmlEscape(problems[i]->last_error())
          << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  out << kTail;
  return out.str();
}

// A confusion matrix ([true][predicted] row-major counts of a square number of cells) as a table,
// rows by true class, each cell shaded by its share of its row; "" if `cells` is not square.
std::string ConfusionTable(const std::string& caption,
                           const google::protobuf::RepeatedField<int64_t>& cells) {
  int classes = 0;
  while (classes * classes < cells.size()) ++classes;
  if (classes < 2 || classes * classes != cells.size()) return "";
  std::ostringstream out;
  out << "<table class=\"confusion\"><caption>" << HtmlEscape(caption)
      << "</caption><tr><th>true \\ predicted</th>";
  for (int p = 0; p < classes; ++p) out << "<th>" << p << "</th>";
  out << "<th>recall</th></tr>\n";
  for (int k = 0; k < classes; ++k) {
    int64_t row = 0;
    for (int p = 0; p < classes; ++p) row += cells[k * classes + p];
    out << "<tr><th>" << k << "</th>";
    for (int p = 0; p < classes; ++p) {
      const int64_t v = cells[k * classes + p];
      const double share = row > 0 ? static_cast<double>(v) / static_cast<double>(row) : 0;
      // Right answers in blue, wrong ones in orange, as strong as their share of the row.
      out << "<td class=\"n\" style=\"background:rgba(" << (p == k ? "74,122,181," : "204,102,0,")
          << Fixed(share * 0.6, 2) << ")\">" << v << "</td>";
    }
    out << "<td class=\"n\">"
        << (row > 0 ? Fixed(static_cast<double>(cells[k * classes + k]) / row, 3) : "-")
        << "</td></tr>\n";
  }
  out << "</table>\n";
  return out.str();
}

std::string RenderTrialPage(const v1::SweepStatus& s, const v1::Trial& t,
                            const std::vector<v1::Trial>& trials) {
  std::map<int64_t, const v1::Trial*> by_id;
  for (const auto& other : trials) by_id[other.trial_id()] = &other;
  std::ostringstream out;
  out << Head("trial " + std::to_string(t.trial_id()), t.state() == "running");
  out << "<h2>Trial " << t.trial_id() << " of sweep " << SweepLink(s.sweep_id()) << ": "
      << HtmlEscape(s.name()) << "</h2>\n<p>" << HtmlEscape(t.state()) << ", " << t.attempts()
      << " attempt(s)" << (t.worker_id().empty() ? "" : ", worker " + HtmlEscape(t.worker_id()))
      << ".</p>\n";
  if (!t.last_error().empty()) {
    out << "<p class=\"bad\">Last error: " << HtmlEscape(t.last_error()) << "</p>\n";
  }
  out << "<h3>Parameters</h3>\n<p><code>" << HtmlEscape(Params(t.params())) << "</code></p>\n";
  if (t.state() == "succeeded") {
    const auto& r = t.result();
    out << "<h3>Results</h3>\n<table><tr><th></th><th>selection</th><th>holdout</th></tr>\n"
        << "<tr><td>accuracy</td><td class=\"n\">" << Fixed(r.selection_accuracy())
        << "</td><td class=\"n\">" << Fixed(r.holdout_accuracy()) << "</td></tr>\n"
        << "<tr><td>balanced accuracy</td><td class=\"n\">"
        << Fixed(r.selection_balanced_accuracy()) << "</td><td class=\"n\">"
        << Fixed(r.holdout_balanced_accuracy()) << "</td></tr>\n</table>\n"
        << "<p>Objective (" << HtmlEscape(ObjectiveWords(s.objective()))
        << "): " << Fixed(r.selection_score()) << "; test loss " << Fixed(r.test_loss())
        << ", last epoch's training loss " << Fixed(r.train_loss())
        << "; always \"issue\": " << Fixed(r.baseline_accuracy()) << ". " << r.steps()
        << " steps on " << HtmlEscape(r.device()) << ", in a bundle of " << r.bundle_size() << " ("
        << Fixed(r.wall_seconds(), 2) << " s)"
        << (r.resumed_epochs() > 0 ? ", resumed after epoch " + std::to_string(r.resumed_epochs())
                                   : std::string())
        << ".</p>\n";
    const std::string sel = ConfusionTable("selection", r.selection_confusion()),
                      hold = ConfusionTable("holdout", r.holdout_confusion());
    if (!sel.empty() || !hold.empty()) {
      out << "<h3>Confusion matrices</h3>\n<p>Rows: the true class, columns: the predicted one "
             "(class indices as in the data set; telemetry: 1 is an issue).</p>\n<div "
             "class=\"slices\">"
          << sel << hold << "</div>\n";
    }
    out << "<h3>Learning curve</h3>\n" << CurvesPlot({&t});
  }
  out << "<h3>Lineage</h3>\n<p>Origin: " << HtmlEscape(t.origin().empty() ? "search" : t.origin());
  // Up the chain of trials this one derives from, as far as this sweep holds them.
  int64_t parent = t.parent_trial_id();
  for (int hops = 0; parent > 0 && hops < 100; ++hops) {
    auto it = by_id.find(parent);
    if (it == by_id.end()) {
      out << " &larr; trial " << parent << " (of an earlier sweep)";
      break;
    }
    out << " &larr; trial " << TrialLink(s.sweep_id(), parent) << " ("
        << HtmlEscape(it->second->origin()) << ")";
    parent = it->second->parent_trial_id();
  }
  out << ".</p>\n";
  std::string children;
  for (const auto& other : trials) {
    if (other.parent_trial_id() == t.trial_id()) {
      children += (children.empty() ? "" : ", ") + TrialLink(s.sweep_id(), other.trial_id()) +
                  " (" + HtmlEscape(other.origin()) + ")";
    }
  }
  if (!children.empty()) out << "<p>Derived from it: " << children << ".</p>\n";
  out << kTail;
  return out.str();
}

namespace {

// A version's holdout report: per class precision, recall, F1 and support, and the confusion
// matrix (rows: true class).
std::string ReportTable(const v1::ModelVersion& v) {
  const v1::ClassificationReport& r = v.holdout_report();
  std::ostringstream out;
  out << "<h3>Champion v" << v.version() << " on its holdout (" << r.samples()
      << " samples)</h3>\n<p>Accuracy " << Fixed(r.accuracy()) << ", balanced accuracy "
      << Fixed(r.balanced_accuracy()) << ", macro F1 " << Fixed(r.macro_f1());
  if (r.has_roc_auc()) out << ", ROC AUC " << Fixed(r.roc_auc());
  out << ", log loss " << Fixed(r.log_loss()) << ".";
  if (v.decision_threshold() > 0) {
    out << " Label 1 when its probability exceeds " << Fixed(v.decision_threshold()) << " ("
        << (v.threshold_tuned() ? "tuned on the selection split" : "configured")
        << "); at the argmax the holdout score would be " << Fixed(v.argmax_holdout_score())
        << ", not " << Fixed(v.holdout_score()) << ".";
  }
  out << "</p>\n<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
         "<th>support</th><th>predicted</th>";
  for (int p = 0; p < r.classes(); ++p) out << "<th>as " << p << "</th>";
  out << "</tr>\n";
  for (int k = 0; k < r.per_class_size(); ++k) {
    const auto& m = r.per_class(k);
    out << "<tr><td class=\"n\">" << k << "</td><td class=\"n\">" << Fixed(m.precision())
        << "</td><td class=\"n\">" << Fixed(m.recall()) << "</td><td class=\"n\">" << Fixed(m.f1())
        << "</td><td class=\"n\">" << m.support() << "</td><td class=\"n\">" << m.predicted()
        << "</td>";
    for (int p = 0; p < r.classes() && k * r.classes() + p < r.confusion_size(); ++p) {
      out << "<td class=\"n\">" << r.confusion(k * r.classes() + p) << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</table>\n";
  return out.str();
}

}  // namespace

std::string RenderModelPage(const std::string& model, const v1::ListVersionsResponse& r) {
  std::ostringstream out;
  out << Head("model " + model, false) << "<h2>Model " << HtmlEscape(model) << "</h2>\n";
  if (r.versions_size() == 0) {
    out << "<p class=\"note\">No registered versions yet.</p>\n" << kTail;
    return out.str();
  }
  std::map<std::string, int> aliases(r.aliases().begin(), r.aliases().end());
  out << "<p>Aliases:";
  for (const auto& [alias, version] : aliases) {
    out << " <b>" << HtmlEscape(alias) << "</b> &rarr; v" << version;
  }
  out << "</p>\n"
      << VersionsPlot(r)
      << "<table><tr><th>version</th><th>decision</th><th>sweep</th><th>method</th><th>data</th>"
         "<th>selection</th><th>holdout</th><th>balanced</th><th>AUC</th><th>threshold</th>"
         "<th>best single (holdout)</th><th>aliases</th><th>created</th><th>reason</th></tr>\n";
  for (const auto& v : r.versions()) {
    std::string names;
    for (const auto& a : v.aliases()) names += (names.empty() ? "" : ", ") + HtmlEscape(a);
    const std::string data =
        v.dataset().name() +
        (v.dataset().version() > 0 ? "@" + std::to_string(v.dataset().version()) : std::string());
    out << "<tr><td class=\"n\">v" << v.version() << "</td><td>" << HtmlEscape(v.decision())
        << "</td><td>" << SweepLink(v.sweep_id()) << "</td><td>" << HtmlEscape(v.method())
        << "</td><td title=\"" << HtmlEscape(v.dataset_hash()) << "\">" << HtmlEscape(data)
        << "</td><td class=\"n\">" << Fixed(v.selection_accuracy()) << "</td><td class=\"n\">"
        << Fixed(v.holdout_accuracy()) << "</td><td class=\"n\">"
        << (v.has_holdout_report() ? Fixed(v.holdout_report().balanced_accuracy()) : "-")
        << "</td><td class=\"n\">"
        << (v.holdout_report().has_roc_auc() ? Fixed(v.holdout_report().roc_auc()) : "-")
        << "</td><td class=\"n\">"
        << (v.decision_threshold() > 0 ? Fixed(v.decision_threshold()) : "argmax")
        << "</td><td class=\"n\">" << Fixed(v.best_single_holdout_accuracy()) << "</td><td>"
        << names << "</td><td>" << HtmlEscape(v.created_at().substr(0, 19)) << "</td><td>"
        << HtmlEscape(v.reason()) << "</td></tr>\n";
  }
  out << "</table>\n";
  // The champion's holdout report: what its accuracy hides on imbalanced data.
  for (const auto& v : r.versions()) {
    const bool champion =
        std::find(v.aliases().begin(), v.aliases().end(), "champion") != v.aliases().end();
    if (champion && v.has_holdout_report()) out << ReportTable(v);
  }
  out << "<h3>Audit trail</h3>\n<table><tr><th>when</th><th>alias</th><th>action</th>"
         "<th>from</th><th>to</th><th>by</th><th>reason</th></tr>\n";
  for (const auto& a : r.audit()) {
    out << "<tr><td>" << HtmlEscape(a.at().substr(0, 19)) << "</td><td>" << HtmlEscape(a.alias())
        << "</td><td>" << HtmlEscape(a.action()) << "</td><td class=\"n\">"
        << (a.from_version() > 0 ? "v" + std::to_string(a.from_version()) : "-")
        << "</td><td class=\"n\">v" << a.to_version() << "</td><td>" << HtmlEscape(a.actor())
        << "</td><td>" << HtmlEscape(a.reason()) << "</td></tr>\n";
  }
  out << "</table>\n" << kTail;
  return out.str();
}

namespace {

HttpPage ErrorPage(int status, const std::string& message) {
  HttpPage p;
  p.status = status;
  p.body = Head("error", false) + "<p class=\"bad\">" + HtmlEscape(message) + "</p>\n" + kTail;
  return p;
}

HttpPage FromStatus(const Status& s) {
  if (s.code() == StatusCode::kNotFound) return ErrorPage(404, s.message());
  return ErrorPage(503, s.message());
}

bool IsModelName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

namespace {

// The value of `key` in a query string or an x-www-form-urlencoded body ("" if absent), decoded
// (%XX and +); at most 200 bytes.
std::string FormValue(const std::string& form, const std::string& key) {
  size_t at = 0;
  while (at <= form.size()) {
    size_t end = form.find('&', at);
    if (end == std::string::npos) end = form.size();
    const std::string pair = form.substr(at, end - at);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key && eq != std::string::npos) {
      std::string out;
      const std::string v = pair.substr(eq + 1);
      for (size_t i = 0; i < v.size() && out.size() < 200; ++i) {
        if (v[i] == '+') {
          out += ' ';
        } else if (v[i] == '%' && i + 2 < v.size() &&
                   std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
          out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          out += v[i];
        }
      }
      return out;
    }
    at = end + 1;
  }
  return "";
}

bool SameText(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// POST /predictions/ID/label.
HttpPage LabelFromForm(const DashboardContext& c, const HttpRequest& request,
                       const std::string& id) {
  if (c.auth.empty()) {
    return ErrorPage(403,
                     "labelling from the dashboard needs the coordinator's --metrics-auth "
                     "(sweepctl feedback works without it)");
  }
  // The gate admitted the holder's role; the form must come from a page of this site.
  const Credential* holder = c.auth.HolderOf(request.authorization);
  if (holder == nullptr) return ErrorPage(401, "no authorization token");
  if (!request.origin.empty() && request.origin != "http://" + request.host &&
      request.origin != "https://" + request.host) {
    return ErrorPage(403,
                     "a form from another site (Origin " + request.origin.substr(0, 100) + ")");
  }
  if (request.content_type.rfind("application/x-www-form-urlencoded", 0) != 0) {
    return ErrorPage(400, "expected a form (application/x-www-form-urlencoded)");
  }
  if (!SameText(FormValue(request.body, "form_token"), FormToken(*holder))) {
    return ErrorPage(403,
                     "the form's token is missing or not yours: reload the page and try again");
  }
  const std::string label = FormValue(request.body, "label");
  if (label.empty()) return ErrorPage(400, "label: none given");
  const std::string actor =
      (holder->name.empty() ? std::string("an unnamed holder") : holder->name) +
      " via the dashboard";
  auto r = c.datasets->Label(id, label, actor);
  if (!r.ok()) {
    return ErrorPage(r.status().code() == StatusCode::kNotFound          ? 404
                     : r.status().code() == StatusCode::kInvalidArgument ? 400
                                                                         : 503,
                     r.status().message());
  }
  HttpPage page;
  page.status = 303;
  page.headers.emplace_back("Location", "/predictions");
  page.body = id + ": " + r->class_name() + "\n";
  return page;
}

bool IsPredictionId(const std::string& id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char ch) {
           return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
         });
}

}  // namespace

std::optional<HttpPage> DashboardPage(const DashboardContext& c, const HttpRequest& request) {
  store::Store* store = c.store;
  const int lease_seconds = c.lease_seconds;
  const std::string& full_path = request.path;
  const std::string path = full_path.substr(0, full_path.find('?'));
  const std::string query =
      full_path.find('?') == std::string::npos ? "" : full_path.substr(full_path.find('?') + 1);
  HttpPage page;
  if (request.method == "POST") {
    const std::string prefix = "/predictions/", suffix = "/label";
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string id =
          path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
      if (!IsPredictionId(id)) return ErrorPage(400, "a prediction id is 32 hex digits");
      return LabelFromForm(c, request, id);
    }
    return ErrorPage(405, "the dashboard takes POST only at /predictions/ID/label");
  }
  if (path == "/predictions") {
    const std::string model = FormValue(query, "model");
    if (!model.empty() && !IsModelName(model)) {
      return ErrorPage(400, "model name must be 1-64 letters, digits, '.', '_' or '-'");
    }
    auto predictions = store->ListPredictions(model, 200, FormValue(query, "unlabelled") == "1");
    if (!predictions.ok()) return FromStatus(predictions.status());
    std::string token;
    if (const Credential* holder = c.auth.HolderOf(request.authorization);
        holder != nullptr && RoleAllows(holder->role, kHttpLabel)) {
      token = FormToken(*holder);
    }
    page.body = RenderPredictionsPage(*predictions, model, token, "");
    return page;
  }
  if (path == "/") {
    auto sweeps = store->ListSweeps("", 50);
    if (!sweeps.ok()) return FromStatus(sweeps.status());
    std::set<std::string> seen;
    std::vector<std::pair<std::string, v1::ListVersionsResponse>> models;
    for (const auto& s : *sweeps) {
      if (!seen.insert(s.model()).second) continue;
      auto versions = store->ListVersions(s.model(), 0);
      if (versions.ok()) {
        models.emplace_back(s.model(), std::move(versions).value());
      } else if (versions.status().code() == StatusCode::kNotFound) {
        models.emplace_back(s.model(), v1::ListVersionsResponse());  // None registered yet.
      } else {
        return FromStatus(versions.status());
      }
    }
    auto workers = store->ListWorkers(3600, lease_seconds);
    if (!workers.ok()) return FromStatus(workers.status());
    page.body = RenderHomePage(*sweeps, models, *workers);
    return page;
  }
  if (path.rfind("/sweeps/", 0) == 0) {
    // /sweeps/ID, /sweeps/ID/trials.csv or /sweeps/ID/trials/TRIAL.
    const std::string rest = path.substr(8);
    const std::string id_text = rest.substr(0, rest.find('/'));
    const std::string sub = rest.size() > id_text.size() ? rest.substr(id_text.size()) : "";
    auto positive = [](const std::string& text) -> long long {
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      return text.empty() || *end != '\0' || v <= 0 ||
                     !std::isdigit(static_cast<unsigned char>(text[0]))
                 ? -1
                 : v;
    };
    const long long id = positive(id_text);
    if (id < 0) {
      return ErrorPage(400, "sweep id must be a positive integer, got \"" + id_text + "\"");
    }
    long long trial_id = 0;
    if (sub.rfind("/trials/", 0) == 0) {
      trial_id = positive(sub.substr(8));
      if (trial_id < 0) {
        return ErrorPage(400, "trial id must be a positive integer, got \"" + sub.substr(8) + "\"");
      }
    } else if (!sub.empty() && sub != "/trials.csv") {
      return std::nullopt;
    }
    auto status = store->GetSweepStatus(id);
    if (!status.ok()) return FromStatus(status.status());
    auto trials = store->ListTrials(id, 0, false);
    if (!trials.ok()) return FromStatus(trials.status());
    if (sub == "/trials.csv") {
      page.content_type = "text/csv; charset=utf-8";
      page.headers.emplace_back("Content-Disposition",
                                "attachment; filename=\"sweep-" + std::to_string(id) + ".csv\"");
      page.body = cli::TrialsCsv(*trials);  // What `sweepctl export` prints.
      return page;
    }
    if (trial_id > 0) {
      for (const auto& t : *trials) {
        if (t.trial_id() == trial_id) {
          // Its confusion matrices are read for this page alone (ListTrials leaves them out).
          v1::Trial shown = t;
          if (t.state() == "succeeded") {
            (void)store->LoadConfusion(id, trial_id, shown.mutable_result());  // None: no table.
          }
          page.body = RenderTrialPage(*status, shown, *trials);
          return page;
        }
      }
      return ErrorPage(404,
                       "sweep " + std::to_string(id) + " has no trial " + std::to_string(trial_id));
    }
    std::vector<v1::ModelVersion> versions;
    if (auto listed = store->ListVersions(status->model(), 50); listed.ok()) {
      versions.assign(listed->versions().begin(), listed->versions().end());
    } else if (listed.status().code() != StatusCode::kNotFound) {
      return FromStatus(listed.status());
    }
    page.body = RenderSweepPage(*status, *trials, versions, FormValue(query, "sort"));
    return page;
  }
  if (path.rfind("/models/", 0) == 0) {
    const std::string model = path.substr(8);
    if (!IsModelName(model)) {
      return ErrorPage(400, "model name must be 1-64 letters, digits, '.', '_' or '-'");
    }
    auto versions = store->ListVersions(model, 50);
    if (!versions.ok()) return FromStatus(versions.status());
    page.body = RenderModelPage(model, *versions);
    return page;
  }
  return std::nullopt;
}

}  // namespace sweepfarm::api
