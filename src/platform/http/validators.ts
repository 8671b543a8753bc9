import { registerDecorator, ValidateIf, type ValidationArguments, type ValidationOptions } from 'class-validator';
import { PRICE_DECIMALS, toMoney } from '../../core/money/money.js';

/**
 * Validation rules shared by the DTOs. Each rule is its own decorator, so a failing field
 * reports exactly the rules it broke (`is_decimal`, `max_decimals`, `price_min`, `price_max`).
 */
function rule(
  name: string,
  test: (value: unknown, args: ValidationArguments) => boolean,
  message: (args: ValidationArguments) => string,
  options?: ValidationOptions,
): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: { validate: test, defaultMessage: message },
    });
}

function decimalOf(value: unknown) {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  try {
    return toMoney(value);
  } catch {
    return null;
  }
}

/** A money amount: a decimal string or a JSON number, at most PRICE_DECIMALS places, within [min, max]. */
export function IsPrice(options: { min?: string; exclusiveMin?: string; max: string }): PropertyDecorator {
  const decorators = [
    rule(
      'isDecimal',
      (v) => decimalOf(v) !== null,
      (a) => `${a.property} must be a decimal number (string or number)`,
    ),
    rule(
      'maxDecimals',
      (v) => (decimalOf(v)?.decimalPlaces() ?? 0) <= PRICE_DECIMALS,
      (a) => `${a.property} must have at most ${PRICE_DECIMALS} decimal places`,
    ),
    rule(
      'priceMin',
      (v) => {
        const d = decimalOf(v);
        if (d === null) return true;
        if (options.exclusiveMin !== undefined) return d.greaterThan(options.exclusiveMin);
        return d.greaterThanOrEqualTo(options.min ?? '0');
      },
      (a) =>
        options.exclusiveMin !== undefined
          ? `${a.property} must be greater than ${options.exclusiveMin}`
          : `${a.property} must be at least ${options.min ?? '0'}`,
    ),
    rule(
      'priceMax',
      (v) => decimalOf(v)?.lessThanOrEqualTo(options.max) ?? true,
      (a) => `${a.property} must be at most ${options.max}`,
    ),
  ];
  return (target, key) => decorators.forEach((d) => d(target, key));
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A map of environment variables: valid names, string values, bounded size. */
export function IsEnvMap(maxEntries = 128, maxValueLength = 8192): PropertyDecorator {
  return rule(
    'isEnvMap',
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      Object.keys(v).length <= maxEntries &&
      Object.entries(v).every(
        ([k, val]) => ENV_NAME.test(k) && typeof val === 'string' && val.length <= maxValueLength,
      ),
    (a) =>
      `${a.property} must be an object of at most ${maxEntries} NAME: "string value" pairs (names like PATH or MY_VAR)`,
  );
}

/** An ISO-8601 timestamp that states its offset (`Z` or `+hh:mm`), so it means one instant. */
export function IsInstant(): PropertyDecorator {
  return rule(
    'isInstant',
    (v) =>
      typeof v === 'string' &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/.test(v) &&
      !Number.isNaN(Date.parse(v)),
    (a) => `${a.property} must be an ISO-8601 timestamp with a timezone, e.g. 2026-11-22T10:00:00Z`,
  );
}

/** Tags, regions, names: a short identifier. */
export const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:\/-]{0,127}$/;

/**
 * The field may be left out; `null` is not "left out" but a value, validated (and refused) like
 * any other. class-validator's IsOptional would let null through to the service.
 */
export function IsOmittable(): PropertyDecorator {
  return ValidateIf((_object, value) => value !== undefined);
}
