import type { NextFunction, Request, Response } from 'express';
import { type FieldProblem, ValidationFailedError } from '../errors/app-error.js';

/**
 * Checks every request's parsed JSON body and query before anything else walks them: Nest's
 * class-transformer recurses once per level and overflows the stack on a body nested a few
 * thousand levels deep (a 10 KB body), PostgreSQL refuses a NUL in text and jsonb, and a
 * `__proto__` key would become the DTO instance's prototype instead of an unknown field. The walk
 * here is iterative and stops at the first level past the limit, so no depth that fits in the 1 MB
 * body limit can overflow it.
 */

/** Objects and arrays nest at most this deep (the body or query object itself is level 1). */
export const MAX_JSON_DEPTH = 32;

/**
 * Validation costs time in proportion to a body's values, also those past a field's own limit
 * (class-validator checks every element of an array that is already too long): a 150 KB body of
 * 49,000 empty nodes held the event loop for 2 s and answered 294,000 problems. So an array or
 * object holds at most MAX_JSON_ITEMS items (the widest field, PUT /v1/nodes's `nodes`, takes
 * 1,000), and a body at most MAX_JSON_VALUES values, objects, arrays and scalars, the body itself
 * included (1,000 nodes with 32 compliance tags each hold about 42,000).
 */
export const MAX_JSON_ITEMS = 1_000;
export const MAX_JSON_VALUES = 50_000;

/** Keys that would reach an object's prototype chain; always unknown fields. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** C0 controls (U+0000-U+001F) and DEL. */
const CONTROL = /[\u0000-\u001f\u007f]/;
/** The same, less tab, line feed and carriage return. */
const CONTROL_BUT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Free text where tabs and line breaks are legitimate: a workload's argv words and environment
 * values (a `sh -c` script, a PEM certificate; the agent passes both to spawn, Slurm single-quotes
 * them, Kubernetes passes them as they are), and the diagnostic `message` of a lease status report
 * and of an agent's refusal (`error.message`). Everything else is a name, a label or an id.
 */
const MULTILINE_FIELDS = [/^workload\.command\[\d+\]$/, /^workload\.env\.[^.[]+$/, /^message$/, /^error\.message$/];

/** Enough to show a client what to fix without answering a hostile body with a huge error. */
const MAX_PROBLEMS = 20;

interface Entry {
  readonly value: unknown;
  readonly key: string | number | null;
  readonly parent: Entry | null;
  readonly depth: number;
}

function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function fieldOf(entry: Entry): string {
  const parts: Array<string | number> = [];
  for (let e: Entry | null = entry; e && e.key !== null; e = e.parent) parts.push(e.key);
  let field = '';
  for (const part of parts.reverse()) {
    if (typeof part === 'number') field += `[${part}]`;
    else field += field ? `.${escapeControls(part)}` : escapeControls(part);
  }
  return field;
}

function codePoint(text: string, pattern: RegExp): string {
  const found = pattern.exec(text)![0];
  return `U+${found.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The problem with a string that holds a control character, or null; `multiline` allows tabs and line breaks. */
export function controlCharacterProblem(field: string, text: string, multiline = false): FieldProblem | null {
  const pattern = multiline ? CONTROL_BUT_LINE_BREAKS : CONTROL;
  if (!pattern.test(text)) return null;
  const allowed = multiline ? ' other than tab and line breaks' : '';
  return {
    field,
    rule: 'control_character',
    message: `${field} must not contain control characters${allowed} (found ${codePoint(text, pattern)})`,
  };
}

function keyProblem(field: string, key: string): FieldProblem {
  if (PROTOTYPE_KEYS.has(key)) return { field, rule: 'unknown_field', message: `property ${key} should not exist` };
  return {
    field,
    rule: 'control_character',
    message: `the name of ${field} must not contain control characters (found ${codePoint(key, CONTROL)})`,
  };
}

/**
 * Every problem (up to MAX_PROBLEMS) with a parsed JSON value: nesting deeper than MAX_JSON_DEPTH,
 * an array or object wider than MAX_JSON_ITEMS or more than MAX_JSON_VALUES values in all (each
 * reported alone, since nothing else in such a value is worth reading), prototype keys, and
 * control characters in keys and strings. Fields are named as the validation pipe names them
 * (`offers[0].gpuModel`). Never recurses.
 */
export function inspectJson(
  value: unknown,
  rootField: string,
  options: { multilineFields?: readonly RegExp[] } = {},
): FieldProblem[] {
  const multilineFields = options.multilineFields ?? MULTILINE_FIELDS;
  const problems: FieldProblem[] = [];
  const stack: Entry[] = [{ value, key: null, parent: null, depth: 0 }];
  let values = 0;
  while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
    const entry = stack.pop()!;
    if (++values > MAX_JSON_VALUES) {
      return [
        {
          field: rootField,
          rule: 'too_many_values',
          message: `${rootField} holds more than ${MAX_JSON_VALUES} values (the limit is ${MAX_JSON_VALUES})`,
        },
      ];
    }
    const current = entry.value;
    if (typeof current === 'string') {
      if (!CONTROL.test(current)) continue;
      const field = fieldOf(entry) || rootField;
      const problem = controlCharacterProblem(
        field,
        current,
        multilineFields.some((pattern) => pattern.test(field)),
      );
      if (problem) problems.push(problem);
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const depth = entry.depth + 1;
    if (depth > MAX_JSON_DEPTH) {
      return [
        {
          field: rootField,
          rule: 'too_deep',
          message: `${rootField} nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep (the limit is ${MAX_JSON_DEPTH})`,
        },
      ];
    }
    const keys = Array.isArray(current) ? null : Object.keys(current);
    if ((keys ?? (current as unknown[])).length > MAX_JSON_ITEMS) {
      const field = fieldOf(entry) || rootField;
      return [
        {
          field,
          rule: 'too_many_items',
          message: `${field} holds more than ${MAX_JSON_ITEMS} items (the limit is ${MAX_JSON_ITEMS})`,
        },
      ];
    }
    // Children go on the stack last-first, so that problems come out in document order.
    if (keys === null) {
      const items = current as unknown[];
      for (let i = items.length - 1; i >= 0; i--) stack.push({ value: items[i], key: i, parent: entry, depth });
      continue;
    }
    const children: Entry[] = [];
    for (const key of keys) {
      const child: Entry = { value: (current as Record<string, unknown>)[key], key, parent: entry, depth };
      // The field name is built only for a key with a problem: most bodies have none.
      const problem = PROTOTYPE_KEYS.has(key) || CONTROL.test(key) ? keyProblem(fieldOf(child), key) : null;
      if (problem) problems.push(problem);
      else children.push(child);
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return problems.slice(0, MAX_PROBLEMS);
}

/** The body field name used when the problem is the body as a whole. */
export const BODY_FIELD = '(body)';

/**
 * Runs after the JSON body parser, before routing: a parsed body must be an object (`null`, a
 * number, a string or an array is refused on every route), and the body and the query must pass
 * inspectJson. Path parameters are checked by the validation pipe, which knows their names.
 */
export function inputGuardMiddleware(request: Request, _response: Response, next: NextFunction): void {
  const problems: FieldProblem[] = [];
  // The JSON parser leaves the body undefined when there is none or it is not JSON.
  const body: unknown = request.body;
  if (body !== undefined) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      problems.push({ field: BODY_FIELD, rule: 'is_object', message: 'body must be an object' });
    } else {
      problems.push(...inspectJson(body, BODY_FIELD));
    }
  }
  if (problems.length === 0) problems.push(...inspectJson(request.query, '(query)', { multilineFields: [] }));
  if (problems.length > 0) {
    next(new ValidationFailedError(problems));
    return;
  }
  next();
}
