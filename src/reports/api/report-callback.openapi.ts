import { OpenAPIObject } from '@nestjs/swagger';
import type { CallbacksObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { callbackBody } from './dto/report.response';
import { ReportStatus } from '../store/report.entity';
import { FAILURE_EXAMPLE, ID, LINKS_SCHEMA, PDF_EXAMPLE, PDF_SCHEMA } from './reports.openapi';

const signatureHeader = (name: string, description: string, example: string) => ({
  in: 'header',
  name,
  required: true,
  description,
  schema: { type: 'string', example },
});

/** The callback of recipe 2, on POST /v1/orders/reports: its payloads, signature headers, answers. */
export function documentReportCallback(document: OpenAPIObject): void {
  const operation = document.paths['/v1/orders/reports']?.post;
  if (!operation) return;
  const base = 'https://api.example';
  operation.callbacks = {
    reportFinished: {
      '{$request.body#/callback_url}': {
        post: {
          summary: 'The report has ended (COMPLETED or FAILED)',
          // The service calls the partner, with no credentials of the partner's: what proves the
          // call authentic is its signature (webhook-signature).
          security: [],
          description:
            'Signed per the Standard Webhooks specification with your webhook_secret. A 2xx ' +
            'answer is success; 410 Gone stops all further attempts; anything else (timeouts, ' +
            '3xx, 429, 4xx, 5xx) is retried on CALLBACK_RETRY_DELAYS_MS with jitter, honouring ' +
            'a larger Retry-After.',
          parameters: [
            signatureHeader(
              'webhook-id',
              'The event id, the same on every retry',
              'msg_2b0f9c1e5d7a4b8e9f1a0c6d2e4b8a71',
            ),
            signatureHeader('webhook-timestamp', 'Unix seconds of this attempt', '1635843605'),
            signatureHeader(
              'webhook-signature',
              'v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">; two, space-separated, during a secret rotation',
              'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
            ),
            {
              ...signatureHeader(
                'traceparent',
                "W3C Trace Context of the report's trace, when the service exports traces " +
                  '(OTEL_EXPORTER_OTLP_ENDPOINT): your own tracing can continue it',
                '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
              ),
              required: false,
            },
            {
              ...signatureHeader(
                'tracestate',
                'W3C Trace Context vendor state, with traceparent, when the trace has any (the ' +
                  "caller's, carried from the request that asked for the report)",
                'congo=t61rcWkgQ4',
              ),
              required: false,
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
                    pdf: { ...PDF_SCHEMA, description: `COMPLETED: ${PDF_SCHEMA.description}` },
                    error: {
                      type: 'object',
                      properties: {
                        error_code: { type: 'string' },
                        error_message: { type: 'string' },
                      },
                    },
                    links: LINKS_SCHEMA,
                  },
                },
                examples: {
                  COMPLETED: {
                    value: JSON.parse(
                      callbackBody(ID, { status: ReportStatus.Completed, ...PDF_EXAMPLE }, base),
                    ),
                  },
                  FAILED: {
                    value: JSON.parse(
                      callbackBody(ID, { status: ReportStatus.Failed, ...FAILURE_EXAMPLE }, base),
                    ),
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
  } as CallbacksObject;
}
