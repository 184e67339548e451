package upload

import (
	"net/url"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	uploadv1 "tda-mesh/gateway/rest/gen/tda/upload/v1"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]uploadv1.DataFormat{
		"csv": uploadv1.DataFormat_DATA_FORMAT_CSV, "CSV": uploadv1.DataFormat_DATA_FORMAT_CSV,
		"raw-float64": uploadv1.DataFormat_DATA_FORMAT_RAW_FLOAT64, "raw_float32": uploadv1.DataFormat_DATA_FORMAT_RAW_FLOAT32,
		"DATA_FORMAT_NPY": uploadv1.DataFormat_DATA_FORMAT_NPY, "1": uploadv1.DataFormat_DATA_FORMAT_AUTO,
		" lower_distance_matrix ": uploadv1.DataFormat_DATA_FORMAT_LOWER_DISTANCE_MATRIX,
	} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"xls", "99", ""} {
		if _, err := ParseFormat(in); err == nil {
			t.Errorf("ParseFormat(%q) should fail", in)
		}
	}
}

func TestHeaderFromValues(t *testing.T) {
	q, _ := url.ParseQuery("name=a&format=tsv&dim=4&upload_id=u&resume_offset=10&total_bytes=99&content_type=text/plain")
	h, err := headerFromValues(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "a" || h.Format != uploadv1.DataFormat_DATA_FORMAT_TSV || h.Dim != 4 || h.UploadId != "u" ||
		h.ResumeOffset != 10 || h.TotalBytes != 99 || h.ContentType != "text/plain" {
		t.Fatalf("%v", h)
	}
	// Fields already set (query string) win over later sources (form fields).
	h2, err := headerFromValues(url.Values{"name": {"b"}, "dim": {"2"}}, h)
	if err != nil || h2.Name != "a" || h2.Dim != 4 {
		t.Fatalf("%v %v", h2, err)
	}
	_, err = headerFromValues(url.Values{"dim": {"4294967296"}, "format": {"nope"}}, nil)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("err = %v", err)
	}
}
