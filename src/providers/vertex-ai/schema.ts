/**
 * JSON Schema -> Gemini `Schema` (a select subset of OpenAPI 3.0).
 *
 * Gemini rejects the whole request on any field it does not know ("Invalid JSON payload received.
 * Unknown name "additionalProperties" at 'tools[0].function_declarations[0].parameters': Cannot find
 * field."), and tool schemas from MCP servers, Pydantic and Zod are full of them. So this is an
 * allow-list, not a deny-list: only the fields below survive, everything else (`additionalProperties`,
 * `$schema`, `$id`, `$comment`, `$defs`, `examples`, `patternProperties`, `unevaluatedProperties`,
 * `propertyNames`, `multipleOf`, `exclusiveMinimum`, `pattern`, `minLength`, `default`, `title`...)
 * is dropped. `default` is dropped too: newer Gemini versions tolerate it, older ones and some
 * Vertex models reject it, and it never constrains the model's output anyway.
 *
 * Conversions:
 * - local `$ref`s (`#/$defs/X`, `#/definitions/X`, `#`) are inlined; a recursive reference is cut
 *   at its second appearance on the current path (it becomes an unconstrained `{}` with a note);
 * - `const: v` -> `enum: [v]`; `type: ['string','null']` -> `type: STRING, nullable: true`;
 *   `anyOf`/`oneOf` with a `null` branch -> `nullable`; several non-null types -> `anyOf`;
 * - `allOf` branches are merged into one schema;
 * - Gemini's `enum` holds strings only: non-string enums move into the description instead, so the
 *   argument keeps its JSON type;
 * - type-specific keywords are kept only with their type (Gemini: "field predicate failed:
 *   $type == Type.ARRAY"), an ARRAY always gets `items` ("items: missing field"), and `required`
 *   keeps only names present in `properties`.
 */
import type { GeminiSchema, GeminiType } from './wire.js';
import { isRecord } from './wire.js';

const TYPES: Record<string, GeminiType> = {
  string: 'STRING', number: 'NUMBER', integer: 'INTEGER', boolean: 'BOOLEAN', array: 'ARRAY', object: 'OBJECT',
};

/** Formats Gemini accepts, per type; any other format is dropped (the Gemini API rejects them). */
const FORMATS: Partial<Record<GeminiType, readonly string[]>> = {
  STRING: ['enum', 'date-time'],
  NUMBER: ['float', 'double'],
  INTEGER: ['int32', 'int64'],
};

/** Deeper schemas are cut off: a guard against pathological input, far beyond real tool schemas. */
const MAX_DEPTH = 32;

interface Ctx {
  root: unknown;
  /** `$ref`s being expanded on the current path, to cut cycles. */
  refs: readonly string[];
  depth: number;
}

/** Sanitise any JSON Schema into Gemini's subset. Never throws. */
export function toGeminiSchema(schema: unknown): GeminiSchema {
  return convert(schema, { root: schema, refs: [], depth: 0 });
}

/**
 * Sanitise a function's `parameters`. Returns undefined for a parameter-less function: Gemini
 * rejects an OBJECT with no properties ("parameters.properties: should be non-empty for OBJECT
 * type"), so `parameters` must be omitted instead.
 */
export function toFunctionParameters(schema: unknown): GeminiSchema | undefined {
  if (schema === undefined || schema === null) return undefined;
  const out = toGeminiSchema(schema);
  if (out.type === 'OBJECT' && (!out.properties || Object.keys(out.properties).length === 0)) return undefined;
  return out;
}

function convert(node: unknown, ctx: Ctx): GeminiSchema {
  if (!isRecord(node) || ctx.depth > MAX_DEPTH) return {};
  const next: Ctx = { ...ctx, depth: ctx.depth + 1 };

  if (typeof node.$ref === 'string') return convertRef(node, node.$ref, next);

  const own = convertOwn(node, next);
  const combined = [
    ...(Array.isArray(node.anyOf) ? node.anyOf : []),
    ...(Array.isArray(node.oneOf) ? node.oneOf : []),
  ];
  let out = combined.length ? withUnion(own, combined.map((b) => convert(b, next))) : own;
  if (Array.isArray(node.allOf)) {
    for (const branch of node.allOf) out = merge(out, convert(branch, next));
  }
  return out;
}

/** Inline a local `$ref`; sibling `description`/`nullable` override the target's. */
function convertRef(node: Record<string, unknown>, ref: string, ctx: Ctx): GeminiSchema {
  const note = typeof node.description === 'string' ? node.description : undefined;
  const target = ctx.refs.includes(ref) ? undefined : resolvePointer(ctx.root, ref);
  let out: GeminiSchema;
  if (target === undefined) {
    // A cycle (or a non-local / dangling ref): leave the value unconstrained rather than fail.
    const name = ref.split('/').pop() || ref;
    out = { description: note ?? `A ${name} value (recursive schema, not expanded).` };
  } else {
    out = convert(target, { ...ctx, refs: [...ctx.refs, ref] });
    if (note) out.description = note;
  }
  if (nullFromType(node.type) || node.nullable === true) out.nullable = true;
  return out;
}

/** Resolve a local JSON Pointer (`#`, `#/$defs/Name`, `#/definitions/Name/properties/x`). */
function resolvePointer(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isRecord(cur) || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function nullFromType(t: unknown): boolean {
  return t === 'null' || (Array.isArray(t) && t.includes('null'));
}

/** The node's own keywords (not its combinators). */
function convertOwn(node: Record<string, unknown>, ctx: Ctx): GeminiSchema {
  const out: GeminiSchema = {};
  if (typeof node.description === 'string') out.description = node.description;

  const rawTypes = (Array.isArray(node.type) ? node.type : [node.type]).filter((t): t is string => typeof t === 'string');
  let nullable = rawTypes.includes('null') || node.nullable === true;
  const types = [...new Set(rawTypes.map((t) => TYPES[t]).filter((t): t is GeminiType => t !== undefined))];

  // const / enum. Gemini's enum is a list of strings: keep string values, record the rest in prose.
  const values = 'const' in node ? [node.const] : Array.isArray(node.enum) ? node.enum : undefined;
  let enumStrings: string[] | undefined;
  if (values) {
    if (values.includes(null)) nullable = true;
    const nonNull = values.filter((v) => v !== null);
    if (nonNull.length && nonNull.every((v): v is string => typeof v === 'string')) enumStrings = nonNull;
    else if (nonNull.length) {
      const allowed = `Allowed values: ${nonNull.map((v) => JSON.stringify(v)).join(', ')}.`;
      out.description = out.description ? `${out.description} ${allowed}` : allowed;
    }
  }

  if (types.length === 0) {
    // Infer the type from the keywords present, as JSON Schema validators effectively do.
    if (enumStrings) types.push('STRING');
    else if (isRecord(node.properties)) types.push('OBJECT');
    else if ('items' in node) types.push('ARRAY');
  }

  if (types.length > 1) {
    // Several types: one branch per type, each with only its own keywords.
    out.anyOf = types.map((t) => typed(t, node, ctx, enumStrings));
  } else if (types.length === 1) {
    Object.assign(out, typed(types[0]!, node, ctx, enumStrings));
  }
  if (nullable) out.nullable = true;
  return out;
}

/** Keywords that belong to one type. */
function typed(type: GeminiType, node: Record<string, unknown>, ctx: Ctx, enumStrings?: string[]): GeminiSchema {
  const out: GeminiSchema = { type };
  if (typeof node.format === 'string' && FORMATS[type]?.includes(node.format)) out.format = node.format;
  if (type === 'STRING' && enumStrings) out.enum = enumStrings;
  if (type === 'NUMBER' || type === 'INTEGER') {
    if (typeof node.minimum === 'number') out.minimum = node.minimum;
    if (typeof node.maximum === 'number') out.maximum = node.maximum;
  }
  if (type === 'ARRAY') {
    // Tuple form (`items: [..]` / `prefixItems`) has no Gemini equivalent: use the first element schema.
    const items = Array.isArray(node.items) ? node.items[0] : node.items ?? (Array.isArray(node.prefixItems) ? node.prefixItems[0] : undefined);
    const converted = isRecord(items) ? convert(items, ctx) : {};
    // Gemini requires `items` with a type on every ARRAY; an unconstrained array becomes strings.
    out.items = Object.keys(converted).length ? converted : { type: 'STRING' };
    if (typeof node.minItems === 'number') out.minItems = node.minItems;
    if (typeof node.maxItems === 'number') out.maxItems = node.maxItems;
  }
  if (type === 'OBJECT' && isRecord(node.properties)) {
    const properties: Record<string, GeminiSchema> = {};
    for (const [name, sub] of Object.entries(node.properties)) {
      if (name === '__proto__') continue; // would set the prototype, not a property
      properties[name] = convert(sub, ctx);
    }
    out.properties = properties;
    const required = Array.isArray(node.required)
      ? node.required.filter((r): r is string => typeof r === 'string' && r in properties)
      : [];
    if (required.length) out.required = required;
  }
  return out;
}

/** Combine the node's own keywords with its anyOf/oneOf branches. */
function withUnion(own: GeminiSchema, branches: GeminiSchema[]): GeminiSchema {
  const isNullOnly = (b: GeminiSchema): boolean => b.nullable === true && b.type === undefined && !b.anyOf && !b.enum;
  const nullable = own.nullable === true || branches.some((b) => b.nullable === true);
  // Null branches become `nullable`; empty branches (e.g. `{required: [..]}` alternatives, whose
  // keywords Gemini cannot express) constrain nothing and are dropped.
  const nonNull = branches.filter((b) => !isNullOnly(b) && Object.keys(b).length > 0);
  let out: GeminiSchema;
  if (nonNull.length === 1) {
    // `anyOf: [X, {type: null}]` (Pydantic's Optional[X]) is just a nullable X.
    out = merge(own, nonNull[0]!);
  } else if (nonNull.length === 0) {
    out = { ...own };
  } else {
    out = { ...own, anyOf: nonNull.map(({ nullable: _n, ...rest }) => rest) };
  }
  if (nullable) out.nullable = true;
  return out;
}

/** Merge two Gemini schemas (for allOf and single-branch unions): properties and required union. */
function merge(a: GeminiSchema, b: GeminiSchema): GeminiSchema {
  const out: GeminiSchema = { ...b, ...a };
  if (a.description && b.description && a.description !== b.description) out.description = `${a.description} ${b.description}`;
  if (a.properties || b.properties) out.properties = { ...b.properties, ...a.properties };
  const required = [...new Set([...(a.required ?? []), ...(b.required ?? [])])];
  if (required.length) out.required = required;
  if (a.nullable || b.nullable) out.nullable = true;
  if (out.type !== 'OBJECT') { delete out.properties; delete out.required; }
  return out;
}
