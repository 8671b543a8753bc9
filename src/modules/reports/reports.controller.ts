import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Roles } from '../auth/auth.decorators.js';
import {
  clearingPricesCsv,
  type CsvTable,
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
function reply<T>(request: Request, response: Response, format: string | undefined, name: string, report: T, table: (report: T) => CsvTable): T | string {
  response.vary('Accept');
  const csv = format !== undefined ? format === 'csv' : request.accepts(['application/json', 'text/csv']) === 'text/csv';
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
  @ApiOperation({ summary: 'Per pool and UTC bucket: open, high, low, close, VWAP, GPU-hours sold and the marginal bid behind the close' })
  @ApiOkResponse({ type: ClearingPricesReportDto })
  async clearingPrices(@Query() query: BucketedQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return reply(request, response, query.format, 'clearing-prices', await this.reports.clearingPrices(query), clearingPricesCsv);
  }

  @Get('revenue')
  @ApiOperation({ summary: 'GPU-hours, gross charges, payouts and fees per provider, pool or UTC day' })
  @ApiOkResponse({ type: RevenueReportDto })
  async revenue(@Query() query: RevenueQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return reply(request, response, query.format, 'revenue', await this.reports.revenue(query), revenueCsv);
  }

  @Get('tenant-charges')
  @ApiOperation({ summary: 'GPU-hours and charges per tenant and pool' })
  @ApiOkResponse({ type: TenantChargesReportDto })
  async tenantCharges(@Query() query: ReportRangeQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return reply(request, response, query.format, 'tenant-charges', await this.reports.tenantCharges(query), tenantChargesCsv);
  }

  @Get('utilization')
  @ApiOperation({ summary: 'Per pool and UTC bucket: GPU-hours sold over GPU-hours available' })
  @ApiOkResponse({ type: UtilizationReportDto })
  async utilization(@Query() query: BucketedQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return reply(request, response, query.format, 'utilization', await this.reports.utilization(query), utilizationCsv);
  }

  @Get('reconciliation')
  @ApiOperation({ summary: 'Charges, payouts, fees and their difference (zero when reconciled), per day, with every round that breaks it' })
  @ApiOkResponse({ type: ReconciliationReportDto })
  async reconciliation(@Query() query: ReportRangeQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return reply(request, response, query.format, 'reconciliation', await this.reports.reconciliation(query), reconciliationCsv);
  }

  @Get('rounds/:id/audit')
  @ApiOperation({ summary: "One round explained: supply and demand per pool, price and marginal bid, winners, losers with reasons, solver status and gap" })
  @ApiOkResponse({ type: RoundAuditDto })
  async roundAudit(@Param('id') id: string, @Query() query: ReportFormatQueryDto, @Req() request: Request, @Res({ passthrough: true }) response: Response) {
    return reply(request, response, query.format, `round-${id}-audit`, await this.reports.roundAudit(id), roundAuditCsv);
  }
}
