package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"integrations/internal/storetest"
)

// TestGitBookDev runs `gitbook dev` from GitBook's own CLI (npm @gitbook/cli)
// on testdata/runtime-integration against this server: the CLI bundles the
// integration, opens a tunnel, serves it with miniflare and turns development
// mode on; then the server's events reach the integration through the
// tunnel, and its handlers call the API back.
//
// The tunnel is testdata/cloudflared, a stand-in for cloudflared that
// terminates HTTPS on 127.0.0.1 with a certificate made here, which the
// server trusts through SSL_CERT_FILE. The CLI runs it from the folder of
// its own script, so the test runs a copy of the CLI's script (dist/cli.js,
// one bundled file) from a folder of its own that holds the stand-in, with
// NODE_PATH pointing at node_modules for the CLI's two external
// dependencies (esbuild and miniflare); node_modules stays untouched.
func TestGitBookDev(t *testing.T) {
	t.Parallel()
	installNodeModules(t)
	storetest.EachDatabase(t, func(t *testing.T, database string) {
		t.Parallel()
		gitBookDev(t, database)
	})
}

func gitBookDev(t *testing.T, database string) {
	rec := newRecorder(t)
	cert, key := selfSignedCert(t)

	s := Start(t, bin, func(addr string) Command {
		c := Flags(database, "--admin-token", adminToken)(addr)
		// Go's crypto/x509 reads the trusted roots from there on Linux.
		c.Env = []string{"SSL_CERT_FILE=" + cert}
		return c
	})
	alice := s.CreateUser(t, adminToken, "Alice", "alice@example.com")
	org := s.CreateOrg(t, alice.Token, "Acme")
	space := s.CreateSpace(t, alice.Token, org, "Handbook")

	cli := cliCopy(t)
	env := []string{
		"XDG_CONFIG_HOME=" + t.TempDir(),
		"TMPDIR=" + t.TempDir(), // the CLI bundles into $TMPDIR/.gitbook
		"GITBOOK_TOKEN=" + alice.Token,
		"GITBOOK_ENDPOINT=" + s.URL,
		"GITBOOK_ORGANIZATION=" + org,
		"NODE_PATH=" + absPath(t, "node_modules"),
		"E2E_RECORDER_URL=" + rec.URL, // the manifest's RECORDER_URL secret
		"E2E_TUNNEL_CERT=" + cert,
		"E2E_TUNNEL_KEY=" + key,
		"NO_UPDATE_NOTIFIER=1",
		// Miniflare would fetch its Request.cf object from
		// workers.cloudflare.com (and cache it in node_modules/.mf).
		"CLOUDFLARE_CF_FETCH_ENABLED=false",
	}
	const name = "runtime-e2e"

	publish := startProcess(t, ".", env, "node", cli, "publish", "testdata/runtime-integration")
	publish.waitOutput(t, regexp.MustCompile(`Integration "runtime-e2e" published`))
	if <-publish.done; publish.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("gitbook publish exited with status %d:\n%s", publish.cmd.ProcessState.ExitCode(), publish.out.String())
	}

	dev := startProcess(t, ".", env, "node", cli, "dev", "testdata/runtime-integration")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gitbook dev output:\n%s", dev.out.String())
		}
	})
	tunnel := dev.waitOutput(t, regexp.MustCompile(`Tunnel created (https://127\.0\.0\.1:\d+/#e2e\.trycloudflare\.com)`))[0][1]
	dev.waitOutput(t, regexp.MustCompile(`Development mode enabled`))

	t.Run("gitbook dev turns development mode on with its tunnel", func(t *testing.T) {
		put := regexp.MustCompile(`"method":"PUT","route":"PUT /v1/integrations/\{integrationName\}/dev","status":204`)
		// The server writes its logs out every 100 ms: wait for the line.
		n := 0
		for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			n = len(put.FindAllString(s.Stderr(), -1))
		}
		if n != 1 {
			t.Errorf("the server logged %d answers 204 to PUT /v1/integrations/{integrationName}/dev, want 1", n)
		}
		var settings struct {
			TunnelURL string `json:"tunnelUrl"`
			TunnelAll bool   `json:"tunnelAll"`
		}
		s.Expect(t, http.StatusOK, "GET", "/ext/integrations/"+name+"/event-settings", alice.Token, nil, &settings)
		if settings.TunnelURL != tunnel || settings.TunnelAll {
			t.Errorf("event settings after gitbook dev: %+v, want tunnelUrl %s for the owner only", settings, tunnel)
		}
	})

	ok := func(t *testing.T, r report) {
		t.Helper()
		if r.Mode != "development" {
			t.Errorf("%s ran in mode %q, want development (the CLI's dev build)", r.Event.Type, r.Mode)
		}
		for _, c := range r.Calls {
			if c.Status != http.StatusOK && !(c.Op == "queueTask" && c.Status == http.StatusNoContent) {
				t.Errorf("%s handler: %s answered %d: %s", r.Event.Type, c.Op, c.Status, c.Error)
			}
		}
	}
	var installation string

	t.Run("events reach the integration that gitbook dev runs", func(t *testing.T) {
		installation = install(t, s, alice.Token, name, org)
		r := rec.waitFor(t, "installation_setup", func(r report) bool { return r.Event.Type == "installation_setup" })
		ok(t, r)
		if r.Event.InstallationID != installation || !r.Environment.HasInstallationToken {
			t.Errorf("installation_setup of %q, installation token given: %v; want %s with one", r.Event.InstallationID, r.Environment.HasInstallationToken, installation)
		}
		ok(t, rec.waitFor(t, "the after-setup task", func(r report) bool { return r.Event.Task.Type == "after-setup" }))

		s.Expect(t, http.StatusCreated, "POST", "/v1/integrations/"+name+"/installations/"+installation+"/spaces", alice.Token,
			map[string]string{"space": space}, nil)
		ok(t, rec.waitFor(t, "space_installation_setup", func(r report) bool { return r.Event.Type == "space_installation_setup" && r.Event.SpaceID == space }))

		s.Expect(t, http.StatusOK, "PATCH", "/v1/spaces/"+space, alice.Token, map[string]string{"visibility": "unlisted"}, nil)
		ok(t, rec.waitFor(t, "space_visibility_updated", func(r report) bool {
			return r.Event.Type == "space_visibility_updated" && r.Event.Visibility == "unlisted"
		}))

		for _, e := range listEvents(t, s, alice.Token, name) {
			var trace eventTrace
			waitUntil(t, func() string { return fmt.Sprintf("event %s not recorded as delivered: %+v", e.ID, trace.Trace.Logs) }, func() bool {
				trace = getEvent(t, s, alice.Token, name, e.ID)
				return trace.Event.Status == "success"
			})
			if lines, _ := trace.attempts(); len(lines) != 1 || !strings.HasPrefix(lines[0], "attempt 1 to "+tunnel+": 200 ") {
				t.Errorf("%s event %s: trace %v, want one attempt to the tunnel answered 200", e.Payload.Type, e.ID, lines)
			}
		}
	})

	t.Run("killed, gitbook dev leaves development mode on; events wait for it", func(t *testing.T) {
		// As a terminal's Ctrl-C would not reliably do: no DELETE is sent.
		dev.kill()
		var settings struct {
			TunnelURL string `json:"tunnelUrl"`
		}
		s.Expect(t, http.StatusOK, "GET", "/ext/integrations/"+name+"/event-settings", alice.Token, nil, &settings)
		if settings.TunnelURL != tunnel {
			t.Fatalf("tunnelUrl %q after gitbook dev was killed, want %s still", settings.TunnelURL, tunnel)
		}
		s.Expect(t, http.StatusResetContent, "DELETE", "/v1/integrations/"+name+"/installations/"+installation+"/spaces/"+space, alice.Token, nil, nil)
		var deleted apiEvent
		for _, e := range listEvents(t, s, alice.Token, name) {
			if e.Payload.Type == "space_installation_deleted" {
				deleted = e
			}
		}
		if deleted.ID == "" {
			t.Fatal("no space_installation_deleted event listed")
		}
		var trace eventTrace
		waitUntil(t, func() string { return fmt.Sprintf("no attempt of event %s: %+v", deleted.ID, trace.Trace.Logs) }, func() bool {
			trace = getEvent(t, s, alice.Token, name, deleted.ID)
			lines, _ := trace.attempts()
			return len(lines) > 0
		})
		if lines, pending := trace.attempts(); !pending || !strings.Contains(lines[0], "request failed") {
			t.Errorf("an event sent to the dead tunnel: trace %+v, want a failed request and another attempt pending", trace.Trace.Logs)
		}
	})
	s.Stop(t)
}

// cliCopy copies the CLI's script next to the cloudflared stand-in, in a
// folder of the test, and returns the script's path.
func cliCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		from, to string
		mode     os.FileMode
	}{
		{"node_modules/@gitbook/cli/dist/cli.js", filepath.Join(dist, "cli.js"), 0o644},
		{"testdata/cloudflared/cloudflared", filepath.Join(dist, "cloudflared"), 0o755},
	} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.to, data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	// Both scripts are CommonJS, whatever package.json is found above.
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type": "commonjs"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dist, "cli.js")
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key as PEM
// files, and returns their paths.
func selfSignedCert(t *testing.T) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e2e tunnel"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
