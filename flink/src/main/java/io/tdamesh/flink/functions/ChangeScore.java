package io.tdamesh.flink.functions;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.tdamesh.flink.engine.EnginePool;
import io.tdamesh.flink.engine.EngineSettings;
import io.tdamesh.flink.engine.Retry;
import io.tdamesh.flink.records.Diagram;
import io.tdamesh.flink.records.WindowDiagram;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tda.common.v1.Common.DistanceParams;
import tda.common.v1.Common.DistanceResult;
import tda.engine.v1.Engine.DiagramDistanceRequest;
import tda.engine.v1.Engine.DiagramDistanceResponse;

/**
 * The change score of a window: the bottleneck and 1-Wasserstein distances between its diagram
 * and the stream's previous one (all dimensions up to max_dim), from the engine's DiagramDistance
 * over gRPC (Flink Async I/O, the same engines, health-aware choice, deadline and retries as the
 * diagrams). An outage delays the window, as for the diagram; a refusal for good leaves the
 * window without a score (its features are still published, and no alert is raised on it).
 */
public class ChangeScore extends RichAsyncFunction<WindowDiagram, WindowDiagram> {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(ChangeScore.class);
  static final int MAX_ATTEMPTS_FOR_LIMITS = 8;
  /**
   * The engine's exact Wasserstein assignment takes at most this many finite bars per dimension
   * and side (EngineLimits.wasserstein_max_bars); past it only the bottleneck distance is asked.
   */
  static final int WASSERSTEIN_MAX_BARS = 2000;

  private final EngineSettings cfg;
  private transient EnginePool pool;
  private transient Counter retries;
  private transient Counter unscored;

  public ChangeScore(EngineSettings cfg) {
    this.cfg = cfg;
  }

  @Override
  public void open(OpenContext ctx) {
    pool = new EnginePool(cfg.addresses, cfg.probeMs);
    retries = getRuntimeContext().getMetricGroup().counter("distanceRetries");
    unscored = getRuntimeContext().getMetricGroup().counter("windowsUnscored");
  }

  @Override
  public void close() {
    if (pool != null) pool.close();
  }

  /**
   * The request comparing the previous diagram (a) with the window's (b): p = 1, L-infinity ground
   * norm; without the Wasserstein distance when a side has more finite bars than the engine takes.
   */
  static DiagramDistanceRequest request(WindowDiagram w) {
    boolean wasserstein = finiteBars(w.previous) <= WASSERSTEIN_MAX_BARS && finiteBars(w.diagram) <= WASSERSTEIN_MAX_BARS;
    return DiagramDistanceRequest.newBuilder()
        .addAllA(w.previous.toProto())
        .addAllB(w.diagram.toProto())
        .setParams(DistanceParams.newBuilder().setOrder(1).setSkipWasserstein(!wasserstein))
        .build();
  }

  /** The most finite bars of one dimension. */
  static int finiteBars(Diagram d) {
    int most = 0;
    for (int k = 0; k < d.dims(); k++) {
      int n = 0;
      for (double death : d.deaths[k]) if (Double.isFinite(death)) n++;
      most = Math.max(most, n);
    }
    return most;
  }

  @Override
  public void asyncInvoke(WindowDiagram w, ResultFuture<WindowDiagram> result) {
    if (w.failure != null || w.previous == null) {
      result.complete(List.of(w));
      return;
    }
    attempt(w, request(w), result, 1, 0, new HashSet<>());
  }

  private void attempt(WindowDiagram w, DiagramDistanceRequest req, ResultFuture<WindowDiagram> result, int attempt, int limitFailures, Set<String> failedOn) {
    EnginePool.Engine engine = pool.acquire(failedOn);
    engine.stub.withDeadlineAfter(cfg.callDeadlineMs, TimeUnit.MILLISECONDS).diagramDistance(req, new StreamObserver<>() {
      private DiagramDistanceResponse res;

      @Override
      public void onNext(DiagramDistanceResponse r) {
        res = r;
      }

      @Override
      public void onError(Throwable t) {
        pool.release(engine);
        failed(w, req, result, attempt, limitFailures, failedOn, engine, Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        pool.release(engine);
        DistanceResult d = res == null ? null : res.getResult();
        boolean wantW = !req.getParams().getSkipWasserstein();
        if (d == null || !d.hasBottleneck() || (wantW && !d.hasWasserstein())) {
          failed(w, req, result, attempt, limitFailures, failedOn, engine, Status.INTERNAL.withDescription("no distances in the answer"));
          return;
        }
        w.bottleneck = d.getBottleneck();
        w.wasserstein = wantW ? d.getWasserstein() : Double.NaN;
        result.complete(List.of(w));
      }
    });
  }

  private void failed(WindowDiagram w, DiagramDistanceRequest req, ResultFuture<WindowDiagram> result, int attempt, int limitFailures, Set<String> failedOn, EnginePool.Engine engine, Status status) {
    Status.Code code = status.getCode();
    boolean outage = code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED || code == Status.Code.CANCELLED;
    int limits = outage ? limitFailures : limitFailures + 1;
    if (code == Status.Code.INVALID_ARGUMENT && !req.getParams().getSkipWasserstein()) {
      // a limit of the Wasserstein assignment this engine has (a smaller one than ours): the bottleneck alone
      LOG.info("window {}#{}: engine {} refused the Wasserstein distance ({}), asking the bottleneck alone", w.key, w.seq, engine.address, status.getDescription());
      DiagramDistanceRequest bottleneckOnly = req.toBuilder().setParams(req.getParams().toBuilder().setSkipWasserstein(true)).build();
      attempt(w, bottleneckOnly, result, attempt + 1, limitFailures, failedOn);
      return;
    }
    if (!Retry.retryable(code) || limits >= MAX_ATTEMPTS_FOR_LIMITS) {
      LOG.warn("window {}#{}: no change score, engine {} refused the distance: {}", w.key, w.seq, engine.address, status);
      unscored.inc();
      result.complete(List.of(w));
      return;
    }
    if (outage) pool.markUnavailable(engine);
    retries.inc();
    Set<String> exclude = new HashSet<>(failedOn);
    exclude.add(engine.address);
    long wait = Retry.backoffMs(attempt, cfg.backoffMinMs, cfg.backoffMaxMs);
    pool.scheduler().schedule(() -> attempt(w, req, result, attempt + 1, limits, exclude), wait, TimeUnit.MILLISECONDS);
  }

  @Override
  public void timeout(WindowDiagram w, ResultFuture<WindowDiagram> result) {
    result.completeExceptionally(new java.util.concurrent.TimeoutException("window " + w.key + "#" + w.seq + " waited past the async timeout for its change score"));
  }
}
