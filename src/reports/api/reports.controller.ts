import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AuthenticatedClient, CurrentClient } from '../../common/auth';
import { answer, untilClientLeaves } from '../../common/http-answer';
import { StatusPollingLimit } from '../../common/rate-limit';
import { CreateReportDto } from './dto/create-report.dto';
import { ListReportsQuery } from './dto/list-reports.query';
import { createdAnswer, downloadAnswer, listedReport, statusAnswer } from './dto/report.response';
import { preferredWait, prefersAsync } from './prefer-wait';
import {
  CreateReportDocs,
  DeleteReportDocs,
  DownloadReportDocs,
  ListReportsDocs,
  ReportRoutes,
  ReportStatusDocs,
} from './reports.openapi';
import { ReportAdmission } from '../admission/report-admission';
import { ReportsService } from './reports.service';

@ReportRoutes()
@Controller('v1/orders/reports')
export class ReportsController {
  constructor(
    private readonly admission: ReportAdmission,
    private readonly reports: ReportsService,
  ) {}

  @Post()
  @HttpCode(202)
  @CreateReportDocs()
  async create(
    @CurrentClient() client: AuthenticatedClient,
    @Body() dto: CreateReportDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const created = await this.admission.admit(client.id, dto, idempotencyKey);
    const wait = prefersAsync(prefer) ? undefined : preferredWait(prefer);
    const held =
      wait === undefined
        ? undefined
        : await untilClientLeaves(reply, (left) =>
            this.reports.finished(client.id, created.report.id, wait, left),
          );
    return answer(reply, createdAnswer(created, held));
  }

  @Get()
  @ListReportsDocs()
  async list(@CurrentClient() client: AuthenticatedClient, @Query() query: ListReportsQuery) {
    const page = await this.reports.list(client.id, query);
    return { data: page.data.map(listedReport), next_cursor: page.next_cursor };
  }

  @Delete(':id')
  @HttpCode(204)
  @DeleteReportDocs()
  async remove(@CurrentClient() client: AuthenticatedClient, @Param('id') id: string) {
    await this.reports.remove(client.id, id);
  }

  @Get('status/:id')
  @StatusPollingLimit()
  @ReportStatusDocs()
  async status(
    @CurrentClient() client: AuthenticatedClient,
    @Param('id') id: string,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const read = await untilClientLeaves(reply, (left) =>
      this.reports.status(client.id, id, preferredWait(prefer), left),
    );
    return answer(reply, statusAnswer(read));
  }

  @Get(':id')
  @DownloadReportDocs()
  async download(
    @CurrentClient() client: AuthenticatedClient,
    @Param('id') id: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return answer(reply, downloadAnswer(await this.reports.download(client.id, id, ifNoneMatch)));
  }
}
