/** What Lambda hands a handler, built for tests: a context, Function URL, S3 and SQS events. */
import type { Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithIAMAuthorizer, Context, SQSEvent } from 'aws-lambda';

export function lambdaContext(options: { name?: string; memoryMb?: number; remainingMs?: number; requestId?: string } = {}): Context {
  const name = options.name ?? 'ferry-test';
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: String(options.memoryMb ?? 512),
    awsRequestId: options.requestId ?? `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => options.remainingMs ?? 300_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A Lambda Function URL request as the handler receives it (lowercase headers, body in base64). */
export function urlEvent(body: Buffer, headers: Record<string, string>, sourceIp = '127.0.0.1'): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'url-id',
      domainName: 'url-id.lambda-url.us-east-1.on.aws',
      domainPrefix: 'url-id',
      http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp, userAgent: 'Nexus/3' },
      requestId: 'request-1',
      routeKey: '$default',
      stage: '$default',
      time: '15/Jan/2025:10:20:30 +0000',
      timeEpoch: 1736936430000,
    },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** An S3 ObjectCreated notification of one object, as Lambda receives it. */
export function s3ObjectCreated(bucket: string, key: string, size = 1) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: '2025-01-15T10:20:30.123Z',
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:AIDAOPS' },
        requestParameters: { sourceIPAddress: '10.0.0.9' },
        responseElements: { 'x-amz-request-id': 'r', 'x-amz-id-2': 'r2' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'bundles',
          bucket: { name: bucket, ownerIdentity: { principalId: 'A' }, arn: `arn:aws:s3:::${bucket}` },
          object: { key, size, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0A1B2C3D4E5F678901' },
        },
      },
    ],
  };
}

/** Messages received from a queue as the SQS event source hands them to a function. */
export function sqsEvent(messages: Message[], queueArn: string, region = 'us-east-1'): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: String(m.MessageId),
      receiptHandle: String(m.ReceiptHandle),
      body: String(m.Body),
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
        SenderId: m.Attributes?.SenderId ?? 'AIDA',
        ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: String(m.MD5OfBody),
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: region,
    })),
  };
}

/**
 * A request to a Function URL with AWS_IAM auth, as the handler receives it: SigV4 checked
 * by Lambda, the caller in requestContext.authorizer.iam (no caller: `callerArn` undefined).
 */
export function iamUrlEvent(
  method: string,
  path: string,
  options: { callerArn?: string | undefined; body?: string; headers?: Record<string, string>; query?: Record<string, string> } = {},
): APIGatewayProxyEventV2WithIAMAuthorizer {
  const base = urlEvent(Buffer.from(options.body ?? ''), { 'content-type': 'application/json', ...options.headers });
  const callerArn = 'callerArn' in options ? options.callerArn : 'arn:aws:sts::123456789012:assumed-role/ferry-operators/alice';
  const iam = { accessKey: 'ASIAEXAMPLE', accountId: '123456789012', callerId: 'AROAEXAMPLE:alice', cognitoIdentity: null, principalOrgId: null, userArn: callerArn, userId: 'AROAEXAMPLE:alice' };
  return {
    ...base,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    ...(options.query ? { queryStringParameters: options.query } : {}),
    requestContext: { ...base.requestContext, accountId: '123456789012', http: { ...base.requestContext.http, method, path }, ...(callerArn !== undefined ? { authorizer: { iam } } : {}) },
  } as unknown as APIGatewayProxyEventV2WithIAMAuthorizer;
}
