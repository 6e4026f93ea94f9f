import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CallbacksService } from '../../callbacks/callbacks.service';
import { AuthenticatedClient, CurrentClient } from '../../common/auth';
import { listedAttempt } from './dto/report.response';
import { CallbackAttemptsDocs, RedeliverDocs, ReportRoutes } from './reports.openapi';
import { ReportsService } from './reports.service';

/** A report's callback (recipe 2): its attempts, and sending it again. */
@ReportRoutes()
@Controller('v1/orders/reports/:id/callbacks')
export class ReportCallbacksController {
  constructor(
    private readonly reports: ReportsService,
    private readonly callbacks: CallbacksService,
  ) {}

  @Get()
  @CallbackAttemptsDocs()
  async attempts(@CurrentClient() client: AuthenticatedClient, @Param('id') id: string) {
    const report = await this.reports.findForClient(client.id, id);
    return { data: (await this.callbacks.attempts(report.id)).map(listedAttempt) };
  }

  @Post('redeliver')
  @HttpCode(202)
  @RedeliverDocs()
  async redeliver(@CurrentClient() client: AuthenticatedClient, @Param('id') id: string) {
    const report = await this.reports.findForClient(client.id, id);
    return { id: report.id, callback: await this.callbacks.redeliver(report.id) };
  }
}
