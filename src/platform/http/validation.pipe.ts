import { type ArgumentMetadata, Injectable, type PipeTransform, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { type FieldProblem, ValidationFailedError } from '../errors/app-error.js';
import { BODY_FIELD, controlCharacterProblem } from './input-guard.js';

/** class-validator constraint names -> the rule names clients see. */
const RULE_NAMES: Record<string, string> = {
  whitelistValidation: 'unknown_field',
  nestedValidation: 'is_object',
  isDefined: 'required',
};

const TYPE_RULES = new Set([
  'isInt',
  'isNumber',
  'isString',
  'isBoolean',
  'isArray',
  'isObject',
  'isDecimal',
  'isDefined',
]);

function ruleName(constraint: string): string {
  return RULE_NAMES[constraint] ?? constraint.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function join(parent: string, property: string): string {
  if (/^\d+$/.test(property)) return `${parent}[${property}]`;
  return parent ? `${parent}.${property}` : property;
}

/** Flattens class-validator's tree into one problem per failing field and rule. */
export function flattenValidationErrors(
  errors: readonly ValidationError[],
  parent = '',
  problems: FieldProblem[] = [],
): FieldProblem[] {
  for (const error of errors) {
    const field = join(parent, error.property);
    const constraints = Object.entries(error.constraints ?? {});
    // A value of the wrong type fails every range rule too; reporting only the type is clearer.
    const typeRules = constraints.filter(([name]) => TYPE_RULES.has(name));
    for (const [constraint, message] of typeRules.length > 0 ? typeRules : constraints) {
      problems.push({ field, rule: ruleName(constraint), message });
    }
    // Into the same array: spreading a wide array's problems into push() overflows the stack.
    if (error.children?.length) flattenValidationErrors(error.children, field, problems);
  }
  return problems;
}

/**
 * The global pipe for request bodies and queries: unknown fields are rejected, nothing is
 * coerced behind the caller's back (a string "8" is not the number 8), and every failing field
 * is reported at once. A body that is not a JSON object is refused before class-validator runs,
 * since an array or a bare string would otherwise be validated as if it were a DTO. Path
 * parameters are refused when they hold a control character (bodies and queries are checked
 * before routing, by the input guard; a parameter's name is only known here).
 */
@Injectable()
export class AppValidationPipe implements PipeTransform {
  private readonly inner = new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationFailedError(flattenValidationErrors(errors)),
  });

  async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ValidationFailedError([{ field: BODY_FIELD, rule: 'is_object', message: 'body must be an object' }]);
      }
    }
    if (metadata.type === 'param' && typeof value === 'string') {
      const problem = controlCharacterProblem(metadata.data ?? '(path)', value);
      if (problem) throw new ValidationFailedError([problem]);
    }
    if (metadata.type === 'query' && metadata.metatype && metadata.metatype !== Object && value === undefined)
      value = {};
    return this.inner.transform(value, metadata);
  }
}
