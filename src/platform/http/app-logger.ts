import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/** Nest's start-up chatter (every module and route) drowns out what an operator needs to see. */
const QUIET_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory']);

export class AppLogger extends ConsoleLogger {
  constructor(
    private readonly showStartup: boolean,
    levels: LogLevel[],
  ) {
    super();
    this.setLogLevels(levels);
  }

  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (!this.showStartup && typeof context === 'string' && QUIET_CONTEXTS.has(context)) return;
    super.log(message, ...(rest as [string]));
  }
}
