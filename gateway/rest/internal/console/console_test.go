package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func site() fstest.MapFS {
	return fstest.MapFS{
		"index.html":      {Data: []byte("<!doctype html><title>console</title>")},
		"assets/app.js":   {Data: []byte("console.log(1)")},
		"assets/app.css":  {Data: []byte("body{}")},
		"docs/index.html": {Data: []byte("<!doctype html><title>docs</title>")},
		".gitkeep":        {Data: nil},
	}
}

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestServesFilesWithTypesAndPolicy(t *testing.T) {
	h, err := New(site(), Features{})
	if err != nil || !h.Built() {
		t.Fatalf("New: %v built=%v", err, h.Built())
	}
	for path, want := range map[string]string{
		"/": "text/html", "/assets/app.js": "javascript", "/assets/app.css": "text/css", "/docs/": "text/html",
	} {
		res := get(t, h, path, nil)
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), want) {
			t.Errorf("%s: %d %q", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("Content-Security-Policy") != SecurityPolicy || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing", path)
		}
	}
	body, _ := io.ReadAll(get(t, h, "/docs/", nil).Body)
	if !strings.Contains(string(body), "<title>docs</title>") {
		t.Errorf("/docs/ served %q", body)
	}
}

func TestRevalidationAndMissing(t *testing.T) {
	h, _ := New(site(), Features{})
	first := get(t, h, "/assets/app.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if res := get(t, h, "/assets/app.js", map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", res.StatusCode)
	}
	for _, p := range []string{"/assets/nope.js", "/assets/../../etc/passwd", "/.gitkeep"} {
		if res := get(t, h, p, nil); res.StatusCode != 404 {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	if res := get(t, h, "/docs", nil); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/docs/" {
		t.Errorf("/docs: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestNotBuiltSaysHow(t *testing.T) {
	h, err := New(fstest.MapFS{".gitkeep": {}}, Features{})
	if err != nil || h.Built() {
		t.Fatalf("New: %v built=%v", err, h.Built())
	}
	res := get(t, h, "/", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 404 || !strings.Contains(string(body), "not part of this build") {
		t.Errorf("%d %s", res.StatusCode, body)
	}
}

func TestFeaturesAsConfig(t *testing.T) {
	for _, on := range []bool{false, true} {
		h, _ := New(site(), Features{Trace: on})
		res := get(t, h, "/assets/config.json", nil)
		body, _ := io.ReadAll(res.Body)
		want := map[bool]string{false: `{"trace":false}`, true: `{"trace":true}`}[on]
		if res.StatusCode != 200 || string(body) != want {
			t.Errorf("trace=%v: %d %s", on, res.StatusCode, body)
		}
	}
}
