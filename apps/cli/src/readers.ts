import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DocumentInputDto, Metadata } from '@keel/contracts';

export class InputError extends Error {
  override readonly name = 'InputError';
}

async function* lines(file: string): AsyncGenerator<{ line: string; number: number }> {
  if (!existsSync(file)) throw new InputError(`${file}: no such file`);
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let number = 0;
  for await (const line of rl) {
    number += 1;
    if (line.trim() !== '') yield { line, number };
  }
}

function flatMetadata(value: unknown): Metadata | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Metadata = {};
  for (const [k, v] of Object.entries(value)) {
    if (
      typeof v === 'string' ||
      typeof v === 'boolean' ||
      (typeof v === 'number' && Number.isFinite(v))
    ) {
      out[k] = v;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function parse(file: string, line: string, number: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InputError(`${file}:${number}: not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${file}:${number}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Documents of a JSONL file: `{ id, text, title?, metadata? }` per line, streamed. */
export async function* readJsonl(file: string): AsyncGenerator<DocumentInputDto> {
  for await (const { line, number } of lines(file)) {
    const o = parse(file, line, number);
    if (typeof o.id !== 'string' || typeof o.text !== 'string') {
      throw new InputError(`${file}:${number}: needs string fields "id" and "text"`);
    }
    const metadata = flatMetadata(o.metadata);
    yield {
      id: o.id,
      text: o.text,
      ...(typeof o.title === 'string' && o.title !== '' ? { title: o.title } : {}),
      ...(metadata ? { metadata } : {}),
    };
  }
}

/** The corpus of a BEIR-layout directory (`corpus.jsonl` with `_id`, `title`, `text`). */
export async function* readBeirCorpus(dir: string): AsyncGenerator<DocumentInputDto> {
  const file = join(dir, 'corpus.jsonl');
  for await (const { line, number } of lines(file)) {
    const o = parse(file, line, number);
    if (typeof o._id !== 'string' || typeof o.text !== 'string') {
      throw new InputError(`${file}:${number}: needs string fields "_id" and "text"`);
    }
    const metadata = flatMetadata(o.metadata);
    yield {
      id: o._id,
      text: o.text.trim() === '' ? (typeof o.title === 'string' ? o.title : o.text) : o.text,
      ...(typeof o.title === 'string' && o.title !== '' ? { title: o.title } : {}),
      ...(metadata ? { metadata } : {}),
    };
  }
}

export async function* batches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
