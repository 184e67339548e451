package validate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository root (this package lives in deploy/validate).
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}()

var overlays = []string{"dev", "prod"}

type testValidator struct{ *Validator }

func (v testValidator) validate(obj []byte) error { return v.Validate(obj) }

func newValidator(t *testing.T) testValidator {
	t.Helper()
	v, err := NewValidator(filepath.Join(repoRoot, "deploy", "validate", "crds"))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.crds) < 4 {
		t.Fatalf("%d CRD versions loaded, want Kafka, KafkaNodePool, KafkaTopic, FlinkDeployment", len(v.crds))
	}
	return testValidator{v}
}

// render runs the kustomize CLI (the Go tool pinned in go.mod) on an overlay, once per run.
var renderCache sync.Map

func render(t *testing.T, overlay string) []map[string]any {
	t.Helper()
	if v, ok := renderCache.Load(overlay); ok {
		return v.([]map[string]any)
	}
	if overlay == "dev" {
		// the dev overlay's throw-away mTLS Secret is made from files (never committed)
		certs := exec.Command("bash", filepath.Join(repoRoot, "deploy", "local", "make-certs.sh"), filepath.Join(repoRoot, "deploy", "k8s", "overlays", "dev", "tls"))
		certs.Env = append(os.Environ(), "TDA_TLS_KINDS=mesh")
		if out, err := certs.CombinedOutput(); err != nil {
			t.Fatalf("make-certs.sh for the dev overlay: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("go", "tool", "kustomize", "build", filepath.Join(repoRoot, "deploy", "k8s", "overlays", overlay))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", overlay, err, stderr.String())
	}
	objs, err := splitYAML(out)
	if err != nil {
		t.Fatalf("kustomize build %s: output: %v", overlay, err)
	}
	if len(objs) == 0 {
		t.Fatalf("kustomize build %s rendered nothing", overlay)
	}
	renderCache.Store(overlay, objs)
	return objs
}

// splitYAML parses a multi-document YAML stream into objects (empty documents skipped).
func splitYAML(b []byte) ([]map[string]any, error) {
	var objs []map[string]any
	for i, doc := range bytes.Split(append([]byte("\n"), b...), []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if m != nil {
			objs = append(objs, m)
		}
	}
	return objs, nil
}

func toJSON(t *testing.T, obj map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ident(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%v %v/%v", obj["apiVersion"], obj["kind"], md["name"])
}

func byKind(objs []map[string]any, kind string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		if o["kind"] == kind {
			out[o["metadata"].(map[string]any)["name"].(string)] = o
		}
	}
	return out
}

// get walks a path of map keys and list indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// Every object of every overlay validates strictly: built-in kinds against the API types of
// k8s.io/api (unknown fields, duplicate fields and wrong types fail), custom resources against
// the CRDs' OpenAPI schemas as the API server applies them (types, enums, required fields,
// ranges, plus fields the schema does not know).
func TestOverlaysValidateStrictly(t *testing.T) {
	v := newValidator(t)
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			objs := render(t, overlay)
			kinds := map[string]int{}
			for _, obj := range objs {
				kinds[fmt.Sprint(obj["kind"])]++
				if err := v.validate(toJSON(t, obj)); err != nil {
					t.Errorf("%s: %v", ident(obj), err)
				}
				if md, _ := obj["metadata"].(map[string]any); obj["kind"] != "Namespace" && md["namespace"] != "tda-mesh" {
					t.Errorf("%s: namespace %v, want tda-mesh", ident(obj), md["namespace"])
				}
			}
			for _, k := range []string{"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
				"NetworkPolicy", "Kafka", "KafkaNodePool", "KafkaTopic", "FlinkDeployment", "PersistentVolumeClaim", "ConfigMap"} {
				if kinds[k] == 0 {
					t.Errorf("no %s rendered", k)
				}
			}
			t.Logf("%d objects validated: %v", len(objs), kinds)
		})
	}
}

// The validator rejects what the API server would: a negative test on real objects of the
// rendered prod overlay, each broken in one way.
func TestValidatorRejectsUnknownFieldsAndWrongTypes(t *testing.T) {
	v := newValidator(t)
	objs := render(t, "prod")
	find := func(kind, name string) map[string]any {
		o := byKind(objs, kind)[name]
		if o == nil {
			t.Fatalf("%s %s not rendered", kind, name)
		}
		var c map[string]any
		if err := json.Unmarshal(toJSON(t, o), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := []struct {
		name   string
		kind   string
		obj    string
		break_ func(o map[string]any)
		want   string
	}{
		{"unknown container field", "Deployment", "tda-engine", func(o map[string]any) {
			get(o, "spec", "template", "spec", "containers", 0).(map[string]any)["readinesProbes"] = map[string]any{}
		}, "readinesProbes"},
		{"replicas as a string", "Deployment", "tda-scheduler", func(o map[string]any) {
			o["spec"].(map[string]any)["replicas"] = "two"
		}, "replicas"},
		{"port as a word", "Service", "tda-engine-headless", func(o map[string]any) {
			get(o, "spec", "ports", 0).(map[string]any)["port"] = "grpc"
		}, "port"},
		{"unknown HPA field", "HorizontalPodAutoscaler", "tda-engine", func(o map[string]any) {
			o["spec"].(map[string]any)["minReplica"] = 1
		}, "minReplica"},
		{"unknown KafkaTopic field", "KafkaTopic", "tda-jobs", func(o map[string]any) {
			o["spec"].(map[string]any)["replicationFactor"] = 3
		}, "replicationFactor"},
		{"KafkaTopic partitions as a string", "KafkaTopic", "tda-jobs", func(o map[string]any) {
			o["spec"].(map[string]any)["partitions"] = "12"
		}, "partitions"},
		{"KafkaTopic zero partitions", "KafkaTopic", "tda-results", func(o map[string]any) {
			o["spec"].(map[string]any)["partitions"] = 0
		}, "partitions"},
		{"unknown Kafka listener field", "Kafka", "tda-kafka", func(o map[string]any) {
			get(o, "spec", "kafka", "listeners", 0).(map[string]any)["protocol"] = "plain"
		}, "protocol"},
		{"KafkaNodePool without roles", "KafkaNodePool", "combined", func(o map[string]any) {
			delete(o["spec"].(map[string]any), "roles")
		}, "roles"},
		{"FlinkDeployment unknown version", "FlinkDeployment", "tda-stream-features", func(o map[string]any) {
			o["spec"].(map[string]any)["flinkVersion"] = "v9_9"
		}, "flinkVersion"},
		{"FlinkDeployment unknown job field", "FlinkDeployment", "tda-stream-features", func(o map[string]any) {
			get(o, "spec", "job").(map[string]any)["entrypointClass"] = "x"
		}, "entrypointClass"},
		{"FlinkDeployment podTemplate wrong type", "FlinkDeployment", "tda-stream-features", func(o map[string]any) {
			get(o, "spec", "podTemplate", "spec", "containers", 0).(map[string]any)["env"] = "KAFKA_BROKERS=x"
		}, "env"},
		{"a kind with no schema", "ConfigMap", "tda-mesh-config", func(o map[string]any) {
			o["apiVersion"] = "example.com/v1"
		}, "no schema"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := find(c.kind, c.obj)
			if err := v.validate(toJSON(t, o)); err != nil {
				t.Fatalf("unbroken %s %s does not validate: %v", c.kind, c.obj, err)
			}
			c.break_(o)
			err := v.validate(toJSON(t, o))
			if err == nil {
				t.Fatalf("broken %s %s validated", c.kind, c.obj)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not name %q: %v", c.want, err)
			}
		})
	}
}

// The KafkaTopics of each overlay are exactly the topics file deploy/local and compose use for
// that environment: same names, partitions, replication factors and configs.
func TestKafkaTopicsEqualTopicsFiles(t *testing.T) {
	type topic struct {
		Name              string            `json:"name"`
		Partitions        int               `json:"partitions"`
		ReplicationFactor int               `json:"replication_factor"`
		Config            map[string]string `json:"config"`
	}
	for _, env := range overlays {
		t.Run(env, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "kafka", "topics."+env+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var file struct{ Topics []topic }
			if err := json.Unmarshal(raw, &file); err != nil {
				t.Fatal(err)
			}
			want := map[string]topic{}
			for _, tp := range file.Topics {
				want[tp.Name] = tp
			}
			got := map[string]topic{}
			for _, kt := range byKind(render(t, env), "KafkaTopic") {
				spec := kt["spec"].(map[string]any)
				name, _ := spec["topicName"].(string)
				if name == "" {
					name = kt["metadata"].(map[string]any)["name"].(string)
				}
				cfg := map[string]string{}
				for k, v := range spec["config"].(map[string]any) {
					cfg[k] = fmt.Sprint(v)
				}
				if c := get(kt, "metadata", "labels", "strimzi.io/cluster"); c != "tda-kafka" {
					t.Errorf("KafkaTopic %s: strimzi.io/cluster %v, want the Kafka of the manifests (tda-kafka)", name, c)
				}
				got[name] = topic{name, int(spec["partitions"].(float64)), int(spec["replicas"].(float64)), cfg}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("KafkaTopics differ from topics.%s.json (rerun node deploy/k8s/gen-kafka-topics.js):\n manifests: %+v\n file:      %+v", env, got, want)
			}
			if env == "prod" {
				for _, tp := range got {
					if tp.Partitions != 12 || tp.ReplicationFactor != 3 || tp.Config["min.insync.replicas"] != "2" {
						t.Errorf("prod topic %s: %d partitions, RF %d, min ISR %s; the plan is 12 / 3 / 2",
							tp.Name, tp.Partitions, tp.ReplicationFactor, tp.Config["min.insync.replicas"])
					}
				}
				kafka := byKind(render(t, env), "Kafka")["tda-kafka"]
				if r := get(byKind(render(t, env), "KafkaNodePool")["combined"], "spec", "replicas"); r.(float64) < 3 {
					t.Errorf("prod Kafka has %v brokers: RF 3 needs at least 3", r)
				}
				if mi := get(kafka, "spec", "kafka", "config", "min.insync.replicas"); fmt.Sprint(mi) != "2" {
					t.Errorf("prod broker min.insync.replicas %v, want 2", mi)
				}
			}
		})
	}
}

// What the deployment promises, checked on the rendered overlays.
func TestManifestsShape(t *testing.T) {
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			objs := render(t, overlay)
			deps := byKind(objs, "Deployment")
			want := []string{"tda-engine", "tda-upload", "tda-scheduler", "tda-gateway", "tda-rest", "tda-jaeger"}
			for _, n := range want {
				if deps[n] == nil {
					t.Errorf("Deployment %s missing", n)
				}
			}
			pdbs := map[string]bool{}
			for _, p := range byKind(objs, "PodDisruptionBudget") {
				pdbs[fmt.Sprint(get(p, "spec", "selector", "matchLabels", "app.kubernetes.io/name"))] = true
			}
			secretRefs := map[string]bool{}
			for name, d := range deps {
				pod := get(d, "spec", "template", "spec").(map[string]any)
				if get(pod, "securityContext", "runAsNonRoot") != true {
					t.Errorf("%s: pods must run as non-root", name)
				}
				for i := range pod["containers"].([]any) {
					c := get(pod, "containers", i).(map[string]any)
					for _, r := range []string{"requests", "limits"} {
						for _, res := range []string{"cpu", "memory"} {
							if get(c, "resources", r, res) == nil {
								t.Errorf("%s/%s: no %s.%s", name, c["name"], r, res)
							}
						}
					}
					if c["readinessProbe"] == nil || c["livenessProbe"] == nil {
						t.Errorf("%s/%s: readiness and liveness probes are required", name, c["name"])
					}
					// the gRPC servers are probed with gRPC health: kubelet's own probe, or, on the
					// mesh-internal ports that require a client certificate, grpc-health-probe over mTLS
					if p := get(c, "ports", 0, "name"); p == "grpc" {
						for _, probe := range []string{"readinessProbe", "livenessProbe"} {
							internal := name == "tda-engine" || name == "tda-upload" || name == "tda-scheduler"
							cmd := fmt.Sprint(get(c, probe, "exec", "command"))
							if internal && !(strings.HasPrefix(cmd, "[grpc-health-probe ") && strings.Contains(cmd, " -tls ") && strings.Contains(cmd, "-tls-client-cert=/etc/tda-mesh/tls/tls.crt")) {
								t.Errorf("%s/%s: %s must be grpc-health-probe with the pod's mesh certificate, is %v", name, c["name"], probe, get(c, probe))
							}
							if !internal && get(c, probe, "grpc") == nil {
								t.Errorf("%s/%s: a gRPC server must be probed with grpc health", name, c["name"])
							}
						}
					}
					for _, e := range asList(c["env"]) {
						if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
							if get(ref, "optional") == true {
								t.Errorf("%s: Secret %v is optional; it must be required", name, get(ref, "name"))
							}
							secretRefs[baseName(fmt.Sprint(get(ref, "name")))] = true
						}
					}
				}
				for _, vol := range asList(pod["volumes"]) {
					if s := get(vol, "secret"); s != nil {
						if get(s, "optional") == true {
							t.Errorf("%s: Secret volume %v is optional; it must be required", name, get(s, "secretName"))
						}
						secretRefs[baseName(fmt.Sprint(get(s, "secretName")))] = true
					}
				}
				if name != "tda-jaeger" && !pdbs[name] {
					t.Errorf("%s: no PodDisruptionBudget", name)
				}
			}
			for _, s := range []string{"tda-gateway-auth", "tda-mtls"} {
				if !secretRefs[s] {
					t.Errorf("no pod requires Secret %s", s)
				}
			}
			secrets := byKind(objs, "Secret")
			if overlay == "prod" && len(secrets) != 0 {
				t.Errorf("prod must not carry secret values (%d Secrets rendered)", len(secrets))
			}
			hpas := map[string]bool{}
			for _, h := range byKind(objs, "HorizontalPodAutoscaler") {
				hpas[fmt.Sprint(get(h, "spec", "scaleTargetRef", "name"))] = true
			}
			if !hpas["tda-engine"] || !hpas["tda-scheduler"] {
				t.Errorf("HPAs for engines and schedulers required, have %v", hpas)
			}
			// HTTP 8080 is the REST proxy's (the TS gateway speaks only gRPC)
			for name, svc := range byKind(objs, "Service") {
				for _, p := range asList(get(svc, "spec", "ports")) {
					if get(p, "port") == float64(8080) && name != "tda-rest" {
						t.Errorf("Service %s publishes 8080; only tda-rest should", name)
					}
				}
			}
			if byKind(objs, "Service")["tda-rest"] == nil {
				t.Errorf("no Service for the REST proxy")
			}
			headless := byKind(objs, "Service")["tda-engine-headless"]
			if get(headless, "spec", "clusterIP") != "None" {
				t.Errorf("tda-engine-headless must be headless")
			}
			cm := byKind(objs, "ConfigMap")["tda-mesh-config"]
			if !strings.HasPrefix(fmt.Sprint(get(cm, "data", "ENGINE_ADDRESSES")), "tda-engine-headless:") {
				t.Errorf("ENGINE_ADDRESSES %v must name the headless Service", get(cm, "data", "ENGINE_ADDRESSES"))
			}
			// mutual TLS: the mesh processes read the mounted Secret tda-mtls
			for k, v := range map[string]string{"TDA_TLS_CA": "ca.crt", "TDA_TLS_CERT": "tls.crt", "TDA_TLS_KEY": "tls.key"} {
				if got := fmt.Sprint(get(cm, "data", k)); got != "/etc/tda-mesh/tls/"+v {
					t.Errorf("ConfigMap %s = %s, want /etc/tda-mesh/tls/%s", k, got, v)
				}
			}
			for _, n := range []string{"tda-engine", "tda-upload", "tda-scheduler", "tda-gateway"} {
				if !mountsSecret(deps[n], "tda-mtls", "/etc/tda-mesh/tls") {
					t.Errorf("%s does not mount Secret tda-mtls at /etc/tda-mesh/tls", n)
				}
			}
			if overlay == "dev" {
				sec := byKind(objs, "Secret")
				for name, s := range sec {
					if baseName(name) != "tda-mtls" {
						continue
					}
					for _, key := range []string{"ca.crt", "tls.crt", "tls.key"} {
						raw, _ := base64.StdEncoding.DecodeString(fmt.Sprint(get(s, "data", key)))
						if !strings.Contains(string(raw), "-----BEGIN ") {
							t.Errorf("dev Secret tda-mtls: %s is not PEM", key)
						}
					}
				}
			}
			pvc := byKind(objs, "PersistentVolumeClaim")["tda-datasets"]
			modes := fmt.Sprint(get(pvc, "spec", "accessModes"))
			up := get(deps["tda-upload"], "spec", "replicas").(float64)
			if up > 1 && !strings.Contains(modes, "ReadWriteMany") {
				t.Errorf("%v upload replicas need a ReadWriteMany volume, have %s", up, modes)
			}
			denyAll := false
			for _, np := range byKind(objs, "NetworkPolicy") {
				if len(get(np, "spec", "podSelector").(map[string]any)) == 0 && get(np, "spec", "ingress") == nil {
					denyAll = true
				}
			}
			if !denyAll {
				t.Errorf("no default-deny ingress NetworkPolicy")
			}
		})
	}
}

// mountsSecret: the Deployment's first container mounts, at path, a volume of Secret name.
func mountsSecret(d map[string]any, name, path string) bool {
	pod := get(d, "spec", "template", "spec")
	vols := map[string]bool{}
	for _, v := range asList(get(pod, "volumes")) {
		if baseName(fmt.Sprint(get(v, "secret", "secretName"))) == name {
			vols[fmt.Sprint(get(v, "name"))] = true
		}
	}
	for _, m := range asList(get(pod, "containers", 0, "volumeMounts")) {
		if get(m, "mountPath") == path && vols[fmt.Sprint(get(m, "name"))] {
			return true
		}
	}
	return false
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// baseName strips the hash suffix kustomize's secretGenerator adds (dev overlay).
func baseName(name string) string {
	for _, s := range []string{"tda-gateway-auth", "tda-mtls"} {
		if strings.HasPrefix(name, s) {
			return s
		}
	}
	return name
}
