package openapi

import (
	"encoding/json"
	"testing"
)

func TestCompleteEmbedded(t *testing.T) {
	b, err := Complete(Embedded())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Swagger string                    `json:"swagger"`
		Info    map[string]any            `json:"info"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" || doc.Info["title"] != "tda-mesh REST API" {
		t.Fatalf("swagger %q info %v", doc.Swagger, doc.Info)
	}
	for _, p := range []string{
		"/api/v1/tda/compute/vietoris-rips", "/api/v1/tda/compute/alpha-complex", "/api/v1/tda/jobs/{job_id}",
		"/api/v1/tda/jobs/{job_id}/watch", "/api/v1/tda/results/{job_id}", "/api/v1/data/upload",
		"/api/v1/data/{data_id}", "/api/v1/stream/publish", "/api/v1/stream/status",
		"/api/v1/data/upload/file", "/health", "/metrics",
		"/api/v1/tda/results/{job_id}/diagram.png", "/api/v1/tda/results/{job_id}/barcode.png",
	} {
		if doc.Paths[p] == nil {
			t.Errorf("path %s missing", p)
		}
	}
}
