// Package console serves the web console (the static files built from
// console/ in the repository root) at "/", "/assets/…" and the API reference
// at "/docs/". The files are embedded into the binary when build.sh found a
// built console (it copies console/dist into site/ before `go build`), or
// read from a directory given at start (REST_CONSOLE_DIR). A binary built
// without the console still builds and runs: those routes then answer 404
// with a message saying how to get it.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

//go:embed all:site
var embedded embed.FS

// Embedded returns the console files built into this binary (possibly none).
func Embedded() fs.FS {
	sub, err := fs.Sub(embedded, "site")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// Dir returns the console files of a directory, checking that it holds a console.
func Dir(dir string) (fs.FS, error) {
	fsys := os.DirFS(dir)
	if _, err := fs.Stat(fsys, "index.html"); err != nil {
		return nil, fmt.Errorf("REST_CONSOLE_DIR=%s: no index.html there (build the console with `npm run build -w console`)", dir)
	}
	return fsys, nil
}

// SecurityPolicy is the Content-Security-Policy of every console file:
// scripts and connections only to this origin (no CDN, no inline script);
// inline style attributes are allowed for the chart and Swagger UI layouts.
const SecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console. Built once: every file is read and hashed at start.
type Handler struct {
	files   map[string]file
	modTime time.Time
}

// Features tell the console which optional routes this proxy serves; they are
// served as assets/config.json.
type Features struct {
	// Trace: GET /api/v1/tda/jobs/{job_id}/trace is served (a trace store is configured).
	Trace bool `json:"trace"`
}

// New reads every file of fsys (a built console, or an empty tree).
func New(fsys fs.FS, features Features) (*Handler, error) {
	h := &Handler{files: map[string]file{}, modTime: time.Now()}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		sum := sha256.Sum256(b)
		h.files[p] = file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if h.Built() {
		b, _ := json.Marshal(features)
		sum := sha256.Sum256(b)
		h.files["assets/config.json"] = file{body: b, contentType: "application/json", etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return h, nil
}

// Built reports whether the console is present (its index.html is).
func (h *Handler) Built() bool { _, ok := h.files["index.html"]; return ok }

// ErrNotBuilt is the message of the 404 answered when no console is present.
var ErrNotBuilt = errors.New("the web console is not part of this build: build it (npm run build -w console) before gateway/rest/build.sh, or set REST_CONSOLE_DIR")

// Routes are the path patterns (grpc-gateway syntax) the console answers.
var Routes = []string{"/", "/assets/{path=**}", "/docs", "/docs/{path=**}"}

// ServeHTTP answers GET/HEAD for the console's paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/docs" {
		http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" || name == "." {
		name = "index.html"
	} else if name == "docs" && strings.HasSuffix(p, "/") {
		name = "docs/index.html"
	}
	f, ok := h.files[name]
	if !ok {
		h.notFound(w)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	// Names are not content-hashed: revalidate every time (a 304 is cheap).
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", SecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	http.ServeContent(w, r, name, h.modTime, bytes.NewReader(f.body))
}

func (h *Handler) notFound(w http.ResponseWriter) {
	msg := "no such file"
	if !h.Built() {
		msg = ErrNotBuilt.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	body, _ := json.Marshal(map[string]any{"code": 5, "message": msg, "details": []any{}})
	_, _ = w.Write(append(body, '\n'))
}
