import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiCreatedResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuthenticatedClient, CurrentClient } from '../common/auth.guard';
import { ApiCommonErrors, ApiErrorResponse } from '../common/openapi';
import { CreateOrderDto } from './dto/create-order.dto';
import { ListOrdersQuery } from './dto/list-orders.query';
import { OrdersService } from './orders.service';

const ORDER_EXAMPLE = {
  id: '6b1f4c1e-8a51-4c1c-9d3a-2f0e5b7c9a10',
  number: 'ORD-1001',
  placed_at: '2021-10-03T14:12:00.000Z',
  status: 'PAID',
  currency: 'EUR',
  customer: { name: 'Ada Lovelace', email: 'ada@example.com' },
  items: [{ sku: 'SKU-1', name: 'Mug', quantity: 2, unit_price: '12.50' }],
  item_count: 2,
  total: '25.00',
  created_at: '2021-10-03T14:12:01.000Z',
};

@ApiTags('orders')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an order (the total is computed by the server)' })
  @ApiCreatedResponse({ description: 'The order', schema: { example: ORDER_EXAMPLE } })
  @ApiErrorResponse(400, { VALIDATION_FAILED: 'items.0.quantity must be an integer number' })
  @ApiErrorResponse(409, { ORDER_NUMBER_TAKEN: 'Order number ORD-1001 is already taken' })
  create(@CurrentClient() client: AuthenticatedClient, @Body() dto: CreateOrderDto) {
    return this.orders.create(client.id, dto);
  }

  @Get()
  @ApiOperation({ summary: "List the client's orders in placed_at order" })
  @ApiOkResponse({ schema: { example: { data: [ORDER_EXAMPLE], next_cursor: 'WyIyMDIxLTEw…' } } })
  @ApiErrorResponse(400, { VALIDATION_FAILED: 'cursor is not a cursor returned by this API' })
  list(@CurrentClient() client: AuthenticatedClient, @Query() query: ListOrdersQuery) {
    return this.orders.list(client.id, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One order' })
  @ApiOkResponse({ schema: { example: ORDER_EXAMPLE } })
  @ApiErrorResponse(404, { ORDER_NOT_FOUND: 'No such order' })
  findOne(@CurrentClient() client: AuthenticatedClient, @Param('id') id: string) {
    return this.orders.findOne(client.id, id);
  }
}
