import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsEmail,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MONEY_PATTERN } from '../common/money';
import { IsInstant, NoControlCharacters } from '../common/validation';
import { CUSTOMER_NAME_MAX_LENGTH } from './order-limits';
import { OrderStatus } from './order-status';

/** ISO 4217 codes as Node's ICU knows them (`Intl.supportedValuesOf`). */
export const CURRENCIES: readonly string[] = Intl.supportedValuesOf('currency');

export class CustomerDto {
  @ApiProperty({
    example: 'Ada Lovelace',
    maxLength: CUSTOMER_NAME_MAX_LENGTH,
    description: `Printed in every report that holds the order; at most ${CUSTOMER_NAME_MAX_LENGTH} characters`,
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(CUSTOMER_NAME_MAX_LENGTH)
  @NoControlCharacters()
  name: string;

  @ApiProperty({ example: 'ada@example.com', maxLength: 320 })
  @IsEmail()
  @MaxLength(320)
  email: string;
}

export class OrderItemDto {
  @ApiProperty({ example: 'SKU-1', maxLength: 100 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  @NoControlCharacters()
  sku: string;

  @ApiProperty({ example: 'Mug', maxLength: 10000 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(10000)
  @NoControlCharacters()
  name: string;

  @ApiProperty({ example: 2, minimum: 1, maximum: 1000000 })
  @IsInt()
  @Min(1)
  @Max(1000000)
  quantity: number;

  @ApiProperty({
    example: '12.50',
    description:
      "Exact decimal string in the currency's own minor units: at most as many decimals as the " +
      'currency has (ISO 4217: "12.50" EUR, "1250" JPY, "1.125" KWD)',
  })
  @IsString()
  @Matches(MONEY_PATTERN, {
    message:
      'unit_price must be a decimal string below 1000000000000, with no more decimals than its ' +
      'currency has, like "12.50"',
  })
  unit_price: string;
}

export class CreateOrderDto {
  @ApiProperty({ example: 'ORD-1001', description: 'Unique per client', maxLength: 64 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  @NoControlCharacters()
  number: string;

  @ApiProperty({ example: '2021-10-03T14:12:00Z', description: 'ISO 8601 instant with an offset' })
  @IsInstant()
  placed_at: string;

  @ApiProperty({ enum: OrderStatus, example: OrderStatus.Paid })
  @IsIn(Object.values(OrderStatus))
  status: OrderStatus;

  @ApiProperty({ example: 'EUR', description: 'ISO 4217 currency code' })
  @IsIn(CURRENCIES, { message: 'currency must be an ISO 4217 code such as EUR' })
  currency: string;

  @ApiProperty({ type: CustomerDto })
  @IsObject()
  @ValidateNested()
  @Type(() => CustomerDto)
  customer: CustomerDto;

  @ApiProperty({ type: [OrderItemDto], minItems: 1, maxItems: 1000 })
  @IsArray()
  @IsObject({ each: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items: OrderItemDto[];
}
