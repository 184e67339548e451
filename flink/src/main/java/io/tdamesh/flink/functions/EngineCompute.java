package io.tdamesh.flink.functions;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.tdamesh.flink.engine.EnginePool;
import io.tdamesh.flink.engine.EngineSettings;
import io.tdamesh.flink.engine.Retry;
import io.tdamesh.flink.records.Diagram;
import io.tdamesh.flink.records.WindowDiagram;
import io.tdamesh.flink.records.WindowPoints;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
import tda.common.v1.Common.Algorithm;
import tda.common.v1.Common.ComputeParams;
import tda.common.v1.Common.InputKind;
import tda.common.v1.Common.PersistenceResult;
import tda.common.v1.Common.ValueEncoding;
import tda.engine.v1.Engine.ComputeRequest;
import tda.engine.v1.Engine.ComputeResponse;
import tda.engine.v1.Engine.ComputeSpec;

/**
 * The persistence diagram of a window, from an engine over gRPC (Flink Async I/O). Each call has
 * a deadline; a failed call is retried on the next best engine with exponential backoff: an
 * engine outage delays windows and loses none. An engine that refuses the window for good
 * (invalid input, or a limit it keeps hitting) yields a window marked failed (reported on
 * tda_errors), so one bad window never blocks the stream.
 */
public class EngineCompute extends RichAsyncFunction<WindowPoints, WindowDiagram> {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(EngineCompute.class);
  /** Attempts for failures that may be the window's own (limits, internal errors). */
  static final int MAX_ATTEMPTS_FOR_LIMITS = 8;
  static final int CHUNK_BYTES = 1 << 20;

  private final EngineSettings cfg;
  private transient EnginePool pool;
  private transient Counter retries;

  public EngineCompute(EngineSettings cfg) {
    this.cfg = cfg;
  }

  @Override
  public void open(OpenContext ctx) {
    pool = new EnginePool(cfg.addresses, cfg.probeMs);
    retries = getRuntimeContext().getMetricGroup().counter("engineRetries");
  }

  @Override
  public void close() {
    if (pool != null) pool.close();
  }

  @Override
  public void asyncInvoke(WindowPoints w, ResultFuture<WindowDiagram> result) {
    attempt(w, result, 1, 0, new HashSet<>());
  }

  private void attempt(WindowPoints w, ResultFuture<WindowDiagram> result, int attempt, int limitFailures, Set<String> failedOn) {
    EnginePool.Engine engine = pool.acquire(failedOn);
    long started = System.nanoTime();
    StreamObserver<ComputeRequest> requests = engine.stub.withDeadlineAfter(cfg.callDeadlineMs, TimeUnit.MILLISECONDS)
        .compute(new StreamObserver<>() {
          private PersistenceResult res;

          @Override
          public void onNext(ComputeResponse r) {
            if (r.hasResult()) res = r.getResult();
          }

          @Override
          public void onError(Throwable t) {
            pool.release(engine);
            failed(w, result, attempt, limitFailures, failedOn, engine, Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            pool.release(engine);
            if (res == null) {
              failed(w, result, attempt, limitFailures, failedOn, engine, Status.INTERNAL.withDescription("no result"));
              return;
            }
            WindowDiagram d = WindowDiagram.of(w);
            d.diagram = Diagram.fromResult(res, w.settings.maxDim);
            d.engineSeconds = (System.nanoTime() - started) / 1e9;
            result.complete(List.of(d));
          }
        });
    requests.onNext(ComputeRequest.newBuilder().setSpec(spec(w)).build());
    ByteString all = encode(w.coords);
    for (int at = 0; at < all.size(); at += CHUNK_BYTES) {
      requests.onNext(ComputeRequest.newBuilder().setChunk(all.substring(at, Math.min(all.size(), at + CHUNK_BYTES))).build());
    }
    requests.onCompleted();
  }

  private void failed(WindowPoints w, ResultFuture<WindowDiagram> result, int attempt, int limitFailures, Set<String> failedOn, EnginePool.Engine engine, Status status) {
    Status.Code code = status.getCode();
    boolean outage = code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED || code == Status.Code.CANCELLED;
    int limits = outage ? limitFailures : limitFailures + 1;
    if (!Retry.retryable(code) || limits >= MAX_ATTEMPTS_FOR_LIMITS) {
      LOG.warn("window {}#{} refused by engine {}: {}", w.key, w.seq, engine.address, status);
      WindowDiagram d = WindowDiagram.of(w);
      d.failure = code + ": " + (status.getDescription() == null ? "engine refused the window" : status.getDescription());
      result.complete(List.of(d));
      return;
    }
    if (outage) pool.markUnavailable(engine);
    retries.inc();
    Set<String> exclude = new HashSet<>(failedOn);
    exclude.add(engine.address);
    long wait = Retry.backoffMs(attempt, cfg.backoffMinMs, cfg.backoffMaxMs);
    LOG.debug("window {}#{}: engine {} said {}, retry {} in {} ms", w.key, w.seq, engine.address, code, attempt, wait);
    pool.scheduler().schedule(() -> attempt(w, result, attempt + 1, limits, exclude), wait, TimeUnit.MILLISECONDS);
  }

  private ComputeSpec spec(WindowPoints w) {
    ComputeParams.Builder p = ComputeParams.newBuilder().setAlgorithm(Algorithm.ALGORITHM_RIPS).setMaxDim(w.settings.maxDim).setThreads(cfg.threads);
    if (!Double.isNaN(w.settings.threshold)) p.setThreshold(w.settings.threshold);
    return ComputeSpec.newBuilder()
        .setParams(p)
        .setInputKind(InputKind.INPUT_KIND_POINT_CLOUD)
        .setEncoding(ValueEncoding.VALUE_ENCODING_FLOAT64)
        .setN(w.count())
        .setDim(w.dim)
        .setJobId(w.key + "#" + w.seq)
        .build();
  }

  static ByteString encode(double[] coords) {
    ByteBuffer buf = ByteBuffer.allocate(coords.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (double v : coords) buf.putDouble(v);
    buf.flip();
    return ByteString.copyFrom(buf);
  }

  @Override
  public void timeout(WindowPoints w, ResultFuture<WindowDiagram> result) {
    // The operator's timeout is far beyond any retry schedule: reaching it means the engines
    // have been gone that long. Failing the task restarts the job from its last checkpoint,
    // which re-sends this window: still nothing lost.
    result.completeExceptionally(new java.util.concurrent.TimeoutException("window " + w.key + "#" + w.seq + " waited past the async timeout"));
  }
}
