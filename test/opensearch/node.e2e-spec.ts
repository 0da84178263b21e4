// Smoke test of the OpenSearch node the harness starts (test/support/opensearch.ts): what Keel's
// OpenSearch backend needs of it works — the `english` analyzer (analysis-common), BM25
// multi_match, k-NN on the Lucene engine with a filter — through the official JavaScript client.
import { Client } from '@opensearch-project/opensearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSearchUrl } from '../support/opensearch.js';

const INDEX = `keel-smoke-${process.pid}`;

// Four-dimensional vectors standing in for embeddings: each document points mostly along one axis.
const DOCS = [
  {
    id: 'dogs',
    title: 'Dogs in the park',
    text: 'The dog runs after a ball while other dogs are running on the grass.',
    lang: 'en',
    embedding: [0.9, 0.1, 0, 0],
  },
  {
    id: 'cats',
    title: 'Cats at home',
    text: 'A cat sleeps on the sofa; cats sleep most of the day.',
    lang: 'en',
    embedding: [0.1, 0.9, 0, 0],
  },
  {
    id: 'queues',
    title: 'Queues and workers',
    text: 'Workers consume jobs from a queue; the backlog grows when the workers are saturated.',
    lang: 'en',
    embedding: [0, 0.1, 0.9, 0.1],
  },
  {
    id: 'hunde',
    title: 'Hunde im Park',
    text: 'Der Hund rennt dem Ball hinterher.',
    lang: 'de',
    embedding: [1, 0, 0, 0],
  },
];

describe('OpenSearch node (harness)', () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ node: openSearchUrl(), requestTimeout: 30_000 });
    await client.indices.delete({ index: INDEX, ignore_unavailable: true });
  });

  afterAll(async () => {
    await client?.indices.delete({ index: INDEX, ignore_unavailable: true });
    await client?.close();
  });

  it('answers with a 2.19 cluster in good health', async () => {
    const info = await client.info();
    expect(info.body.version.distribution).toBe('opensearch');
    expect(info.body.version.number).toMatch(/^2\.19\./);

    const health = await client.cluster.health({ wait_for_status: 'yellow', timeout: '30s' });
    expect(health.body.timed_out).toBe(false);
    expect(['green', 'yellow']).toContain(health.body.status);
    expect(health.body.number_of_nodes).toBe(1);

    const plugins = await client.cat.plugins({ format: 'json' });
    const components = (plugins.body as Array<{ component: string }>).map((p) => p.component);
    expect(components).toEqual(
      expect.arrayContaining([
        'org.opensearch.knn.plugin.KNNPlugin',
        'org.opensearch.analysis.common.CommonAnalysisPlugin',
        'org.opensearch.painless.PainlessPlugin',
        'org.opensearch.transport.Netty4Plugin',
      ]),
    );
  });

  it('creates an index with the english analyzer and a Lucene HNSW knn_vector field', async () => {
    const created = await client.indices.create({
      index: INDEX,
      body: {
        settings: { index: { knn: true, number_of_shards: 1, number_of_replicas: 0 } },
        mappings: {
          properties: {
            title: { type: 'text', analyzer: 'english' },
            text: { type: 'text', analyzer: 'english' },
            lang: { type: 'keyword' },
            embedding: {
              type: 'knn_vector',
              dimension: 4,
              method: { name: 'hnsw', engine: 'lucene', space_type: 'cosinesimil' },
            },
          },
        },
      },
    });
    expect(created.body.acknowledged).toBe(true);

    const analyzed = await client.indices.analyze({
      index: INDEX,
      body: { analyzer: 'english', text: 'The dogs are running' },
    });
    // Stop words removed, plurals and -ing stemmed.
    expect(analyzed.body.tokens?.map((t) => t.token)).toEqual(['dog', 'run']);

    const bulk = await client.bulk({
      refresh: 'wait_for',
      body: DOCS.flatMap(({ id, ...doc }) => [{ index: { _index: INDEX, _id: id } }, doc]),
    });
    expect(bulk.body.errors).toBe(false);
    expect(bulk.body.items).toHaveLength(DOCS.length);
  });

  it('ranks by BM25 with multi_match through the english analyzer', async () => {
    const res = await client.search({
      index: INDEX,
      body: {
        query: { multi_match: { query: 'running dog', fields: ['title^2', 'text'] } },
      },
    });
    const ids = res.body.hits.hits.map((h) => h._id);
    // "running dog" matches "runs", "running", "dogs" only after stemming; German text has none.
    expect(ids).toEqual(['dogs']);
    expect(res.body.hits.hits[0]._score).toBeGreaterThan(0);

    const none = await client.search({
      index: INDEX,
      body: { query: { multi_match: { query: 'kubernetes', fields: ['title', 'text'] } } },
    });
    expect(none.body.hits.hits).toHaveLength(0);
  });

  it('finds nearest neighbours with knn, and a filter keeps other documents out', async () => {
    const query = [1, 0.05, 0, 0];
    const all = await client.search({
      index: INDEX,
      body: { size: 3, query: { knn: { embedding: { vector: query, k: 3 } } } },
    });
    const allIds = all.body.hits.hits.map((h) => h._id);
    expect(allIds.slice(0, 2)).toEqual(['hunde', 'dogs']);
    // Lucene's cosine score is (1 + cos) / 2: near 1 for the nearly parallel vector.
    expect(all.body.hits.hits[0]._score).toBeGreaterThan(0.99);
    expect(all.body.hits.hits[0]._score).toBeLessThanOrEqual(1);

    const english = await client.search({
      index: INDEX,
      body: {
        size: 3,
        query: {
          knn: { embedding: { vector: query, k: 3, filter: { term: { lang: 'en' } } } },
        },
      },
    });
    const ids = english.body.hits.hits.map((h) => h._id);
    expect(ids[0]).toBe('dogs');
    expect(ids).not.toContain('hunde');
    expect(ids).toHaveLength(3);
    const scores = english.body.hits.hits.map((h) => h._score!);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });
});
