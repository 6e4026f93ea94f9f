import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { IsCalendarDay, IsTimeZone, NoControlCharacters } from '../../../common/validation';

export class CreateReportDto {
  @ApiProperty({
    example: '2021-10-01',
    description: 'First day of the period, inclusive, from local midnight in time_zone',
  })
  @IsCalendarDay()
  start_date: string;

  @ApiProperty({
    example: '2021-11-01',
    description: 'Day after the last day of the period, exclusive (local midnight in time_zone)',
  })
  @IsCalendarDay()
  end_date: string;

  @ApiPropertyOptional({
    example: 'Europe/Paris',
    description:
      "IANA time zone of the period and of the PDF's times; default: the client's own " +
      '(`clients:create --time-zone`, itself UTC by default). Correct across daylight saving changes.',
  })
  @IsOptional()
  @IsString()
  @IsTimeZone()
  time_zone?: string;

  @ApiPropertyOptional({
    example: 'https://partner.example/cb',
    maxLength: 2048,
    description:
      'Recipe 2: where to POST the signed callback when the report ends. Absolute http(s), no ' +
      'credentials, not a private, loopback, link-local or reserved address.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  @NoControlCharacters()
  callback_url?: string;
}
