import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators.js';
import { RequestError, RequestErrorCode } from '../../platform/errors/app-error.js';

/** The nearest folder upwards holding package.json: the same from src/ and dist/ (as migrations are found). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '../../..');
  }
}

const here = dirname(fileURLToPath(import.meta.url));
// The page's own files are not TypeScript, so the build does not copy them: they are read from src/.
const PAGE_DIR = join(packageRoot(here), 'src', 'modules', 'dashboard', 'public');
// The chart library is served from node_modules, so the page needs no CDN and works offline.
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

/** Only these files are served: a request never names a path on disk. */
const ASSETS: Readonly<Record<string, { path: string; type: string }>> = {
  'dashboard.js': { path: join(PAGE_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { path: join(PAGE_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'uplot.js': { path: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.css': { path: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * The finance dashboard: a static page that reads the report endpoints with a key typed into
 * it. The page itself needs no key; every figure it shows comes from an authorised API call.
 */
@ApiExcludeController()
@Controller('dashboard')
@Public()
export class DashboardController {
  @Get()
  page(@Res() response: Response): void {
    response.type('text/html; charset=utf-8').sendFile(join(PAGE_DIR, 'index.html'));
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() response: Response): void {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw new RequestError(RequestErrorCode.RouteNotFound, 'no such asset');
    response.type(asset.type).sendFile(asset.path);
  }
}
