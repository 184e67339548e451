// Package config reads the REST proxy's settings once, from the environment
// (deploy/.env documents the shared defaults) with optional flag overrides.
package config

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything tda-rest needs to run.
type Config struct {
	Host string // REST_HOST
	Port int    // REST_PORT (0 picks a free port)

	// GATEWAY_ADDRESS: the TdaService gRPC server (TS gateway), the only
	// service the proxy talks to (also for /health: the gateway reports its
	// own dependencies).
	GatewayAddress string

	UploadChunkBytes int   // REST_UPLOAD_CHUNK_BYTES: bytes per UploadData chunk message
	UploadMaxBytes   int64 // REST_UPLOAD_MAX_BYTES: 0 = no cap here (the upload service enforces its own)
	MaxMessageBytes  int   // REST_GRPC_MAX_MESSAGE_BYTES: gRPC send/receive limit
	MaxBodyBytes     int64 // REST_MAX_BODY_BYTES: cap on non-upload request bodies

	HealthTimeout   time.Duration // REST_HEALTH_TIMEOUT_MS
	ShutdownTimeout time.Duration // REST_SHUTDOWN_TIMEOUT_MS
	OpenAPIFile     string        // REST_OPENAPI_FILE: serve this file instead of the embedded document
	ConsoleDir      string        // REST_CONSOLE_DIR: serve the web console from this directory instead of the embedded one
	ConsoleOff      bool          // REST_CONSOLE=off: do not serve the web console at all
	TraceQueryURL   string        // REST_TRACE_QUERY_URL: the trace store's query API (Jaeger HTTP), for GET …/jobs/{id}/trace
	LogLevel        string        // REST_LOG_LEVEL: debug | info | warn | error
	OTLPEndpoint    string        // OTEL_EXPORTER_OTLP_ENDPOINT: export spans over OTLP/gRPC (blank: propagate only)
}

// Addr is the host:port the HTTP server listens on.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// Load reads the environment, then applies command-line flags given in args.
func Load(getenv func(string) string, args []string) (Config, error) {
	var errs []string
	str := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	num := func(key string, def, lo, hi int64) int64 {
		v := strings.TrimSpace(getenv(key))
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Sprintf("%s=%q: want an integer in [%d, %d]", key, v, lo, hi))
			return def
		}
		return n
	}

	c := Config{
		Host:             str("REST_HOST", "127.0.0.1"),
		Port:             int(num("REST_PORT", 8080, 0, 65535)),
		GatewayAddress:   str("GATEWAY_ADDRESS", "127.0.0.1:50070"),
		UploadChunkBytes: int(num("REST_UPLOAD_CHUNK_BYTES", 1<<20, 4<<10, 16<<20)),
		UploadMaxBytes:   num("REST_UPLOAD_MAX_BYTES", 0, 0, 1<<50),
		MaxMessageBytes:  int(num("REST_GRPC_MAX_MESSAGE_BYTES", 64<<20, 4<<20, 1<<30)),
		MaxBodyBytes:     num("REST_MAX_BODY_BYTES", 64<<20, 1<<10, 1<<34),
		HealthTimeout:    time.Duration(num("REST_HEALTH_TIMEOUT_MS", 2000, 50, 60000)) * time.Millisecond,
		ShutdownTimeout:  time.Duration(num("REST_SHUTDOWN_TIMEOUT_MS", 10000, 0, 300000)) * time.Millisecond,
		OpenAPIFile:      str("REST_OPENAPI_FILE", ""),
		ConsoleDir:       str("REST_CONSOLE_DIR", ""),
		TraceQueryURL:    strings.TrimRight(str("REST_TRACE_QUERY_URL", ""), "/"),
		LogLevel:         strings.ToLower(str("REST_LOG_LEVEL", "info")),
		OTLPEndpoint:     str("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
	}

	fs := flag.NewFlagSet("tda-rest", flag.ContinueOnError)
	fs.StringVar(&c.Host, "host", c.Host, "listen host (REST_HOST)")
	fs.IntVar(&c.Port, "port", c.Port, "listen port, 0 = any free port (REST_PORT)")
	fs.StringVar(&c.GatewayAddress, "gateway", c.GatewayAddress, "TdaService gRPC address (GATEWAY_ADDRESS)")
	fs.StringVar(&c.ConsoleDir, "console-dir", c.ConsoleDir, "serve the web console from this directory (REST_CONSOLE_DIR)")
	fs.StringVar(&c.OpenAPIFile, "openapi", c.OpenAPIFile, "serve this OpenAPI file instead of the embedded one (REST_OPENAPI_FILE)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Sprintf("port %d out of range", c.Port))
	}
	if c.GatewayAddress == "" {
		errs = append(errs, "GATEWAY_ADDRESS must not be empty")
	}
	if c.TraceQueryURL != "" {
		if u, err := url.Parse(c.TraceQueryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Sprintf("REST_TRACE_QUERY_URL=%q: want an http(s) URL such as http://127.0.0.1:16686", c.TraceQueryURL))
		}
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: want an http(s) URL such as http://127.0.0.1:4317", c.OTLPEndpoint))
		}
	}
	switch v := strings.ToLower(str("REST_CONSOLE", "on")); v {
	case "on", "true", "1":
	case "off", "false", "0":
		c.ConsoleOff = true
	default:
		errs = append(errs, fmt.Sprintf("REST_CONSOLE=%q: want on or off", v))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("REST_LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// FromProcess is Load over the real environment and os.Args.
func FromProcess() (Config, error) { return Load(os.Getenv, os.Args[1:]) }
