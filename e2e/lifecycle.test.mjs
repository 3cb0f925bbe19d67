// The whole life cycle of an integration, driven with GitBook's own API client
// (npm @gitbook/api, pinned in package.json) against this server.
//
// e2e_test.go starts the server and runs this file with `node --test`,
// passing in the environment:
//   E2E_ENDPOINT          the server's base URL, without /v1
//   E2E_TOKEN             API token of an admin of E2E_ORGANIZATION
//   E2E_ORGANIZATION      an organization id
//   E2E_SPACES            two space ids of that organization, comma-separated
//   E2E_OUTSIDER_TOKEN    API token of a user outside that organization
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GitBookAPI, GitBookAPIError } from '@gitbook/api';

function env(name) {
    const value = process.env[name];
    if (!value) {
        throw new Error(`environment variable ${name} is not set; run this test through go test ./e2e/`);
    }
    return value;
}

const endpoint = env('E2E_ENDPOINT');
const organization = env('E2E_ORGANIZATION');
const [spaceA, spaceB] = env('E2E_SPACES').split(',');
const api = new GitBookAPI({ endpoint, authToken: env('E2E_TOKEN') });
const outsider = new GitBookAPI({ endpoint, authToken: env('E2E_OUTSIDER_TOKEN') });

const name = 'e2e-diagrams';

/** The names of the integrations enabled in a space. */
async function enabledIn(spaceId, params) {
    const { data } = await api.spaces.listSpaceIntegrations(spaceId, params);
    return data.items.map((integration) => integration.name);
}

/** The names of the integrations with blocks in a space. */
async function blocksIn(spaceId) {
    const { data } = await api.spaces.listSpaceIntegrationsBlocks(spaceId);
    return data.map((entry) => entry.name);
}

/** Asserts that promise rejects with a GitBookAPIError of the given status. */
async function rejectsWith(promise, status) {
    await assert.rejects(promise, (error) => {
        assert.ok(error instanceof GitBookAPIError, `expected a GitBookAPIError, got ${error}`);
        assert.equal(error.code, status, error.message);
        return true;
    });
}

test('life cycle of an integration with @gitbook/api', async (t) => {
    let installationId;

    await t.test('publish an integration with blocks', async () => {
        const body = {
            runtime: 'v2',
            title: 'E2E Diagrams',
            description: 'Diagrams, published by the end-to-end test',
            organization,
            visibility: 'private',
            target: 'all',
            scopes: ['space:content:read'],
            categories: ['content'],
            blocks: [{ id: 'diagram', title: 'Diagram' }],
            configurations: {
                space: {
                    properties: { theme: { type: 'string', title: 'Theme', enum: ['light', 'dark'] } },
                },
            },
            script: 'export default { async fetch() { return new Response("ok"); } };',
        };
        const first = await api.integrations.publishIntegration(name, body);
        assert.equal(first.status, 200);
        assert.equal(first.data.name, name);
        assert.equal(first.data.title, 'E2E Diagrams');
        assert.deepEqual(
            first.data.blocks.map((block) => block.id),
            ['diagram'],
        );
        assert.equal(first.data.owner.id, organization);

        const again = await api.integrations.publishIntegration(name, { ...body, title: 'E2E Diagrams 2' });
        assert.equal(again.data.version, first.data.version + 1);

        const { data } = await api.integrations.getIntegrationByName(name);
        assert.equal(data.title, 'E2E Diagrams 2');
        assert.equal(data.version, again.data.version);

        // Private: the owning organization's members see it, outsiders get 404.
        await rejectsWith(outsider.integrations.getIntegrationByName(name), 404);
    });

    await t.test('install it on the organization', async () => {
        const res = await api.integrations.installIntegration(name, { organization });
        assert.equal(res.status, 201);
        installationId = res.data.id;
        assert.ok(installationId);
        assert.equal(res.data.space_selection, 'selected');
        assert.deepEqual(res.data.target, { organization });
        assert.ok(
            res.headers.get('location').endsWith(`/v1/integrations/${name}/installations/${installationId}`),
            res.headers.get('location'),
        );
        // Installed but enabled on no space yet.
        assert.ok(!(await enabledIn(spaceA)).includes(name));
    });

    await t.test('enable it on a space', async () => {
        const res = await api.integrations.installIntegrationOnSpace(name, installationId, { space: spaceA });
        assert.equal(res.status, 201);
        assert.equal(res.data.space, spaceA);
        assert.equal(res.data.installation, installationId);
        assert.ok(res.headers.get('location').endsWith(`/spaces/${spaceA}`), res.headers.get('location'));

        const { data } = await api.integrations.getIntegrationSpaceInstallation(name, installationId, spaceA);
        assert.equal(data.space, spaceA);
    });

    await t.test('list space integrations, with and without search', async () => {
        const { data } = await api.spaces.listSpaceIntegrations(spaceA);
        const listed = data.items.find((integration) => integration.name === name);
        assert.ok(listed, `${name} not in ${JSON.stringify(data.items.map((i) => i.name))}`);
        assert.equal(data.count, data.items.length);
        assert.equal(listed.permissions.admin, true);

        assert.deepEqual(await enabledIn(spaceA, { search: 'e2e DIAGRAMS' }), [name]);
        assert.deepEqual(await enabledIn(spaceA, { search: 'no-such-integration' }), []);
        assert.ok(!(await enabledIn(spaceB)).includes(name), 'enabled in a space it was not installed on');
    });

    await t.test('list space integration blocks', async () => {
        const { data } = await api.spaces.listSpaceIntegrationsBlocks(spaceA);
        const entry = data.find((e) => e.name === name);
        assert.ok(entry, JSON.stringify(data));
        assert.deepEqual(
            entry.blocks.map((block) => block.id),
            ['diagram'],
        );
        assert.ok(!(await blocksIn(spaceB)).includes(name));
    });

    await t.test('update the installation', async () => {
        const { data } = await api.integrations.updateIntegrationInstallation(name, installationId, {
            externalIds: ['e2e-external'],
            space_selection: 'all',
        });
        assert.deepEqual(data.externalIds, ['e2e-external']);
        assert.equal(data.space_selection, 'all');
        // space_selection "all" enables it everywhere in the organization ...
        assert.ok((await enabledIn(spaceB)).includes(name));
        assert.ok((await blocksIn(spaceB)).includes(name));

        // ... and back to "selected" only where a space installation exists.
        await api.integrations.updateIntegrationInstallation(name, installationId, { space_selection: 'selected' });
        assert.ok(!(await enabledIn(spaceB)).includes(name));
        assert.ok((await enabledIn(spaceA)).includes(name));

        const space = await api.integrations.updateIntegrationSpaceInstallation(name, installationId, spaceA, {
            configuration: { theme: 'dark' },
        });
        assert.deepEqual(space.data.configuration, { theme: 'dark' });
        await rejectsWith(
            api.integrations.updateIntegrationSpaceInstallation(name, installationId, spaceA, {
                configuration: { theme: 'purple' },
            }),
            400,
        );
    });

    await t.test('mint tokens and use an installation client', async () => {
        // The integration token comes from the server's extension: GitBook
        // has no API operation for it.
        const res = await fetch(`${endpoint}/ext/integrations/${name}/tokens`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${env('E2E_TOKEN')}` },
        });
        assert.equal(res.status, 201, await res.clone().text());
        const { token } = await res.json();
        assert.ok(token);

        const integration = new GitBookAPI({ endpoint, authToken: token });
        const installations = await integration.integrations.listIntegrationInstallations(name);
        assert.deepEqual(
            installations.data.items.map((i) => i.id),
            [installationId],
        );
        const byExternalId = await integration.integrations.listIntegrationInstallations(name, {
            externalId: 'e2e-external',
        });
        assert.deepEqual(
            byExternalId.data.items.map((i) => i.id),
            [installationId],
        );

        const installation = await integration.createInstallationClient(name, installationId);
        assert.ok(installation instanceof GitBookAPI);
        const { data } = await installation.integrations.getIntegrationInstallationById(name, installationId);
        assert.equal(data.id, installationId);

        const spaces = await installation.integrations.listIntegrationSpaceInstallations(name);
        assert.deepEqual(
            spaces.data.items.map((s) => s.space),
            [spaceA],
        );
        const space = await installation.spaces.getSpaceById(spaceA);
        assert.equal(space.data.id, spaceA);
        // The installation token reaches only the installation's spaces.
        await rejectsWith(installation.spaces.getSpaceById(spaceB), 404);
    });

    await t.test('disable it on the space', async () => {
        const res = await api.integrations.uninstallIntegrationFromSpace(name, installationId, spaceA);
        assert.equal(res.status, 205);
        assert.ok(!(await enabledIn(spaceA)).includes(name));
        assert.ok(!(await blocksIn(spaceA)).includes(name));
        await rejectsWith(api.integrations.getIntegrationSpaceInstallation(name, installationId, spaceA), 404);
    });

    await t.test('uninstall it from the organization', async () => {
        const res = await api.integrations.uninstallIntegration(name, installationId);
        assert.equal(res.status, 205);
        await rejectsWith(api.integrations.getIntegrationInstallationById(name, installationId), 404);
    });

    await t.test('unpublish it', async () => {
        const res = await api.integrations.unpublishIntegration(name);
        assert.equal(res.status, 205);
        await rejectsWith(api.integrations.getIntegrationByName(name), 404);
        const again = await api.integrations.unpublishIntegration(name);
        assert.equal(again.status, 204);
    });
});

test('errors reach the client as GitBookAPIError', async (t) => {
    await t.test('404 for an unknown space, with the server message', async () => {
        const url = `${endpoint}/v1/spaces/no-such-space/integrations`;
        const raw = await fetch(url, { headers: { Authorization: `Bearer ${env('E2E_TOKEN')}` } });
        const body = await raw.json();
        assert.equal(raw.status, 404);
        assert.equal(body.error.code, 404);
        assert.ok(body.error.message);

        await assert.rejects(api.spaces.listSpaceIntegrations('no-such-space'), (error) => {
            assert.ok(error instanceof GitBookAPIError);
            assert.equal(error.name, 'GitBookAPIError');
            assert.equal(error.code, 404);
            assert.equal(error.errorMessage, body.error.message);
            assert.match(error.message, /\[404\]/);
            assert.ok(error.message.includes(body.error.message), error.message);
            return true;
        });
    });

    await t.test('404 for a space of another organization, the same as for none', async () => {
        await rejectsWith(outsider.spaces.listSpaceIntegrations(spaceA), 404);
        await rejectsWith(outsider.spaces.getSpaceById(spaceA), 404);
    });

    await t.test('401 for a bad token', async () => {
        const stranger = new GitBookAPI({ endpoint, authToken: 'not-a-token' });
        await rejectsWith(stranger.user.getAuthenticatedUser(), 401);
    });
});
