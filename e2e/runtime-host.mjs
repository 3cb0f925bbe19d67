// Runs integration scripts built with GitBook's runtime (npm @gitbook/runtime)
// as GitBook's platform runs them: bundled by esbuild with the options of
// `gitbook publish` / `gitbook dev` (npm @gitbook/cli 0.25.1, src/build.ts),
// then served by workerd through miniflare with the options of `gitbook dev`
// (src/dev.ts). Both esbuild and miniflare are the CLI's own dependencies.
//
//   node runtime-host.mjs MODE OUTDIR SCRIPT...
//
// MODE is "production" (the runtime then accepts events on /v1 only, as
// GitBook's dispatcher sends them) or "development" (any path, as through
// the `gitbook dev` tunnel). For each script it prints one line,
// "listening <script> <url>", then serves until SIGTERM or SIGINT.
import path from 'node:path';
import esbuild from 'esbuild';
import { Miniflare } from 'miniflare';

const [mode, outdir, ...scripts] = process.argv.slice(2);
if (!['production', 'development'].includes(mode) || !outdir || scripts.length === 0) {
    console.error('usage: node runtime-host.mjs production|development OUTDIR SCRIPT...');
    process.exit(2);
}

const servers = [];
for (const script of scripts) {
    const outfile = path.join(outdir, path.basename(script, path.extname(script)), 'script.js');
    // The options of buildScriptFromManifest in @gitbook/cli 0.25.1.
    await esbuild.build({
        platform: 'neutral',
        entryPoints: [script],
        outfile,
        bundle: true,
        format: 'esm',
        target: 'es2020',
        minify: mode === 'production',
        sourcemap: mode === 'development',
        write: true,
        mainFields: ['worker', 'browser', 'module', 'jsnext', 'main'],
        conditions: ['worker', 'browser', 'import', 'production'],
        define: {
            'process.env.NODE_ENV': JSON.stringify(mode),
            MODE: JSON.stringify(mode),
        },
        external: ['node:*', 'cloudflare:*'],
        jsx: 'automatic',
        jsxImportSource: '@gitbook/runtime',
        globalName: '__gitbook_integration',
        logLevel: 'warning',
    });
    // The options of getMiniflareOptions in @gitbook/cli 0.25.1, on a free port.
    const mf = new Miniflare({
        scriptPath: outfile,
        modules: true,
        modulesRoot: path.dirname(outfile),
        compatibilityDate: '2025-05-25',
        compatibilityFlags: ['nodejs_compat'],
        host: '127.0.0.1',
        port: 0,
        // The placeholder Request.cf object, instead of fetching one from
        // workers.cloudflare.com: the tests run offline.
        cf: false,
    });
    const url = await mf.ready;
    servers.push(mf);
    console.log(`listening ${script} ${url.href}`);
}

async function stop() {
    await Promise.all(servers.map((mf) => mf.dispose()));
    process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
