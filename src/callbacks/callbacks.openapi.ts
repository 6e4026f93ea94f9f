import type { OpenAPIObject } from '@nestjs/swagger';
import type { CallbacksObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

const ID = '3f2b9c3e-5d7a-4b8e-9f1a-0c6d2e4b8a71';
const header = (description: string, example: string) => ({
  required: true,
  description,
  schema: { type: 'string', example },
});

/** The callback of recipe 2, as an OpenAPI `callbacks` object: payloads, signature headers, answers. */
export const REPORT_CALLBACKS = {
  reportFinished: {
    '{$request.body#/callback_url}': {
      post: {
        summary: 'The report has ended (COMPLETED or FAILED)',
        description:
          'Signed per the Standard Webhooks specification with your webhook_secret. A 2xx answer is ' +
          'success; 410 Gone stops all further attempts; anything else (timeouts, 3xx, 429, 4xx, 5xx) ' +
          'is retried on CALLBACK_RETRY_DELAYS_MS with jitter, honouring a larger Retry-After.',
        parameters: [
          {
            in: 'header',
            name: 'webhook-id',
            ...header(
              'The event id, the same on every retry',
              'msg_2b0f9c1e5d7a4b8e9f1a0c6d2e4b8a71',
            ),
          },
          {
            in: 'header',
            name: 'webhook-timestamp',
            ...header('Unix seconds of this attempt', '1635843605'),
          },
          {
            in: 'header',
            name: 'webhook-signature',
            ...header(
              'v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">; two, space-separated, during a secret rotation',
              'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
            ),
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['id', 'status', 'links'],
                properties: {
                  id: { type: 'string', format: 'uuid' },
                  status: { type: 'string', enum: ['COMPLETED', 'FAILED'] },
                  error: {
                    type: 'object',
                    properties: {
                      error_code: { type: 'string' },
                      error_message: { type: 'string' },
                    },
                  },
                  links: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: { rel: { type: 'string' }, href: { type: 'string' } },
                    },
                  },
                },
              },
              examples: {
                COMPLETED: {
                  value: {
                    id: ID,
                    status: 'COMPLETED',
                    links: [
                      { rel: 'reports', href: `https://api.example/v1/orders/reports/${ID}` },
                    ],
                  },
                },
                FAILED: {
                  value: {
                    id: ID,
                    status: 'FAILED',
                    error: {
                      error_code: 'RENDER_FAILED',
                      error_message: 'The PDF could not be rendered',
                    },
                    links: [
                      { rel: 'status', href: `https://api.example/v1/orders/reports/status/${ID}` },
                    ],
                  },
                },
              },
            },
          },
        },
        responses: {
          '2XX': { description: 'Received: no further attempt' },
          '410': { description: 'Gone: stop sending this event' },
          default: { description: 'Anything else is retried' },
        },
      },
    },
  },
};

export function documentCallbacks(document: OpenAPIObject): void {
  const operation = document.paths['/v1/orders/reports']?.post;
  if (operation) operation.callbacks = REPORT_CALLBACKS as CallbacksObject;
}
