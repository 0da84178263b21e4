// Bundles the compiled output (dist/, from tsc + tsc-alias) into a few large ES modules under
// dist/bundle/, keeping the relative layout of the entry points. Start-up is dominated by module
// resolution and loading (hundreds of files for Nest, Express and Swagger); one file per entry
// loads in a fraction of the time. Decorator metadata is already emitted by tsc, so bundling the
// JavaScript output is safe.
import { build } from 'esbuild';

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
  entryPoints: ['dist/apps/cli/src/main.js', 'dist/apps/worker/src/pool-thread.js'],
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
