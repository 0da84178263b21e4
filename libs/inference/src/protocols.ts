import type { EmbeddingProtocol } from './types.js';

/** A response that does not have the protocol's shape; the client turns it into EMBEDDINGS_INVALID. */
export class ResponseShapeError extends Error {
  override readonly name = 'ResponseShapeError';
}

/** How one protocol asks for embeddings and where its answer keeps them. */
export interface EmbeddingWire {
  /** The path under the server's base URL. */
  path: string;
  body(texts: readonly string[]): unknown;
  /** One raw (unchecked numbers) vector per text, in the order of the texts. */
  parse(json: unknown, count: number): unknown[][];
}

export interface WireOptions {
  model: string;
  /** KServe: the name of the BYTES input tensor. */
  kserveInputName: string;
  /** KServe: the output tensor to read; unset → the first floating-point one. */
  kserveOutputName?: string;
}

export function wireFor(protocol: EmbeddingProtocol, options: WireOptions): EmbeddingWire {
  switch (protocol) {
    case 'openai':
      return openai(options.model);
    case 'tei':
      return tei();
    case 'kserve':
      return kserve(options);
  }
}

/** OpenAI-compatible `POST /v1/embeddings` (OpenAI, vLLM, Ollama, TEI's own OpenAI route, …). */
function openai(model: string): EmbeddingWire {
  return {
    path: 'v1/embeddings',
    body: (texts) => ({ model, input: texts }),
    parse(json, count) {
      const data = field(json, 'data');
      if (!Array.isArray(data)) throw new ResponseShapeError('data is not an array');
      expectCount(data.length, count);
      const out: unknown[][] = new Array<unknown[]>(count);
      for (const item of data as unknown[]) {
        const index = field(item, 'index');
        const embedding = field(item, 'embedding');
        // The spec does not promise the order of `data`: `index` says which input each one is.
        if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= count) {
          throw new ResponseShapeError(`data[].index ${String(index)} is not an input's index`);
        }
        if (out[index as number] !== undefined) {
          throw new ResponseShapeError(`data[].index ${String(index)} appears twice`);
        }
        if (!Array.isArray(embedding)) {
          throw new ResponseShapeError('data[].embedding is not an array of floats');
        }
        out[index as number] = embedding as unknown[];
      }
      return out;
    },
  };
}

/** Hugging Face Text Embeddings Inference `POST /embed`: `{ inputs }` → `number[][]`. */
function tei(): EmbeddingWire {
  return {
    path: 'embed',
    body: (texts) => ({ inputs: texts }),
    parse(json, count) {
      if (!Array.isArray(json)) throw new ResponseShapeError('the answer is not an array');
      expectCount(json.length, count);
      return (json as unknown[]).map((row, i) => {
        if (!Array.isArray(row)) throw new ResponseShapeError(`vector ${i} is not an array`);
        return row as unknown[];
      });
    },
  };
}

const FLOAT_TYPES = new Set(['FP16', 'BF16', 'FP32', 'FP64']);

/**
 * KServe's Open Inference Protocol (v2) `POST /v2/models/{model}/infer`: the texts as one BYTES
 * tensor of shape [n]; the vectors come back as a floating-point tensor of shape [n, d], its data
 * flat in row-major order (nested rows are accepted too: the protocol allows both).
 */
function kserve(options: WireOptions): EmbeddingWire {
  return {
    path: `v2/models/${encodeURIComponent(options.model)}/infer`,
    body: (texts) => ({
      inputs: [
        { name: options.kserveInputName, shape: [texts.length], datatype: 'BYTES', data: texts },
      ],
    }),
    parse(json, count) {
      const outputs = field(json, 'outputs');
      if (!Array.isArray(outputs) || outputs.length === 0) {
        throw new ResponseShapeError('outputs is not a non-empty array');
      }
      const tensor = (outputs as unknown[]).find((o) =>
        options.kserveOutputName !== undefined
          ? field(o, 'name') === options.kserveOutputName
          : FLOAT_TYPES.has(String(field(o, 'datatype'))),
      );
      if (tensor === undefined) {
        throw new ResponseShapeError(
          options.kserveOutputName !== undefined
            ? `no output named ${options.kserveOutputName}`
            : 'no floating-point output tensor',
        );
      }
      const shape = field(tensor, 'shape');
      const data = field(tensor, 'data');
      if (
        !Array.isArray(shape) ||
        shape.length !== 2 ||
        !shape.every((n) => Number.isInteger(n) && (n as number) >= 0)
      ) {
        throw new ResponseShapeError(`output shape ${JSON.stringify(shape)} is not [n, d]`);
      }
      const [rows, dims] = shape as [number, number];
      expectCount(rows, count);
      if (!Array.isArray(data)) throw new ResponseShapeError('output data is not an array');
      if (Array.isArray(data[0])) {
        expectCount(data.length, count);
        return (data as unknown[]).map((row, i) => {
          if (!Array.isArray(row) || row.length !== dims) {
            throw new ResponseShapeError(`output row ${i} is not ${dims} values`);
          }
          return row as unknown[];
        });
      }
      const flat = data as unknown[];
      if (flat.length !== rows * dims) {
        throw new ResponseShapeError(
          `output data has ${flat.length} values, shape [${rows}, ${dims}] needs ${rows * dims}`,
        );
      }
      const out: unknown[][] = [];
      for (let i = 0; i < rows; i++) out.push(flat.slice(i * dims, (i + 1) * dims));
      return out;
    },
  };
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

function expectCount(got: number, want: number): void {
  if (got !== want) throw new ResponseShapeError(`${got} vectors for ${want} texts`);
}
