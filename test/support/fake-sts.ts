/**
 * A stand-in for the one STS call the CLI makes, GetCallerIdentity (AWS query protocol): none
 * of the emulators here speaks STS. It answers with the ARN it was given, and counts calls.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSts {
  url: string;
  calls: number;
  close(): Promise<void>;
}

export async function startFakeSts(arn: string): Promise<FakeSts> {
  const fake = { url: '', calls: 0, close: async () => {} } as FakeSts;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (!new URLSearchParams(body).get('Action')?.startsWith('GetCallerIdentity')) {
        response.writeHead(400, { 'content-type': 'text/xml' }).end('<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>');
        return;
      }
      fake.calls += 1;
      response.writeHead(200, { 'content-type': 'text/xml' }).end(
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${arn}</Arn><UserId>AIDAFAKE</UserId><Account>${arn.split(':')[4]}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
