import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyEventsRepository } from './api-key-events.repository.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { ApiKeyService } from './api-key.service.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysService } from './api-keys.service.js';

@Global()
@Module({
  controllers: [ApiKeysController],
  providers: [
    ApiKeyRepository,
    ApiKeyEventsRepository,
    ApiKeyService,
    ApiKeysService,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
  exports: [ApiKeyService],
})
export class AuthModule {}
