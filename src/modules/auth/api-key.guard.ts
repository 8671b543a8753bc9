import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthError, AuthErrorCode } from '../../platform/errors/app-error.js';
import { PRINCIPAL, PUBLIC_KEY, ROLES_KEY } from './auth.decorators.js';
import { ApiKeyService } from './api-key.service.js';
import type { Role } from './principal.js';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Every route needs `Authorization: Bearer <key>` unless marked @Public. A missing or unknown
 * key is 401; a known key whose role the route does not allow is 403. A route with no @Roles
 * is open to every authenticated caller.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const header = request.header('authorization');
    if (!header) throw new AuthError(AuthErrorCode.MissingKey, 'send an API key as "Authorization: Bearer <key>"');
    const key = BEARER.exec(header)?.[1];
    const principal = key && key.length <= 200 ? await this.apiKeys.resolve(key) : null;
    if (!principal) throw new AuthError(AuthErrorCode.InvalidKey, 'the API key is not valid');
    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (allowed && !allowed.includes(principal.role)) {
      throw new AuthError(AuthErrorCode.WrongRole, `this operation is for ${allowed.join(' or ')} keys`);
    }
    (request as unknown as Record<symbol, unknown>)[PRINCIPAL] = principal;
    return true;
  }
}
