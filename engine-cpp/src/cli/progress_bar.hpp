// The command line's progress bar: one line on stderr with the stage, the
// dimension, the count of the stage, the memory charged to the run, the elapsed
// and the estimated remaining time. On a terminal the line is redrawn in place
// (from half a second into the run, so short runs print nothing); otherwise
// (--progress into a file or pipe) one line per second. stdout is never touched.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <unistd.h>

#include "common/flags.hpp"
#include "tda/core/memory_budget.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/progress_model.hpp"

namespace tda::cli {

// The flags {"progress", false} and {"no-progress", false} as parsed: --no-progress
// wins over --progress; neither leaves the choice to show_progress().
inline std::optional<bool> progress_flag(const flags::Parsed& f) {
  if (f.has("no-progress")) return false;
  if (f.has("progress")) return true;
  return std::nullopt;
}

inline bool stderr_is_terminal() { return isatty(fileno(stderr)) != 0; }

// Whether a run shows the bar: as the flags say, else when stderr is a terminal.
inline bool show_progress(std::optional<bool> flag) { return flag.value_or(stderr_is_terminal()); }

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  // terminal: redraw in place; otherwise a line per second.
  // memory_limit: the run's runtime memory guard (0: accounting only)
  ProgressBar(std::FILE* out, bool terminal, const core::WorkPlan& plan, uint64_t memory_limit = 0)
      : out_(out), terminal_(terminal), budget_(memory_limit), model_(plan), start_(Clock::now()) {
    ticker_ = std::thread([this] { tick_loop(); });
  }
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // The callbacks the core reports through (the budget is unlimited: it only counts).
  core::Callbacks callbacks() {
    core::Callbacks cb;
    cb.memory = &budget_;
    cb.on_progress = [this](const core::ProgressInfo& p) {
      std::lock_guard<std::mutex> lock(mu_);
      const uint64_t held = last_ ? last_->bytes_in_use : 0;
      last_ = p;
      if (p.stage == core::Stage::Done) last_->bytes_in_use = held;  // (the memory of the run's end)
      model_.update(p, seconds());
    };
    return cb;
  }

  // Stops the ticker; a terminal's line is cleared, a file gets the final line.
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    wake_.notify_all();
    ticker_.join();
    std::lock_guard<std::mutex> lock(mu_);
    if (terminal_) {
      if (drawn_) std::fputs("\r\033[K", out_);
    } else if (last_) {
      draw_locked();
    }
    std::fflush(out_);
  }

  // The line for a report (exposed for tests).
  static std::string line(const core::ProgressInfo& p, double fraction, double elapsed, std::optional<double> eta) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth + 1e-9);
    std::string s = "[";
    for (int i = 0; i < kWidth; ++i) s += i < filled ? '#' : '-';
    char buf[256];
    std::snprintf(buf, sizeof buf, "] %5.1f%% %s", 100.0 * fraction, stage_name(p.stage));
    s += buf;
    if (p.stage == core::Stage::Reduction || p.stage == core::Stage::Assembly || p.stage == core::Stage::Collapse) {
      std::snprintf(buf, sizeof buf, " dim %d", p.dimension);
      s += buf;
    }
    if (p.columns_total > 0) {
      std::snprintf(buf, sizeof buf, " %llu/%llu", static_cast<unsigned long long>(p.columns_done),
                    static_cast<unsigned long long>(p.columns_total));
      s += buf;
    }
    s += " mem " + bytes_text(p.bytes_in_use) + " elapsed " + time_text(elapsed);
    s += eta ? " left ~" + time_text(*eta) : std::string(" left ?");
    return s;
  }

 private:
  static const char* stage_name(core::Stage s) {
    switch (s) {
      case core::Stage::Loading:
        return "loading";
      case core::Stage::Distances:
        return "distances";
      case core::Stage::Collapse:
        return "collapse";
      case core::Stage::Dim0:
        return "edges";
      case core::Stage::Assembly:
        return "assembly";
      case core::Stage::Reduction:
        return "reduction";
      case core::Stage::Done:
        return "done";
    }
    return "?";
  }
  static std::string bytes_text(uint64_t b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = static_cast<double>(b);
    int u = 0;
    while (x >= 1024 && u < 4) {
      x /= 1024;
      ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", x, units[u]);
    return buf;
  }
  static std::string time_text(double s) {
    const auto t = static_cast<long long>(s + 0.5);
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
    return buf;
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  void draw_locked() {
    const double now = seconds();
    const double f = model_.at(now);
    const std::optional<double> eta = eta_.update(f, now);
    const std::string s = line(*last_, f, now, eta);
    if (terminal_) std::fprintf(out_, "\r%s\033[K", s.c_str());
    else std::fprintf(out_, "%s\n", s.c_str());
    std::fflush(out_);
    drawn_ = true;
  }

  void tick_loop() {
    const auto period = std::chrono::milliseconds(terminal_ ? 200 : 1000);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      wake_.wait_for(lock, period, [this] { return stopped_; });
      if (stopped_) break;
      if (last_ && (!terminal_ || seconds() >= 0.5)) draw_locked();
      else if (last_) eta_.update(model_.at(seconds()), seconds());
    }
  }

  std::FILE* out_;
  bool terminal_;
  core::MemoryBudget budget_;
  std::mutex mu_;
  std::condition_variable wake_;
  core::ProgressModel model_;
  core::EtaEstimator eta_;
  std::optional<core::ProgressInfo> last_;
  Clock::time_point start_;
  bool stopped_ = false, drawn_ = false;
  std::thread ticker_;
};

}  // namespace tda::cli
