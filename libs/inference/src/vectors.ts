/** A vector the client cannot use; the client turns it into EMBEDDINGS_INVALID. */
export class VectorError extends Error {
  override readonly name = 'VectorError';

  constructor(
    message: string,
    /** Set when the problem is the number of dimensions. */
    readonly dimensions?: { expected: number; got: number },
  ) {
    super(message);
  }
}

/**
 * Checks a response's vectors (all `expected` long, when given, else all as long as the first;
 * finite numbers; not all zero) and returns them scaled to unit L2 norm. Cosine similarity is then
 * a dot product, whatever the server's own normalisation.
 */
export function normaliseVectors(raw: readonly unknown[][], expected?: number): number[][] {
  const dims = expected ?? raw[0]?.length;
  return raw.map((vector, i) => {
    if (vector.length !== dims) {
      throw new VectorError(`vector ${i} has ${vector.length} dimensions, expected ${dims}`, {
        expected: dims ?? 0,
        got: vector.length,
      });
    }
    let sum = 0;
    for (const x of vector) {
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new VectorError(`vector ${i} has a value that is not a finite number`);
      }
      sum += x * x;
    }
    const norm = Math.sqrt(sum);
    if (norm === 0) throw new VectorError(`vector ${i} is all zeros`);
    // Squares of huge finite values can overflow to Infinity.
    if (!Number.isFinite(norm)) throw new VectorError(`vector ${i} has no finite norm`);
    return (vector as number[]).map((x) => x / norm);
  });
}
