// Bundles the compiled output (dist/, from tsc + tsc-alias) into a few large ES modules under
// dist/bundle/, keeping the relative layout of the entry points. Start-up is dominated by module
// resolution and loading (hundreds of files for Nest, Express and Swagger); one file per entry
// loads in a fraction of the time. Decorator metadata is already emitted by tsc, so bundling the
// JavaScript output is safe.
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

/**
 * Node builds the ES-module facade of a builtin by reading every export, and node:http's
 * `WebSocket`, `CloseEvent` and `MessageEvent` getters load undici for it (about 30 ms of start-up,
 * for classes Keel never uses). Nest and Keel import node:http as an ES module; this gives those
 * imports the same module through require(), which makes no facade. Its other exports are listed
 * from the building Node; the getters left out stay reachable on the default export.
 */
const httpWithoutUndici = {
  name: 'http-without-undici',
  setup(build) {
    const lazy = new Set(['WebSocket', 'CloseEvent', 'MessageEvent']);
    build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === 'import-statement' ? { path: 'node:http', namespace: 'keel-http' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'keel-http' }, () => {
      const names = Object.keys(require('node:http')).filter((name) => !lazy.has(name));
      return {
        contents: [
          "const http = require('node:http');",
          'export default http;',
          `export const { ${names.join(', ')} } = http;`,
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

/**
 * Dependencies that the bundle would evaluate at start-up for features Keel does not use, loaded
 * on first call instead: multer (Nest's file-upload interceptors, which import it at the top; with
 * its own copy of mime-db, ~20 ms) and libphonenumber-js (class-validator's IsPhoneNumber, ~10 ms).
 * Each stand-in has exactly the shape its importers use: multer is called, libphonenumber's
 * parsePhoneNumber is called.
 */
const onFirstUse = {
  name: 'on-first-use',
  setup(build) {
    const standIns = {
      multer: "export default function multer(options) { return require('multer')(options); }",
      'libphonenumber-js/max':
        "exports.parsePhoneNumber = (...args) => require('libphonenumber-js/max').parsePhoneNumber(...args);",
    };
    // The stand-in's own require() is left to run time (resolved from node_modules, where npm
    // hoists both packages).
    build.onResolve({ filter: /^(multer|libphonenumber-js\/max)$/ }, (args) =>
      args.namespace === 'keel-first-use'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'keel-first-use' },
    );
    build.onLoad({ filter: /.*/, namespace: 'keel-first-use' }, (args) => ({
      contents: standIns[args.path],
      loader: 'js',
    }));
  },
};

// Left to node_modules: packages that locate files relative to themselves at run time (piscina's
// worker script, sqlite-vec's native extension, swagger-ui-dist's assets, gpt-tokenizer's lazily
// required encodings), and optional peers of Nest that Keel does not install.
const external = [
  'piscina',
  'sqlite-vec',
  'swagger-ui-dist',
  'gpt-tokenizer',
  'gpt-tokenizer/*',
  '@nestjs/microservices',
  '@nestjs/microservices/*',
  '@nestjs/websockets',
  '@nestjs/websockets/*',
  '@nestjs/platform-fastify',
  '@fastify/static',
  'class-transformer/storage',
  '@grpc/*',
  'kafkajs',
  'mqtt',
  'nats',
  'ioredis',
  // BullMQ and Bull Board load only in distributed mode; Bull Board serves its UI from its package.
  'bullmq',
  '@bull-board/*',
  'amqplib',
  'amqp-connection-manager',
];

await build({
  entryPoints: [
    'dist/apps/cli/src/main.js',
    'dist/apps/worker/src/pool-thread.js',
    'dist/apps/api/src/body/body-thread.js',
  ],
  outbase: 'dist',
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  external,
  plugins: [httpWithoutUndici, onFirstUse],
  // CommonJS packages inside an ES module bundle still call require(), __dirname and __filename.
  banner: {
    js: [
      "import { createRequire as __keelCreateRequire } from 'node:module';",
      "import { fileURLToPath as __keelFileURLToPath } from 'node:url';",
      "import { dirname as __keelDirname } from 'node:path';",
      'const require = __keelCreateRequire(import.meta.url);',
      'const __filename = __keelFileURLToPath(import.meta.url);',
      'const __dirname = __keelDirname(__filename);',
    ].join('\n'),
  },
  logLevel: 'warning',
  legalComments: 'linked',
});
