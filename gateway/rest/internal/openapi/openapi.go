// Package openapi serves the OpenAPI v2 document generated from the protos by
// protoc-gen-openapiv2 (build.sh writes it to spec/tda.swagger.json, embedded
// here), completed at start-up with what the generator cannot know: title,
// auth schemes and the hand-written endpoints.
package openapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
)

//go:embed spec/tda.swagger.json
var specFS embed.FS

// Embedded returns the generated document as built into the binary.
func Embedded() []byte {
	b, err := specFS.ReadFile("spec/tda.swagger.json")
	if err != nil {
		panic(err) // the embed directive guarantees the file
	}
	return b
}

// Complete patches a generated document (title, security, extra paths).
func Complete(raw []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	doc["info"] = map[string]any{
		"title":   "tda-mesh REST API",
		"version": "v1",
		"description": "Persistent homology as a service. REST mapping of tda.gateway.v1.TdaService " +
			"(grpc-gateway). JSON uses proto field names; 64-bit integers are strings; " +
			"streaming responses are newline-delimited JSON objects {\"result\": ...} / {\"error\": ...}.",
	}
	doc["securityDefinitions"] = map[string]any{
		"ApiKey": map[string]any{"type": "apiKey", "in": "header", "name": "x-api-key"},
		"Bearer": map[string]any{"type": "apiKey", "in": "header", "name": "Authorization",
			"description": "Bearer <token>"},
	}
	doc["security"] = []any{map[string]any{"ApiKey": []any{}}, map[string]any{"Bearer": []any{}}}

	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		paths = map[string]any{}
		doc["paths"] = paths
	}
	errResp := map[string]any{"description": "An error (google.rpc.Status).", "schema": map[string]any{"$ref": "#/definitions/rpcStatus"}}
	q := func(name, typ, desc string) map[string]any {
		return map[string]any{"name": name, "in": "query", "type": typ, "required": false, "description": desc}
	}
	paths["/api/v1/data/upload/file"] = map[string]any{
		"post": map[string]any{
			"operationId": "TdaService_UploadFile",
			"summary":     "Upload a file as the raw request body or as the part named \"file\" of a multipart/form-data body.",
			"description": "The body is streamed into UploadData in 1 MiB chunks. Parameters come from the query " +
				"string or, for multipart bodies, from form fields placed before the file part. " +
				"POST /api/v1/data/upload with a non-JSON Content-Type is handled the same way.",
			"tags":     []any{"TdaService"},
			"consumes": []any{"application/octet-stream", "multipart/form-data", "text/csv", "text/plain"},
			"produces": []any{"application/json"},
			"parameters": []any{
				q("name", "string", "Dataset name (multipart: defaults to the file name)."),
				q("format", "string", "auto, csv, tsv, whitespace, json, npy, raw_float64, raw_float32, off, ply, distance_matrix, lower_distance_matrix, upper_distance_matrix (or DATA_FORMAT_*)."),
				q("dim", "integer", "Declared dimension (required for raw formats)."),
				q("content_type", "string", "Overrides the body's Content-Type."),
				q("upload_id", "string", "Resume this upload."),
				q("resume_offset", "integer", "Offset to resume from."),
				q("total_bytes", "integer", "Expected size (defaults to Content-Length)."),
				map[string]any{"name": "file", "in": "formData", "type": "file", "required": false,
					"description": "The file (multipart/form-data)."},
			},
			"responses": map[string]any{
				"200":     map[string]any{"description": "Stored.", "schema": map[string]any{"$ref": "#/definitions/v1UploadDataResponse"}},
				"413":     map[string]any{"description": "Body larger than REST_UPLOAD_MAX_BYTES."},
				"default": errResp,
			},
		},
	}
	png := func(id, what string, height bool) map[string]any {
		params := []any{
			map[string]any{"name": "job_id", "in": "path", "type": "string", "required": true},
			q("width", "integer", "Width in SVG pixels; 0: the SVG route's default. At most 4096."),
		}
		if height {
			params = append(params, q("height", "integer", "Height in SVG pixels; 0: the width. At most 4096."))
		}
		params = append(params, q("scale", "number", "Image pixels per SVG pixel, 0.25 to 4 (default 2); lowered to keep the image within 16 megapixels."))
		return map[string]any{"get": map[string]any{
			"operationId": id,
			"summary":     what + " as PNG: the picture of the .svg route, drawn by the REST proxy at `scale` times its size.",
			"tags":        []any{"TdaService"},
			"produces":    []any{"image/png"},
			"parameters":  params,
			"responses": map[string]any{
				"200":     map[string]any{"description": "A PNG image.", "schema": map[string]any{"type": "file"}},
				"default": errResp,
			},
		}}
	}
	paths["/api/v1/tda/results/{job_id}/diagram.png"] = png("TdaService_GetResultDiagramPng", "The persistence diagram", true)
	paths["/api/v1/tda/results/{job_id}/barcode.png"] = png("TdaService_GetResultBarcodePng", "The barcode", false)
	paths["/health"] = map[string]any{
		"get": map[string]any{
			"operationId": "Health",
			"summary":     "Aggregated gRPC health of the gateway and configured services (200 SERVING / 503).",
			"produces":    []any{"application/json"},
			"security":    []any{},
			"responses": map[string]any{
				"200": map[string]any{"description": "Everything is serving."},
				"503": map[string]any{"description": "At least one component is down (listed in \"down\")."},
			},
		},
	}
	paths["/metrics"] = map[string]any{
		"get": map[string]any{
			"operationId": "Metrics",
			"summary":     "Prometheus text exposition of the REST proxy.",
			"produces":    []any{"text/plain"},
			"security":    []any{},
			"responses":   map[string]any{"200": map[string]any{"description": "Metrics."}},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// Handler serves a fixed document.
func Handler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
}
