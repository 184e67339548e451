package io.tdamesh.flink.engine;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tda.engine.v1.EngineServiceGrpc;

/**
 * The engines one task calls, chosen as the scheduler does: the standard gRPC health check
 * (probed every `probeMs`) and call failures mark an engine down; a call goes to the healthy
 * engine with the fewest calls outstanding from this task, ties rotating. With no engine known
 * healthy, calls go out anyway (their failure is retried with backoff).
 */
public final class EnginePool implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EnginePool.class);
  public static final int MAX_MESSAGE_BYTES = 64 << 20;

  /** One engine. */
  public static final class Engine {
    public final String address;
    public final ManagedChannel channel;
    public final EngineServiceGrpc.EngineServiceStub stub;
    final HealthGrpc.HealthFutureStub health;
    volatile boolean healthy = true;
    final AtomicInteger outstanding = new AtomicInteger();

    Engine(String address) {
      this.address = address;
      this.channel = channelTo(address);
      this.stub = EngineServiceGrpc.newStub(channel);
      this.health = HealthGrpc.newFutureStub(channel);
    }
  }

  /** The name every mesh certificate carries; the engine's certificate must name it. */
  public static final String MESH_TLS_NAME = "tda-mesh";

  /**
   * A channel to one engine: mutual TLS when TDA_TLS_CA, TDA_TLS_CERT and TDA_TLS_KEY (PEM
   * files, the key PKCS#8) are set, as on every mesh process; plaintext otherwise, said loudly.
   */
  static ManagedChannel channelTo(String address) {
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).maxInboundMessageSize(MAX_MESSAGE_BYTES);
    String ca = env("TDA_TLS_CA"), cert = env("TDA_TLS_CERT"), key = env("TDA_TLS_KEY");
    int given = (ca == null ? 0 : 1) + (cert == null ? 0 : 1) + (key == null ? 0 : 1);
    if (given == 0) {
      LOG.warn("TLS IS OFF: the channel to engine {} is plaintext; set TDA_TLS_CA, TDA_TLS_CERT and TDA_TLS_KEY", address);
      return b.usePlaintext().build();
    }
    if (given != 3) throw new IllegalArgumentException("mutual TLS needs all of TDA_TLS_CA, TDA_TLS_CERT and TDA_TLS_KEY");
    try {
      return b.sslContext(GrpcSslContexts.forClient().trustManager(new File(ca)).keyManager(new File(cert), new File(key)).build())
          .overrideAuthority(MESH_TLS_NAME).build();
    } catch (javax.net.ssl.SSLException e) {
      throw new IllegalArgumentException("cannot read the mesh's TLS files: " + e.getMessage(), e);
    }
  }

  private static String env(String name) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? null : v.trim();
  }

  private final List<Engine> engines = new ArrayList<>();
  private final ScheduledExecutorService timer;
  private final AtomicInteger rotation = new AtomicInteger();

  public EnginePool(List<String> addresses, long probeMs) {
    if (addresses.isEmpty()) throw new IllegalArgumentException("no engine addresses");
    for (String a : addresses) engines.add(new Engine(a));
    timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "engine-pool");
      t.setDaemon(true);
      return t;
    });
    timer.scheduleWithFixedDelay(this::probe, 0, probeMs, TimeUnit.MILLISECONDS);
  }

  /** The timer thread, for retries scheduled by the callers. */
  public ScheduledExecutorService scheduler() {
    return timer;
  }

  private void probe() {
    for (Engine e : engines) {
      var f = e.health.withDeadlineAfter(2, TimeUnit.SECONDS).check(HealthCheckRequest.newBuilder().setService("").build());
      f.addListener(() -> {
        boolean ok;
        try {
          ok = f.get().getStatus() == HealthCheckResponse.ServingStatus.SERVING;
        } catch (Exception ex) {
          ok = false;
        }
        if (ok != e.healthy) LOG.info("engine {} healthy={}", e.address, ok);
        e.healthy = ok;
      }, Runnable::run);
    }
  }

  /** Takes a slot on the best engine (not in `exclude` if another exists); release it after. */
  public Engine acquire(Set<String> exclude) {
    List<Engine> pool = new ArrayList<>();
    for (Engine e : engines) if (!exclude.contains(e.address)) pool.add(e);
    if (pool.isEmpty()) pool = engines;
    List<Engine> healthy = new ArrayList<>();
    for (Engine e : pool) if (e.healthy) healthy.add(e);
    List<Engine> candidates = healthy.isEmpty() ? pool : healthy;
    int start = Math.floorMod(rotation.getAndIncrement(), candidates.size());
    Engine best = candidates.get(start);
    for (int i = 1; i < candidates.size(); i++) {
      Engine e = candidates.get((start + i) % candidates.size());
      if (e.outstanding.get() < best.outstanding.get()) best = e;
    }
    best.outstanding.incrementAndGet();
    return best;
  }

  public void release(Engine e) {
    e.outstanding.decrementAndGet();
  }

  public void markUnavailable(Engine e) {
    if (e.healthy) LOG.warn("engine {} marked unavailable after a failed call", e.address);
    e.healthy = false;
  }

  @Override
  public void close() {
    timer.shutdownNow();
    for (Engine e : engines) e.channel.shutdownNow();
  }
}
