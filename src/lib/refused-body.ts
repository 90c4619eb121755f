import type { IncomingMessage } from 'node:http';

/**
 * How much of a refused body is discarded, unparsed, after its answer (a 401, a 413): the answer leaves at once and the connection stays
 * open while the rest of the body is read and dropped, so a client still uploading reads its answer. Closing instead
 * (Connection: close) reset the connection with the body unread, and such a client lost its answer (EPIPE in 7 of 20
 * tries of a 15.7 MB upload). Beyond this the socket is dropped.
 */
export const REFUSED_BODY_DISCARD_LIMIT_BYTES = 32 * 1024 * 1024;

/** Answering before the body is read: whatever the refused request still sends is discarded unparsed, up to the cap. */
export function discardRefusedBody(req: IncomingMessage): void {
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > REFUSED_BODY_DISCARD_LIMIT_BYTES) {
      req.socket.destroy();
    }
  });
}
