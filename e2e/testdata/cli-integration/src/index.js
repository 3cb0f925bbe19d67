// The smallest integration script: GitBook's runtime calls fetch for every
// request routed to the integration. It needs no dependencies to bundle.
export default {
    async fetch() {
        return new Response('ok');
    },
};
