import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedClient, CurrentClient } from '../common/auth';
import { ApiCommonErrors } from '../common/openapi';
import { ClientsService } from './clients.service';

const CURRENT = {
  id: '0b7f3c52-8d1e-4f4a-9a63-2f1d6c0e7b11',
  public_key: 'whpk_t+/6L8jnmM+u17ssCPVFM4tJ6a1BgJyGhGg95SGozLU=',
  since: '2021-11-02T09:00:00.000Z',
  expires_at: null,
};
const PREVIOUS = {
  id: 'c4e2a9d0-5b3f-4e71-8c2a-7d9e1f0b3a65',
  public_key: 'whpk_wQ5kx9K58t/sQmsidFazs39Y1/PIgQQQB6Bh6mjUBCw=',
  since: '2021-10-01T12:00:00.000Z',
  expires_at: '2021-11-03T09:00:00.000Z',
};
const KEY_SCHEMA = {
  type: 'object',
  required: ['id', 'public_key', 'since', 'expires_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    public_key: {
      type: 'string',
      pattern: '^whpk_[A-Za-z0-9+/]{43}=$',
      description: 'whpk_ + base64 of the raw 32-byte ed25519 public key',
    },
    since: { type: 'string', format: 'date-time', description: 'when the key began to sign' },
    expires_at: {
      type: 'string',
      format: 'date-time',
      nullable: true,
      description: 'null for the current key; for the previous one, when it stops signing',
    },
  },
};
const KEYS_SCHEMA = {
  type: 'object',
  required: ['data'],
  properties: { data: { type: 'array', items: KEY_SCHEMA } },
};

@ApiTags('callbacks')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('v1/webhook-signing-keys')
export class SigningKeysController {
  constructor(private readonly clients: ClientsService) {}

  @Get()
  @ApiOperation({
    summary: 'List the public keys that sign callbacks (v1a)',
    description:
      "Every callback's webhook-signature carries, beside the v1 HMAC, a v1a ed25519 signature of " +
      '"{webhook-id}.{webhook-timestamp}.{body}" per key listed here: the current key first ' +
      '(expires_at null), then, for 24 hours after a rotation, the previous one.',
  })
  @ApiOkResponse({ schema: { ...KEYS_SCHEMA, example: { data: [CURRENT] } } })
  list(@CurrentClient() client: AuthenticatedClient) {
    return this.clients.listSigningKeys(client.id);
  }

  @Post('rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the signing key pair',
    description:
      'Makes a new ed25519 pair and answers the list, the new key first. For 24 hours every ' +
      'callback carries a v1a signature by each key; rotating again within them retires the ' +
      'older key at once.',
  })
  @ApiOkResponse({ schema: { ...KEYS_SCHEMA, example: { data: [CURRENT, PREVIOUS] } } })
  rotate(@CurrentClient() client: AuthenticatedClient) {
    return this.clients.rotateSigningKey(client.id);
  }
}
