/** Response helpers: every body is sent with an explicit Content-Length, as Nexus (Jetty) does. */
import type { ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendJsonBody(res, status, jsonBody(value));
}

export const jsonBody = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/** A body made by {@link jsonBody} beforehand (a listing held back to a given latency). */
export function sendJsonBody(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

/** Nexus's validation error body: `[{"id":"*","message":"…"}]`. */
export function sendValidationErrors(res: ServerResponse, status: number, messages: string[], id = '*'): void {
  sendJson(
    res,
    status,
    messages.map((message) => ({ id, message })),
  );
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain'): void {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'Content-Type': `${contentType};charset=UTF-8`, 'Content-Length': body.length });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': 0 });
  res.end();
}

/** The HTML-ish error page the repository view serves (Ferry must not parse it). */
export function sendErrorPage(res: ServerResponse, status: number, message: string): void {
  sendText(
    res,
    status,
    `<!DOCTYPE html>\n<html lang="en"><head><title>${status} - Nexus Repository Manager</title></head>` +
      `<body><h1>Error ${status}</h1><p>${message}</p></body></html>\n`,
    'text/html',
  );
}
