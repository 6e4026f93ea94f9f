import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedClient, CurrentClient } from '../common/auth';
import { ApiCommonErrors } from '../common/openapi';
import { ClientsService } from './clients.service';

@ApiTags('callbacks')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('v1/webhook-secret')
export class WebhookSecretController {
  constructor(private readonly clients: ClientsService) {}

  @Post('rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the webhook secret',
    description:
      'Returns a new secret, shown only this once. For 24 hours every callback carries two ' +
      'signatures, space-separated: one with the new secret and one with the previous.',
  })
  @ApiOkResponse({
    schema: {
      example: {
        webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        previous_secret_expires_at: '2021-11-03T09:00:00.000Z',
      },
    },
  })
  rotate(@CurrentClient() client: AuthenticatedClient) {
    return this.clients.rotateWebhookSecret(client.id);
  }
}
