// uwsk-trace-svg: draws a uwsk-run --trace .json file as an SVG timeline, one row per socket
// track (each socket's operations, from call to IRP completion, and its event callbacks), for
// documents and for a look without a trace viewer. Perfetto or chrome://tracing open the same
// file interactively.
//
//   uwsk-trace-svg TRACE.json > timeline.svg
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

// The first lane id of the trace's socket and client tracks (src/nt/dbg/trace.cpp).
constexpr long long first_lane = 0x40000000;

struct slice {
  std::string name;
  std::string status;
  double start = 0;
  double end = 0;
};

struct row {
  std::string label;
  long long sort = 0;
  std::vector<slice> slices;
  std::vector<std::pair<std::string, double>> open; // name, start
};

std::string escape(const std::string &text) {
  std::string out;
  for (const char c : text) {
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
    default:
      out += c;
    }
  }
  return out;
}

// A colour per kind of operation, so sends, receives and callbacks read apart at a glance.
const char *colour(const std::string &name) {
  if (name.find("Event") != std::string::npos) {
    return "#9b59b6";
  }
  if (name.find("Send") != std::string::npos) {
    return "#2e86de";
  }
  if (name.find("Receive") != std::string::npos) {
    return "#27ae60";
  }
  if (name.find("Accept") != std::string::npos || name.find("Connect") != std::string::npos ||
      name.find("Listen") != std::string::npos || name.find("Bind") != std::string::npos) {
    return "#e67e22";
  }
  if (name.find("Close") != std::string::npos || name.find("Disconnect") != std::string::npos) {
    return "#7f8c8d";
  }
  return "#16a085";
}

bool failed(const std::string &status) {
  return !status.empty() && status != "STATUS_SUCCESS" && status != "STATUS_PENDING" &&
         status != "STATUS_DATA_NOT_ACCEPTED";
}

// A tick step of 1, 2 or 5 times a power of ten giving about `count` ticks over `span`.
double tick_step(double span, int count) {
  const double raw = span / count;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw) {
      return m * power;
    }
  }
  return 10 * power;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: uwsk-trace-svg TRACE.json > timeline.svg\n");
    return 1;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "uwsk-trace-svg: cannot open %s\n", argv[1]);
    return 1;
  }
  nlohmann::json trace;
  try {
    trace = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception &e) {
    std::fprintf(stderr, "uwsk-trace-svg: %s is not valid JSON: %s\n", argv[1], e.what());
    return 1;
  }
  if (!trace.contains("traceEvents") || !trace["traceEvents"].is_array()) {
    std::fprintf(stderr, "uwsk-trace-svg: %s has no traceEvents array\n", argv[1]);
    return 1;
  }
  std::map<long long, row> rows;
  std::string process = "uwsk";
  double first = INFINITY;
  double last = -INFINITY;
  for (const auto &e : trace["traceEvents"]) {
    const std::string ph = e.value("ph", "");
    const long long tid = e.value("tid", 0LL);
    const std::string name = e.value("name", "");
    const auto args = e.value("args", nlohmann::json::object());
    if (ph == "M" && name == "process_name") {
      process = args.value("name", process);
    }
    if (tid < first_lane) {
      continue;
    }
    row &r = rows[tid];
    const double ts = e.value("ts", 0.0);
    if (ph == "M" && name == "thread_name") {
      r.label = args.value("name", "");
    } else if (ph == "M" && name == "thread_sort_index") {
      r.sort = args.value("sort_index", 0LL);
    } else if (ph == "B") {
      r.open.emplace_back(name, ts);
    } else if (ph == "E" && !r.open.empty()) {
      slice s{r.open.back().first, args.value("status", ""), r.open.back().second, ts};
      r.open.pop_back();
      r.slices.push_back(s);
      first = std::min(first, s.start);
      last = std::max(last, s.end);
    }
  }
  std::vector<row *> order;
  for (auto &[tid, r] : rows) {
    if (!r.slices.empty()) {
      order.push_back(&r);
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const row *a, const row *b) { return a->sort < b->sort; });
  if (order.empty()) {
    first = 0;
    last = 1;
  }
  const double span = std::max(last - first, 1.0);
  // Room for the longest track name (the font is monospaced, about 7 px a character).
  std::size_t longest = 0;
  for (const row *r : order) {
    longest = std::max(longest, r->label.size());
  }
  const int label_width = 16 + 7 * static_cast<int>(longest);
  constexpr int plot_width = 900;
  constexpr int row_height = 24;
  constexpr int top = 56;
  const int height = top + static_cast<int>(order.size()) * row_height + 40;
  const int width = label_width + plot_width + 20;
  // The time axis is cut where nothing happens for long (a driver waiting for its first client,
  // for SIGTERM): the busy stretches share the width by their length, and each idle stretch
  // longer than `idle` becomes a narrow break marked with its length.
  std::vector<std::pair<double, double>> busy; // merged [start, end] of the slices
  {
    std::vector<std::pair<double, double>> all;
    for (const row *r : order) {
      for (const slice &s : r->slices) {
        all.emplace_back(s.start, s.end);
      }
    }
    std::sort(all.begin(), all.end());
    const double idle = std::max(500.0, span / 100);
    for (const auto &[a, b] : all) {
      if (!busy.empty() && a <= busy.back().second + idle) {
        busy.back().second = std::max(busy.back().second, b);
      } else {
        busy.emplace_back(a, b);
      }
    }
    if (busy.empty()) {
      busy.emplace_back(first, last);
    }
  }
  constexpr double break_width = 28;
  double busy_total = 0;
  for (const auto &[a, b] : busy) {
    busy_total += std::max(b - a, 1.0);
  }
  const double scale =
      (plot_width - break_width * static_cast<double>(busy.size() - 1)) / busy_total;
  std::vector<double> segment_x; // where each busy stretch starts
  {
    double x = label_width;
    for (const auto &[a, b] : busy) {
      segment_x.push_back(x);
      x += std::max(b - a, 1.0) * scale + break_width;
    }
  }
  auto x_of = [&](double ts) {
    for (std::size_t i = 0; i < busy.size(); ++i) {
      if (ts <= busy[i].second || i + 1 == busy.size()) {
        return segment_x[i] + std::max(ts - busy[i].first, 0.0) * scale;
      }
    }
    return segment_x.back();
  };

  std::printf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "font-family=\"DejaVu Sans Mono, monospace\" font-size=\"11\">\n",
              width, height);
  std::printf("<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  std::printf("<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s: one row per "
              "socket track, each operation from its call to its IRP's completion (idle time cut "
              "out)</text>\n",
              escape(process).c_str());
  // The time axis, in milliseconds from the first operation: ticks within each busy stretch,
  // and a break with the idle time between stretches.
  for (std::size_t i = 0; i < busy.size(); ++i) {
    const double length = std::max(busy[i].second - busy[i].first, 1.0);
    const double segment_width = length * scale;
    const int ticks = std::max(1, static_cast<int>(segment_width / 110));
    const double step = tick_step(length, ticks);
    for (double t = std::ceil(busy[i].first / step) * step; t <= busy[i].second; t += step) {
      const double x = x_of(t);
      std::printf("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x,
                  top - 6, x, height - 30);
      std::printf("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%.4g ms"
                  "</text>\n",
                  x, top - 10, (t - first) / 1000);
    }
    if (i + 1 < busy.size()) {
      const double x = segment_x[i] + segment_width + break_width / 2;
      std::printf("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#999\" "
                  "stroke-dasharray=\"3,3\"/>\n",
                  x, top + 4, x, height - 30);
      std::printf("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#999\" "
                  "font-size=\"9\">+%.3g ms</text>\n",
                  x, height - 32, (busy[i + 1].first - busy[i].second) / 1000);
    }
  }
  int y = top;
  for (const row *r : order) {
    std::printf("<text x=\"8\" y=\"%d\">%s</text>\n", y + 16, escape(r->label).c_str());
    for (const slice &s : r->slices) {
      const double x = x_of(s.start);
      const double w = std::max(x_of(s.end) - x, 2.0);
      std::printf("<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"%s>"
                  "<title>%s %s (%.1f us)</title></rect>\n",
                  x, y + 3, w, row_height - 6, colour(s.name),
                  failed(s.status) ? " stroke=\"#c0392b\" stroke-width=\"2\"" : "",
                  escape(s.name).c_str(), escape(s.status).c_str(), s.end - s.start);
      if (w > 7.0 * static_cast<double>(s.name.size())) {
        std::printf("<text x=\"%.1f\" y=\"%d\" fill=\"white\">%s</text>\n", x + 3, y + 16,
                    escape(s.name).c_str());
      }
    }
    y += row_height;
  }
  // The legend.
  int lx = 8;
  for (const char *kind : {"WskSend", "WskReceive", "WskAccept/Connect/Bind/Listen",
                           "WskReceiveEvent (callbacks)", "WskCloseSocket/Disconnect", "other"}) {
    std::printf("<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\">%s</text>\n",
                lx, height - 22, colour(kind), lx + 16, height - 12, kind);
    lx += 40 + 7 * static_cast<int>(std::string(kind).size());
  }
  std::printf("</svg>\n");
  return 0;
}
