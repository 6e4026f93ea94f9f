import { ApiProperty } from '@nestjs/swagger';
import { IsCalendarDay } from '../../common/validation';

export class CreateReportDto {
  @ApiProperty({ example: '2021-10-01', description: 'First day of the period (UTC), inclusive' })
  @IsCalendarDay()
  start_date: string;

  @ApiProperty({
    example: '2021-11-01',
    description: 'Day after the last day of the period (UTC), exclusive',
  })
  @IsCalendarDay()
  end_date: string;
}
