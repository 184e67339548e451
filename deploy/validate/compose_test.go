package validate

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var composeDir = filepath.Join(repoRoot, "deploy", "compose")

// loadCompose parses a compose file the way `docker compose config` does: the Compose
// specification's JSON schema (unknown keys and wrong types fail), interpolation with
// deploy/.env, normalization and consistency checks (undefined networks, volumes, services).
func loadCompose(t *testing.T, file string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(composeDir),
		cli.WithEnvFiles(filepath.Join(repoRoot, "deploy", ".env")),
		cli.WithDotEnv,
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestComposeFileIsValid(t *testing.T) {
	p, err := loadCompose(t, filepath.Join(composeDir, "docker-compose.yml"))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, s := range []string{"redis", "kafka", "kafka-init", "jaeger", "engine", "upload", "scheduler",
		"gateway", "rest", "flink-jobmanager", "flink-taskmanager"} {
		if _, ok := p.Services[s]; !ok {
			t.Errorf("service %s missing", s)
		}
	}
	// the REST proxy, not the TS gateway, answers HTTP on 8080
	rest := p.Services["rest"]
	found := false
	for _, port := range rest.Ports {
		if port.Target == 8080 {
			found = true
		}
	}
	if !found {
		t.Errorf("rest does not publish 8080: %+v", rest.Ports)
	}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.Target == 8080 && name != "rest" {
				t.Errorf("%s publishes 8080; only the REST proxy should", name)
			}
		}
		if s.Image == "" || strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
			t.Errorf("%s: image %q is not pinned to a tag", name, s.Image)
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: Dockerfile: %v", name, err)
			}
		}
	}
	// the same topics file as deploy/local (KAFKA_TOPICS_FILE of deploy/.env)
	want := filepath.Base(dotenv(t)["KAFKA_TOPICS_FILE"])
	init := p.Services["kafka-init"]
	ok := false
	for _, v := range init.Volumes {
		if v.Target == "/topics.json" {
			ok = true
			if v.Source != filepath.Join(repoRoot, "deploy", "kafka", want) {
				t.Errorf("kafka-init reads %s, deploy/local reads deploy/kafka/%s", v.Source, want)
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("kafka-init topics file: %v", err)
			}
		}
	}
	if !ok {
		t.Errorf("kafka-init mounts no /topics.json")
	}
	// scheduler balances over every engine replica: it must name the service, not one container
	if got := p.Services["scheduler"].Environment["ENGINE_ADDRESSES"]; got == nil || *got != "engine:50061" {
		t.Errorf("scheduler ENGINE_ADDRESSES = %v, want engine:50061", got)
	}
	if len(p.Services["engine"].Ports) != 0 {
		t.Errorf("engine publishes host ports: it could not be scaled")
	}
}

// The parser is strict: an unknown key or a wrong type makes the file invalid.
func TestComposeParserRejectsUnknownKeysAndWrongTypes(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(composeDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// control: the unbroken copy, loaded the same way, is valid
	ctl := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(ctl, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, ctl); err != nil {
		t.Fatalf("the unbroken copy does not load: %v", err)
	}
	cases := map[string][2]string{
		"unknown service key": {"  redis:\n    image: redis", "  redis:\n    restart_policy: always\n    image: redis"},
		"wrong type":          {"    stop_grace_period: 60s\n", "    stop_grace_period: [60]\n"},
		"unknown top-level":   {"name: tda-mesh\n", "name: tda-mesh\nservice: {}\n"},
		"undefined volume":    {"volumes: [redis-data:/data]", "volumes: [redis-dta:/data]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(string(src), c[0]) {
				t.Fatalf("the compose file no longer contains %q", c[0])
			}
			broken := strings.Replace(string(src), c[0], c[1], 1)
			// relative paths in it still resolve against deploy/compose (the working directory)
			f := filepath.Join(t.TempDir(), "docker-compose.yml")
			if err := os.WriteFile(f, []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := loadCompose(t, f); err == nil {
				t.Fatalf("a compose file with %s loaded", name)
			}
		})
	}
}

func dotenv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "deploy", ".env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Every image is multi-stage, built from pinned bases, runs as a non-root user and (except
// Flink's, whose one image runs both roles) declares a health check.
func TestDockerfiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(composeDir, "Dockerfile.*"))
	if err != nil {
		t.Fatal(err)
	}
	pinned := regexp.MustCompile(`^[a-z0-9./_-]+:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?$`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".dockerignore") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			lines := dockerfileInstructions(t, f)
			stages := map[string]bool{}
			var froms []string
			lastUser, health := "", false
			for _, l := range lines {
				fields := strings.Fields(l)
				switch strings.ToUpper(fields[0]) {
				case "FROM":
					img := fields[1]
					if len(fields) >= 4 && strings.EqualFold(fields[2], "AS") {
						stages[fields[3]] = true
					}
					froms = append(froms, img)
					if !stages[img] && !pinned.MatchString(img) {
						t.Errorf("FROM %s: not pinned to a versioned tag or digest", img)
					}
					lastUser, health = "", false
				case "COPY":
					for _, a := range fields[1:] {
						if img, ok := strings.CutPrefix(a, "--from="); ok && strings.Contains(img, ":") && !pinned.MatchString(img) {
							t.Errorf("COPY --from=%s: not pinned", img)
						}
					}
				case "USER":
					lastUser = fields[1]
				case "HEALTHCHECK":
					health = true
				}
			}
			if len(froms) < 2 {
				t.Errorf("single-stage build")
			}
			if u := strings.Split(lastUser, ":")[0]; u == "" || u == "root" || u == "0" {
				t.Errorf("the final stage runs as %q: want a non-root USER", lastUser)
			}
			if !health && !strings.HasSuffix(f, ".flink") {
				t.Errorf("no HEALTHCHECK in the final stage")
			}
		})
	}
	if n < 4 {
		t.Errorf("%d Dockerfiles, want engine, node, rest, flink", n)
	}
}

// dockerfileInstructions returns the instructions of a Dockerfile with continuation lines
// joined and comments dropped.
func dockerfileInstructions(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, line := range strings.Split(string(raw), "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "#") {
			continue
		}
		if cur == "" && trim == "" {
			continue
		}
		if strings.HasSuffix(trim, "\\") {
			cur += strings.TrimSuffix(trim, "\\") + " "
			continue
		}
		cur += trim
		if strings.TrimSpace(cur) != "" {
			out = append(out, strings.TrimSpace(cur))
		}
		cur = ""
	}
	return out
}
