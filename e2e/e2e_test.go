package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"integrations/internal/storetest"
)

// bin is the server binary, built once for all tests by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(BuildMain(m, &bin))
}

// adminToken is the server admin's token in these tests.
const adminToken = "e2e-admin-token"

// TestGitBookAPIClient runs lifecycle.test.mjs, which drives the server with
// GitBook's own client, npm @gitbook/api.
func TestGitBookAPIClient(t *testing.T) {
	t.Parallel()
	installNodeModules(t)
	storetest.EachDatabase(t, func(t *testing.T, database string) {
		t.Parallel()
		gitBookAPIClient(t, database)
	})
}

func gitBookAPIClient(t *testing.T, database string) {
	s := Start(t, bin, Flags(database, "--admin-token", adminToken))
	alice := s.CreateUser(t, adminToken, "Alice", "alice@example.com")
	org := s.CreateOrg(t, alice.Token, "Acme")
	spaces := []string{s.CreateSpace(t, alice.Token, org, "Handbook"), s.CreateSpace(t, alice.Token, org, "API docs")}
	bob := s.CreateUser(t, adminToken, "Bob", "bob@example.com")
	s.CreateOrg(t, bob.Token, "Elsewhere")

	cmd := exec.Command("node", "--test", "--test-reporter=tap", "lifecycle.test.mjs")
	cmd.Env = Environ(
		"E2E_ENDPOINT="+s.URL,
		"E2E_TOKEN="+alice.Token,
		"E2E_ORGANIZATION="+org,
		"E2E_SPACES="+strings.Join(spaces, ","),
		"E2E_OUTSIDER_TOKEN="+bob.Token,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test lifecycle.test.mjs: %v\n%s\nserver output:\n%s", err, out, s.Stderr())
	}
	// Guard against a run that passes because it ran nothing.
	pass := regexp.MustCompile(`(?m)^# pass (\d+)$`).FindSubmatch(out)
	if pass == nil || string(pass[1]) == "0" || !regexp.MustCompile(`(?m)^# fail 0$`).Match(out) {
		t.Fatalf("node --test ran no passing test:\n%s", out)
	}
	t.Logf("node --test: %s tests passed", pass[1])
	s.Stop(t)
}

// TestGitBookCLI publishes testdata/cli-integration with GitBook's own CLI,
// npm @gitbook/cli, publishes it again and unpublishes it.
func TestGitBookCLI(t *testing.T) {
	t.Parallel()
	installNodeModules(t)
	storetest.EachDatabase(t, func(t *testing.T, database string) {
		t.Parallel()
		gitBookCLI(t, database)
	})
}

func gitBookCLI(t *testing.T, database string) {
	s := Start(t, bin, Flags(database, "--admin-token", adminToken))
	alice := s.CreateUser(t, adminToken, "Alice", "alice@example.com")
	org := s.CreateOrg(t, alice.Token, "Acme")

	env := Environ(
		// The CLI keeps its configuration there, and bundles into TMPDIR.
		"XDG_CONFIG_HOME="+t.TempDir(),
		"TMPDIR="+t.TempDir(),
		"GITBOOK_TOKEN="+alice.Token,
		"GITBOOK_ENDPOINT="+s.URL,
		// Overrides the manifest's placeholder organization.
		"GITBOOK_ORGANIZATION="+org,
		"NO_UPDATE_NOTIFIER=1",
		"npm_config_update_notifier=false",
	)
	gitbook := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("npx", append([]string{"--no-install", "gitbook"}, args...)...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gitbook %s: %v\n%s\nserver output:\n%s", strings.Join(args, " "), err, out, s.Stderr())
		}
		return string(out)
	}
	type integration struct {
		Name    string `json:"name"`
		Title   string `json:"title"`
		Version int    `json:"version"`
		Owner   struct {
			ID string `json:"id"`
		} `json:"owner"`
		Blocks []struct {
			ID string `json:"id"`
		} `json:"blocks"`
	}

	out := gitbook("", "publish", "testdata/cli-integration")
	if !strings.Contains(out, `Integration "cli-e2e" published`) {
		t.Fatalf("gitbook publish printed no published line:\n%s", out)
	}
	var first integration
	s.Expect(t, http.StatusOK, "GET", "/v1/integrations/cli-e2e", alice.Token, nil, &first)
	if first.Title != "CLI e2e" || first.Owner.ID != org || len(first.Blocks) != 1 || first.Blocks[0].ID != "hello" {
		t.Errorf("published integration: %+v, want the manifest's, owned by %s", first, org)
	}

	gitbook("", "publish", "testdata/cli-integration")
	var second integration
	s.Expect(t, http.StatusOK, "GET", "/v1/integrations/cli-e2e", alice.Token, nil, &second)
	if second.Version <= first.Version {
		t.Errorf("version %d after the second publish, want more than %d", second.Version, first.Version)
	}

	out = gitbook("y\n", "unpublish", "cli-e2e")
	if !strings.Contains(out, `Integration "cli-e2e" has been deleted`) {
		t.Fatalf("gitbook unpublish printed no deleted line:\n%s", out)
	}
	s.Expect(t, http.StatusNotFound, "GET", "/v1/integrations/cli-e2e", alice.Token, nil, nil)
	s.Stop(t)
}

var (
	npmOnce sync.Once
	npmErr  error
)

// installNodeModules makes sure node_modules holds what package-lock.json
// pins, running `npm ci` only when it is missing or stale, so that a second
// test run does not reinstall. --ignore-scripts skips the CLI's postinstall,
// which downloads cloudflared from the internet; only `gitbook dev` needs it.
func installNodeModules(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: the end-to-end tests need Node.js 18 or later with npm (%v)", tool, err)
		}
	}
	npmOnce.Do(func() { npmErr = npmCI() })
	if npmErr != nil {
		t.Fatal(npmErr)
	}
}

// stampFile records the hash of the package files that node_modules was
// installed from.
const stampFile = "node_modules/.integrations-e2e-installed"

func npmCI() error {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return fmt.Errorf("node --version: %v", err)
	}
	major, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(strings.TrimSpace(string(out)), ".", 2)[0], "v"))
	if major < 18 {
		return fmt.Errorf("node %s is too old: @gitbook/api and @gitbook/cli need Node.js 18 or later", bytes.TrimSpace(out))
	}

	h := sha256.New()
	for _, name := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		h.Write(data)
	}
	want := hex.EncodeToString(h.Sum(nil))

	// Another `go test` in this tree may be installing at the same time:
	// take turns, so that one installs and the other finds it done.
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(dir))
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "integrations-e2e-npm-"+hex.EncodeToString(sum[:8])+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %v", lock.Name(), err)
	}

	if got, err := os.ReadFile(stampFile); err == nil && string(got) == want {
		return nil
	}
	cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Env = Environ("NO_UPDATE_NOTIFIER=1", "npm_config_update_notifier=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci --ignore-scripts in e2e/: %v\n%s", err, out)
	}
	return os.WriteFile(stampFile, []byte(want), 0o644)
}
