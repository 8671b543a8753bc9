import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { ENTITIES } from './app.entities.js';
import { AppModule } from './app.module.js';
import type { AppConfig } from './platform/config/config.js';
import { type Database, openDatabase } from './platform/database/database.js';
import { AppExceptionFilter, respondWithError } from './platform/errors/exception.filter.js';
import { inputGuardMiddleware } from './platform/http/input-guard.js';
import { requestIdMiddleware } from './platform/http/request-id.middleware.js';
import { AppLogger } from './platform/http/app-logger.js';
import { AppValidationPipe } from './platform/http/validation.pipe.js';
import { ApiKeyService } from './modules/auth/api-key.service.js';

const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export interface Server {
  readonly app: INestApplication;
  readonly database: Database;
  /** Set only on the first start without ADMIN_API_KEY: the generated admin key, to print once. */
  readonly generatedAdminKey: string | null;
}

/**
 * Opens the database (migrating it), builds the Nest app with its HTTP conventions, and makes
 * sure an admin key exists. Used by `gpumarket serve` and by the tests, so tests exercise the
 * same app a user runs. The caller listens (or hands the app to supertest) and closes it.
 */
export async function createServer(config: AppConfig, options: { logger?: LogLevel[] | false } = {}): Promise<Server> {
  const database = await openDatabase(config, { entities: ENTITIES });
  let app: NestExpressApplication | undefined;
  try {
    const levels =
      options.logger === false ? [] : (options.logger ?? LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1));
    const logger = new AppLogger(config.logLevel === 'debug', levels);
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, database), {
      logger,
      bodyParser: false,
    });
    app.disable('x-powered-by');
    app.use(requestIdMiddleware);
    // Not strict: `null` or `"text"` as a body is answered "body must be an object" by the input
    // guard, not called malformed JSON. The guard checks depth, keys and control characters
    // before class-transformer (which recurses) sees the body.
    app.useBodyParser('json', { limit: '1mb', strict: false });
    app.use(inputGuardMiddleware);
    // Errors thrown by the body parser happen before Nest routes the request.
    app.use((error: unknown, request: Request, response: Response, _next: NextFunction) =>
      respondWithError(error, request, response),
    );
    app.useGlobalPipes(new AppValidationPipe());
    app.useGlobalFilters(new AppExceptionFilter());
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('gpumarket')
        .setDescription('Auction-based GPU marketplace. Send `Authorization: Bearer <api key>`.')
        .setVersion('1')
        .addBearerAuth()
        .build(),
    );
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
    await app.init();
    const generatedAdminKey = await app.get(ApiKeyService).bootstrapAdmin();
    return { app, database, generatedAdminKey };
  } catch (error) {
    if (app) await app.close();
    else await database.close();
    throw error;
  }
}
