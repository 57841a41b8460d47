import type { Readable } from 'node:stream';

/** Thrown by readAll when a body grows past its limit. */
export class BodyTooLarge extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`body larger than ${limit} bytes`);
    this.limit = limit;
    this.name = 'BodyTooLarge';
  }
}

/**
 * Reads a byte stream to its end with plain events (cheaper than an async iterator per
 * request). Rejects with BodyTooLarge past `limit` bytes (the stream is paused, not read
 * further), with the stream's own error, or with `closedEarly()` if it closes before its end.
 */
export function readAll(stream: Readable, limit: number, closedEarly?: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stream.pause();
        fail(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => fail(closedEarly ? closedEarly() : err);
    const onClose = () => fail(closedEarly ? closedEarly() : new Error('stream closed before its end'));
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
