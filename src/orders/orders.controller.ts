import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiCreatedResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiError } from '../common/api-error';
import { AuthenticatedClient, CurrentClient } from '../common/auth';
import { ApiCommonErrors, ApiErrorResponse } from '../common/openapi';
import { CreateOrderDto } from './create-order.dto';
import { ListOrdersQuery } from './list-orders.query';
import { ORDER_EXAMPLE } from './orders.openapi';
import { orderNotFound, orderNumberTaken } from './orders.exceptions';
import { OrdersService } from './orders.service';

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
  @ApiErrorResponse(400, [ApiError.invalidField('items.0.quantity', 'must be an integer number')])
  @ApiErrorResponse(409, [orderNumberTaken('ORD-1001')])
  create(@CurrentClient() client: AuthenticatedClient, @Body() dto: CreateOrderDto) {
    return this.orders.create(client.id, dto);
  }

  @Get()
  @ApiOperation({ summary: "List the client's orders in placed_at order" })
  @ApiOkResponse({ schema: { example: { data: [ORDER_EXAMPLE], next_cursor: 'WyIyMDIxLTEw…' } } })
  @ApiErrorResponse(400, [ApiError.invalidField('cursor', 'is not a cursor returned by this API')])
  list(@CurrentClient() client: AuthenticatedClient, @Query() query: ListOrdersQuery) {
    return this.orders.list(client.id, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One order' })
  @ApiOkResponse({ schema: { example: ORDER_EXAMPLE } })
  @ApiErrorResponse(404, [orderNotFound()])
  findOne(@CurrentClient() client: AuthenticatedClient, @Param('id') id: string) {
    return this.orders.findOne(client.id, id);
  }
}
