import { Module } from '@nestjs/common';
import { LedgerRepository } from './ledger.repository.js';

/** The ledger: what each lease was charged, per round, and what its providers are paid. */
@Module({
  providers: [LedgerRepository],
  exports: [LedgerRepository],
})
export class LedgerModule {}
