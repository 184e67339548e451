package config

import (
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "127.0.0.1:8080" || c.GatewayAddress != "127.0.0.1:50070" || c.UploadChunkBytes != 1<<20 ||
		c.MaxMessageBytes != 64<<20 || c.HealthTimeout != 2*time.Second {
		t.Fatalf("%+v", c)
	}
}

func TestEnvAndFlags(t *testing.T) {
	c, err := Load(env(map[string]string{
		"REST_PORT": "9000", "REST_HOST": "0.0.0.0", "GATEWAY_ADDRESS": "gw:1",
	}), []string{"-port", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "0.0.0.0:0" || c.GatewayAddress != "gw:1" {
		t.Fatalf("%+v", c)
	}
}

func TestBadValues(t *testing.T) {
	if _, err := Load(env(map[string]string{"REST_PORT": "http"}), nil); err == nil {
		t.Fatal("want an error")
	}
	if _, err := Load(env(map[string]string{"REST_LOG_LEVEL": "loud"}), nil); err == nil {
		t.Fatal("want an error")
	}
}
