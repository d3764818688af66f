import { randomUUID } from 'node:crypto';
import { type Agent, request as httpRequest } from 'node:http';

/**
 * POST a JSON body with a bearer token and a fresh Idempotency-Key over node:http (kept-alive
 * connections: the load generator shares the machine with the service and costs a third of what
 * fetch does per request).
 */
export const jsonPoster =
  (baseUrl: string, agent: Agent) =>
  (path: string, token: string, body: unknown, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const request = httpRequest(
        `${baseUrl}${path}`,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            'idempotency-key': randomUUID(),
            ...headers,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
