package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"integrations"
	"integrations/api"
	"integrations/fixture"
	"integrations/internal/apitest"
	"integrations/internal/crashtest"
	"integrations/sqlstore"
)

// isoWorld is the world of the isolation matrix: acme is the organization
// whose members call, globex another tenant, initech the outsider's own.
// Each object carries text (ids, titles, configuration values, emails) that
// only its audience may ever read; see isoSecrets.
const isoWorld = `
users:
  - {id: u-admin, displayName: Ada, email: ada@acme.test, tokens: [tok-acme-admin]}
  - {id: u-create, displayName: Cyd, email: cyd@acme.test, tokens: [tok-acme-create]}
  - {id: u-edit, displayName: Eve, email: eve@acme.test, tokens: [tok-acme-edit]}
  - {id: u-review, displayName: Rex, email: rex@acme.test, tokens: [tok-acme-review]}
  - {id: u-comment, displayName: Cam, email: cam@acme.test, tokens: [tok-acme-comment]}
  - {id: u-read, displayName: Rod, email: rod@acme.test, tokens: [tok-acme-read]}
  - {id: u-gina, displayName: Gina, email: gina@globex.test, tokens: [tok-globex-admin]}
  - {id: u-oscar, displayName: Oscar, email: oscar@initech.test, tokens: [tok-outsider]}
organizations:
  - {id: acme, title: Acme Corp, members: [{user: u-admin, role: admin}, {user: u-create, role: create}, {user: u-edit, role: edit},
     {user: u-review, role: review}, {user: u-comment, role: comment}, {user: u-read, role: read}]}
  - {id: globex, title: Globex Corp G5, members: [{user: u-gina, role: admin}]}
  - {id: initech, title: Initech, members: [{user: u-oscar, role: admin}]}
spaces:
  - {id: acme-handbook, organization: acme, title: Handbook A7}
  - {id: acme-drafts, organization: acme, title: Drafts A8}
  - {id: globex-vault, organization: globex, title: Vault G7}
  - {id: initech-wiki, organization: initech, title: Wiki I3}
integrations:
  - {name: slack, organization: acme, title: Slack, visibility: public, scopes: [space:content:read],
     icon: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAADklEQVR4nGLSAAQAAP//AC4AK6awmI8AAAAASUVORK5CYII=",
     blocks: [{id: message, title: Message}]}
  - {name: globex-tool, organization: globex, title: Globex Tool G9, visibility: private, scopes: [space:content:read],
     icon: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAADklEQVR4nGI6AQgAAP//AM4AyztYcJ8AAAAASUVORK5CYII=",
     blocks: [{id: tool, title: Tool block G9}]}
  - {name: other, organization: initech, title: Other, visibility: public, scopes: [space:content:read]}
installations:
  - {id: slack-acme, integration: slack, organization: acme, space_selection: selected, configuration: {note: acme-config-A7},
     externalIds: [acme-ext-A7], spaces: [{space: acme-handbook, configuration: {note: acme-space-config-A7}}]}
  - {id: slack-globex, integration: slack, organization: globex, space_selection: all, configuration: {note: globex-config-G7},
     externalIds: [globex-ext-G7]}
  - {id: tool-globex, integration: globex-tool, organization: globex, space_selection: selected, configuration: {note: tool-config-G9},
     spaces: [{space: globex-vault}]}
  - {id: other-acme, integration: other, organization: acme, space_selection: selected, spaces: [{space: acme-handbook}]}
`

// isoCallers are the columns of the matrix.
var isoCallers = []string{
	"none", "malformed", "unknown", "expired", // no valid token
	"outsider",                                             // admin of initech, a member of neither acme nor globex
	"admin", "create", "edit", "review", "comment", "read", // the roles of acme's members
	"staff",                   // the server's admin (apitest.AdminToken)
	"int:other", "inst:other", // another integration's token; another installation's token
}

// isoMatrix holds, one row per route (by operation) and target, the
// expected status for each caller of isoCallers. The targets are the
// objects of acme, the callers' organization (space acme-handbook,
// integration slack, installation slack-acme, a slack event), and those of
// globex, another tenant (space globex-vault, private integration
// globex-tool, installation tool-globex, a globex-tool event); "-" is for
// routes without objects.
//
// The columns (abbreviated in the header), and the rule behind each:
//   - none, malformed (a valid secret under the Basic scheme), unknown, and
//     expired (a temporary token of slack-acme itself, an hour old): 401
//     before anything else; public routes ignore the header.
//   - outsider: what it may not see answers 404, exactly as missing objects
//     do (a DELETE of it: 204, "did not exist"); slack is public, so the
//     outsider sees it and gets 403 where only its owner's admins may act.
//   - admin..read: acme's members see all of acme and nothing of globex
//     (404). Admins manage installations, integrations and their events;
//     admin and create may create, change and delete spaces; every role
//     reads, the events of acme's integrations included. Other roles get
//     403 where they see but may not act.
//   - staff: acts as an admin of every organization.
//   - int:other: the integration token of "other" (initech's integration,
//     installed on acme on acme-handbook only): it sees acme and the spaces
//     its installation covers, and only its own installations; user-only
//     operations refuse its kind of token (403).
//   - inst:other: the installation token of slack-globex (the same
//     integration as slack-acme, installed on another tenant with all
//     spaces): it sees globex and globex-vault, and only its own
//     installation; nothing of acme.
var isoMatrix = []string{
	//                                          non mal unk exp   out   adm cre edi rev com rea   stf   int ins
	"getAuthenticatedUser -                     401 401 401 401   200   200 200 200 200 200 200   200   403 403",
	"listOrganizationsForAuthenticatedUser -    401 401 401 401   200   200 200 200 200 200 200   200   403 403",
	"getUserById acme                           401 401 401 401   404   200 200 200 200 200 200   200   403 403",
	"getUserById globex                         401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"createOrganization -                       401 401 401 401   201   201 201 201 201 201 201   201   403 403",
	"getOrganizationById acme                   401 401 401 401   404   200 200 200 200 200 200   200   200 404",
	"getOrganizationById globex                 401 401 401 401   404   404 404 404 404 404 404   200   404 200",
	"listMembersInOrganizationById acme         401 401 401 401   404   200 200 200 200 200 200   200   403 403",
	"listMembersInOrganizationById globex       401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"listSpacesInOrganizationById acme          401 401 401 401   404   200 200 200 200 200 200   200   403 404",
	"listSpacesInOrganizationById globex        401 401 401 401   404   404 404 404 404 404 404   200   403 200",
	"createSpace acme                           401 401 401 401   404   201 201 403 403 403 403   201   403 403",
	"createSpace globex                         401 401 401 401   404   404 404 404 404 404 404   201   403 403",
	"getSpaceById acme                          401 401 401 401   404   200 200 200 200 200 200   200   200 404",
	"getSpaceById globex                        401 401 401 401   404   404 404 404 404 404 404   200   404 200",
	"updateSpaceById acme                       401 401 401 401   404   200 200 403 403 403 403   200   403 403",
	"updateSpaceById globex                     401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"deleteSpaceById acme                       401 401 401 401   204   205 205 403 403 403 403   205   403 403",
	"deleteSpaceById globex                     401 401 401 401   204   204 204 204 204 204 204   205   403 403",
	"listSpaceIntegrations acme                 401 401 401 401   404   200 200 200 200 200 200   200   403 403",
	"listSpaceIntegrations globex               401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"listSpaceIntegrationsBlocks acme           401 401 401 401   404   200 200 200 200 200 200   200   200 404",
	"listSpaceIntegrationsBlocks globex         401 401 401 401   404   404 404 404 404 404 404   200   404 200",
	"listIntegrations -                         401 401 401 401   200   200 200 200 200 200 200   200   200 200",
	"getIntegrationByName acme                  401 401 401 401   200   200 200 200 200 200 200   200   200 200",
	"getIntegrationByName globex                401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"publishIntegration acme                    401 401 401 401   404   200 403 403 403 403 403   200   403 403",
	"publishIntegration globex                  401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"unpublishIntegration acme                  401 401 401 401   403   205 403 403 403 403 403   205   403 403",
	"unpublishIntegration globex                401 401 401 401   204   204 204 204 204 204 204   205   403 403",
	"listIntegrationInstallations acme          401 401 401 401   403   403 403 403 403 403 403   403   404 200",
	"listIntegrationInstallations globex        401 401 401 401   403   403 403 403 403 403 403   403   404 404",
	"installIntegration acme                    401 401 401 401   404   201 403 403 403 403 403   201   403 403",
	"installIntegration globex                  401 401 401 401   404   404 404 404 404 404 404   201   403 403",
	"getIntegrationInstallationById acme        401 401 401 401   404   200 200 200 200 200 200   200   404 404",
	"getIntegrationInstallationById globex      401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"updateIntegrationInstallation acme         401 401 401 401   404   200 403 403 403 403 403   200   404 404",
	"updateIntegrationInstallation globex       401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"uninstallIntegration acme                  401 401 401 401   204   205 403 403 403 403 403   205   403 403",
	"uninstallIntegration globex                401 401 401 401   204   204 204 204 204 204 204   205   403 403",
	"createIntegrationInstallationToken acme    401 401 401 401   403   403 403 403 403 403 403   403   404 403",
	"createIntegrationInstallationToken globex  401 401 401 401   403   403 403 403 403 403 403   403   404 403",
	"listIntegrationSpaceInstallations acme     401 401 401 401   403   403 403 403 403 403 403   403   404 200",
	"listIntegrationSpaceInstallations globex   401 401 401 401   403   403 403 403 403 403 403   403   404 404",
	"listIntegrationInstallationSpaces acme     401 401 401 401   404   200 200 200 200 200 200   200   404 404",
	"listIntegrationInstallationSpaces globex   401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"installIntegrationOnSpace acme             401 401 401 401   404   201 403 403 403 403 403   201   404 404",
	"installIntegrationOnSpace globex           401 401 401 401   404   404 404 404 404 404 404   201   404 404",
	"getIntegrationSpaceInstallation acme       401 401 401 401   404   200 200 200 200 200 200   200   404 404",
	"getIntegrationSpaceInstallation globex     401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"updateIntegrationSpaceInstallation acme    401 401 401 401   404   200 403 403 403 403 403   200   404 404",
	"updateIntegrationSpaceInstallation globex  401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"uninstallIntegrationFromSpace acme         401 401 401 401   204   205 403 403 403 403 403   205   204 204",
	"uninstallIntegrationFromSpace globex       401 401 401 401   204   204 204 204 204 204 204   205   204 204",
	"setIntegrationDevelopmentMode acme         401 401 401 401   403   204 403 403 403 403 403   204   403 403",
	"setIntegrationDevelopmentMode globex       401 401 401 401   404   404 404 404 404 404 404   204   403 403",
	"disableIntegrationDevelopmentMode acme     401 401 401 401   403   205 403 403 403 403 403   205   403 403",
	"disableIntegrationDevelopmentMode globex   401 401 401 401   404   404 404 404 404 404 404   205   403 403",
	"queueIntegrationTask acme                  401 401 401 401   403   403 403 403 403 403 403   403   404 403",
	"queueIntegrationTask globex                401 401 401 401   403   403 403 403 403 403 403   403   404 403",
	"listIntegrationEvents acme                 401 401 401 401   403   200 200 200 200 200 200   200   404 200",
	"listIntegrationEvents globex               401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"getIntegrationEvent acme                   401 401 401 401   403   200 200 200 200 200 200   200   404 404",
	"getIntegrationEvent globex                 401 401 401 401   404   404 404 404 404 404 404   200   404 404",
	"listOrganizationIntegrations acme          401 401 401 401   404   200 200 200 200 200 200   200   200 404",
	"listOrganizationIntegrations globex        401 401 401 401   404   404 404 404 404 404 404   200   404 200",
	"listOrganizationInstallations acme         401 401 401 401   404   200 200 200 200 200 200   200   200 404",
	"listOrganizationInstallations globex       401 401 401 401   404   404 404 404 404 404 404   200   404 200",
	"getOrganizationIntegrationStatus acme      401 401 401 401   404   200 200 200 200 200 200   200   403 403",
	"getOrganizationIntegrationStatus globex    401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"listOrganizationIntegrationsStatus acme    401 401 401 401   404   200 200 200 200 200 200   200   200 404",
	"listOrganizationIntegrationsStatus globex  401 401 401 401   404   404 404 404 404 404 404   200   404 200",
	"createIntegrationToken acme                401 401 401 401   403   201 403 403 403 403 403   201   403 403",
	"createIntegrationToken globex              401 401 401 401   404   404 404 404 404 404 404   201   403 403",
	"getEventSettings acme                      401 401 401 401   403   200 403 403 403 403 403   200   403 403",
	"getEventSettings globex                    401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"setEventSettings acme                      401 401 401 401   403   200 403 403 403 403 403   200   403 403",
	"setEventSettings globex                    401 401 401 401   404   404 404 404 404 404 404   200   403 403",
	"deleteEventSettings acme                   401 401 401 401   403   204 403 403 403 403 403   204   403 403",
	"deleteEventSettings globex                 401 401 401 401   404   404 404 404 404 404 404   204   403 403",
	"redeliverEvent acme                        401 401 401 401   403   202 403 403 403 403 403   202   404 403",
	"redeliverEvent globex                      401 401 401 401   404   404 404 404 404 404 404   202   404 403",
	"adminCreateUser -                          401 401 401 401   403   403 403 403 403 403 403   201   403 403",
	"adminSetMember acme                        401 401 401 401   403   403 403 403 403 403 403   200   403 403",
	"adminSetMember globex                      401 401 401 401   403   403 403 403 403 403 403   200   403 403",
	// Public: assets are named by their content hash, as GitBook's are.
	"getIntegrationAsset acme                   200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"getIntegrationAsset globex                 200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"healthz -                                  200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"readyz -                                   200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appOrganizationPage acme                   200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appOrganizationPage globex                 200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appSpacePage acme                          200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appSpacePage globex                        200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appIntegrationPage acme                    200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appIntegrationPage globex                  200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appInstallationPage acme                   200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	"appInstallationPage globex                 200 200 200 200   200   200 200 200 200 200 200   200   200 200",
	// Last: staff delete the user of the target (its caller columns come
	// before staff's, and no row after needs it).
	"adminDeleteUser acme                       401 401 401 401   403   403 403 403 403 403 403   205   403 403",
	"adminDeleteUser globex                     401 401 401 401   403   403 403 403 403 403 403   205   403 403",
}

// isoDeletes holds the operations that answer 205 when they delete and 204
// when there was nothing to delete (deleteEventSettings, say, answers 204
// either way, and is not one).
var isoDeletes = func() map[string]bool {
	ops := map[string]bool{}
	for _, line := range isoMatrix {
		f := strings.Fields(line)
		if slices.Contains(f[2:], "205") {
			ops[f[0]] = true
		}
	}
	return ops
}()

// isoSecrets is text that only its audience may read in any answer: the
// callers named (with "members" for every role of acme; staff sees all).
// An answer may repeat what its own request holds (an error names the id it
// did not find), so text found in the request is not checked.
var isoSecrets = []struct{ text, audience string }{
	// acme's space that "other" is installed on, and one it is not.
	{"acme-handbook", "members int:other"},
	{"Handbook A7", "members int:other"},
	{"acme-drafts", "members"},
	{"Drafts A8", "members"},
	{"@acme.test", "members"},
	// slack's installation on acme, its configuration and external ids.
	{"slack-acme", "members"},
	{"acme-config-A7", "members"},
	{"acme-space-config-A7", "members"},
	{"acme-ext-A7", "members"},
	{"acme-task-A7", "members"}, // a task of slack: in its events, for its owner's members
	{"other-acme", "members int:other"},
	// globex: its installation of slack reaches the organization and all its
	// spaces; slack's owner (acme's members) reads slack's events, which name
	// the installation and its configuration, as the integration itself does.
	{"Globex Corp G5", "inst:other"},
	{"globex-vault", "inst:other"},
	{"Vault G7", "inst:other"},
	{"@globex.test", ""},
	{"slack-globex", "inst:other members"},
	{"globex-config-G7", "inst:other members"},
	{"globex-ext-G7", "inst:other"},
	// globex's private integration: its name and blocks show in globex's
	// spaces and in globex's list of integrations it may use, which
	// slack-globex reads; its installation and events stay globex's.
	{"globex-tool", "inst:other"},
	{"Globex Tool G9", "inst:other"},
	{"Tool block G9", "inst:other"},
	{"tool-globex", ""},
	{"tool-config-G9", ""},
	{"globex-task-G9", ""},
	// initech's space.
	{"initech-wiki", "outsider"},
	{"Wiki I3", "outsider"},
}

// isoEnv is the running world of the matrix with its tokens and the ids
// made at run time.
type isoEnv struct {
	e      *apitest.Env
	db     *crashtest.DB
	offset *atomic.Int64 // added to the store's clock
	tokens map[string]string
	// Tokens that are no caller: slack's and globex-tool's, to set the world up.
	slack, tool string
	// The ids of the events and assets of slack and globex-tool.
	slackEvent, toolEvent, slackIcon, toolIcon string
	secrets                                    []string // every token secret seen, for the log check
	users                                      int
	// The last dump of the store, and the fingerprint it was taken at.
	dump        map[string][]string
	fingerprint string
}

func TestIsolationMatrix(t *testing.T) {
	crashtest.Each(t, func(t *testing.T, db *crashtest.DB) {
		w := newIsoEnv(t, db)
		routes := map[string]api.Route{}
		for _, rt := range w.e.API.Routes() {
			routes[rt.Operation] = rt
		}
		// Every route has its rows, and every row its route: a new endpoint
		// fails here until the matrix says who may call it.
		covered := map[string]bool{}
		for _, row := range isoRows(t) {
			if _, ok := routes[row.op]; !ok {
				t.Errorf("the matrix has a row for %s, which no route serves", row.op)
			}
			covered[row.op] = true
		}
		for op, rt := range routes {
			if !covered[op] {
				t.Errorf("%s %s (%s) is not in the isolation matrix: add its rows", rt.Method, rt.Pattern, op)
			}
		}
		for _, row := range isoRows(t) {
			rt, ok := routes[row.op]
			if !ok {
				continue
			}
			want := row.want
			got := make([]string, len(isoCallers))
			for n, caller := range isoCallers {
				got[n] = strconv.Itoa(w.cell(t, rt, row.target, caller, want[n]))
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s [%s]: the answers were\n\t%q", row.op, row.target, strings.Join(got, " "))
			}
		}
		// No token secret was ever logged.
		logs := w.e.Logs()
		if !strings.Contains(logs, `"request"`) {
			t.Fatal("nothing was logged")
		}
		// Nor stored: only hashes are, of tokens minted and seeded alike.
		dump := fmt.Sprint(w.db.Dump(t))
		for _, secret := range w.secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("the logs hold the token %q", secret)
			}
			if strings.Contains(dump, secret) {
				t.Errorf("the database holds the token %q", secret)
			}
		}
		if !strings.Contains(dump, integrations.HashToken("tok-acme-admin")) {
			t.Error("the database does not hold the hash of a seeded token: the check above looks at the wrong place")
		}
		crashtest.Check(t, w.e, w.db)
	})
}

// TestRevokedTokensStopAtOnce checks that the tokens of an installation stop
// working as soon as it is uninstalled, and those of an integration as soon
// as it is unpublished, even right after a request with them put their
// caller in the server's cache.
func TestRevokedTokensStopAtOnce(t *testing.T) {
	crashtest.Each(t, func(t *testing.T, db *crashtest.DB) {
		w := newIsoEnv(t, db)
		inst, integration := w.tokens["inst:slack"], w.slack
		w.e.Expect(200, "GET", "/v1/integrations/slack/installations/slack-acme", inst, nil)
		w.e.Expect(200, "GET", "/v1/integrations/slack/installations", integration, nil)
		w.e.Expect(205, "DELETE", "/v1/integrations/slack/installations/slack-acme", "tok-acme-admin", nil)
		w.e.Expect(401, "GET", "/v1/integrations/slack", inst, nil)
		w.e.Expect(200, "GET", "/v1/integrations/slack/installations", integration, nil)
		w.e.Expect(205, "DELETE", "/v1/integrations/slack", "tok-acme-admin", nil)
		w.e.Expect(401, "GET", "/v1/integrations", integration, nil)
		// The installation of slack on the other organization went with it.
		w.e.Expect(401, "GET", "/v1/integrations", w.tokens["inst:other"], nil)
	})
}

// isoRow is a parsed row of isoMatrix.
type isoRow struct {
	op, target string // target "" for routes without objects
	want       []string
}

func isoRows(t *testing.T) []isoRow {
	var rows []isoRow
	for _, line := range isoMatrix {
		f := strings.Fields(line)
		if len(f) != 2+len(isoCallers) {
			t.Fatalf("matrix row %q: %d statuses for %d callers", line, len(f)-2, len(isoCallers))
		}
		row := isoRow{op: f[0], target: f[1], want: f[2:]}
		if row.target == "-" {
			row.target = ""
		}
		rows = append(rows, row)
	}
	return rows
}

func newIsoEnv(t testing.TB, db *crashtest.DB) *isoEnv {
	t.Helper()
	sdb, ok := db.Store.(*sqlstore.DB)
	if !ok {
		t.Fatalf("store %T has no clock to set", db.Store)
	}
	w := &isoEnv{db: db, offset: &atomic.Int64{}}
	sdb.Now = func() time.Time { return time.Now().Add(time.Duration(w.offset.Load())) }
	w.e = apitest.New(t, db.Store)
	w.tokens = map[string]string{
		"unknown": "tok-nobody-has-this", "outsider": "tok-outsider", "staff": apitest.AdminToken,
		"admin": "tok-acme-admin", "create": "tok-acme-create", "edit": "tok-acme-edit",
		"review": "tok-acme-review", "comment": "tok-acme-comment", "read": "tok-acme-read",
	}
	w.secrets = []string{"tok-nobody-has-this", "tok-outsider", apitest.AdminToken, "tok-acme-admin", "tok-acme-create",
		"tok-acme-edit", "tok-acme-review", "tok-acme-comment", "tok-acme-read", "tok-globex-admin"}
	w.refresh(t)
	return w
}

// do sends a request that sets the world up. Unlike e.Do it does not check
// the answer against the spec: the cells do, and the checks are slow.
func (w *isoEnv) do(t testing.TB, want int, method, path, token string, body any) []byte {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, w.e.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := w.e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want != 0 && res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	return data
}

// raw sends a request without a body, unchecked.
func (w *isoEnv) raw(t testing.TB, method, path string, header http.Header) *apitest.Response {
	t.Helper()
	req, err := http.NewRequest(method, w.e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	res, err := w.e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &apitest.Response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// valid reports whether a token authenticates.
func (w *isoEnv) valid(t testing.TB, token string) bool {
	t.Helper()
	return token != "" && !bytes.Contains(w.do(t, 0, "GET", "/v1/orgs/initech", token, nil), []byte(`"code":401`))
}

// mint calls a token-minting operation and returns the new secret.
func (w *isoEnv) mint(t testing.TB, status int, path, token string) string {
	t.Helper()
	var out struct{ Token string }
	if err := json.Unmarshal(w.do(t, status, "POST", path, token, nil), &out); err != nil || out.Token == "" {
		t.Fatalf("POST %s: no token (%v)", path, err)
	}
	w.secrets = append(w.secrets, out.Token)
	return out.Token
}

// refresh brings back what the world needs after a write that succeeded:
// the fixture restores the objects, and tokens and events that went with
// a deleted object are made again.
func (w *isoEnv) refresh(t testing.TB) {
	t.Helper()
	// The fixture, not e.Seed: this runs inside fuzz targets too, which
	// must not call the methods of their testing.F.
	world, err := fixture.Parse([]byte(isoWorld))
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Apply(t.Context(), w.db.Store, world); err != nil {
		t.Fatal(err)
	}
	if !w.valid(t, w.slack) {
		w.slack = w.mint(t, 201, "/ext/integrations/slack/tokens", "tok-acme-admin")
	}
	if !w.valid(t, w.tool) {
		w.tool = w.mint(t, 201, "/ext/integrations/globex-tool/tokens", "tok-globex-admin")
	}
	if !w.valid(t, w.tokens["int:other"]) {
		w.tokens["int:other"] = w.mint(t, 201, "/ext/integrations/other/tokens", "tok-outsider")
	}
	if !w.valid(t, w.tokens["inst:other"]) {
		w.tokens["inst:other"] = w.mint(t, 200, "/v1/integrations/slack/installations/slack-globex/tokens", w.slack)
	}
	// Slack's own tokens, which the fuzz targets call with too.
	w.tokens["int:slack"] = w.slack
	if !w.valid(t, w.tokens["inst:slack"]) {
		w.tokens["inst:slack"] = w.mint(t, 200, "/v1/integrations/slack/installations/slack-acme/tokens", w.slack)
	}
	// A token of slack-acme itself, minted by a clock an hour and a minute
	// behind: it expired a minute ago.
	if w.tokens["expired"] == "" || !bytes.Contains(w.do(t, 401, "GET", "/v1/orgs/initech", w.tokens["expired"], nil), []byte("expired")) {
		w.offset.Store(int64(-integrations.InstallationTokenTTL - time.Minute))
		w.tokens["expired"] = w.mint(t, 200, "/v1/integrations/slack/installations/slack-acme/tokens", w.slack)
		w.offset.Store(0)
		if res := w.do(t, 401, "GET", "/v1/orgs/initech", w.tokens["expired"], nil); !bytes.Contains(res, []byte("expired")) {
			t.Fatalf("the expired token: %s", res)
		}
	}
	// Events: a task of each integration, and a change of slack's
	// installation on globex, by globex's admin.
	if w.slackEvent == "" || bytes.Contains(w.do(t, 0, "GET", "/v1/integrations/slack/events/"+w.slackEvent, apitest.AdminToken, nil), []byte(`"code":404`)) {
		w.do(t, 204, "POST", "/v1/integrations/slack/tasks", w.slack, map[string]any{"task": map[string]string{"note": "acme-task-A7"}})
		w.do(t, 200, "PATCH", "/v1/integrations/slack/installations/slack-globex", "tok-globex-admin",
			map[string]any{"configuration": map[string]string{"note": "globex-config-G7"}})
		w.slackEvent = w.lastEvent(t, "slack", "task")
	}
	if w.toolEvent == "" || bytes.Contains(w.do(t, 0, "GET", "/v1/integrations/globex-tool/events/"+w.toolEvent, apitest.AdminToken, nil), []byte(`"code":404`)) {
		w.do(t, 204, "POST", "/v1/integrations/globex-tool/tasks", w.tool, map[string]any{"task": map[string]string{"note": "globex-task-G9"}})
		w.toolEvent = w.lastEvent(t, "globex-tool", "task")
	}
	w.slackIcon = w.icon(t, "slack", "tok-acme-admin")
	w.toolIcon = w.icon(t, "globex-tool", "tok-globex-admin")
}

// lastEvent returns the id of the newest event of a type.
func (w *isoEnv) lastEvent(t testing.TB, name, typ string) string {
	t.Helper()
	var list struct {
		Items []struct {
			ID      string
			Payload struct{ Type string }
		}
	}
	if err := json.Unmarshal(w.do(t, 200, "GET", "/v1/integrations/"+name+"/events", apitest.AdminToken, nil), &list); err != nil {
		t.Fatal(err)
	}
	for _, ev := range list.Items {
		if ev.Payload.Type == typ {
			return ev.ID
		}
	}
	t.Fatalf("%s has no %s event", name, typ)
	return ""
}

// icon returns the asset id of an integration's icon.
func (w *isoEnv) icon(t testing.TB, name, token string) string {
	t.Helper()
	var i struct{ URLs struct{ Icon string } }
	if err := json.Unmarshal(w.do(t, 200, "GET", "/v1/integrations/"+name, token, nil), &i); err != nil {
		t.Fatal(err)
	}
	id := i.URLs.Icon[strings.LastIndex(i.URLs.Icon, "/")+1:]
	if id == "" {
		t.Fatalf("%s has no icon", name)
	}
	return id
}

// isoTargets are the objects of each target, by path parameter.
func (w *isoEnv) params(target string) map[string]string {
	switch target {
	case "acme":
		return map[string]string{"organizationId": "acme", "spaceId": "acme-handbook", "integrationName": "slack",
			"installationId": "slack-acme", "eventId": w.slackEvent, "assetId": w.slackIcon, "userId": "u-read"}
	case "globex":
		return map[string]string{"organizationId": "globex", "spaceId": "globex-vault", "integrationName": "globex-tool",
			"installationId": "tool-globex", "eventId": w.toolEvent, "assetId": w.toolIcon, "userId": "u-gina"}
	}
	return map[string]string{}
}

// body returns a valid body for an operation on a target: a refusal is
// then about who calls, not about what is sent.
func (w *isoEnv) body(op, target string) any {
	org, private := "acme", false
	if target == "globex" {
		org, private = "globex", true
	}
	switch op {
	case "createOrganization":
		return map[string]string{"title": "Iso Org"}
	case "createSpace":
		return map[string]string{"title": "Iso space"}
	case "updateSpaceById":
		return map[string]string{"title": "Renamed"}
	case "publishIntegration":
		p := map[string]any{"organization": org, "title": "Republished", "description": "d", "script": "export default {};",
			"scopes": []string{"space:content:read"}, "visibility": "public"}
		if private {
			p["visibility"] = "private"
		}
		return p
	case "installIntegration":
		return map[string]string{"organization": org}
	case "updateIntegrationInstallation", "updateIntegrationSpaceInstallation":
		return map[string]any{"externalIds": []string{"iso-ext"}}
	case "installIntegrationOnSpace":
		return map[string]string{"space": w.params(target)["spaceId"]}
	case "setIntegrationDevelopmentMode":
		return map[string]string{"tunnelUrl": "https://tunnel.example.test"}
	case "queueIntegrationTask":
		return map[string]any{"task": map[string]bool{"iso": true}}
	case "setEventSettings":
		return map[string]string{"url": "https://hooks.example.test/iso"}
	case "adminCreateUser":
		w.users++
		return map[string]string{"displayName": "Iso", "email": fmt.Sprintf("iso%d@example.test", w.users)}
	case "adminSetMember":
		if target == "globex" {
			return map[string]string{"role": "admin"}
		}
		return map[string]string{"role": "read"}
	}
	return nil
}

var isoParam = regexp.MustCompile(`\{[^}]+\}`)

// cell calls a route on a target as a caller and returns the status. It
// fails the test if a secret of another audience shows in the answer, or if
// a refused call, or a DELETE of nothing, changed the store.
func (w *isoEnv) cell(t *testing.T, rt api.Route, target, caller, want string) int {
	t.Helper()
	params := w.params(target)
	path := isoParam.ReplaceAllStringFunc(rt.Pattern, func(p string) string { return params[strings.Trim(p, "{}")] })
	body := w.body(rt.Operation, target)
	header := http.Header{}
	switch caller {
	case "none":
	case "malformed":
		header.Set("Authorization", "Basic tok-acme-admin")
	default:
		header.Set("Authorization", "Bearer "+w.tokens[caller])
	}
	// A refused call must leave the store as it was, and so must a DELETE
	// that answers 204 "did not exist" where a deletion answers 205: what
	// the caller may not see must not be deleted either (the refresh after
	// a success would hide it). The fingerprint tells cheaply whether
	// anything changed; the dump, taken only when the store changed since
	// the last one, tells what.
	refused := want < "200" || want > "299"
	unchanged := refused || (want == "204" && rt.Method == http.MethodDelete && isoDeletes[rt.Operation])
	var before string
	if unchanged {
		if before = w.db.Fingerprint(t); before != w.fingerprint {
			w.dump, w.fingerprint = w.db.Dump(t), before
		}
	}
	var res *apitest.Response
	res = w.e.DoWith(rt.Method, path, "", body, header)
	where := fmt.Sprintf("%s %s [%s] as %s", rt.Method, path, target, caller)

	// No text of another audience, and no token.
	request, _ := json.Marshal(body)
	sent := path + " " + string(request)
	for _, s := range isoSecrets {
		if strings.Contains(sent, s.text) || caller == "staff" || audience(s.audience, caller) {
			continue
		}
		if strings.Contains(string(res.Body), s.text) {
			t.Errorf("%s: the answer shows %q: %.300s", where, s.text, res.Body)
		}
	}
	for _, secret := range w.secrets {
		if strings.Contains(string(res.Body), secret) {
			t.Errorf("%s: the answer shows the token %q", where, secret)
		}
	}
	var minted struct{ Token string }
	if json.Unmarshal(res.Body, &minted) == nil && minted.Token != "" {
		w.secrets = append(w.secrets, minted.Token)
	}

	if unchanged && w.db.Fingerprint(t) != before {
		t.Errorf("%s: answered %d (want %s, which changes nothing), but the store changed:\n%s", where, res.Status, want, crashtest.Diff(w.dump, w.db.Dump(t)))
	}
	if res.Status >= 200 && res.Status < 300 && rt.Method != "GET" {
		w.refresh(t)
	}
	return res.Status
}

// audience reports whether a caller is in an audience.
func audience(list, caller string) bool {
	for _, a := range strings.Fields(list) {
		if a == caller || (a == "members" && strings.Contains(" admin create edit review comment read ", " "+caller+" ")) {
			return true
		}
	}
	return false
}
