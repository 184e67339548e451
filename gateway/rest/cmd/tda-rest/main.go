// Command tda-rest is the REST front of tda-mesh: a grpc-gateway reverse
// proxy that serves the google.api.http annotations of
// tda.gateway.v1.TdaService and forwards to the gateway over gRPC.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"tda-mesh/gateway/rest/internal/config"
	"tda-mesh/gateway/rest/internal/console"
	"tda-mesh/gateway/rest/internal/health"
	"tda-mesh/gateway/rest/internal/metrics"
	"tda-mesh/gateway/rest/internal/openapi"
	"tda-mesh/gateway/rest/internal/proxy"
	"tda-mesh/gateway/rest/internal/telemetry"
)

func main() {
	cfg, err := config.FromProcess()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tda-rest:", err)
		os.Exit(2)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("service", "tda-rest")
	if err := run(cfg, log); err != nil {
		log.Error("exiting", "err", err.Error())
		os.Exit(1)
	}
}

func run(cfg config.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// One connection to the gateway, shared by the generated handlers
	// (RegisterTdaServiceHandlerClient: what ...FromEndpoint does, minus a
	// private connection), the upload handler and the health check.
	shutdownTracing, err := telemetry.Setup(ctx, cfg.OTLPEndpoint)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = shutdownTracing(fctx)
	}()

	conn, err := proxy.Dial(cfg.GatewayAddress, cfg.MaxMessageBytes, telemetry.DialOption())
	if err != nil {
		return fmt.Errorf("gateway %s: %w", cfg.GatewayAddress, err)
	}
	defer conn.Close()

	handler, err := newHandler(ctx, cfg, log, conn)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return err
	}
	srv := &http.Server{
		// outermost: the server span covers everything the proxy does for a request
		Handler:           telemetry.Handler(telemetry.AccessLog(log, handler)),
		ReadHeaderTimeout: 15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "gateway", cfg.GatewayAddress, "otlp", cfg.OTLPEndpoint)
	// A plain line on stdout for scripts that wait for readiness (REST_PORT=0).
	fmt.Printf("tda-rest listening on http://%s\n", ln.Addr().String())

	return serve(ctx, stop, cfg, log, srv, ln)
}

// newHandler builds the proxy: generated routes, upload, health (the gateway's
// own), OpenAPI document, console, metrics.
func newHandler(ctx context.Context, cfg config.Config, log *slog.Logger, conn *grpc.ClientConn) (http.Handler, error) {
	rawDoc := openapi.Embedded()
	if cfg.OpenAPIFile != "" {
		var err error
		if rawDoc, err = os.ReadFile(cfg.OpenAPIFile); err != nil {
			return nil, err
		}
	}
	doc, err := openapi.Complete(rawDoc)
	if err != nil {
		return nil, err
	}
	site, err := consoleHandler(cfg, log)
	if err != nil {
		return nil, err
	}
	return proxy.New(ctx, proxy.Options{
		Conn:             conn,
		Metrics:          metrics.New(),
		Health:           &health.Checker{Gateway: healthpb.NewHealthClient(conn), Timeout: cfg.HealthTimeout},
		OpenAPI:          openapi.Handler(doc),
		Console:          site,
		TraceQueryURL:    cfg.TraceQueryURL,
		UploadChunkBytes: cfg.UploadChunkBytes,
		UploadMaxBytes:   cfg.UploadMaxBytes,
		MaxBodyBytes:     cfg.MaxBodyBytes,
	})
}

// serve runs srv on ln until it fails or ctx ends (SIGTERM/SIGINT), then
// shuts down within cfg.ShutdownTimeout.
func serve(ctx context.Context, stop context.CancelFunc, cfg config.Config, log *slog.Logger, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Long-lived watch streams outlived the grace period: cut them.
		log.Warn("graceful shutdown incomplete, closing connections", "err", err.Error())
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// consoleHandler serves the embedded console, or REST_CONSOLE_DIR's, or nothing
// (REST_CONSOLE=off). A binary built without the console logs it and answers
// its routes with a 404 saying how to build it.
func consoleHandler(cfg config.Config, log *slog.Logger) (http.Handler, error) {
	if cfg.ConsoleOff {
		return nil, nil
	}
	fsys := console.Embedded()
	if cfg.ConsoleDir != "" {
		var err error
		if fsys, err = console.Dir(cfg.ConsoleDir); err != nil {
			return nil, err
		}
	}
	h, err := console.New(fsys, console.Features{Trace: cfg.TraceQueryURL != ""})
	if err != nil {
		return nil, err
	}
	if !h.Built() {
		log.Warn("web console not served", "reason", console.ErrNotBuilt.Error())
	}
	return h, nil
}
