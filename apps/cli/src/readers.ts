import type { DocumentInputDto, Metadata } from '@keel/contracts';
import { DatasetError, jsonLines, readBeirCorpus as beirCorpus } from '@keel/evaluation/datasets';

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

/** Documents of a JSONL file: `{ id, text, title?, metadata? }` per line, streamed. */
export async function* readJsonl(file: string): AsyncGenerator<DocumentInputDto> {
  for await (const { value: o, line } of jsonLines(file)) {
    if (typeof o.id !== 'string' || typeof o.text !== 'string') {
      throw new DatasetError(file, line, 'needs string fields "id" and "text"');
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

/** The corpus of a BEIR-layout directory as documents; an abstract-less entry keeps its title. */
export async function* readBeirCorpus(dir: string): AsyncGenerator<DocumentInputDto> {
  for await (const d of beirCorpus(dir)) {
    const metadata = flatMetadata(d.metadata);
    yield {
      id: d.id,
      text: d.text.trim() === '' && d.title !== '' ? d.title : d.text,
      ...(d.title !== '' ? { title: d.title } : {}),
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
