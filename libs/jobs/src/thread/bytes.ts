/**
 * Bytes that can move to another thread without a copy: `bytes` itself when it owns its whole
 * ArrayBuffer (a body or a Redis reply read into one allocation), else a copy. A slice of a larger
 * buffer (Buffer's small pooled ones) is copied, since moving it would take its neighbours along.
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const owns =
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer;
  return owns ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
