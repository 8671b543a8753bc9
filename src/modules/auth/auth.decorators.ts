import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Principal, Role } from './principal.js';

export const ROLES_KEY = 'gpumarket:roles';
export const PUBLIC_KEY = 'gpumarket:public';
export const PRINCIPAL = Symbol('principal');

/** The roles allowed to call a handler (or every handler of a controller). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** A route that needs no API key (health, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  return (context.switchToHttp().getRequest() as Record<symbol, Principal>)[PRINCIPAL];
});
