// Bundles src/index.js into build/bundle.js with esbuild and Spin's esbuild plugin
// (@spinframework/build-tools), as Spin's http-js template does; `j2w` (npm run build)
// then makes the component from the bundle.
import { build } from 'esbuild';
import { SpinEsbuildPlugin } from '@spinframework/build-tools/plugins/esbuild/index.js';

await build({
    entryPoints: ['./src/index.js'],
    outfile: './build/bundle.js',
    bundle: true,
    format: 'esm',
    platform: 'node',
    plugins: [await SpinEsbuildPlugin()],
    logLevel: 'error',
});
