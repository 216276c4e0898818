// trace_check FILE.json [FUNCTION...]: checks a uwsk-run --trace file against the Chrome
// trace-event format and uwsk's rules for it (src/nt/dbg/trace.hpp):
//  - the file is one JSON object with a "traceEvents" array;
//  - every event has a string "name" and "ph", and numbers "ts", "pid" and "tid";
//  - "X" events have a "dur" of at least 0;
//  - on every track, each "E" ends the latest open "B" of the same name and operation number,
//    and nothing is left open;
//  - every operation that ended carries a status, and on IRP operations it is a status name
//    (STATUS_...), or "not completed" for one the trace's end (exit, bug check) found in flight;
//  - every track with operations has a thread_name;
//  - each FUNCTION named on the command line begins at least one operation.
// Prints a summary; exits 1 with the first problem found.
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

int fail(const std::string &why) {
  std::fprintf(stderr, "trace_check: %s\n", why.c_str());
  return 1;
}

struct open_slice {
  std::string name;
  long long op;
  std::string irp;
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    return fail("usage: trace_check FILE.json [FUNCTION...]");
  }
  std::ifstream in(argv[1]);
  if (!in) {
    return fail(std::string("cannot open ") + argv[1]);
  }
  nlohmann::json trace;
  try {
    trace = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error &e) {
    return fail(std::string("not valid JSON: ") + e.what());
  }
  if (!trace.is_object() || !trace.contains("traceEvents") || !trace["traceEvents"].is_array()) {
    return fail("no \"traceEvents\" array in a top-level object");
  }
  std::map<long long, std::vector<open_slice>> open; // per tid
  std::set<long long> named;
  std::set<long long> used;
  std::map<std::string, int> begun;
  std::size_t index = 0;
  std::size_t operations = 0;
  std::size_t completions = 0;
  for (const auto &e : trace["traceEvents"]) {
    const std::string where = "event " + std::to_string(index++);
    if (!e.is_object()) {
      return fail(where + " is not an object");
    }
    for (const char *key : {"name", "ph"}) {
      if (!e.contains(key) || !e[key].is_string()) {
        return fail(where + " has no string \"" + key + "\": " + e.dump());
      }
    }
    for (const char *key : {"ts", "pid", "tid"}) {
      if (!e.contains(key) || !e[key].is_number()) {
        return fail(where + " has no number \"" + key + "\": " + e.dump());
      }
    }
    const std::string name = e["name"];
    const std::string ph = e["ph"];
    const long long tid = e["tid"];
    if (ph == "M") {
      if (name == "thread_name") {
        named.insert(tid);
      }
      continue;
    }
    if (ph == "X") {
      if (!e.contains("dur") || !e["dur"].is_number() || e["dur"].get<double>() < 0) {
        return fail(where + " is a complete event without a duration: " + e.dump());
      }
      continue;
    }
    if (ph == "B") {
      const auto &args = e.value("args", nlohmann::json::object());
      if (!args.contains("op") || !args["op"].is_number()) {
        return fail(where + " begins an operation without an \"op\" number: " + e.dump());
      }
      open[tid].push_back({name, args["op"].get<long long>(), args.value("irp", "0x0")});
      used.insert(tid);
      ++begun[name];
      ++operations;
      continue;
    }
    if (ph == "E") {
      auto &stack = open[tid];
      if (stack.empty()) {
        return fail(where + " ends nothing on track " + std::to_string(tid) + ": " + e.dump());
      }
      const open_slice slice = stack.back();
      stack.pop_back();
      const auto &args = e.value("args", nlohmann::json::object());
      if (name != slice.name || !args.contains("op") || args["op"] != slice.op) {
        return fail(where + " does not end the open " + slice.name + " (op " +
                    std::to_string(slice.op) + "): " + e.dump());
      }
      if (!args.contains("status") || !args["status"].is_string()) {
        return fail(where + " ends an operation without a status: " + e.dump());
      }
      const std::string status = args["status"];
      if (slice.irp != "0x0" && status != "not completed") {
        if (status.rfind("STATUS_", 0) != 0) {
          return fail(where + " completes an IRP without a status name: " + e.dump());
        }
        ++completions;
      }
      continue;
    }
    if (ph != "i" && ph != "I") {
      return fail(where + " has an unexpected phase \"" + ph + "\"");
    }
  }
  for (const auto &[tid, stack] : open) {
    if (!stack.empty()) {
      return fail("track " + std::to_string(tid) + " leaves " + stack.back().name + " (op " +
                  std::to_string(stack.back().op) + ") open");
    }
  }
  for (const long long tid : used) {
    if (named.count(tid) == 0) {
      return fail("track " + std::to_string(tid) + " has operations but no thread_name");
    }
  }
  for (int i = 2; i < argc; ++i) {
    if (begun[argv[i]] == 0) {
      return fail(std::string("no ") + argv[i] + " in the trace");
    }
  }
  std::printf("trace_check: %zu events, %zu operations (%zu IRPs completed) on %zu tracks: ok\n",
              index, operations, completions, used.size());
  return 0;
}
