// An integration that handles installation_setup only: the runtime answers
// every other event with 406, which the server records as final.
import { createIntegration } from '@gitbook/runtime';

export default createIntegration({
    events: {
        installation_setup: async () => {},
    },
});
