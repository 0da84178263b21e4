import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './keel-server.js';

export interface SampleDocument {
  id: string;
  text: string;
  title?: string;
  metadata?: Record<string, string | number | boolean>;
}

/** The quickstart's sample corpus (samples/keel-sample.jsonl): 31 short articles. */
export function sampleDocuments(): SampleDocument[] {
  return readFileSync(join(REPO_ROOT, 'samples/keel-sample.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SampleDocument);
}
