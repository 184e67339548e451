#include "server/engine_service.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <new>
#include <optional>

#include "server/distance.hpp"
#include "server/vectorize.hpp"
#include "server/errors.hpp"
#include "server/input.hpp"
#include "server/log.hpp"
#include "telemetry/call_telemetry.hpp"
#include "telemetry/log_context.hpp"
#include "tda/core/collapse_estimate.hpp"
#include "tda/core/fill_in.hpp"
#include "tda/core/progress_model.hpp"
#include "tda/core/rips.hpp"
#ifdef TDA_HAVE_ALPHA
#include "tda/core/alpha.hpp"
#endif

namespace tda::server {
namespace {

namespace common = tda::common::v1;
namespace engine = tda::engine::v1;
using Clock = std::chrono::steady_clock;

constexpr auto kTickInterval = std::chrono::milliseconds(50);
// A changed progress is sent at most this often...
constexpr auto kMinProgressInterval = std::chrono::milliseconds(100);
// ...and an unchanged one (heartbeat) at least this often; with the tick this
// keeps the gap between two progress messages near 200 ms, under 250 ms.
constexpr auto kHeartbeatInterval = std::chrono::milliseconds(150);

// "ipv4:10.0.0.7:53211" -> "ipv4:10.0.0.7", "ipv6:[::1]:4000" -> "ipv6:[::1]": the caller, not the connection.
std::string caller_of(const std::string& peer) {
  const auto colon = peer.rfind(':');
  const auto first = peer.find(':');
  return colon != std::string::npos && colon != first ? peer.substr(0, colon) : peer;
}

const char* job_label(const std::string& id) { return id.empty() ? "-" : id.c_str(); }

const char* status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    default:
      return "ERROR";
  }
}

double clamp01(double x) { return std::isfinite(x) ? std::min(1.0, std::max(0.0, x)) : 0.0; }

// The share of the overall fraction kept for the input (loading, queued); the
// computation's stages share the rest (tda/core/progress_model.hpp).
constexpr double kInputShare = 0.05;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Resources of a validated job from its sizes: Alpha's estimate; for Rips what
// the input itself needs (the complex is measured once the input is there).
tda::core::Estimate estimate_job(const JobSpec& spec) {
#ifdef TDA_HAVE_ALPHA
  if (spec.is_alpha()) return tda::core::estimate_alpha(spec.n, spec.dim);
#endif
  if (spec.sparse_epsilon)
    return tda::core::estimate_sparse_rips(spec.n, spec.dim, spec.is_distance_matrix(), spec.max_dim,
                                           *spec.sparse_epsilon);
  return tda::core::estimate_rips_input(spec.n, spec.dim, spec.is_distance_matrix(), spec.storage_bytes());
}

// The bytes admission reserves: the estimate times the operator's
// --estimate-scale, at least the input storage.
uint64_t admission_bytes(const ServerConfig& config, const tda::core::Estimate& e, const JobSpec& spec) {
  const double scaled = static_cast<double>(e.memory_bytes) * config.estimate_scale;
  const uint64_t bytes = scaled >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(scaled);
  return std::max(bytes, spec.storage_bytes());
}

uint32_t effective_threads(const ServerConfig& config, uint32_t requested) {
  if (requested == 0) return config.threads;
  return std::min(requested, config.threads);
}

}  // namespace

// ---------------------------------------------------------------------------
// ComputeReactor: one Compute call. Lives until gRPC is done with it (OnDone)
// and no worker, ticker or registry still refers to it (reference count).
// ---------------------------------------------------------------------------
class ComputeReactor final : public grpc::ServerBidiReactor<engine::ComputeRequest, engine::ComputeResponse> {
 public:
  ComputeReactor(EngineContext& context, grpc::CallbackServerContext* call)
      : context_(context),
        peer_(call->peer()),
        caller_(caller_of(peer_)),
        input_idle_timeout_(std::chrono::seconds(context.config().input_idle_seconds)),
        telemetry_(call, "tda.engine.v1.EngineService/Compute") {
    if (!context_.register_call(this, caller_)) {
      // one caller may not hold every slot (idle streams included): refuse before reading
      std::lock_guard<std::recursive_mutex> lock(mu_);
      end(errors::too_many_calls(calls_per_caller_limit(context_.config())));
      return;
    }
    StartRead(&request_);
  }

  ~ComputeReactor() override { release_admission(); }

  void ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Shutdown: stop whatever this call is doing.
  void cancel() { cancelled_.store(true); }

  // Called by the ticker thread every kTickInterval.
  void tick(Clock::time_point now) {
    tda::telemetry::LogScope log_scope(telemetry_.log_context());
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (end_requested_) return;
    if (cancelled_.load() && (phase_ == Phase::AwaitSpec || phase_ == Phase::Receiving)) {
      end(cancel_status());
      return;
    }
    if ((phase_ == Phase::AwaitSpec || phase_ == Phase::Receiving) && now - last_input_at_ > input_idle_timeout_) {
      end(errors::input_stalled(static_cast<int>(input_idle_timeout_.count())));
      return;
    }
    if (phase_ == Phase::AwaitSpec) return;

    common::Progress p = current_progress();
    const bool changed = !sent_progress_ || p.stage() != last_progress_.stage() ||
                         p.dimension() != last_progress_.dimension() ||
                         p.columns_done() != last_progress_.columns_done() || p.fraction() != last_progress_.fraction();
    const auto since = now - last_progress_at_;
    if (!sent_progress_ || (changed && since >= kMinProgressInterval) || since >= kHeartbeatInterval) {
      last_progress_ = p;
      last_progress_at_ = now;
      sent_progress_ = true;
      engine::ComputeResponse response;
      *response.mutable_progress() = std::move(p);
      next_progress_ = std::move(response);  // replaces an unsent older one
      pump();
    }
  }

  void OnReadDone(bool ok) override {
    tda::telemetry::LogScope log_scope(telemetry_.log_context());
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (end_requested_) return;
    last_input_at_ = Clock::now();
    if (!ok) {  // half-close, cancellation or a broken stream
      reads_done_ = true;
      if (cancelled_.load()) {
        if (phase_ == Phase::AwaitSpec || phase_ == Phase::Receiving) end(cancel_status());
        return;
      }
      if (phase_ == Phase::AwaitSpec) {
        end(errors::invalid_argument("stream closed before a ComputeSpec",
                                     {{"spec", "the first message must carry the spec"}}));
      } else if (phase_ == Phase::Receiving) {
        end(input_->check_complete());
      }
      return;  // queued / running: the job goes on
    }

    if (phase_ == Phase::AwaitSpec) {
      if (!request_.has_spec()) {
        end(errors::invalid_argument("the first message must be a ComputeSpec",
                                     {{"spec", "missing; chunks may only follow the spec"}}));
        return;
      }
      on_spec(request_.spec());
    } else if (request_.has_spec()) {
      end(errors::invalid_argument("ComputeSpec sent twice", {{"spec", "only the first message may carry the spec"}}));
    } else if (phase_ == Phase::Receiving) {
      grpc::Status st = input_->add_chunk(request_.chunk());
      if (!st.ok()) {
        end(st);
      } else if (input_->complete()) {
        submit_job();
      }
    } else if (!request_.chunk().empty()) {
      // all announced values had arrived: anything more is an error
      end(errors::invalid_argument("too much input data",
                                   {{"chunk", "received more than the " + std::to_string(spec_.expected_values) +
                                                  " values announced by the spec"}}));
    }
    if (end_requested_) return;
    request_.Clear();
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    tda::telemetry::LogScope log_scope(telemetry_.log_context());
    std::lock_guard<std::recursive_mutex> lock(mu_);
    writing_ = false;
    if (!ok) {  // the client is gone
      cancelled_.store(true);
      next_progress_.reset();
      next_result_.reset();
      end(errors::cancelled());
    }
    pump();
  }

  void OnCancel() override { cancelled_.store(true); }

  void OnDone() override {
    telemetry_.done();
    context_.unregister_call(this, caller_);
    unref();
  }

  // Runs on a worker thread: the computation, then the call's end.
  void run_job() {
    tda::telemetry::LogScope log_scope(telemetry_.log_context());
    if (!enter_running()) return;
    if (!admit_with_data()) return;
    telemetry_.run_started();
    const auto started = Clock::now();
    grpc::Status status;
    std::optional<engine::ComputeResponse> result = compute_guarded(started, status);
    free_input();
    if (budget_) context_.memory().release(budget_->grown());  // (the reservation itself goes in finish_run)
    finish_run(status, std::move(result), started);
  }

 private:
  enum class Phase { AwaitSpec, Receiving, Queued, Running, Ended };

  // Queued -> Running, unless the call ended or was cancelled while queued
  // (then it ends here and returns false).
  bool enter_running() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (end_requested_ || cancelled_.load()) {
      free_input();
      release_memory();
      phase_ = Phase::Ended;
      end(cancel_status());
      return false;
    }
    phase_ = Phase::Running;
    return true;
  }

  // The estimate that follows the data (Rips: edges and simplices measured
  // below the threshold the core will use; Alpha in R^3: the Delaunay
  // triangulation's growth measured on samples, estimate_alpha_points).
  // The measured complex also sets the progress model's shares (work_plan_).
  tda::core::Estimate data_estimate() {
#ifdef TDA_HAVE_ALPHA
    if (spec_.is_alpha()) return tda::core::estimate_alpha_points(values64_, spec_.n, spec_.dim);
#endif
    if (spec_.is_alpha() || spec_.sparse_epsilon) return estimate_job(spec_);  // (linear size: from the sizes)
    tda::core::detail::validate_values(values_, spec_.is_distance_matrix(),
                                       spec_.is_distance_matrix() ? "distances" : "coordinates");
    const bool matrix = spec_.is_distance_matrix();
    const tda::core::ComplexProfile p =
        matrix ? tda::core::profile_lower(values_, spec_.n, spec_.max_dim, spec_.threshold)
               : tda::core::profile_points(values_, spec_.n, spec_.dim, spec_.max_dim, spec_.threshold);
    const uint32_t dim = matrix ? 0 : static_cast<uint32_t>(spec_.dim);
    const auto edges = static_cast<size_t>(p.edges);
    const bool collapse = tda::core::detail::collapse_pays(spec_.n, edges, static_cast<int>(spec_.max_dim)) &&
                          (spec_.threshold || spec_.n > tda::core::kDenseMaxPoints ||
                           tda::core::detail::collapse_pays(spec_.n, 0, static_cast<int>(spec_.max_dim)));
    work_plan_ = tda::core::rips_work_plan(spec_.n, dim, p.edges, p.simplices, static_cast<int>(spec_.max_dim),
                                           collapse, p.scanned_pairs);
    // the reduction's fill-in, measured by bounded pilot runs on subsamples
    // (fill_in.hpp), which cost up to seconds: a Compute whose figure without it
    // would still fit kFillInMaxGrowth times over is admitted either way, so it
    // reserves that figure unmeasured (the memory guard grows its budget if it
    // fills in); EstimateJob (estimate_only) always measures
    const int max_dim = static_cast<int>(spec_.max_dim);
    const tda::core::Estimate model =
        tda::core::estimate_rips_profile(p, dim, matrix, spec_.max_dim, spec_.threshold.has_value());
    if (!spec_.estimate_only &&
        static_cast<double>(admission_bytes(context_.config(), model, spec_)) * tda::core::kFillInMaxGrowth <=
            static_cast<double>(context_.memory().limit()))
      return model;
    const tda::core::FillIn fill =
        matrix ? tda::core::fill_in_lower(values_, spec_.n, max_dim, spec_.modulus, p)
               : tda::core::fill_in_points(values_, spec_.n, spec_.dim, max_dim, spec_.modulus, p);
    const tda::core::Estimate with_fill =
        tda::core::estimate_rips_profile(p, dim, matrix, spec_.max_dim, spec_.threshold.has_value(), fill.bytes);
    // the complex the reduction sees when the edges collapse (collapse_estimate.hpp):
    // it costs the collapse once more, so a Compute measures it only when the
    // figure without it would be refused; EstimateJob always measures
    if (!spec_.estimate_only && admission_bytes(context_.config(), with_fill, spec_) <= context_.memory().limit())
      return with_fill;
    const std::optional<tda::core::ComplexProfile> collapsed =
        matrix ? tda::core::collapsed_profile_lower(values_, spec_.n, max_dim, spec_.threshold, p)
               : tda::core::collapsed_profile_points(values_, spec_.n, spec_.dim, max_dim, spec_.threshold, p);
    if (!collapsed) return with_fill;
    return tda::core::estimate_rips_profile(*collapsed, dim, matrix, spec_.max_dim, spec_.threshold.has_value(),
                                            fill.bytes);
  }

  // Ends a call that did not run (refused or estimate_only) from the worker.
  bool end_before_run(grpc::Status status, std::optional<engine::ComputeResponse> message = std::nullopt) {
    free_input();
    std::lock_guard<std::recursive_mutex> lock(mu_);
    release_memory();
    phase_ = Phase::Ended;
    end(std::move(status), std::move(message));
    return false;
  }

  // Admission with the input at hand, before the computation allocates: the
  // reservation made at the spec (the input) grows to the data-following
  // estimate, or the job is refused with MEMORY_LIMIT_EXCEEDED. A spec with
  // estimate_only ends here with the estimate. False when the call ended.
  bool admit_with_data() {
    tda::core::Estimate e{};
    const uint64_t estimate_started = tda::telemetry::now_unix_nanos();
    try {
      e = data_estimate();
    } catch (const tda::core::InvalidInput& ex) {
      return end_before_run(
          errors::invalid_argument(std::string("invalid input: ") + ex.what(), {{"spec", ex.what()}}));
    } catch (const std::bad_alloc&) {
      return end_before_run(errors::out_of_memory());
    }
    const uint64_t required = admission_bytes(context_.config(), e, spec_);  // (--estimate-scale applies here too)
    const uint64_t limit = context_.memory().limit();
    telemetry_.estimated(estimate_started, required, e.seconds);
    if (spec_.estimate_only) {
      engine::ComputeResponse response;
      engine::EstimateResponse* out = response.mutable_estimate();
      out->set_memory_bytes(required);
      out->set_seconds(e.seconds);
      out->set_memory_limit_bytes(limit);
      out->set_admissible(required <= limit);
      log_line("job %s estimate: %llu B, %.3g s", job_label(spec_.job_id), static_cast<unsigned long long>(required),
               e.seconds);
      return end_before_run(grpc::Status::OK, std::move(response));
    }
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      if (required > reserved_bytes_) {
        uint64_t available = 0;
        if (!context_.memory().try_reserve(required - reserved_bytes_, &available)) {
          log_line("job %s refused after its input: estimate %llu B", job_label(spec_.job_id),
                   static_cast<unsigned long long>(required));
          return end_before_run(errors::memory_limit_exceeded(required, available + reserved_bytes_, limit));
        }
        reserved_bytes_ = required;
      }
    }
    log_line("job %s admitted with its data: reserved=%llu B est=%.3g s", job_label(spec_.job_id),
             static_cast<unsigned long long>(required), e.seconds);
    return true;
  }

  // The core's progress and cancellation hooks for this call.
  tda::core::Callbacks core_callbacks() {
    tda::core::Callbacks callbacks;
    // The runtime memory guard: the job's budget is its reservation; past it the
    // budget grows from the engine's unreserved memory, and when there is none
    // left the core stops with MemoryLimitExceeded (memory_budget.hpp).
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      budget_bytes_ = reserved_bytes_;
    }
    budget_ = std::make_unique<tda::core::MemoryBudget>(std::max<uint64_t>(budget_bytes_, 1), [this](uint64_t extra) {
      return context_.memory().try_reserve(extra, nullptr);
    });
    tda::core::MemoryBudget* budget = budget_.get();
    callbacks.memory = budget;
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      run_started_ = Clock::now();
      model_.emplace(work_plan_         ? *work_plan_
                     : spec_.is_alpha() ? tda::core::alpha_work_plan()
                                        : tda::core::uniform_work_plan(static_cast<int>(spec_.max_dim)),
                     kInputShare);
    }
    callbacks.on_progress = [this, budget](const tda::core::ProgressInfo& info) {
      tda::core::ProgressInfo real = info;
      real.bytes_in_use = budget->in_use();  // (read before mu_: the budget may take mu_'s ledger path)
      const uint64_t peak = budget->peak();
      std::lock_guard<std::recursive_mutex> lock(mu_);
      if (real.stage == tda::core::Stage::Done && core_progress_) real.bytes_in_use = core_progress_->bytes_in_use;
      model_->update(real, seconds_between(run_started_, Clock::now()));
      core_progress_ = real;
      peak_core_bytes_ = std::max(peak_core_bytes_, peak);
      telemetry_.progress(real);
    };
    callbacks.is_cancelled = [this] { return cancelled_.load(std::memory_order_relaxed); };
    return callbacks;
  }

  // The computation; a failure becomes `status` (and no result), with a log line.
  std::optional<engine::ComputeResponse> compute_guarded(Clock::time_point started, grpc::Status& status) {
    try {
      std::optional<engine::ComputeResponse> result = compute(core_callbacks(), started);
      log_done(*result);
      return result;
    } catch (const tda::core::MemoryLimitExceeded& e) {
      status = errors::memory_limit_exceeded_running(e.needed_bytes, e.allowed_bytes, context_.memory().limit());
      log_line("job %s stopped by the memory guard: needed %llu B, budget %llu B (reserved %llu B at admission)",
               job_label(spec_.job_id), static_cast<unsigned long long>(e.needed_bytes),
               static_cast<unsigned long long>(e.allowed_bytes), static_cast<unsigned long long>(budget_bytes_));
    } catch (const tda::core::Cancelled&) {
      status = cancel_status();
      log_line("job %s cancelled after %.3f s", job_label(spec_.job_id),
               std::chrono::duration<double>(Clock::now() - started).count());
    } catch (const tda::core::InvalidInput& e) {
      status = errors::invalid_argument(std::string("invalid input: ") + e.what(), {{"spec", e.what()}});
      log_line("job %s rejected by the core: %s", job_label(spec_.job_id), e.what());
    } catch (const std::bad_alloc&) {
      status = errors::out_of_memory();
      log_line("job %s failed: out of memory", job_label(spec_.job_id));
    } catch (const std::exception& e) {
      status = errors::internal();
      log_line("job %s failed: %s", job_label(spec_.job_id), e.what());
    } catch (...) {
      status = errors::internal();
      log_line("job %s failed: unknown exception", job_label(spec_.job_id));
    }
    return std::nullopt;
  }

  engine::ComputeResponse compute(const tda::core::Callbacks& callbacks, Clock::time_point started) {
#ifdef TDA_HAVE_ALPHA
    if (spec_.is_alpha()) return compute_alpha(callbacks, started);
#endif
    return compute_rips(callbacks, started);
  }

#ifdef TDA_HAVE_ALPHA
  engine::ComputeResponse compute_alpha(const tda::core::Callbacks& callbacks, Clock::time_point started) {
    tda::core::AlphaOptions alpha;
    alpha.max_dim = spec_.max_dim;
    alpha.radius = spec_.alpha_radius;
    alpha.max_alpha = spec_.max_alpha;
    alpha.modulus = spec_.modulus;
    alpha.threads = static_cast<int>(threads_);
    tda::core::AlphaResult r = tda::core::alpha_from_points(values64_, spec_.n, spec_.dim, alpha, callbacks);
    values64_.clear();
    values64_.shrink_to_fit();
    note_peak(budget_->peak());
    engine::ComputeResponse result = make_result(r.diagrams, r.betti, started);
    common::ComputeStats* stats = result.mutable_result()->mutable_stats();
    stats->set_columns_reduced(r.stats.columns_reduced);
    stats->set_duplicates_merged(r.stats.duplicates_merged);
    stats->set_threshold_used(spec_.max_alpha.value_or(std::numeric_limits<double>::infinity()));
    stats->set_threads(tda::core::alpha_detail::kParallelDelaunay && spec_.dim == 3 ? threads_ : 1);
    return result;
  }
#endif

  engine::ComputeResponse compute_rips(const tda::core::Callbacks& callbacks, Clock::time_point started) {
    tda::core::RipsOptions options;
    options.max_dim = spec_.max_dim;
    options.threshold = spec_.threshold;
    options.sparse = spec_.sparse_epsilon;
    options.modulus = spec_.modulus;
    options.threads = static_cast<int>(threads_);
    tda::core::RipsResult r =
        spec_.is_distance_matrix()
            ? tda::core::rips_from_lower_distances(std::move(values_), spec_.n, options, callbacks)
            : tda::core::rips_from_points(values_, spec_.n, spec_.dim, options, callbacks);
    values_.clear();
    values_.shrink_to_fit();
    note_peak(budget_->peak());
    engine::ComputeResponse result = make_result(r.diagrams, r.betti, started);
    common::ComputeStats* stats = result.mutable_result()->mutable_stats();
    stats->set_edges(r.stats.edges);
    stats->set_columns_reduced(r.stats.columns_reduced);
    stats->set_apparent_pairs(r.stats.apparent_pairs);
    stats->set_threshold_used(r.stats.threshold_used);
    if (r.stats.sparse_epsilon > 0) {
      common::Approximation* a = result.mutable_result()->mutable_approximation();
      a->set_method("sparse_rips");
      a->set_epsilon(r.stats.sparse_epsilon);
      a->set_interleaving_factor(1 + r.stats.sparse_epsilon);
    }
    return result;
  }

  void log_done(const engine::ComputeResponse& result) const {
    const common::ComputeStats& stats = result.result().stats();
    size_t bars = 0;
    for (const auto& d : result.result().diagrams()) bars += static_cast<size_t>(d.intervals_size());
    log_line("job %s done in %.3f s: %s n=%llu max_dim=%d bars=%zu columns_reduced=%llu", job_label(spec_.job_id),
             stats.elapsed_seconds(), spec_.is_alpha() ? "alpha" : "rips", static_cast<unsigned long long>(spec_.n),
             spec_.max_dim, bars, static_cast<unsigned long long>(stats.columns_reduced()));
  }

  void free_input() {
    values_.clear();
    values_.shrink_to_fit();
    values64_.clear();
    values64_.shrink_to_fit();
  }

  // Telemetry of the run, then the call ends with the result or the failure.
  void finish_run(const grpc::Status& status, std::optional<engine::ComputeResponse> result,
                  Clock::time_point started) {
    std::vector<size_t> bars;
    uint64_t columns = 0, peak = 0;
    if (result) {
      for (const auto& d : result->result().diagrams()) bars.push_back(static_cast<size_t>(d.intervals_size()));
      columns = result->result().stats().columns_reduced();
      peak = result->result().stats().peak_bytes();
    }
    telemetry_.run_finished(status, bars, columns, peak, std::chrono::duration<double>(Clock::now() - started).count());
    std::lock_guard<std::recursive_mutex> lock(mu_);
    release_memory();
    phase_ = Phase::Ended;
    if (result) {
      end(grpc::Status::OK, std::move(result));
    } else {
      end(status);
    }
  }

  grpc::Status cancel_status() const {
    return context_.shutting_down() ? errors::shutting_down() : errors::cancelled();
  }

  void on_spec(const engine::ComputeSpec& wire) {
    spec_.job_id = wire.job_id();  // for log lines, even when the spec is rejected
    grpc::Status st = validate_spec(wire, &spec_);
    if (!st.ok()) {
      end(st);
      return;
    }
    threads_ = effective_threads(context_.config(), spec_.requested_threads);
    telemetry_.job(spec_.job_id, spec_.is_alpha(), spec_.n, spec_.dim, spec_.max_dim, threads_);

    tda::core::Estimate estimate{};
    const uint64_t estimate_started = tda::telemetry::now_unix_nanos();
    try {
      estimate = estimate_job(spec_);
      telemetry_.estimated(estimate_started, estimate.memory_bytes, estimate.seconds);
    } catch (const tda::core::InvalidInput& e) {
      end(errors::invalid_argument(std::string("invalid compute spec: ") + e.what(), {{"spec", e.what()}}));
      return;
    }
    const uint64_t required = admission_bytes(context_.config(), estimate, spec_);

    if (context_.shutting_down()) {
      end(errors::shutting_down());
      return;
    }
    if (!context_.pool().try_acquire_slot()) {
      end(errors::engine_busy(context_.pool().workers(), context_.pool().queue_depth()));
      return;
    }
    holds_slot_ = true;
    uint64_t available = 0;
    if (!context_.memory().try_reserve(required, &available)) {
      end(errors::memory_limit_exceeded(required, available, context_.memory().limit()));
      return;
    }
    reserved_bytes_ = required;
    try {
      input_ = std::make_unique<InputAssembler>(spec_);
    } catch (const std::bad_alloc&) {
      end(errors::out_of_memory());
      return;
    }
    phase_ = Phase::Receiving;
    telemetry_.admitted(required, spec_.storage_bytes());
    log_line("job %s accepted from %s: %s %s n=%llu dim=%u max_dim=%d modulus=%d threads=%u reserved=%llu B est=%.3g s",
             job_label(spec_.job_id), peer_.c_str(), spec_.is_alpha() ? "ALPHA" : "RIPS",
             common::InputKind_Name(spec_.kind).c_str(), static_cast<unsigned long long>(spec_.n), spec_.dim,
             spec_.max_dim, spec_.modulus, threads_, static_cast<unsigned long long>(required), estimate.seconds);
    if (input_->complete()) submit_job();  // e.g. a single point given as a matrix
  }

  void submit_job() {
    values_ = input_->take_values();
    values64_ = input_->take_values64();
    input_.reset();
    phase_ = Phase::Queued;
    telemetry_.input_complete();
    holds_slot_ = false;  // the pool releases it when the task returns
    ref();
    context_.pool().submit([this] {
      run_job();
      unref();
    });
  }

  common::Progress current_progress() {
    common::Progress p;
    switch (phase_) {
      case Phase::Receiving: {
        p.set_stage(common::STAGE_LOADING);
        const double got =
            spec_.expected_values ? static_cast<double>(input_->values_received()) / spec_.expected_values : 1.0;
        p.set_fraction(kInputShare * clamp01(got));
        p.set_bytes_in_use(spec_.storage_bytes());
        break;
      }
      case Phase::Queued:
        p.set_stage(common::STAGE_QUEUED);
        p.set_fraction(kInputShare);
        p.set_bytes_in_use(spec_.storage_bytes());
        break;
      default:
        if (core_progress_) {
          const auto& c = *core_progress_;
          p.set_stage(static_cast<common::Stage>(static_cast<int>(c.stage)));
          p.set_dimension(static_cast<uint32_t>(std::max(0, c.dimension)));
          p.set_columns_done(c.columns_done);
          p.set_columns_total(c.columns_total);
          // the model's fraction, crept on between reports; the ETA from it
          const double now = seconds_between(run_started_, Clock::now());
          const double f = model_ ? model_->at(now) : kInputShare;
          p.set_fraction(f);
          p.set_bytes_in_use(c.bytes_in_use);
          p.set_elapsed_seconds(now);
          if (const std::optional<double> eta = eta_.update(f, now)) p.set_eta_seconds(*eta);
        } else {
          p.set_stage(common::STAGE_LOADING);
          p.set_fraction(kInputShare);
          p.set_bytes_in_use(spec_.storage_bytes());
        }
    }
    return p;
  }

  void note_peak(uint64_t bytes) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    peak_core_bytes_ = std::max(peak_core_bytes_, bytes);
  }

  // The response for finished diagrams; algorithm-specific statistics are
  // filled in by the caller.
  engine::ComputeResponse make_result(const std::vector<std::vector<tda::core::Interval>>& diagrams,
                                      const std::vector<uint64_t>& betti, Clock::time_point started) {
    engine::ComputeResponse response;
    common::PersistenceResult* out = response.mutable_result();
    for (size_t d = 0; d < diagrams.size(); ++d) {
      common::PersistenceDiagram* diagram = out->add_diagrams();
      diagram->set_dimension(static_cast<uint32_t>(d));
      diagram->mutable_intervals()->Reserve(static_cast<int>(diagrams[d].size()));
      for (const auto& iv : diagrams[d]) {
        common::Interval* bar = diagram->add_intervals();
        bar->set_birth(iv.birth);
        bar->set_death(iv.death);
      }
    }
    for (uint64_t b : betti) out->add_betti_numbers(b);

    uint64_t peak = 0;
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      peak = peak_core_bytes_;
    }
    // the core's own accounting when it reports one, else the process high-water mark
    peak = peak > 0 ? std::max(peak, spec_.storage_bytes()) : peak_rss_bytes();

    common::ComputeStats* stats = out->mutable_stats();
    stats->set_points(spec_.n);
    stats->set_ambient_dim(spec_.dim);
    stats->set_elapsed_seconds(std::chrono::duration<double>(Clock::now() - started).count());
    stats->set_peak_bytes(peak);
    stats->set_threads(threads_);
    return response;
  }

  // Ends the call with `status`, after `final_message` when there is one.
  // Must hold mu_. Idempotent.
  void end(grpc::Status status, std::optional<engine::ComputeResponse> final_message = std::nullopt) {
    if (end_requested_) return;
    end_requested_ = true;
    final_status_ = std::move(status);
    telemetry_.ended(final_status_);
    next_progress_.reset();
    next_result_ = std::move(final_message);
    if (phase_ == Phase::AwaitSpec || phase_ == Phase::Receiving) {
      input_.reset();
      release_admission();
      phase_ = Phase::Ended;
    } else if (phase_ == Phase::Queued || phase_ == Phase::Running) {
      cancelled_.store(true);  // ended early (bad extra data, broken stream): stop the job
    }
    if (!final_status_.ok() && final_status_.error_code() != grpc::StatusCode::CANCELLED) {
      log_line("job %s from %s ended: %s %s", job_label(spec_.job_id), peer_.c_str(),
               status_code_name(final_status_.error_code()), final_status_.error_message().c_str());
    }
    pump();
  }

  // Starts the next write, or Finish once everything is written. Must hold mu_.
  void pump() {
    if (writing_ || finish_called_) return;
    if (next_progress_ && !end_requested_) {
      out_ = std::move(*next_progress_);
      next_progress_.reset();
      writing_ = true;
      StartWrite(&out_);
      return;
    }
    if (next_result_) {
      out_ = std::move(*next_result_);
      next_result_.reset();
      writing_ = true;
      StartWrite(&out_);
      return;
    }
    if (end_requested_) {
      finish_called_ = true;
      Finish(final_status_);
    }
  }

  void release_memory() {
    if (reserved_bytes_ > 0) context_.memory().release(reserved_bytes_);
    reserved_bytes_ = 0;
  }

  void release_admission() {
    if (holds_slot_) context_.pool().release_slot();
    holds_slot_ = false;
    release_memory();
  }

  EngineContext& context_;
  const std::string peer_;
  const std::string caller_;
  const std::chrono::seconds input_idle_timeout_;
  tda::telemetry::CallTelemetry telemetry_;  // spans, metrics and log context of this call
  std::atomic<int> refs_{1};                 // gRPC's reference, dropped in OnDone
  std::atomic<bool> cancelled_{false};

  // Recursive: gRPC may run a reaction inline from a Start* call made under it.
  mutable std::recursive_mutex mu_;
  Phase phase_ = Phase::AwaitSpec;
  engine::ComputeRequest request_;
  bool reads_done_ = false;
  Clock::time_point last_input_at_ = Clock::now();

  JobSpec spec_;
  uint32_t threads_ = 1;
  std::unique_ptr<InputAssembler> input_;
  std::vector<float> values_;     // handed to the worker (Rips)
  std::vector<double> values64_;  // handed to the worker (Alpha)
  bool holds_slot_ = false;
  uint64_t reserved_bytes_ = 0;

  std::optional<tda::core::ProgressInfo> core_progress_;
  std::optional<tda::core::WorkPlan> work_plan_;   // Rips: from the measured complex (data_estimate)
  std::optional<tda::core::ProgressModel> model_;  // the overall fraction (from the run's start)
  tda::core::EtaEstimator eta_;
  Clock::time_point run_started_{};
  uint64_t peak_core_bytes_ = 0;
  std::unique_ptr<tda::core::MemoryBudget> budget_;  // the runtime memory guard of the job
  uint64_t budget_bytes_ = 0;                        // its initial size: the reservation
  common::Progress last_progress_;
  Clock::time_point last_progress_at_{};
  bool sent_progress_ = false;

  engine::ComputeResponse out_;  // the one write in flight
  bool writing_ = false;
  std::optional<engine::ComputeResponse> next_progress_;
  std::optional<engine::ComputeResponse> next_result_;
  bool end_requested_ = false;
  bool finish_called_ = false;
  grpc::Status final_status_;
};

// ---------------------------------------------------------------------------
// EngineContext
// ---------------------------------------------------------------------------
EngineContext::EngineContext(const ServerConfig& config)
    : config_(config), pool_(config.max_concurrent, config.queue_depth), memory_(config.memory_limit) {
  ticker_ = std::thread([this] { ticker_loop(); });
}

EngineContext::~EngineContext() {
  {
    std::lock_guard<std::mutex> lock(ticker_mu_);
    ticker_stop_ = true;
  }
  ticker_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  pool_.shutdown();
}

void EngineContext::begin_shutdown() {
  shutting_down_.store(true);
  std::lock_guard<std::mutex> lock(calls_mu_);
  for (ComputeReactor* call : calls_) call->cancel();
}

void EngineContext::stop_workers() { pool_.shutdown(); }

bool EngineContext::register_call(ComputeReactor* call, const std::string& caller) {
  call->ref();
  std::lock_guard<std::mutex> lock(calls_mu_);
  calls_.insert(call);
  if (shutting_down_.load()) call->cancel();
  return ++calls_per_caller_[caller] <= calls_per_caller_limit(config_);
}

void EngineContext::unregister_call(ComputeReactor* call, const std::string& caller) {
  bool erased = false;
  {
    std::lock_guard<std::mutex> lock(calls_mu_);
    erased = calls_.erase(call) > 0;
    if (erased) {
      auto it = calls_per_caller_.find(caller);
      if (it != calls_per_caller_.end() && --it->second == 0) calls_per_caller_.erase(it);
    }
  }
  if (erased) call->unref();
}

void EngineContext::ticker_loop() {
  std::vector<ComputeReactor*> snapshot;
  std::unique_lock<std::mutex> lock(ticker_mu_);
  while (!ticker_stop_) {
    ticker_cv_.wait_for(lock, kTickInterval);
    if (ticker_stop_) break;
    lock.unlock();
    snapshot.clear();
    {
      std::lock_guard<std::mutex> calls_lock(calls_mu_);
      for (ComputeReactor* call : calls_) {
        call->ref();
        snapshot.push_back(call);
      }
    }
    const auto now = Clock::now();
    for (ComputeReactor* call : snapshot) {
      call->tick(now);
      call->unref();
    }
    lock.lock();
  }
}

// ---------------------------------------------------------------------------
// EngineServiceImpl
// ---------------------------------------------------------------------------
grpc::ServerBidiReactor<engine::ComputeRequest, engine::ComputeResponse>* EngineServiceImpl::Compute(
    grpc::CallbackServerContext* context) {
  return new ComputeReactor(context_, context);
}

grpc::ServerUnaryReactor* EngineServiceImpl::Estimate(grpc::CallbackServerContext* context,
                                                      const engine::EstimateRequest* request,
                                                      engine::EstimateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // a SERVER span under the caller's (the scheduler's admission check)
  tda::telemetry::RpcSpan trace(context, "tda.engine.v1.EngineService/Estimate");
  tda::telemetry::LogScope log_scope(trace.log_context());
  const auto finish = [&](const grpc::Status& status) {
    trace.finish(status);
    reactor->Finish(status);
  };
  JobSpec spec;
  grpc::Status st = validate_spec(request->spec(), &spec);
  if (!st.ok()) {
    finish(st);
    return reactor;
  }
  try {
    const tda::core::Estimate e = estimate_job(spec);
    const uint64_t required = admission_bytes(context_.config(), e, spec);
    response->set_memory_bytes(required);
    response->set_seconds(e.seconds);
    response->set_memory_limit_bytes(context_.memory().limit());
    // whether the job fits this engine at all; momentary load is reported by
    // Compute (MEMORY_LIMIT_EXCEEDED / ENGINE_BUSY, both retryable)
    response->set_admissible(required <= context_.memory().limit());
    auto& span = trace.span();
    span.set("tda.algorithm", std::string(spec.is_alpha() ? "alpha" : "rips"));
    span.set("tda.points", static_cast<int64_t>(spec.n));
    span.set("tda.max_dim", static_cast<int64_t>(spec.max_dim));
    span.set("tda.estimate.memory_bytes", static_cast<int64_t>(required));
    span.set("tda.estimate.seconds", e.seconds);
    span.set("tda.admissible", response->admissible());
    finish(grpc::Status::OK);
  } catch (const tda::core::InvalidInput& e) {
    finish(errors::invalid_argument(std::string("invalid compute spec: ") + e.what(), {{"spec", e.what()}}));
  } catch (const std::exception& e) {
    log_line("estimate failed: %s", e.what());
    finish(errors::internal());
  }
  return reactor;
}

grpc::ServerUnaryReactor* EngineServiceImpl::GetInfo(grpc::CallbackServerContext* context,
                                                     const engine::GetInfoRequest* /*request*/,
                                                     engine::GetInfoResponse* response) {
  response->set_version(TDA_ENGINE_VERSION);
  response->add_algorithms(common::ALGORITHM_RIPS);
  if (alpha_supported()) response->add_algorithms(common::ALGORITHM_ALPHA);
  response->set_threads(context_.config().threads);
  response->set_memory_limit_bytes(context_.memory().limit());
  response->set_max_concurrent_jobs(context_.config().max_concurrent);
  *response->mutable_limits() = engine_limits(context_.config().threads, context_.memory().limit(),
                                              static_cast<uint64_t>(context_.config().max_message_bytes));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* EngineServiceImpl::DiagramDistance(grpc::CallbackServerContext* context,
                                                             const engine::DiagramDistanceRequest* request,
                                                             engine::DiagramDistanceResponse* response) {
  return diagram_distance(context_, context, request, response);
}

grpc::ServerUnaryReactor* EngineServiceImpl::Vectorize(grpc::CallbackServerContext* context,
                                                       const engine::VectorizeRequest* request,
                                                       engine::VectorizeResponse* response) {
  return vectorize(context_, context, request, response);
}

}  // namespace tda::server
