import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { PageQuery } from '../common/pagination';
import { IsCalendarDay } from '../common/validation';

export class ListOrdersQuery extends PageQuery {
  @ApiPropertyOptional({ example: '2021-10-01', description: 'First day (UTC), inclusive' })
  @IsOptional()
  @IsCalendarDay()
  start_date?: string;

  @ApiPropertyOptional({ example: '2021-11-01', description: 'Last day (UTC), exclusive' })
  @IsOptional()
  @IsCalendarDay()
  end_date?: string;
}
