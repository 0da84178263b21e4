// The CPU a thread spends handing work to another thread that waits for a message on its event
// loop, as Keel's idle pool threads do (piscina's `atomics: 'disabled'`): after a pause (the other
// core has gone idle) against back to back. On a virtual machine, waking an idle vCPU is an
// inter-processor interrupt that traps to the host, and the waking thread pays for it. The linearity report sets it beside CPU seconds per request,
// whose low-load excess it explains (a request hands off to pool threads, and its response wakes
// the client, several times).
import { Worker } from 'node:worker_threads';

const WAITER = `
const { workerData: s, parentPort } = require('node:worker_threads');
parentPort.on('message', () => Atomics.add(s, 0, 1));`;

export interface WakeCost {
  /** Median CPU µs of the waking thread per hand-off to a thread idle for `gapMs`. */
  idleMicros: number;
  /** The same, to a thread that has just finished the previous hand-off. */
  busyMicros: number;
  gapMs: number;
  handOffs: number;
}

export async function measureWakeCost(handOffs = 300, gapMs = 20): Promise<WakeCost> {
  const state = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WAITER, { eval: true, workerData: state });
  const handOff = (): number => {
    const done = Atomics.load(state, 0);
    const before = process.threadCpuUsage();
    worker.postMessage(null);
    const used = process.threadCpuUsage(before);
    while (Atomics.load(state, 0) === done) {
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
