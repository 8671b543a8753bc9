import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import {
  clearingPricesCsv,
  type CsvTable,
  nodePricesCsv,
  poolSummaryCsv,
  reconciliationCsv,
  revenueCsv,
  roundAuditCsv,
  tenantChargesCsv,
  toCsv,
  utilizationCsv,
} from './report-csv.js';
import {
  BucketedQueryDto,
  ClearingPricesReportDto,
  NodePricesQueryDto,
  NodePricesReportDto,
  PoolSummaryQueryDto,
  PoolSummaryReportDto,
  ReconciliationReportDto,
  ReportFormatQueryDto,
  ReportRangeQueryDto,
  RevenueQueryDto,
  RevenueReportDto,
  RoundAuditDto,
  TenantChargesReportDto,
  UtilizationReportDto,
} from './report.dto.js';
import { ReportsService } from './reports.service.js';

/** JSON unless `?format=csv`, or the Accept header prefers text/csv over JSON. */
function reply<T>(
  request: Request,
  response: Response,
  format: string | undefined,
  name: string,
  report: T,
  table: (report: T) => CsvTable,
): T | string {
  response.vary('Accept');
  const csv =
    format !== undefined ? format === 'csv' : request.accepts(['application/json', 'text/csv']) === 'text/csv';
  if (!csv) return report;
  response.type('text/csv; charset=utf-8');
  response.setHeader('Content-Disposition', `inline; filename="${name}.csv"`);
  return toCsv(table(report));
}

@ApiTags('reports')
@ApiBearerAuth()
@ApiProduces('application/json', 'text/csv')
@Controller('v1/reports')
@Roles('admin', 'finance')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('clearing-prices')
  @ApiOperation({
    summary:
      'Per pool and UTC bucket: open, high, low, close of the pool index, the node-price band, the VWAP of actual charges, GPU-hours sold and the marginal bid behind the close',
  })
  @ApiOkResponse({ type: ClearingPricesReportDto })
  async clearingPrices(
    @Query() query: BucketedQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return reply(
      request,
      response,
      query.format,
      'clearing-prices',
      await this.reports.clearingPrices(query),
      clearingPricesCsv,
    );
  }

  @Get('pools')
  @ApiOperation({
    summary:
      'Per pool: the index and node-price band of the latest round, its 24 h change, the price a 1-GPU bid must offer to win now, GPU-hours, and preemptions per preemptible GPU-hour in the range',
  })
  @ApiOkResponse({ type: PoolSummaryReportDto })
  async pools(
    @Query() query: PoolSummaryQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return reply(request, response, query.format, 'pools', await this.reports.poolSummary(query), poolSummaryCsv);
  }

  @Get('revenue')
  @ApiOperation({
    summary:
      'GPU-hours, charges, uplift, payouts, fees and net fees per provider, tenant, pool or UTC day (optionally of one GPU model or region), with totals and the take rate',
  })
  @ApiOkResponse({ type: RevenueReportDto })
  async revenue(
    @Query() query: RevenueQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return reply(request, response, query.format, 'revenue', await this.reports.revenue(query), revenueCsv);
  }

  @Get('tenant-charges')
  @ApiOperation({ summary: 'GPU-hours, charges and uplift per tenant and pool' })
  @ApiOkResponse({ type: TenantChargesReportDto })
  async tenantCharges(
    @Query() query: ReportRangeQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return reply(
      request,
      response,
      query.format,
      'tenant-charges',
      await this.reports.tenantCharges(query),
      tenantChargesCsv,
    );
  }

  @Get('utilization')
  @ApiOperation({ summary: 'Per pool and UTC bucket: GPU-hours sold over GPU-hours available' })
  @ApiOkResponse({ type: UtilizationReportDto })
  async utilization(
    @Query() query: BucketedQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return reply(request, response, query.format, 'utilization', await this.reports.utilization(query), utilizationCsv);
  }

  @Get('reconciliation')
  @ApiOperation({
    summary:
      'Charges + uplift against payouts + fees and their difference (zero when reconciled), per day, with every round that breaks it',
  })
  @ApiOkResponse({ type: ReconciliationReportDto })
  async reconciliation(
    @Query() query: ReportRangeQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return reply(
      request,
      response,
      query.format,
      'reconciliation',
      await this.reports.reconciliation(query),
      reconciliationCsv,
    );
  }

  @Get('rounds/:id/audit')
  @ApiOperation({
    summary:
      'One round explained: supply and demand per pool, index, node-price band and marginal bid, winners with unit price and uplift, losers with reasons (and paradoxical rejections), solver status and gap',
  })
  @ApiOkResponse({ type: RoundAuditDto })
  async roundAudit(
    @Param('id') id: string,
    @Query() query: ReportFormatQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    return reply(
      request,
      response,
      query.format,
      `round-${id}-audit`,
      await this.reports.roundAudit(id),
      roundAuditCsv,
    );
  }

  @Get('node-prices')
  @Roles('admin', 'finance', 'provider')
  @ApiOperation({
    summary:
      "Every node's price per committed round, oldest first, paged: all nodes for finance and admin, a provider's own nodes for a provider key",
  })
  @ApiOkResponse({ type: NodePricesReportDto })
  async nodePrices(
    @CurrentPrincipal() principal: Principal,
    @Query() query: NodePricesQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    const report = await this.reports.nodePrices(principal, query);
    // A CSV page has no body field for it, so the next page's cursor travels in a header (for JSON too).
    if (report.nextCursor !== null) response.setHeader('X-Next-Cursor', report.nextCursor);
    return reply(request, response, query.format, 'node-prices', report, nodePricesCsv);
  }
}
