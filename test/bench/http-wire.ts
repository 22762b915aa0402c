// Just enough HTTP/1.1 for the generator: raw request bytes out, one
// Content-Length response back.
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

export interface WireResponse {
  status: number;
  contentType: string;
  body: Buffer;
  length: number;
}

/** Parses one response with Content-Length from the start of `buf`; null while incomplete. */
export function parseResponse(buf: Buffer): WireResponse | null {
  const end = buf.indexOf(HEADER_END);
  if (end < 0) return null;
  const head = buf.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (!m) throw new Error(`response without Content-Length: ${head.split('\r\n')[0]}`);
  const total = end + 4 + Number(m[1]);
  if (buf.length < total) return null;
  const contentType = /\r\ncontent-type:\s*([^\r]*)/i.exec(head)?.[1] ?? '';
  return { status, contentType, body: buf.subarray(end + 4, total), length: total };
}

/** Sends one request on a new connection and returns the answer. */
export function fetchOnce(port: number, request: Buffer): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const res = parseResponse(buf);
        if (res) {
          socket.destroy();
          resolve(res);
        }
      } catch (err) {
        socket.destroy();
        reject(err as Error);
      }
    });
    socket.on('error', reject);
    socket.on('end', () => reject(new Error('connection closed before the answer')));
  });
}
