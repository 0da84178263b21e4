// The CPU a thread spends handing work to another thread that waits in Atomics.waitAsync on its
// event loop, as Keel's idle pool threads do (piscina's `atomics: 'async'`): after a pause (the other core has gone idle) against back to back. On a
// virtual machine, waking an idle vCPU is an inter-processor interrupt that traps to the host, and
// the waking thread pays for it. The linearity report sets it beside CPU seconds per request,
// whose low-load excess it explains (a request hands off to pool threads, and its response wakes
// the client, several times).
import { Worker } from 'node:worker_threads';

const WAITER = `
const { workerData: s } = require('node:worker_threads');
(async () => {
  for (;;) {
    const w = Atomics.waitAsync(s, 0, 0);
    if (w.async) await w.value;
    Atomics.store(s, 0, 0);
    Atomics.add(s, 1, 1);
  }
})();`;

export interface WakeCost {
  /** Median CPU µs of the waking thread per hand-off to a thread idle for `gapMs`. */
  idleMicros: number;
  /** The same, to a thread that has just finished the previous hand-off. */
  busyMicros: number;
  gapMs: number;
  handOffs: number;
}

export async function measureWakeCost(handOffs = 300, gapMs = 20): Promise<WakeCost> {
  const state = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(WAITER, { eval: true, workerData: state });
  const handOff = (): number => {
    const done = Atomics.load(state, 1);
    const before = process.threadCpuUsage();
    Atomics.store(state, 0, 1);
    Atomics.notify(state, 0, 1);
    const used = process.threadCpuUsage(before);
    while (Atomics.load(state, 1) === done) {
      // until the other thread has run it
    }
    return used.user + used.system;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  try {
    const idle: number[] = [];
    const busy: number[] = [];
    for (let i = 0; i < handOffs; i++) {
      await new Promise((r) => setTimeout(r, gapMs));
      idle.push(handOff());
      busy.push(handOff());
    }
    return { idleMicros: median(idle), busyMicros: median(busy), gapMs, handOffs };
  } finally {
    await worker.terminate();
  }
}
