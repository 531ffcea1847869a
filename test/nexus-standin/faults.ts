/**
 * Fault injection: what a flaky Nexus, proxy or network does to a request. Faults are
 * matched in the order injected; each match consumes one of its `times`.
 */
import type { ServerResponse } from 'node:http';
import type { StandinFault } from './types.ts';

interface Armed {
  fault: StandinFault;
  remaining: number;
}

export class Faults {
  readonly #armed: Armed[] = [];

  inject(fault: StandinFault): void {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error(`fault: times must be a positive integer, got ${times}`);
    this.#armed.push({ fault, remaining: times });
  }

  clear(): void {
    this.#armed.length = 0;
  }

  /** The first armed fault matching this request, consumed; undefined when none. */
  take(method: string, url: string): StandinFault | undefined {
    for (let i = 0; i < this.#armed.length; i++) {
      const armed = this.#armed[i];
      if (armed === undefined) continue;
      const { fault } = armed;
      if (fault.method !== undefined && fault.method.toUpperCase() !== method.toUpperCase()) continue;
      fault.url.lastIndex = 0; // a /g or /y RegExp keeps state between tests
      if (!fault.url.test(url)) continue;
      armed.remaining--;
      if (armed.remaining === 0) this.#armed.splice(i, 1);
      return fault;
    }
    return undefined;
  }
}

type WriteCallback = (error?: Error | null) => void;
interface Writable {
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean;
  end(chunk?: unknown, encoding?: unknown, callback?: unknown): unknown;
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.alloc(0);
}

/**
 * Rewrites a response's body on its way out. `truncate` lets the headers (with the full
 * Content-Length) and the first N body bytes through, then destroys the socket; a body no
 * longer than N goes out whole. `corrupt` flips every bit of the byte in the middle of the
 * body (by Content-Length), keeping the length.
 */
export function interceptBody(
  res: ServerResponse,
  mode: { kind: 'truncate'; afterBytes: number } | { kind: 'corrupt' },
  onCut: () => void,
): void {
  const target = res as unknown as Writable;
  const write = target.write.bind(res);
  const end = target.end.bind(res);
  let offset = 0;
  let cut = false;
  // writeHead(status, {…}) does not populate getHeader(), so remember Content-Length here.
  let declaredLength = Number.NaN;
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  (res as unknown as { writeHead: (...args: unknown[]) => ServerResponse }).writeHead = (...args: unknown[]) => {
    const headers = args.find((arg, index) => index > 0 && typeof arg === 'object' && arg !== null && !Array.isArray(arg));
    for (const [name, value] of Object.entries((headers ?? {}) as Record<string, unknown>)) {
      if (name.toLowerCase() === 'content-length') declaredLength = Number(value);
    }
    return writeHead(...args);
  };
  const contentLength = (): number => {
    const header = res.getHeader('content-length');
    return header === undefined ? declaredLength : Number(header);
  };

  const cutNow = (head: Buffer): void => {
    cut = true;
    onCut();
    const destroy = (): void => {
      res.socket?.destroy();
      res.destroy();
    };
    if (head.length > 0) {
      write(head, () => destroy());
    } else {
      res.flushHeaders();
      setTimeout(destroy, 20);
    }
  };

  target.write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    const cb = (typeof encoding === 'function' ? encoding : callback) as WriteCallback | undefined;
    if (cut) return false;
    let buf = toBuffer(chunk, encoding);
    if (mode.kind === 'corrupt') {
      const length = contentLength();
      const flipAt = Number.isFinite(length) && length > 0 ? Math.floor(length / 2) : 0;
      if (flipAt >= offset && flipAt < offset + buf.length) {
        buf = Buffer.from(buf);
        buf[flipAt - offset] = (buf[flipAt - offset] ?? 0) ^ 0xff;
      }
      offset += buf.length;
      return write(buf, cb);
    }
    const room = mode.afterBytes - offset;
    const length = contentLength();
    const more = Number.isFinite(length) && offset + buf.length < length;
    if (buf.length < room || (buf.length === room && !more)) {
      offset += buf.length;
      return write(buf, cb);
    }
    const head = buf.subarray(0, Math.max(room, 0));
    offset += head.length;
    cutNow(head);
    return false;
  };

  target.end = (chunk?: unknown, encoding?: unknown, callback?: unknown): unknown => {
    if (typeof chunk === 'function') return cut ? res : end(chunk);
    if (chunk !== undefined && chunk !== null) {
      target.write(chunk, typeof encoding === 'function' ? undefined : encoding);
    }
    if (cut) return res;
    const cb = typeof encoding === 'function' ? encoding : callback;
    return cb === undefined ? end() : end(cb);
  };
}
