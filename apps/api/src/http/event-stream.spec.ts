import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { sendEventStream, type SseEvent } from './event-stream.js';

const EVENT_TEXT = 'x'.repeat(1_000);
const EVENTS = 5_000; // about 5 MB of events: far more than the socket buffers hold
const closers: Array<() => void> = [];

/**
 * A real HTTP server whose one route streams EVENTS events, counting how many were produced. On
 * a Unix socket: loopback TCP here may buffer 36 MB in the kernel (tcp_rmem + tcp_wmem), a Unix
 * socket a few hundred KB, so what the process itself holds back is what the test sees.
 */
async function streamingServer(signal?: () => AbortSignal) {
  const produced = { count: 0, finished: false };
  const app = express();
  app.get('/stream', (_req, res) => {
    async function* events(): AsyncGenerator<SseEvent> {
      for (let i = 0; i < EVENTS; i++) {
        // A model's stream awaits its socket between deltas.
        await Promise.resolve();
        produced.count++;
        yield { event: 'delta', data: { text: EVENT_TEXT } };
      }
      produced.finished = true;
    }
    void sendEventStream(res, events(), 'req-1', signal?.());
  });
  const dir = mkdtempSync(join(tmpdir(), 'keel-sse-'));
  const path = join(dir, 'http.sock');
  const server = app.listen(path);
  await once(server, 'listening');
  closers.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { produced, path };
}

/** A client that sends the request and then does not read until told to. */
async function pausedClient(path: string): Promise<Socket> {
  const socket = connect(path);
  await once(socket, 'connect');
  socket.pause();
  socket.write('GET /stream HTTP/1.1\r\nhost: keel\r\naccept: text/event-stream\r\n\r\n');
  return socket;
}

const settle = () => new Promise((r) => setTimeout(r, 300));
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe('sendEventStream backpressure', () => {
  it('stops producing events while the client does not read, and sends them all once it does', async () => {
    const { produced, path } = await streamingServer();
    const socket = await pausedClient(path);
    closers.push(() => socket.destroy());
    await settle();
    // What the kernel's socket buffers and the stream's high-water mark hold, not 5 MB.
    expect(produced.count).toBeGreaterThan(0);
    expect(produced.count).toBeLessThan(EVENTS / 2);
    const stalled = produced.count;
    await settle();
    expect(produced.count).toBe(stalled);

    let bytes = 0;
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.resume();
    await expect.poll(() => produced.finished, { timeout: 10_000 }).toBe(true);
    await expect.poll(() => bytes, { timeout: 10_000 }).toBeGreaterThan(EVENTS * EVENT_TEXT.length);
  });

  it("cuts off a client that stops reading once the request's signal aborts", async () => {
    const controller = new AbortController();
    const { produced, path } = await streamingServer(() => controller.signal);
    const socket = await pausedClient(path);
    closers.push(() => socket.destroy());
    await settle();
    const closed = once(socket, 'close');
    controller.abort();
    socket.resume(); // the destroyed response shows as the socket closing
    await closed;
    expect(produced.finished).toBe(false);
  });
});
