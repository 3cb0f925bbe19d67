// An integration written with GitBook's runtime, as integrations in
// GitbookIO/integrations are. Each handler calls the API back with the
// client the runtime gives it (context.api: the installation token when the
// event has an installation, else the integration token), then reports the
// event and the answers to the test's recorder, whose URL is the
// integration's RECORDER_URL secret.
import { createIntegration } from '@gitbook/runtime';

/** Runs an API call and returns its status and data, or its error. */
async function call(op, fn) {
    try {
        const res = await fn();
        return { op, status: res.status, data: res.data };
    } catch (error) {
        return { op, status: error.code ?? 0, error: String(error.message ?? error) };
    }
}

/** Sends what a handler saw to the recorder; a failure fails the event. */
async function report(context, event, calls) {
    const { environment } = context;
    const res = await fetch(environment.secrets.RECORDER_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
            // MODE is defined when the script is bundled, as the CLI does.
            mode: MODE,
            event,
            calls,
            environment: {
                apiEndpoint: environment.apiEndpoint,
                integration: environment.integration.name,
                installation: environment.installation?.id ?? null,
                spaceInstallation: environment.spaceInstallation?.space ?? null,
                hasInstallationToken: Boolean(environment.apiTokens.installation),
            },
        }),
    });
    if (!res.ok) {
        throw new Error(`the recorder answered ${res.status}`);
    }
}

export default createIntegration({
    events: {
        installation_setup: async (event, context) => {
            const name = context.environment.integration.name;
            const calls = [
                await call('getIntegrationInstallationById', () =>
                    context.api.integrations.getIntegrationInstallationById(name, event.installationId),
                ),
            ];
            if (!event.previous) {
                // A new installation: queue a task with the runtime's helper,
                // which calls queueIntegrationTask with the integration token.
                calls.push(
                    await call('queueTask', async () => {
                        await context.integration.queueTask({
                            task: { type: 'after-setup', installationId: event.installationId },
                        });
                        return { status: 204 };
                    }),
                );
            }
            await report(context, event, calls);
        },
        installation_deleted: async (event, context) => {
            // The installation is gone: context.api holds the integration token.
            const name = context.environment.integration.name;
            await report(context, event, [
                await call('listIntegrationInstallations', () =>
                    context.api.integrations.listIntegrationInstallations(name),
                ),
            ]);
        },
        space_installation_setup: async (event, context) => {
            const name = context.environment.integration.name;
            await report(context, event, [
                await call('getIntegrationSpaceInstallation', () =>
                    context.api.integrations.getIntegrationSpaceInstallation(
                        name,
                        event.installationId,
                        event.spaceId,
                    ),
                ),
                await call('getSpaceById', () => context.api.spaces.getSpaceById(event.spaceId)),
            ]);
        },
        space_installation_deleted: async (event, context) => {
            const name = context.environment.integration.name;
            await report(context, event, [
                await call('getIntegrationInstallationById', () =>
                    context.api.integrations.getIntegrationInstallationById(name, event.installationId),
                ),
                await call('getIntegrationSpaceInstallation', () =>
                    context.api.integrations.getIntegrationSpaceInstallation(
                        name,
                        event.installationId,
                        event.spaceId,
                    ),
                ),
            ]);
        },
        space_visibility_updated: async (event, context) => {
            await report(context, event, [
                await call('getSpaceById', () => context.api.spaces.getSpaceById(event.spaceId)),
            ]);
        },
    },
    task: async (task, context) => {
        // Tasks belong to no installation: context.api holds the integration token.
        const name = context.environment.integration.name;
        const calls = [await call('getIntegrationByName', () => context.api.integrations.getIntegrationByName(name))];
        if (task.installationId) {
            calls.push(
                await call('getIntegrationInstallationById', () =>
                    context.api.integrations.getIntegrationInstallationById(name, task.installationId),
                ),
            );
        }
        await report(context, { type: 'task', task }, calls);
    },
});
