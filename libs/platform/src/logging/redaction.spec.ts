// class-transformer's @Type needs the metadata polyfill that apps/cli/src/main.ts loads.
import 'reflect-metadata';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/keel-config.js';
import { LOG_REDACTION } from './redaction.js';

function capture(): { logger: pino.Logger; text: () => string } {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  return { logger: pino({ redact: LOG_REDACTION }, sink), text: () => out };
}

describe('log redaction', () => {
  const env = {
    EMBEDDINGS_URL: 'http://embedder:8080',
    EMBEDDINGS_MODEL: 'm',
    EMBEDDINGS_API_KEY: 'sk-embed-1234',
    LLM_URL: 'http://llm:8000',
    LLM_MODEL: 'llama',
    LLM_API_KEY: 'sk-llm-5678',
    KEEL_ADMIN_TOKEN: 'admin-token-0123456789',
  };

  it('censors the API keys wherever the config lands in a line', () => {
    const config = loadConfig(env);
    const { logger, text } = capture();
    logger.info({ config }, 'boot');
    logger.info({ embeddings: config.embeddings }, 'embeddings');
    logger.info(config.embeddings, 'flat');
    logger.info({ env }, 'the environment');
    logger.info(env, 'the environment, flat');
    const out = text();
    expect(out.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(9);
    for (const secret of Object.values(env).filter((v) => /sk-|token/.test(v))) {
      expect(out).not.toContain(secret);
    }
    // The rest of the line stays readable.
    expect(out).toContain('http://embedder:8080');
  });
});
