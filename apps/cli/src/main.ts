#!/usr/bin/env node
// The `keel` command. The compile cache is switched on before anything else loads: Keel's start-up
// is mostly module loading, and a pod that scales out should not recompile the same code.
import { enableCompileCache } from 'node:module';

enableCompileCache();
// `keel eval … | head`: a reader that has gone is the end of the output, not a crash.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
// In a container with a memory limit, the heap must follow it: this may start Keel again with the
// right flag and only wait for it.
const { followMemoryLimit } = await import('./heap.js');
if (!(await followMemoryLimit())) await start();

async function start(): Promise<void> {
  // Decorators read and write metadata as their classes load; the polyfill has to be there first.
  await import('reflect-metadata');
  const { setLayout } = await import('./boot.js');
  setLayout(import.meta.url);
  const { run } = await import('./cli.js');
  run(process.argv);
}
