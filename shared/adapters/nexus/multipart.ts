/**
 * A streamed multipart/form-data body for the components upload API (and the PyPI upload API). Built by hand because
 * undici's FormData wants a Blob, and Ferry's content is a stream that must not be buffered
 * whole; the exact Content-Length is known up front, so Nexus gets a plain (not chunked)
 * request.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface MultipartBody {
  contentType: string;
  contentLength: number;
  body: Readable;
  /** Set when reading the file part failed or its length was not the announced one. */
  readonly sourceError: unknown;
}

/**
 * Text `fields` first, then each file part streamed from its `stream`, which must yield
 * exactly `size` bytes (otherwise the body errors with a message naming `what`).
 */
export function multipartBody(
  what: string,
  fields: [string, string][],
  files: { field: string; filename: string; size: number; stream: Readable }[],
): MultipartBody {
  const boundary = `----ferry${randomBytes(16).toString('hex')}`;
  const text = Buffer.from(
    fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`).join(''),
    'utf8',
  );
  const heads = files.map((file) =>
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.field)}"; filename="${quote(file.filename)}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
      'utf8',
    ),
  );
  const crlf = Buffer.from('\r\n', 'utf8');
  const tail = Buffer.from(`--${boundary}--\r\n`, 'utf8');
  const result = {
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: text.length + files.reduce((sum, file, i) => sum + heads[i]!.length + file.size + crlf.length, 0) + tail.length,
    body: undefined as unknown as Readable,
    sourceError: undefined as unknown,
  };
  async function* parts(): AsyncGenerator<Buffer> {
    yield text;
    for (const [i, file] of files.entries()) {
      yield heads[i]!;
      let sent = 0;
      try {
        for await (const chunk of file.stream) {
          const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
          sent += bytes.length;
          if (sent > file.size) throw new Error(`${what}: ${file.filename} is longer than its announced ${file.size} bytes`);
          yield bytes;
        }
        if (sent !== file.size) throw new Error(`${what}: ${file.filename} is ${sent} bytes, announced ${file.size}`);
      } catch (error) {
        result.sourceError ??= error;
        throw error;
      }
      yield crlf;
    }
    yield tail;
  }
  result.body = Readable.from(parts(), { objectMode: false });
  return result;
}

/** Quoting for multipart names and filenames, as browsers do (WHATWG HTML). */
function quote(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
